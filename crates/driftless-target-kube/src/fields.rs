//! Field ownership from `metadata.managedFields` (the `FieldsV1` format of server-side
//! apply): the live object filtered to the fields a manager owns, field sets joined and
//! subtracted, and fields taken out of an object by set.

use serde_json::{Map, Value};

/// The live object restricted to the fields `manager` owns through apply according to
/// `managed_fields` (its `metadata.managedFields`, which `live` need not hold), with
/// `apiVersion`, `kind`, `metadata.name` and `metadata.namespace` always kept. `None`
/// when the manager owns nothing in it.
pub(crate) fn owned_by(live: &Value, managed_fields: &Value, manager: &str) -> Option<Value> {
    let entries = managed_fields.as_array()?;
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

/// Both field sets together.
pub(crate) fn union(a: &Value, b: &Value) -> Value {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a.clone();
    };
    let mut out = a.clone();
    for (key, theirs) in b {
        let merged = match out.get(key) {
            Some(ours) => union(ours, theirs),
            None => theirs.clone(),
        };
        out.insert(key.clone(), merged);
    }
    Value::Object(out)
}

/// The fields of `a` that `b` does not own. A field `b` owns as a whole (`{}`) takes
/// everything below it out of `a`.
pub(crate) fn difference(a: &Value, b: &Value) -> Value {
    let Some(a) = a.as_object() else {
        return Value::Object(Map::new());
    };
    let b = b.as_object();
    let mut out = Map::new();
    for (key, ours) in a {
        match b.and_then(|b| b.get(key)) {
            None => {
                out.insert(key.clone(), ours.clone());
            }
            Some(theirs) => {
                let leaf = |v: &Value| v.as_object().is_none_or(Map::is_empty);
                if leaf(ours) || leaf(theirs) {
                    continue;
                }
                let rest = difference(ours, theirs);
                if rest.as_object().is_some_and(|m| !m.is_empty()) {
                    out.insert(key.clone(), rest);
                }
            }
        }
    }
    Value::Object(out)
}

/// Takes the fields of `set` out of `value`. A map or list item whose set marks it as
/// owned (`.`) goes when nothing is left in it; a leaf of the set (`{}`) goes whole.
pub(crate) fn strip(value: &mut Value, set: &Value) {
    let Some(set) = set.as_object() else {
        return;
    };
    match value {
        Value::Object(map) => {
            for (key, child) in set {
                let Some(field) = key.strip_prefix("f:") else {
                    continue;
                };
                if let Some(v) = map.get_mut(field)
                    && strip_node(v, child)
                {
                    map.shift_remove(field);
                }
            }
        }
        Value::Array(items) => {
            let mut remove = Vec::new();
            for (key, child) in set {
                let index = if let Some(i) = key.strip_prefix("i:") {
                    i.parse::<usize>().ok().filter(|i| *i < items.len())
                } else {
                    items.iter().position(|item| item_matches(item, key, &[]))
                };
                if let Some(index) = index
                    && let Some(item) = items.get_mut(index)
                    && strip_node(item, child)
                {
                    remove.push(index);
                }
            }
            remove.sort_unstable();
            remove.dedup();
            for index in remove.into_iter().rev() {
                items.remove(index);
            }
        }
        _ => {}
    }
}

/// Strips `set` below `value`; whether `value` itself is to go.
fn strip_node(value: &mut Value, set: &Value) -> bool {
    let Some(node) = set.as_object() else {
        return false;
    };
    if node.is_empty() {
        return true;
    }
    strip(value, set);
    let owned = node.contains_key(".");
    let empty = match value {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => true,
    };
    owned && empty
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
        let managed = &live["metadata"]["managedFields"];
        let owned = owned_by(&live, managed, "driftless").unwrap();
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
        assert_eq!(owned_by(&live, managed, "someone-else"), None);
    }

    #[test]
    fn union_difference_and_strip() {
        let theirs = json!({"f:metadata": {"f:labels": {".": {}, "f:extra": {}, "f:app": {}}},
                            "f:data": {"f:gone": {}, "f:kept": {}}});
        let ours = json!({"f:metadata": {"f:labels": {"f:app": {}}}, "f:data": {"f:kept": {}}});
        assert_eq!(
            difference(&theirs, &ours),
            json!({"f:metadata": {"f:labels": {".": {}, "f:extra": {}}}, "f:data": {"f:gone": {}}})
        );
        assert_eq!(
            union(&ours, &json!({"f:data": {"f:new": {}}})),
            json!({"f:metadata": {"f:labels": {"f:app": {}}}, "f:data": {"f:kept": {}, "f:new": {}}})
        );
        let mut value = json!({"metadata": {"labels": {"app": "a", "extra": "x"}},
                               "data": {"gone": "1", "kept": "2"}});
        strip(&mut value, &difference(&theirs, &ours));
        assert_eq!(
            value,
            json!({"metadata": {"labels": {"app": "a"}}, "data": {"kept": "2"}})
        );
        // An item owned only by them goes whole.
        let mut pod = json!({"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]});
        strip(
            &mut pod,
            &json!({"f:env": {"k:{\"name\":\"B\"}": {".": {}, "f:name": {}, "f:value": {}}}}),
        );
        assert_eq!(pod, json!({"env": [{"name": "A", "value": "1"}]}));
    }

    #[test]
    fn set_and_index_items() {
        let set = json!({"f:a": {"v:\"x\"": {}}, "f:b": {"i:1": {}}});
        let value = json!({"a": ["x", "y"], "b": [1, 2, 3]});
        assert_eq!(filter(&value, &set), Some(json!({"a": ["x"], "b": [2]})));
    }
}
