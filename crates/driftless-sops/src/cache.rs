//! What a [`Decryptor`](crate::Decryptor) remembers between files: unwrapped data keys
//! and compiled rules, so that a file decrypted again costs no age work.

use std::collections::HashMap;
use std::sync::Mutex;

use regex::Regex;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Entries kept at most, per map; past it the map starts over (a tree has one data key
/// per encrypted file, so this holds every key of any real repository).
const LIMIT: usize = 16_384;

/// Data keys by the SHA-256 of the wrapped (age-encrypted) key they came from, and
/// rules' regular expressions by their text. In memory only; `Debug` shows sizes.
#[derive(Default)]
pub(crate) struct Cache {
    keys: Mutex<HashMap<[u8; 32], Zeroizing<[u8; 32]>>>,
    regexes: Mutex<HashMap<String, Regex>>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("keys", &lock(&self.keys).len())
            .field("regexes", &lock(&self.regexes).len())
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
    pub(crate) fn regex(&self, text: &str) -> Result<Regex, regex::Error> {
        if let Some(regex) = lock(&self.regexes).get(text) {
            return Ok(regex.clone());
        }
        let regex = Regex::new(text)?;
        bounded_insert(&mut lock(&self.regexes), text.to_owned(), regex.clone());
        Ok(regex)
    }
}
