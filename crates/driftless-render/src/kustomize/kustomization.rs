//! The kustomization file model (`kustomize.config.k8s.io/v1beta1` `Kustomization`
//! and `v1alpha1` `Component`), with the legacy fields Kustomize still accepts.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

use super::error::{Error, Result};
use super::fieldspec::RawFieldSpec;

/// File names Kustomize recognises, in the order it looks for them.
pub(crate) const FILE_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Finds the kustomization file of a directory.
pub(crate) fn find_file(dir: &Path) -> Result<Option<PathBuf>> {
    let mut found = None;
    for name in FILE_NAMES {
        let candidate = dir.join(name);
        if candidate.is_file() {
            if found.is_some() {
                return Err(Error::MultipleKustomizations {
                    dir: dir.to_path_buf(),
                });
            }
            found = Some(candidate);
        }
    }
    Ok(found)
}

/// String-to-string maps (labels, annotations) keep their order.
pub(crate) type StringMap = IndexMap<String, String>;

/// One kustomization file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Kustomization {
    #[serde(default, rename = "apiVersion")]
    _api_version: Option<String>,
    #[serde(default)]
    pub(crate) kind: Option<String>,
    #[serde(default, rename = "metadata")]
    _metadata: Option<Value>,
    #[serde(default)]
    pub(crate) openapi: Option<Value>,
    #[serde(default)]
    pub(crate) name_prefix: String,
    #[serde(default)]
    pub(crate) name_suffix: String,
    #[serde(default)]
    pub(crate) namespace: String,
    #[serde(default)]
    pub(crate) common_labels: StringMap,
    #[serde(default)]
    pub(crate) labels: Vec<LabelSpec>,
    #[serde(default)]
    pub(crate) common_annotations: StringMap,
    #[serde(default)]
    pub(crate) patches_strategic_merge: Vec<String>,
    #[serde(default)]
    pub(crate) patches_json6902: Vec<PatchSpec>,
    #[serde(default)]
    pub(crate) patches: Vec<PatchSpec>,
    #[serde(default)]
    pub(crate) images: Vec<ImageSpec>,
    #[serde(default)]
    pub(crate) image_tags: Vec<ImageSpec>,
    #[serde(default)]
    pub(crate) replacements: Vec<Value>,
    #[serde(default)]
    pub(crate) replicas: Vec<ReplicaSpec>,
    #[serde(default)]
    pub(crate) vars: Vec<Value>,
    #[serde(default)]
    pub(crate) sort_options: Option<SortOptions>,
    #[serde(default)]
    pub(crate) resources: Vec<String>,
    #[serde(default)]
    pub(crate) components: Vec<String>,
    #[serde(default)]
    pub(crate) crds: Vec<String>,
    #[serde(default)]
    pub(crate) bases: Vec<String>,
    #[serde(default)]
    pub(crate) config_map_generator: Vec<GeneratorArgs>,
    #[serde(default)]
    pub(crate) secret_generator: Vec<GeneratorArgs>,
    #[serde(default)]
    pub(crate) helm_globals: Option<Value>,
    #[serde(default)]
    pub(crate) helm_charts: Vec<Value>,
    #[serde(default)]
    pub(crate) helm_chart_inflation_generator: Vec<Value>,
    #[serde(default)]
    pub(crate) generator_options: Option<GeneratorOptions>,
    #[serde(default)]
    pub(crate) configurations: Vec<String>,
    #[serde(default)]
    pub(crate) generators: Vec<String>,
    #[serde(default)]
    pub(crate) transformers: Vec<String>,
    #[serde(default)]
    pub(crate) validators: Vec<String>,
    #[serde(default)]
    pub(crate) build_metadata: Vec<String>,
    #[serde(default, rename = "inventory")]
    _inventory: Option<Value>,
}

/// An entry of `labels`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct LabelSpec {
    #[serde(default)]
    pub(crate) pairs: StringMap,
    #[serde(default)]
    pub(crate) include_selectors: bool,
    #[serde(default)]
    pub(crate) include_templates: bool,
    #[serde(default)]
    pub(crate) fields: Vec<RawFieldSpec>,
}

/// An entry of `patches` or `patchesJson6902`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatchSpec {
    #[serde(default)]
    pub(crate) path: Option<String>,
    #[serde(default)]
    pub(crate) patch: Option<String>,
    #[serde(default)]
    pub(crate) target: Option<Selector>,
    #[serde(default)]
    pub(crate) options: IndexMap<String, bool>,
}

/// A target selector (`patches[].target`, replacement select/reject).
#[allow(clippy::struct_field_names)] // Kustomize's field names
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Selector {
    #[serde(default)]
    pub(crate) group: String,
    #[serde(default)]
    pub(crate) version: String,
    #[serde(default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) namespace: String,
    #[serde(default)]
    pub(crate) label_selector: String,
    #[serde(default)]
    pub(crate) annotation_selector: String,
}

/// An entry of `images` (or legacy `imageTags`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ImageSpec {
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) new_name: String,
    #[serde(default, deserialize_with = "scalar_string")]
    pub(crate) new_tag: String,
    #[serde(default)]
    pub(crate) digest: String,
    #[serde(default)]
    pub(crate) tag_suffix: String,
}

/// An entry of `replicas`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplicaSpec {
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) count: i64,
}

/// `sortOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SortOptions {
    #[serde(default)]
    pub(crate) order: String,
    #[serde(default)]
    pub(crate) legacy_sort_options: Option<LegacySortOptions>,
}

/// `sortOptions.legacySortOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct LegacySortOptions {
    #[serde(default)]
    pub(crate) order_first: Vec<String>,
    #[serde(default)]
    pub(crate) order_last: Vec<String>,
}

/// An entry of `configMapGenerator` or `secretGenerator`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct GeneratorArgs {
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) namespace: String,
    #[serde(default)]
    pub(crate) behavior: String,
    #[serde(default)]
    pub(crate) literals: Vec<String>,
    #[serde(default)]
    pub(crate) files: Vec<String>,
    #[serde(default)]
    pub(crate) envs: Vec<String>,
    #[serde(default)]
    pub(crate) env: String,
    #[serde(default)]
    pub(crate) options: Option<GeneratorOptions>,
    /// Secrets only.
    #[serde(default, rename = "type")]
    pub(crate) secret_type: String,
}

/// `generatorOptions`, or an entry's `options`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct GeneratorOptions {
    #[serde(default)]
    pub(crate) labels: StringMap,
    #[serde(default)]
    pub(crate) annotations: StringMap,
    #[serde(default)]
    pub(crate) disable_name_suffix_hash: Option<bool>,
    #[serde(default)]
    pub(crate) immutable: Option<bool>,
}

fn scalar_string<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(match v {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

/// Drops `key: null` entries so that an empty field reads as absent, as in Go.
fn drop_nulls(value: &mut Value) {
    if let Value::Object(map) = value {
        map.retain(|_, v| !v.is_null());
    }
}

impl Kustomization {
    /// Parses a kustomization file's text.
    pub(crate) fn parse(file: &Path, text: &str) -> Result<Self> {
        let docs = driftless_core::yaml::from_str_multi(text).map_err(|source| Error::Yaml {
            path: file.to_path_buf(),
            source: Box::new(source),
        })?;
        let mut value = match docs.len() {
            0 => {
                return Err(Error::InvalidKustomization {
                    file: file.to_path_buf(),
                    message: "kustomization file is empty".into(),
                });
            }
            1 => docs.into_iter().next().unwrap_or_default(),
            _ => {
                return Err(Error::InvalidKustomization {
                    file: file.to_path_buf(),
                    message: "a kustomization file holds exactly one YAML document".into(),
                });
            }
        };
        drop_nulls(&mut value);
        // Field names in any letter case, unknown fields refused: Kustomize's strict
        // `encoding/json` read.
        let mut k: Kustomization = super::fold::from_value(value, super::fold::Mode::Strict)
            .map_err(|e| Error::InvalidKustomization {
                file: file.to_path_buf(),
                message: e.to_string(),
            })?;
        // Legacy fields, as Kustomize folds them in.
        let bases = std::mem::take(&mut k.bases);
        k.resources.extend(bases);
        for tag in std::mem::take(&mut k.image_tags) {
            if !k.images.iter().any(|i| i.name == tag.name) {
                k.images.push(tag);
            }
        }
        if let Some(kind) = &k.kind
            && kind != "Kustomization"
            && kind != "Component"
        {
            return Err(Error::InvalidKustomization {
                file: file.to_path_buf(),
                message: format!("kind {kind:?}: expected Kustomization or Component"),
            });
        }
        Ok(k)
    }

    pub(crate) fn is_component(&self) -> bool {
        self.kind.as_deref() == Some("Component")
    }
}
