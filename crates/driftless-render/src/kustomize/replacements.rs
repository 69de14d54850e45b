//! `replacements`: copy a field of one object into fields of others.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::{Error, Result};
use super::fold::{self, Mode};
use super::kustomization::Selector;
use super::resource::{ResId, ResMap, Resource};
use super::resources::{Loader, parse_docs};
use super::selector::Compiled;

/// One replacement.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Replacement {
    #[serde(default)]
    source: Option<Source>,
    #[serde(default)]
    targets: Vec<Target>,
}

/// An entry of `replacements`: inline, or a file holding one or a list.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    source: Option<Source>,
    #[serde(default)]
    targets: Vec<Target>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Source {
    #[serde(default)]
    group: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    field_path: String,
    #[serde(default)]
    options: Option<FieldOptions>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Target {
    #[serde(default)]
    select: Option<Selector>,
    #[serde(default)]
    reject: Vec<Selector>,
    #[serde(default)]
    field_paths: Vec<String>,
    #[serde(default)]
    options: Option<FieldOptions>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldOptions {
    #[serde(default)]
    delimiter: String,
    #[serde(default)]
    index: i64,
    #[serde(default)]
    create: bool,
}

/// Reads the `replacements` entries of a kustomization (loading `path` entries);
/// `mode` is how the entries themselves are read (strictly in a kustomization,
/// leniently in a `ReplacementTransformer` config).
pub(crate) fn load(
    loader: &Loader,
    kfile: &Path,
    kdir: &Path,
    entries: &[Value],
    mode: Mode,
) -> Result<Vec<Replacement>> {
    let mut out = Vec::new();
    for raw in entries {
        let entry: Entry =
            fold::from_value(raw.clone(), mode).map_err(|e| Error::InvalidKustomization {
                file: kfile.to_path_buf(),
                message: format!("replacements: {e}"),
            })?;
        match entry.path {
            Some(path) => {
                if entry.source.is_some() || !entry.targets.is_empty() {
                    return Err(Error::at(
                        kfile,
                        "replacements: cannot specify both path and inline replacement",
                    ));
                }
                let (file, text) = loader.read_text(kfile, kdir, &path)?;
                let docs = parse_docs(&file, &text)?;
                for doc in docs {
                    let items = match doc {
                        Value::Array(items) => items,
                        other => vec![other],
                    };
                    for item in items {
                        // Kustomize reads replacement files leniently.
                        let r: Replacement = fold::from_value(item, Mode::Lenient)
                            .map_err(|e| Error::at(&file, format!("replacement: {e}")))?;
                        out.push(r);
                    }
                }
            }
            None => out.push(Replacement {
                source: entry.source,
                targets: entry.targets,
            }),
        }
    }
    Ok(out)
}

fn all_ids(res: &Resource) -> Vec<ResId> {
    let mut ids = vec![res.cur_id()];
    ids.extend(res.prev_ids.iter().cloned());
    ids
}

/// Whether a selector's id fields (exact, empty is a wildcard) pick the id.
fn id_selected(
    id: &ResId,
    group: &str,
    version: &str,
    kind: &str,
    name: &str,
    namespace: &str,
) -> bool {
    (group.is_empty() || id.gvk.group == group)
        && (version.is_empty() || id.gvk.version == version)
        && (kind.is_empty() || id.gvk.kind == kind)
        && (name.is_empty() || id.name == name)
        && (namespace.is_empty() || id.namespace == namespace)
}

fn selector_picks(s: &Selector, id: &ResId) -> bool {
    id_selected(id, &s.group, &s.version, &s.kind, &s.name, &s.namespace)
}

/// Runs the replacements in order.
pub(crate) fn transform(map: &mut ResMap, replacements: &[Replacement]) -> Result<(), String> {
    for r in replacements {
        let source = r
            .source
            .as_ref()
            .ok_or_else(|| "replacement has no source".to_owned())?;
        let value = source_value(map, source)?;
        for target in &r.targets {
            let select = target
                .select
                .as_ref()
                .ok_or_else(|| "target must specify resources to select".to_owned())?;
            let label_only = Compiled::new(&Selector {
                label_selector: select.label_selector.clone(),
                annotation_selector: select.annotation_selector.clone(),
                ..Selector::default()
            })?;
            let rejects: Vec<(Selector, Compiled)> = target
                .reject
                .iter()
                .map(|s| {
                    Compiled::new(&Selector {
                        label_selector: s.label_selector.clone(),
                        annotation_selector: s.annotation_selector.clone(),
                        ..Selector::default()
                    })
                    .map(|c| (s.clone(), c))
                })
                .collect::<Result<_, _>>()?;
            let paths: Vec<String> = if target.field_paths.is_empty() {
                vec!["metadata.name".to_owned()]
            } else {
                target.field_paths.clone()
            };
            for res in &mut map.resources {
                if !label_only.matches(res) {
                    continue;
                }
                let ids = all_ids(res);
                let rejected = |id: &ResId| {
                    rejects.iter().any(|(s, c)| {
                        let has_id = !(s.group.is_empty()
                            && s.version.is_empty()
                            && s.kind.is_empty()
                            && s.name.is_empty()
                            && s.namespace.is_empty());
                        let has_labels =
                            !s.label_selector.is_empty() || !s.annotation_selector.is_empty();
                        (!has_id || selector_picks(s, id))
                            && (!has_labels || c.matches(res))
                            && (has_id || has_labels)
                    })
                };
                let selected = ids
                    .iter()
                    .any(|id| selector_picks(select, id) && !rejected(id));
                if !selected {
                    continue;
                }
                for fp in &paths {
                    let segments = split_field_path(fp);
                    let create = target.options.as_ref().is_some_and(|o| o.create);
                    let mut count = 0usize;
                    let mut result = Ok(());
                    let opts = target.options.as_ref();
                    visit(&mut res.value, &segments, create, &value, &mut |node| {
                        count += 1;
                        if result.is_ok() {
                            result = set_target(node, &value, opts);
                        }
                    });
                    result?;
                    if count == 0 {
                        return Err(if create {
                            format!("unable to find or create field {fp:?} in replacement target")
                        } else {
                            format!("unable to find field {fp:?} in replacement target")
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

fn source_value(map: &ResMap, source: &Source) -> Result<Value, String> {
    let mut found: Option<&Resource> = None;
    for res in &map.resources {
        let hit = all_ids(res).iter().any(|id| {
            id_selected(
                id,
                &source.group,
                &source.version,
                &source.kind,
                &source.name,
                &source.namespace,
            )
        });
        if hit {
            if found.is_some() {
                return Err(format!(
                    "replacement source {}/{} selects more than one resource",
                    source.kind, source.name
                ));
            }
            found = Some(res);
        }
    }
    let res = found.ok_or_else(|| {
        format!(
            "replacement source {}/{} selects nothing",
            source.kind, source.name
        )
    })?;
    let fp = if source.field_path.is_empty() {
        "metadata.name"
    } else {
        &source.field_path
    };
    let value = lookup(&res.value, &split_field_path(fp))
        .filter(|v| !is_empty_node(v))
        .ok_or_else(|| {
            format!(
                "fieldPath `{fp}` is missing for replacement source {}/{}",
                source.kind, source.name
            )
        })?;
    match source.options.as_ref().filter(|o| !o.delimiter.is_empty()) {
        None => Ok(value.clone()),
        Some(o) => {
            let text = scalar_text(value)
                .ok_or_else(|| "delimiter option can only be used with scalar nodes".to_owned())?;
            let parts: Vec<&str> = text.split(o.delimiter.as_str()).collect();
            let part = usize::try_from(o.index)
                .ok()
                .and_then(|i| parts.get(i))
                .ok_or_else(|| {
                    format!(
                        "options.index {} is out of bounds for value {text}",
                        o.index
                    )
                })?;
            Ok(Value::String((*part).to_owned()))
        }
    }
}

fn is_empty_node(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Sets a target field: a scalar keeps its type with the new text; anything else
/// is replaced by the value.
fn set_target(
    node: &mut Value,
    value: &Value,
    options: Option<&FieldOptions>,
) -> Result<(), String> {
    let mut value = value.clone();
    if let Some(o) = options.filter(|o| !o.delimiter.is_empty()) {
        let current = scalar_text(node)
            .ok_or_else(|| "delimiter option can only be used with scalar nodes".to_owned())?;
        let v = scalar_text(&value).unwrap_or_default();
        let mut parts: Vec<String> = current
            .split(o.delimiter.as_str())
            .map(str::to_owned)
            .collect();
        match usize::try_from(o.index) {
            Err(_) => parts.insert(0, v),
            Ok(i) if i >= parts.len() => parts.push(v),
            Ok(i) => parts[i] = v,
        }
        value = Value::String(parts.join(&o.delimiter));
    }
    let text = scalar_text(&value);
    *node = match (&*node, text) {
        (Value::String(_), Some(t)) => Value::String(t),
        (Value::Number(_), Some(t)) => t
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| t.parse::<f64>().map(Value::from))
            .unwrap_or(Value::String(t)),
        (Value::Bool(_), Some(t)) => match t.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(t),
        },
        _ => value,
    };
    Ok(())
}

/// Splits a field path on dots, as Kustomize does: `\.` is a dot inside a field name,
/// and a bracketed element holding dots stays together: with its brackets if it selects
/// a list element (`[name=a.b]`), without them if it names a key (`[cert-manager.io/x]`).
pub(crate) fn split_field_path(path: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    for piece in path.split('.') {
        match parts.last_mut() {
            Some(last) if last.ends_with('\\') => {
                last.pop();
                last.push('.');
                last.push_str(piece);
            }
            _ => parts.push(piece.to_owned()),
        }
    }
    let mut out = Vec::new();
    // Kustomize skips empty elements (`.metadata.name`).
    let mut pieces = parts.into_iter().filter(|part| !part.is_empty());
    while let Some(part) = pieces.next() {
        if !part.starts_with('[') || part.ends_with(']') {
            out.push(part);
            continue;
        }
        let mut bracketed = part;
        for next in pieces.by_ref() {
            bracketed.push('.');
            bracketed.push_str(&next);
            if next.ends_with(']') {
                break;
            }
        }
        if bracketed.contains('=') {
            out.push(bracketed);
        } else {
            out.push(bracketed.trim_matches(['[', ']']).to_owned());
        }
    }
    out
}

fn element_matcher(segment: &str) -> Option<(&str, &str)> {
    segment
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .and_then(|s| s.split_once('='))
}

fn scalar_eq(v: &Value, text: &str) -> bool {
    scalar_text(v).is_some_and(|t| t == text)
}

fn lookup<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    let Some((head, rest)) = path.split_first() else {
        return Some(value);
    };
    let next = match value {
        Value::Object(m) => m.get(head.as_str())?,
        Value::Array(items) => {
            if let Some((k, v)) = element_matcher(head) {
                items.iter().find(|i| {
                    if k.is_empty() {
                        scalar_eq(i, v)
                    } else {
                        i.get(k).is_some_and(|x| scalar_eq(x, v))
                    }
                })?
            } else {
                items.get(head.parse::<usize>().ok()?)?
            }
        }
        _ => return None,
    };
    lookup(next, rest)
}

/// Calls `f` on every node the path reaches; with `create`, missing mappings and
/// list elements (`[k=v]`) are made on the way, and the last field is created
/// holding `value`.
fn visit(
    value: &mut Value,
    path: &[String],
    create: bool,
    leaf: &Value,
    f: &mut dyn FnMut(&mut Value),
) {
    let Some((head, rest)) = path.split_first() else {
        f(value);
        return;
    };
    match value {
        Value::Object(m) => {
            if head == "*" {
                for child in m.values_mut() {
                    visit(child, rest, create, leaf, f);
                }
                return;
            }
            if !m.contains_key(head.as_str()) {
                if !create {
                    return;
                }
                let fresh = if rest.is_empty() {
                    leaf.clone()
                } else if rest[0].starts_with('[') {
                    Value::Array(Vec::new())
                } else {
                    Value::Object(Map::new())
                };
                m.insert(head.clone(), fresh);
            }
            if let Some(child) = m.get_mut(head.as_str()) {
                visit(child, rest, create, leaf, f);
            }
        }
        Value::Array(items) => {
            if head == "*" {
                for item in items.iter_mut() {
                    visit(item, rest, create, leaf, f);
                }
            } else if let Some((k, v)) = element_matcher(head) {
                let mut any = false;
                for item in items.iter_mut() {
                    let hit = if k.is_empty() {
                        scalar_eq(item, v)
                    } else {
                        item.get(k).is_some_and(|x| scalar_eq(x, v))
                    };
                    if hit {
                        any = true;
                        visit(item, rest, create, leaf, f);
                    }
                }
                if !any && create {
                    let mut fresh = Map::new();
                    fresh.insert(k.to_owned(), Value::String(v.to_owned()));
                    items.push(Value::Object(fresh));
                    if let Some(item) = items.last_mut() {
                        visit(item, rest, create, leaf, f);
                    }
                }
            } else if let Ok(i) = head.parse::<usize>()
                && let Some(item) = items.get_mut(i)
            {
                visit(item, rest, create, leaf, f);
            }
        }
        Value::Null if create => {
            *value = Value::Object(Map::new());
            visit(value, path, create, leaf, f);
        }
        _ => {}
    }
}
