//! Ids and names of new follow-ups: the id a name gives (its slug), and the
//! next free id and name when an import must rename one.

use std::collections::BTreeSet;

use crate::definition::rules::is_id;

/// The id a name gives: lowercase ASCII letters and digits, every other run
/// of characters one dash (`Pending approval (EU)` → `pending-approval-eu`).
/// Accents are dropped with their letter's base where it is plain Latin.
/// Empty when the name holds no letter or digit.
pub fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars().flat_map(fold_accent) {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        } else {
            dash = true;
        }
    }
    debug_assert!(out.is_empty() || is_id(&out));
    out
}

/// The common Latin letters with a diacritic, as their base letter.
fn fold_accent(c: char) -> Option<char> {
    const FROM: &str = "àáâãäåçèéêëìíîïñòóôõöùúûüýÿÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝ";
    const TO: &str = "aaaaaaceeeeiiiinooooouuuuyyAAAAAACEEEEIIIINOOOOOUUUUY";
    Some(match FROM.chars().position(|f| f == c) {
        Some(i) => TO.chars().nth(i).expect("FROM and TO are as long"),
        None => c,
    })
}

/// Sets of ids and names already taken (names compared case-insensitively).
#[derive(Debug, Default, Clone)]
pub struct Taken {
    ids: BTreeSet<String>,
    names: BTreeSet<String>,
}

impl Taken {
    pub fn add(&mut self, id: &str, name: &str) {
        self.ids.insert(id.to_owned());
        self.names.insert(name.to_lowercase());
    }

    /// An id taken by something that has no name (a file that does not parse).
    pub fn add_id(&mut self, id: &str) {
        self.ids.insert(id.to_owned());
    }

    pub fn has_id(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    pub fn has_name(&self, name: &str) -> bool {
        self.names.contains(&name.to_lowercase())
    }

    /// A free id and name for a follow-up whose id or name is taken: the
    /// smallest n ≥ 2 for which `<id>-<n>` (when the id is taken) and
    /// `<name> (<n>)` (when the name is taken) are both free. What is not
    /// taken is kept, so the two stay numbered alike.
    pub fn free(&self, id: &str, name: &str) -> (String, String) {
        let (id_taken, name_taken) = (self.has_id(id), self.has_name(name));
        (2..)
            .map(|n| {
                (
                    if id_taken {
                        format!("{id}-{n}")
                    } else {
                        id.to_owned()
                    },
                    if name_taken {
                        format!("{name} ({n})")
                    } else {
                        name.to_owned()
                    },
                )
            })
            .find(|(i, m)| (!id_taken || !self.has_id(i)) && (!name_taken || !self.has_name(m)))
            .expect("some number is free")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(
            slug("Pending approval reminders"),
            "pending-approval-reminders"
        );
        assert_eq!(slug("  Résolu -> à fermer (EU)!"), "resolu-a-fermer-eu");
        assert_eq!(slug("ÜBER 2"), "uber-2");
        assert_eq!(slug("日本"), "");
        assert_eq!(slug("--x--"), "x");
    }

    #[test]
    fn next_free_id_and_name() {
        let mut taken = Taken::default();
        taken.add("x", "X");
        taken.add("x-2", "Other");
        assert_eq!(taken.free("x", "x"), ("x-3".into(), "x (3)".into()));
        assert_eq!(taken.free("x", "New"), ("x-3".into(), "New".into()));
        assert_eq!(taken.free("y", "x"), ("y".into(), "x (2)".into()));
        taken.add("z", "X (2)");
        assert_eq!(taken.free("w", "X"), ("w".into(), "X (3)".into()));
    }
}
