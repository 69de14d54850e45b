//! The `images` transformer.

use regex::Regex;
use serde_json::Value;

use super::fieldspec::{FieldSpec, Leaf, walk};
use super::kustomization::ImageSpec;
use super::resource::ResMap;

/// One compiled `images` entry.
pub(crate) struct ImageUpdate<'a> {
    spec: &'a ImageSpec,
    pattern: Regex,
}

impl<'a> ImageUpdate<'a> {
    pub(crate) fn new(spec: &'a ImageSpec) -> Result<Self, String> {
        // Kustomize matches the name as a regular expression, unescaped.
        let pattern = Regex::new(&format!(
            "^{}(:[a-zA-Z0-9_.{{}}-]*)?(@sha256:[a-zA-Z0-9_.{{}}-]*)?$",
            spec.name
        ))
        .map_err(|e| format!("images: name {:?} is not usable: {e}", spec.name))?;
        Ok(Self { spec, pattern })
    }

    fn update(&self, image: &str) -> Option<String> {
        if !self.pattern.is_match(image) {
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

/// Applies one `images` entry: to every container and init container image found
/// anywhere in an object, then to the fields the specs name.
pub(crate) fn transform(
    map: &mut ResMap,
    update: &ImageUpdate<'_>,
    specs: &[FieldSpec],
) -> Result<(), String> {
    for res in &mut map.resources {
        update_containers(&mut res.value, update);
        let gvk = res.gvk();
        for fs in specs {
            if !gvk.is_selected_by(&fs.gvk) {
                continue;
            }
            walk(&mut res.value, &fs.path, false, Leaf::Scalar, &mut |node| {
                update.set(node);
                Ok(())
            })?;
        }
    }
    Ok(())
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
