//! Reading Kustomize's config types the way Go's `encoding/json` does.
//!
//! Kustomize reads a kustomization file, and most built-in transformer and generator
//! configs, with `sigs.k8s.io/yaml`: the YAML becomes JSON (a Go map, so its keys come
//! out sorted) and `encoding/json` fills the struct. That decoder matches a key to a
//! field by exact name first, else ignoring letter case, and a later key overwrites an
//! earlier one for the same field, except that mappings (Go maps and structs) are
//! filled in further rather than replaced. So `Resources:` is `resources:`, and
//! `commonLabels: {a: "1"}` beside `CommonLabels: {b: "2"}` makes both labels.
//!
//! [`from_value`] deserializes a serde type that way: struct field names (from serde's
//! own field list, renames included) are matched like Go's, and in [`Mode::Lenient`]
//! keys that name no field are dropped, as Go's plain `yaml.Unmarshal` drops them
//! (the kustomization itself is read strictly: unknown keys are errors).
//! Keys of maps (labels, annotations) are data and are never touched.

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{DeserializeOwned, Deserializer, IntoDeserializer, Visitor};
use serde_json::{Map, Value};

/// What happens to a key that names no field of the struct being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Left in place, so a struct that denies unknown fields reports it.
    Strict,
    /// Dropped.
    Lenient,
    /// Dropped, and names match only exactly: how `gopkg.in/yaml` reads the few
    /// configs Kustomize reads with it (`PrefixSuffixTransformer`).
    ExactLenient,
}

/// Deserializes `value` into `T`, matching struct field names as Go's `encoding/json`.
pub(crate) fn from_value<T: DeserializeOwned>(
    value: Value,
    mode: Mode,
) -> Result<T, serde_json::Error> {
    T::deserialize(Folded { value, mode })
}

/// Go's case folding of a field name's characters: ASCII letters ignore case, and the
/// two non-ASCII letters that fold to ASCII ones (the long s and the Kelvin sign) match
/// them.
fn fold_char(c: char) -> char {
    match c {
        '\u{17F}' => 's',
        '\u{212A}' => 'k',
        c => c.to_ascii_lowercase(),
    }
}

fn same_folded(a: &str, b: &str) -> bool {
    a.chars().map(fold_char).eq(b.chars().map(fold_char))
}

/// The field a key fills: the field of that exact name, else the first one equal to it
/// ignoring case.
fn field_for<'f>(key: &str, fields: &[&'f str]) -> Option<&'f str> {
    fields
        .iter()
        .find(|f| **f == key)
        .or_else(|| fields.iter().find(|f| same_folded(f, key)))
        .copied()
}

/// Renames the keys of a struct's mapping to the fields they fill, in Go's order.
fn fold_keys(map: Map<String, Value>, fields: &[&str], mode: Mode) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    // Go sees the keys sorted (they pass through a Go map on the way to JSON).
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Map::new();
    for (key, value) in entries {
        let found = if mode == Mode::ExactLenient {
            fields.iter().find(|f| **f == key).copied()
        } else {
            field_for(&key, fields)
        };
        let name = match found {
            Some(field) => field.to_owned(),
            None if mode != Mode::Strict => continue,
            None => key,
        };
        match (out.get_mut(&name), value) {
            (Some(Value::Object(earlier)), Value::Object(later)) => {
                for (k, v) in later {
                    earlier.insert(k, v);
                }
            }
            (_, value) => {
                out.insert(name, value);
            }
        }
    }
    out
}

/// A JSON value read with Go's field-name rules.
struct Folded {
    value: Value,
    mode: Mode,
}

impl IntoDeserializer<'_, serde_json::Error> for Folded {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for Folded {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let mode = self.mode;
        match self.value {
            Value::Array(items) => {
                let items = items.into_iter().map(|value| Folded { value, mode });
                let mut seq = SeqDeserializer::new(items);
                let out = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(out)
            }
            Value::Object(map) => {
                let entries = map
                    .into_iter()
                    .map(|(k, value)| (k, Folded { value, mode }));
                let mut access = MapDeserializer::new(entries);
                let out = visitor.visit_map(&mut access)?;
                access.end()?;
                Ok(out)
            }
            scalar => scalar.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        if self.value.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let mode = self.mode;
        let value = match self.value {
            Value::Object(map) => Value::Object(fold_keys(map, fields, mode)),
            other => other,
        };
        Self { value, mode }.deserialize_any(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.value.deserialize_enum(name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Inner {
        #[serde(default)]
        name_prefix: String,
        #[serde(default)]
        labels: std::collections::BTreeMap<String, String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[serde(default)]
        items: Vec<Inner>,
        #[serde(default)]
        one: Option<Inner>,
    }

    #[test]
    fn matches_fields_ignoring_case_keeps_map_keys_and_lets_sorted_later_keys_win() {
        let value = json!({
            "ITEMS": [{"NamePrefix": "p-", "Labels": {"Key": "v"}}],
            "One": {"labels": {"a": "1"}},
            "one": {"LABELS": {"b": "2"}, "namePrefix": "x"},
        });
        let outer: Outer = from_value(value, Mode::Strict).unwrap();
        assert_eq!(outer.items[0].name_prefix, "p-");
        assert_eq!(outer.items[0].labels["Key"], "v");
        let one = outer.one.unwrap();
        // "One" sorts before "one": both fill the same struct, the later key last.
        assert_eq!(one.name_prefix, "x");
        assert_eq!(one.labels.len(), 2, "{one:?}");
    }

    #[test]
    fn strict_mode_keeps_unknown_keys_for_the_struct_to_refuse() {
        let value = json!({"items": [{"bogus": 1}]});
        let err = from_value::<Outer>(value.clone(), Mode::Strict).unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
        let lenient: Outer = from_value(value, Mode::Lenient).unwrap();
        assert_eq!(lenient.items[0].name_prefix, "");
    }

    #[test]
    fn exact_names_win_over_folded_ones() {
        assert_eq!(field_for("kind", &["Kind", "kind"]), Some("kind"));
        assert_eq!(field_for("KIND", &["kind"]), Some("kind"));
        assert_eq!(field_for("\u{212A}ind", &["kind"]), Some("kind"));
        assert_eq!(field_for("kinds", &["kind"]), None);
    }
}
