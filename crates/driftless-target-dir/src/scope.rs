//! Which folder an object without a namespace belongs in.
//!
//! As kubectl does, a namespaced kind that names no namespace is given the default one,
//! and a cluster-scoped kind loses any namespace it names. A directory has no API server
//! to ask which kinds are cluster-scoped, so it knows the built-in ones, and learns
//! custom kinds from the CustomResourceDefinitions being applied and from those already
//! in the directory. Any other kind is namespaced, as Kustomize assumes.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use driftless_core::{Object, ObjectSet};
use serde_json::Value;

use crate::Error;
use crate::layout::CLUSTER_DIR;

/// The API group of CustomResourceDefinitions.
const CRD_GROUP: &str = "apiextensions.k8s.io";
/// The kind of CustomResourceDefinitions.
const CRD_KIND: &str = "CustomResourceDefinition";

/// Gives namespaced objects without a namespace `namespace`, and takes the namespace
/// away from cluster-scoped ones.
pub(crate) fn prepare(
    root: &Path,
    desired: ObjectSet,
    namespace: &str,
) -> Result<ObjectSet, Error> {
    let mut custom = crd_scopes(desired.iter());
    if desired
        .iter()
        .any(|o| !is_builtin_group(o.group()) && !custom.contains_key(&key(o)))
    {
        for (kind, namespaced) in crd_scopes_in(root) {
            custom.entry(kind).or_insert(namespaced);
        }
    }
    let mut prepared = ObjectSet::new();
    for mut object in desired {
        let namespaced = if is_builtin_group(object.group()) {
            !is_builtin_cluster_scoped(object.group(), object.kind())
        } else {
            custom.get(&key(&object)).copied().unwrap_or(true)
        };
        if !namespaced {
            object.set_namespace(None);
        } else if object.namespace().is_none() {
            object.set_namespace(Some(namespace));
        }
        let id = object.id();
        prepared.insert(object).map_err(|source| Error::Prepare {
            dir: root.to_owned(),
            id: Box::new(id),
            source: Box::new(source),
        })?;
    }
    Ok(prepared)
}

/// An object's (group, kind).
fn key(object: &Object) -> (String, String) {
    (object.group().to_owned(), object.kind().to_owned())
}

/// The kinds that CustomResourceDefinitions among `objects` define: (group, kind) ->
/// namespaced.
fn crd_scopes<'a>(objects: impl Iterator<Item = &'a Object>) -> HashMap<(String, String), bool> {
    objects
        .filter(|o| o.group() == CRD_GROUP && o.kind() == CRD_KIND)
        .filter_map(|crd| crd_scope(crd.as_value()))
        .collect()
}

/// The kind a CustomResourceDefinition defines, and whether it is namespaced.
fn crd_scope(crd: &Value) -> Option<((String, String), bool)> {
    let spec = crd.get("spec")?;
    let group = spec.get("group")?.as_str()?;
    let kind = spec.pointer("/names/kind")?.as_str()?;
    let namespaced = spec.get("scope").and_then(Value::as_str) != Some("Cluster");
    Some(((group.to_owned(), kind.to_owned()), namespaced))
}

/// The kinds that the CustomResourceDefinitions kept in the directory define. Files
/// that cannot be read are skipped (the apply reports them); folders that are not
/// plain directories are not followed.
fn crd_scopes_in(root: &Path) -> HashMap<(String, String), bool> {
    let folder = Path::new(CLUSTER_DIR).join(format!("{CRD_GROUP}_{CRD_KIND}"));
    let plain_dirs = [Path::new(CLUSTER_DIR), folder.as_path()]
        .iter()
        .all(|dir| fs::symlink_metadata(root.join(dir)).is_ok_and(|m| m.is_dir()));
    if !plain_dirs {
        return HashMap::new();
    }
    let Ok(entries) = fs::read_dir(root.join(&folder)) else {
        return HashMap::new();
    };
    let mut scopes = HashMap::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_file())
            || path.extension().is_none_or(|e| e != "yaml")
        {
            continue;
        }
        let parsed = fs::read_to_string(&path)
            .ok()
            .and_then(|text| driftless_core::yaml::from_str_multi(&text).ok());
        if let Some((kind, namespaced)) = parsed
            .as_deref()
            .and_then(|docs| docs.first())
            .and_then(crd_scope)
        {
            scopes.insert(kind, namespaced);
        } else {
            tracing::debug!(path = %path.display(), "not a readable CustomResourceDefinition");
        }
    }
    scopes
}

/// The API groups Kubernetes itself serves (kinds of other groups are custom).
fn is_builtin_group(group: &str) -> bool {
    matches!(
        group,
        "" | "admissionregistration.k8s.io"
            | "apiextensions.k8s.io"
            | "apiregistration.k8s.io"
            | "apps"
            | "authentication.k8s.io"
            | "authorization.k8s.io"
            | "autoscaling"
            | "batch"
            | "certificates.k8s.io"
            | "coordination.k8s.io"
            | "discovery.k8s.io"
            | "events.k8s.io"
            | "extensions"
            | "flowcontrol.apiserver.k8s.io"
            | "internal.apiserver.k8s.io"
            | "networking.k8s.io"
            | "node.k8s.io"
            | "policy"
            | "rbac.authorization.k8s.io"
            | "resource.k8s.io"
            | "scheduling.k8s.io"
            | "storage.k8s.io"
            | "storagemigration.k8s.io"
    )
}

/// The cluster-scoped kinds of the built-in groups (`kubectl api-resources
/// --namespaced=false` on Kubernetes 1.33, and older kinds since removed).
fn is_builtin_cluster_scoped(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        (
            "",
            "Namespace" | "Node" | "PersistentVolume" | "ComponentStatus"
        ) | (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration"
                | "ValidatingWebhookConfiguration"
                | "ValidatingAdmissionPolicy"
                | "ValidatingAdmissionPolicyBinding"
                | "MutatingAdmissionPolicy"
                | "MutatingAdmissionPolicyBinding"
        ) | ("apiextensions.k8s.io", "CustomResourceDefinition")
            | ("apiregistration.k8s.io", "APIService")
            | ("authentication.k8s.io", "TokenReview" | "SelfSubjectReview")
            | (
                "authorization.k8s.io",
                "SubjectAccessReview" | "SelfSubjectAccessReview" | "SelfSubjectRulesReview"
            )
            | (
                "certificates.k8s.io",
                "CertificateSigningRequest" | "ClusterTrustBundle"
            )
            | (
                "flowcontrol.apiserver.k8s.io",
                "FlowSchema" | "PriorityLevelConfiguration"
            )
            | ("internal.apiserver.k8s.io", "StorageVersion")
            | (
                "networking.k8s.io",
                "IngressClass" | "IPAddress" | "ServiceCIDR"
            )
            | ("node.k8s.io", "RuntimeClass")
            | ("policy" | "extensions", "PodSecurityPolicy")
            | (
                "rbac.authorization.k8s.io",
                "ClusterRole" | "ClusterRoleBinding"
            )
            | ("resource.k8s.io", "DeviceClass" | "ResourceSlice")
            | ("scheduling.k8s.io", "PriorityClass")
            | (
                "storage.k8s.io",
                "CSIDriver"
                    | "CSINode"
                    | "StorageClass"
                    | "VolumeAttachment"
                    | "VolumeAttributesClass"
            )
            | ("storagemigration.k8s.io", "StorageVersionMigration")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Object {
        let mut metadata = json!({"name": name});
        if let Some(ns) = namespace {
            metadata["namespace"] = json!(ns);
        }
        Object::new(json!({"apiVersion": api_version, "kind": kind, "metadata": metadata})).unwrap()
    }

    fn crd(group: &str, kind: &str, scope: &str) -> Object {
        let plural = format!("{}s", kind.to_lowercase());
        Object::new(json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.{group}")},
            "spec": {"group": group, "scope": scope, "names": {"kind": kind, "plural": plural}},
        }))
        .unwrap()
    }

    fn namespaces(set: &ObjectSet) -> Vec<(String, Option<String>)> {
        set.iter()
            .map(|o| (o.kind().to_owned(), o.namespace().map(str::to_owned)))
            .collect()
    }

    #[test]
    fn namespaced_kinds_get_the_default_namespace_and_cluster_kinds_none() {
        let dir = tempfile::tempdir().unwrap();
        let desired = ObjectSet::try_from(vec![
            object("v1", "ConfigMap", None, "a"),
            object("apps/v1", "Deployment", Some("web"), "b"),
            object(
                "rbac.authorization.k8s.io/v1",
                "ClusterRole",
                Some("web"),
                "c",
            ),
            object("v1", "Namespace", None, "web"),
            crd("example.com", "Widget", "Namespaced"),
            crd("example.com", "Gadget", "Cluster"),
            object("example.com/v1", "Widget", None, "w"),
            object("example.com/v1", "Gadget", None, "g"),
            object("other.io/v1", "Thing", None, "t"),
        ])
        .unwrap();
        let prepared = prepare(dir.path(), desired, "prod").unwrap();
        let some = |ns: &str| Some(ns.to_owned());
        assert_eq!(
            namespaces(&prepared),
            [
                ("ConfigMap".into(), some("prod")),
                ("Deployment".into(), some("web")),
                ("ClusterRole".into(), None),
                ("Namespace".into(), None),
                ("CustomResourceDefinition".into(), None),
                ("CustomResourceDefinition".into(), None),
                ("Widget".into(), some("prod")),
                ("Gadget".into(), None),
                ("Thing".into(), some("prod")),
            ]
        );
    }

    #[test]
    fn custom_kinds_learn_their_scope_from_definitions_in_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir
            .path()
            .join("_cluster/apiextensions.k8s.io_CustomResourceDefinition");
        fs::create_dir_all(&folder).unwrap();
        let gadget = crd("example.com", "Gadget", "Cluster");
        fs::write(
            folder.join("gadgets.example.com.yaml"),
            driftless_core::yaml::to_string(gadget.as_value()).unwrap(),
        )
        .unwrap();
        fs::write(folder.join("broken.yaml"), "{{ not yaml").unwrap();
        let desired = ObjectSet::try_from(vec![
            object("example.com/v1", "Gadget", Some("x"), "g"),
            object("example.com/v1", "Widget", None, "w"),
        ])
        .unwrap();
        let prepared = prepare(dir.path(), desired, "default").unwrap();
        assert_eq!(
            namespaces(&prepared),
            [
                ("Gadget".into(), None),
                ("Widget".into(), Some("default".to_owned()))
            ]
        );
    }

    #[test]
    fn two_objects_that_become_one_are_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let desired = ObjectSet::try_from(vec![
            object("v1", "ConfigMap", None, "a"),
            object("v1", "ConfigMap", Some("default"), "a"),
        ])
        .unwrap();
        let err = prepare(dir.path(), desired, "default").unwrap_err();
        assert!(err.to_string().contains("/ConfigMap/default/a"), "{err}");
    }
}
