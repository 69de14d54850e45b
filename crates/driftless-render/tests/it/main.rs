//! Integration tests of the renderers, on real directories.

// Test helpers unwrap freely: a failure is a failed test.
#![allow(clippy::unwrap_used)]

mod auto;
mod corpus;
mod decode;
mod errors;
mod fidelity;
mod kustomize;
mod plain;
mod properties;
mod snapshot;
mod substitute;

use std::path::Path;

use driftless_core::ObjectSet;
use driftless_render::{Error, PlainOptions, PlainRenderer};
use tempfile::TempDir;

/// A directory holding `files` (path, content); parent directories are created.
pub(crate) fn tree(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, content) in files {
        write(dir.path(), path, content);
    }
    dir
}

pub(crate) fn write(root: &Path, path: &str, content: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("a file has a parent")).expect("mkdir");
    std::fs::write(path, content).expect("write");
}

/// Renders the whole of `dir` with the plain renderer.
pub(crate) fn render(dir: &Path) -> Result<ObjectSet, Error> {
    PlainRenderer::new(PlainOptions::default()).render_path(dir, Path::new("."))
}

/// The ids of a set, as strings, in order.
pub(crate) fn ids(set: &ObjectSet) -> Vec<String> {
    set.ids().map(ToString::to_string).collect()
}

/// An error and its causes, joined with ": ", as a command line prints them.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A small object document.
pub(crate) fn cm(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n")
}
