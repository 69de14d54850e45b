//! What a [`Decryptor`](crate::Decryptor) remembers between files: unwrapped data keys,
//! compiled rules and the plaintext of files already decrypted, so that a file read
//! again costs no age work, and an unchanged file no work beyond a digest.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use regex::Regex;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Entries kept at most, per map; past it the map starts over (a tree has one data key
/// per encrypted file, so this holds every key of any real repository).
const LIMIT: usize = 16_384;

/// Plaintext bytes kept at most; past it the plaintexts start over.
const PLAINTEXT_LIMIT: usize = 64 << 20;

/// Data keys by the SHA-256 of the wrapped (age-encrypted) key they came from, and
/// rules' regular expressions by their text. In memory only; `Debug` shows sizes.
#[derive(Default)]
pub(crate) struct Cache {
    keys: Mutex<HashMap<[u8; 32], Zeroizing<[u8; 32]>>>,
    // Shared, not cloned: a cloned `Regex` starts with an empty matching cache, and
    // building that again for every file showed in the render's profile.
    regexes: Mutex<HashMap<String, Arc<Regex>>>,
    plaintexts: Mutex<Plaintexts>,
}

/// What files decrypted to, by the digest of their format and encrypted bytes: the
/// same bytes decrypt to the same plaintext, their MAC having been checked once. It
/// holds nothing a data key kept beside the repository would not give.
#[derive(Default)]
struct Plaintexts {
    by_digest: HashMap<[u8; 32], Zeroizing<Vec<u8>>>,
    bytes: usize,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("keys", &lock(&self.keys).len())
            .field("regexes", &lock(&self.regexes).len())
            .field("plaintexts", &lock(&self.plaintexts).by_digest.len())
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn bounded_insert<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= LIMIT {
        map.clear();
    }
    map.insert(key, value);
}

impl Cache {
    /// The digest a wrapped key is remembered by.
    pub(crate) fn digest(wrapped: &str) -> [u8; 32] {
        Sha256::digest(wrapped.as_bytes()).into()
    }

    /// The data key unwrapped before from the wrapped key of this digest.
    pub(crate) fn key(&self, digest: &[u8; 32]) -> Option<Zeroizing<[u8; 32]>> {
        lock(&self.keys).get(digest).cloned()
    }

    /// Remembers the data key unwrapped from the wrapped key of this digest.
    pub(crate) fn remember_key(&self, digest: [u8; 32], key: &Zeroizing<[u8; 32]>) {
        bounded_insert(&mut lock(&self.keys), digest, key.clone());
    }

    /// The compiled `text`, compiled once.
    pub(crate) fn regex(&self, text: &str) -> Result<Arc<Regex>, regex::Error> {
        if let Some(regex) = lock(&self.regexes).get(text) {
            return Ok(regex.clone());
        }
        let regex = Arc::new(Regex::new(text)?);
        bounded_insert(&mut lock(&self.regexes), text.to_owned(), regex.clone());
        Ok(regex)
    }

    /// The digest a file's plaintext is remembered by.
    pub(crate) fn file_digest(format: &str, bytes: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(format.as_bytes());
        hasher.update([0]);
        hasher.update(bytes);
        hasher.finalize().into()
    }

    /// What the file of this digest decrypted to before.
    pub(crate) fn plaintext(&self, digest: &[u8; 32]) -> Option<Vec<u8>> {
        let plaintexts = lock(&self.plaintexts);
        plaintexts.by_digest.get(digest).map(|p| p.to_vec())
    }

    /// Remembers what the file of this digest decrypted to.
    pub(crate) fn remember_plaintext(&self, digest: [u8; 32], plaintext: &[u8]) {
        let mut plaintexts = lock(&self.plaintexts);
        if plaintexts.by_digest.len() >= LIMIT
            || plaintexts.bytes + plaintext.len() > PLAINTEXT_LIMIT
        {
            *plaintexts = Plaintexts::default();
        }
        plaintexts.bytes += plaintext.len();
        let kept = Zeroizing::new(plaintext.to_vec());
        plaintexts.by_digest.insert(digest, kept);
    }
}
