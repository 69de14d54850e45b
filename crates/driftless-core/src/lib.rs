//! The driftless model and plug-in traits.
//!
//! driftless fetches desired state from a [`Source`] into a [`Snapshot`], renders it
//! with a [`Renderer`] into an [`ObjectSet`], compares it with what a [`Target`] holds
//! into a [`Plan`], and has the target apply it. This crate holds the values that flow
//! between those stages and the traits that plug-ins implement; it knows nothing of
//! git, Kubernetes, OCI or async runtimes.
//!
//! ```
//! use driftless_core::{Object, ObjectSet, Revision, Snapshot};
//! use serde_json::json;
//!
//! let mut desired = ObjectSet::new();
//! desired.insert(Object::new(json!({
//!     "apiVersion": "v1",
//!     "kind": "ConfigMap",
//!     "metadata": {"name": "settings", "namespace": "web"},
//!     "data": {"mode": "fast"},
//! }))?)?;
//! let id = desired.ids().next().unwrap();
//! assert_eq!(id.to_string(), "/ConfigMap/web/settings");
//!
//! let revision: Revision = "main@sha1:0123456789abcdef0123456789abcdef01234567".parse()?;
//! let snapshot = Snapshot::new("/tmp/checkout", revision);
//! assert_eq!(snapshot.revision().reference(), Some("main"));
//! # Ok::<(), driftless_core::Error>(())
//! ```

mod error;
pub mod file;
mod id;
mod object;
pub mod plan;
mod revision;
mod set;
mod traits;
pub mod yaml;

pub use error::{BoxError, Error, RenderError, SourceError, TargetError};
pub use id::ObjectId;
pub use object::Object;
pub use plan::{Action, Change, FieldChange, Health, HealthReport, Plan, PlanSummary};
pub use revision::{Revision, Snapshot};
pub use set::ObjectSet;
pub use traits::{
    ApplyOptions, ApplyReport, Drift, DriftKind, DriftSink, DriftWatch, LiveObject, LiveState,
    Renderer, Source, Target, TargetEvent,
};

/// Re-exported so plug-in authors use the same `async_trait` as the traits.
pub use async_trait::async_trait;
