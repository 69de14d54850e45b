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

mod cluster;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use driftless_core::{ObjectSet, RenderError, Renderer, Snapshot};
use driftless_render::RenderMode;
use driftless_render::substitute::Substitution;
use driftless_sops::{Decryptor, Identities};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::Error;

pub use cluster::{Cluster, ObjectKind, ObjectRef};

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

/// Where variables come from (Flux's `substituteFrom`); later sources override
/// earlier ones.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VarsSource {
    /// A file on this machine.
    File(VarsFile),
    /// The data of a ConfigMap or Secret of the app's cluster, read at each reconcile.
    Object {
        /// The object.
        object: ObjectRef,
        /// A missing object is skipped instead of failing the reconcile.
        optional: bool,
    },
}

/// Post-build substitution settings: where variables come from, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Vars {
    /// Sources, in order (later ones win).
    pub sources: Vec<VarsSource>,
    /// Variables given inline; they win over every source (Flux's `substitute`).
    pub inline: Vec<(String, String)>,
    /// Refuse undefined variables without a default.
    pub strict: bool,
}

/// How an app renders when its keys and variables are read at every reconcile, as
/// Flux's kustomize-controller reads `decryption` and `postBuild`: files on this
/// machine and ConfigMaps and Secrets of the app's cluster. A changed ConfigMap takes
/// effect at the next reconcile, even when the revision did not change.
///
/// ```
/// use driftless::postbuild::{PostBuild, Vars};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), driftless::Error> {
/// let mut vars = Vars::default();
/// vars.inline.push(("app".into(), "web".into()));
/// let post_build = PostBuild::default().vars(Some(vars));
/// let inputs = post_build.read().await?;
/// assert_eq!(inputs.options.substitution.unwrap().vars()["app"], "web");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PostBuild {
    /// `auto`, `plain` or `kustomize`.
    pub mode: RenderMode,
    /// SOPS decryption with these identities (and those of
    /// [`key_secret`](Self::key_secret)); `None`: files are read as they are.
    pub identities: Option<Identities>,
    /// A Secret of the cluster whose keys ending in `.agekey` hold age identities
    /// (Flux's `decryption.secretRef`).
    pub key_secret: Option<ObjectRef>,
    /// Substitution; `None`: none.
    pub vars: Option<Vars>,
    /// Where ConfigMaps and Secrets are read: the app's cluster.
    pub cluster: Option<Cluster>,
    /// The decryptor of the last read and the digest of its keys: kept while the keys
    /// do not change, so that the data keys it unwrapped are not unwrapped again.
    last_decryptor: Arc<std::sync::Mutex<Option<KeyedDecryptor>>>,
}

/// A decryptor and the digest of the keys it was made with.
type KeyedDecryptor = ([u8; 32], Decryptor);

/// What a [`PostBuild`] read for one reconcile.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Inputs {
    /// How to render with what was read.
    pub options: RenderOptions,
    /// A digest of everything read (variables and keys), so that a render is reused
    /// only while neither the revision nor these inputs changed. Never shown.
    pub digest: [u8; 32],
}

impl PostBuild {
    /// Sets [`mode`](Self::mode).
    #[must_use]
    pub fn mode(mut self, mode: RenderMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets [`identities`](Self::identities).
    #[must_use]
    pub fn identities(mut self, identities: Option<Identities>) -> Self {
        self.identities = identities;
        self
    }

    /// Sets [`key_secret`](Self::key_secret).
    #[must_use]
    pub fn key_secret(mut self, secret: Option<ObjectRef>) -> Self {
        self.key_secret = secret;
        self
    }

    /// Sets [`vars`](Self::vars).
    #[must_use]
    pub fn vars(mut self, vars: Option<Vars>) -> Self {
        self.vars = vars;
        self
    }

    /// Sets [`cluster`](Self::cluster).
    #[must_use]
    pub fn cluster(mut self, cluster: Option<Cluster>) -> Self {
        self.cluster = cluster;
        self
    }

    /// Whether any input is read from the cluster.
    pub fn reads_cluster(&self) -> bool {
        self.key_secret.is_some()
            || self.vars.iter().any(|vars| {
                vars.sources
                    .iter()
                    .any(|source| matches!(source, VarsSource::Object { .. }))
            })
    }

    /// Reads the keys and variables now and returns how to render with them. A missing
    /// source that is not optional, or a missing key Secret, is an error naming it.
    pub async fn read(&self) -> Result<Inputs, Error> {
        let mut digest = Sha256::new();
        let decryptor = match &self.identities {
            Some(identities) => {
                let mut identities = identities.clone();
                let mut keys = Sha256::new();
                if let Some(secret) = &self.key_secret {
                    self.read_keys(secret, &mut identities, &mut keys).await?;
                }
                let keys: [u8; 32] = keys.finalize().into();
                digest.update(keys);
                Some(self.decryptor(keys, identities))
            }
            None => None,
        };
        let substitution = match &self.vars {
            Some(vars) => Some(self.read_vars(vars, decryptor.as_ref()).await?),
            None => None,
        };
        if let Some(substitution) = &substitution {
            digest.update([u8::from(substitution.is_strict())]);
            for (name, value) in substitution.vars() {
                hash_field(&mut digest, name.as_bytes());
                hash_field(&mut digest, value.as_bytes());
            }
        }
        Ok(Inputs {
            options: RenderOptions::default()
                .mode(self.mode)
                .decryptor(decryptor)
                .substitution(substitution),
            digest: digest.finalize().into(),
        })
    }

    /// The last decryptor when its keys are these, else a new one.
    fn decryptor(&self, keys: [u8; 32], identities: Identities) -> Decryptor {
        let mut last = self
            .last_decryptor
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match last.as_ref() {
            Some((digest, decryptor)) if *digest == keys => decryptor.clone(),
            _ => {
                let decryptor = Decryptor::new(identities);
                *last = Some((keys, decryptor.clone()));
                decryptor
            }
        }
    }

    /// Adds the age identities of the key Secret (its keys ending in `.agekey`).
    async fn read_keys(
        &self,
        secret: &ObjectRef,
        identities: &mut Identities,
        digest: &mut Sha256,
    ) -> Result<(), Error> {
        const ROLE: &str = "decryption.secretRef";
        let (data, namespace) = self.read_object(secret, ROLE).await?;
        let what = || cluster::describe(secret, &namespace, ROLE);
        let Some(data) = data else {
            return Err(Error::PostBuildInput {
                what: what(),
                message: "not found: create it, or fix the name".to_owned(),
                source: None,
            });
        };
        let mut found = 0;
        for (key, value) in data.iter().filter(|(key, _)| key.ends_with(".agekey")) {
            let text = std::str::from_utf8(value).map_err(|_| Error::PostBuildInput {
                what: what(),
                message: format!("{key} is not UTF-8 text"),
                source: None,
            })?;
            identities.add_text(text, &format!("{}, key {key}", what()))?;
            hash_field(digest, key.as_bytes());
            hash_field(digest, value);
            found += 1;
        }
        if found == 0 {
            return Err(Error::PostBuildInput {
                what: what(),
                message: "holds no age identity: put them in keys ending in .agekey".to_owned(),
                source: None,
            });
        }
        tracing::debug!(secret = %what(), keys = found, "read age identities");
        Ok(())
    }

    /// The variables of every source in order, then the inline ones.
    async fn read_vars(
        &self,
        vars: &Vars,
        decryptor: Option<&Decryptor>,
    ) -> Result<Substitution, Error> {
        const ROLE: &str = "postBuild.substituteFrom";
        let mut substitution = Substitution::new().strict(vars.strict);
        for source in &vars.sources {
            let found = match source {
                VarsSource::File(file) => file_vars(file, decryptor)?,
                VarsSource::Object { object, optional } => {
                    let (data, namespace) = self.read_object(object, ROLE).await?;
                    let what = cluster::describe(object, &namespace, ROLE);
                    match data {
                        Some(data) => object_vars(&what, data)?,
                        None if *optional => {
                            tracing::debug!(object = %what, "optional variables source missing");
                            Vec::new()
                        }
                        None => {
                            return Err(Error::PostBuildInput {
                                what,
                                message: "not found: create it, or mark the source optional"
                                    .to_owned(),
                                source: None,
                            });
                        }
                    }
                }
            };
            for (name, value) in found {
                substitution.set(name, &value)?;
            }
        }
        for (name, value) in &vars.inline {
            substitution.set(name.clone(), value)?;
        }
        Ok(substitution)
    }

    /// The data of `object` (`None`: it does not exist) and the namespace it was read in.
    async fn read_object(
        &self,
        object: &ObjectRef,
        role: &str,
    ) -> Result<(Option<cluster::Data>, String), Error> {
        let Some(cluster) = &self.cluster else {
            return Err(Error::PostBuildInput {
                what: format!("{} {} ({role})", object.kind.name(), object.name),
                message: "ConfigMaps and Secrets are read from the app's Kubernetes cluster, \
                          and this app has no kube target"
                    .to_owned(),
                source: None,
            });
        };
        let namespace = object
            .namespace
            .clone()
            .unwrap_or_else(|| cluster.namespace().to_owned());
        let data = cluster.read(object, role).await?;
        Ok((data, namespace))
    }
}

/// Hashes one field with its length, so that fields cannot run into each other.
fn hash_field(digest: &mut Sha256, bytes: &[u8]) {
    digest.update((bytes.len() as u64).to_le_bytes());
    digest.update(bytes);
}

/// The variables of a ConfigMap's or Secret's data: every entry, as text.
fn object_vars(what: &str, data: cluster::Data) -> Result<Vec<(String, String)>, Error> {
    data.into_iter()
        .map(|(key, value)| {
            String::from_utf8(value)
                .map(|text| (key.clone(), text))
                .map_err(|_| Error::PostBuildInput {
                    what: what.to_owned(),
                    message: format!("{key} is not UTF-8 text"),
                    source: None,
                })
        })
        .collect()
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
        for (name, value) in file_vars(file, decryptor)? {
            substitution.set(name, &value)?;
        }
    }
    for (name, value) in inline {
        substitution.set(name.clone(), value)?;
    }
    Ok(substitution)
}

/// The variables of one file, decrypted first when it is a SOPS file; none when it is
/// optional and missing.
fn file_vars(
    file: &VarsFile,
    decryptor: Option<&Decryptor>,
) -> Result<Vec<(String, String)>, Error> {
    let bytes = match std::fs::read(&file.path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && file.optional => {
            tracing::debug!(file = %file.path.display(), "optional variables file missing");
            return Ok(Vec::new());
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
    vars_in(&file.path, &bytes)
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
