//! The document tree sops encrypts, and the walk that decrypts it and computes its MAC
//! exactly as sops does (`Tree.Decrypt` in sops' `sops.go`).

use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha512};

use crate::Error;
use crate::cipher::{self, Scalar};
use crate::metadata::Rules;

/// A node of a document. Map entries keep their order: the MAC covers it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Scalar(Scalar),
    Map(Vec<Item>),
    List(Vec<Node>),
}

/// An entry of a map: a key and its value, or a comment line (dotenv).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    Pair(String, Node),
    Comment(String),
}

/// sops' `MACOnlyEncryptedInitialization`: sha256("sops"), hashed first when only
/// encrypted values are covered by the MAC.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

impl Node {
    /// A JSON value as a tree (YAML is read into JSON values first).
    pub(crate) fn from_json(value: Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Scalar(Scalar::Bool(b)),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Self::Scalar(Scalar::Int(i)),
                None => Self::Scalar(Scalar::Float(n.as_f64().unwrap_or(f64::NAN))),
            },
            Value::String(s) => Self::Scalar(Scalar::Str(s)),
            Value::Array(items) => Self::List(items.into_iter().map(Self::from_json).collect()),
            Value::Object(map) => Self::Map(
                map.into_iter()
                    .map(|(k, v)| Item::Pair(k, Self::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// The value under `key`, if this is a map holding it.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        let Self::Map(items) = self else { return None };
        items.iter().find_map(|item| match item {
            Item::Pair(k, v) if k == key => Some(v),
            _ => None,
        })
    }

    /// The tree as a JSON value; comments are dropped, integral floats become integers
    /// (as Go's encoders write them), bytes become (lossy) strings.
    pub(crate) fn into_json(self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Scalar(Scalar::Str(s)) => Value::String(s),
            Self::Scalar(Scalar::Bytes(b)) => {
                Value::String(String::from_utf8_lossy(&b).into_owned())
            }
            Self::Scalar(Scalar::Bool(b)) => Value::Bool(b),
            Self::Scalar(Scalar::Int(i)) => Value::from(i),
            #[allow(clippy::cast_possible_truncation)] // checked: integral and in range
            Self::Scalar(Scalar::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                Value::from(f as i64)
            }
            Self::Scalar(Scalar::Float(f)) => {
                serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
            }
            Self::List(items) => Value::Array(items.into_iter().map(Self::into_json).collect()),
            Self::Map(items) => Value::Object(
                items
                    .into_iter()
                    .filter_map(|item| match item {
                        Item::Pair(k, v) => Some((k, v.into_json())),
                        Item::Comment(_) => None,
                    })
                    .collect(),
            ),
        }
    }
}

/// Decrypts every branch in place and returns the MAC sops would compute over them: the
/// upper-case hex SHA-512 of the values in document order.
pub(crate) fn decrypt_branches(
    file: &Path,
    branches: &mut [Node],
    rules: &Rules,
    key: &[u8; 32],
) -> Result<String, Error> {
    let mut walker = Walker {
        file,
        rules,
        key,
        hasher: Sha512::new(),
        path: Vec::new(),
    };
    if rules.mac_only_encrypted {
        walker.hasher.update(MAC_ONLY_ENCRYPTED_INIT);
    }
    for branch in branches {
        walker.node(branch)?;
    }
    Ok(hex_upper(&walker.hasher.finalize()))
}

fn hex_upper(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

struct Walker<'a> {
    file: &'a Path,
    rules: &'a Rules,
    key: &'a [u8; 32],
    hasher: Sha512,
    path: Vec<String>,
}

impl Walker<'_> {
    fn node(&mut self, node: &mut Node) -> Result<(), Error> {
        match node {
            // sops leaves nulls out of the walk, and so out of the MAC.
            Node::Null => Ok(()),
            Node::Scalar(scalar) => self.leaf(scalar),
            // List items share their list's path: sops adds no index.
            Node::List(items) => items.iter_mut().try_for_each(|item| self.node(item)),
            Node::Map(items) => items.iter_mut().try_for_each(|item| self.item(item)),
        }
    }

    fn item(&mut self, item: &mut Item) -> Result<(), Error> {
        match item {
            Item::Pair(key, value) => {
                self.path.push(key.clone());
                let result = self.node(value);
                self.path.pop();
                result
            }
            // Comments are never part of the MAC; sops keeps one it cannot decrypt as it is.
            Item::Comment(text) => {
                if self.rules.should_encrypt(&self.path)
                    && let Ok(Scalar::Str(plain)) = cipher::decrypt(text, self.key, &self.aad())
                {
                    *text = plain;
                }
                Ok(())
            }
        }
    }

    fn leaf(&mut self, scalar: &mut Scalar) -> Result<(), Error> {
        let encrypted = self.rules.should_encrypt(&self.path);
        if encrypted {
            let Scalar::Str(text) = &*scalar else {
                return Err(self
                    .value_error("it is not encrypted, though the file's rules say it should be"));
            };
            *scalar =
                cipher::decrypt(text, self.key, &self.aad()).map_err(|e| self.value_error(&e.0))?;
        }
        if encrypted || !self.rules.mac_only_encrypted {
            self.hasher.update(scalar.mac_bytes());
        }
        Ok(())
    }

    /// sops' additional data: the path joined with `:`, ending in `:`.
    fn aad(&self) -> String {
        let mut aad = self.path.join(":");
        aad.push(':');
        aad
    }

    fn value_error(&self, reason: &str) -> Error {
        Error::Value {
            path: self.file.to_owned(),
            field: self.path.join(":"),
            reason: reason.to_owned(),
        }
    }
}
