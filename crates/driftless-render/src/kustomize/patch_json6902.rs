//! JSON 6902 patches (RFC 6902 operations, written as YAML or JSON).

use serde_json::Value;

/// A parsed list of operations.
#[derive(Debug, Clone)]
pub(crate) struct JsonPatch(json_patch::Patch);

impl JsonPatch {
    /// Reads operations from a parsed YAML/JSON list.
    pub(crate) fn from_value(value: Value) -> Result<Self, String> {
        serde_json::from_value(value)
            .map(Self)
            .map_err(|e| format!("invalid JSON 6902 patch: {e}"))
    }

    /// Applies the operations to one object.
    pub(crate) fn apply(&self, target: &mut Value) -> Result<(), String> {
        json_patch::patch(target, &self.0).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn applies_operations() {
        let p = JsonPatch::from_value(json!([
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/metadata/labels", "value": {"a": "b"}},
        ]))
        .unwrap();
        let mut v = json!({"metadata": {}, "spec": {"replicas": 1}});
        p.apply(&mut v).unwrap();
        assert_eq!(
            v,
            json!({"metadata": {"labels": {"a": "b"}}, "spec": {"replicas": 3}})
        );
    }
}
