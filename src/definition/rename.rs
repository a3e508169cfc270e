//! A definition's text under a new id and name, every other byte kept:
//! comments, layout and every other setting survive (`copy`, and `import
//! --on-conflict rename`).

use crate::definition::yaml::{self, YamlError};

/// The text with `id` and `name` replaced. Fails when either is not a
/// one-line value at the top of the file.
pub fn rename(text: &str, id: &str, name: &str) -> Result<String, YamlError> {
    yaml::replace_top_level(text, &[("id", id), ("name", name)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_id_and_name_change() {
        let text = "# Reminders\nid: a # must equal the file stem\nname: 'A'\nstatus: inactive\n\npolling: { every: 30m }\n";
        assert_eq!(
            rename(text, "b", "B (2)").unwrap(),
            "# Reminders\nid: b # must equal the file stem\nname: 'B (2)'\nstatus: inactive\n\npolling: { every: 30m }\n"
        );
    }
}
