//! Attributes that actions persist: `global.*` (one value for the tenant)
//! and `custom.*` (one value per user).

use rusqlite::params;
use serde_json::{Map, Value};

use super::Store;

impl Store {
    /// The `global.*` attributes actions have set.
    pub fn globals(&self) -> anyhow::Result<Map<String, Value>> {
        self.attributes("global", "")
    }

    /// The `custom.*` attributes of one user.
    pub fn customs(&self, user: &str) -> anyhow::Result<Map<String, Value>> {
        self.attributes("custom", user)
    }

    pub fn set_global(&self, name: &str, value: &Value) -> anyhow::Result<()> {
        self.set_attribute("global", "", name, value)
    }

    pub fn set_custom(&self, user: &str, name: &str, value: &Value) -> anyhow::Result<()> {
        self.set_attribute("custom", user, name, value)
    }

    fn attributes(&self, scope: &str, owner: &str) -> anyhow::Result<Map<String, Value>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, value FROM attributes WHERE scope = ?1 AND owner = ?2")?;
        let rows = stmt.query_map(params![scope, owner], |row| {
            let value: String = row.get(1)?;
            Ok((
                row.get::<_, String>(0)?,
                serde_json::from_str(&value).unwrap_or(Value::String(value)),
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn set_attribute(
        &self,
        scope: &str,
        owner: &str,
        name: &str,
        value: &Value,
    ) -> anyhow::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO attributes (scope, owner, name, value) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (scope, owner, name) DO UPDATE SET value = ?4",
            )?
            .execute(params![scope, owner, name, value.to_string()])?;
        Ok(())
    }
}
