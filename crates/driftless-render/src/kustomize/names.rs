//! `namePrefix` / `nameSuffix`, and the rewriting of name references once names
//! have changed.

use std::collections::HashMap;

use serde_json::Value;

use super::fieldspec::{FieldSpec, Leaf, NameBackRef, has_field, walk};
use super::resource::{Gvk, ResId, ResMap};

/// Which end of the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Prefix,
    Suffix,
}

/// Kinds whose names Kustomize never prefixes or suffixes.
fn skip_rename(id: &ResId) -> bool {
    matches!(
        id.gvk.kind.as_str(),
        "CustomResourceDefinition" | "Namespace"
    ) || (id.gvk.kind == "APIService" && id.gvk.group == "apiregistration.k8s.io")
}

/// Adds a prefix or suffix to the fields the specs name (by default every object's
/// `metadata/name`), remembering the old id for reference rewriting.
pub(crate) fn add_affix(
    map: &mut ResMap,
    affix: &str,
    end: End,
    specs: &[FieldSpec],
) -> Result<(), String> {
    for res in &mut map.resources {
        let org = res.org_id();
        if skip_rename(&org) {
            continue;
        }
        for fs in specs {
            if !org.gvk.is_selected_by(&fs.gvk) {
                continue;
            }
            if fs.path_is("metadata/name") {
                match end {
                    End::Prefix => res.prefixes.push(affix.to_owned()),
                    End::Suffix => res.suffixes.push(affix.to_owned()),
                }
                res.store_previous_id();
            }
            walk(
                &mut res.value,
                &fs.path,
                fs.create,
                Leaf::Scalar,
                &mut |node| {
                    if let Value::String(s) = node {
                        *s = match end {
                            End::Prefix => format!("{affix}{s}"),
                            End::Suffix => format!("{s}{affix}"),
                        };
                    }
                    Ok(())
                },
            )?;
        }
    }
    Ok(())
}

/// What reference rewriting needs to know of a possible referral target.
struct Candidate {
    name: String,
    namespace: String,
    kind: String,
    cur: ResId,
    org_effective_ns: String,
    cluster_scoped: bool,
    prev_ids: Vec<ResId>,
    prefixes: Vec<String>,
    suffixes: Vec<String>,
}

/// Rewrites every name reference (the back-reference field specs) to the current
/// name (and, for service references, namespace) of the object referred to.
pub(crate) fn fix_references(map: &mut ResMap, back_refs: &[NameBackRef]) -> Result<(), String> {
    let candidates: Vec<Candidate> = map
        .resources
        .iter()
        .map(|r| {
            let cur = r.cur_id();
            Candidate {
                name: r.name().to_owned(),
                namespace: r.namespace().to_owned(),
                kind: r.kind().to_owned(),
                cluster_scoped: cur.gvk.is_cluster_scoped(),
                org_effective_ns: r.org_id().effective_namespace().to_owned(),
                cur,
                prev_ids: r.prev_ids.clone(),
                prefixes: r.prefixes.clone(),
                suffixes: r.suffixes.clone(),
            }
        })
        .collect();
    // Previous name -> candidates that had it, in resource order.
    let mut by_prev_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, c) in candidates.iter().enumerate() {
        let mut names: Vec<&str> = c.prev_ids.iter().map(|p| p.name.as_str()).collect();
        names.dedup();
        for n in names {
            let list = by_prev_name.entry(n).or_default();
            if list.last() != Some(&i) {
                list.push(i);
            }
        }
    }
    if by_prev_name.is_empty() {
        return Ok(());
    }
    // Original namespace -> namespaced candidates.
    let mut by_org_ns: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, c) in candidates.iter().enumerate() {
        if !c.cluster_scoped {
            by_org_ns
                .entry(c.org_effective_ns.as_str())
                .or_default()
                .push(i);
        }
    }
    for (ri, res) in map.resources.iter_mut().enumerate() {
        let org = res.org_id();
        let referrer = &candidates[ri];
        for back in back_refs {
            for fs in &back.referrers {
                if !org.gvk.is_selected_by(&fs.gvk) || !has_field(&res.value, &fs.path) {
                    continue;
                }
                let role_ref = if fs
                    .path
                    .ends_with(&["roleRef".to_owned(), "name".to_owned()])
                {
                    role_ref_gvk(&res.value)
                } else {
                    None
                };
                let binding_namespaces = binding_namespaces(&res.value, &referrer.kind);
                let ctx = RefContext {
                    candidates: &candidates,
                    by_prev_name: &by_prev_name,
                    by_org_ns: &by_org_ns,
                    referrer,
                    target: &back.gvk,
                    role_ref: role_ref.as_ref(),
                    binding_namespaces: &binding_namespaces,
                };
                walk(&mut res.value, &fs.path, false, Leaf::Scalar, &mut |node| {
                    ctx.set(node)
                })
                .map_err(|e| {
                    format!(
                        "updating name reference in {:?} of {}: {e}",
                        fs.path.join("/"),
                        referrer.cur
                    )
                })?;
            }
        }
    }
    Ok(())
}

fn role_ref_gvk(value: &Value) -> Option<Gvk> {
    let role_ref = value.get("roleRef")?;
    Some(Gvk {
        group: role_ref.get("apiGroup")?.as_str()?.to_owned(),
        version: String::new(),
        kind: role_ref.get("kind")?.as_str()?.to_owned(),
    })
}

/// Namespaces of the service accounts a RoleBinding names: objects there may be
/// referred to from the binding's namespace.
fn binding_namespaces(value: &Value, kind: &str) -> Vec<String> {
    if kind != "RoleBinding" {
        return Vec::new();
    }
    value
        .get("subjects")
        .and_then(Value::as_array)
        .map(|subjects| {
            subjects
                .iter()
                .filter(|s| s.get("kind").and_then(Value::as_str) == Some("ServiceAccount"))
                .filter_map(|s| s.get("namespace").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

struct RefContext<'a> {
    candidates: &'a [Candidate],
    by_prev_name: &'a HashMap<&'a str, Vec<usize>>,
    by_org_ns: &'a HashMap<&'a str, Vec<usize>>,
    referrer: &'a Candidate,
    target: &'a Gvk,
    role_ref: Option<&'a Gvk>,
    binding_namespaces: &'a [String],
}

impl RefContext<'_> {
    fn set(&self, node: &mut Value) -> Result<(), String> {
        match node {
            Value::String(_) => self.set_scalar(node),
            Value::Object(_) => self.set_mapping(node),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::String(_) => self.set_scalar(item)?,
                        Value::Object(_) => self.set_mapping(item)?,
                        _ => {}
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Whether a candidate could be referred to by the referrer at all (same
    /// namespace, cluster-scoped, or a namespace a RoleBinding names).
    fn in_scope(&self, c: &Candidate) -> bool {
        let r = self.referrer;
        if r.cluster_scoped || c.cluster_scoped {
            return true;
        }
        if c.cur.effective_namespace() == r.cur.effective_namespace() {
            return true;
        }
        self.binding_namespaces.contains(&c.namespace)
    }

    fn same_namespace_as_referrer(&self, c: &Candidate) -> bool {
        let r = self.referrer;
        r.cluster_scoped
            || c.cluster_scoped
            || c.kind == "ServiceAccount"
            || c.cur.effective_namespace() == r.cur.effective_namespace()
    }

    fn select(
        &self,
        old_name: &str,
        namespace_filter: Option<&dyn Fn(&Candidate) -> bool>,
        identical: fn(&[&Candidate]) -> bool,
    ) -> Result<Option<usize>, String> {
        let Some(list) = self.by_prev_name.get(old_name) else {
            return Ok(None);
        };
        let mut found: Vec<usize> = list
            .iter()
            .copied()
            .filter(|&i| {
                let c = &self.candidates[i];
                self.in_scope(c)
                    && namespace_filter.is_none_or(|f| f(c))
                    && c.prev_ids.iter().any(|p| p.gvk.is_selected_by(self.target))
                    && self
                        .role_ref
                        .is_none_or(|g| c.prev_ids.iter().any(|p| p.gvk.is_selected_by(g)))
                    && self.same_namespace_as_referrer(c)
            })
            .collect();
        if found.len() == 1 {
            return Ok(Some(found[0]));
        }
        found.retain(|&i| {
            let c = &self.candidates[i];
            same_ending(&c.prefixes, &self.referrer.prefixes)
                && same_ending(&c.suffixes, &self.referrer.suffixes)
        });
        match found.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(*one)),
            many => {
                let cands: Vec<&Candidate> = many.iter().map(|&i| &self.candidates[i]).collect();
                if identical(&cands) {
                    Ok(Some(many[0]))
                } else {
                    let ids: Vec<String> = cands.iter().map(|c| c.cur.to_string()).collect();
                    Err(format!(
                        "found multiple possible referrals: {}",
                        ids.join(", ")
                    ))
                }
            }
        }
    }

    fn set_scalar(&self, node: &mut Value) -> Result<(), String> {
        let Value::String(old) = node else {
            return Ok(());
        };
        let names_equal: fn(&[&Candidate]) -> bool = |cs| cs.iter().all(|c| c.name == cs[0].name);
        if let Some(i) = self.select(old, None, names_equal)? {
            let new = &self.candidates[i].name;
            if new != old {
                *node = Value::String(new.clone());
            }
        }
        Ok(())
    }

    fn set_mapping(&self, node: &mut Value) -> Result<(), String> {
        let Value::Object(map) = node else {
            return Ok(());
        };
        let Some(old) = map.get("name").and_then(Value::as_str).map(str::to_owned) else {
            return Err("path config error; no 'name' field in node".into());
        };
        let namespace = map
            .get("namespace")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let all_same: fn(&[&Candidate]) -> bool = |cs| {
            cs.iter()
                .all(|c| c.name == cs[0].name && c.namespace == cs[0].namespace)
        };
        let selected = match &namespace {
            None => self.select(&old, None, all_same)?,
            Some(ns) => {
                let by_original = self
                    .by_org_ns
                    .get(ns.as_str())
                    .is_some_and(|l| l.iter().any(|&i| self.in_scope(&self.candidates[i])));
                if by_original {
                    let f = |c: &Candidate| !c.cluster_scoped && c.org_effective_ns == *ns;
                    self.select(&old, Some(&f), all_same)?
                } else {
                    let f = |c: &Candidate| !c.cluster_scoped && c.cur.effective_namespace() == ns;
                    self.select(&old, Some(&f), all_same)?
                }
            }
        };
        let Some(i) = selected else {
            return Ok(());
        };
        let c = &self.candidates[i];
        if c.name == old && c.namespace.is_empty() {
            return Ok(());
        }
        map.insert("name".into(), Value::String(c.name.clone()));
        if !c.namespace.is_empty() {
            map.insert("namespace".into(), Value::String(c.namespace.clone()));
        }
        Ok(())
    }
}

/// Kustomize's `SameEndingSubSlice`: one list ends with the other; an empty list only
/// matches an empty one.
fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        return long.is_empty();
    }
    long.ends_with(short)
}
