//! SOPS decryption for driftless: YAML, JSON, dotenv and INI files encrypted by
//! [sops](https://github.com/getsops/sops) with age recipients, decrypted in memory.
//!
//! A [`Decryptor`] holds age [`Identities`] (from files, from `SOPS_AGE_KEY_FILE` /
//! `SOPS_AGE_KEY`, or from strings such as the data of a Kubernetes Secret). Given a
//! file's bytes it returns the plaintext bytes sops would print with `sops -d`, after
//! checking the file's MAC exactly as sops does; a file that is not SOPS-encrypted is
//! handed back untouched. Nothing is written anywhere: plaintext exists only in the
//! returned buffer, and errors name the file and field, never a value.
//!
//! ```
//! use std::path::Path;
//! use driftless_sops::{Decryptor, Identities};
//!
//! let decryptor = Decryptor::new(Identities::default());
//! let plain = b"apiVersion: v1\nkind: ConfigMap\n".to_vec();
//! // Not encrypted: returned as it is, without being parsed.
//! assert_eq!(decryptor.decrypt(Path::new("cm.yaml"), plain.clone())?, plain);
//! # Ok::<(), driftless_sops::Error>(())
//! ```
//!
//! `Decryptor` is a [`driftless_render::Decoder`]: set on a renderer, every file it reads
//! as a resource, a patch or a generator input is decrypted on the way.
//!
//! Only age keys are supported: a file whose data key is wrapped only with OpenPGP,
//! a cloud KMS or Vault is refused with an error that says so, and so are Shamir key
//! groups and the comment-regex rules (`encrypted_comment_regex`).

mod cache;
mod cipher;
mod error;
mod format;
mod identity;
mod metadata;
mod tree;

use std::path::Path;
use std::sync::Arc;

pub use error::Error;
pub use format::Format;
pub use identity::{Identities, SOPS_AGE_KEY, SOPS_AGE_KEY_FILE};

use metadata::Metadata;

/// The annotation (and label) with which Flux leaves an object encrypted.
pub const FLUX_DECRYPT_KEY: &str = "kustomize.toolkit.fluxcd.io/decrypt";
/// driftless' own annotation (and label) to leave an object encrypted.
pub const DECRYPT_KEY: &str = "driftless.dev/decrypt";

/// Decrypts SOPS files with a set of age identities. Cheap to clone; clones share
/// what was learnt while decrypting (see [`cache`](Self::new)).
#[derive(Debug, Clone, Default)]
pub struct Decryptor {
    identities: Arc<Identities>,
    cache: Arc<cache::Cache>,
}

/// Whether `bytes` look like a SOPS-encrypted file: every such file carries an
/// encrypted MAC, so a file without `ENC[AES256_GCM,` is not one. This is the cheap
/// test run on every file before anything is parsed.
pub fn looks_encrypted(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, b"ENC[AES256_GCM,").is_some()
}

impl Decryptor {
    /// A decryptor using these identities.
    ///
    /// It remembers, in memory only, the data keys it unwrapped (by the wrapped key's
    /// digest), the regular expressions of the files' rules, and what each file
    /// decrypted to (by the digest of its bytes, up to 64 MiB of plaintext). A file
    /// decrypted again with other bytes (a Secret changed in the next commit) costs no
    /// age (X25519) work, and its MAC is checked; a file with the same bytes (the next
    /// render of a tree whose Secrets did not change) costs a SHA-256 of the file.
    /// Nothing is written anywhere; the plaintext is zeroed when it is dropped.
    pub fn new(identities: Identities) -> Self {
        Self {
            identities: Arc::new(identities),
            cache: Arc::default(),
        }
    }

    /// The identities.
    pub fn identities(&self) -> &Identities {
        &self.identities
    }

    /// Decrypts `bytes`, the contents of `path` (the format follows its extension), into
    /// what `sops -d` prints. A file that is not SOPS-encrypted, or one of whose YAML
    /// documents is annotated or labelled `kustomize.toolkit.fluxcd.io/decrypt:
    /// disabled` (or `driftless.dev/decrypt: disabled`), is returned as it is.
    pub fn decrypt(&self, path: &Path, bytes: Vec<u8>) -> Result<Vec<u8>, Error> {
        if !looks_encrypted(&bytes) {
            return Ok(bytes);
        }
        let format = Format::from_path(path);
        let digest = cache::Cache::file_digest(format.name(), &bytes);
        if let Some(plaintext) = self.cache.plaintext(&digest) {
            return Ok(plaintext);
        }
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return Ok(bytes);
        };
        let parsed = match format::parse(format, path, text) {
            Ok(parsed) => parsed,
            // Any other file is a SOPS file only if it is JSON (sops' binary format).
            Err(_) if format == Format::Binary => return Ok(bytes),
            Err(error) => return Err(error),
        };
        let Some(metadata) = parsed.metadata else {
            return Ok(bytes);
        };
        if parsed.branches.iter().any(opted_out) {
            tracing::debug!(file = %path.display(), "decryption disabled by annotation");
            return Ok(bytes);
        }
        let metadata = Metadata::from_json(path, &metadata, &self.cache)?;
        let mut branches = parsed.branches;
        let key = metadata.data_key(path, &self.identities, &self.cache)?;
        let computed = tree::decrypt_branches(path, &mut branches, &metadata.rules, &key)?;
        let Ok(cipher::Scalar::Str(stored)) =
            cipher::decrypt(&metadata.mac, &key, &metadata.lastmodified)
        else {
            return Err(Error::MacMismatch {
                path: path.to_owned(),
            });
        };
        if stored != computed {
            return Err(Error::MacMismatch {
                path: path.to_owned(),
            });
        }
        tracing::debug!(file = %path.display(), format = format.name(), "decrypted");
        let plaintext = format::emit(format, path, branches)?;
        self.cache.remember_plaintext(digest, &plaintext);
        Ok(plaintext)
    }
}

/// The renderers' hook: every file they read as a resource, a patch or a generator
/// input is decrypted when it is a SOPS file.
impl driftless_render::Decoder for Decryptor {
    fn decode(
        &self,
        path: &Path,
        bytes: Vec<u8>,
    ) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.decrypt(path, bytes)?)
    }
}

/// Whether a document opts out of decryption with Flux's key or ours, as an annotation
/// or a label.
fn opted_out(document: &tree::Node) -> bool {
    let metadata = document.get("metadata");
    [FLUX_DECRYPT_KEY, DECRYPT_KEY].iter().any(|key| {
        ["annotations", "labels"].iter().any(|field| {
            matches!(
                metadata.and_then(|m| m.get(field)).and_then(|m| m.get(key)),
                Some(tree::Node::Scalar(cipher::Scalar::Str(value))) if value == "disabled"
            )
        })
    })
}
