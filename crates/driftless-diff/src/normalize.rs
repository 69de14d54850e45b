//! Normalization: what is left of an object once the fields a server sets are gone.

use driftless_core::Object;
use serde_json::{Map, Value};

/// Metadata fields a server sets (or that only describe the stored copy), never part of
/// what a user declares.
pub(crate) const SERVER_METADATA: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// The annotation `kubectl apply` (client side) records the applied object in.
pub(crate) const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Returns `object` without the fields that are not part of its intent: `status`, the
/// server-set metadata (`managedFields`, `resourceVersion`, `uid`, `generation`,
/// `creationTimestamp`, `selfLink`, `deletionTimestamp`, `deletionGracePeriodSeconds`)
/// and the `kubectl.kubernetes.io/last-applied-configuration` annotation. Empty
/// `metadata.annotations` and `metadata.labels` maps are removed, so an object that only
/// had that annotation compares equal to one that never had annotations.
///
/// Key order is kept. [`plan`](crate::plan) normalizes both sides before comparing.
///
/// ```
/// use driftless_core::Object;
/// use serde_json::json;
///
/// let live = Object::new(json!({
///     "apiVersion": "v1",
///     "kind": "ConfigMap",
///     "metadata": {
///         "name": "settings",
///         "uid": "5b0c…",
///         "resourceVersion": "42",
///         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
///     },
///     "data": {"mode": "fast"},
/// }))?;
/// let normalized = driftless_diff::normalize(&live);
/// assert_eq!(normalized.as_value(), &json!({
///     "apiVersion": "v1",
///     "kind": "ConfigMap",
///     "metadata": {"name": "settings"},
///     "data": {"mode": "fast"},
/// }));
/// # Ok::<(), driftless_core::Error>(())
/// ```
pub fn normalize(object: &Object) -> Object {
    let Some(root) = object.as_value().as_object() else {
        return object.clone();
    };
    let mut normalized = Map::with_capacity(root.len());
    for (key, value) in root {
        match (key.as_str(), value) {
            ("status", _) => {}
            ("metadata", Value::Object(metadata)) => {
                normalized.insert(key.clone(), Value::Object(normalize_metadata(metadata)));
            }
            _ => {
                normalized.insert(key.clone(), value.clone());
            }
        }
    }
    // Only `status` and metadata entries went: apiVersion, kind and name are still there.
    Object::new(Value::Object(normalized)).unwrap_or_else(|_| object.clone())
}

/// `metadata` without server-set fields, the last-applied annotation and empty label or
/// annotation maps. Copies only what it keeps (`managedFields` can be large).
pub(crate) fn normalize_metadata(metadata: &Map<String, Value>) -> Map<String, Value> {
    let mut normalized = Map::with_capacity(metadata.len());
    for (key, value) in metadata {
        if SERVER_METADATA.contains(&key.as_str()) {
            continue;
        }
        let value = match (key.as_str(), value) {
            ("annotations", Value::Object(annotations)) => Value::Object(
                annotations
                    .iter()
                    .filter(|(k, _)| *k != LAST_APPLIED_ANNOTATION)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            _ => value.clone(),
        };
        if matches!(key.as_str(), "annotations" | "labels")
            && value.as_object().is_some_and(Map::is_empty)
        {
            continue;
        }
        normalized.insert(key.clone(), value);
    }
    normalized
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Object {
        Object::new(value).unwrap()
    }

    #[test]
    fn drops_status_and_server_metadata() {
        let live = object(json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "api",
                "namespace": "web",
                "managedFields": [{"manager": "kubectl"}],
                "resourceVersion": "7",
                "uid": "u",
                "generation": 3,
                "creationTimestamp": "2024-01-01T00:00:00Z",
                "selfLink": "/apis/apps/v1/namespaces/web/deployments/api",
                "deletionTimestamp": "2024-01-02T00:00:00Z",
                "deletionGracePeriodSeconds": 30,
                "labels": {"app": "api"},
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": "{}",
                    "team": "web",
                },
            },
            "spec": {"replicas": 2, "status": "kept: only the top-level status goes"},
            "status": {"readyReplicas": 2},
        }));
        assert_eq!(
            normalize(&live).into_value(),
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": "api",
                    "namespace": "web",
                    "labels": {"app": "api"},
                    "annotations": {"team": "web"},
                },
                "spec": {"replicas": 2, "status": "kept: only the top-level status goes"},
            })
        );
    }

    #[test]
    fn removes_maps_left_empty() {
        let live = object(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "c",
                "labels": {},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
            },
        }));
        assert_eq!(
            normalize(&live).into_value(),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
        );
    }

    #[test]
    fn keeps_key_order() {
        let live = object(json!({
            "kind": "ConfigMap",
            "status": {},
            "apiVersion": "v1",
            "metadata": {"uid": "u", "name": "c", "namespace": "n"},
            "data": {"z": "1", "a": "2"},
        }));
        let text = serde_json::to_string(&normalize(&live)).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c","namespace":"n"},"data":{"z":"1","a":"2"}}"#
        );
    }
}
