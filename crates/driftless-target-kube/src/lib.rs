//! A driftless [`Target`](driftless_core::Target) for Kubernetes.
//!
//! [`KubeTarget`] applies objects with server-side apply (field manager `driftless`,
//! taking every field Git declares from any other manager), CustomResourceDefinitions
//! and Namespaces first, and records what it applied as a KEP-3659 ApplySet, so that
//! prune deletes only what it applied before and `kubectl` can read the set.
//!
//! Drift is what the server would change: [`live`](driftless_core::Target::live) asks
//! the server with a server-side apply dry run for each object not known to be in sync
//! and returns its answer as [`LiveObject::predicted`](driftless_core::LiveObject), so
//! quantities, defaults and Secret `stringData` never count as drift and a re-apply of
//! an unchanged application writes nothing. An object known to be in sync (an apply or
//! dry run of the same body found it so, and its resourceVersion has not changed since)
//! is neither asked about nor kept: `live` gives the desired object in its place, as its
//! own prediction, so a reconcile of 50,000 objects in sync holds each object once. Fields kubectl added (edit, patch, label,
//! client-side apply) are handed to our field manager before an apply, so that what Git
//! does not declare is removed. The annotation [`SSA_ANNOTATION`]
//! (`driftless.dev/ssa: Merge | IfNotPresent | Ignore`) holds an object back, with the
//! meaning of Flux's `kustomize.toolkit.fluxcd.io/ssa`. Objects of another ApplySet are
//! refused unless adopted ([`KubeOptions::adopt`]); [`KubeTarget::uninstall`] removes a
//! set and its parent. Health (rollouts by kstatus rules, Jobs, PVCs, CRDs, `Ready`
//! conditions) is one look per call: the caller owns the deadline.
//!
//! ```no_run
//! use driftless_core::{ApplyOptions, Object, ObjectSet, Target};
//! use driftless_diff::DiffOptions;
//! use driftless_target_kube::{KubeOptions, KubeTarget};
//! use serde_json::json;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let target = KubeTarget::from_kubeconfig(KubeOptions::default().applyset("web")).await?;
//! let mut desired = ObjectSet::new();
//! desired.insert(Object::new(json!({
//!     "apiVersion": "v1", "kind": "ConfigMap",
//!     "metadata": {"name": "settings"}, "data": {"mode": "fast"},
//! }))?)?;
//! // The namespace of the context is filled in, and the ApplySet label added.
//! let desired = target.prepare(desired).await?;
//! let live = target.live(&desired).await?;
//! let plan = driftless_diff::plan(&desired, &live, &DiffOptions::default());
//! let report = target.apply(&plan, &ApplyOptions::default().prune(true)).await?;
//! assert_eq!(report.created.len() + report.updated.len() + report.unchanged.len(), 1);
//! # Ok(())
//! # }
//! ```

mod applyset;
mod call;
mod cluster;
mod data;
mod defaults;
mod discovery;
mod error;
mod events;
mod fields;
mod health;
pub mod kubeconfig;
pub mod lease;
mod options;
mod ssa;
mod target;
mod watch;

pub use call::RequestCounts;
pub use cluster::Cluster;
pub use data::{Data, DataKind};
pub use error::{Error, FieldConflict};
pub use options::KubeOptions;
pub use ssa::SSA_ANNOTATION;
pub use target::{FORCE_ANNOTATION, KubeTarget, PRUNE_ANNOTATION};
