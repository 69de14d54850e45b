//! ConfigMaps and Secrets read from the app's Kubernetes cluster, for post-build
//! variables (`substituteFrom`) and decryption keys (`decryption.secretRef`).

use std::collections::BTreeMap;
use std::fmt;

use crate::Error;

/// A kind of object post-build reads from the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectKind {
    /// A ConfigMap: its `data` and `binaryData`.
    ConfigMap,
    /// A Secret: its `data`.
    Secret,
}

impl ObjectKind {
    /// `ConfigMap` or `Secret`.
    pub fn name(self) -> &'static str {
        match self {
            Self::ConfigMap => "ConfigMap",
            Self::Secret => "Secret",
        }
    }
}

/// A ConfigMap or Secret of the cluster, as Flux names one in `substituteFrom` and
/// `decryption.secretRef`, with an optional namespace of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// ConfigMap or Secret.
    pub kind: ObjectKind,
    /// Its name.
    pub name: String,
    /// Its namespace; `None`: the app's own namespace, the namespace of its inventory
    /// (the ApplySet parent), as Flux reads them from the Kustomization's namespace.
    pub namespace: Option<String>,
}

impl ObjectRef {
    /// A reference to `kind` `name` in the app's namespace.
    pub fn new(kind: ObjectKind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
            namespace: None,
        }
    }

    /// Sets [`namespace`](Self::namespace).
    #[must_use]
    pub fn namespace(mut self, namespace: Option<String>) -> Self {
        self.namespace = namespace;
        self
    }
}

/// The cluster an app's `kube` target applies to, through the target's own client:
/// where post-build ConfigMaps and Secrets are read. Opened with the target
/// ([`crate::spec::open_target_in`]).
#[derive(Clone)]
pub struct Cluster {
    #[cfg(feature = "kube")]
    target: std::sync::Arc<driftless_target_kube::KubeTarget>,
    #[cfg(not(feature = "kube"))]
    unconstructible: std::convert::Infallible,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cluster")
    }
}

/// What was read: key to bytes. Never logged.
pub(crate) type Data = BTreeMap<String, Vec<u8>>;

#[cfg(feature = "kube")]
impl Cluster {
    /// The cluster of a kube target.
    pub fn new(target: std::sync::Arc<driftless_target_kube::KubeTarget>) -> Self {
        Self { target }
    }

    /// The namespace an [`ObjectRef`] without one is read in: the app's inventory
    /// namespace.
    pub fn namespace(&self) -> &str {
        self.target.applyset_namespace()
    }

    /// The data of `object`, read now; `None` when it does not exist.
    pub(crate) async fn read(&self, object: &ObjectRef, role: &str) -> Result<Option<Data>, Error> {
        use driftless_target_kube::DataKind;
        let kind = match object.kind {
            ObjectKind::ConfigMap => DataKind::ConfigMap,
            ObjectKind::Secret => DataKind::Secret,
        };
        let namespace = object.namespace.as_deref().unwrap_or(self.namespace());
        let found = self
            .target
            .read_data(kind, namespace, &object.name)
            .await
            .map_err(|source| Error::PostBuildInput {
                what: describe(object, namespace, role),
                message: "cannot read it".to_owned(),
                source: Some(Box::new(source)),
            })?;
        Ok(found.map(driftless_target_kube::Data::into_entries))
    }
}

#[cfg(not(feature = "kube"))]
impl Cluster {
    /// The namespace an [`ObjectRef`] without one is read in.
    pub fn namespace(&self) -> &str {
        match self.unconstructible {}
    }

    #[allow(clippy::unused_async)] // the same signature as with the feature
    pub(crate) async fn read(&self, _: &ObjectRef, _: &str) -> Result<Option<Data>, Error> {
        match self.unconstructible {}
    }
}

/// `Secret web/keys (decryption.secretRef)`: the object and the setting naming it.
pub(crate) fn describe(object: &ObjectRef, namespace: &str, role: &str) -> String {
    format!(
        "{} {namespace}/{} ({role})",
        object.kind.name(),
        object.name
    )
}
