//! Reading and writing YAML the way Kubernetes tools do.
//!
//! Built on `serde-saphyr` (see `docs/architecture.md` for why): documents are read
//! into `serde_json::Value` with their key order, alias expansion is bounded (no alias
//! bombs), and every syntax error carries a line and column.

use serde_json::Value;

/// A YAML error, with the position where the text went wrong when known.
#[derive(Debug, thiserror::Error)]
#[error("{}{message}", location.map(|(l, c)| format!("line {l}, column {c}: ")).unwrap_or_default())]
pub struct YamlError {
    /// 1-based line and column of the error, when known.
    pub location: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

impl YamlError {
    fn from_saphyr(error: &serde_saphyr::Error) -> Self {
        let location = error
            .location()
            .map(|l| (to_usize(l.line()), to_usize(l.column())));
        let message = error.without_snippet().to_string();
        // The message repeats the position as "error: line L column C: ..."; keep the rest.
        let message = message
            .split_once(": ")
            .filter(|(head, _)| head.starts_with("error: line"))
            .map_or(message.clone(), |(_, rest)| rest.to_owned());
        Self { location, message }
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Reads every document of a YAML stream. Empty and comment-only documents are skipped.
///
/// ```
/// let docs = driftless_core::yaml::from_str_multi("a: 1\n---\n# nothing\n---\nb: '1'\n")?;
/// assert_eq!(docs, vec![serde_json::json!({"a": 1}), serde_json::json!({"b": "1"})]);
/// # Ok::<(), driftless_core::yaml::YamlError>(())
/// ```
pub fn from_str_multi(text: &str) -> Result<Vec<Value>, YamlError> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(text).map_err(|e| YamlError::from_saphyr(&e))?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// Writes one value as a YAML document (no leading `---`). Strings that another reader
/// could take for a number, boolean or null are quoted.
pub fn to_string(value: &Value) -> Result<String, YamlError> {
    serde_saphyr::to_string(value).map_err(|e| YamlError {
        location: None,
        message: e.to_string(),
    })
}
