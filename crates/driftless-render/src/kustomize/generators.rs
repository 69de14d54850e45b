//! `configMapGenerator` and `secretGenerator`, the way generated objects combine with
//! those of bases (`behavior`), and Kustomize's name hash suffix.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::error::{Error, Result};
use super::kustomization::{GeneratorArgs, GeneratorOptions};
use super::origin;
use super::resource::{Behavior, ResMap, Resource, id_key};
use super::resources::Loader;

/// Which generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GenKind {
    ConfigMap,
    Secret,
}

impl GenKind {
    /// The built-in generator's kind, as origin annotations name it.
    pub(crate) fn generator(self) -> &'static str {
        match self {
            Self::ConfigMap => "ConfigMapGenerator",
            Self::Secret => "SecretGenerator",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::ConfigMap => "ConfigMap",
            Self::Secret => "Secret",
        }
    }
}

/// Global options merged into an entry's own: the entry's labels and annotations win,
/// either one can disable the hash or make the object immutable.
fn merge_options(
    local: Option<&GeneratorOptions>,
    global: Option<&GeneratorOptions>,
) -> GeneratorOptions {
    let mut merged = local.cloned().unwrap_or_default();
    if let Some(global) = global {
        for (k, v) in &global.labels {
            merged.labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, v) in &global.annotations {
            merged
                .annotations
                .entry(k.clone())
                .or_insert_with(|| v.clone());
        }
        if global.disable_name_suffix_hash == Some(true) {
            merged.disable_name_suffix_hash = Some(true);
        }
        if global.immutable == Some(true) {
            merged.immutable = Some(true);
        }
    }
    merged
}

/// Makes the object one generator entry describes.
pub(crate) fn generate(
    loader: &Loader,
    kfile: &Path,
    kdir: &Path,
    kind: GenKind,
    args: &GeneratorArgs,
    global: Option<&GeneratorOptions>,
) -> Result<Resource> {
    if args.name.is_empty() {
        return Err(Error::at(
            kfile,
            format!("a {} generator entry must have a name", kind.name()),
        ));
    }
    let options = merge_options(args.options.as_ref(), global);
    let pairs = load_pairs(loader, kfile, kdir, kind, args)?;

    let mut metadata = Map::new();
    metadata.insert("name".into(), Value::String(args.name.clone()));
    if !args.namespace.is_empty() {
        metadata.insert("namespace".into(), Value::String(args.namespace.clone()));
    }
    if !options.labels.is_empty() {
        metadata.insert("labels".into(), string_map(&options.labels));
    }
    if !options.annotations.is_empty() {
        metadata.insert("annotations".into(), string_map(&options.annotations));
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), json!("v1"));
    obj.insert("kind".into(), json!(kind.name()));
    obj.insert("metadata".into(), Value::Object(metadata));
    let mut data = Map::new();
    let mut binary = Map::new();
    for (key, bytes) in pairs {
        match kind {
            GenKind::Secret => {
                data.insert(key, Value::String(wrapped_base64(&bytes)));
            }
            GenKind::ConfigMap => match String::from_utf8(bytes) {
                Ok(text) => {
                    data.insert(key, Value::String(text));
                }
                Err(e) => {
                    binary.insert(key, Value::String(wrapped_base64(e.as_bytes())));
                }
            },
        }
    }
    // Kustomize writes a Secret's `data` even when empty, a ConfigMap's only if not.
    if !data.is_empty() || kind == GenKind::Secret {
        obj.insert("data".into(), Value::Object(data));
    }
    if !binary.is_empty() {
        obj.insert("binaryData".into(), Value::Object(binary));
    }
    if kind == GenKind::Secret {
        let t = if args.secret_type.is_empty() {
            "Opaque"
        } else {
            &args.secret_type
        };
        obj.insert("type".into(), Value::String(t.to_owned()));
    }
    if options.immutable == Some(true) {
        obj.insert("immutable".into(), Value::Bool(true));
    }
    let mut res = Resource::new(Value::Object(obj));
    res.needs_hash = options.disable_name_suffix_hash != Some(true);
    // Kustomize takes any other spelling for unspecified, which creates.
    res.behavior = match args.behavior.as_str() {
        "merge" => Behavior::Merge,
        "replace" => Behavior::Replace,
        _ => Behavior::Create,
    };
    Ok(res)
}

/// Base64 as Kustomize writes Secret data and ConfigMap binaryData: lines of 70 characters, each ended by a
/// newline once the text is that long.
fn wrapped_base64(bytes: &[u8]) -> String {
    const LINE: usize = 70;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    if encoded.len() < LINE {
        return encoded;
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / LINE + 1);
    let mut rest = encoded.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(LINE));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out
}

fn string_map(map: &indexmap::IndexMap<String, String>) -> Value {
    Value::Object(
        map.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// The key/value pairs of an entry, sorted by key: env files, then literals, then
/// files, as Kustomize reads them; a repeated key is an error.
fn load_pairs(
    loader: &Loader,
    kfile: &Path,
    kdir: &Path,
    kind: GenKind,
    args: &GeneratorArgs,
) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut envs = args.envs.clone();
    if !args.env.is_empty() {
        envs.push(args.env.clone());
    }
    for env in &envs {
        let (path, bytes) = loader.read_file(kfile, kdir, env)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::at(&path, "env file is not valid UTF-8".to_owned()))?;
        for (n, line) in text.lines().enumerate() {
            let line = if n == 0 {
                line.trim_start_matches('\u{feff}')
            } else {
                line
            };
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // Kustomize takes a line without `=` from its own environment; a renderer
            // must not copy the agent's environment (its secrets) into objects.
            let Some((key, value)) = line.split_once('=') else {
                return Err(Error::at(
                    &path,
                    format!(
                        "line {}: {line:?} has no `=`: taking a value from the environment is not supported; write KEY=value",
                        n + 1
                    ),
                ));
            };
            let (key, value) = (key.to_owned(), value.to_owned());
            if !is_env_var_name(&key) {
                return Err(Error::at(
                    &path,
                    format!("line {}: {key:?} is not a valid key name", n + 1),
                ));
            }
            pairs.push((key, value.into_bytes()));
        }
    }
    for literal in &args.literals {
        let Some((key, value)) = literal.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(Error::at(
                kfile,
                format!("invalid literal source {literal:?}, expected key=value"),
            ));
        };
        pairs.push((key.to_owned(), remove_quotes(value).as_bytes().to_vec()));
    }
    for source in &args.files {
        let (key, rel) = match source.split_once('=') {
            Some((k, p)) if !k.is_empty() && !p.is_empty() => (Some(k.to_owned()), p),
            Some(_) => {
                return Err(Error::at(
                    kfile,
                    format!("invalid file source {source:?}, expected key=path or path"),
                ));
            }
            None => (None, source.as_str()),
        };
        let (path, bytes) = loader.read_file(kfile, kdir, rel)?;
        let key = key.unwrap_or_else(|| {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        pairs.push((key, bytes));
    }
    let mut map = BTreeMap::new();
    for (key, value) in pairs {
        if !is_config_map_key(&key) {
            return Err(Error::at(
                kfile,
                format!(
                    "{} {:?}: invalid key {key:?}: keys consist of alphanumerics, '-', '_' or '.'",
                    kind.name(),
                    args.name
                ),
            ));
        }
        if map.insert(key.clone(), value).is_some() {
            return Err(Error::at(
                kfile,
                format!(
                    "{} {:?} illegally repeats the key `{key}`",
                    kind.name().to_lowercase(),
                    args.name
                ),
            ));
        }
    }
    Ok(map)
}

fn remove_quotes(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b[b.len() - 1] && (b[0] == b'"' || b[0] == b'\'') {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

fn is_env_var_name(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

fn is_config_map_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// Adds generated objects to `map`: new ones are appended; `merge` and `replace`
/// combine with the object of the same id from a base.
pub(crate) fn absorb(kfile: &Path, map: &mut ResMap, generated: Vec<Resource>) -> Result<()> {
    let mut index = map.any_id_index();
    for mut res in generated {
        let id = res.cur_id();
        let matches = index.get(&id_key(&id)).cloned().unwrap_or_default();
        match matches.as_slice() {
            [] => match res.behavior {
                Behavior::Create => {
                    let pos = map.resources.len();
                    index.entry(id_key(&id)).or_default().push(pos);
                    map.resources.push(res);
                }
                Behavior::Merge | Behavior::Replace => {
                    return Err(Error::at(
                        kfile,
                        format!("{id} does not exist; cannot merge or replace"),
                    ));
                }
            },
            [pos] => {
                let old = &map.resources[*pos];
                match res.behavior {
                    Behavior::Create => {
                        return Err(Error::at(
                            kfile,
                            format!("{id} already exists; behavior must be merge or replace"),
                        ));
                    }
                    Behavior::Merge => {
                        // The merged object keeps the origin of the one it merges into.
                        let kept = origin::get(old);
                        copy_metadata(&mut res, old);
                        if let Some(kept) = kept {
                            origin::set(&mut res, &kept);
                        }
                        for field in ["data", "binaryData"] {
                            let mut merged = old
                                .value
                                .get(field)
                                .and_then(Value::as_object)
                                .cloned()
                                .unwrap_or_default();
                            if let Some(new) = res.value.get(field).and_then(Value::as_object) {
                                for (k, v) in new {
                                    merged.insert(k.clone(), v.clone());
                                }
                            }
                            merged.sort_keys();
                            if !merged.is_empty() {
                                res.value[field] = Value::Object(merged);
                            }
                        }
                    }
                    Behavior::Replace => copy_metadata(&mut res, old),
                }
                map.resources[*pos] = res;
            }
            _ => {
                return Err(Error::at(
                    kfile,
                    format!("found multiple objects that could accept merge of {id}"),
                ));
            }
        }
    }
    Ok(())
}

/// What a merged or replacing object keeps of the one it replaces: its labels and
/// annotations (overridden by the new ones), its name, namespace and history.
fn copy_metadata(res: &mut Resource, old: &Resource) {
    let mut labels = old.labels();
    labels.extend(res.labels());
    let mut annotations = old.annotations();
    annotations.extend(res.annotations());
    res.set_meta_map("labels", labels);
    res.set_meta_map("annotations", annotations);
    res.set_name(old.name());
    res.set_namespace(old.namespace());
    res.prev_ids.clone_from(&old.prev_ids);
    res.prefixes.clone_from(&old.prefixes);
    res.suffixes.clone_from(&old.suffixes);
    res.needs_hash = res.needs_hash && old.needs_hash;
    res.behavior = old.behavior;
}

/// Appends Kustomize's content hash to the names of generated objects that want one.
pub(crate) fn add_hash_suffixes(map: &mut ResMap) {
    for res in &mut map.resources {
        if res.needs_hash {
            let hash = content_hash(&res.value);
            res.store_previous_id();
            let name = format!("{}-{hash}", res.name());
            res.set_name(&name);
        }
    }
}

/// Kustomize's hash of a ConfigMap or Secret: SHA-256 of a JSON document holding only
/// the kind, an (always empty) name and the data (and type for Secrets), first ten
/// hex digits with some letters swapped so the result cannot look like a number.
pub(crate) fn content_hash(obj: &Value) -> String {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let field = |path: &[&str]| -> Value {
        match path.iter().try_fold(obj, |v, k| v.get(k)) {
            None | Some(Value::Null) => Value::String(String::new()),
            Some(v) => v.clone(),
        }
    };
    let mut doc = BTreeMap::new();
    doc.insert("kind", Value::String(kind.to_owned()));
    // Kustomize looks the name up with `metadata/name` as one field name, which never
    // exists: the name always hashes as an empty string.
    doc.insert("name", Value::String(String::new()));
    doc.insert("data", field(&["data"]));
    match kind {
        "Secret" => {
            doc.insert("type", field(&["type"]));
            if let Some(v @ Value::Object(_)) = obj.get("stringData") {
                doc.insert("stringData", v.clone());
            }
        }
        _ => {
            if let Some(v @ Value::Object(_)) = obj.get("binaryData") {
                doc.insert("binaryData", v.clone());
            }
        }
    }
    let mut encoded = String::new();
    encoded.push('{');
    for (i, (k, v)) in doc.iter().enumerate() {
        if i > 0 {
            encoded.push(',');
        }
        go_json_string(&mut encoded, k);
        encoded.push(':');
        go_json(&mut encoded, v);
    }
    encoded.push('}');
    let digest = Sha256::digest(encoded.as_bytes());
    let hex = hex_lower(&digest);
    hex.chars()
        .take(10)
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            other => other,
        })
        .collect()
}

fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// JSON the way Go's `encoding/json` writes it: object keys sorted, `<`, `>`, `&`,
/// U+2028 and U+2029 escaped.
fn go_json(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_string(out, k);
                out.push(':');
                go_json(out, &map[k.as_str()]);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json(out, item);
            }
            out.push(']');
        }
        Value::String(s) => go_json_string(out, s),
        other => out.push_str(&other.to_string()),
    }
}

fn go_json_string(out: &mut String, s: &str) {
    use std::fmt::Write as _;
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_of_an_empty_config_map_matches_kustomize() {
        // `kubectl kustomize` names an empty generated ConfigMap `empty-6ct58987ht`.
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "empty"}});
        assert_eq!(content_hash(&obj), "6ct58987ht");
    }

    #[test]
    fn go_json_escapes_html() {
        let mut s = String::new();
        go_json_string(&mut s, "<a&b>");
        assert_eq!(s, "\"\\u003ca\\u0026b\\u003e\"");
    }
}
