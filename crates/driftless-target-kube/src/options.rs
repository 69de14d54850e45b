//! [`KubeOptions`]: how a [`KubeTarget`](crate::KubeTarget) connects and behaves.

use std::path::PathBuf;
use std::time::Duration;

/// How to connect to a cluster and how to apply to it.
///
/// ```
/// use std::time::Duration;
/// use driftless_target_kube::KubeOptions;
///
/// let options = KubeOptions::default()
///     .context("prod")
///     .applyset("web")
///     .applyset_namespace("driftless-system")
///     .concurrency(16)
///     .wait_timeout(Duration::from_secs(120));
/// assert_eq!(options.field_manager, "driftless");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KubeOptions {
    /// The kubeconfig file to read; `None` reads `KUBECONFIG` or `~/.kube/config`,
    /// falling back to the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context; `None` is the current context.
    pub context: Option<String>,
    /// The namespace given to namespaced objects that name none; `None` is the
    /// context's namespace (or `default`).
    pub namespace: Option<String>,
    /// The server-side apply field manager.
    pub field_manager: String,
    /// The ApplySet name (the application's name, never a folder's): the parent object
    /// is the Secret `applyset-<name>`.
    pub applyset: String,
    /// The namespace of the ApplySet parent; `None` is [`namespace`](Self::namespace)
    /// when set, else `default`. Never the kubeconfig context's namespace: switching
    /// contexts must not re-parent a set.
    pub applyset_namespace: Option<String>,
    /// Take over objects that belong to another ApplySet (their
    /// `applyset.kubernetes.io/part-of` label names another set). Off by default: such
    /// objects are an error naming both sets.
    pub adopt: bool,
    /// How many objects are applied (or deleted, or read) at once within a stage.
    pub concurrency: usize,
    /// How long to wait for an applied CustomResourceDefinition to be Established,
    /// and for a deleted object to be gone before it is recreated.
    pub wait_timeout: Duration,
}

impl Default for KubeOptions {
    fn default() -> Self {
        Self {
            kubeconfig: None,
            context: None,
            namespace: None,
            field_manager: "driftless".to_owned(),
            applyset: "driftless".to_owned(),
            applyset_namespace: None,
            adopt: false,
            concurrency: 32,
            wait_timeout: Duration::from_secs(60),
        }
    }
}

impl KubeOptions {
    /// Sets [`kubeconfig`](Self::kubeconfig).
    #[must_use]
    pub fn kubeconfig(mut self, path: impl Into<PathBuf>) -> Self {
        self.kubeconfig = Some(path.into());
        self
    }

    /// Sets [`context`](Self::context).
    #[must_use]
    pub fn context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// Sets [`namespace`](Self::namespace).
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Sets [`field_manager`](Self::field_manager).
    #[must_use]
    pub fn field_manager(mut self, manager: impl Into<String>) -> Self {
        self.field_manager = manager.into();
        self
    }

    /// Sets [`applyset`](Self::applyset) (e.g. the application's name).
    #[must_use]
    pub fn applyset(mut self, name: impl Into<String>) -> Self {
        self.applyset = name.into();
        self
    }

    /// Sets [`applyset_namespace`](Self::applyset_namespace).
    #[must_use]
    pub fn applyset_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.applyset_namespace = Some(namespace.into());
        self
    }

    /// Sets [`concurrency`](Self::concurrency) (at least 1).
    #[must_use]
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// Sets [`adopt`](Self::adopt).
    #[must_use]
    pub fn adopt(mut self, adopt: bool) -> Self {
        self.adopt = adopt;
        self
    }

    /// Sets [`wait_timeout`](Self::wait_timeout).
    #[must_use]
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }
}
