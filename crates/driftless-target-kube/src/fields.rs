//! What we applied before, from `metadata.managedFields`: the live object filtered to
//! the fields our field manager owns (the `FieldsV1` format of server-side apply).

use serde_json::{Map, Value};

/// The live object restricted to the fields `manager` owns through apply, with
/// `apiVersion`, `kind`, `metadata.name` and `metadata.namespace` always kept. `None`
/// when the manager owns nothing in it.
pub(crate) fn owned_by(live: &Value, manager: &str) -> Option<Value> {
    let entries = live.pointer("/metadata/managedFields")?.as_array()?;
    let fields = entries.iter().find(|e| {
        e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some("Apply")
    })?;
    let set = fields.get("fieldsV1")?;
    let mut owned = filter(live, set).unwrap_or_else(|| Value::Object(Map::new()));
    let root = owned.as_object_mut()?;
    for key in ["apiVersion", "kind"] {
        if let Some(v) = live.get(key) {
            root.insert(key.to_owned(), v.clone());
        }
    }
    let metadata = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(metadata) = metadata.as_object_mut() {
        for key in ["name", "namespace"] {
            if let Some(v) = live.pointer(&format!("/metadata/{key}")) {
                metadata.insert(key.to_owned(), v.clone());
            }
        }
    }
    Some(owned)
}

/// `value` restricted to the field set `set` (a FieldsV1 node). A node without children
/// (`{}`) owns the whole value.
fn filter(value: &Value, set: &Value) -> Option<Value> {
    let set = set.as_object()?;
    if set.is_empty() || set.keys().all(|k| k == ".") {
        return Some(value.clone());
    }
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, child) in set {
                let Some(field) = key.strip_prefix("f:") else {
                    continue;
                };
                if let Some(v) = map.get(field)
                    && let Some(filtered) = filter(v, child)
                {
                    out.insert(field.to_owned(), filtered);
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                for (key, child) in set {
                    if item_matches(item, key, items) {
                        if let Some(mut filtered) = filter(item, child) {
                            keep_keys(item, key, &mut filtered);
                            out.push(filtered);
                        }
                        break;
                    }
                }
            }
            Some(Value::Array(out))
        }
        other => Some(other.clone()),
    }
}

/// Whether a list item is the one a FieldsV1 key (`k:{...}`, `v:...`, `i:N`) names.
fn item_matches(item: &Value, key: &str, items: &[Value]) -> bool {
    if let Some(k) = key.strip_prefix("k:") {
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(k) else {
            return false;
        };
        return fields.iter().all(|(f, v)| item.get(f) == Some(v));
    }
    if let Some(v) = key.strip_prefix("v:") {
        return serde_json::from_str::<Value>(v).is_ok_and(|v| &v == item);
    }
    if let Some(i) = key.strip_prefix("i:") {
        return i
            .parse::<usize>()
            .ok()
            .and_then(|i| items.get(i))
            .is_some_and(|at| std::ptr::eq(at, item));
    }
    false
}

/// Associative list items keep their key fields, so the filtered item still says which
/// item it is.
fn keep_keys(item: &Value, key: &str, filtered: &mut Value) {
    let Some(k) = key.strip_prefix("k:") else {
        return;
    };
    let (Ok(Value::Object(fields)), Some(out)) =
        (serde_json::from_str::<Value>(k), filtered.as_object_mut())
    else {
        return;
    };
    for f in fields.keys() {
        if let Some(v) = item.get(f) {
            out.entry(f.clone()).or_insert_with(|| v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_only_our_fields() {
        let live = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "web", "namespace": "a", "uid": "u",
                "labels": {"app": "web", "other": "x"},
                "managedFields": [
                    {"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:metadata": {"f:labels": {"f:other": {}}}}},
                    {"manager": "driftless", "operation": "Apply", "fieldsV1": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:name": {}, "f:port": {}}},
                                   "f:selector": {}}
                    }}
                ]
            },
            "spec": {
                "clusterIP": "10.0.0.1",
                "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80},
                          {"name": "other", "port": 81, "protocol": "TCP"}],
                "selector": {"app": "web"}
            }
        });
        let owned = owned_by(&live, "driftless").unwrap();
        assert_eq!(
            owned,
            json!({
                "metadata": {"labels": {"app": "web"}, "name": "web", "namespace": "a"},
                "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
                         "selector": {"app": "web"}},
                "apiVersion": "v1",
                "kind": "Service"
            })
        );
        assert_eq!(owned_by(&live, "someone-else"), None);
    }

    #[test]
    fn set_and_index_items() {
        let set = json!({"f:a": {"v:\"x\"": {}}, "f:b": {"i:1": {}}});
        let value = json!({"a": ["x", "y"], "b": [1, 2, 3]});
        assert_eq!(filter(&value, &set), Some(json!({"a": ["x"], "b": [2]})));
    }
}
