//! GitOps as a library.
//!
//! A [`Pipeline`] joins a [`Source`] (where desired state lives), a [`Renderer`] (how
//! files become objects) and a [`Target`] (where objects are applied). One call to
//! [`Pipeline::reconcile`] fetches, renders, compares with what is live, applies the
//! difference and prunes what was removed. A failed fetch or render applies nothing.
//!
//! The stages are crates of their own, re-exported here: [`core`] (the model and the
//! traits), [`render`], [`diff`], [`target_dir`], and behind features `git`
//! (`source_git`), `oci` (`source_oci`) and `kube` (`target_kube`).
//!
//! ```
//! use driftless::{LocalSource, Pipeline, PipelineOptions};
//! use driftless::core::ApplyOptions;
//! use driftless::render::AutoRenderer;
//! use driftless::target_dir::DirTarget;
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
//! )
//! .with_options(PipelineOptions::default().apply(ApplyOptions::default().prune(true)));
//!
//! let report = pipeline.reconcile().await?;
//! assert_eq!(report.applied.created.len(), 1);
//! assert!(live.path().join("web/core_ConfigMap/settings.yaml").exists());
//! # Ok(())
//! # }
//! ```

mod clusters;
mod error;
mod kept;
mod local;
mod pipeline;
pub mod postbuild;
pub mod spec;
mod uninstall;

pub use clusters::Clusters;
pub use error::Error;
pub use local::{LocalSource, export_snapshot};
pub use pipeline::{ObjectChange, Pipeline, PipelineOptions, Rendered, Stage, SyncReport};
pub use spec::{
    CredentialFiles, SourceAuth, SourceOptions, SourceRef, SourceSpec, TargetOptions, TargetSpec,
};
pub use uninstall::{UninstallOptions, uninstall};

pub use driftless_core as core;
pub use driftless_core::{Object, ObjectId, ObjectSet, Renderer, Revision, Source, Target};
pub use driftless_diff as diff;
pub use driftless_render as render;
pub use driftless_sops as sops;
pub use driftless_target_dir as target_dir;

#[cfg(feature = "git")]
pub use driftless_source_git as source_git;
#[cfg(feature = "oci")]
pub use driftless_source_oci as source_oci;
#[cfg(feature = "kube")]
pub use driftless_target_kube as target_kube;
