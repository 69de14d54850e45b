//! Loading files and resources: the load restrictor, remote references refused,
//! YAML streams turned into resources.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use driftless_core::file::read_capped;
use driftless_core::yaml::{self, LoadOptions, Schema};
use serde_json::Value;

use super::error::{Error, Result};
use super::resource::Resource;
use crate::Decoder;

/// Reads files for a build, never outside the snapshot, and by default (as Kustomize)
/// never a file outside the directory of the kustomization that names it.
#[derive(Debug)]
pub(crate) struct Loader {
    /// The snapshot root, canonical.
    pub(crate) root: PathBuf,
    /// Whether files may come from anywhere inside the snapshot (Kustomize's
    /// `--load-restrictor LoadRestrictionsNone`).
    pub(crate) unrestricted: bool,
    /// Turns what a file holds into what is parsed.
    pub(crate) decoder: Option<Arc<dyn Decoder>>,
    /// The largest file read, in bytes.
    pub(crate) max_file_bytes: u64,
}

/// Whether a reference names something remote (a git repository or a URL).
pub(crate) fn is_remote(reference: &str) -> bool {
    let r = reference.trim();
    r.contains("://")
        || r.starts_with("git@")
        || r.starts_with("github.com/")
        || r.starts_with("gitlab.com/")
        || r.starts_with("bitbucket.org/")
        || r.contains("?ref=")
        || r.contains(".git//")
        || Path::new(r)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("git"))
}

impl Loader {
    /// Resolves `rel` against `dir` to an existing canonical path inside the snapshot.
    pub(crate) fn resolve(&self, kfile: &Path, dir: &Path, rel: &str) -> Result<PathBuf> {
        let joined = dir.join(rel);
        let canonical = match joined.canonicalize() {
            Ok(path) => path,
            // Only what does not exist locally is taken for a remote reference.
            Err(_) if is_remote(rel) => {
                return Err(Error::RemoteRefused {
                    file: kfile.to_path_buf(),
                    url: rel.to_owned(),
                });
            }
            Err(_) => {
                return Err(Error::NotFound {
                    file: kfile.to_path_buf(),
                    path: joined,
                });
            }
        };
        if !canonical.starts_with(&self.root) {
            return Err(Error::OutsideRoot {
                file: kfile.to_path_buf(),
                path: joined,
                root: self.root.clone(),
            });
        }
        Ok(canonical)
    }

    /// Resolves a file named by the kustomization in `dir` and checks the load
    /// restrictor.
    pub(crate) fn resolve_file(&self, kfile: &Path, dir: &Path, rel: &str) -> Result<PathBuf> {
        let path = self.resolve(kfile, dir, rel)?;
        if !self.unrestricted && !path.starts_with(dir) {
            return Err(Error::OutsideRoot {
                file: kfile.to_path_buf(),
                path: dir.join(rel),
                root: dir.to_path_buf(),
            });
        }
        Ok(path)
    }

    /// Reads a file named by the kustomization in `dir`, decoded.
    pub(crate) fn read_file(
        &self,
        kfile: &Path,
        dir: &Path,
        rel: &str,
    ) -> Result<(PathBuf, Vec<u8>)> {
        let path = self.resolve_file(kfile, dir, rel)?;
        if path.is_dir() {
            return Err(Error::at(
                kfile,
                format!("{} is a directory, expected a file", path.display()),
            ));
        }
        let bytes = read_capped(&path, self.max_file_bytes).map_err(|source| Error::File {
            path: path.clone(),
            source,
        })?;
        let bytes = match &self.decoder {
            Some(decoder) => decoder
                .decode(&path, bytes)
                .map_err(|source| Error::Decode {
                    path: path.clone(),
                    source,
                })?,
            None => bytes,
        };
        Ok((path, bytes))
    }

    /// Reads a text file.
    pub(crate) fn read_text(
        &self,
        kfile: &Path,
        dir: &Path,
        rel: &str,
    ) -> Result<(PathBuf, String)> {
        let (path, bytes) = self.read_file(kfile, dir, rel)?;
        let text = String::from_utf8(bytes).map_err(|e| Error::Read {
            path: path.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        Ok((path, text))
    }
}

/// Parses a YAML stream into documents, as `sigs.k8s.io/yaml` reads it: how Kustomize
/// reads its own inputs (transformer configurations, replacement files, JSON 6902
/// patches).
pub(crate) fn parse_docs(path: &Path, text: &str) -> Result<Vec<Value>> {
    parse_with(path, text, Schema::Kubernetes)
}

/// Parses a YAML stream of objects as Kustomize reads resources, plugin configurations
/// and `patchesStrategicMerge` entries (kyaml: `yes` and `on` are strings, timestamps become RFC
/// 3339 strings, keys must be strings).
pub(crate) fn parse_objects(path: &Path, text: &str) -> Result<Vec<Value>> {
    parse_with(path, text, Schema::Kustomize)
}

/// Parses a `patches` entry as Kustomize reads a strategic merge patch: as
/// [`parse_objects`], but a null annotation stays null (it deletes the annotation).
/// `patchesStrategicMerge` entries are read as resources instead.
pub(crate) fn parse_patches(path: &Path, text: &str) -> Result<Vec<Value>> {
    parse_with(path, text, Schema::KustomizePatch)
}

fn parse_with(path: &Path, text: &str, schema: Schema) -> Result<Vec<Value>> {
    let options = LoadOptions::default().schema(schema);
    match yaml::from_str_documents(text, &options) {
        Ok(docs) => Ok(docs.into_iter().map(|d| d.value).collect()),
        Err(source) => Err(Error::Yaml {
            path: path.to_path_buf(),
            source: Box::new(source),
        }),
    }
}

/// Reads a resource file into resources: `List` kinds are expanded, every object must
/// have apiVersion, kind and a name. Each resource knows which of its values were
/// written as nothing (`key:`), for strategic merge patches.
pub(crate) fn parse_resources(path: &Path, text: &str) -> Result<Vec<Resource>> {
    let options = LoadOptions::default().schema(Schema::Kustomize);
    let docs = yaml::from_str_documents(text, &options).map_err(|source| Error::Yaml {
        path: path.to_path_buf(),
        source: Box::new(source),
    })?;
    let mut out = Vec::with_capacity(docs.len());
    for doc in docs {
        let (value, empty_values) = (doc.value, doc.empty_values);
        let is_list = value
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.ends_with("List"))
            && value.get("items").is_some_and(Value::is_array);
        if is_list {
            // Kustomize expands a `List` as YAML (the loader kept its annotations as
            // written) but any other `...List` through JSON, so annotations that are
            // numbers or booleans become their JSON text.
            let through_json = value.get("kind").and_then(Value::as_str) != Some("List");
            if let Some(Value::Array(items)) = value.get("items") {
                for (index, item) in items.iter().enumerate() {
                    let mut item = item.clone();
                    if through_json {
                        annotations_to_text(&mut item);
                    }
                    let prefix = format!("/items/{index}/");
                    let mut resource = check_object(path, item)?;
                    resource.empty_values = empty_values
                        .iter()
                        .filter_map(|p| p.strip_prefix(&prefix))
                        .map(|p| format!("/{p}"))
                        .collect();
                    out.push(resource);
                }
            }
        } else {
            let mut resource = check_object(path, value)?;
            resource.empty_values = empty_values;
            out.push(resource);
        }
    }
    Ok(out)
}

/// Writes an object's number and boolean annotations as their JSON text.
fn annotations_to_text(item: &mut Value) {
    let Some(Value::Object(annotations)) = item.pointer_mut("/metadata/annotations") else {
        return;
    };
    for value in annotations.values_mut() {
        if matches!(value, Value::Number(_) | Value::Bool(_)) {
            *value = Value::String(value.to_string());
        }
    }
}

fn check_object(path: &Path, value: Value) -> Result<Resource> {
    let object = driftless_core::Object::new(value).map_err(|source| Error::InvalidObject {
        file: path.to_path_buf(),
        source: Box::new(source),
    })?;
    Ok(Resource::new(object.into_value()))
}
