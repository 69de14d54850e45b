//! The `namespace` transformer (the kustomization's `namespace` field and the
//! `NamespaceTransformer` config).

use serde_json::Value;

use super::fieldspec::{FieldSpec, Leaf, walk};
use super::resource::ResMap;

/// Which subjects of RoleBindings and ClusterRoleBindings get the namespace
/// (`setRoleBindingSubjects`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Subjects {
    /// None of them.
    None,
    /// Those named `default` (Kustomize's default).
    #[default]
    DefaultOnly,
    /// Those of kind `ServiceAccount`.
    AllServiceAccounts,
}

impl Subjects {
    /// Reads `setRoleBindingSubjects`; empty is the default.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        match text {
            "" | "defaultOnly" => Ok(Self::DefaultOnly),
            "none" => Ok(Self::None),
            "allServiceAccounts" => Ok(Self::AllServiceAccounts),
            other => Err(format!(
                "invalid value {other:?} for setRoleBindingSubjects: must be one of \"defaultOnly\", \"none\" or \"allServiceAccounts\""
            )),
        }
    }

    fn picks(self, subject: &Value) -> bool {
        let field = |key: &str| subject.get(key).and_then(Value::as_str);
        match self {
            Self::None => false,
            Self::DefaultOnly => field("name") == Some("default"),
            Self::AllServiceAccounts => field("kind") == Some("ServiceAccount"),
        }
    }
}

/// How the namespace is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Options {
    /// Only fields that are missing or empty are set (`unsetOnly`).
    pub(crate) unset_only: bool,
    pub(crate) subjects: Subjects,
}

impl Options {
    /// Writes the namespace into `node`, unless only unset fields are to be set and
    /// this one holds a value.
    fn set(self, node: &mut Value, namespace: &str) {
        let unset = node.is_null() || node.as_str() == Some("");
        if unset || !self.unset_only {
            *node = Value::String(namespace.to_owned());
        }
    }
}

/// Sets `namespace` on every namespaced object, on the fields the specs name
/// (Namespace objects are renamed, APIService and CRD webhook services follow), and
/// on the RoleBinding subjects `options` picks. Fails if two objects end up with one
/// id.
pub(crate) fn transform(
    map: &mut ResMap,
    namespace: &str,
    specs: &[FieldSpec],
    options: Options,
) -> Result<(), String> {
    let other_specs: Vec<&FieldSpec> = specs
        .iter()
        .filter(|fs| !fs.path_is("metadata/namespace"))
        .collect();
    for res in &mut map.resources {
        res.store_previous_id();
        let gvk = res.gvk();
        if !gvk.is_cluster_scoped() && (!options.unset_only || res.namespace().is_empty()) {
            res.set_namespace(namespace);
        }
        let is_binding = matches!(gvk.kind.as_str(), "RoleBinding" | "ClusterRoleBinding");
        if is_binding && let Some(Value::Array(subjects)) = res.value.get_mut("subjects") {
            for subject in subjects {
                if options.subjects.picks(subject)
                    && let Value::Object(s) = subject
                {
                    let node = s.entry("namespace").or_insert(Value::Null);
                    options.set(node, namespace);
                }
            }
        }
        for fs in &other_specs {
            // The option above decides about subjects, whatever the field specs say.
            if is_binding && (fs.path_is("subjects") || fs.path_is("subjects/namespace")) {
                continue;
            }
            if !gvk.is_selected_by(&fs.gvk) {
                continue;
            }
            walk(
                &mut res.value,
                &fs.path,
                fs.create,
                Leaf::Scalar,
                &mut |node| {
                    options.set(node, namespace);
                    Ok(())
                },
            )?;
        }
    }
    map.check_unique()
        .map_err(|e| format!("namespace transformation produces ID conflict: {e}"))
}
