//! Follow-up definitions: the format as written (`model`), the one YAML
//! module (`yaml`), the rules that check it (`rules`, with the shared tools
//! in `check`), the checked result (`followup`), the checked tenant file
//! (`tenant`), the loading of a directory (`load`) and a text's new id and
//! name (`rename`). The tenant lives here because checking it and checking
//! a follow-up share the same tools: one module, imports one way.

pub mod check;
pub mod followup;
pub mod load;
pub mod model;
pub mod rename;
pub mod rules;
pub mod tenant;
pub mod yaml;
