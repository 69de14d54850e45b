//! End-to-end tests of the `driftless` command.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod agent_commands;
mod apply_diff;
mod kube;
mod reconcile_wait;
mod render;
mod sources;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `driftless` with arguments, in `dir`.
pub(crate) fn driftless(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_driftless"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("run driftless")
}

/// The repository root, for the bundled example.
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
