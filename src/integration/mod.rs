//! TEMPORARY shim until the integration branch lands: file sources only.
use serde_json::Value;

use crate::definition::followup::{Integration, Source};
use crate::template::Scopes;

pub struct Http;

impl Http {
    pub fn new(_deadline: Option<std::time::Instant>) -> Http {
        Http
    }
}

#[derive(Debug)]
pub struct IntegrationError(pub String);

impl std::fmt::Display for IntegrationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn fetch(
    http: &mut Http,
    integration: &Integration,
    scopes: &Scopes,
    on_page: &mut dyn FnMut(usize, Value) -> anyhow::Result<usize>,
) -> Result<(), IntegrationError> {
    let page = fetch_source(http, &integration.source, scopes)?;
    on_page(0, page).map_err(|e| IntegrationError(format!("{e:#}")))?;
    Ok(())
}

pub fn fetch_source(
    _http: &mut Http,
    source: &Source,
    _scopes: &Scopes,
) -> Result<Value, IntegrationError> {
    match source {
        Source::File(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| IntegrationError(format!("{}: {e}", path.display())))?;
            serde_json::from_str(&text)
                .map_err(|e| IntegrationError(format!("{}: {e}", path.display())))
        }
        _ => Err(IntegrationError("not yet".into())),
    }
}
