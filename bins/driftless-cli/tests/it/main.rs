//! End-to-end tests of the `driftless` command.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

mod agent_commands;
mod apply_diff;
mod help;
mod kube;
mod ownership;
mod reconcile_wait;
mod render;
mod secrets;
mod sources;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `driftless` with arguments, in `dir`.
pub(crate) fn driftless(dir: &Path, args: &[&str]) -> Output {
    driftless_env(dir, args, &[])
}

/// Runs `driftless` with arguments and environment variables, in `dir`. Variables of
/// the machine that would change what it reads are removed.
pub(crate) fn driftless_env(dir: &Path, args: &[&str], env: &[(&str, &OsStr)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_driftless"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("DOCKER_CONFIG")
        .envs(env.iter().copied())
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
