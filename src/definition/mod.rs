//! Follow-up definitions: the format as written (`model`), the one YAML
//! module (`yaml`), the rules that check it (`rules`, with the shared tools
//! in `check`), the checked result (`followup`) and the loading of a
//! directory (`load`).

pub mod check;
pub mod followup;
pub mod load;
pub mod model;
pub mod rules;
pub mod yaml;
