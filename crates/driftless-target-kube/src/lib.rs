//! A driftless [`Target`](driftless_core::Target) for Kubernetes.
//!
//! [`KubeTarget`] applies objects with server-side apply (field manager `driftless`),
//! CustomResourceDefinitions and Namespaces first, and records what it applied as a
//! KEP-3659 ApplySet, so that prune deletes only what it applied before and `kubectl`
//! can read the set. It reads live state with one list per kind and namespace, writes
//! nothing for objects already as desired, and reports health (rollouts, Jobs, PVCs,
//! CRDs, `Ready` conditions).
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
mod discovery;
mod error;
mod events;
mod fields;
mod health;
pub mod kubeconfig;
pub mod lease;
mod options;
mod target;

pub use call::RequestCounts;
pub use error::{Error, FieldConflict};
pub use options::KubeOptions;
pub use target::{FORCE_ANNOTATION, KubeTarget, PRUNE_ANNOTATION};
