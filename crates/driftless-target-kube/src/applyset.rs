//! The ApplySet inventory (KEP-3659): a parent object listing which kinds and
//! namespaces hold members, and a label on every member.

use std::collections::BTreeSet;

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// Label on the parent: the ApplySet id.
pub(crate) const ID_LABEL: &str = "applyset.kubernetes.io/id";
/// Label on every member: the id of its ApplySet.
pub(crate) const PART_OF_LABEL: &str = "applyset.kubernetes.io/part-of";
/// Annotation on the parent: the tool managing the set.
pub(crate) const TOOLING_ANNOTATION: &str = "applyset.kubernetes.io/tooling";
/// Annotation on the parent: `Kind.group` of every kind with members, sorted.
pub(crate) const GROUP_KINDS_ANNOTATION: &str = "applyset.kubernetes.io/contains-group-kinds";
/// Annotation on the parent: namespaces other than the parent's holding members.
pub(crate) const NAMESPACES_ANNOTATION: &str = "applyset.kubernetes.io/additional-namespaces";
/// Our tooling value.
pub(crate) const TOOLING: &str = "driftless/v0.1";

/// A group and kind (`Deployment.apps`; the core group is empty).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct GroupKind {
    pub(crate) group: String,
    pub(crate) kind: String,
}

impl GroupKind {
    pub(crate) fn new(group: &str, kind: &str) -> Self {
        Self {
            group: group.to_owned(),
            kind: kind.to_owned(),
        }
    }

    /// `Kind.group`, or `Kind` for the core group.
    fn annotation_form(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        Some(match s.split_once('.') {
            Some((kind, group)) => Self::new(group, kind),
            None => Self::new("", s),
        })
    }
}

/// The ApplySet id of a parent: `applyset-` + unpadded base64url of
/// sha256(`<name>.<namespace>.<kind>.<group>`) + `-v1`.
pub(crate) fn applyset_id(name: &str, namespace: &str, kind: &str, group: &str) -> String {
    let digest = Sha256::digest(format!("{name}.{namespace}.{kind}.{group}").as_bytes());
    format!(
        "applyset-{}-v1",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

/// What the parent says: the kinds and namespaces holding members.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Inventory {
    pub(crate) group_kinds: BTreeSet<GroupKind>,
    /// Namespaces besides the parent's.
    pub(crate) namespaces: BTreeSet<String>,
}

impl Inventory {
    /// Reads the parent's annotations.
    pub(crate) fn from_parent(parent: &Value) -> Self {
        let annotation = |key: &str| {
            parent
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(key))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        Self {
            group_kinds: annotation(GROUP_KINDS_ANNOTATION)
                .split(',')
                .filter_map(GroupKind::parse)
                .collect(),
            namespaces: annotation(NAMESPACES_ANNOTATION)
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }

    /// Adds a member's kind and namespace (the parent's namespace is implied).
    pub(crate) fn add(&mut self, gk: GroupKind, namespace: Option<&str>, parent_namespace: &str) {
        self.group_kinds.insert(gk);
        if let Some(ns) = namespace.filter(|ns| *ns != parent_namespace) {
            self.namespaces.insert(ns.to_owned());
        }
    }

    /// Both inventories together.
    pub(crate) fn union(&self, other: &Self) -> Self {
        Self {
            group_kinds: self
                .group_kinds
                .union(&other.group_kinds)
                .cloned()
                .collect(),
            namespaces: self.namespaces.union(&other.namespaces).cloned().collect(),
        }
    }

    /// The parent object to server-side apply: a Secret labelled with the id and
    /// annotated with tooling, kinds and namespaces.
    pub(crate) fn parent(&self, name: &str, namespace: &str, id: &str) -> Value {
        let mut group_kinds: Vec<String> = self
            .group_kinds
            .iter()
            .map(GroupKind::annotation_form)
            .collect();
        group_kinds.sort();
        let mut annotations = serde_json::Map::new();
        annotations.insert(TOOLING_ANNOTATION.into(), TOOLING.into());
        annotations.insert(GROUP_KINDS_ANNOTATION.into(), group_kinds.join(",").into());
        if !self.namespaces.is_empty() {
            let namespaces: Vec<&str> = self.namespaces.iter().map(String::as_str).collect();
            annotations.insert(NAMESPACES_ANNOTATION.into(), namespaces.join(",").into());
        }
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {ID_LABEL: id},
                "annotations": annotations,
            },
            "type": "Opaque",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_follows_kep_3659() {
        // The example of the kubectl implementation: a Secret parent `test-set` in `default`.
        let id = applyset_id("test-set", "default", "Secret", "");
        assert!(id.starts_with("applyset-") && id.ends_with("-v1"), "{id}");
        // 32 bytes of sha256 are 43 unpadded base64 characters.
        assert_eq!(id.len(), "applyset-".len() + 43 + "-v1".len());
        assert!(!id.contains('=') && !id.contains('+') && !id.contains('/'));
        // The value kubectl asks for (`want:`) for the Secret parent applyset-shop in kx.
        assert_eq!(
            applyset_id("applyset-shop", "kx", "Secret", ""),
            "applyset-KbeYmHU7XroMD6VeN6DVzvmG78ojfPnCSk38yqxW2YU-v1"
        );
    }

    #[test]
    fn parent_annotations_round_trip() {
        let mut inv = Inventory::default();
        inv.add(GroupKind::new("apps", "Deployment"), Some("web"), "web");
        inv.add(GroupKind::new("", "ConfigMap"), Some("other"), "web");
        inv.add(GroupKind::new("", "Namespace"), None, "web");
        let parent = inv.parent("applyset-web", "web", "applyset-x-v1");
        assert_eq!(
            parent["metadata"]["annotations"][GROUP_KINDS_ANNOTATION],
            "ConfigMap,Deployment.apps,Namespace"
        );
        assert_eq!(
            parent["metadata"]["annotations"][NAMESPACES_ANNOTATION],
            "other"
        );
        assert_eq!(Inventory::from_parent(&parent), inv);
    }
}
