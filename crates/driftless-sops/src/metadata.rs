//! The `sops` metadata of a file: which values are encrypted, the wrapped data keys,
//! the MAC.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use regex::Regex;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::cache::Cache;
use crate::{Error, Identities};

/// Which values sops encrypted (its `shouldBeEncrypted`), and what the MAC covers.
#[derive(Debug, Default)]
pub(crate) struct Rules {
    unencrypted_suffix: Option<String>,
    encrypted_suffix: Option<String>,
    unencrypted_regex: Option<Arc<Regex>>,
    encrypted_regex: Option<Arc<Regex>>,
    pub(crate) mac_only_encrypted: bool,
}

impl Rules {
    /// Whether the value at `path` is encrypted, with sops' precedence: each rule given
    /// overrides the ones before it.
    pub(crate) fn should_encrypt(&self, path: &[String]) -> bool {
        let mut encrypted = true;
        if let Some(suffix) = &self.unencrypted_suffix
            && path.iter().any(|p| p.ends_with(suffix.as_str()))
        {
            encrypted = false;
        }
        if let Some(suffix) = &self.encrypted_suffix {
            encrypted = path.iter().any(|p| p.ends_with(suffix.as_str()));
        }
        if let Some(regex) = &self.unencrypted_regex
            && path.iter().any(|p| regex.is_match(p))
        {
            encrypted = false;
        }
        if let Some(regex) = &self.encrypted_regex {
            encrypted = path.iter().any(|p| regex.is_match(p));
        }
        encrypted
    }
}

/// The parsed `sops` metadata.
#[derive(Debug)]
pub(crate) struct Metadata {
    pub(crate) rules: Rules,
    /// age recipients and their wrapped data keys (armored age files).
    age: Vec<(String, String)>,
    /// Kinds of other keys the data key is wrapped with (`pgp`, `kms`, …).
    other_kinds: Vec<&'static str>,
    pub(crate) lastmodified: String,
    pub(crate) mac: String,
}

/// The key kinds sops knows besides age.
const OTHER_KINDS: [&str; 6] = ["pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms"];

impl Metadata {
    /// Reads the metadata from the value of the `sops` key.
    pub(crate) fn from_json(file: &Path, value: &Value, cache: &Cache) -> Result<Self, Error> {
        let invalid = |message: String| Error::Metadata {
            path: file.to_owned(),
            message,
        };
        let map = value
            .as_object()
            .ok_or_else(|| invalid("`sops` is not a mapping".to_owned()))?;
        for feature in ["unencrypted_comment_regex", "encrypted_comment_regex"] {
            if non_empty_str(map, feature).is_some() {
                return Err(Error::Unsupported {
                    path: file.to_owned(),
                    feature: format!("`{feature}` (comments are not read)"),
                });
            }
        }
        let regex = |field: &str| -> Result<Option<Arc<Regex>>, Error> {
            non_empty_str(map, field)
                .map(|text| {
                    cache
                        .regex(text)
                        .map_err(|e| invalid(format!("{field}: {e}")))
                })
                .transpose()
        };
        let rules = Rules {
            unencrypted_suffix: non_empty_str(map, "unencrypted_suffix").map(str::to_owned),
            encrypted_suffix: non_empty_str(map, "encrypted_suffix").map(str::to_owned),
            unencrypted_regex: regex("unencrypted_regex")?,
            encrypted_regex: regex("encrypted_regex")?,
            mac_only_encrypted: match map.get("mac_only_encrypted") {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => s == "true",
                _ => false,
            },
        };
        let (age, other_kinds) = key_stanzas(file, map)?;
        let field = |name: &str| {
            non_empty_str(map, name)
                .map(str::to_owned)
                .ok_or_else(|| invalid(format!("`{name}` is missing")))
        };
        Ok(Self {
            rules,
            age,
            other_kinds,
            lastmodified: go_rfc3339(&field("lastmodified")?),
            mac: field("mac")?,
        })
    }

    /// Unwraps the data key with the first identity that opens one of the age stanzas,
    /// or takes it from `cache` when one of the stanzas was opened before.
    pub(crate) fn data_key(
        &self,
        file: &Path,
        identities: &Identities,
        cache: &Cache,
    ) -> Result<Zeroizing<[u8; 32]>, Error> {
        if self.age.is_empty() {
            return Err(Error::UnsupportedKeys {
                path: file.to_owned(),
                kinds: if self.other_kinds.is_empty() {
                    "no key at all".to_owned()
                } else {
                    self.other_kinds.join(", ")
                },
            });
        }
        let digests: Vec<[u8; 32]> = self.age.iter().map(|(_, w)| Cache::digest(w)).collect();
        if let Some(key) = digests.iter().find_map(|digest| cache.key(digest)) {
            return Ok(key);
        }
        for ((_, wrapped), digest) in self.age.iter().zip(digests) {
            if let Some(key) = unwrap(wrapped, identities) {
                cache.remember_key(digest, &key);
                return Ok(key);
            }
        }
        let recipients: Vec<&str> = self.age.iter().map(|(r, _)| r.as_str()).collect();
        Err(Error::NoUsableKey {
            path: file.to_owned(),
            recipients: recipients.join(", "),
        })
    }
}

/// Opens one armored age file holding a 32-byte data key; `None` when no identity fits.
fn unwrap(wrapped: &str, identities: &Identities) -> Option<Zeroizing<[u8; 32]>> {
    let reader = age::armor::ArmoredReader::new(wrapped.as_bytes());
    let decryptor = age::Decryptor::new(reader).ok()?;
    let mut stream = decryptor.decrypt(identities.as_age()).ok()?;
    let mut plain = Zeroizing::new(Vec::with_capacity(32));
    stream.read_to_end(&mut plain).ok()?;
    let mut key = Zeroizing::new([0u8; 32]);
    if plain.len() != key.len() {
        return None;
    }
    key.copy_from_slice(&plain);
    Some(key)
}

/// The age stanzas (recipient, wrapped key) and the other kinds of keys, from the
/// top-level lists or from a single key group. Several key groups (Shamir) are refused.
#[allow(clippy::type_complexity)]
fn key_stanzas(
    file: &Path,
    map: &Map<String, Value>,
) -> Result<(Vec<(String, String)>, Vec<&'static str>), Error> {
    let group = match map.get("key_groups").and_then(Value::as_array) {
        Some(groups) if groups.len() > 1 => {
            return Err(Error::Unsupported {
                path: file.to_owned(),
                feature: format!(
                    "Shamir secret sharing over {} key groups (use one key group)",
                    groups.len()
                ),
            });
        }
        Some(groups) => groups.first().and_then(Value::as_object).unwrap_or(map),
        None => map,
    };
    let mut age = Vec::new();
    for stanza in group
        .get("age")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let recipient = stanza
            .get("recipient")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let enc = stanza
            .get("enc")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Metadata {
                path: file.to_owned(),
                message: format!("the age stanza of {recipient:?} has no `enc`"),
            })?;
        age.push((recipient.to_owned(), enc.to_owned()));
    }
    let other_kinds = OTHER_KINDS
        .into_iter()
        .filter(|kind| {
            group
                .get(*kind)
                .and_then(Value::as_array)
                .is_some_and(|list| !list.is_empty())
        })
        .collect();
    Ok((age, other_kinds))
}

fn non_empty_str<'a>(map: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    map.get(field)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
}

/// `lastmodified` as sops uses it for the MAC's additional data: Go's
/// `time.Format(time.RFC3339)` of the parsed time, i.e. without fractional seconds and
/// with `Z` for UTC.
fn go_rfc3339(text: &str) -> String {
    let (main, zone) = match text
        .find(['Z', 'z', '+'])
        .or_else(|| text.rfind('-').filter(|&i| i > 10))
    {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let main = main.split('.').next().unwrap_or(main);
    let zone = match zone {
        "z" | "+00:00" => "Z",
        zone => zone,
    };
    format!("{main}{zone}")
}

/// Rebuilds the nested metadata from the flat keys dotenv and INI files carry
/// (`age__list_0__map_enc`), as sops' `UnflattenMetadata` does. Escaped newlines in
/// values are turned back into newlines.
pub(crate) fn unflatten<'a>(flat: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
    let mut root = Value::Object(Map::new());
    for (key, value) in flat {
        let mut parts = key.split("__");
        let Some(first) = parts.next() else { continue };
        let mut steps = vec![Step::Key(first.to_owned())];
        for part in parts {
            if let Some(index) = part.strip_prefix("list_").and_then(|i| i.parse().ok()) {
                steps.push(Step::Index(index));
            } else if let Some(name) = part.strip_prefix("map_") {
                steps.push(Step::Key(name.to_owned()));
            } else {
                steps.push(Step::Key(part.to_owned()));
            }
        }
        set(&mut root, &steps, Value::String(value.replace("\\n", "\n")));
    }
    root
}

enum Step {
    Key(String),
    Index(usize),
}

fn set(node: &mut Value, steps: &[Step], value: Value) {
    let Some((step, rest)) = steps.split_first() else {
        *node = value;
        return;
    };
    let child = match step {
        Step::Key(key) => {
            if !node.is_object() {
                *node = Value::Object(Map::new());
            }
            let Value::Object(map) = node else { return };
            map.entry(key.clone()).or_insert(Value::Null)
        }
        Step::Index(index) => {
            if !node.is_array() {
                *node = Value::Array(Vec::new());
            }
            let Value::Array(list) = node else { return };
            if list.len() <= *index {
                list.resize(index + 1, Value::Null);
            }
            &mut list[*index]
        }
    };
    set(child, rest, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_follow_sops_precedence() {
        let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let rules = Rules {
            unencrypted_suffix: Some("_unencrypted".into()),
            ..Rules::default()
        };
        assert!(rules.should_encrypt(&path(&["data", "password"])));
        assert!(!rules.should_encrypt(&path(&["data_unencrypted", "password"])));
        let rules = Rules {
            encrypted_regex: Some(Arc::new(Regex::new("^(data|stringData)$").unwrap())),
            ..Rules::default()
        };
        assert!(rules.should_encrypt(&path(&["stringData", "password"])));
        assert!(!rules.should_encrypt(&path(&["metadata", "name"])));
        let rules = Rules {
            encrypted_suffix: Some("_secret".into()),
            ..Rules::default()
        };
        assert!(rules.should_encrypt(&path(&["db_secret", "x"])));
        assert!(!rules.should_encrypt(&path(&["db", "x"])));
    }

    #[test]
    fn rfc3339_is_normalized_like_go() {
        assert_eq!(go_rfc3339("2024-05-01T10:00:00Z"), "2024-05-01T10:00:00Z");
        assert_eq!(
            go_rfc3339("2024-05-01T10:00:00.123Z"),
            "2024-05-01T10:00:00Z"
        );
        assert_eq!(
            go_rfc3339("2024-05-01T10:00:00+00:00"),
            "2024-05-01T10:00:00Z"
        );
        assert_eq!(
            go_rfc3339("2024-05-01T10:00:00-05:00"),
            "2024-05-01T10:00:00-05:00"
        );
    }

    #[test]
    fn unflattens_like_sops() {
        let value = unflatten([
            ("age__list_0__map_recipient", "age1x"),
            ("age__list_0__map_enc", "a\\nb"),
            ("mac", "ENC[…]"),
        ]);
        assert_eq!(
            value,
            serde_json::json!({"age": [{"recipient": "age1x", "enc": "a\nb"}], "mac": "ENC[…]"})
        );
    }
}
