//! The driftless agent loop as a library.
//!
//! An [`Agent`] keeps a set of apps in sync. Each app is a [`driftless::Pipeline`]
//! (any Source, Renderer and Target, including your own) with [`AppOptions`]: an
//! interval with jitter, exponential backoff after failures, `dependsOn` gates,
//! suspension, rollback pins, and push notifications verified against a shared secret.
//! One reconcile path, [`Agent::reconcile`], serves the daemon's loops ([`Agent::run`]),
//! `driftless-agent --once` and `driftless sync` ([`Agent::reconcile_all`]).
//!
//! Around it: the agent's configuration file ([`config`]), the durable history store
//! ([`history`]), Prometheus metrics, the HTTP API ([`server::router`]) with its types
//! ([`api`]), its access rules ([`auth`]: a bearer token for every mutation) and typed
//! [`client`], leader election on a Kubernetes Lease (feature `kube`, [`leader`]), and
//! sharding of the apps over replicas on membership Leases ([`shard`]).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use driftless::{LocalSource, Pipeline};
//! use driftless::render::AutoRenderer;
//! use driftless::target_dir::DirTarget;
//! use driftless_runtime::{AgentBuilder, AppOptions};
//! use tokio_util::sync::CancellationToken;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let repo = tempfile::tempdir()?;
//! # std::fs::write(repo.path().join("cm.yaml"),
//! #     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: web}\n")?;
//! # let live = tempfile::tempdir()?;
//! let pipeline = Pipeline::new(
//!     LocalSource::new(repo.path()),
//!     AutoRenderer::default(),
//!     DirTarget::new(live.path())?,
//! );
//! let shutdown = CancellationToken::new();
//! let agent = Arc::new(
//!     AgentBuilder::new()
//!         .app("web", pipeline, AppOptions::default().interval(Duration::from_secs(30)))
//!         .shutdown(shutdown.clone())
//!         .build()?,
//! );
//! let loops = tokio::spawn(Arc::clone(&agent).run());
//! while agent.status("web").is_some_and(|s| !s.ready) {
//!     tokio::time::sleep(Duration::from_millis(20)).await;
//! }
//! shutdown.cancel();
//! loops.await?;
//! assert!(live.path().join("web/core_ConfigMap/settings.yaml").exists());
//! # Ok(())
//! # }
//! ```

mod agent;
pub mod api;
pub mod auth;
pub mod client;
pub mod config;
pub mod drift;
mod error;
pub mod history;
#[cfg(feature = "kube")]
pub mod leader;
mod metrics;
pub mod server;
pub mod shard;
pub mod webhook;

pub use agent::{Agent, AgentBuilder, AppOptions, Refusal, Reloaded, RemovedApp};
pub use api::{AppStatus, Condition, Outcome, OutcomeKind};
pub use error::{Error, error_chain};

use std::collections::{BTreeMap, BTreeSet};

/// Indexes of `apps` (name, dependencies), each after the apps it depends on (Kahn's
/// algorithm; ties in the given order). Unknown dependencies are ignored. A cycle is
/// returned as the indexes along it, the first repeated at the end.
pub(crate) fn dependency_order(apps: &[(&str, &[String])]) -> Result<Vec<usize>, Vec<usize>> {
    let index: BTreeMap<&str, usize> = apps
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (*name, i))
        .collect();
    let deps_of = |i: usize| {
        apps[i]
            .1
            .iter()
            .filter_map(|d| index.get(d.as_str()).copied())
    };
    let mut waiting_on: Vec<usize> = (0..apps.len()).map(|i| deps_of(i).count()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); apps.len()];
    for i in 0..apps.len() {
        for d in deps_of(i) {
            dependents[d].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..apps.len()).filter(|&i| waiting_on[i] == 0).collect();
    let mut order = Vec::with_capacity(apps.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &next in &dependents[i] {
            waiting_on[next] -= 1;
            if waiting_on[next] == 0 {
                ready.insert(next);
            }
        }
    }
    if order.len() == apps.len() {
        return Ok(order);
    }
    // Every app left waits on another app left: walk the first one's dependencies
    // until an index repeats, which closes the cycle.
    let left: BTreeSet<usize> = (0..apps.len()).filter(|&i| waiting_on[i] > 0).collect();
    let start = left.first().copied().unwrap_or_default();
    let mut path = vec![start];
    loop {
        let current = path[path.len() - 1];
        let next = deps_of(current).find(|d| left.contains(d)).unwrap_or(start);
        if let Some(pos) = path.iter().position(|&p| p == next) {
            let mut cycle = path.split_off(pos);
            cycle.push(next);
            return Err(cycle);
        }
        path.push(next);
    }
}
