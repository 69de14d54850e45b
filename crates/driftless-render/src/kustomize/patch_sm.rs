//! Strategic merge patches: maps merge, `null` deletes, lists of built-in kinds merge
//! by their Kubernetes merge key (containers by name, ports by containerPort, …),
//! other lists are replaced; `$patch: delete|replace` directives; `$setElementOrder`
//! and `$retainKeys` are ignored.

use serde_json::{Map, Value};

/// The outcome of patching a mapping.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Kept,
    /// `$patch: delete` at this level: the mapping is to be removed.
    Deleted,
}

/// Whether objects of this API group have Kubernetes' patch strategies (custom
/// resources do not: their lists are replaced).
fn is_builtin_group(group: &str) -> bool {
    matches!(
        group,
        "" | "apps"
            | "batch"
            | "extensions"
            | "policy"
            | "autoscaling"
            | "rbac.authorization.k8s.io"
            | "networking.k8s.io"
            | "admissionregistration.k8s.io"
            | "apiextensions.k8s.io"
            | "apiregistration.k8s.io"
            | "storage.k8s.io"
            | "scheduling.k8s.io"
            | "coordination.k8s.io"
            | "certificates.k8s.io"
            | "discovery.k8s.io"
            | "node.k8s.io"
            | "flowcontrol.apiserver.k8s.io"
    )
}

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// The merge key of the list at `path` (keys from the object root), if Kubernetes
/// merges it rather than replacing it.
fn merge_key(kind: &str, path: &[String]) -> Option<&'static str> {
    let last = path.last()?.as_str();
    let parent = path.len().checked_sub(2).map(|i| path[i].as_str());
    match last {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims"
        | "schedulingGates" => Some("name"),
        "env" if parent.is_some_and(|p| CONTAINER_LISTS.contains(&p)) => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "volumeDevices" => Some("devicePath"),
        "hostAliases" => Some("ip"),
        "topologySpreadConstraints" => Some("topologyKey"),
        "ownerReferences" => Some("uid"),
        "conditions" => Some("type"),
        "ports" if parent.is_some_and(|p| CONTAINER_LISTS.contains(&p)) => Some("containerPort"),
        "ports" if kind == "Service" && path.len() == 2 && path[0] == "spec" => Some("port"),
        "webhooks"
            if kind == "MutatingWebhookConfiguration"
                || kind == "ValidatingWebhookConfiguration" =>
        {
            Some("name")
        }
        _ => None,
    }
}

/// Lists of scalars Kubernetes merges as sets.
fn is_scalar_set(path: &[String]) -> bool {
    path.len() == 2 && path[0] == "metadata" && path[1] == "finalizers"
}

/// Patches `target` with `patch`.
pub(crate) fn apply(target: &mut Value, patch: &Value, group: &str, kind: &str) -> Outcome {
    let ctx = Ctx {
        builtin: is_builtin_group(group),
        kind,
    };
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            let mut trail = Vec::new();
            ctx.merge_map(t, p, &mut trail)
        }
        _ => Outcome::Kept,
    }
}

struct Ctx<'a> {
    builtin: bool,
    kind: &'a str,
}

fn directive(p: &Map<String, Value>) -> Option<&str> {
    p.get("$patch").and_then(Value::as_str)
}

fn is_directive_key(key: &str) -> bool {
    key.starts_with('$')
}

/// A patch value with its directives removed, for use as new content.
pub(crate) fn clean(value: &Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !is_directive_key(k))
                .map(|(k, v)| (k.clone(), clean(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter(|i| !i.as_object().is_some_and(|m| m.contains_key("$patch")))
                .map(clean)
                .collect(),
        ),
        other => other.clone(),
    }
}

impl Ctx<'_> {
    fn merge_map(
        &self,
        target: &mut Map<String, Value>,
        patch: &Map<String, Value>,
        trail: &mut Vec<String>,
    ) -> Outcome {
        match directive(patch) {
            Some("delete") => return Outcome::Deleted,
            Some("replace") => {
                if let Value::Object(m) = clean(&Value::Object(patch.clone())) {
                    *target = m;
                }
                return Outcome::Kept;
            }
            _ => {}
        }
        for (key, pv) in patch {
            if is_directive_key(key) {
                continue;
            }
            match pv {
                Value::Null => {
                    target.shift_remove(key);
                }
                Value::Object(pm) => {
                    trail.push(key.clone());
                    match target.get_mut(key) {
                        Some(Value::Object(tm)) => {
                            if self.merge_map(tm, pm, trail) == Outcome::Deleted {
                                target.shift_remove(key);
                            }
                        }
                        _ => {
                            if directive(pm) == Some("delete") {
                                target.shift_remove(key);
                            } else {
                                target.insert(key.clone(), clean(pv));
                            }
                        }
                    }
                    trail.pop();
                }
                Value::Array(items) => {
                    trail.push(key.clone());
                    let key_field = if self.builtin {
                        merge_key(self.kind, trail)
                    } else {
                        None
                    };
                    match (key_field, target.get_mut(key)) {
                        (Some(field), Some(Value::Array(existing))) => {
                            let merged = self.merge_list(existing, items, field, trail);
                            *existing = merged;
                        }
                        (None, Some(Value::Array(existing)))
                            if self.builtin && is_scalar_set(trail) =>
                        {
                            for item in items {
                                if !existing.contains(item) {
                                    existing.push(item.clone());
                                }
                            }
                        }
                        _ => {
                            target.insert(key.clone(), clean(pv));
                        }
                    }
                    trail.pop();
                }
                scalar => {
                    target.insert(key.clone(), scalar.clone());
                }
            }
        }
        Outcome::Kept
    }

    /// Merges a list by key: the patch's elements first (merged into the existing
    /// element with the same key), then the existing elements the patch does not name.
    fn merge_list(
        &self,
        existing: &[Value],
        patch: &[Value],
        field: &str,
        trail: &mut Vec<String>,
    ) -> Vec<Value> {
        if patch.iter().any(|p| {
            p.as_object()
                .is_some_and(|m| directive(m) == Some("replace") && m.len() == 1)
        }) {
            return patch
                .iter()
                .filter(|p| !p.as_object().is_some_and(|m| m.contains_key("$patch")))
                .map(clean)
                .collect();
        }
        let key_of = |v: &Value| v.get(field).cloned();
        let mut used = vec![false; existing.len()];
        let mut out = Vec::with_capacity(existing.len() + patch.len());
        let mut deleted = Vec::new();
        for p in patch {
            let Some(pm) = p.as_object() else {
                out.push(p.clone());
                continue;
            };
            let key = key_of(p);
            let found = key.as_ref().and_then(|k| {
                existing
                    .iter()
                    .enumerate()
                    .position(|(i, e)| !used[i] && key_of(e).as_ref() == Some(k))
            });
            if directive(pm) == Some("delete") {
                if let Some(i) = found {
                    used[i] = true;
                }
                deleted.push(key);
                continue;
            }
            match found {
                Some(i) => {
                    used[i] = true;
                    let mut merged = existing[i].clone();
                    if let Value::Object(mm) = &mut merged
                        && self.merge_map(mm, pm, trail) == Outcome::Deleted
                    {
                        continue;
                    }
                    out.push(merged);
                }
                None => out.push(clean(p)),
            }
        }
        for (i, e) in existing.iter().enumerate() {
            if !used[i] && !deleted.iter().any(|d| d.is_some() && *d == key_of(e)) {
                out.push(e.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_merge_by_name_patch_order_first() {
        let mut t = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a"}, {"name": "b", "image": "b"}, {"name": "c", "image": "c"}
        ]}}}});
        let p = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "b", "image": "b2"}, {"name": "z", "image": "z"}, {"name": "a", "$patch": "delete"}
        ]}}}});
        apply(&mut t, &p, "apps", "Deployment");
        let names: Vec<_> = t["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["b", "z", "c"]);
        assert_eq!(
            t["spec"]["template"]["spec"]["containers"][0]["image"],
            "b2"
        );
    }

    #[test]
    fn null_deletes_and_custom_lists_replace() {
        let mut t = json!({"spec": {"a": 1, "items": [{"name": "x"}]}});
        let p = json!({"spec": {"a": null, "items": [{"name": "y"}]}});
        apply(&mut t, &p, "example.com", "Foo");
        assert_eq!(t, json!({"spec": {"items": [{"name": "y"}]}}));
    }
}
