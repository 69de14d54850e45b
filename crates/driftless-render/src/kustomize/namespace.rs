//! The `namespace` transformer.

use serde_json::Value;

use super::fieldspec::{FieldSpec, Leaf, walk};
use super::resource::ResMap;

/// Sets `namespace` on every namespaced object, on the fields the specs name
/// (Namespace objects are renamed, APIService and CRD webhook services follow), and
/// on RoleBinding subjects named `default`. Fails if two objects end up with one id.
pub(crate) fn transform(
    map: &mut ResMap,
    namespace: &str,
    specs: &[FieldSpec],
) -> Result<(), String> {
    let other_specs: Vec<&FieldSpec> = specs
        .iter()
        .filter(|fs| !fs.path_is("metadata/namespace"))
        .collect();
    for res in &mut map.resources {
        res.store_previous_id();
        let gvk = res.gvk();
        if !gvk.is_cluster_scoped() {
            res.set_namespace(namespace);
        }
        let is_binding = matches!(gvk.kind.as_str(), "RoleBinding" | "ClusterRoleBinding");
        if is_binding && let Some(Value::Array(subjects)) = res.value.get_mut("subjects") {
            for subject in subjects {
                if subject.get("name").and_then(Value::as_str) == Some("default")
                    && let Value::Object(s) = subject
                {
                    s.insert("namespace".into(), Value::String(namespace.to_owned()));
                }
            }
        }
        for fs in &other_specs {
            if is_binding && fs.path_is("subjects") {
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
                    *node = Value::String(namespace.to_owned());
                    Ok(())
                },
            )?;
        }
    }
    map.check_unique()
        .map_err(|e| format!("namespace transformation produces ID conflict: {e}"))
}
