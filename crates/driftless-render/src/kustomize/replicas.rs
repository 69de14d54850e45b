//! The `replicas` transformer.

use serde_json::Value;

use super::fieldspec::{FieldSpec, Leaf, walk};
use super::kustomization::ReplicaSpec;
use super::resource::ResMap;

/// Sets the replica count of the objects named (by current or any earlier name);
/// naming nothing is an error, as in Kustomize.
pub(crate) fn transform(
    map: &mut ResMap,
    replica: &ReplicaSpec,
    specs: &[FieldSpec],
) -> Result<(), String> {
    let mut found = false;
    for fs in specs {
        for res in &mut map.resources {
            let cur = res.cur_id();
            let matches = std::iter::once(&cur)
                .chain(res.prev_ids.iter())
                .any(|id| id.name == replica.name && id.gvk.is_selected_by(&fs.gvk));
            if !matches {
                continue;
            }
            found = true;
            walk(
                &mut res.value,
                &fs.path,
                fs.create,
                Leaf::Scalar,
                &mut |node| {
                    *node = Value::from(replica.count);
                    Ok(())
                },
            )?;
        }
    }
    if found {
        Ok(())
    } else {
        let kinds: Vec<String> = specs.iter().map(|fs| fs.gvk.kind.clone()).collect();
        Err(format!(
            "replicas: no resource named {:?} of a kind with replicas ({})",
            replica.name,
            kinds.join(", ")
        ))
    }
}
