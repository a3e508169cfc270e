//! A `file` integration: a local JSON file, its path already resolved
//! against the definition's directory. Errors leave the path out: the
//! integration's description names it.

use std::path::Path;

use super::document::Document;
use super::error::Failure;

pub(super) fn read(path: &Path) -> Result<Document, Failure> {
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::File(match e.kind() {
            std::io::ErrorKind::NotFound => "the file does not exist".to_owned(),
            _ => format!("cannot read the file: {e}"),
        })
    })?;
    // serde_json says where: "expected value at line 3 column 5". No
    // excerpt: the file is the operator's own.
    Document::local(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_json_and_says_what_is_wrong_and_where() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("approvals.json");
        std::fs::write(&good, r#"{"result": [{"sys_id": "a1"}]}"#).unwrap();
        assert_eq!(
            read(&good).unwrap().into_json().unwrap(),
            json!({"result": [{"sys_id": "a1"}]})
        );

        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\n  \"result\": [\n    {\"sys_id\": }\n  ]\n}\n").unwrap();
        assert_eq!(
            read(&bad).unwrap().into_json().unwrap_err().to_string(),
            "invalid JSON at byte 31 (line 3, column 16): expected value"
        );

        let latin1 = dir.path().join("latin1.json");
        std::fs::write(&latin1, b"{\"name\": \"Jos\xe9\"}").unwrap();
        assert!(read(&latin1).unwrap_err().to_string().contains("line 1"));

        let missing = dir.path().join("missing.json");
        assert_eq!(
            read(&missing).unwrap_err().to_string(),
            "the file does not exist"
        );
    }
}
