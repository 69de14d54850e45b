//! The `crds` field: OpenAPI definitions of custom types (a map from type name, e.g.
//! `github.com/example/v1beta1.MyKind`, to `{Schema: {properties: ...}}`), read as
//! Kustomize reads them, for the `x-kubernetes-*` extensions that add field specs:
//!
//! - `x-kubernetes-object-ref-api-version` with `x-kubernetes-object-ref-kind` (and
//!   `x-kubernetes-object-ref-name-key`, default `name`): the property holds a
//!   reference to an object of that kind, renamed with it;
//! - `x-kubernetes-label-selector`: a selector common labels go into;
//! - `x-kubernetes-annotation`: a map common annotations go into;
//! - `x-kubernetes-identity`: a name the name prefix goes onto.
//!
//! A type counts when its properties include `apiVersion`, `kind` and `metadata`; its
//! kind is the last dot-separated part of its name, and `$ref`s to other definitions
//! of the file are followed.

use std::path::Path;

use serde_json::{Map, Value};

use super::error::{Error, Result};
use super::fieldspec::{FieldSpec, NameBackRef, TransformerConfig};
use super::resource::Gvk;

/// How deep `$ref`s are followed; a type that refers to itself is refused past it.
const MAX_DEPTH: usize = 64;

/// The field specs the definitions in `text` (the file `file`) add.
pub(crate) fn load(file: &Path, text: &str) -> Result<TransformerConfig> {
    let value = parse(file, text)?;
    let Value::Object(definitions) = value else {
        return Err(Error::at(
            file,
            "crds: expected a map from type name to OpenAPI definition",
        ));
    };
    let mut config = TransformerConfig::default();
    let mut names: Vec<&String> = definitions.keys().collect();
    names.sort();
    for name in names {
        let properties = properties(&definitions, name);
        let is_object = ["kind", "apiVersion", "metadata"]
            .iter()
            .all(|key| properties.is_some_and(|p| p.contains_key(*key)));
        if !is_object {
            continue;
        }
        let kind = name.rsplit('.').next().unwrap_or(name);
        let referrer = Gvk {
            kind: kind.to_owned(),
            ..Gvk::default()
        };
        let mut walk = Walk {
            definitions: &definitions,
            referrer,
            config: &mut config,
            file,
        };
        walk.definition(name, &mut Vec::new())?;
    }
    Ok(config)
}

/// JSON when the file starts with `{`, else YAML.
fn parse(file: &Path, text: &str) -> Result<Value> {
    if text.starts_with('{') {
        return serde_json::from_str(text).map_err(|e| Error::at(file, format!("crds: {e}")));
    }
    let docs = super::resources::parse_docs(file, text)?;
    Ok(docs.into_iter().next().unwrap_or(Value::Null))
}

/// A key of a Go struct read by `encoding/json`: exact, else ignoring case.
fn field<'v>(map: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    map.get(name).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// The properties of the definition `name`.
fn properties<'v>(
    definitions: &'v Map<String, Value>,
    name: &str,
) -> Option<&'v Map<String, Value>> {
    let schema = definitions.get(name)?.as_object()?;
    field(field(schema, "Schema")?.as_object()?, "properties")?.as_object()
}

/// A string extension of a property (`x-…` keys ignore case, as in go-openapi); other
/// value types do not count.
fn extension<'v>(property: &'v Map<String, Value>, key: &str) -> Option<&'v str> {
    property
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| v.as_str())
}

struct Walk<'a> {
    definitions: &'a Map<String, Value>,
    referrer: Gvk,
    config: &'a mut TransformerConfig,
    file: &'a Path,
}

impl Walk<'_> {
    fn spec(&self, path: &[String]) -> FieldSpec {
        FieldSpec::new(
            &self.referrer.group,
            &self.referrer.version,
            &self.referrer.kind,
            &path.join("/"),
            false,
        )
    }

    /// Adds the field specs of the definition `name`, found at `path`.
    fn definition(&mut self, name: &str, path: &mut Vec<String>) -> Result<()> {
        if path.len() > MAX_DEPTH {
            return Err(Error::at(
                self.file,
                format!(
                    "crds: {name}: $ref nested deeper than {MAX_DEPTH} (a type refers to itself)"
                ),
            ));
        }
        let Some(properties) = properties(self.definitions, name) else {
            return Ok(());
        };
        let mut props: Vec<(&String, &Value)> = properties.iter().collect();
        props.sort_by(|a, b| a.0.cmp(b.0));
        for (prop_name, property) in props {
            let Some(property) = property.as_object() else {
                continue;
            };
            path.push(prop_name.clone());
            self.property(property, path);
            if let Some(reference) = property.get("$ref").and_then(Value::as_str)
                && !reference.is_empty()
            {
                self.definition(reference, path)?;
            }
            path.pop();
        }
        Ok(())
    }

    /// Adds the field specs the extensions of one property ask for.
    fn property(&mut self, property: &Map<String, Value>, path: &[String]) {
        let spec = self.spec(path);
        if extension(property, "x-kubernetes-annotation").is_some() {
            push(&mut self.config.common_annotations, spec.clone());
        }
        if extension(property, "x-kubernetes-label-selector").is_some() {
            push(&mut self.config.common_labels, spec.clone());
        }
        if extension(property, "x-kubernetes-identity").is_some() {
            push(&mut self.config.name_prefix, spec);
        }
        let version = extension(property, "x-kubernetes-object-ref-api-version");
        let kind = extension(property, "x-kubernetes-object-ref-kind");
        if let (Some(version), Some(kind)) = (version, kind) {
            let key = extension(property, "x-kubernetes-object-ref-name-key").unwrap_or("name");
            let mut at = path.to_vec();
            at.push(key.to_owned());
            let back = NameBackRef {
                gvk: Gvk {
                    group: String::new(),
                    version: version.to_owned(),
                    kind: kind.to_owned(),
                },
                referrers: vec![self.spec(&at)],
            };
            let mut more = TransformerConfig::default();
            more.name_reference.push(back);
            self.config.merge(&more);
        }
    }
}

fn push(specs: &mut Vec<FieldSpec>, spec: FieldSpec) {
    if !specs.contains(&spec) {
        specs.push(spec);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_references_labels_annotations_and_identities_through_refs() {
        let text = r#"{
  "example.com/v1.Thing": {"Schema": {"properties": {
    "apiVersion": {}, "kind": {}, "metadata": {},
    "spec": {"$ref": "example.com/v1.ThingSpec"}}}},
  "example.com/v1.ThingSpec": {"schema": {"properties": {
    "secretRef": {"x-kubernetes-object-ref-api-version": "v1", "x-kubernetes-object-ref-kind": "Secret"},
    "sel": {"X-Kubernetes-Label-Selector": ""},
    "notes": {"x-kubernetes-annotation": true}}}}
}"#;
        let config = load(Path::new("crd.json"), text).unwrap();
        let back = &config.name_reference[0];
        assert_eq!(back.gvk.kind, "Secret");
        assert_eq!(back.referrers[0].path, ["spec", "secretRef", "name"]);
        assert_eq!(back.referrers[0].gvk.kind, "Thing");
        assert_eq!(config.common_labels[0].path, ["spec", "sel"]);
        // Only string extension values count, as in go-openapi.
        assert!(config.common_annotations.is_empty());
    }

    #[test]
    fn a_type_that_refers_to_itself_is_refused() {
        let text = r#"{"a.T": {"Schema": {"properties": {"apiVersion": {}, "kind": {}, "metadata": {}, "next": {"$ref": "a.T"}}}}}"#;
        let err = load(Path::new("crd.json"), text).unwrap_err();
        assert!(err.to_string().contains("crd.json"), "{err}");
    }
}
