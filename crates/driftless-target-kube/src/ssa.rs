//! How an object is applied: its `driftless.dev/ssa` policy, and handing fields over
//! from imperative managers (kubectl edit, patch, label, client-side apply) to ours.

use driftless_core::Object;
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::fields;

/// Annotation choosing how an object is applied, with the values and meaning of Flux's
/// `kustomize.toolkit.fluxcd.io/ssa`: `Override` (the default), `Merge`, `IfNotPresent`,
/// `Ignore`.
pub const SSA_ANNOTATION: &str = "driftless.dev/ssa";

/// What [`SSA_ANNOTATION`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    /// Git wins: fields Git declares are taken from any other manager, and fields that
    /// imperative managers (kubectl) added are removed.
    Override,
    /// Fields Git declares are taken over; fields others added stay.
    Merge,
    /// Created when missing, never changed after.
    IfNotPresent,
    /// Never created or changed: only read.
    Ignore,
}

impl Policy {
    /// The policy of `desired`; an `Ignore` on the live object counts too, so an object
    /// can be held back in the cluster without a commit.
    pub(crate) fn of(desired: &Object, live: Option<&Object>) -> Result<Self, Error> {
        if live.and_then(|l| l.annotation(SSA_ANNOTATION)) == Some("Ignore") {
            return Ok(Self::Ignore);
        }
        match desired.annotation(SSA_ANNOTATION) {
            None | Some("Override") => Ok(Self::Override),
            Some("Merge") => Ok(Self::Merge),
            Some("IfNotPresent") => Ok(Self::IfNotPresent),
            Some("Ignore") => Ok(Self::Ignore),
            Some(other) => Err(Error::BadAnnotation {
                id: Box::new(desired.id()),
                annotation: SSA_ANNOTATION,
                value: other.to_owned(),
                allowed: "Override, Merge, IfNotPresent, Ignore",
            }),
        }
    }
}

/// Whether a managedFields entry is an imperative change whose fields Git takes over:
/// any kubectl manager (edit, patch, label, scale, client-side apply...) or
/// `before-first-apply`, unless it only wrote `status`.
fn is_imperative(entry: &Value, our_manager: &str) -> bool {
    let manager = entry.get("manager").and_then(Value::as_str).unwrap_or("");
    if manager == our_manager
        || !(manager.starts_with("kubectl") || manager == "before-first-apply")
    {
        return false;
    }
    entry
        .get("fieldsV1")
        .and_then(Value::as_object)
        .is_some_and(|set| set.keys().any(|k| k != "f:status"))
}

fn is_ours(entry: &Value, our_manager: &str) -> bool {
    entry.get("manager").and_then(Value::as_str) == Some(our_manager)
        && entry.get("operation").and_then(Value::as_str) == Some("Apply")
}

fn fields_of(entry: &Value) -> Value {
    entry.get("fieldsV1").cloned().unwrap_or_else(|| json!({}))
}

/// The fields imperative managers own in `managed` (a `managedFields` list), or `None`
/// when there are none.
pub(crate) fn imperative_fields(managed: &Value, our_manager: &str) -> Option<Value> {
    let entries = managed.as_array()?;
    entries
        .iter()
        .filter(|e| is_imperative(e, our_manager))
        .map(fields_of)
        .reduce(|a, b| fields::union(&a, &b))
}

/// The fields of `imperative` that nobody keeps once they are ours and we apply what
/// the dry run `managed` shows: those we no longer apply and no other manager owns.
pub(crate) fn released(imperative: &Value, managed: &Value, our_manager: &str) -> Value {
    let kept = managed
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| !is_imperative(e, our_manager))
        .map(fields_of)
        .fold(json!({}), |a, b| fields::union(&a, &b));
    fields::difference(imperative, &kept)
}

/// `managed` with the imperative managers' fields handed to our apply entry (made when
/// missing), as `kubectl`'s own client-side to server-side upgrade does.
pub(crate) fn take_over(managed: &Value, our_manager: &str, api_version: &str) -> Value {
    let entries = managed.as_array().map(Vec::as_slice).unwrap_or_default();
    let mut taken = json!({});
    let mut out: Vec<Value> = Vec::with_capacity(entries.len() + 1);
    let mut ours = None;
    for entry in entries {
        if is_imperative(entry, our_manager) {
            taken = fields::union(&taken, &fields_of(entry));
        } else {
            if is_ours(entry, our_manager) {
                ours = Some(out.len());
            }
            out.push(entry.clone());
        }
    }
    if let Some(entry) = ours
        .and_then(|i| out.get_mut(i))
        .and_then(Value::as_object_mut)
    {
        let merged = fields::union(&fields_of(&Value::Object(entry.clone())), &taken);
        entry.insert("fieldsV1".into(), merged);
    } else {
        let mut entry = Map::new();
        entry.insert("manager".into(), our_manager.into());
        entry.insert("operation".into(), "Apply".into());
        entry.insert("apiVersion".into(), api_version.into());
        entry.insert("fieldsType".into(), "FieldsV1".into());
        entry.insert("fieldsV1".into(), taken);
        out.push(Value::Object(entry));
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        let object = |ann: Option<&str>| {
            let mut v = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
            if let Some(a) = ann {
                v["metadata"]["annotations"] = json!({SSA_ANNOTATION: a});
            }
            Object::new(v).unwrap()
        };
        assert_eq!(Policy::of(&object(None), None).unwrap(), Policy::Override);
        assert_eq!(
            Policy::of(&object(Some("Merge")), None).unwrap(),
            Policy::Merge
        );
        assert_eq!(
            Policy::of(&object(Some("IfNotPresent")), None).unwrap(),
            Policy::IfNotPresent
        );
        assert_eq!(
            Policy::of(&object(None), Some(&object(Some("Ignore")))).unwrap(),
            Policy::Ignore
        );
        let err = Policy::of(&object(Some("merge")), None).unwrap_err();
        assert!(err.to_string().contains("\"merge\""), "{err}");
    }

    #[test]
    fn kubectl_fields_become_ours() {
        let managed = json!([
            {"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "v1",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:a": {}, "f:b": {}}}},
            {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:c": {}}}},
            {"manager": "kubectl-edit", "operation": "Update", "apiVersion": "v1",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:x": {}}}},
        ]);
        assert_eq!(
            imperative_fields(&managed, "driftless"),
            Some(json!({"f:data": {"f:a": {}, "f:b": {}}}))
        );
        let after = take_over(&managed, "driftless", "v1");
        let managers: Vec<&str> = after
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["manager"].as_str().unwrap())
            .collect();
        assert_eq!(
            managers,
            ["kube-controller-manager", "kubectl-edit", "driftless"]
        );
        assert_eq!(
            after[2]["fieldsV1"],
            json!({"f:data": {"f:a": {}, "f:b": {}}})
        );
        // After a dry run in which we own `a`, `b` is released; `c` stays theirs.
        let dry_run = json!([
            {"manager": "driftless", "operation": "Apply", "fieldsV1": {"f:data": {"f:a": {}}}},
            {"manager": "kubectl-client-side-apply", "operation": "Update",
             "fieldsV1": {"f:data": {"f:a": {}, "f:b": {}}}},
        ]);
        let theirs = imperative_fields(&managed, "driftless").unwrap();
        assert_eq!(
            released(&theirs, &dry_run, "driftless"),
            json!({"f:data": {"f:b": {}}})
        );
    }
}
