//! Renderers of driftless: a folder of a snapshot into objects.
//!
//! [`PlainRenderer`] reads every YAML and JSON file below a directory, the way
//! `kubectl apply -R -f` does, with keys and scalars read as the Kustomize renderer reads
//! resources, so a file renders the same objects either way. A [`Decoder`] set on a
//! renderer turns every file's bytes into what is parsed (SOPS decryption is one).
//! [`AutoRenderer`], the default, sends Kustomize overlays (a directory holding a
//! kustomization file) to the [`kustomize`] renderer and everything else to the plain
//! renderer.
//! [`RenderMode`] is the choice as written in configuration (`auto`, `plain`,
//! `kustomize`).
//!
//! ```
//! use std::path::Path;
//! use driftless_core::{Renderer, Snapshot};
//! use driftless_render::AutoRenderer;
//!
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("app.yaml"), "\
//! apiVersion: v1
//! kind: ConfigMap
//! metadata:
//!   name: settings
//! data:
//!   debug: \"on\"
//! ---
//! apiVersion: v1
//! kind: List
//! items:
//! - apiVersion: v1
//!   kind: Service
//!   metadata: {name: web, namespace: shop}
//! ")?;
//!
//! let snapshot = Snapshot::new(dir.path(), "sha256:00".parse()?);
//! let objects = AutoRenderer::default().render(&snapshot, Path::new("."))?;
//! let ids: Vec<String> = objects.ids().map(ToString::to_string).collect();
//! assert_eq!(ids, ["/ConfigMap//settings", "/Service/shop/web"]);
//! let settings = objects.iter().next().unwrap();
//! assert_eq!(settings.as_value()["data"]["debug"], "on"); // quoted: stays a string
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Errors ([`Error`]) name the file relative to the snapshot root, the line and column
//! of a YAML error, the document of an invalid object, and both places of a duplicate.

mod auto;
mod decode;
mod error;
pub mod kustomize;
mod plain;
mod root;
pub mod substitute;

/// The largest file a renderer reads by default, in bytes (64 MiB): larger ones are
/// refused, naming the file.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

pub use auto::{AutoRenderer, KUSTOMIZATION_FILES, RenderMode, kustomization_file};
pub use decode::Decoder;
pub use error::{Error, Place};
pub use plain::{PlainOptions, PlainRenderer};
