//! JSON 6902 patches (RFC 6902 operations, written as YAML or JSON).

use json_patch::{AddOperation, PatchOperation, ReplaceOperation};
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

    /// Applies the operations to one object, as Kustomize's JSON patch library does:
    /// `replace` of a missing key of a mapping adds it.
    pub(crate) fn apply(&self, target: &mut Value) -> Result<(), String> {
        let operations: Vec<PatchOperation> = self
            .0
            .iter()
            .map(|operation| match operation {
                PatchOperation::Replace(replace) if replaces_missing_key(target, replace) => {
                    PatchOperation::Add(AddOperation {
                        path: replace.path.clone(),
                        value: replace.value.clone(),
                    })
                }
                other => other.clone(),
            })
            .collect();
        json_patch::patch(target, &operations).map_err(|e| e.to_string())
    }
}

/// Whether `replace` names a key missing from a mapping that exists.
fn replaces_missing_key(target: &Value, replace: &ReplaceOperation) -> bool {
    let Some((parent, key)) = replace.path.split_back() else {
        return false;
    };
    parent
        .resolve(target)
        .ok()
        .and_then(Value::as_object)
        .is_some_and(|map| !map.contains_key(key.decoded().as_ref()))
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

    #[test]
    fn replace_of_a_missing_key_adds_it_but_not_in_a_list() {
        let p = JsonPatch::from_value(json!([{"op": "replace", "path": "/spec/a", "value": 1}]));
        let mut v = json!({"spec": {}});
        p.unwrap().apply(&mut v).unwrap();
        assert_eq!(v, json!({"spec": {"a": 1}}));
        let p = JsonPatch::from_value(json!([{"op": "replace", "path": "/l/1", "value": 1}]));
        assert!(p.unwrap().apply(&mut json!({"l": [0]})).is_err());
    }
}
