//! Target selectors: group/version/kind/name/namespace as anchored regular
//! expressions, label and annotation selectors in Kubernetes syntax.

use regex::Regex;
use serde_json::{Map, Value};

use super::kustomization::Selector;
use super::resource::Resource;

/// A compiled selector.
#[derive(Debug)]
pub(crate) struct Compiled {
    group: Option<Regex>,
    version: Option<Regex>,
    kind: Option<Regex>,
    name: Option<Regex>,
    namespace: Option<Regex>,
    labels: Option<Vec<Requirement>>,
    annotations: Option<Vec<Requirement>>,
}

fn anchored(field: &str, pattern: &str) -> Result<Option<Regex>, String> {
    if pattern.is_empty() {
        return Ok(None);
    }
    Regex::new(&format!("^(?:{pattern})$"))
        .map(Some)
        .map_err(|e| format!("target {field} {pattern:?} is not a valid regular expression: {e}"))
}

impl Compiled {
    pub(crate) fn new(s: &Selector) -> Result<Self, String> {
        Ok(Self {
            group: anchored("group", &s.group)?,
            version: anchored("version", &s.version)?,
            kind: anchored("kind", &s.kind)?,
            name: anchored("name", &s.name)?,
            namespace: anchored("namespace", &s.namespace)?,
            labels: parse_requirements(&s.label_selector)?,
            annotations: parse_requirements(&s.annotation_selector)?,
        })
    }

    /// Whether the selector picks the resource: namespace and name match the
    /// original or the current ones, the gvk the current one.
    pub(crate) fn matches(&self, res: &Resource) -> bool {
        let cur = res.cur_id();
        let org = res.org_id();
        if let Some(re) = &self.namespace
            && !re.is_match(org.effective_namespace())
            && !re.is_match(cur.effective_namespace())
        {
            return false;
        }
        if let Some(re) = &self.name
            && !re.is_match(&org.name)
            && !re.is_match(&cur.name)
        {
            return false;
        }
        let field_ok = |re: &Option<Regex>, v: &str| re.as_ref().is_none_or(|re| re.is_match(v));
        if !field_ok(&self.group, &cur.gvk.group)
            || !field_ok(&self.version, &cur.gvk.version)
            || !field_ok(&self.kind, &cur.gvk.kind)
        {
            return false;
        }
        if let Some(reqs) = &self.labels
            && !reqs.iter().all(|r| r.matches(&res.labels()))
        {
            return false;
        }
        if let Some(reqs) = &self.annotations
            && !reqs.iter().all(|r| r.matches(&res.annotations()))
        {
            return false;
        }
        true
    }
}

#[derive(Debug)]
enum Op {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
}

#[derive(Debug)]
struct Requirement {
    key: String,
    op: Op,
}

impl Requirement {
    fn matches(&self, labels: &Map<String, Value>) -> bool {
        let value = labels.get(&self.key).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        match &self.op {
            Op::Exists => value.is_some(),
            Op::NotExists => value.is_none(),
            Op::In(values) => value.is_some_and(|v| values.contains(&v)),
            Op::NotIn(values) => value.is_none_or(|v| !values.contains(&v)),
        }
    }
}

/// Parses a Kubernetes label selector (`a=b,c!=d,e in (f,g),!h,i`).
fn parse_requirements(text: &str) -> Result<Option<Vec<Requirement>>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let mut terms = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                terms.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    terms.push(current);
    let bad = || format!("invalid selector {text:?}");
    let mut reqs = Vec::new();
    for term in terms {
        let term = term.trim();
        if term.is_empty() {
            return Err(bad());
        }
        let set = |rest: &str| -> Result<Vec<String>, String> {
            let inner = rest
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(bad)?;
            Ok(inner.split(',').map(|v| v.trim().to_owned()).collect())
        };
        let req = if let Some(key) = term.strip_prefix('!') {
            Requirement {
                key: key.trim().to_owned(),
                op: Op::NotExists,
            }
        } else if let Some((key, value)) = term.split_once("!=") {
            Requirement {
                key: key.trim().to_owned(),
                op: Op::NotIn(vec![value.trim().to_owned()]),
            }
        } else if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
            Requirement {
                key: key.trim().to_owned(),
                op: Op::In(vec![value.trim().to_owned()]),
            }
        } else if let Some((key, rest)) = term.split_once(" notin ") {
            Requirement {
                key: key.trim().to_owned(),
                op: Op::NotIn(set(rest)?),
            }
        } else if let Some((key, rest)) = term.split_once(" in ") {
            Requirement {
                key: key.trim().to_owned(),
                op: Op::In(set(rest)?),
            }
        } else if term.contains(char::is_whitespace) {
            return Err(bad());
        } else {
            Requirement {
                key: term.to_owned(),
                op: Op::Exists,
            }
        };
        reqs.push(req);
    }
    Ok(Some(reqs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selectors() {
        let labels = json!({"app": "web", "tier": "front"});
        let labels = labels.as_object().unwrap();
        let ok = |s: &str| {
            parse_requirements(s)
                .unwrap()
                .unwrap()
                .iter()
                .all(|r| r.matches(labels))
        };
        assert!(ok("app=web"));
        assert!(ok("app==web,tier in (front, back)"));
        assert!(!ok("app!=web"));
        assert!(ok("!missing,app"));
        assert!(!ok("tier notin (front)"));
    }
}
