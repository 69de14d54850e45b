//! The file formats sops writes: how to find the metadata in each, and how to write
//! the decrypted tree back as `sops -d` does.

use std::fmt::Write as _;
use std::path::Path;

use driftless_core::yaml::{LoadOptions, Schema};
use serde_json::Value;

use crate::Error;
use crate::cipher::Scalar;
use crate::metadata::unflatten;
use crate::tree::{Item, Node};

/// A format of SOPS file, chosen by the file's extension as sops chooses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// `.yaml` and `.yml`.
    Yaml,
    /// `.json`.
    Json,
    /// `.env`: `KEY=value` lines.
    Dotenv,
    /// `.ini`.
    Ini,
    /// Any other name: sops' binary format, the whole file encrypted as the `data` key
    /// of a JSON document.
    Binary,
}

impl Format {
    /// The format of `path`, by its extension.
    pub fn from_path(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Self::Json,
            Some("env") => Self::Dotenv,
            Some("ini") => Self::Ini,
            Some("yaml" | "yml") => Self::Yaml,
            _ => Self::Binary,
        }
    }

    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Yaml => "YAML",
            Self::Json => "JSON",
            Self::Dotenv => "dotenv",
            Self::Ini => "INI",
            Self::Binary => "binary",
        }
    }
}

/// A file read into branches (YAML documents; one for the other formats) and its `sops`
/// metadata, if it has any.
pub(crate) struct Parsed {
    pub(crate) branches: Vec<Node>,
    pub(crate) metadata: Option<Value>,
}

pub(crate) fn parse(format: Format, file: &Path, text: &str) -> Result<Parsed, Error> {
    let error = |message: String| Error::Parse {
        path: file.to_owned(),
        format: format.name(),
        message,
    };
    match format {
        Format::Yaml => {
            // go-yaml v3, as sops reads YAML: YAML 1.2 booleans, string keys.
            let options = LoadOptions::default().schema(Schema::Kustomize);
            let documents = driftless_core::yaml::from_str_documents(text, &options)
                .map_err(|e| error(e.to_string()))?;
            Ok(split_metadata(documents.into_iter().map(|d| d.value)))
        }
        Format::Json | Format::Binary => {
            let value: Value = serde_json::from_str(text).map_err(|e| error(e.to_string()))?;
            Ok(split_metadata([value]))
        }
        Format::Dotenv => parse_dotenv(text).map_err(error),
        Format::Ini => parse_ini(text).map_err(error),
    }
}

/// Takes the `sops` key out of every document (sops writes it into each) and keeps the
/// first.
fn split_metadata(documents: impl IntoIterator<Item = Value>) -> Parsed {
    let mut metadata = None;
    let branches = documents
        .into_iter()
        .map(|mut document| {
            if let Value::Object(map) = &mut document
                && let Some(found) = map.shift_remove("sops")
            {
                metadata.get_or_insert(found);
            }
            Node::from_json(document)
        })
        .collect();
    Parsed { branches, metadata }
}

/// sops' dotenv store: `KEY=value` lines (`\n` escapes a newline), `#` comments, the
/// metadata flattened into `sops_…` keys.
fn parse_dotenv(text: &str) -> Result<Parsed, String> {
    let mut items = Vec::new();
    let mut flat = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            items.push(Item::Comment(comment.to_owned()));
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {} has no `=`", index + 1))?;
        match key.strip_prefix("sops_") {
            Some(meta) => flat.push((meta, value)),
            None => items.push(Item::Pair(
                key.to_owned(),
                Node::Scalar(Scalar::Str(value.replace("\\n", "\n"))),
            )),
        }
    }
    let metadata = (!flat.is_empty()).then(|| unflatten(flat));
    Ok(Parsed {
        branches: vec![Node::Map(items)],
        metadata,
    })
}

/// The INI subset sops round-trips (through go-ini): `[section]` headers, `key = value`
/// (or `key: value`), `;` and `#` comments; keys before any section belong to `DEFAULT`.
/// The metadata is the flattened `[sops]` section.
fn parse_ini(text: &str) -> Result<Parsed, String> {
    let mut sections: Vec<(String, Vec<(String, String)>)> =
        vec![("DEFAULT".to_owned(), Vec::new())];
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            let name = name
                .strip_suffix(']')
                .ok_or_else(|| format!("line {}: a section header must end with `]`", index + 1))?;
            sections.push((name.trim().to_owned(), Vec::new()));
            continue;
        }
        let at = line
            .find(['=', ':'])
            .ok_or_else(|| format!("line {} has no `=`", index + 1))?;
        let key = line[..at].trim().to_owned();
        let value = ini_value(line[at + 1..].trim());
        if let Some((_, keys)) = sections.last_mut() {
            keys.push((key, value));
        }
    }
    let mut metadata = None;
    let mut items = Vec::new();
    for (name, keys) in sections {
        if name == "sops" {
            metadata = Some(unflatten(
                keys.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            ));
            continue;
        }
        let pairs = keys
            .into_iter()
            .map(|(k, v)| Item::Pair(k, Node::Scalar(Scalar::Str(v))))
            .collect();
        items.push(Item::Pair(name, Node::Map(pairs)));
    }
    Ok(Parsed {
        branches: vec![Node::Map(items)],
        metadata,
    })
}

/// A value as go-ini reads it: quotes (`"`, `` ` ``, `"""`) removed, else an inline
/// `;`/`#` comment cut off.
fn ini_value(value: &str) -> String {
    for quote in ["\"\"\"", "`", "\""] {
        if value.len() >= 2 * quote.len()
            && let Some(inner) = value
                .strip_prefix(quote)
                .and_then(|v| v.strip_suffix(quote))
        {
            return inner.to_owned();
        }
    }
    match value.find([';', '#']) {
        Some(at) => value[..at].trim_end().to_owned(),
        None => value.to_owned(),
    }
}

/// Writes the decrypted branches as `sops -d` writes them (YAML and JSON: the same
/// values, in our own layout; dotenv and INI: byte for byte).
pub(crate) fn emit(format: Format, file: &Path, branches: Vec<Node>) -> Result<Vec<u8>, Error> {
    let error = |message: String| Error::Parse {
        path: file.to_owned(),
        format: format.name(),
        message,
    };
    match format {
        Format::Yaml => {
            let values: Vec<Value> = branches.into_iter().map(Node::into_json).collect();
            let text = match values.as_slice() {
                [one] => driftless_core::yaml::to_string(one),
                many => driftless_core::yaml::to_string_multi(many),
            }
            .map_err(|e| error(e.to_string()))?;
            Ok(text.into_bytes())
        }
        Format::Json => {
            let value = branches
                .into_iter()
                .next()
                .map_or(Value::Null, Node::into_json);
            let mut out = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
            let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
            serde::Serialize::serialize(&value, &mut serializer)
                .map_err(|e| error(e.to_string()))?;
            out.push(b'\n');
            Ok(out)
        }
        Format::Dotenv => Ok(emit_dotenv(branches).into_bytes()),
        Format::Binary => match branches.first().and_then(|b| b.get("data")) {
            Some(Node::Scalar(Scalar::Str(data))) => Ok(data.clone().into_bytes()),
            Some(Node::Scalar(Scalar::Bytes(data))) => Ok(data.clone()),
            _ => Err(error(
                "a binary SOPS file holds its content in a `data` string".to_owned(),
            )),
        },
        Format::Ini => Ok(emit_ini(branches).into_bytes()),
    }
}

fn scalar_text(node: &Node) -> String {
    match node {
        Node::Scalar(Scalar::Str(s)) => s.clone(),
        Node::Scalar(Scalar::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        Node::Scalar(scalar) => String::from_utf8_lossy(&scalar.mac_bytes()).into_owned(),
        Node::Null | Node::Map(_) | Node::List(_) => String::new(),
    }
}

fn emit_dotenv(branches: Vec<Node>) -> String {
    let mut out = String::new();
    for branch in branches {
        let Node::Map(items) = branch else { continue };
        for item in items {
            match item {
                Item::Comment(text) => {
                    out.push('#');
                    out.push_str(&text);
                }
                Item::Pair(key, value) => {
                    out.push_str(&key);
                    out.push('=');
                    out.push_str(&scalar_text(&value).replace('\n', "\\n"));
                }
            }
            out.push('\n');
        }
    }
    out
}

/// go-ini's pretty output: keys padded to the longest of their section, a blank line
/// between sections, an empty `DEFAULT` section left out.
fn emit_ini(branches: Vec<Node>) -> String {
    let mut sections = Vec::new();
    for branch in branches {
        let Node::Map(items) = branch else { continue };
        for item in items {
            let Item::Pair(name, Node::Map(keys)) = item else {
                continue;
            };
            let pairs: Vec<(String, String)> = keys
                .into_iter()
                .filter_map(|key| match key {
                    Item::Pair(k, v) => Some((k, ini_quote(&scalar_text(&v)))),
                    Item::Comment(_) => None,
                })
                .collect();
            if name == "DEFAULT" && pairs.is_empty() {
                continue;
            }
            let width = pairs
                .iter()
                .map(|(k, _)| k.chars().count())
                .max()
                .unwrap_or(0);
            let mut section = if name == "DEFAULT" {
                String::new()
            } else {
                format!("[{name}]\n")
            };
            for (key, value) in pairs {
                let _ = writeln!(section, "{key:<width$} = {value}");
            }
            sections.push(section);
        }
    }
    sections.join("\n")
}

/// go-ini's quoting of a value on write.
fn ini_quote(value: &str) -> String {
    if value.contains(['\n', '`']) {
        format!("\"\"\"{value}\"\"\"")
    } else if value.contains(['#', ';']) {
        format!("`{value}`")
    } else if value.trim() != value {
        format!("\"{value}\"")
    } else {
        value.to_owned()
    }
}
