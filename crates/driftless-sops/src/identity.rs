//! [`Identities`]: the age keys that unwrap SOPS data keys.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::Error;

/// The variable naming a file of age identities, as sops reads it.
pub const SOPS_AGE_KEY_FILE: &str = "SOPS_AGE_KEY_FILE";
/// The variable holding age identities, as sops reads it.
pub const SOPS_AGE_KEY: &str = "SOPS_AGE_KEY";

/// age X25519 identities (`AGE-SECRET-KEY-1…`), read from files, from the variables sops
/// reads, or from strings (e.g. the data of a Kubernetes Secret). Kept in memory only;
/// `Debug` shows how many there are, never a key.
///
/// ```
/// use driftless_sops::Identities;
///
/// let error = Identities::parse("# a comment\nAGE-SECRET-KEY-1NOTAKEY\n", "keys.txt").unwrap_err();
/// assert!(error.to_string().starts_with("keys.txt, line 2: not an age identity"));
/// assert!(Identities::parse("# only comments\n\n", "keys.txt")?.is_empty());
/// # Ok::<(), driftless_sops::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Identities {
    keys: Vec<age::x25519::Identity>,
}

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identities({} age keys)", self.keys.len())
    }
}

impl Identities {
    /// Identities from text in the format of `age-keygen` output: one
    /// `AGE-SECRET-KEY-1…` a line, blank lines and `#` comments ignored. `origin` names
    /// the text in errors (a file, a variable, a Secret key).
    pub fn parse(text: &str, origin: &str) -> Result<Self, Error> {
        let mut identities = Self::default();
        identities.add_text(text, origin)?;
        Ok(identities)
    }

    /// Adds the identities of `text` (see [`parse`](Self::parse)).
    pub fn add_text(&mut self, text: &str, origin: &str) -> Result<(), Error> {
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = age::x25519::Identity::from_str(line).map_err(|_| Error::Identity {
                origin: origin.to_owned(),
                line: index + 1,
            })?;
            self.keys.push(key);
        }
        Ok(())
    }

    /// Adds the identities of a file.
    pub fn add_file(&mut self, path: &Path) -> Result<(), Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::IdentityFile {
            path: path.to_owned(),
            source,
        })?;
        self.add_text(&text, &path.display().to_string())
    }

    /// The identities sops itself would use: the file named by `SOPS_AGE_KEY_FILE`, the
    /// keys in `SOPS_AGE_KEY`, and sops' default key file
    /// (`$XDG_CONFIG_HOME/sops/age/keys.txt`, else `~/.config/sops/age/keys.txt`) when it
    /// exists.
    pub fn from_env() -> Result<Self, Error> {
        let mut identities = Self::default();
        if let Some(path) = std::env::var_os(SOPS_AGE_KEY_FILE).filter(|p| !p.is_empty()) {
            identities.add_file(Path::new(&path))?;
        }
        if let Ok(text) = std::env::var(SOPS_AGE_KEY) {
            identities.add_text(&text, SOPS_AGE_KEY)?;
        }
        if let Some(path) = default_key_file().filter(|p| p.is_file()) {
            identities.add_file(&path)?;
        }
        Ok(identities)
    }

    /// Adds every identity of `other`.
    pub fn extend(&mut self, other: Identities) {
        self.keys.extend(other.keys);
    }

    /// How many identities there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub(crate) fn as_age(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.keys.iter().map(|key| key as &dyn age::Identity)
    }
}

fn default_key_file() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(config.join("sops").join("age").join("keys.txt"))
}
