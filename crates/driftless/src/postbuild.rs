//! What rendering does besides building objects, as Flux's kustomize-controller does
//! it: SOPS decryption of the files read (age keys, in memory), and post-build variable
//! substitution (`${var}`, `${var:=default}`).
//!
//! [`RenderOptions`] gathers both with the render mode; [`renderer_with`] builds the
//! renderer that `render`, `diff`, `diff --rev`, `apply` and the agent share.
//!
//! ```
//! use std::path::Path;
//! use driftless::postbuild::{RenderOptions, renderer_with};
//! use driftless::render::substitute::Substitution;
//! use driftless::core::Snapshot;
//!
//! let repo = tempfile::tempdir()?;
//! std::fs::write(repo.path().join("cm.yaml"),
//!     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '${app}-settings'}\n")?;
//! let options = RenderOptions::default()
//!     .substitution(Some(Substitution::new().var("app", "web")?));
//! let snapshot = Snapshot::new(repo.path(), "sha256:00".parse()?);
//! let objects = renderer_with(&options).render(&snapshot, Path::new("."))?;
//! assert_eq!(objects.iter().next().unwrap().name(), "web-settings");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use driftless_core::{ObjectSet, RenderError, Renderer, Snapshot};
use driftless_render::RenderMode;
use driftless_render::substitute::Substitution;
use driftless_sops::Decryptor;
use serde_json::Value;

use crate::Error;

/// How to render: the mode, SOPS decryption and post-build substitution.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RenderOptions {
    /// `auto`, `plain` or `kustomize`.
    pub mode: RenderMode,
    /// Variables substituted after rendering; `None`: no substitution.
    pub substitution: Option<Substitution>,
    /// Decrypts SOPS files as they are read; `None`: files are read as they are.
    pub decryptor: Option<Decryptor>,
}

impl RenderOptions {
    /// Sets [`mode`](Self::mode).
    #[must_use]
    pub fn mode(mut self, mode: RenderMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets [`substitution`](Self::substitution).
    #[must_use]
    pub fn substitution(mut self, substitution: Option<Substitution>) -> Self {
        self.substitution = substitution;
        self
    }

    /// Sets [`decryptor`](Self::decryptor).
    #[must_use]
    pub fn decryptor(mut self, decryptor: Option<Decryptor>) -> Self {
        self.decryptor = decryptor;
        self
    }
}

/// The renderer for `options`: the mode's renderer, reading SOPS files through the
/// decryptor, followed by substitution.
pub fn renderer_with(options: &RenderOptions) -> Arc<dyn Renderer> {
    let decoder = options
        .decryptor
        .clone()
        .map(|decryptor| Arc::new(decryptor) as Arc<dyn driftless_render::Decoder>);
    let inner = options.mode.renderer(decoder);
    match &options.substitution {
        Some(substitution) => Arc::new(Substituting {
            inner,
            substitution: substitution.clone(),
        }),
        None => inner,
    }
}

/// A renderer followed by post-build substitution.
struct Substituting {
    inner: Arc<dyn Renderer>,
    substitution: Substitution,
}

impl Renderer for Substituting {
    fn render(&self, snapshot: &Snapshot, path: &Path) -> Result<ObjectSet, RenderError> {
        let objects = self.inner.render(snapshot, path)?;
        self.substitution
            .apply(objects)
            .map_err(|e| RenderError::other(driftless_render::Error::from(e)))
    }
}

/// A file of variables for substitution (`--substitute-from`, `substituteFrom` with
/// `kind: File`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarsFile {
    /// The file: a ConfigMap or Secret manifest (its `data`, and `stringData`), or
    /// `KEY=value` lines. SOPS-encrypted files are decrypted first.
    pub path: PathBuf,
    /// A missing file is skipped instead of being an error.
    pub optional: bool,
}

/// The variables of `files` (in order, later ones overriding earlier ones), then the
/// `inline` ones over them, as Flux merges `substituteFrom` and `substitute`.
pub fn substitution(
    files: &[VarsFile],
    inline: &[(String, String)],
    strict: bool,
    decryptor: Option<&Decryptor>,
) -> Result<Substitution, Error> {
    let mut substitution = Substitution::new().strict(strict);
    for file in files {
        let bytes = match std::fs::read(&file.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && file.optional => {
                tracing::debug!(file = %file.path.display(), "optional variables file missing");
                continue;
            }
            result => result.map_err(|source| Error::Read {
                path: file.path.clone(),
                source,
            })?,
        };
        let bytes = match decryptor {
            Some(decryptor) => decryptor.decrypt(&file.path, bytes)?,
            None => bytes,
        };
        for (name, value) in vars_in(&file.path, &bytes)? {
            substitution.set(name, &value)?;
        }
    }
    for (name, value) in inline {
        substitution.set(name.clone(), value)?;
    }
    Ok(substitution)
}

/// The variables a file holds: a ConfigMap's or Secret's data, or dotenv lines.
fn vars_in(path: &Path, bytes: &[u8]) -> Result<Vec<(String, String)>, Error> {
    let invalid = |message: String| Error::Vars {
        path: path.to_owned(),
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|_| invalid("not UTF-8 text".to_owned()))?;
    let manifest = driftless_core::yaml::from_str_multi(text)
        .ok()
        .and_then(|docs| docs.into_iter().next())
        .filter(|doc| doc.get("kind").is_some() && doc.get("apiVersion").is_some());
    let Some(manifest) = manifest else {
        return dotenv(text).map_err(invalid);
    };
    let kind = manifest["kind"].as_str().unwrap_or_default();
    let mut vars = Vec::new();
    let entries = |field: &str| {
        manifest
            .get(field)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
    };
    match kind {
        "ConfigMap" => vars.extend(entries("data")),
        "Secret" => {
            for (key, encoded) in entries("data") {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| invalid(format!("data.{key} is not base64 of UTF-8 text")))?;
                vars.push((key, decoded));
            }
            vars.extend(entries("stringData"));
        }
        other => {
            return Err(invalid(format!(
                "a {other} holds no variables: use a ConfigMap, a Secret or KEY=value lines"
            )));
        }
    }
    Ok(vars)
}

/// `KEY=value` lines; blank lines and `#` comments skipped, `export ` allowed, one pair
/// of surrounding quotes removed.
fn dotenv(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut vars = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {} is not KEY=value", index + 1))?;
        let value = value.trim();
        let value = ['"', '\'']
            .iter()
            .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
            .unwrap_or(value);
        vars.push((key.trim().to_owned(), value.to_owned()));
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_then_inline_later_wins() {
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join("vars.env");
        std::fs::write(
            &env,
            "# cluster\nexport cluster=eu-1\nregion=\"eu\"\nreplicas=2\n",
        )
        .unwrap();
        let cm = dir.path().join("cm.yaml");
        std::fs::write(
            &cm,
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: v}\ndata: {replicas: '3'}\n",
        )
        .unwrap();
        let secret = dir.path().join("secret.yaml");
        std::fs::write(&secret, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {token: dG9r}\nstringData: {user: me}\n").unwrap();
        let files = [
            VarsFile {
                path: env,
                optional: false,
            },
            VarsFile {
                path: cm,
                optional: false,
            },
            VarsFile {
                path: secret,
                optional: false,
            },
            VarsFile {
                path: dir.path().join("missing.env"),
                optional: true,
            },
        ];
        let inline = [("region".to_owned(), "us".to_owned())];
        let substitution = substitution(&files, &inline, false, None).unwrap();
        let vars: Vec<(&str, &str)> = substitution
            .vars()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            vars,
            [
                ("cluster", "eu-1"),
                ("region", "us"),
                ("replicas", "3"),
                ("token", "tok"),
                ("user", "me")
            ]
        );
        let missing = [VarsFile {
            path: dir.path().join("missing.env"),
            optional: false,
        }];
        let error = super::substitution(&missing, &[], false, None).unwrap_err();
        assert!(error.to_string().contains("missing.env"), "{error}");
        let bad_name = [("a-b".to_owned(), "x".to_owned())];
        assert!(super::substitution(&[], &bad_name, false, None).is_err());
    }
}
