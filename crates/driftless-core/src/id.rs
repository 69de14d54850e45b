//! [`ObjectId`]: the identity of an object across render, diff, inventory and prune.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The identity of one object: API group, kind, namespace and name.
///
/// The version is deliberately not part of the identity: `apps/v1` and `apps/v1beta2`
/// Deployments with the same name are the same object, as in Kubernetes.
///
/// Its string form, `group/Kind/namespace/name` (empty group for the core API group,
/// empty namespace for cluster-scoped objects), is stable: inventories store it.
///
/// Clones share the parts (a pointer each): a reconcile keeps an object's id in the
/// render, the live state, the plan and the reports, 50,000 times over for a large app.
///
/// ```
/// use driftless_core::ObjectId;
///
/// let id = ObjectId::new("apps", "Deployment", Some("web"), "frontend");
/// assert_eq!(id.to_string(), "apps/Deployment/web/frontend");
/// assert_eq!("apps/Deployment/web/frontend".parse::<ObjectId>().unwrap(), id);
///
/// let cm = ObjectId::new("", "Namespace", None, "web");
/// assert_eq!(cm.to_string(), "/Namespace//web");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectId(Arc<Parts>);

/// The parts of an [`ObjectId`], compared and ordered in this order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Parts {
    group: String,
    kind: String,
    namespace: Option<String>,
    name: String,
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectId")
            .field("group", &self.0.group)
            .field("kind", &self.0.kind)
            .field("namespace", &self.0.namespace)
            .field("name", &self.0.name)
            .finish()
    }
}

impl ObjectId {
    /// Builds an id; an empty namespace is the same as none.
    pub fn new(
        group: impl Into<String>,
        kind: impl Into<String>,
        namespace: Option<&str>,
        name: impl Into<String>,
    ) -> Self {
        Self(Arc::new(Parts {
            group: group.into(),
            kind: kind.into(),
            namespace: namespace.filter(|ns| !ns.is_empty()).map(str::to_owned),
            name: name.into(),
        }))
    }

    /// The API group (`""` for the core group, e.g. `apps`).
    pub fn group(&self) -> &str {
        &self.0.group
    }

    /// The kind, e.g. `Deployment`.
    pub fn kind(&self) -> &str {
        &self.0.kind
    }

    /// The namespace, or `None` for cluster-scoped objects (or objects whose namespace is
    /// left to the target).
    pub fn namespace(&self) -> Option<&str> {
        self.0.namespace.as_deref()
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The same id in another namespace (`None` for cluster scope).
    #[must_use]
    pub fn with_namespace(mut self, namespace: Option<&str>) -> Self {
        Arc::make_mut(&mut self.0).namespace =
            namespace.filter(|ns| !ns.is_empty()).map(str::to_owned);
        self
    }

    /// A short, human form: `Deployment/frontend (web)`.
    pub fn short(&self) -> String {
        match self.namespace() {
            Some(ns) => format!("{}/{} ({ns})", self.kind(), self.name()),
            None => format!("{}/{}", self.kind(), self.name()),
        }
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}",
            self.group(),
            self.kind(),
            self.namespace().unwrap_or(""),
            self.name()
        )
    }
}

impl FromStr for ObjectId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [group, kind, namespace, name] if !kind.is_empty() && !name.is_empty() => {
                Ok(Self::new(*group, *kind, Some(namespace), *name))
            }
            _ => Err(Error::InvalidObjectId(s.to_owned())),
        }
    }
}

impl TryFrom<String> for ObjectId {
    type Error = Error;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ObjectId> for String {
    fn from(id: ObjectId) -> Self {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_namespace_is_none() {
        assert_eq!(
            ObjectId::new("", "ConfigMap", Some(""), "a").namespace(),
            None
        );
    }

    #[test]
    fn rejects_malformed_strings() {
        for bad in ["", "a/b/c", "a//ns/n", "a/K/ns/", "a/K/ns/n/extra"] {
            assert!(bad.parse::<ObjectId>().is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn string_form_round_trips(
            group in "[a-z.]{0,12}", kind in "[A-Z][a-zA-Z]{0,10}",
            ns in proptest::option::of("[a-z0-9-]{1,10}"), name in "[a-z0-9.-]{1,20}",
        ) {
            let id = ObjectId::new(group, kind, ns.as_deref(), name);
            prop_assert_eq!(id.to_string().parse::<ObjectId>().unwrap(), id);
        }
    }
}
