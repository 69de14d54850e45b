//! Post-build variable substitution, as Flux's kustomize-controller does it
//! (`spec.postBuild` of a Flux Kustomization).
//!
//! After rendering, `${var}` expressions in every key and string of every object are
//! replaced. Flux substitutes in the YAML text of each object and reads it back, so a
//! value that was a whole expression takes the type its text reads as:
//! `replicas: ${replicas:=2}` becomes the number 2; driftless does the same, except in
//! fields Kubernetes types as strings (label and annotation values, ConfigMap and Secret
//! data, container `env` values, `args`, `command`), which stay strings — what Flux
//! gives when the expression is quoted in the source. The expressions are those of the
//! `envsubst` package Flux uses:
//!
//! | text | becomes |
//! | --- | --- |
//! | `${var}` | the value of `var`; empty when undefined (an error in strict mode) |
//! | `${var:=default}`, `${var:-default}`, `${var=default}` | the value, or `default` when undefined or empty; the default may hold `${…}` |
//! | `$${var}` | the literal text `${var}` (`$$` is always a literal `$`) |
//! | `$var` | left as it is: only the braced form is substituted |
//! | `${var^}`, `${var^^}`, `${var,}`, `${var,,}` | upper- or lower-case first or all letters |
//! | `${#var}` | the length of the value |
//!
//! Variable names must match `^[_[:alpha:]][_[:alpha:][:digit:]]*$`; newlines in values
//! are removed, as Flux removes them. With no variables at all, objects are left alone,
//! as in Flux. An object labelled or annotated `kustomize.toolkit.fluxcd.io/substitute:
//! disabled` (or `driftless.dev/substitute: disabled`) is left alone.
//!
//! ```
//! use driftless_core::{Object, ObjectSet};
//! use driftless_render::substitute::Substitution;
//! use serde_json::json;
//!
//! let mut objects = ObjectSet::new();
//! objects.insert(Object::new(json!({
//!     "apiVersion": "apps/v1", "kind": "Deployment",
//!     "metadata": {"name": "web-${cluster}"},
//!     "spec": {"replicas": "${replicas:=2}", "note": "$${kept}"},
//! }))?)?;
//! let substitution = Substitution::new().var("cluster", "eu-1")?;
//! let objects = substitution.apply(objects)?;
//! let web = objects.iter().next().unwrap();
//! assert_eq!(web.name(), "web-eu-1");
//! assert_eq!(web.as_value()["spec"]["replicas"], 2); // a number, as in Flux
//! assert_eq!(web.as_value()["spec"]["note"], "${kept}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use driftless_core::{Object, ObjectId, ObjectSet};
use serde_json::Value;

/// The label and annotation with which Flux leaves an object unsubstituted.
pub const FLUX_SUBSTITUTE_KEY: &str = "kustomize.toolkit.fluxcd.io/substitute";
/// driftless' own label and annotation to leave an object unsubstituted.
pub const SUBSTITUTE_KEY: &str = "driftless.dev/substitute";

/// What went wrong while substituting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A variable name that Flux would refuse.
    #[error("{name:?}: invalid variable name, it must match ^[_[:alpha:]][_[:alpha:][:digit:]]*$")]
    InvalidName {
        /// The name given.
        name: String,
    },
    /// An expression in a field could not be substituted.
    #[error("{id}: field {field}: {problem}")]
    Field {
        /// The object.
        id: Box<ObjectId>,
        /// The field, as a JSON pointer (for a key: the pointer of the map holding it).
        field: String,
        /// What is wrong.
        problem: Problem,
    },
    /// After substitution the object is no longer valid: a key substituted into one
    /// that already exists, or a name or kind that became empty.
    #[error("{id}: after substitution the object is not valid: {message}")]
    Invalid {
        /// The object.
        id: Box<ObjectId>,
        /// What is wrong.
        message: String,
    },
}

/// What is wrong with one `${…}` expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// Unbalanced braces or an expression that is not one (`${}`, `${a b}`).
    #[error("bad substitution at byte {at}")]
    BadSubstitution {
        /// The byte offset in the text.
        at: usize,
    },
    /// Strict mode: a variable without a default is not defined.
    #[error("variable {name:?} is not defined and has no default (strict mode)")]
    Undefined {
        /// The variable.
        name: String,
    },
    /// A shell expansion Flux's `envsubst` has and driftless does not.
    #[error("the expansion ${{{expression}…}} (substrings, patterns) is not supported")]
    Unsupported {
        /// The start of the expression.
        expression: String,
    },
}

/// Variables to substitute after rendering, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Substitution {
    vars: BTreeMap<String, String>,
    strict: bool,
}

impl Substitution {
    /// No variables, not strict.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a variable (a later value for the same name wins). Newlines in the value are
    /// removed, as Flux does.
    pub fn var(mut self, name: impl Into<String>, value: &str) -> Result<Self, Error> {
        self.set(name, value)?;
        Ok(self)
    }

    /// Sets a variable in place (see [`var`](Self::var)).
    pub fn set(&mut self, name: impl Into<String>, value: &str) -> Result<(), Error> {
        let name = name.into();
        if !is_var_name(&name) {
            return Err(Error::InvalidName { name });
        }
        self.vars.insert(name, value.replace('\n', ""));
        Ok(())
    }

    /// Refuse a variable that is neither defined nor given a default, naming the object
    /// and field, instead of substituting an empty string.
    #[must_use]
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// The variables.
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// Whether undefined variables are refused.
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// Substitutes every object of the set.
    pub fn apply(&self, objects: ObjectSet) -> Result<ObjectSet, Error> {
        if self.vars.is_empty() && !self.strict {
            return Ok(objects);
        }
        let mut out = ObjectSet::new();
        for object in objects {
            // Substitution may rename an object; a clash keeps the last, as Flux's
            // server-side apply would.
            out.upsert(self.apply_object(object)?);
        }
        Ok(out)
    }

    /// The object with its variables substituted; an object with nothing to substitute
    /// (or that opts out) is returned as it is.
    pub fn apply_object(&self, object: Object) -> Result<Object, Error> {
        if opted_out(&object) || !has_expressions(object.as_value()) {
            return Ok(object);
        }
        let id = Box::new(object.id());
        let kind = object.kind().to_owned();
        let mut value = object.into_value();
        let walk = Walk {
            substitution: self,
            kind: &kind,
        };
        walk.value(&mut value, None)
            .map_err(|(field, problem)| match problem {
                Some(problem) => Error::Field {
                    id: id.clone(),
                    field,
                    problem,
                },
                None => Error::Invalid {
                    id: id.clone(),
                    message: format!("a substituted key repeats another key in {field}"),
                },
            })?;
        Object::new(value).map_err(|e| Error::Invalid {
            id,
            message: e.to_string(),
        })
    }

    /// Expands the `${…}` expressions of `text` with these variables.
    pub fn expand(&self, text: &str) -> Result<String, Problem> {
        Expander {
            text,
            pos: 0,
            vars: &self.vars,
            strict: self.strict,
        }
        .text()
    }
}

/// `^[_[:alpha:]][_[:alpha:][:digit:]]*$` (POSIX classes: ASCII).
fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

fn opted_out(object: &Object) -> bool {
    [FLUX_SUBSTITUTE_KEY, SUBSTITUTE_KEY].iter().any(|key| {
        [object.labels(), object.annotations()]
            .iter()
            .any(|map| map.get(*key).and_then(Value::as_str) == Some("disabled"))
    })
}

/// Whether any key or string holds text `envsubst` would change (`${` or `$$`).
fn has_expressions(value: &Value) -> bool {
    let marked = |text: &str| text.contains("${") || text.contains("$$");
    match value {
        Value::String(text) => marked(text),
        Value::Array(items) => items.iter().any(has_expressions),
        Value::Object(map) => map.iter().any(|(k, v)| marked(k) || has_expressions(v)),
        _ => false,
    }
}

/// One step from an object's root to the field a walk is at. The steps live on the
/// walk's stack, each pointing to its parent, so walking allocates nothing.
struct Step<'p> {
    key: Key<'p>,
    parent: Option<&'p Step<'p>>,
}

#[derive(Clone, Copy)]
enum Key<'p> {
    Field(&'p str),
    Index(usize),
}

impl Step<'_> {
    /// The field name `back` steps up from here (1: this step's own); `None` for an
    /// index or above the root.
    fn field(&self, back: usize) -> Option<&str> {
        let mut step = self;
        for _ in 1..back {
            step = step.parent?;
        }
        match step.key {
            Key::Field(name) => Some(name),
            Key::Index(_) => None,
        }
    }

    fn depth(&self) -> usize {
        1 + self.parent.map_or(0, Step::depth)
    }
}

/// The JSON pointer of `at` (the root: `/`).
fn pointer(at: Option<&Step<'_>>) -> String {
    let mut keys = Vec::new();
    let mut step = at;
    while let Some(here) = step {
        keys.push(here.key);
        step = here.parent;
    }
    if keys.is_empty() {
        return "/".to_owned();
    }
    keys.iter().rev().fold(String::new(), |mut out, key| {
        let _ = match key {
            Key::Field(name) => write!(out, "/{}", name.replace('~', "~0").replace('/', "~1")),
            Key::Index(index) => write!(out, "/{index}"),
        };
        out
    })
}

/// A walk over an object that substitutes its keys and strings.
struct Walk<'a> {
    substitution: &'a Substitution,
    kind: &'a str,
}

/// Where a walk failed: the JSON pointer, and the problem (`None`: a duplicate key).
type Failure = (String, Option<Problem>);

impl Walk<'_> {
    fn expand(&self, text: &str, at: Option<&Step<'_>>) -> Result<String, Failure> {
        self.substitution
            .expand(text)
            .map_err(|problem| (pointer(at), Some(problem)))
    }

    fn value(&self, value: &mut Value, at: Option<&Step<'_>>) -> Result<(), Failure> {
        match value {
            Value::String(text) if text.contains('$') => {
                let expanded = self.expand(text, at)?;
                if expanded == *text {
                    return Ok(());
                }
                *value = if self.is_string_field(at) {
                    Value::String(expanded)
                } else {
                    retyped(expanded)
                };
                Ok(())
            }
            Value::Array(items) => items.iter_mut().enumerate().try_for_each(|(index, item)| {
                let key = Key::Index(index);
                self.value(item, Some(&Step { key, parent: at }))
            }),
            Value::Object(map) if !map.keys().any(|key| key.contains('$')) => {
                // No key changes: the map is kept and its values walked in place.
                map.iter_mut().try_for_each(|(key, item)| {
                    let key = Key::Field(key);
                    self.value(item, Some(&Step { key, parent: at }))
                })
            }
            Value::Object(map) => {
                let mut out = serde_json::Map::with_capacity(map.len());
                for (key, mut item) in std::mem::take(map) {
                    let key = if key.contains('$') {
                        self.expand(&key, at)?
                    } else {
                        key
                    };
                    let step = Step {
                        key: Key::Field(&key),
                        parent: at,
                    };
                    self.value(&mut item, Some(&step))?;
                    if out.insert(key, item).is_some() {
                        return Err((pointer(at), None));
                    }
                }
                *map = out;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Whether the field at `at` holds strings in Kubernetes' schema, so a substituted
    /// value stays a string (Flux gets the same from the quoting kept in the source):
    /// label and annotation values, ConfigMap and Secret data, container `env` values,
    /// `args` and `command`.
    fn is_string_field(&self, at: Option<&Step<'_>>) -> bool {
        let Some(at) = at else { return false };
        let under_metadata = matches!(at.field(2), Some("labels" | "annotations"))
            && at.field(3) == Some("metadata");
        let data = at.depth() == 2
            && matches!(
                (self.kind, at.field(2)),
                ("ConfigMap", Some("data" | "binaryData"))
                    | ("Secret", Some("data" | "stringData"))
            );
        let env = at.field(1) == Some("value") && at.field(3) == Some("env");
        let list = matches!(at.field(2), Some("args" | "command"));
        under_metadata || data || env || list
    }
}

/// A substituted value read back as YAML reads a plain scalar, as Flux reads the
/// substituted text: `3` is a number, `true` a boolean, nothing at all `null`.
fn retyped(text: String) -> Value {
    match driftless_core::yaml::from_str_multi(&text) {
        Ok(documents) if documents.is_empty() => Value::Null,
        Ok(mut documents)
            if documents.len() == 1
                && matches!(
                    documents[0],
                    Value::Number(_) | Value::Bool(_) | Value::Null
                ) =>
        {
            documents.remove(0)
        }
        _ => Value::String(text),
    }
}

/// A recursive-descent reading of `envsubst`'s grammar.
struct Expander<'a> {
    text: &'a str,
    pos: usize,
    vars: &'a BTreeMap<String, String>,
    strict: bool,
}

impl Expander<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn bad(&self) -> Problem {
        Problem::BadSubstitution { at: self.pos }
    }

    /// Top-level text: `$$` is a literal `$`, `${` starts an expression.
    fn text(&mut self) -> Result<String, Problem> {
        let mut out = String::with_capacity(self.text.len());
        while let Some(c) = self.peek() {
            if self.rest().starts_with("$$") {
                out.push('$');
                self.pos += 2;
            } else if self.rest().starts_with("${") {
                self.pos += 2;
                out.push_str(&self.expression()?);
            } else {
                out.push(c);
                self.pos += c.len_utf8();
            }
        }
        Ok(out)
    }

    /// After `${`, up to and including the closing `}`.
    fn expression(&mut self) -> Result<String, Problem> {
        if self.peek() == Some('#') {
            self.bump();
            let name = self.name()?;
            self.close()?;
            return Ok(self.value(&name)?.chars().count().to_string());
        }
        let start = self.pos;
        let name = self.name()?;
        match self.peek() {
            Some('}') => {
                self.bump();
                self.value(&name)
            }
            Some(':') if matches!(self.rest()[1..].chars().next(), Some('=' | '-' | '?' | '+')) => {
                self.pos += 2;
                self.default(&name)
            }
            Some('=') => {
                self.bump();
                self.default(&name)
            }
            Some(',' | '^') => self.casing(&name),
            Some(':' | '/' | '#' | '%') => Err(Problem::Unsupported {
                expression: self.text[start..=self.pos].to_owned(),
            }),
            _ => Err(self.bad()),
        }
    }

    /// A name as `envsubst` scans it: letters, digits, `_` and `-`.
    fn name(&mut self) -> Result<String, Problem> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !(c.is_alphanumeric() || c == '_' || c == '-') {
                break;
            }
            self.bump();
        }
        if self.pos == start {
            return Err(self.bad());
        }
        Ok(self.text[start..self.pos].to_owned())
    }

    fn close(&mut self) -> Result<(), Problem> {
        if self.bump() == Some('}') {
            Ok(())
        } else {
            Err(self.bad())
        }
    }

    fn value(&self, name: &str) -> Result<String, Problem> {
        match self.vars.get(name) {
            Some(value) => Ok(value.clone()),
            None if self.strict => Err(Problem::Undefined {
                name: name.to_owned(),
            }),
            None => Ok(String::new()),
        }
    }

    /// The default: text and nested expressions up to the closing `}`, used when the
    /// variable is undefined or empty.
    fn default(&mut self, name: &str) -> Result<String, Problem> {
        let mut default = String::new();
        loop {
            if self.rest().starts_with("${") {
                self.pos += 2;
                default.push_str(&self.expression()?);
                continue;
            }
            match self.bump() {
                Some('}') => break,
                Some(c) => default.push(c),
                None => return Err(self.bad()),
            }
        }
        let value = self.vars.get(name).cloned().unwrap_or_default();
        Ok(if value.is_empty() { default } else { value })
    }

    /// `^`, `^^`, `,`, `,,` (two marks at most, as `envsubst` scans them).
    fn casing(&mut self, name: &str) -> Result<String, Problem> {
        let start = self.pos;
        while self.pos - start < 2 && matches!(self.peek(), Some(',' | '^')) {
            self.bump();
        }
        let op = self.text[start..self.pos].to_owned();
        self.close()?;
        let value = self.value(name)?;
        let mut chars = value.chars();
        Ok(match op.as_str() {
            "^^" => value.to_uppercase(),
            ",," => value.to_lowercase(),
            "^" => chars
                .next()
                .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect()),
            _ => chars
                .next()
                .map_or_else(String::new, |c| c.to_lowercase().chain(chars).collect()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Substitution {
        vars.iter()
            .fold(Substitution::new(), |s, (k, v)| s.var(*k, v).unwrap())
    }

    /// Flux's documented cases and the `envsubst` package's own test table.
    #[test]
    fn flux_cases() {
        let vars = [
            ("cluster_name", "prod-eu"),
            ("var01", "abcdEFGH28ij"),
            ("default_var", "foo"),
            ("empty", ""),
            ("_under", "u"),
        ];
        let table = [
            ("plain text", "plain text"),
            ("${cluster_name}", "prod-eu"),
            ("cluster-${cluster_name}-x", "cluster-prod-eu-x"),
            ("${missing}", ""),
            ("${replicas:=2}", "2"),
            ("${cluster_name:=other}", "prod-eu"),
            ("${empty:=fallback}", "fallback"),
            ("${var:-xyz}", "xyz"),
            ("${var=xyz}", "xyz"),
            ("${var:=xyz}", "xyz"),
            ("something ${var=${default_var}}", "something foo"),
            ("foo: ${var=${default_var}-suffix}", "foo: foo-suffix"),
            (
                "foo: ${var=prefix${default_var}-suffix}",
                "foo: prefixfoo-suffix",
            ),
            ("$${var01}", "${var01}"),
            (
                "some text ${var01}$${var$${var01}$var01${var01}",
                "some text abcdEFGH28ij${var${var01}$var01abcdEFGH28ij",
            ),
            ("something $${var=${default_var}}", "something ${var=foo}"),
            ("$var01 stays", "$var01 stays"),
            ("a $ b $", "a $ b $"),
            ("cost: $$5", "cost: $5"),
            ("${var01^}", "AbcdEFGH28ij"),
            ("${var01^^}", "ABCDEFGH28IJ"),
            ("${var01,}", "abcdEFGH28ij"),
            ("${var01,,}", "abcdefgh28ij"),
            ("${#var01}", "12"),
            ("${var=${var01^^}}", "ABCDEFGH28IJ"),
            ("${_under}", "u"),
        ];
        let substitution = with(&vars);
        for (input, expected) in table {
            assert_eq!(substitution.expand(input).unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn bad_and_unsupported_expressions() {
        let substitution = with(&[("a", "1")]);
        for bad in ["${}", "${a", "${a b}", "${a:=x", "${!a}"] {
            let problem = substitution.expand(bad).unwrap_err();
            assert!(
                matches!(problem, Problem::BadSubstitution { .. }),
                "{bad}: {problem}"
            );
        }
        for unsupported in ["${a:1:2}", "${a/x/y}", "${a#x}", "${a%x}"] {
            let problem = substitution.expand(unsupported).unwrap_err();
            assert!(
                matches!(problem, Problem::Unsupported { .. }),
                "{unsupported}: {problem}"
            );
        }
    }

    #[test]
    fn strict_mode_refuses_undefined_variables_only() {
        let substitution = with(&[("a", "1")]).strict(true);
        assert_eq!(substitution.expand("${a}${b:=2}").unwrap(), "12");
        assert_eq!(
            substitution.expand("x ${b}").unwrap_err(),
            Problem::Undefined { name: "b".into() }
        );
        assert!(substitution.expand("${b^^}").is_err());
    }

    #[test]
    fn names_are_checked_and_newlines_removed() {
        for bad in ["1a", "a-b", "", "é", "a.b"] {
            assert!(Substitution::new().var(bad, "x").is_err(), "{bad}");
        }
        let substitution = Substitution::new().var("A_1", "x\ny\n").unwrap();
        assert_eq!(substitution.vars()["A_1"], "xy");
    }

    fn object(value: serde_json::Value) -> Object {
        Object::new(value).unwrap()
    }

    fn set(objects: Vec<Object>) -> ObjectSet {
        let mut set = ObjectSet::new();
        for object in objects {
            set.insert(object).unwrap();
        }
        set
    }

    #[test]
    fn objects_opt_out_with_flux_or_driftless_keys() {
        let substitution = with(&[("v", "x")]);
        for (field, key) in [
            ("labels", FLUX_SUBSTITUTE_KEY),
            ("annotations", FLUX_SUBSTITUTE_KEY),
            ("labels", SUBSTITUTE_KEY),
            ("annotations", SUBSTITUTE_KEY),
        ] {
            let kept = object(serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "kept", field: {key: "disabled"}},
                "data": {"script": "echo ${v}"},
            }));
            assert_eq!(
                substitution.apply_object(kept.clone()).unwrap(),
                kept,
                "{field} {key}"
            );
        }
        let enabled = object(serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "on", "annotations": {FLUX_SUBSTITUTE_KEY: "enabled"}},
            "data": {"script": "echo ${v}"},
        }));
        let done = substitution.apply_object(enabled).unwrap();
        assert_eq!(done.as_value()["data"]["script"], "echo x");
    }

    #[test]
    fn values_are_retyped_as_flux_does() {
        let substitution = with(&[("replicas", "3"), ("debug", "true"), ("name", "web")]);
        let objects = substitution
            .apply(set(vec![object(serde_json::json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "${name}", "labels": {"${name}-key": "v"}},
                "spec": {"replicas": "${replicas}", "paused": "${debug}", "image": "img:${tag:=1.0.1}"},
            }))]))
            .unwrap();
        let web = objects.iter().next().unwrap();
        assert_eq!(web.name(), "web");
        assert_eq!(web.as_value()["spec"]["replicas"], 3);
        assert_eq!(web.as_value()["spec"]["paused"], true);
        assert_eq!(web.as_value()["spec"]["image"], "img:1.0.1");
        assert_eq!(web.labels()["web-key"], "v");
    }

    #[test]
    fn no_variables_leaves_everything_alone() {
        let objects = set(vec![object(serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"},
            "data": {"x": "${y:=1}", "cost": "$$5"},
        }))]);
        let same = Substitution::new().apply(objects.clone()).unwrap();
        assert_eq!(same, objects);
    }

    #[test]
    fn strict_mode_names_object_and_field() {
        let substitution = with(&[("a", "1")]).strict(true);
        let objects = set(vec![object(serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "shop"},
            "data": {"ok": "${a}", "list": ["x", "${undefined_var}"]},
        }))]);
        let error = substitution.apply(objects).unwrap_err();
        assert_eq!(
            error.to_string(),
            "/ConfigMap/shop/settings: field /data/list/1: variable \"undefined_var\" is not \
             defined and has no default (strict mode)"
        );
    }

    #[test]
    fn string_fields_stay_strings() {
        let substitution = with(&[("port", "8080"), ("flag", "true"), ("name", "web")]);
        let objects = substitution
            .apply(set(vec![object(serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "cm", "labels": {"port": "${port}"}, "annotations": {"on": "${flag}"}},
                "data": {"port": "${port}", "missing": "${nothing}"},
            })), object(serde_json::json!({
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "${name}"},
                "spec": {"replicas": "${nothing}", "template": {"metadata": {"labels": {"p": "${port}"}}, "spec": {"containers": [{
                    "name": "c", "args": ["${port}"], "env": [{"name": "PORT", "value": "${port}"}],
                    "ports": [{"containerPort": "${port}"}],
                }]}}},
            }))]))
            .unwrap();
        let cm = objects.iter().next().unwrap().as_value();
        assert_eq!(cm["metadata"]["labels"]["port"], "8080");
        assert_eq!(cm["metadata"]["annotations"]["on"], "true");
        assert_eq!(cm["data"]["port"], "8080");
        assert_eq!(cm["data"]["missing"], "");
        let web = objects.iter().nth(1).unwrap().as_value();
        assert_eq!(web["spec"]["replicas"], serde_json::Value::Null);
        assert_eq!(web["spec"]["template"]["metadata"]["labels"]["p"], "8080");
        let container = &web["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["args"][0], "8080");
        assert_eq!(container["env"][0]["value"], "8080");
        assert_eq!(container["ports"][0]["containerPort"], 8080);
    }

    #[test]
    fn a_substituted_key_that_repeats_another_is_an_error() {
        let substitution = with(&[("k", "a")]);
        let objects = set(vec![object(serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"},
            "data": {"a": "1", "${k}": "2"},
        }))]);
        let error = substitution.apply(objects).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("/ConfigMap//cm: after substitution"),
            "{error}"
        );
        assert!(error.to_string().contains("/data"), "{error}");
    }
}
