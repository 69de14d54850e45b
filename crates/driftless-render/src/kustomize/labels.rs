//! `labels`, `commonLabels` and `commonAnnotations`.

use serde_json::Value;

use super::fieldspec::{FieldSpec, Leaf, walk};
use super::kustomization::StringMap;
use super::resource::ResMap;

/// Sets every pair on the maps the specs name, creating them where a spec says so.
pub(crate) fn add_pairs(
    map: &mut ResMap,
    pairs: &StringMap,
    specs: &[FieldSpec],
) -> Result<(), String> {
    if pairs.is_empty() {
        return Ok(());
    }
    for res in &mut map.resources {
        let gvk = res.gvk();
        for fs in specs {
            if !gvk.is_selected_by(&fs.gvk) {
                continue;
            }
            walk(
                &mut res.value,
                &fs.path,
                fs.create,
                Leaf::Map,
                &mut |node| match node {
                    Value::Object(m) => {
                        for (k, v) in pairs {
                            m.insert(k.clone(), Value::String(v.clone()));
                        }
                        Ok(())
                    }
                    Value::Null => Ok(()),
                    _ => Err(format!(
                        "{} is not a mapping; cannot set labels or annotations on it",
                        fs.path.join("/")
                    )),
                },
            )?;
        }
    }
    Ok(())
}

/// Merges field specs, dropping duplicates.
pub(crate) fn merged_specs(first: &[FieldSpec], more: &[FieldSpec]) -> Vec<FieldSpec> {
    let mut out: Vec<FieldSpec> = Vec::with_capacity(first.len() + more.len());
    for fs in first.iter().chain(more) {
        if !out.iter().any(|f| f.gvk == fs.gvk && f.path == fs.path) {
            out.push(fs.clone());
        }
    }
    out
}
