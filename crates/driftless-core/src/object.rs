//! [`Object`]: one resource, kept as JSON with its key order.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Error, ObjectId};

/// One resource (a Kubernetes-style object), kept as a JSON value.
///
/// The value is always a mapping with a string `apiVersion`, a string `kind` and a
/// non-empty string `metadata.name`; [`Object::new`] checks that, so the accessors
/// never fail. Key order is preserved (the `preserve_order` feature of `serde_json`).
///
/// Clones share the value until one of them is changed (copy on write), so the copies
/// a reconcile makes (into the plan, as the predicted state of an object in sync) cost
/// a pointer, not the object: an app of 50,000 objects is held about once.
///
/// ```
/// use driftless_core::Object;
/// use serde_json::json;
///
/// let obj = Object::new(json!({
///     "apiVersion": "apps/v1",
///     "kind": "Deployment",
///     "metadata": {"name": "web", "namespace": "prod", "labels": {"app": "web"}},
/// }))?;
/// assert_eq!(obj.group(), "apps");
/// assert_eq!(obj.id().to_string(), "apps/Deployment/prod/web");
/// assert_eq!(obj.labels().get("app").and_then(|v| v.as_str()), Some("web"));
/// # Ok::<(), driftless_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct Object {
    value: Arc<Value>,
}

impl Object {
    /// Wraps a JSON value, checking that it has `apiVersion`, `kind` and `metadata.name`.
    pub fn new(value: Value) -> Result<Self, Error> {
        let Some(map) = value.as_object() else {
            return Err(Error::InvalidObject {
                field: String::new(),
                reason: "an object must be a mapping".into(),
            });
        };
        non_empty_str(map.get("apiVersion"), "apiVersion")?;
        non_empty_str(map.get("kind"), "kind")?;
        let metadata = map.get("metadata").and_then(Value::as_object);
        non_empty_str(metadata.and_then(|m| m.get("name")), "metadata.name")?;
        if let Some(ns) = metadata.and_then(|m| m.get("namespace"))
            && !ns.is_string()
            && !ns.is_null()
        {
            return Err(Error::InvalidObject {
                field: "metadata.namespace".into(),
                reason: "must be a string".into(),
            });
        }
        Ok(Self {
            value: Arc::new(value),
        })
    }

    /// The whole object.
    pub fn as_value(&self) -> &Value {
        &self.value
    }

    /// The whole object, for changes. Keep `apiVersion`, `kind` and `metadata.name`
    /// strings: the accessors fall back to `""` where they are not.
    pub fn as_value_mut(&mut self) -> &mut Value {
        Arc::make_mut(&mut self.value)
    }

    /// Unwraps the JSON value (a copy when a clone still shares it).
    pub fn into_value(self) -> Value {
        Arc::unwrap_or_clone(self.value)
    }

    /// `apiVersion`, e.g. `apps/v1` or `v1`.
    pub fn api_version(&self) -> &str {
        self.str_at(&["apiVersion"])
    }

    /// The API group: the part of `apiVersion` before `/`, or `""` for the core group.
    pub fn group(&self) -> &str {
        self.api_version().rsplit_once('/').map_or("", |(g, _)| g)
    }

    /// The API version without the group, e.g. `v1`.
    pub fn version(&self) -> &str {
        let api_version = self.api_version();
        api_version.rsplit_once('/').map_or(api_version, |(_, v)| v)
    }

    /// `kind`.
    pub fn kind(&self) -> &str {
        self.str_at(&["kind"])
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.str_at(&["metadata", "name"])
    }

    /// `metadata.namespace`, if set and not empty.
    pub fn namespace(&self) -> Option<&str> {
        Some(self.str_at(&["metadata", "namespace"])).filter(|ns| !ns.is_empty())
    }

    /// Sets (or, with `None`, removes) `metadata.namespace`.
    pub fn set_namespace(&mut self, namespace: Option<&str>) {
        let metadata = self.metadata_mut();
        match namespace {
            Some(ns) => {
                metadata.insert("namespace".into(), Value::String(ns.to_owned()));
            }
            None => {
                metadata.shift_remove("namespace");
            }
        }
    }

    /// `metadata.labels` (empty when absent).
    pub fn labels(&self) -> &Map<String, Value> {
        self.map_at("labels")
    }

    /// `metadata.annotations` (empty when absent).
    pub fn annotations(&self) -> &Map<String, Value> {
        self.map_at("annotations")
    }

    /// One annotation's value, if it is a string.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations().get(key).and_then(Value::as_str)
    }

    /// The object's identity.
    pub fn id(&self) -> ObjectId {
        ObjectId::new(self.group(), self.kind(), self.namespace(), self.name())
    }

    /// `metadata` as a mutable map, created if absent.
    #[allow(clippy::missing_panics_doc)] // the `expect`s follow assignments of mappings
    pub fn metadata_mut(&mut self) -> &mut Map<String, Value> {
        let value = Arc::make_mut(&mut self.value);
        if !value.is_object() {
            *value = Value::Object(Map::new());
        }
        let root = value.as_object_mut().expect("just made a mapping");
        let metadata = root
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !metadata.is_object() {
            *metadata = Value::Object(Map::new());
        }
        metadata.as_object_mut().expect("just made a mapping")
    }

    fn str_at(&self, path: &[&str]) -> &str {
        path.iter()
            .try_fold(self.value.as_ref(), |v, key| v.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    fn map_at(&self, key: &str) -> &Map<String, Value> {
        static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
        self.value
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_object)
            .unwrap_or(&EMPTY)
    }
}

fn non_empty_str(value: Option<&Value>, field: &str) -> Result<(), Error> {
    match value {
        Some(Value::String(s)) if !s.is_empty() => Ok(()),
        Some(Value::String(_)) => Err(Error::InvalidObject {
            field: field.into(),
            reason: "must not be empty".into(),
        }),
        Some(_) => Err(Error::InvalidObject {
            field: field.into(),
            reason: "must be a string".into(),
        }),
        None => Err(Error::InvalidObject {
            field: field.into(),
            reason: "is missing".into(),
        }),
    }
}

impl TryFrom<Value> for Object {
    type Error = Error;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Object> for Value {
    fn from(object: Object) -> Self {
        object.into_value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_missing_field() {
        let err = Object::new(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}))
            .unwrap_err();
        assert_eq!(err.to_string(), "metadata.name is missing");
        let err = Object::new(json!({"kind": "ConfigMap"})).unwrap_err();
        assert_eq!(err.to_string(), "apiVersion is missing");
        let err = Object::new(json!({"apiVersion": 1, "kind": "X"})).unwrap_err();
        assert_eq!(err.to_string(), "apiVersion must be a string");
    }

    #[test]
    fn core_group_is_empty() {
        let o =
            Object::new(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}))
                .unwrap();
        assert_eq!(o.group(), "");
        assert_eq!(o.version(), "v1");
        assert_eq!(o.namespace(), None);
    }

    #[test]
    fn set_namespace_changes_id() {
        let mut o =
            Object::new(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}))
                .unwrap();
        o.set_namespace(Some("prod"));
        assert_eq!(o.id().namespace(), Some("prod"));
        o.set_namespace(None);
        assert_eq!(o.id().namespace(), None);
    }

    #[test]
    fn clones_share_until_one_changes() {
        let original = Object::new(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
        )
        .unwrap();
        let mut copy = original.clone();
        assert!(std::ptr::eq(original.as_value(), copy.as_value()));
        copy.set_namespace(Some("prod"));
        assert_eq!(original.namespace(), None);
        assert_eq!(copy.namespace(), Some("prod"));
        copy.as_value_mut()["data"] = json!({"k": "v"});
        assert!(original.as_value().get("data").is_none());
        let shared = copy.clone();
        assert_eq!(shared.into_value()["data"]["k"], "v");
        assert_eq!(copy.into_value()["data"]["k"], "v");
    }
}
