//! [`Clusters`]: Kubernetes connections shared by the targets of many apps.

#[cfg(feature = "kube")]
use std::collections::HashMap;
#[cfg(feature = "kube")]
use std::path::PathBuf;
#[cfg(feature = "kube")]
use std::sync::Arc;

/// The Kubernetes connections that targets opened through it share: one client (one
/// connection pool) and one discovery cache per kubeconfig file and context. An agent
/// opens every app's target through one `Clusters`, so that a thousand apps on one
/// cluster hold one connection pool and ask about each kind once. Cheap to clone (the
/// clones share); a new `Clusters` reads the kubeconfig again.
#[derive(Debug, Clone, Default)]
pub struct Clusters {
    #[cfg(feature = "kube")]
    opened: Arc<tokio::sync::Mutex<HashMap<ClusterKey, driftless_target_kube::Cluster>>>,
}

/// A kubeconfig file (`None`: `KUBECONFIG`, `~/.kube/config` or in-cluster) and context
/// (`None`: the current one).
#[cfg(feature = "kube")]
type ClusterKey = (Option<PathBuf>, Option<String>);

impl Clusters {
    /// No connection yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The connection for `kubeconfig` at `context`, opened on first use.
    #[cfg(feature = "kube")]
    pub(crate) async fn cluster(
        &self,
        kubeconfig: Option<&std::path::Path>,
        context: Option<&str>,
    ) -> Result<driftless_target_kube::Cluster, driftless_target_kube::Error> {
        let key = (kubeconfig.map(PathBuf::from), context.map(str::to_owned));
        // Held while connecting, so that apps opened at once share one connection.
        let mut opened = self.opened.lock().await;
        if let Some(cluster) = opened.get(&key) {
            return Ok(cluster.clone());
        }
        let cluster = driftless_target_kube::Cluster::from_kubeconfig(kubeconfig, context).await?;
        opened.insert(key, cluster.clone());
        Ok(cluster)
    }
}
