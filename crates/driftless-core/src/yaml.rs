//! Reading and writing YAML the way Kubernetes tools do.
//!
//! `kubectl` and the API machinery read YAML with `sigs.k8s.io/yaml`, which is go-yaml v2
//! (YAML 1.1 scalars) followed by a conversion to JSON. This module reads YAML into
//! `serde_json::Value` with the same results, so that what driftless renders is what
//! Kubernetes would store:
//!
//! - Plain scalars resolve as in go-yaml v2: `yes`, `y`, `on`, `True` (and their `no`
//!   forms) are booleans, `010` is octal (8), `0x1F`, `0o17`, `0b101` and `1_000` are
//!   integers, `~`, `null` and the empty scalar are null, timestamps stay strings. Quoted
//!   and block scalars are always strings: `"1"`, `'on'` and `"y"` stay strings.
//! - Integers keep their exact value: `i64` or, above `i64::MAX`, `u64`. A decimal
//!   integer beyond 64 bits becomes a float, as in Kubernetes (which then rounds it).
//! - A float with an integral value that fits `i64` (`1.0`, `1e3`) becomes an integer,
//!   because that is how it comes back from the API server (Go writes `float64(1000)` as
//!   `1000`); otherwise diffs would show drift that is not there. `.inf` and `.nan` are
//!   rejected: JSON cannot hold them (Kubernetes rejects them too).
//! - Mapping keys become strings the way `sigs.k8s.io/yaml` makes them: `on: x` has the
//!   key `"true"`, `1: x` the key `"1"`, `1.5: x` the key `"1.5"`; null keys are errors.
//! - Merge keys (`<<: *base`, `<<: [*a, *b]`) are expanded; keys written in the mapping
//!   win over merged ones, and earlier merge sources win over later ones.
//! - Duplicate keys are errors that name both lines (go-yaml v2 would silently keep the
//!   last one; a duplicate in a manifest is almost always a mistake).
//! - Alias expansion is bounded ([`LoadOptions::max_alias_nodes`]), so alias bombs fail
//!   fast with a clear error, and so is the size of one document
//!   ([`LoadOptions::max_document_bytes`]).
//!
//! Kustomize reads resources differently (kyaml, which is go-yaml v3, then JSON); load
//! them with [`Schema::Kustomize`] to get what `kubectl kustomize` prints:
//!
//! - Only `true`/`false` (in three spellings) are booleans: `yes`, `y`, `on`, `off`, `no`,
//!   `n` and their capitalised forms are strings, as values and as keys (`on: x` has the
//!   key `"on"`).
//! - Plain timestamps (`2001-12-14`, `2001-12-14T21:59:43.10-05:00`, `2001-12-14
//!   21:59:43`) become RFC 3339 strings as Go writes a `time.Time` into JSON
//!   (`2001-12-14T00:00:00Z`, `2001-12-14T21:59:43.1-05:00`); quoted ones stay as written.
//! - A mapping key that is not a string (`1:`, `true:`, `1.5:`, a timestamp) is an error,
//!   because Kustomize fails on it too.
//! - An object's `metadata.annotations` values are strings, each as written (`a: 010` is
//!   `"010"`, `b: ~` is `"~"`, `c:` is `""`), because Kustomize rewrites annotations that
//!   way; so are those of the items of a `List` (that kind only). With
//!   [`Schema::KustomizePatch`] null annotations stay null.
//! - Numbers, nulls, quoting, merge keys and everything else are as above (go-yaml v3 still
//!   reads `010` as octal 8).
//!
//! Every error carries the line and column where the text went wrong. The parser is
//! `granit-parser` as re-exported by `serde-saphyr`, which also writes YAML; see
//! `docs/architecture.md` for why.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::{Map, Number, Value};
use serde_saphyr::granit_parser::{Event, Marker, Parser, ScalarStyle, ScanError, Span, Tag};

/// A YAML error, with the position where the text went wrong when known.
#[derive(Debug, thiserror::Error)]
#[error("{}{message}", location.map(|(l, c)| format!("line {l}, column {c}: ")).unwrap_or_default())]
pub struct YamlError {
    /// 1-based line and column of the error, when known.
    pub location: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
    kind: YamlErrorKind,
    document: Option<usize>,
}

/// What kind of problem a [`YamlError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum YamlErrorKind {
    /// The text is not valid YAML, or holds a value Kubernetes cannot read (a duplicate
    /// key, a null key, `.inf`, a bad merge).
    Syntax,
    /// A document is larger than the limit.
    DocumentTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Aliases expand to more nodes than the budget allows, or nest too deep.
    AliasBudget {
        /// The number of nodes aliases may expand to.
        limit: usize,
    },
    /// A value could not be written as YAML.
    Write,
}

impl YamlError {
    /// An error of kind [`YamlErrorKind::Syntax`].
    pub fn new(location: Option<(usize, usize)>, message: impl Into<String>) -> Self {
        Self {
            location,
            message: message.into(),
            kind: YamlErrorKind::Syntax,
            document: None,
        }
    }

    /// What kind of problem this is.
    pub fn kind(&self) -> YamlErrorKind {
        self.kind
    }

    /// The 1-based index of the document in the stream the error is in, when known.
    /// Empty documents count: document 3 is the one after the second `---`.
    pub fn document(&self) -> Option<usize> {
        self.document
    }

    fn at(pos: Pos, message: impl Into<String>) -> Self {
        Self::new(Some((pos.line, pos.col)), message)
    }

    fn from_scan(error: &ScanError) -> Self {
        let mark = error.marker();
        Self::new(Some((mark.line(), mark.col() + 1)), error.info())
    }

    fn with_kind(mut self, kind: YamlErrorKind) -> Self {
        self.kind = kind;
        self
    }
}

/// Limits that keep hostile YAML from using unbounded memory or time.
///
/// ```
/// use driftless_core::yaml::{LoadOptions, YamlErrorKind, from_str_documents};
///
/// let bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c]\n";
/// let options = LoadOptions::default().max_alias_nodes(10);
/// let err = from_str_documents(bomb, &options).unwrap_err();
/// assert_eq!(err.kind(), YamlErrorKind::AliasBudget { limit: 10 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadOptions {
    /// The largest document, in bytes. Default: 8 MiB.
    pub max_document_bytes: usize,
    /// How many nodes aliases may expand to in one stream, in total. Default: 1,000,000.
    pub max_alias_nodes: usize,
    /// The deepest nesting of collections, aliases included. Default: 1,000.
    pub max_depth: usize,
    /// How plain scalars and mapping keys resolve. Default: [`Schema::Kubernetes`].
    pub schema: Schema,
}

/// How plain scalars resolve: which reader's results [`from_str_documents`] reproduces.
///
/// ```
/// use driftless_core::yaml::{LoadOptions, Schema, from_str_documents};
/// use serde_json::json;
///
/// let text = "a: on\nb: 2001-12-14\nc: 010\n";
/// let k8s = from_str_documents(text, &LoadOptions::default())?;
/// assert_eq!(k8s[0].value, json!({"a": true, "b": "2001-12-14", "c": 8}));
/// let kustomize = LoadOptions::default().schema(Schema::Kustomize);
/// let docs = from_str_documents(text, &kustomize)?;
/// assert_eq!(docs[0].value, json!({"a": "on", "b": "2001-12-14T00:00:00Z", "c": 8}));
/// # Ok::<(), driftless_core::yaml::YamlError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Schema {
    /// `sigs.k8s.io/yaml` (go-yaml v2, YAML 1.1 words), as `kubectl apply -f` and the
    /// API machinery read manifests.
    #[default]
    Kubernetes,
    /// Kustomize's reading of resources, plugin configurations and
    /// `patchesStrategicMerge` entries (kyaml: go-yaml v3, then JSON): YAML 1.2 booleans,
    /// timestamps as RFC 3339 strings, string keys only, annotations as written. See the
    /// module documentation for every difference.
    Kustomize,
    /// Kustomize's reading of a strategic merge patch given under `patches`: as
    /// [`Schema::Kustomize`], except that a null annotation stays null, because there it
    /// deletes the annotation.
    KustomizePatch,
}

impl Schema {
    fn is_kustomize(self) -> bool {
        matches!(self, Schema::Kustomize | Schema::KustomizePatch)
    }
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            max_document_bytes: 8 * 1024 * 1024,
            max_alias_nodes: 1_000_000,
            max_depth: 1_000,
            schema: Schema::Kubernetes,
        }
    }
}

impl LoadOptions {
    /// Sets [`max_document_bytes`](Self::max_document_bytes).
    #[must_use]
    pub fn max_document_bytes(mut self, bytes: usize) -> Self {
        self.max_document_bytes = bytes;
        self
    }

    /// Sets [`max_alias_nodes`](Self::max_alias_nodes).
    #[must_use]
    pub fn max_alias_nodes(mut self, nodes: usize) -> Self {
        self.max_alias_nodes = nodes;
        self
    }

    /// Sets [`max_depth`](Self::max_depth).
    #[must_use]
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth;
        self
    }

    /// Sets [`schema`](Self::schema).
    #[must_use]
    pub fn schema(mut self, schema: Schema) -> Self {
        self.schema = schema;
        self
    }
}

/// One document of a YAML stream, with where it is.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Document {
    /// 1-based position of the document in the stream. Empty documents count, so this
    /// is the number a reader finds by counting `---` separators.
    pub index: usize,
    /// 1-based line where the document's content starts.
    pub line: usize,
    /// The document's content.
    pub value: Value,
    /// With [`Schema::Kustomize`], the JSON pointers of the mapping values written with
    /// nothing after their key (`key:`), which parse to null like `key: null` but which
    /// Kustomize's strategic merge drops; empty with other schemas.
    pub empty_values: Vec<String>,
}

/// Reads every document of a YAML stream. Empty and comment-only documents are skipped.
///
/// ```
/// let docs = driftless_core::yaml::from_str_multi("a: 1\n---\n# nothing\n---\nb: '1'\n")?;
/// assert_eq!(docs, vec![serde_json::json!({"a": 1}), serde_json::json!({"b": "1"})]);
/// # Ok::<(), driftless_core::yaml::YamlError>(())
/// ```
pub fn from_str_multi(text: &str) -> Result<Vec<Value>, YamlError> {
    Ok(from_str_documents(text, &LoadOptions::default())?
        .into_iter()
        .map(|d| d.value)
        .collect())
}

/// Reads every document of a YAML stream with their positions, within `options`' limits.
/// Empty, comment-only and `null` documents are skipped (their index still counts).
///
/// ```
/// use driftless_core::yaml::{LoadOptions, from_str_documents};
/// use serde_json::json;
///
/// let text = "a: on\n---\n---\nb: \"on\"\nc: 010\n";
/// let docs = from_str_documents(text, &LoadOptions::default())?;
/// assert_eq!(docs.len(), 2);
/// assert_eq!((docs[1].index, docs[1].line), (3, 4));
/// assert_eq!(docs[0].value, json!({"a": true}));
/// assert_eq!(docs[1].value, json!({"b": "on", "c": 8}));
/// # Ok::<(), driftless_core::yaml::YamlError>(())
/// ```
pub fn from_str_documents(text: &str, options: &LoadOptions) -> Result<Vec<Document>, YamlError> {
    Loader::new(text, options).run()
}

/// Writes one value as a YAML document (no leading `---`). Strings that a YAML 1.1
/// reader (like Kubernetes) could take for a number, boolean or null are quoted, so the
/// text reads back to the same value.
///
/// ```
/// use serde_json::json;
///
/// let value = json!({"a": "on", "b": "010", "c": 10, "on": ["", null]});
/// let text = driftless_core::yaml::to_string(&value)?;
/// assert_eq!(driftless_core::yaml::from_str_multi(&text)?, vec![value]);
/// # Ok::<(), driftless_core::yaml::YamlError>(())
/// ```
pub fn to_string(value: &Value) -> Result<String, YamlError> {
    serde_saphyr::to_string(&Emit(value))
        .map_err(|e| YamlError::new(None, e.to_string()).with_kind(YamlErrorKind::Write))
}

/// Writes values as one YAML stream, each document after a `---` line.
pub fn to_string_multi<'a>(
    values: impl IntoIterator<Item = &'a Value>,
) -> Result<String, YamlError> {
    let mut out = String::new();
    for value in values {
        out.push_str("---\n");
        out.push_str(&to_string(value)?);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Writing.

/// Serializes a value, double-quoting strings that would read back as something else.
struct Emit<'a>(&'a Value);

impl Serialize for Emit<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::String(text) if needs_quotes(text) => {
                serde_saphyr::DoubleQuoted(text.as_str()).serialize(serializer)
            }
            Value::Array(items) => serializer.collect_seq(items.iter().map(Emit)),
            Value::Object(map) => {
                serializer.collect_map(map.iter().map(|(k, v)| (EmitKey(k), Emit(v))))
            }
            other => other.serialize(serializer),
        }
    }
}

struct EmitKey<'a>(&'a str);

impl Serialize for EmitKey<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if needs_quotes(self.0) {
            serde_saphyr::DoubleQuoted(self.0).serialize(serializer)
        } else {
            serializer.serialize_str(self.0)
        }
    }
}

/// Whether a plain scalar with this text would not read back as this string.
fn needs_quotes(text: &str) -> bool {
    text == "<<" || resolve_plain(text, Schema::Kubernetes).is_some()
}

// ---------------------------------------------------------------------------------------
// Scalars, as go-yaml v2 resolves them.

/// A resolved scalar that is not a string.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Typed {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
}

/// Resolves a plain scalar like go-yaml v2's `resolve("", text)` (or v3's, for
/// [`Schema::Kustomize`], timestamps aside): `None` means a string.
fn resolve_plain(text: &str, schema: Schema) -> Option<Typed> {
    let hint = match text.as_bytes().first() {
        // The empty scalar is null, found in the word table.
        None | Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => {
            b'M'
        }
        Some(b'+' | b'-') => b'S',
        Some(b'0'..=b'9') => b'D',
        Some(b'.') => b'.',
        Some(_) => return None,
    };
    if let Some(typed) = lookup_word(text, schema) {
        return Some(typed);
    }
    match hint {
        b'.' => parse_dot_float(text).map(Typed::Float),
        b'D' | b'S' => {
            // go-yaml drops every underscore before trying numbers.
            let plain: String = text.chars().filter(|&c| c != '_').collect();
            if let Some(i) = go_parse_int(&plain) {
                Some(Typed::Int(i))
            } else if let Some(u) = go_parse_uint(&plain) {
                Some(Typed::UInt(u))
            } else if is_yaml_style_float(&plain) {
                plain
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(Typed::Float)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// go-yaml v2's table of words (exact spellings only); v3 drops the YAML 1.1 booleans.
fn lookup_word(text: &str, schema: Schema) -> Option<Typed> {
    Some(match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "n" | "N" | "no" | "No" | "NO"
        | "off" | "Off" | "OFF"
            if schema.is_kustomize() =>
        {
            return None;
        }
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Typed::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Typed::Bool(false)
        }
        "" | "~" | "null" | "Null" | "NULL" => Typed::Null,
        ".nan" | ".NaN" | ".NAN" => Typed::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Typed::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Typed::Float(f64::NEG_INFINITY),
        _ => return None,
    })
}

/// Go's `strconv.ParseUint(s, 0, 64)`: `0x`, `0o`, `0b` prefixes, a leading `0` for
/// octal, no sign, no underscores (the caller removed them).
fn go_parse_uint(s: &str) -> Option<u64> {
    let bytes = s.as_bytes();
    let (radix, digits) = match bytes {
        [] => return None,
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'b') => (2, &s[2..]),
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'o') => (8, &s[2..]),
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'x') => (16, &s[2..]),
        [b'0', ..] => (8, &s[1..]),
        _ => (10, s),
    };
    let mut n: u64 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix)?;
        n = n.checked_mul(u64::from(radix))?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// Go's `strconv.ParseInt(s, 0, 64)`: an optional sign, then as [`go_parse_uint`].
fn go_parse_int(s: &str) -> Option<i64> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = go_parse_uint(rest)?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// go-yaml v2's float pattern: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat` for text starting with `.` (`.5`, `.5e3`, `.5_0`).
fn parse_dot_float(s: &str) -> Option<f64> {
    // Go accepts underscores only between digits.
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'_'
            && !(i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            return None;
        }
    }
    let plain: String = s.chars().filter(|&c| c != '_').collect();
    if !is_yaml_style_float(&plain) {
        return None;
    }
    plain.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// A scalar's node kind, from its text, style and tag (go-yaml v2's `resolve(tag, text)`).
fn resolve_scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    schema: Schema,
) -> Result<Kind, String> {
    let Some(tag) = tag else {
        return Ok(match style {
            ScalarStyle::Plain if text == "<<" => Kind::Merge,
            ScalarStyle::Plain => {
                if schema.is_kustomize()
                    && let Some(stamp) = go_timestamp(text)
                {
                    return stamp.map(Kind::Timestamp);
                }
                resolve_plain(text, schema).map_or_else(|| Kind::Str(text.to_owned()), Kind::from)
            }
            _ => Kind::Str(text.to_owned()),
        });
    };
    if tag.handle() != "tag:yaml.org,2002:" {
        // Local and non-specific tags (`!thing`, `!`) leave the text as a string.
        return Ok(Kind::Str(text.to_owned()));
    }
    let suffix = tag.suffix();
    let resolved = resolve_plain(text, schema);
    let kind = match (suffix, resolved) {
        ("timestamp", _) if schema.is_kustomize() => Kind::Timestamp(
            go_timestamp(text)
                .ok_or_else(|| format!("cannot read `{text}` as a !!timestamp"))??,
        ),
        ("merge", _) if text == "<<" => Kind::Merge,
        ("binary", _) => Kind::Str(decode_base64(text)?),
        ("null", Some(Typed::Null))
        | ("bool", Some(Typed::Bool(_)))
        | ("int", Some(Typed::Int(_) | Typed::UInt(_)))
        | ("float", Some(Typed::Float(_))) => Kind::from(resolved.unwrap_or(Typed::Null)),
        // go-yaml turns an int under !!float into a float64, with its rounding.
        #[allow(clippy::cast_precision_loss)]
        ("float", Some(Typed::Int(i))) => Kind::Float(i as f64),
        ("timestamp", None) if looks_like_timestamp(text) => Kind::Str(text.to_owned()),
        ("null" | "bool" | "int" | "float" | "timestamp", _) => {
            return Err(format!("cannot read `{text}` as a !!{suffix}"));
        }
        _ => Kind::Str(text.to_owned()),
    };
    Ok(kind)
}

/// The start of a YAML timestamp: four digits, `-`, a month (go-yaml checks no more
/// before trying its layouts, and keeps timestamps as strings anyway).
fn looks_like_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 8 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[5].is_ascii_digit()
}

/// A timestamp as go-yaml v3 reads a plain scalar (Go's `time.Parse` with the layouts
/// `2006-1-2T15:4:5.999999999Z07:00`, the same with `t`, `2006-1-2 15:4:5.999999999` and
/// `2006-1-2`), written as Go writes a `time.Time` into JSON (RFC 3339, nanoseconds
/// without trailing zeros, `Z` for a zero offset). `None` when it is not a timestamp;
/// `Some(Err)` for one Go reads but cannot write to JSON (an offset of 24 hours or more).
fn go_timestamp(text: &str) -> Option<Result<String, String>> {
    /// One or two digits (Go's `getnum` for a non-padded field).
    fn num(rest: &mut &str) -> Option<u32> {
        let b = rest.as_bytes();
        let len = match b {
            [a, c, ..] if a.is_ascii_digit() && c.is_ascii_digit() => 2,
            [a, ..] if a.is_ascii_digit() => 1,
            _ => return None,
        };
        let n = rest[..len].parse().ok()?;
        *rest = &rest[len..];
        Some(n)
    }
    let b = text.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    let year: u32 = text[..4].parse().ok()?;
    let mut rest = &text[5..];
    let month = num(&mut rest).filter(|m| (1..=12).contains(m))?;
    rest = rest.strip_prefix('-')?;
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let day = num(&mut rest).filter(|d| (1..=days).contains(d))?;
    let date = format!("{year:04}-{month:02}-{day:02}");
    if rest.is_empty() {
        return Some(Ok(format!("{date}T00:00:00Z")));
    }
    let zoned = if let Some(after) = rest.strip_prefix(['T', 't']) {
        rest = after;
        true
    } else if rest.starts_with(' ') {
        rest = rest.trim_start_matches(' ');
        false
    } else {
        return None;
    };
    let hour = num(&mut rest).filter(|h| *h < 24)?;
    rest = rest.strip_prefix(':')?;
    let minute = num(&mut rest).filter(|m| *m < 60)?;
    rest = rest.strip_prefix(':')?;
    let second = num(&mut rest).filter(|s| *s < 60)?;
    let mut nanos: u32 = 0;
    if let Some(after) = rest.strip_prefix(['.', ',']) {
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            // Go keeps nine digits and ignores the rest.
            let kept = &after[..digits.min(9)];
            let scale = 10u32.pow(u32::try_from(9 - kept.len()).unwrap_or(0));
            nanos = kept.parse::<u32>().ok()? * scale;
            rest = &after[digits..];
        }
    }
    let offset: Option<i32> = if zoned {
        if rest == "Z" {
            None
        } else {
            let z = rest.as_bytes();
            if z.len() != 6 || z[3] != b':' || !matches!(z[0], b'+' | b'-') {
                return None;
            }
            let two = |s: &[u8]| -> Option<i32> {
                (s[0].is_ascii_digit() && s[1].is_ascii_digit())
                    .then(|| i32::from(s[0] - b'0') * 10 + i32::from(s[1] - b'0'))
            };
            let (hh, mm) = (two(&z[1..3])?, two(&z[4..6])?);
            if hh > 24 || mm > 60 {
                return None;
            }
            let seconds = hh * 3600 + mm * 60;
            Some(if z[0] == b'-' { -seconds } else { seconds })
        }
    } else if rest.is_empty() {
        None
    } else {
        return None;
    };
    let fraction = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_owned()
    };
    let zone = match offset {
        None | Some(0) => "Z".to_owned(),
        Some(o) => {
            let sign = if o < 0 { '-' } else { '+' };
            let o = o.unsigned_abs();
            if o / 3600 >= 24 {
                return Some(Err(format!(
                    "the timestamp `{text}` has a time zone offset of 24 hours or more, which cannot be written to JSON (kubectl kustomize fails on it too); quote it"
                )));
            }
            format!("{sign}{:02}:{:02}", o / 3600, (o / 60) % 60)
        }
    };
    Some(Ok(format!(
        "{date}T{hour:02}:{minute:02}:{second:02}{fraction}{zone}"
    )))
}

/// Standard base64 (whitespace ignored), for `!!binary`; the bytes must be UTF-8
/// because JSON strings are.
fn decode_base64(text: &str) -> Result<String, String> {
    let invalid = || format!("`{text}` is not valid base64 for !!binary");
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = Vec::new();
    let mut padding = 0;
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding += 1;
                continue;
            }
            _ => return Err(invalid()),
        };
        if padding > 0 {
            return Err(invalid());
        }
        bits = (bits << 6) | u32::from(v);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push(u8::try_from((bits >> nbits) & 0xff).map_err(|_| invalid())?);
        }
    }
    String::from_utf8(out).map_err(|_| format!("!!binary `{text}` does not decode to UTF-8 text"))
}

// ---------------------------------------------------------------------------------------
// Loading: parser events to nodes (aliases expanded within budget), nodes to JSON.

#[derive(Debug, Clone, Copy)]
struct Pos {
    line: usize,
    col: usize,
}

impl Pos {
    fn of(mark: &Marker) -> Self {
        Self {
            line: mark.line(),
            col: mark.col() + 1,
        }
    }
}

#[derive(Debug, Clone)]
struct Node {
    pos: Pos,
    /// Nodes in this subtree (what copying it for an alias costs).
    size: usize,
    /// Collection levels in this subtree (0 for a scalar).
    height: usize,
    kind: Kind,
    /// The text of a scalar that did not resolve to a string, kept for
    /// [`Schema::Kustomize`] (which writes annotations back as written).
    raw: Option<Box<str>>,
}

#[derive(Debug, Clone)]
enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    /// A timestamp read by [`Schema::Kustomize`], already written as RFC 3339.
    Timestamp(String),
    /// A plain `<<` (or `!!merge <<`): a merge key in key position, else the string.
    Merge,
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl From<Typed> for Kind {
    fn from(typed: Typed) -> Self {
        match typed {
            Typed::Null => Kind::Null,
            Typed::Bool(b) => Kind::Bool(b),
            Typed::Int(i) => Kind::Int(i),
            Typed::UInt(u) => Kind::UInt(u),
            Typed::Float(f) => Kind::Float(f),
        }
    }
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

struct Loader<'a> {
    text: &'a str,
    options: LoadOptions,
    docs: Vec<Document>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    doc_index: usize,
    doc_start: usize,
    alias_nodes_left: usize,
}

impl<'a> Loader<'a> {
    fn new(text: &'a str, options: &LoadOptions) -> Self {
        Self {
            text,
            options: *options,
            docs: Vec::new(),
            stack: Vec::new(),
            anchors: HashMap::new(),
            root: None,
            doc_index: 0,
            doc_start: 0,
            alias_nodes_left: options.max_alias_nodes,
        }
    }

    fn run(mut self) -> Result<Vec<Document>, YamlError> {
        let mut parser_options = serde_saphyr::granit_parser::Options::default();
        parser_options.set_emit_comments(false);
        let parser = Parser::new_from_str_with_options(self.text, parser_options);
        for item in parser {
            let (event, span) = item.map_err(|e| self.in_doc(YamlError::from_scan(&e)))?;
            self.event(event, span).map_err(|e| self.in_doc(e))?;
        }
        Ok(self.docs)
    }

    /// A block scalar that ends the text, whose last line has no line break: the parser
    /// adds one, go-yaml (and so Kubernetes and Kustomize) does not.
    fn without_phantom_break<'t>(
        &self,
        text: std::borrow::Cow<'t, str>,
        style: ScalarStyle,
        span: &Span,
    ) -> std::borrow::Cow<'t, str> {
        let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
        let end = span.end.byte_offset().unwrap_or_else(|| span.end.index());
        let at_unterminated_end = end >= self.text.len() && !self.text.ends_with('\n');
        match text {
            std::borrow::Cow::Owned(mut owned) if block && at_unterminated_end => {
                if owned.ends_with('\n') {
                    owned.pop();
                }
                std::borrow::Cow::Owned(owned)
            }
            std::borrow::Cow::Borrowed(borrowed) if block && at_unterminated_end => {
                std::borrow::Cow::Borrowed(borrowed.strip_suffix('\n').unwrap_or(borrowed))
            }
            other => other,
        }
    }

    fn in_doc(&self, mut error: YamlError) -> YamlError {
        if self.doc_index > 0 {
            error.document = Some(self.doc_index);
        }
        error
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), YamlError> {
        let end = span.end.byte_offset().unwrap_or_else(|| span.end.index());
        if self.doc_index > 0
            && end.saturating_sub(self.doc_start) > self.options.max_document_bytes
        {
            let limit = self.options.max_document_bytes;
            return Err(YamlError::at(
                Pos::of(&span.end),
                format!("the document is larger than the limit of {limit} bytes"),
            )
            .with_kind(YamlErrorKind::DocumentTooLarge { limit }));
        }
        let pos = Pos::of(&span.start);
        match event {
            Event::DocumentStart(..) => {
                self.doc_index += 1;
                self.doc_start = span
                    .start
                    .byte_offset()
                    .unwrap_or_else(|| span.start.index());
                self.root = None;
                self.anchors.clear();
            }
            Event::DocumentEnd => self.finish_document()?,
            Event::Scalar(text, style, anchor, tag) => {
                let text = self.without_phantom_break(text, style, &span);
                let kind = resolve_scalar(&text, style, tag.as_deref(), self.options.schema)
                    .map_err(|message| YamlError::at(pos, message))?;
                // The parser reports an empty scalar as `~`; its span is empty.
                let empty = span.start.index() == span.end.index();
                let raw = (self.options.schema.is_kustomize() && !matches!(kind, Kind::Str(_)))
                    .then(|| Box::from(if empty { "" } else { &*text }));
                self.complete(
                    Node {
                        pos,
                        size: 1,
                        height: 0,
                        kind,
                        raw,
                    },
                    anchor,
                );
            }
            Event::SequenceStart(_, anchor, _) => {
                self.open(pos)?;
                self.stack.push(Frame::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(_, anchor, _) => {
                self.open(pos)?;
                self.stack.push(Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(pos)?,
            Event::Alias(id) => self.alias(id, pos, &span)?,
            _ => {}
        }
        Ok(())
    }

    fn open(&self, pos: Pos) -> Result<(), YamlError> {
        if self.stack.len() >= self.options.max_depth {
            return Err(YamlError::at(
                pos,
                format!(
                    "collections nest deeper than {} levels",
                    self.options.max_depth
                ),
            ));
        }
        Ok(())
    }

    fn close(&mut self, pos: Pos) -> Result<(), YamlError> {
        let Some(frame) = self.stack.pop() else {
            return Err(YamlError::at(pos, "unexpected end of a collection"));
        };
        let (node, anchor) = match frame {
            Frame::Seq { pos, anchor, items } => {
                let size = 1 + items.iter().map(|n| n.size).sum::<usize>();
                let height = 1 + items.iter().map(|n| n.height).max().unwrap_or(0);
                (
                    Node {
                        pos,
                        size,
                        height,
                        kind: Kind::Seq(items),
                        raw: None,
                    },
                    anchor,
                )
            }
            Frame::Map {
                pos,
                anchor,
                entries,
                key,
            } => {
                if let Some(key) = key {
                    return Err(YamlError::at(key.pos, "a mapping key without a value"));
                }
                let size = 1 + entries.iter().map(|(k, v)| k.size + v.size).sum::<usize>();
                let height = 1 + entries
                    .iter()
                    .map(|(k, v)| k.height.max(v.height))
                    .max()
                    .unwrap_or(0);
                (
                    Node {
                        pos,
                        size,
                        height,
                        kind: Kind::Map(entries),
                        raw: None,
                    },
                    anchor,
                )
            }
        };
        self.complete(node, anchor);
        Ok(())
    }

    fn alias(&mut self, id: usize, pos: Pos, span: &Span) -> Result<(), YamlError> {
        let name = span.slice(self.text).unwrap_or("*");
        let Some(target) = self.anchors.get(&id) else {
            return Err(YamlError::at(
                pos,
                format!("alias {name} refers to a node that contains it"),
            ));
        };
        let limit = self.options.max_alias_nodes;
        if target.size > self.alias_nodes_left {
            return Err(YamlError::at(
                pos,
                format!(
                    "aliases expand to more than {limit} nodes (at {name}); is this an alias bomb?"
                ),
            )
            .with_kind(YamlErrorKind::AliasBudget { limit }));
        }
        if self.stack.len() + target.height > self.options.max_depth {
            return Err(YamlError::at(
                pos,
                format!(
                    "alias {name} nests collections deeper than {} levels",
                    self.options.max_depth
                ),
            )
            .with_kind(YamlErrorKind::AliasBudget { limit }));
        }
        self.alias_nodes_left -= target.size;
        let node = target.clone();
        self.complete(node, 0);
        Ok(())
    }

    /// A node is complete: remember it under its anchor and put it where it belongs.
    fn complete(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }

    fn finish_document(&mut self) -> Result<(), YamlError> {
        self.anchors.clear();
        let Some(mut root) = self.root.take() else {
            return Ok(());
        };
        if self.options.schema.is_kustomize() {
            annotations_as_written(&mut root, self.options.schema == Schema::Kustomize);
        }
        let line = root.pos.line;
        let mut empty = Vec::new();
        if self.options.schema == Schema::Kustomize {
            empty_values(&root, &mut String::new(), &mut empty);
        }
        let value = into_value(root, self.options.schema).map_err(|e| *e)?;
        if !value.is_null() {
            self.docs.push(Document {
                index: self.doc_index,
                line,
                value,
                empty_values: empty,
            });
        }
        Ok(())
    }
}

/// Kustomize rewrites an object's `metadata.annotations` as strings, each the text
/// written in the file: `a: 010` is the annotation `"010"`, `b: ~` is `"~"`, `c:` is
/// `""` (other scalars keep their types, even in pod templates). The items of a `List`
/// (that kind exactly) are objects too. Unless `null_as_text`, null values stay null (patches delete them).
fn annotations_as_written(root: &mut Node, null_as_text: bool) {
    fn entry<'a>(node: &'a mut Node, name: &str) -> Option<&'a mut Node> {
        let Kind::Map(entries) = &mut node.kind else {
            return None;
        };
        entries
            .iter_mut()
            .find(|(k, _)| matches!(&k.kind, Kind::Str(s) if s == name))
            .map(|(_, v)| v)
    }
    let object = |node: &mut Node| {
        let Some(annotations) =
            entry(node, "metadata").and_then(|metadata| entry(metadata, "annotations"))
        else {
            return;
        };
        if let Kind::Map(entries) = &mut annotations.kind {
            for (_, value) in entries {
                if matches!(value.kind, Kind::Null) && !null_as_text {
                    continue;
                }
                if let Some(raw) = value.raw.take() {
                    value.kind = Kind::Str(raw.into());
                }
            }
        }
    };
    object(root);
    // Only `List` itself: Kustomize reads other `...List` kinds through JSON.
    let is_list =
        entry(root, "kind").is_some_and(|kind| matches!(&kind.kind, Kind::Str(k) if k == "List"));
    if is_list
        && let Some(Node {
            kind: Kind::Seq(items),
            ..
        }) = entry(root, "items")
    {
        for item in items {
            object(item);
        }
    }
}

/// Collects the JSON pointers (below `at`) of mapping values written as nothing.
fn empty_values(node: &Node, at: &mut String, out: &mut Vec<String>) {
    let mut visit = |at: &mut String, segment: &str, child: &Node| {
        let len = at.len();
        at.push('/');
        at.push_str(&segment.replace('~', "~0").replace('/', "~1"));
        if matches!(child.kind, Kind::Null) && child.raw.as_deref() == Some("") {
            out.push(at.clone());
        } else {
            empty_values(child, at, out);
        }
        at.truncate(len);
    };
    match &node.kind {
        Kind::Map(entries) => {
            for (key, value) in entries {
                if let Kind::Str(name) = &key.kind {
                    visit(at, name, value);
                }
            }
        }
        Kind::Seq(items) => {
            for (index, item) in items.iter().enumerate() {
                if !matches!(item.kind, Kind::Null) {
                    visit(at, &index.to_string(), item);
                }
            }
        }
        _ => {}
    }
}

/// Converting nodes fails rarely; a boxed error keeps the results small to move.
type Converted<T> = Result<T, Box<YamlError>>;

#[allow(clippy::unnecessary_box_returns)] // small results on the hot path, see `Converted`
fn fail(pos: Pos, message: impl Into<String>) -> Box<YamlError> {
    Box::new(YamlError::at(pos, message))
}

/// Converts a node into JSON the way `sigs.k8s.io/yaml` (or Kustomize) does.
fn into_value(node: Node, schema: Schema) -> Converted<Value> {
    Ok(match node.kind {
        Kind::Null => Value::Null,
        Kind::Bool(b) => Value::Bool(b),
        Kind::Int(i) => Value::from(i),
        Kind::UInt(u) => Value::from(u),
        Kind::Float(f) => Value::Number(json_number(f).ok_or_else(|| {
            fail(
                node.pos,
                format!(
                    "{} cannot be represented in JSON (Kubernetes rejects it too); quote it to keep it as a string",
                    yaml_float_word(f)
                ),
            )
        })?),
        Kind::Str(s) | Kind::Timestamp(s) => Value::String(s),
        Kind::Merge => Value::String("<<".to_owned()),
        Kind::Seq(items) => Value::Array(
            items
                .into_iter()
                .map(|item| into_value(item, schema))
                .collect::<Result<_, _>>()?,
        ),
        Kind::Map(entries) => Value::Object(into_map(entries, schema)?),
    })
}

/// The number Kubernetes ends up with for a YAML float: integral values that fit `i64`
/// become integers (Go writes `float64(3)` as `3`, which reads back as an integer).
fn json_number(f: f64) -> Option<Number> {
    // -2^63 <= f < 2^63: exactly the floats that convert to i64 without loss of range.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if f.is_finite() && f.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&f) {
        #[allow(clippy::cast_possible_truncation)] // integral and in range, checked above
        return Some(Number::from(f as i64));
    }
    Number::from_f64(f)
}

fn yaml_float_word(f: f64) -> &'static str {
    if f.is_nan() {
        ".nan"
    } else if f > 0.0 {
        ".inf"
    } else {
        "-.inf"
    }
}

fn into_map(entries: Vec<(Node, Node)>, schema: Schema) -> Converted<Map<String, Value>> {
    let mut out = Map::new();
    // Where each key of `out` was written, in the order of `out`.
    let mut positions: Vec<Pos> = Vec::with_capacity(entries.len());
    // Keys that came from a merge: written keys may override these (and only these).
    let mut merged: HashSet<String> = HashSet::new();
    let mut merge_at: Option<Pos> = None;
    let index_of = |out: &Map<String, Value>, name: &str| out.keys().position(|k| k == name);
    for (key, value) in entries {
        if matches!(key.kind, Kind::Merge) {
            if let Some(first) = merge_at {
                return Err(fail(
                    key.pos,
                    format!("duplicate merge key << (first at line {})", first.line),
                ));
            }
            merge_at = Some(key.pos);
            for source in merge_sources(value, schema)? {
                for (k, v) in source {
                    // Keys written in the mapping win; earlier sources win over later ones.
                    if !out.contains_key(&k) {
                        merged.insert(k.clone());
                        out.insert(k, v);
                        positions.push(key.pos);
                    }
                }
            }
            continue;
        }
        let pos = key.pos;
        let name = key_string(key, schema)?;
        if !merged.is_empty() && merged.remove(&name) {
            if let Some(index) = index_of(&out, &name) {
                positions[index] = pos;
            }
            out.insert(name, into_value(value, schema)?);
            continue;
        }
        match out.entry(name) {
            serde_json::map::Entry::Vacant(slot) => {
                slot.insert(into_value(value, schema)?);
                positions.push(pos);
            }
            serde_json::map::Entry::Occupied(slot) => {
                let name = slot.key().clone();
                let first = index_of(&out, &name).map_or(pos, |index| positions[index]);
                return Err(fail(
                    pos,
                    format!(
                        "duplicate key {name:?} (first at line {}, column {})",
                        first.line, first.col
                    ),
                ));
            }
        }
    }
    Ok(out)
}

fn merge_sources(value: Node, schema: Schema) -> Converted<Vec<Map<String, Value>>> {
    let wrong = |pos| {
        fail(
            pos,
            "a merge (<<) needs a mapping or a sequence of mappings as its value",
        )
    };
    match value.kind {
        Kind::Map(entries) => Ok(vec![into_map(entries, schema)?]),
        Kind::Seq(items) => items
            .into_iter()
            .map(|item| match item.kind {
                Kind::Map(entries) => into_map(entries, schema),
                _ => Err(wrong(item.pos)),
            })
            .collect(),
        _ => Err(wrong(value.pos)),
    }
}

/// A mapping key as `sigs.k8s.io/yaml` writes it into JSON. Kustomize only takes
/// string keys: go-yaml v3 gives it a map with non-string keys, which JSON cannot hold.
fn key_string(key: Node, schema: Schema) -> Converted<String> {
    if schema.is_kustomize() {
        let read_as = match &key.kind {
            Kind::Str(_) | Kind::Merge | Kind::Null | Kind::Seq(_) | Kind::Map(_) => None,
            Kind::Bool(b) => Some(format!("the boolean {b}")),
            Kind::Int(i) => Some(format!("the integer {i}")),
            Kind::UInt(u) => Some(format!("the integer {u}")),
            Kind::Float(f) => Some(format!("the float {}", go_float32_g(*f))),
            Kind::Timestamp(t) => Some(format!("the timestamp {t}")),
        };
        if let Some(read_as) = read_as {
            return Err(fail(
                key.pos,
                format!(
                    "this mapping key reads as {read_as}, and Kustomize only takes string keys (kubectl kustomize fails on it too); quote it"
                ),
            ));
        }
    }
    Ok(match key.kind {
        Kind::Str(s) | Kind::Timestamp(s) => s,
        Kind::Bool(b) => b.to_string(),
        Kind::Int(i) => i.to_string(),
        Kind::Float(f) => go_float32_g(f),
        Kind::Merge => "<<".to_owned(),
        Kind::Null => {
            return Err(fail(
                key.pos,
                "a null mapping key is not supported (Kubernetes rejects it); quote it",
            ));
        }
        Kind::UInt(u) => {
            return Err(fail(
                key.pos,
                format!("the mapping key {u} is beyond int64 (Kubernetes rejects it); quote it"),
            ));
        }
        Kind::Seq(_) | Kind::Map(_) => {
            return Err(fail(key.pos, "a mapping key must be a scalar"));
        }
    })
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`, which `sigs.k8s.io/yaml` uses for float
/// keys (`.inf`, `-.inf`, `.nan` for the non-finite ones).
fn go_float32_g(f: f64) -> String {
    if f.is_nan() {
        return ".nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.to_owned();
    }
    #[allow(clippy::cast_possible_truncation)] // Go formats keys at 32-bit precision
    let single = f as f32;
    if single.is_infinite() {
        return if single > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    // Rust's `{:e}` gives the shortest digits that round-trip, like Go's -1 precision.
    let sci = format!("{single:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = mantissa
        .strip_prefix('-')
        .map_or(("", mantissa), |m| ("-", m));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{dot}{rest}e{exp_sign}{:02}", exp.abs())
    } else if exp < 0 {
        let zeros = "0".repeat(usize::try_from(-exp - 1).unwrap_or(0));
        format!("{sign}0.{zeros}{digits}")
    } else {
        let int_len = usize::try_from(exp + 1).unwrap_or(1);
        if digits.len() <= int_len {
            format!("{sign}{digits}{}", "0".repeat(int_len - digits.len()))
        } else {
            let (int, frac) = digits.split_at(int_len);
            format!("{sign}{int}.{frac}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use std::fmt::Write as _;

    fn one(text: &str) -> Value {
        let mut docs = from_str_multi(text).unwrap();
        assert_eq!(docs.len(), 1, "{text}");
        docs.remove(0)
    }

    fn scalar(text: &str) -> Value {
        one(&format!("v: {text}\n"))["v"].clone()
    }

    fn err(text: &str) -> YamlError {
        from_str_multi(text).unwrap_err()
    }

    fn kustomize(text: &str) -> Result<Value, YamlError> {
        let options = LoadOptions::default().schema(Schema::Kustomize);
        let mut docs = from_str_documents(text, &options)?;
        assert_eq!(docs.len(), 1, "{text}");
        Ok(docs.remove(0).value)
    }

    fn kustomize_scalar(text: &str) -> Value {
        kustomize(&format!("v: {text}\n")).unwrap()["v"].clone()
    }

    #[test]
    fn a_block_scalar_ending_the_text_without_a_line_break_has_none() {
        assert_eq!(one("a:\n  b: |\n    x\n    y")["a"]["b"], json!("x\ny"));
        assert_eq!(one("a: |\n  x\n  y\n")["a"], json!("x\ny\n"));
        assert_eq!(one("a: >\n  x\n  y")["a"], json!("x y"));
        assert_eq!(one("a: |\n  x\n---\n")["a"], json!("x\n"));
    }

    #[test]
    fn kustomize_reads_yaml_1_1_booleans_as_strings() {
        for word in [
            "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off",
            "Off", "OFF",
        ] {
            assert_eq!(kustomize_scalar(word), json!(word), "{word}");
            assert!(scalar(word).is_boolean(), "{word} in the default schema");
            // As keys too: `on:` is the key "on", not "true".
            let map = kustomize(&format!("{word}: x\n")).unwrap();
            assert_eq!(map, json!({ word: "x" }));
        }
        for (word, b) in [
            ("true", true),
            ("True", true),
            ("TRUE", true),
            ("false", false),
        ] {
            assert_eq!(kustomize_scalar(word), json!(b), "{word}");
        }
        assert_eq!(kustomize_scalar("tRUE"), json!("tRUE"));
        // An explicit !!bool on a 1.1 word is an error in go-yaml v3.
        assert!(kustomize("v: !!bool yes\n").is_err());
    }

    #[test]
    fn kustomize_reads_numbers_and_nulls_like_the_default() {
        // Checked against kubectl kustomize (Kustomize v5.5): go-yaml v3 keeps these.
        for (text, expected) in [
            ("010", json!(8)),
            ("0755", json!(493)),
            ("0o17", json!(15)),
            ("0x1F", json!(31)),
            ("-0x1F", json!(-31)),
            ("0b101", json!(5)),
            ("1_000", json!(1000)),
            ("1e3", json!(1000)),
            ("1.0", json!(1)),
            ("08", json!(8)),
            ("09.5", json!(9.5)),
            (".5", json!(0.5)),
            ("1.5e400", json!("1.5e400")),
            ("0o8", json!("0o8")),
            ("~", Value::Null),
            ("Null", Value::Null),
            ("NULL", Value::Null),
            ("", Value::Null),
        ] {
            assert_eq!(kustomize_scalar(text), expected, "{text}");
            assert_eq!(scalar(text), expected, "{text} in the default schema");
        }
        assert!(kustomize("v: .inf\n").is_err());
        assert!(kustomize("v: .nan\n").is_err());
    }

    #[test]
    fn kustomize_writes_timestamps_as_go_json_times() {
        // Each pair as kubectl kustomize (Kustomize v5.5) printed it.
        for (text, expected) in [
            ("2002-12-14", "2002-12-14T00:00:00Z"),
            ("2001-1-2", "2001-01-02T00:00:00Z"),
            ("0001-01-01", "0001-01-01T00:00:00Z"),
            ("2001-12-14 21:59:43.10", "2001-12-14T21:59:43.1Z"),
            ("2001-12-14 1:2:3", "2001-12-14T01:02:03Z"),
            ("2001-12-14T21:59:43Z", "2001-12-14T21:59:43Z"),
            ("2001-12-14T1:2:3Z", "2001-12-14T01:02:03Z"),
            (
                "2001-12-14T21:59:43.123456789012Z",
                "2001-12-14T21:59:43.123456789Z",
            ),
            ("2001-12-14T21:59:43+00:00", "2001-12-14T21:59:43Z"),
            ("2001-12-14T21:59:43.000Z", "2001-12-14T21:59:43Z"),
            ("2001-12-14T21:59:43.5+05:30", "2001-12-14T21:59:43.5+05:30"),
            (
                "2001-12-14t21:59:43.10-05:00",
                "2001-12-14T21:59:43.1-05:00",
            ),
            ("2000-02-29", "2000-02-29T00:00:00Z"),
            ("2001-12-14T21:59:43,5Z", "2001-12-14T21:59:43.5Z"),
            ("2001-12-14   1:2:3", "2001-12-14T01:02:03Z"),
            ("2001-12-14T21:59:43-00:00", "2001-12-14T21:59:43Z"),
        ] {
            assert_eq!(kustomize_scalar(text), json!(expected), "{text}");
            assert_eq!(scalar(text), json!(text), "{text} in the default schema");
        }
        // Not timestamps for Go's layouts: kept as written.
        for text in [
            "2001-12-14 21:59:43.10 -5",
            "2002-12-14x",
            "2002-13-45",
            "2001-02-29",
            "1900-02-29",
            "2001-12-14T21:59:43",
            "2001-12-14 21:59:43Z",
            "2001-12-14T21:59:43.10+01",
            "2001-12-14T24:00:00Z",
            "2001-12-14T21:59:43.Z",
            "2001-012-14",
        ] {
            assert_eq!(kustomize_scalar(text), json!(text), "{text}");
        }
        // Quoted, it stays a string; an explicit tag makes it a time.
        assert_eq!(kustomize_scalar("\"2001-12-14\""), json!("2001-12-14"));
        assert_eq!(
            kustomize_scalar("!!timestamp \"2001-12-14\""),
            json!("2001-12-14T00:00:00Z")
        );
        assert!(kustomize("v: !!timestamp nope\n").is_err());
        // Go reads a 24-hour offset but cannot write it to JSON.
        let e = kustomize("v: 2001-12-14T21:59:43+24:00\n").unwrap_err();
        assert!(e.message.contains("24 hours"), "{e}");
    }

    #[test]
    fn kustomize_keeps_annotations_as_written() {
        let text = "metadata:\n  annotations:\n    a: 010\n    b: ~\n    c:\n    d: true\n    e: 2024-03-01\n    f: !!int \"7\"\n    g: 'on'\n  labels:\n    a: 010\nspec:\n  template:\n    metadata:\n      annotations:\n        a: 010\n";
        assert_eq!(
            kustomize(text).unwrap(),
            json!({
                "metadata": {
                    "annotations": {"a": "010", "b": "~", "c": "", "d": "true", "e": "2024-03-01", "f": "7", "g": "on"},
                    "labels": {"a": 8},
                },
                "spec": {"template": {"metadata": {"annotations": {"a": 8}}}},
            })
        );
        assert_eq!(one(text)["metadata"]["annotations"]["a"], json!(8));
        // In a patch, a null annotation deletes it: it stays null.
        let patch = LoadOptions::default().schema(Schema::KustomizePatch);
        let docs = from_str_documents(text, &patch).unwrap();
        let annotations = &docs[0].value["metadata"]["annotations"];
        assert_eq!(
            (&annotations["a"], &annotations["b"]),
            (&json!("010"), &Value::Null)
        );
        assert_eq!(annotations["c"], Value::Null);
        let list = "kind: List\nitems:\n- metadata:\n    annotations:\n      a: 1e3\n      b: 12345678901234567890\n";
        assert_eq!(
            kustomize(list).unwrap()["items"][0]["metadata"]["annotations"],
            json!({"a": "1e3", "b": "12345678901234567890"})
        );
    }

    #[test]
    fn kustomize_refuses_keys_that_are_not_strings() {
        for key in ["1", "010", "true", "1.5", "2002-12-14", "0x1F"] {
            let e = kustomize(&format!("a:\n  {key}: x\n")).unwrap_err();
            assert_eq!(e.location, Some((2, 3)), "{key}");
            assert!(e.message.contains("quote it"), "{key}: {e}");
            // The default schema turns them into strings, as sigs.k8s.io/yaml does.
            assert!(one(&format!("{key}: x\n")).is_object(), "{key}");
        }
        for key in ["\"1\"", "'true'", "yes", "on", "<<x", "\"\""] {
            assert!(kustomize(&format!("{key}: x\n")).is_ok(), "{key}");
        }
        // Merge keys still work.
        assert_eq!(
            kustomize("b: &b {on: 1}\nc:\n  <<: *b\n  x: 2002-12-14\n").unwrap(),
            json!({"b": {"on": 1}, "c": {"on": 1, "x": "2002-12-14T00:00:00Z"}})
        );
    }

    #[test]
    fn quoted_scalars_stay_strings() {
        for s in [
            "\"1\"", "'y'", "\"on\"", "'~'", "\"null\"", "''", "\"0x1F\"", "'1e3'", "\"<<\"",
        ] {
            let text = &s[1..s.len() - 1];
            assert_eq!(scalar(s), json!(text), "{s}");
        }
        assert_eq!(scalar("|\n  on\n"), json!("on\n"));
        assert_eq!(scalar(">-\n  010\n"), json!("010"));
    }

    #[test]
    fn booleans_and_nulls_are_yaml_1_1() {
        for s in [
            "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE",
        ] {
            assert_eq!(scalar(s), json!(true), "{s}");
        }
        for s in [
            "n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE",
        ] {
            assert_eq!(scalar(s), json!(false), "{s}");
        }
        // go-yaml knows exact spellings only; serde-saphyr would take these as booleans.
        for s in ["yEs", "oN", "tRUE", "nO", "OfF"] {
            assert_eq!(scalar(s), json!(s), "{s}");
        }
        for s in ["~", "null", "Null", "NULL", ""] {
            assert_eq!(scalar(s), Value::Null, "{s:?}");
        }
        assert_eq!(scalar("nULL"), json!("nULL"));
    }

    #[test]
    fn integers_like_go_yaml_v2() {
        let cases: &[(&str, Value)] = &[
            ("0", json!(0)),
            ("010", json!(8)),
            ("0755", json!(493)),
            ("-010", json!(-8)),
            ("08", json!(8)), // not octal, so go-yaml reads the float 8
            ("0x1F", json!(31)),
            ("0X1f", json!(31)),
            ("-0x1F", json!(-31)),
            ("+0x1F", json!(31)),
            ("0o17", json!(15)),
            ("0b101", json!(5)),
            ("-0b101", json!(-5)),
            ("1_000", json!(1000)),
            ("1__0", json!(10)),
            ("1_", json!(1)),
            ("+1", json!(1)),
            ("9223372036854775807", json!(i64::MAX)),
            ("-9223372036854775808", json!(i64::MIN)),
            ("9223372036854775808", json!(9_223_372_036_854_775_808_u64)),
            ("18446744073709551615", json!(u64::MAX)),
            ("0x", json!("0x")),
            ("0b", json!("0b")),
            ("0xZZ", json!("0xZZ")),
            ("_1", json!("_1")),
            ("1-2", json!("1-2")),
            ("12:30", json!("12:30")), // no sexagesimal numbers in go-yaml
        ];
        for (text, want) in cases {
            assert_eq!(&scalar(text), want, "{text}");
        }
    }

    #[test]
    fn beyond_64_bits_becomes_a_float_like_kubernetes() {
        // go-yaml v2 falls back to float64 for decimal integers beyond 64 bits (and
        // Kubernetes stores that float); hex ones do not look like floats and stay text.
        assert_eq!(
            scalar("18446744073709551616"),
            json!(18_446_744_073_709_551_616.0)
        );
        // Rounded to -2^63, which Go writes as an integer: Kubernetes reads i64::MIN.
        assert_eq!(scalar("-9223372036854775809"), json!(i64::MIN));
        assert_eq!(
            scalar("123456789012345678901234567890"),
            json!(1.234_567_890_123_456_8e29)
        );
        assert_eq!(
            scalar("0x1FFFFFFFFFFFFFFFFF"),
            json!("0x1FFFFFFFFFFFFFFFFF")
        );
        // ParseUint takes no sign: a big value with `+` is a float too.
        assert_eq!(
            scalar("+18446744073709551615"),
            json!(18_446_744_073_709_551_615.0)
        );
    }

    #[test]
    fn floats_like_kubernetes() {
        let cases: &[(&str, Value)] = &[
            ("1.5", json!(1.5)),
            ("-1.5e3", json!(-1500)),
            ("1e3", json!(1000)),
            ("1.0", json!(1)),
            ("1.", json!(1)),
            (".5", json!(0.5)),
            ("+.5", json!(0.5)),
            (".5_0", json!(0.5)),
            ("1_0.5", json!(10.5)),
            ("1E-2", json!(0.01)),
            ("1e20", json!(1e20)),
            ("1e400", json!("1e400")), // out of range: go-yaml keeps the text
            ("1e", json!("1e")),
            ("._5", json!("._5")),
            ("inf", json!("inf")),
            ("nan", json!("nan")),
            (".INf", json!(".INf")),
        ];
        for (text, want) in cases {
            assert_eq!(&scalar(text), want, "{text}");
        }
        assert!(scalar("1e20").as_f64().is_some());
        assert!(scalar("1e20").as_i64().is_none());
    }

    #[test]
    fn non_finite_floats_are_errors_with_a_position() {
        for word in [".inf", "-.inf", "+.Inf", ".nan", ".NaN"] {
            let e = err(&format!("a: 1\nb: {word}\n"));
            assert_eq!(e.location, Some((2, 4)), "{word}");
            assert!(e.message.contains("cannot be represented in JSON"), "{e}");
        }
        // As keys they are fine: sigs.k8s.io/yaml names them.
        assert_eq!(
            one(".inf: a\n-.inf: b\n.nan: c\n"),
            json!({".inf": "a", "-.inf": "b", ".nan": "c"})
        );
    }

    #[test]
    fn timestamps_stay_strings() {
        for s in [
            "2001-12-14t21:59:43.10-05:00",
            "2002-12-14",
            "2001-12-14 21:59:43.10",
        ] {
            assert_eq!(scalar(s), json!(s));
        }
        assert_eq!(scalar("!!timestamp 2002-12-14"), json!("2002-12-14"));
        assert!(from_str_multi("a: !!timestamp nope\n").is_err());
    }

    #[test]
    fn keys_become_strings_like_sigs_k8s_io_yaml() {
        // `on` and `y` both resolve to `true`: a duplicate key.
        let e = err("on: a\ny: b\n");
        assert!(e.message.contains("duplicate key \"true\""), "{e}");
        let v = one(
            "on: a\n1: c\n010: d\n0x1F: e\n1.5: f\n1e3: g\n0.1: i\n1e7: j\n123456789.0: k\nNo: l\n\"y\": m\n-0.0: n\n0.00001: o\n",
        );
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "true",
                "1",
                "8",
                "31",
                "1.5",
                "1000",
                "0.1",
                "1e+07",
                "1.2345679e+08",
                "false",
                "y",
                "-0",
                "1e-05"
            ]
        );
        assert!(err("~: a\n").message.contains("null mapping key"));
        assert!(
            err("18446744073709551615: a\n")
                .message
                .contains("beyond int64")
        );
        assert!(err("? [a]\n: b\n").message.contains("must be a scalar"));
    }

    #[test]
    fn duplicate_keys_name_both_lines() {
        let e = err("a: 1\nb:\n  c: 1\n  c: 2\n");
        assert_eq!(e.location, Some((4, 3)));
        assert!(
            e.message
                .contains("duplicate key \"c\" (first at line 3, column 3)"),
            "{e}"
        );
    }

    #[test]
    fn merge_keys() {
        let text = "base: &b {p: 1, q: 2}\nother: &o {q: 5, r: 6}\nm:\n  <<: *b\n  q: 3\nk:\n  <<: [*o, *b]\nw:\n  q: 9\n  <<: *b\n";
        let v = one(text);
        assert_eq!(v["m"], json!({"p": 1, "q": 3}));
        // Earlier sources win.
        assert_eq!(v["k"], json!({"q": 5, "r": 6, "p": 1}));
        // Written keys win wherever they are (YAML's merge rule; go-yaml v2 lets a later
        // `<<` override an earlier key).
        assert_eq!(v["w"], json!({"q": 9, "p": 1}));
        // Merged keys keep the position of the `<<`.
        let keys: Vec<&String> = v["m"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["p", "q"]);
        // `y` is YAML 1.1's `true`, in merged mappings too.
        assert_eq!(one("b: &b {y: 1}\nm: {<<: *b}\n")["m"], json!({"true": 1}));
        assert!(err("a: {<<: 1}\n").message.contains("merge"));
        assert!(err("a: {<<: [1]}\n").message.contains("merge"));
        // A quoted "<<" is an ordinary key; `<<` as a value is a string.
        assert_eq!(one("\"<<\": 1\nb: <<\n"), json!({"<<": 1, "b": "<<"}));
        assert_eq!(one("a: {!!merge <<: {x: 1}}\n"), json!({"a": {"x": 1}}));
    }

    #[test]
    fn tags() {
        assert_eq!(scalar("!!str 1"), json!("1"));
        assert_eq!(scalar("!!str on"), json!("on"));
        assert_eq!(scalar("!!int \"010\""), json!(8));
        assert_eq!(scalar("!!float 3"), json!(3));
        assert_eq!(scalar("!!float 3.5"), json!(3.5));
        assert_eq!(scalar("!!bool \"yes\""), json!(true));
        assert_eq!(scalar("!!null ~"), Value::Null);
        assert_eq!(scalar("!custom 12"), json!("12"));
        assert_eq!(scalar("! 12"), json!("12"));
        assert_eq!(scalar("!!binary aGVsbG8="), json!("hello"));
        let e = err("a: 1\nb: !!int abc\n");
        assert_eq!(e.location.map(|l| l.0), Some(2));
        assert!(e.message.contains("cannot read `abc` as a !!int"), "{e}");
        assert!(err("a: !!binary '***'\n").message.contains("base64"));
    }

    #[test]
    fn documents_have_index_and_line() {
        let text = "# head\n---\na: 1\n---\n# only a comment\n---\n\n\nb: 2\n---\n...\n---\nnull\n---\n- 1\n";
        let docs = from_str_documents(text, &LoadOptions::default()).unwrap();
        let got: Vec<(usize, usize)> = docs.iter().map(|d| (d.index, d.line)).collect();
        assert_eq!(got, [(1, 3), (3, 9), (6, 15)]);
        assert_eq!(docs[2].value, json!([1]));
        assert!(from_str_multi("").unwrap().is_empty());
        assert!(from_str_multi("# nothing\n").unwrap().is_empty());
    }

    #[test]
    fn windows_line_endings_and_tabs() {
        assert_eq!(
            one("a: on\r\nb: |\r\n  x\r\n  y\r\n"),
            json!({"a": true, "b": "x\ny\n"})
        );
        assert_eq!(one("a:\t\"t\"\n"), json!({"a": "t"}));
        let e = err("a:\n\tb: 1\n");
        assert_eq!(e.location.map(|l| l.0), Some(2), "{e}");
    }

    #[test]
    fn syntax_errors_have_line_column_and_document() {
        let e = err("a: 1\n---\nb: [1, 2\nc: 3\n");
        assert_eq!(e.kind(), YamlErrorKind::Syntax);
        assert_eq!(e.document(), Some(2));
        let (line, col) = e.location.unwrap();
        assert!(line >= 3, "{e}");
        assert!(col >= 1);
        assert!(
            e.to_string()
                .starts_with(&format!("line {line}, column {col}: "))
        );
        let e = err("a: b: c\n");
        assert_eq!(e.location.map(|l| l.0), Some(1), "{e}");
        let e = err("a: *nope\n");
        assert!(e.location.is_some(), "{e}");
    }

    #[test]
    fn alias_bombs_are_bounded() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            writeln!(
                text,
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]"
            )
            .unwrap();
        }
        let started = std::time::Instant::now();
        let e = err(&text);
        assert_eq!(e.kind(), YamlErrorKind::AliasBudget { limit: 1_000_000 });
        assert!(e.message.contains("alias bomb"), "{e}");
        assert!(e.location.is_some());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // Ordinary aliases are fine.
        assert_eq!(
            one("a: &x {k: v}\nb: *x\n"),
            json!({"a": {"k": "v"}, "b": {"k": "v"}})
        );
        // Self-reference is an error, not a hang.
        assert!(err("a: &x [*x]\n").message.contains("contains it"));
    }

    #[test]
    fn alias_depth_is_bounded() {
        let mut text = String::from("a0: &a0 [[[[[[[[[[1]]]]]]]]]]\n");
        for i in 1..200 {
            writeln!(text, "a{i}: &a{i} [[[[[[[[[[*a{}]]]]]]]]]]", i - 1).unwrap();
        }
        let e = err(&text);
        assert!(matches!(e.kind(), YamlErrorKind::AliasBudget { .. }), "{e}");
        assert!(e.message.contains("deeper"), "{e}");
    }

    #[test]
    fn documents_over_the_limit_are_refused() {
        let small = "a: 1\n---\n";
        let big = format!("b: \"{}\"\n", "x".repeat(200));
        let text = format!("{small}{big}");
        let options = LoadOptions::default().max_document_bytes(100);
        let e = from_str_documents(&text, &options).unwrap_err();
        assert_eq!(e.kind(), YamlErrorKind::DocumentTooLarge { limit: 100 });
        assert_eq!(e.document(), Some(2));
        assert!(from_str_documents(small, &options).is_ok());
    }

    #[test]
    fn go_float_keys() {
        let cases = [
            (1.0, "1"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (100_000.0, "100000"),
            (1e6, "1e+06"),
            (1_234_567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5, "-2.5"),
            (1e300, "+Inf"),
            (3.0e38, "3e+38"),
        ];
        for (f, want) in cases {
            assert_eq!(go_float32_g(f), want, "{f}");
        }
    }

    #[test]
    fn writes_what_reads_back() {
        let value = json!({
            "strings": ["on", "1", "", "null", "~", "0x1", "yEs", "1__0", "1_.5", "<<", "y", "08",
                        "a\nb\n", " lead", "trail ", "a: b", "#x", "- x", "multi\nline", "\t", "\r\n",
                        "2001-12-14", ".inf", "1e400", "-", "?", "'", "\"", "é"],
            "numbers": [0, -1, u64::MAX, i64::MIN, 1.5, 1e20, -1e300, 0.1],
            "<<": {"on": 1, "1": 2, "": 3, "~": null, "1.0": true},
            "empty": {}, "none": [],
        });
        let text = to_string(&value).unwrap();
        assert_eq!(
            from_str_multi(&text).unwrap(),
            vec![value.clone()],
            "{text}"
        );
        let stream = to_string_multi([&value, &json!({"b": 1})]).unwrap();
        assert_eq!(
            from_str_multi(&stream).unwrap(),
            vec![value, json!({"b": 1})]
        );
    }

    /// Values in the form the reader produces: no floats with an integral value that
    /// fits i64 (those read back as integers).
    fn normal_json() -> impl Strategy<Value = Value> {
        let tricky = prop::sample::select(vec![
            "on",
            "off",
            "y",
            "n",
            "yes",
            "No",
            "1",
            "-1",
            "",
            "null",
            "~",
            "0x1",
            "010",
            "1e3",
            ".inf",
            "<<",
            "=",
            "true",
            "1_000",
            "- a",
            "a: b",
            "#",
            "key #c",
            " ",
            "\n",
            "a\n",
            "\n\na\n\n",
            "  x\n y",
            "'",
            "\"",
            "\\",
            "\t",
            "2001-12-14",
            "%",
            "@",
            "`",
            "!x",
            "&a",
            "*a",
            "|",
            ">",
            "?",
            "{}",
            "[]",
            ",",
            "\u{feff}x",
            "\u{85}",
            "\r",
        ])
        .prop_map(|s| Value::String(s.to_owned()));
        let float = any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| Value::Number(json_number(f).unwrap_or_else(|| Number::from(0))));
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            float,
            tricky,
            "\\PC{0,12}".prop_map(Value::String),
            "[ -~\n\t]{0,20}".prop_map(Value::String),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop_oneof![
                            "[a-z0-9._-]{0,8}".boxed(),
                            "\\PC{0,6}".boxed(),
                            "(on|y|1|~|<<|null|1.0)".boxed(),
                            any::<String>().boxed(),
                        ],
                        inner
                    ),
                    0..6
                )
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn yaml_round_trip(value in normal_json()) {
            let text = to_string(&value).unwrap();
            let back = from_str_multi(&text).unwrap();
            let expected = if value.is_null() { vec![] } else { vec![value] };
            prop_assert_eq!(back, expected, "{}", text);
        }

        #[test]
        fn loading_never_panics(text in "\\PC{0,64}") {
            let _ = from_str_multi(&text);
        }

        /// Text made of YAML's own characters: whatever loads writes back to YAML that
        /// reads as the same value (what the `yaml_load` fuzz target checks at scale).
        #[test]
        fn yaml_like_text_loads_or_fails_cleanly(
            text in "([-:?,\\[\\]{}#&*!|>'\"%@ \n\ta-c0-2<~._+]|on|y|010|0x|1e3|\\.inf|---|\\.\\.\\.|&a |\\*a|<<: ){0,40}"
        ) {
            if let Ok(values) = from_str_multi(&text) {
                for value in values {
                    let written = to_string(&value).unwrap();
                    prop_assert_eq!(from_str_multi(&written).unwrap(), vec![value], "{}", written);
                }
            }
        }
    }
}
