//! `vars`: deprecated in Kustomize, still common. A var names a field of one resource;
//! at the end of the build, `$(NAME)` in the fields of the `varReference` field specs
//! becomes that field's value.

use std::collections::BTreeMap;

use serde_json::Value;

use super::fieldspec::{self, FieldSpec, Leaf};
use super::replacements::split_field_path;
use super::resource::{Gvk, ResMap};

/// One entry of `vars`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Var {
    pub(crate) name: String,
    gvk: Gvk,
    object_name: String,
    namespace: String,
    field_path: String,
}

impl Var {
    /// Reads a `vars` entry; field names in any letter case, as Go's JSON decoder reads
    /// them.
    pub(crate) fn parse(value: &Value) -> Result<Self, String> {
        let entry = value
            .as_object()
            .ok_or("vars: every entry must be a mapping")?;
        let name = lookup(entry, "name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or("vars: every entry needs a name")?
            .to_owned();
        let target = lookup(entry, "objref")
            .and_then(Value::as_object)
            .ok_or_else(|| format!("vars: {name}: objref is required"))?;
        let text = |key: &str| {
            lookup(target, key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let api_version = text("apiVersion");
        let mut gvk = Gvk {
            group: text("group"),
            version: text("version"),
            kind: text("kind"),
        };
        if !api_version.is_empty() {
            let from = Gvk::from_api_version(&api_version, &gvk.kind);
            if api_version.contains('/') {
                gvk.group = from.group;
            }
            gvk.version = from.version;
        }
        let field_path = lookup(entry, "fieldref")
            .and_then(Value::as_object)
            .and_then(|f| lookup(f, "fieldpath"))
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .unwrap_or("metadata.name")
            .to_owned();
        Ok(Self {
            name,
            gvk,
            object_name: text("name"),
            namespace: text("namespace"),
            field_path,
        })
    }
}

/// A field of a mapping by its name, or else by the first name equal in another letter
/// case (Go's JSON decoding).
fn lookup<'a>(map: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Adds `incoming` to the vars of an accumulation: each is tied to the one resource
/// whose original id it names (if any), and a name may be declared only once.
pub(crate) fn merge(
    map: &mut ResMap,
    vars: &mut BTreeMap<String, Var>,
    incoming: &[Var],
) -> Result<(), String> {
    for var in incoming {
        let matched: Vec<usize> = map
            .resources
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                let id = r.org_id();
                let namespace_matters = !var.namespace.is_empty() || var.gvk.is_cluster_scoped();
                id.gvk == var.gvk
                    && id.name == var.object_name
                    && (!namespace_matters || id.effective_namespace() == effective(var))
            })
            .map(|(i, _)| i)
            .collect();
        if matched.len() > 1 {
            return Err(format!(
                "found {} resources matching var {} (unable to disambiguate)",
                matched.len(),
                var.name
            ));
        }
        if let Some(&i) = matched.first() {
            map.resources[i].ref_vars.push(var.name.clone());
        }
        absorb(vars, var.clone())?;
    }
    Ok(())
}

fn effective(var: &Var) -> &str {
    if var.gvk.is_cluster_scoped() {
        "_non_namespaceable_"
    } else if var.namespace.is_empty() {
        "default"
    } else {
        &var.namespace
    }
}

/// Adds one var to a set, refusing a second var of the same name.
pub(crate) fn absorb(vars: &mut BTreeMap<String, Var>, var: Var) -> Result<(), String> {
    if vars.contains_key(&var.name) {
        return Err(format!("var '{}' already encountered", var.name));
    }
    vars.insert(var.name.clone(), var);
    Ok(())
}

/// Replaces `$(NAME)` in the `varReference` fields of every resource.
pub(crate) fn resolve(
    map: &mut ResMap,
    vars: &BTreeMap<String, Var>,
    specs: &[FieldSpec],
) -> Result<(), String> {
    if vars.is_empty() {
        return Ok(());
    }
    let mut values = BTreeMap::new();
    for var in vars.values() {
        let holder = map
            .resources
            .iter()
            .find(|r| r.ref_vars.contains(&var.name))
            .ok_or_else(|| {
                format!(
                    "var '{}' cannot be mapped to a field in the set of known resources",
                    var.name
                )
            })?;
        let value = field_value(&holder.value, &var.field_path).ok_or_else(|| {
            format!(
                "field {} of var '{}' not found in its resource",
                var.field_path, var.name
            )
        })?;
        values.insert(var.name.as_str(), value);
    }
    for resource in &mut map.resources {
        let gvk = resource.gvk();
        for spec in specs.iter().filter(|s| gvk.is_selected_by(&s.gvk)) {
            fieldspec::walk(
                &mut resource.value,
                &spec.path,
                false,
                Leaf::Scalar,
                &mut |node| expand_node(node, &values),
            )?;
        }
    }
    Ok(())
}

/// The value at a dotted field path (`spec.ports[0].port`), as Kustomize reads a var.
fn field_value(value: &Value, path: &str) -> Option<Value> {
    let mut node = value;
    // `name[0]` is `name` then element 0, as Kustomize reads a var's path.
    let segments =
        split_field_path(path)
            .into_iter()
            .flat_map(|segment| match segment.split_once('[') {
                Some((name, index)) if !name.is_empty() && !segment.contains('=') => {
                    vec![name.to_owned(), format!("[{index}")]
                }
                _ => vec![segment],
            });
    for segment in segments {
        node = match (
            node,
            segment.strip_prefix('[').and_then(|s| s.strip_suffix(']')),
        ) {
            (Value::Array(items), Some(inner)) if inner.contains('=') => {
                let (key, wanted) = inner.split_once('=')?;
                items
                    .iter()
                    .find(|item| item.get(key).and_then(Value::as_str) == Some(wanted))?
            }
            (Value::Array(items), None) => items.get(segment.parse::<usize>().ok()?)?,
            (Value::Array(items), Some(index)) if !index.contains('=') => {
                items.get(index.parse::<usize>().ok()?)?
            }
            (Value::Object(map), _) => map.get(segment.as_str())?,
            _ => return None,
        };
    }
    Some(node.clone())
}

fn expand_node(node: &mut Value, values: &BTreeMap<&str, Value>) -> Result<(), String> {
    match node {
        Value::String(text) => {
            *node = expand(text, values);
            Ok(())
        }
        Value::Object(map) => {
            for value in map.values_mut() {
                if let Value::String(text) = value {
                    *value = expand(text, values);
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            for item in items {
                let Value::String(text) = item else {
                    return Err("invalid value type expect a string".into());
                };
                *item = expand(text, values);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The text a var's value is written as in the middle of a string.
fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Expands `$(NAME)` references (`$$` is a `$`); a string that is one reference takes the
/// value's type. Unknown names stay as written.
fn expand(input: &str, values: &BTreeMap<&str, Value>) -> Value {
    let lookup = |name: &str| values.get(name).filter(|v| as_text(v).is_some());
    if let Some(name) = input.strip_prefix("$(").and_then(|s| s.strip_suffix(')'))
        && !name.contains(')')
    {
        return lookup(name)
            .cloned()
            .unwrap_or_else(|| Value::String(input.to_owned()));
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        rest = after;
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some((name, tail)) = after.strip_prefix('(').and_then(|b| b.split_once(')')) {
            let text = lookup(name).and_then(as_text);
            out.push_str(&text.unwrap_or_else(|| format!("$({name})")));
            rest = tail;
        } else {
            // `$` before anything else, or an unclosed `$(`, stays as written.
            out.push('$');
        }
    }
    out.push_str(rest);
    Value::String(out)
}

/// Kustomize's built-in `varReference` field specs.
pub(crate) fn builtin_specs() -> Vec<FieldSpec> {
    let containers = ["containers", "initContainers"];
    let fields = ["args", "command", "env/value", "volumeMounts/mountPath"];
    let workloads = [
        ("CronJob", "spec/jobTemplate/spec/template/spec"),
        ("DaemonSet", "spec/template/spec"),
        ("Deployment", "spec/template/spec"),
        ("Job", "spec/template/spec"),
        ("Pod", "spec"),
        ("ReplicaSet", "spec/template/spec"),
        ("StatefulSet", "spec/template/spec"),
    ];
    let mut specs = Vec::new();
    for (kind, pod) in workloads {
        for container in containers {
            for field in fields {
                specs.push(FieldSpec::new(
                    "",
                    "",
                    kind,
                    &format!("{pod}/{container}/{field}"),
                    false,
                ));
            }
        }
    }
    for (kind, path) in [
        ("Ingress", "spec/rules/host"),
        ("Ingress", "spec/tls/hosts"),
        ("Ingress", "spec/tls/secretName"),
        ("Service", "spec/ports/port"),
        ("Service", "spec/ports/targetPort"),
    ] {
        specs.push(FieldSpec::new("", "", kind, path, false));
    }
    specs.push(FieldSpec::new("", "", "", "metadata/labels", false));
    specs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expands_like_kubernetes() {
        let values = BTreeMap::from([("A", json!("x")), ("N", json!(3)), ("B", json!(true))]);
        let cases = [
            ("$(A)", json!("x")),
            ("$(B)", json!(true)),
            ("$(N)", json!(3)),
            ("n=$(N)", json!("n=3")),
            ("pre-$(A)-$(B)", json!("pre-x-true")),
            ("$$(A)", json!("$(A)")),
            ("$(UNKNOWN) $(A", json!("$(UNKNOWN) $(A")),
            ("cost $5", json!("cost $5")),
            ("end$", json!("end$")),
        ];
        for (input, want) in cases {
            assert_eq!(expand(input, &values), want, "{input}");
        }
    }

    #[test]
    fn reads_dotted_paths() {
        let value = json!({"spec": {"ports": [{"name": "a", "port": 1}]}});
        assert_eq!(field_value(&value, "spec.ports[0].port"), Some(json!(1)));
        assert_eq!(
            field_value(&value, "spec.ports.[name=a].port"),
            Some(json!(1))
        );
        assert_eq!(field_value(&value, "spec.missing"), None);
    }
}
