//! The `images` transformer.

use std::collections::{BTreeSet, HashMap};

use regex::Regex;
use serde_json::Value;

use super::fieldspec::{FieldSpec, Leaf, walk};
use super::kustomization::ImageSpec;
use super::resource::ResMap;

/// One compiled `images` entry.
pub(crate) struct ImageUpdate<'a> {
    spec: &'a ImageSpec,
    /// Kustomize matches the name as a regular expression; plain names (where `.`
    /// is the only special character) are matched without compiling one.
    pattern: Option<Regex>,
}

/// Whether `c` may follow the name in a tag or digest.
fn is_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '{' | '}' | '-')
}

impl<'a> ImageUpdate<'a> {
    pub(crate) fn new(spec: &'a ImageSpec) -> Result<Self, String> {
        if is_literal(&spec.name) {
            return Ok(Self {
                spec,
                pattern: None,
            });
        }
        let pattern = Regex::new(&format!(
            "^{}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$",
            spec.name
        ))
        .map_err(|e| format!("images: name {:?} is not usable: {e}", spec.name))?;
        Ok(Self {
            spec,
            pattern: Some(pattern),
        })
    }

    /// Kustomize's match: the name, then an optional `:tag`, then an optional
    /// `@sha256:digest`.
    fn is_match(&self, image: &str) -> bool {
        if let Some(re) = &self.pattern {
            return re.is_match(image);
        }
        let mut chars = image.chars();
        for p in self.spec.name.chars() {
            match chars.next() {
                Some(c) if c == p || (p == '.' && c != '\n') => {}
                _ => return false,
            }
        }
        let rest = chars.as_str();
        let (tag, digest) = match rest.find("@sha256:") {
            Some(i) => (&rest[..i], Some(&rest[i + "@sha256:".len()..])),
            None => (rest, None),
        };
        let tag_ok = tag.is_empty()
            || tag
                .strip_prefix(':')
                .is_some_and(|t| t.chars().all(is_tag_char));
        tag_ok && digest.is_none_or(|d| d.chars().all(is_tag_char))
    }

    fn update(&self, image: &str) -> Option<String> {
        if !self.is_match(image) {
            return None;
        }
        let (mut name, mut tag, mut digest) = split(image);
        let s = self.spec;
        if !s.new_name.is_empty() {
            name.clone_from(&s.new_name);
        }
        if !s.new_tag.is_empty() && !s.digest.is_empty() {
            tag.clone_from(&s.new_tag);
            digest.clone_from(&s.digest);
        } else if !s.new_tag.is_empty() {
            tag.clone_from(&s.new_tag);
            digest.clear();
        } else if !s.digest.is_empty() {
            tag.clear();
            digest.clone_from(&s.digest);
        } else if !s.tag_suffix.is_empty() {
            tag.push_str(&s.tag_suffix);
        }
        if !tag.is_empty() {
            name.push(':');
            name.push_str(&tag);
        }
        if !digest.is_empty() {
            name.push('@');
            name.push_str(&digest);
        }
        Some(name)
    }

    fn set(&self, node: &mut Value) {
        if let Value::String(s) = node
            && let Some(new) = self.update(s)
        {
            *s = new;
        }
    }
}

/// Splits an image reference into name, tag and digest, as Kustomize does (a `:`
/// before the first `/` belongs to the registry host).
fn split(image: &str) -> (String, String, String) {
    let slash = image.find('/').filter(|&i| i > 0).unwrap_or(0);
    let search = &image[slash..];
    let at = search.find('@').map(|i| i + slash);
    let colon = search.find(':').map(|i| i + slash);
    match (colon, at) {
        (None, None) => (image.to_owned(), String::new(), String::new()),
        (c, Some(a)) if c.is_none_or(|c| a < c) => (
            image[..a].to_owned(),
            String::new(),
            image[a + 1..].to_owned(),
        ),
        (Some(c), Some(a)) => (
            image[..c].to_owned(),
            image[c + 1..a].to_owned(),
            image[a + 1..].to_owned(),
        ),
        (Some(c), None) => (
            image[..c].to_owned(),
            image[c + 1..].to_owned(),
            String::new(),
        ),
        (None, Some(_)) => unreachable!("covered by the digest-only arm"),
    }
}

/// Whether an entry's name is a plain image name (so it can be looked up and matched
/// without a regular expression). Kustomize reads `.` as "any character"; the
/// matcher does too, but the lookup only finds images named exactly.
fn is_literal(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | ':' | '-'))
}

/// Applies the `images` entries in order: each to every container and init container
/// image found anywhere in an object, then to the fields the specs name. Each object
/// is visited once; only the entries that can match one of its images run on it.
pub(crate) fn transform(
    map: &mut ResMap,
    updates: &[ImageUpdate<'_>],
    specs: &[FieldSpec],
) -> Result<(), String> {
    if updates.is_empty() {
        return Ok(());
    }
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut patterns: Vec<usize> = Vec::new();
    for (i, u) in updates.iter().enumerate() {
        if is_literal(&u.spec.name) {
            by_name.entry(u.spec.name.as_str()).or_default().push(i);
        } else {
            patterns.push(i);
        }
    }
    for res in &mut map.resources {
        let gvk = res.gvk();
        let active: Vec<&FieldSpec> = specs
            .iter()
            .filter(|fs| gvk.is_selected_by(&fs.gvk))
            .collect();
        let mut names = Vec::new();
        collect_names(&res.value, &mut names);
        for fs in &active {
            collect_at(&res.value, &fs.path, &mut names);
        }
        let mut pending: BTreeSet<usize> = patterns.iter().copied().collect();
        for n in &names {
            if let Some(list) = by_name.get(n.as_str()) {
                pending.extend(list.iter().copied());
            }
        }
        while let Some(i) = pending.pop_first() {
            let update = &updates[i];
            update_containers(&mut res.value, update);
            for fs in &active {
                walk(&mut res.value, &fs.path, false, Leaf::Scalar, &mut |node| {
                    update.set(node);
                    Ok(())
                })?;
            }
            if !update.spec.new_name.is_empty()
                && let Some(list) = by_name.get(update.spec.new_name.as_str())
            {
                pending.extend(list.iter().copied().filter(|&j| j > i));
            }
        }
    }
    Ok(())
}

/// The names (without tag or digest) of the container images of an object.
fn collect_names(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if (key == "containers" || key == "initContainers")
                    && let Value::Array(items) = child
                {
                    for item in items {
                        if let Some(Value::String(image)) = item.get("image") {
                            out.push(split(image).0);
                        }
                    }
                }
                collect_names(child, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_names(item, out);
            }
        }
        _ => {}
    }
}

/// The image names at a field path.
fn collect_at(value: &Value, path: &[String], out: &mut Vec<String>) {
    let Some((head, rest)) = path.split_first() else {
        if let Value::String(image) = value {
            out.push(split(image).0);
        }
        return;
    };
    match value {
        Value::Array(items) => {
            for item in items {
                collect_at(item, path, out);
            }
        }
        Value::Object(map) => {
            if let Some(child) = map.get(super::fieldspec::field_name(head)) {
                collect_at(child, rest, out);
            }
        }
        _ => {}
    }
}

fn update_containers(value: &mut Value, update: &ImageUpdate<'_>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if (key == "containers" || key == "initContainers")
                    && let Value::Array(items) = child
                {
                    for item in items.iter_mut() {
                        if let Some(image) = item.get_mut("image") {
                            update.set(image);
                        }
                    }
                }
                update_containers(child, update);
            }
        }
        Value::Array(items) => {
            for item in items {
                update_containers(item, update);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_match_like_the_regular_expression() {
        let spec = |name: &str| ImageSpec {
            name: name.to_owned(),
            ..ImageSpec::default()
        };
        for name in [
            "nginx",
            "registry.example.com/app",
            "localhost:5000/tools/x",
        ] {
            let s = spec(name);
            let plain = ImageUpdate::new(&s).unwrap();
            assert!(plain.pattern.is_none());
            let re = Regex::new(&format!(
                "^{name}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$"
            ))
            .unwrap();
            for image in [
                name.to_owned(),
                format!("{name}:1.0"),
                format!("{name}:1.0@sha256:abc"),
                format!("{name}@sha256:abc"),
                format!("{name}-other:1"),
                format!("{name}:bad/tag"),
                format!("x{name}"),
                format!("{name}:"),
            ] {
                assert_eq!(
                    plain.is_match(&image),
                    re.is_match(&image),
                    "{name} vs {image}"
                );
            }
        }
        assert!(ImageUpdate::new(&spec("a.b")).unwrap().is_match("axb:1"));
    }

    #[test]
    fn splits_like_kustomize() {
        assert_eq!(
            split("localhost:5000/app:1.0@sha256:ab"),
            (
                "localhost:5000/app".into(),
                "1.0".into(),
                "sha256:ab".into()
            )
        );
        assert_eq!(
            split("nginx"),
            ("nginx".into(), String::new(), String::new())
        );
        assert_eq!(
            split("nginx@sha256:ab"),
            ("nginx".into(), String::new(), "sha256:ab".into())
        );
    }
}
