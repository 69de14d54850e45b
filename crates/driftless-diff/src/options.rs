//! [`DiffOptions`] and [`IgnoreRule`]: what the differ leaves alone.

use driftless_core::ObjectId;
use json_patch::jsonptr::PointerBuf;

use crate::Error;

/// How [`plan`](crate::plan) compares objects.
///
/// ```
/// use driftless_diff::{DiffOptions, IgnoreRule};
///
/// // Leave replica counts to the autoscaler, for Deployments only.
/// let options = DiffOptions::default()
///     .ignore(IgnoreRule::new("/spec/replicas")?.group("apps").kind("Deployment"));
/// assert_eq!(options.ignore.len(), 1);
/// # Ok::<(), driftless_diff::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiffOptions {
    /// Fields that never count as drift and are never part of a patch.
    pub ignore: Vec<IgnoreRule>,
    /// Compare lists as whole values: a list differs unless live's is equal to desired's,
    /// even when its items only add fields desired does not set (server defaults inside
    /// containers, for example). Off by default: lists of the same length are compared
    /// item by item, by position, with the same intent rules as maps.
    pub exact_lists: bool,
}

impl DiffOptions {
    /// Adds one ignore rule.
    #[must_use]
    pub fn ignore(mut self, rule: IgnoreRule) -> Self {
        self.ignore.push(rule);
        self
    }

    /// Sets [`exact_lists`](Self::exact_lists).
    #[must_use]
    pub fn exact_lists(mut self, exact_lists: bool) -> Self {
        self.exact_lists = exact_lists;
        self
    }

    /// Replaces the ignore rules.
    #[must_use]
    pub fn ignore_rules(mut self, rules: impl IntoIterator<Item = IgnoreRule>) -> Self {
        self.ignore = rules.into_iter().collect();
        self
    }
}

/// A field to ignore: a JSON pointer (RFC 6901, e.g. `/spec/replicas`, with `~1` for
/// `/` and `~0` for `~` inside a key), optionally only for objects of a group, kind,
/// namespace or name.
///
/// A field is ignored when its path is the pointer or lies below it, so
/// `/metadata/annotations` ignores every annotation. Numeric tokens address list
/// items by position (`/spec/template/spec/containers/0/image`).
///
/// A pointer that does not parse (it must be empty or start with `/`) matches nothing;
/// [`IgnoreRule::new`] rejects it up front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreRule {
    /// The JSON pointer of the field.
    pub pointer: String,
    /// Only objects of this API group (`""` for the core group).
    pub group: Option<String>,
    /// Only objects of this kind.
    pub kind: Option<String>,
    /// Only objects in this namespace (`""` for cluster-scoped objects).
    pub namespace: Option<String>,
    /// Only objects with this name.
    pub name: Option<String>,
}

/// `[KIND[/NAME]=]POINTER`, as the CLI's `--ignore` and the agent's `ignore` write a
/// rule: `/spec/replicas`, `Deployment=/spec/replicas`, `Deployment/web=/spec/replicas`.
impl std::str::FromStr for IgnoreRule {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let (object, pointer) = match text.split_once('=') {
            Some((object, pointer)) => (Some(object), pointer),
            None => (None, text),
        };
        let mut rule = Self::new(pointer)?;
        if let Some(object) = object {
            let (kind, name) = match object.split_once('/') {
                Some((kind, name)) => (kind, Some(name)),
                None => (object, None),
            };
            rule = rule.kind(kind);
            if let Some(name) = name {
                rule = rule.name(name);
            }
        }
        Ok(rule)
    }
}

impl IgnoreRule {
    /// A rule for `pointer` on every object; narrow it with the setters.
    pub fn new(pointer: impl Into<String>) -> Result<Self, Error> {
        let pointer = pointer.into();
        if let Err(source) = PointerBuf::parse(pointer.as_str()) {
            return Err(Error::InvalidIgnorePointer {
                pointer,
                source: Box::new(source),
            });
        }
        Ok(Self {
            pointer,
            group: None,
            kind: None,
            namespace: None,
            name: None,
        })
    }

    /// Only objects of this API group (`""` for the core group).
    #[must_use]
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// Only objects of this kind.
    #[must_use]
    pub fn kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = Some(kind.into());
        self
    }

    /// Only objects in this namespace (`""` for cluster-scoped objects).
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Only objects with this name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Whether the rule applies to the object `id`.
    pub fn applies_to(&self, id: &ObjectId) -> bool {
        self.group.as_deref().is_none_or(|g| g == id.group())
            && self.kind.as_deref().is_none_or(|k| k == id.kind())
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| ns == id.namespace().unwrap_or(""))
            && self.name.as_deref().is_none_or(|n| n == id.name())
    }

    /// The parsed pointer, or `None` (with a warning) when it does not parse.
    pub(crate) fn parsed(&self) -> Option<PointerBuf> {
        match PointerBuf::parse(self.pointer.as_str()) {
            Ok(pointer) => Some(pointer),
            Err(error) => {
                tracing::warn!(
                    pointer = %self.pointer,
                    %error,
                    "ignore rule has an invalid JSON pointer; it matches nothing"
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_id() {
        let id = ObjectId::new("apps", "Deployment", Some("web"), "api");
        let rule = IgnoreRule::new("/spec/replicas").unwrap();
        assert!(rule.applies_to(&id));
        assert!(
            rule.clone()
                .group("apps")
                .kind("Deployment")
                .applies_to(&id)
        );
        assert!(rule.clone().namespace("web").name("api").applies_to(&id));
        assert!(!rule.clone().group("").applies_to(&id));
        assert!(!rule.clone().kind("StatefulSet").applies_to(&id));
        assert!(!rule.clone().namespace("").applies_to(&id));
        assert!(!rule.clone().name("other").applies_to(&id));
        let cluster = ObjectId::new("", "Namespace", None, "web");
        assert!(rule.namespace("").applies_to(&cluster));
    }

    #[test]
    fn rejects_bad_pointers() {
        let err = IgnoreRule::new("spec/replicas").unwrap_err();
        assert!(err.to_string().contains("\"spec/replicas\""), "{err}");
        assert!(IgnoreRule::new("/a~2b").is_err());
        assert!(IgnoreRule::new("").is_ok());
        assert!(IgnoreRule::new("/metadata/annotations/a~1b").is_ok());
    }

    #[test]
    fn invalid_literal_rule_matches_nothing() {
        let rule = IgnoreRule {
            pointer: "no-slash".into(),
            group: None,
            kind: None,
            namespace: None,
            name: None,
        };
        assert_eq!(rule.parsed(), None);
    }
}
