//! `buildMetadata: [originAnnotations]`: each object says where it came from, in the
//! annotation `config.kubernetes.io/origin`, as Kustomize writes it for local files:
//! `path: <file>` for an object read from a file, or `configuredIn: <file>` and
//! `configuredBy: {apiVersion, kind[, name, namespace]}` for a generated one. Paths are
//! relative to the folder being built, joined and cleaned like Go's `path.Join`
//! (`../base/app.yaml`).

use serde_json::Value;

use super::resource::Resource;

/// The annotation holding an object's origin.
pub(crate) const ORIGIN: &str = "config.kubernetes.io/origin";

/// The annotation listing the transformers that changed an object; Kustomize drops it
/// (and the origin) from its input unless asked to write them.
pub(crate) const TRANSFORMATIONS: &str = "alpha.config.kubernetes.io/transformations";

/// `base` and `path` joined and cleaned like Go's `path.Join`: no `.` components, and
/// `dir/..` pairs removed (leading `..` stay).
pub(crate) fn join(base: &str, path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in base.split('/').chain(path.split('/')) {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|last| *last != "..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// The origin of objects read from the file `path`.
pub(crate) fn of_file(path: &str) -> String {
    format!("path: {}\n", scalar(path))
}

/// The file an origin written by [`of_file`] names.
pub(crate) fn file_path(origin: &str) -> Option<String> {
    let text = origin.strip_prefix("path: ")?.strip_suffix('\n')?;
    if text.starts_with('"') {
        serde_json::from_str(text).ok()
    } else {
        Some(text.to_owned())
    }
}

/// What made a generated object: the generator's config object.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConfiguredBy {
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) namespace: String,
}

impl ConfiguredBy {
    /// A built-in generator configured by a kustomization field.
    pub(crate) fn builtin(kind: &str) -> Self {
        Self {
            api_version: "builtin".into(),
            kind: kind.into(),
            ..Self::default()
        }
    }

    /// The generator a config object describes.
    pub(crate) fn of_config(config: &Value) -> Self {
        let text = |path: &[&str]| {
            path.iter()
                .try_fold(config, |v, k| v.get(k))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            api_version: text(&["apiVersion"]),
            kind: text(&["kind"]),
            name: text(&["metadata", "name"]),
            namespace: text(&["metadata", "namespace"]),
        }
    }
}

/// The origin of objects a generator configured in the file `configured_in` made.
pub(crate) fn of_generator(configured_in: &str, by: &ConfiguredBy) -> String {
    let mut text = format!("configuredIn: {}\nconfiguredBy:\n", scalar(configured_in));
    for (key, value) in [
        ("apiVersion", &by.api_version),
        ("kind", &by.kind),
        ("name", &by.name),
        ("namespace", &by.namespace),
    ] {
        if !value.is_empty() {
            text.push_str("  ");
            text.push_str(key);
            text.push_str(": ");
            text.push_str(&scalar(value));
            text.push('\n');
        }
    }
    text
}

/// The origin annotation of a resource, if it has one.
pub(crate) fn get(res: &Resource) -> Option<String> {
    res.annotations()
        .get(ORIGIN)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Sets the origin annotation.
pub(crate) fn set(res: &mut Resource, origin: &str) {
    let mut annotations = res.annotations();
    annotations.insert(ORIGIN.into(), Value::String(origin.to_owned()));
    res.set_meta_map("annotations", annotations);
}

/// Removes the build annotations Kustomize never writes unless asked to.
pub(crate) fn remove(res: &mut Resource, keep_origin: bool) {
    let mut annotations = res.annotations();
    let had = annotations.len();
    if !keep_origin {
        annotations.shift_remove(ORIGIN);
    }
    annotations.shift_remove(TRANSFORMATIONS);
    if annotations.len() != had {
        res.set_meta_map("annotations", annotations);
    }
}

/// A string as Kustomize's YAML writer prints it: plain when YAML reads it back as the
/// same string, else double-quoted.
fn scalar(text: &str) -> String {
    let safe_chars = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '_' | '-' | '+' | ' '));
    let starts_well = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '_'));
    let ends_well = !text.ends_with(' ');
    let lower = text.to_ascii_lowercase();
    let special = matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~" | ".inf" | ".nan"
    );
    let numeric = text.parse::<f64>().is_ok() || text.starts_with("0x") || text.starts_with("0o");
    if safe_chars && starts_well && ends_well && !special && !numeric {
        text.to_owned()
    } else {
        serde_json::to_string(text).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_like_go_path_join() {
        assert_eq!(join("", "app.yaml"), "app.yaml");
        assert_eq!(join("../base", "./cm.yaml"), "../base/cm.yaml");
        assert_eq!(join("../base", "../common/x.yaml"), "../common/x.yaml");
        assert_eq!(join("a/b", "../../../c"), "../c");
        assert_eq!(join("", "../../x"), "../../x");
    }

    #[test]
    fn quotes_only_what_yaml_would_misread() {
        assert_eq!(of_file("../base/cm.yaml"), "path: ../base/cm.yaml\n");
        assert_eq!(of_file("true"), "path: \"true\"\n");
        assert_eq!(of_file("10"), "path: \"10\"\n");
        assert_eq!(of_file("a b.yaml"), "path: a b.yaml\n");
        assert_eq!(of_file("-x.yaml"), "path: \"-x.yaml\"\n");
        for path in ["../a/b.yaml", "true", "-x"] {
            assert_eq!(file_path(&of_file(path)).as_deref(), Some(path));
        }
        let by = ConfiguredBy {
            name: "plug".into(),
            ..ConfiguredBy::builtin("ConfigMapGenerator")
        };
        assert_eq!(
            of_generator("kustomization.yaml", &by),
            "configuredIn: kustomization.yaml\nconfiguredBy:\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n  name: plug\n"
        );
    }
}
