//! Values as sops encrypts them: `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`, AES-256-GCM
//! with a 32-byte nonce and the value's path as additional data.

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// AES-256-GCM with the 32-byte nonces sops writes.
type SopsGcm = aes_gcm::AesGcm<Aes256, U32>;

/// A leaf of a SOPS tree, typed as sops types it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Bytes(Vec<u8>),
}

impl Scalar {
    /// The bytes sops feeds the MAC for this value (its `ToBytes`).
    pub(crate) fn mac_bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        match self {
            Self::Str(s) => s.as_bytes().into(),
            Self::Bytes(b) => b.as_slice().into(),
            Self::Int(i) => i.to_string().into_bytes().into(),
            Self::Float(f) => go_float(*f).into_bytes().into(),
            Self::Bool(true) => b"True".as_slice().into(),
            Self::Bool(false) => b"False".as_slice().into(),
        }
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest decimal that reads back to
/// `f`, never in exponent form — which is what Rust's `Display` writes too.
pub(crate) fn go_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        f.to_string()
    }
}

/// Why a value could not be decrypted. Never holds the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CipherError(pub(crate) String);

/// Decrypts one value with the data key; `aad` is the value's path joined with `:` and
/// ending in `:` (sops' additional data). An empty string is not encrypted by sops and
/// stays empty. A decrypted comment comes back as a string.
pub(crate) fn decrypt(text: &str, key: &[u8; 32], aad: &str) -> Result<Scalar, CipherError> {
    if text.is_empty() {
        return Ok(Scalar::Str(String::new()));
    }
    let fields = parse(text)?;
    let cipher = SopsGcm::new(GenericArray::from_slice(key));
    if fields.iv.len() != 32 {
        return Err(CipherError(format!(
            "the IV is {} bytes long, sops writes 32",
            fields.iv.len()
        )));
    }
    let mut sealed = fields.data;
    sealed.extend_from_slice(&fields.tag);
    let plain = cipher
        .decrypt(
            GenericArray::from_slice(&fields.iv),
            Payload {
                msg: &sealed,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| {
            CipherError(
                "authentication failed (wrong key, or the value was changed or moved)".to_owned(),
            )
        })?;
    typed(plain, fields.kind)
}

struct Fields<'a> {
    data: Vec<u8>,
    iv: Vec<u8>,
    tag: Vec<u8>,
    kind: &'a str,
}

fn parse(text: &str) -> Result<Fields<'_>, CipherError> {
    let bad = || CipherError("not of the form ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]".to_owned());
    let inner = text
        .strip_prefix("ENC[AES256_GCM,")
        .and_then(|rest| rest.strip_suffix(']'))
        .ok_or_else(bad)?;
    let mut parts = inner.splitn(4, ',');
    let mut field = |name: &str| {
        parts
            .next()
            .and_then(|part| part.strip_prefix(name))
            .and_then(|part| part.strip_prefix(':'))
            .ok_or_else(bad)
    };
    let (data, iv, tag, kind) = (field("data")?, field("iv")?, field("tag")?, field("type")?);
    let decode = |name: &str, value: &str| {
        STANDARD
            .decode(value)
            .map_err(|e| CipherError(format!("its {name} is not base64: {e}")))
    };
    Ok(Fields {
        data: decode("data", data)?,
        iv: decode("iv", iv)?,
        tag: decode("tag", tag)?,
        kind,
    })
}

fn typed(plain: Vec<u8>, kind: &str) -> Result<Scalar, CipherError> {
    if kind == "bytes" {
        return Ok(Scalar::Bytes(plain));
    }
    let text = String::from_utf8(plain)
        .map_err(|_| CipherError(format!("a value of type {kind} is not UTF-8")))?;
    let wrong = |kind: &str| CipherError(format!("the decrypted value is not a valid {kind}"));
    match kind {
        "str" | "comment" => Ok(Scalar::Str(text)),
        "int" | "int64" => text.parse().map(Scalar::Int).map_err(|_| wrong(kind)),
        "float" => text.parse().map(Scalar::Float).map_err(|_| wrong(kind)),
        // Go's strconv.ParseBool.
        "bool" => match text.as_str() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(Scalar::Bool(true)),
            "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(Scalar::Bool(false)),
            _ => Err(wrong(kind)),
        },
        other => Err(CipherError(format!("unknown value type {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(plain: &str, key: &[u8; 32], aad: &str, kind: &str) -> String {
        let cipher = SopsGcm::new(GenericArray::from_slice(key));
        let iv = [7u8; 32];
        let sealed = cipher
            .encrypt(
                GenericArray::from_slice(&iv),
                Payload {
                    msg: plain.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .unwrap();
        let (data, tag) = sealed.split_at(sealed.len() - 16);
        format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{kind}]",
            STANDARD.encode(data),
            STANDARD.encode(iv),
            STANDARD.encode(tag)
        )
    }

    #[test]
    fn round_trips_every_type() {
        let key = [3u8; 32];
        let cases = [
            ("hello", "str", Scalar::Str("hello".into())),
            ("42", "int", Scalar::Int(42)),
            ("1.5", "float", Scalar::Float(1.5)),
            ("True", "bool", Scalar::Bool(true)),
            ("False", "bool", Scalar::Bool(false)),
        ];
        for (plain, kind, expected) in cases {
            let text = seal(plain, &key, "a:b:", kind);
            assert!(text.starts_with("ENC[AES256_GCM,data:"));
            assert_eq!(decrypt(&text, &key, "a:b:").unwrap(), expected, "{kind}");
        }
        assert_eq!(decrypt("", &key, "a:").unwrap(), Scalar::Str(String::new()));
    }

    #[test]
    fn refuses_a_moved_value_or_a_wrong_key() {
        let key = [3u8; 32];
        let text = seal("secret", &key, "data:password:", "str");
        let moved = decrypt(&text, &key, "data:user:").unwrap_err();
        assert!(moved.0.contains("authentication failed"), "{moved:?}");
        assert!(decrypt(&text, &[4u8; 32], "data:password:").is_err());
        assert!(!format!("{moved:?}").contains("secret"));
        assert!(decrypt("ENC[AES256_GCM,data:x]", &key, "").is_err());
    }

    #[test]
    fn mac_bytes_follow_go() {
        assert_eq!(&*Scalar::Float(1.0).mac_bytes(), b"1");
        assert_eq!(&*Scalar::Float(0.000_000_1).mac_bytes(), b"0.0000001");
        assert_eq!(&*Scalar::Float(1e21).mac_bytes(), b"1000000000000000000000");
        assert_eq!(&*Scalar::Bool(true).mac_bytes(), b"True");
        assert_eq!(&*Scalar::Int(-3).mac_bytes(), b"-3");
    }
}
