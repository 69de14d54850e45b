//! [`Cluster`]: one connection to a Kubernetes cluster, shared by the targets of many
//! apps.
//!
//! An agent with a thousand apps on one cluster needs one HTTP client (one connection
//! pool, one TLS setup) and one discovery cache, not a thousand: each target opened from
//! a `Cluster` sends its requests through the shared client (still counted per target)
//! and asks the server about a kind once for all of them. They share the cluster's drift
//! watches too: one watch per kind for all of them.

use std::path::Path;
use std::sync::Arc;

use kube::{Client, Config};
use tower::limit::ConcurrencyLimitLayer;

use crate::call::{self, Counters};
use crate::discovery::Discovery;
use crate::error::Error;
use crate::options::KubeOptions;
use crate::target::KubeTarget;
use crate::watch::Hub;

/// Requests a cluster's client sends at once (waiting for their answers; a watch holds
/// no place once its answer has begun). Many apps reconciling together would otherwise
/// open a connection each per object they look at, every one with its own TLS session
/// and read buffer kept in the pool afterwards: hundreds of connections, tens of MB.
const MAX_IN_FLIGHT: usize = 16;

/// A cluster's client, discovery cache and drift watches, cheap to clone and shared by
/// every target made with [`Cluster::target`].
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    context: Option<String>,
    discovery: Arc<Discovery>,
    hub: Arc<Hub>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("context", &self.context)
            .field("default_namespace", &self.client.default_namespace())
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Connects with the kubeconfig (`kubeconfig`, else `KUBECONFIG`, else
    /// `~/.kube/config`) at `context`, falling back to the in-cluster service account
    /// when there is no kubeconfig and no context was asked for. Contacts nothing yet.
    pub async fn from_kubeconfig(
        kubeconfig: Option<&Path>,
        context: Option<&str>,
    ) -> Result<Self, Error> {
        let config = crate::kubeconfig::load(kubeconfig, context).await?;
        Self::from_config(config, context)
    }

    fn from_config(mut config: Config, context: Option<&str>) -> Result<Self, Error> {
        // Targets retry themselves, per operation, so that retries are bounded and
        // counted.
        config.default_retry = false;
        let client = kube::client::ClientBuilder::try_from(config)
            .map_err(|e| Error::Config {
                context: context.map(str::to_owned),
                reason: "cannot build an HTTP client from it".into(),
                source: Some(Box::new(e)),
            })?
            .with_layer(&ConcurrencyLimitLayer::new(MAX_IN_FLIGHT))
            .build();
        let mut cluster = Self::new(client);
        cluster.context = context.map(str::to_owned);
        Ok(cluster)
    }

    /// A cluster reached through an existing client (e.g. one shared with the rest of a
    /// program, or built with its own layers).
    pub fn new(client: Client) -> Self {
        let hub = Hub::new(&client);
        Self {
            client,
            context: None,
            discovery: Arc::default(),
            hub,
        }
    }

    /// The kubeconfig context it was opened with, if one was named.
    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }

    /// A target on this cluster: its requests go through the shared client (counted in
    /// the target's own [`request_counts`](KubeTarget::request_counts)) and its kinds
    /// are resolved through the shared discovery cache. `options.kubeconfig` is not
    /// used; `options.context` only names the target.
    pub fn target(&self, mut options: KubeOptions) -> KubeTarget {
        if options.context.is_none() {
            options.context.clone_from(&self.context);
        }
        let default_namespace = options
            .namespace
            .clone()
            .unwrap_or_else(|| self.client.default_namespace().to_owned());
        let counters = Arc::new(Counters::default());
        let client = counted(self.client.clone(), &counters, &default_namespace);
        KubeTarget::assemble(
            client,
            options,
            default_namespace,
            counters,
            Arc::clone(&self.discovery),
            Arc::clone(&self.hub),
        )
    }
}

/// `client` behind a layer that counts requests into `counters`.
pub(crate) fn counted(client: Client, counters: &Arc<Counters>, namespace: &str) -> Client {
    let send = tower::service_fn(move |request| {
        let client = client.clone();
        async move { client.send(request).await }
    });
    let service = tower::ServiceBuilder::new()
        .layer(call::counting_layer(counters.clone()))
        .service(send);
    Client::new(service, namespace.to_owned())
}
