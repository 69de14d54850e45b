//! [`PlainRenderer`]: every YAML and JSON file below a directory.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use driftless_core::file::read_capped;
use driftless_core::yaml::{self, LoadOptions, Schema, YamlError, YamlErrorKind};
use driftless_core::{Object, ObjectId, ObjectSet, RenderError, Renderer, Snapshot};
use serde_json::{Number, Value};
use walkdir::WalkDir;

use crate::root::Rooted;
use crate::{Decoder, Error, Place};

/// Limits of the plain renderer; they keep a hostile repository from using unbounded
/// memory or time.
///
/// ```
/// use driftless_render::PlainOptions;
///
/// let options = PlainOptions::default().max_document_bytes(1 << 20).max_alias_nodes(10_000);
/// assert_eq!(options.max_document_bytes, 1 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlainOptions {
    /// The largest document, in bytes. Default: 8 MiB.
    pub max_document_bytes: usize,
    /// The largest file, in bytes. Default: 64 MiB.
    pub max_file_bytes: u64,
    /// How many nodes YAML aliases may expand to in one file. Default: 1,000,000.
    pub max_alias_nodes: usize,
}

impl Default for PlainOptions {
    fn default() -> Self {
        let yaml = LoadOptions::default();
        Self {
            max_document_bytes: yaml.max_document_bytes,
            max_file_bytes: crate::DEFAULT_MAX_FILE_BYTES,
            max_alias_nodes: yaml.max_alias_nodes,
        }
    }
}

impl PlainOptions {
    /// Sets [`max_document_bytes`](Self::max_document_bytes).
    #[must_use]
    pub fn max_document_bytes(mut self, bytes: usize) -> Self {
        self.max_document_bytes = bytes;
        self
    }

    /// Sets [`max_file_bytes`](Self::max_file_bytes).
    #[must_use]
    pub fn max_file_bytes(mut self, bytes: u64) -> Self {
        self.max_file_bytes = bytes;
        self
    }

    /// Sets [`max_alias_nodes`](Self::max_alias_nodes).
    #[must_use]
    pub fn max_alias_nodes(mut self, nodes: usize) -> Self {
        self.max_alias_nodes = nodes;
        self
    }

    /// Reads YAML as the Kustomize renderer reads resources, so one file renders the
    /// same objects in both modes.
    fn load_options(&self) -> LoadOptions {
        LoadOptions::default()
            .schema(Schema::Kustomize)
            .max_document_bytes(self.max_document_bytes)
            .max_alias_nodes(self.max_alias_nodes)
    }
}

/// Renders a directory of plain manifests, like `kubectl apply -R -f DIR` reads it.
///
/// - Every `.yaml`, `.yml` and `.json` file below the directory, in byte order of the
///   path relative to the snapshot root; hidden files and directories (`.name`) are
///   skipped. A path naming a single file renders that file.
/// - Files hold any number of documents; empty and comment-only documents are skipped.
/// - `List` documents (`v1 List`, and any kind ending in `List` that has `items`) are
///   flattened into their items.
/// - Keys and scalars are read as Kustomize reads resources ([`Schema::Kustomize`]:
///   `yes`, `on`, `n` are strings, timestamps RFC 3339 strings), so a file renders the
///   same objects here as listed in a kustomization.
/// - Symlinks may point anywhere inside the snapshot root, never outside it.
///
/// Errors name the file (relative to the snapshot root), the line and column of a YAML
/// error, the document of an invalid object, and both places of a duplicate object.
#[derive(Debug, Clone, Default)]
pub struct PlainRenderer {
    options: PlainOptions,
    decoder: Option<Arc<dyn Decoder>>,
}

impl PlainRenderer {
    /// A renderer with these limits.
    pub fn new(options: PlainOptions) -> Self {
        Self {
            options,
            decoder: None,
        }
    }

    /// Decodes every file with `decoder` before parsing it.
    #[must_use]
    pub fn with_decoder(mut self, decoder: Arc<dyn Decoder>) -> Self {
        self.decoder = Some(decoder);
        self
    }

    /// The decoder, if one is set.
    pub(crate) fn decoder(&self) -> Option<&Arc<dyn Decoder>> {
        self.decoder.as_ref()
    }

    /// The limits.
    pub fn options(&self) -> &PlainOptions {
        &self.options
    }

    /// Renders `path` (relative to `root`) into objects, with this crate's [`Error`].
    pub fn render_path(&self, root: &Path, path: &Path) -> Result<ObjectSet, Error> {
        self.render_rooted(&Rooted::new(root, path)?)
    }

    pub(crate) fn render_rooted(&self, rooted: &Rooted) -> Result<ObjectSet, Error> {
        let files = manifest_files(rooted)?;
        let mut set = ObjectSet::new();
        let mut places: HashMap<ObjectId, Place> = HashMap::new();
        for (rel, abs) in &files {
            let objects = self.read_file(rel, abs)?;
            tracing::debug!(file = %rel.display(), objects = objects.len(), "read manifest file");
            for (object, place) in objects {
                match places.entry(object.id()) {
                    Entry::Occupied(first) => {
                        return Err(Error::DuplicateObject {
                            id: first.key().clone(),
                            first: Box::new(first.get().clone()),
                            second: Box::new(place),
                        });
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(place);
                    }
                }
                set.insert(object)
                    .expect("ids are unique: every id was checked against `places` first");
            }
        }
        tracing::debug!(path = %rooted.rel.display(), files = files.len(), objects = set.len(), "rendered plain manifests");
        Ok(set)
    }

    /// Reads one file into objects, with where each came from.
    fn read_file(&self, rel: &Path, abs: &Path) -> Result<Vec<(Object, Place)>, Error> {
        let bytes =
            read_capped(abs, self.options.max_file_bytes).map_err(|e| Error::from_read(rel, e))?;
        let bytes = match &self.decoder {
            Some(decoder) => decoder.decode(abs, bytes).map_err(|source| Error::Decode {
                path: rel.to_path_buf(),
                source,
            })?,
            None => bytes,
        };
        let text = String::from_utf8(bytes).map_err(|_| Error::NotUtf8 {
            path: rel.to_path_buf(),
        })?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let documents = if rel.extension() == Some(OsStr::new("json")) {
            self.json_documents(rel, text)?
        } else {
            self.yaml_documents(rel, text)?
        };
        let mut objects = Vec::new();
        for (index, line, value) in documents {
            let place = Place {
                path: rel.to_path_buf(),
                document: index,
                line,
                item: None,
            };
            collect_objects(value, place, &mut objects)?;
        }
        Ok(objects)
    }

    fn yaml_documents(
        &self,
        rel: &Path,
        text: &str,
    ) -> Result<Vec<(usize, Option<usize>, Value)>, Error> {
        let documents = yaml::from_str_documents(text, &self.options.load_options())
            .map_err(|e| yaml_error(rel, e))?;
        Ok(documents
            .into_iter()
            .map(|d| (d.index, Some(d.line), d.value))
            .collect())
    }

    fn json_documents(
        &self,
        rel: &Path,
        text: &str,
    ) -> Result<Vec<(usize, Option<usize>, Value)>, Error> {
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
        let mut documents = Vec::new();
        let mut start = 0;
        while let Some(next) = stream.next() {
            let mut value = next.map_err(|source| Error::Json {
                path: rel.to_path_buf(),
                line: source.line(),
                column: source.column(),
                source,
            })?;
            let index = documents.len() + 1;
            let end = stream.byte_offset();
            if end - start > self.options.max_document_bytes {
                return Err(Error::DocumentTooLarge {
                    path: rel.to_path_buf(),
                    document: index,
                    limit: self.options.max_document_bytes,
                });
            }
            start = end;
            normalize_numbers(&mut value);
            if !value.is_null() {
                documents.push((index, None, value));
            }
        }
        Ok(documents)
    }
}

impl Renderer for PlainRenderer {
    fn render(&self, snapshot: &Snapshot, path: &Path) -> Result<ObjectSet, RenderError> {
        Ok(self.render_path(snapshot.root(), path)?)
    }
}

fn yaml_error(rel: &Path, error: YamlError) -> Error {
    let path = rel.to_path_buf();
    match error.kind() {
        YamlErrorKind::DocumentTooLarge { limit } => Error::DocumentTooLarge {
            path,
            document: error.document().unwrap_or(1),
            limit,
        },
        YamlErrorKind::AliasBudget { limit } => Error::AliasBudget {
            path,
            document: error.document(),
            limit,
            source: Box::new(error),
        },
        _ => Error::Syntax {
            path,
            line: error.location.map(|(line, _)| line),
            column: error.location.map(|(_, column)| column),
            document: error.document(),
            source: Box::new(error),
        },
    }
}

/// Whether a file name is a manifest: `.yaml`, `.yml` or `.json` (case matters, as
/// for kubectl).
fn is_manifest(name: &OsStr) -> bool {
    let name = name.as_encoded_bytes();
    [b".yaml".as_slice(), b".yml", b".json"]
        .iter()
        .any(|ext| name.len() > ext.len() && name.ends_with(ext))
}

fn is_hidden(name: &OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

/// The manifest files to read, as (path relative to the root, path to open), in byte
/// order of the relative path.
fn manifest_files(rooted: &Rooted) -> Result<Vec<(PathBuf, PathBuf)>, Error> {
    let io = |path: &Path, source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let metadata = std::fs::metadata(&rooted.abs).map_err(|e| io(&rooted.rel, e))?;
    if metadata.is_file() {
        return Ok(vec![(rooted.rel.clone(), rooted.abs.clone())]);
    }
    let mut files = Vec::new();
    let mut walk = WalkDir::new(&rooted.abs).follow_links(true).into_iter();
    while let Some(entry) = walk.next() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                // A dangling symlink we would not read anyway is no reason to fail.
                let ignorable = error.loop_ancestor().is_none()
                    && error
                        .path()
                        .and_then(Path::file_name)
                        .is_some_and(|name| is_hidden(name) || !is_manifest(name))
                    && error.path().is_some_and(Path::is_symlink);
                if ignorable {
                    continue;
                }
                let rel = error
                    .path()
                    .map_or_else(|| rooted.rel.clone(), |p| relative(rooted, p));
                return Err(io(&rel, std::io::Error::other(error)));
            }
        };
        if entry.depth() == 0 {
            continue;
        }
        let is_dir = entry.file_type().is_dir();
        if is_hidden(entry.file_name()) {
            if is_dir {
                walk.skip_current_dir();
            }
            continue;
        }
        if !is_dir && !is_manifest(entry.file_name()) {
            continue;
        }
        let rel = relative(rooted, entry.path());
        if entry.path_is_symlink() {
            rooted.check_link(entry.path(), &rel)?;
        }
        if !is_dir && entry.file_name() == "Chart.yaml" {
            return Err(Error::HelmChartUnsupported { path: rel });
        }
        // Special files (FIFOs, sockets, devices) are kept, to be refused when read.
        if !is_dir {
            files.push((rel, entry.into_path()));
        }
    }
    files.sort_by(|a, b| {
        a.0.as_os_str()
            .as_encoded_bytes()
            .cmp(b.0.as_os_str().as_encoded_bytes())
    });
    Ok(files)
}

fn relative(rooted: &Rooted, path: &Path) -> PathBuf {
    path.strip_prefix(&rooted.abs)
        .map_or_else(|_| path.to_path_buf(), |below| rooted.rel.join(below))
}

/// Whether a document is a list to flatten: `kind: List`, or a kind ending in `List`
/// with an `items` array.
fn is_list(value: &Value) -> bool {
    match value.get("kind").and_then(Value::as_str) {
        Some("List") => true,
        Some(kind) => kind.ends_with("List") && value.get("items").is_some_and(Value::is_array),
        None => false,
    }
}

/// Turns a document into objects, flattening lists.
fn collect_objects(
    value: Value,
    place: Place,
    out: &mut Vec<(Object, Place)>,
) -> Result<(), Error> {
    if is_list(&value) {
        let items = match value {
            Value::Object(mut map) => map.remove("items").unwrap_or(Value::Null),
            _ => Value::Null,
        };
        let items = match items {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            _ => {
                return Err(Error::InvalidObject {
                    place: Box::new(place),
                    source: Box::new(driftless_core::Error::InvalidObject {
                        field: "items".into(),
                        reason: "must be a list".into(),
                    }),
                });
            }
        };
        for (index, item) in items.into_iter().enumerate() {
            let place = Place {
                item: Some(index),
                ..place.clone()
            };
            collect_objects(item, place, out)?;
        }
        return Ok(());
    }
    let found = match &value {
        Value::Object(_) => None,
        Value::Array(_) => Some("a sequence"),
        Value::String(_) => Some("a string"),
        Value::Number(_) => Some("a number"),
        Value::Bool(_) => Some("a boolean"),
        Value::Null => Some("null"),
    };
    if let Some(found) = found {
        return Err(Error::InvalidObject {
            place: Box::new(place),
            source: Box::new(driftless_core::Error::InvalidObject {
                field: "document".into(),
                reason: format!(
                    "must be a mapping with apiVersion, kind and metadata, not {found}"
                ),
            }),
        });
    }
    match Object::new(value) {
        Ok(object) => {
            out.push((object, place));
            Ok(())
        }
        Err(source) => Err(Error::InvalidObject {
            place: Box::new(place),
            source: Box::new(source),
        }),
    }
}

/// JSON numbers as Kubernetes ends up with them: a float with an integral value that
/// fits `i64` is an integer (the YAML reader does the same).
fn normalize_numbers(value: &mut Value) {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && (-TWO_POW_63..TWO_POW_63).contains(&f)
            {
                #[allow(clippy::cast_possible_truncation)] // integral and in range
                let i = f as i64;
                *n = Number::from(i);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize_numbers),
        Value::Object(map) => map.values_mut().for_each(normalize_numbers),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn manifest_names() {
        for yes in ["a.yaml", "a.yml", "a.json", "b.c.yaml"] {
            assert!(is_manifest(OsStr::new(yes)), "{yes}");
        }
        for no in ["a.YAML", "yaml", ".yaml", "a.yaml~", "a.txt", "a.yamll"] {
            assert!(!is_manifest(OsStr::new(no)), "{no}");
        }
    }

    #[test]
    fn lists() {
        assert!(is_list(&json!({"kind": "List"})));
        assert!(is_list(&json!({"kind": "ConfigMapList", "items": []})));
        assert!(!is_list(&json!({"kind": "AllowList", "spec": {}})));
        assert!(!is_list(&json!({"kind": "Listener", "items": []})));
    }

    #[test]
    fn numbers_like_kubernetes() {
        let mut v = json!({"a": [1.0, 1.5, -0.0, 1e19, 2], "b": 1e3});
        normalize_numbers(&mut v);
        assert_eq!(v, json!({"a": [1, 1.5, 0, 1e19, 2], "b": 1000}));
    }
}
