//! The `replicas` transformer.

use std::collections::HashMap;

use serde_json::Value;

use super::fieldspec::{FieldSpec, Leaf, walk};
use super::kustomization::ReplicaSpec;
use super::resource::ResMap;

/// Sets the replica counts of the objects named (by current or any earlier name), in
/// order; an entry naming nothing is an error, as in Kustomize.
pub(crate) fn transform(
    map: &mut ResMap,
    replicas: &[ReplicaSpec],
    specs: &[FieldSpec],
) -> Result<(), String> {
    if replicas.is_empty() {
        return Ok(());
    }
    // Every name a resource has had -> its position.
    let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, res) in map.resources.iter().enumerate() {
        let mut names: Vec<String> = vec![res.name().to_owned()];
        for p in &res.prev_ids {
            if !names.contains(&p.name) {
                names.push(p.name.clone());
            }
        }
        for n in names {
            by_name.entry(n).or_default().push(i);
        }
    }
    for replica in replicas {
        let mut found = false;
        let positions = by_name.get(&replica.name).cloned().unwrap_or_default();
        for fs in specs {
            for &i in &positions {
                let res = &mut map.resources[i];
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
        if !found {
            let kinds: Vec<String> = specs.iter().map(|fs| fs.gvk.kind.clone()).collect();
            return Err(format!(
                "replicas: no resource named {:?} of a kind with replicas ({})",
                replica.name,
                kinds.join(", ")
            ));
        }
    }
    Ok(())
}
