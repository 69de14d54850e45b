//! The 192 kubeflow/manifests kustomizations of the real-world corpus
//! (`../shared/kustomize-corpus` beside the repository), each rendered by its own
//! process, as a user runs them: `driftless render REPO --path PATH` against
//! `kubectl kustomize REPO/PATH`, in total, in the same run. Process start-up and
//! what the local source reads before rendering count, which a library benchmark hides.
//!
//! Both are timed over three rounds, interleaved, and the medians printed (one round
//! takes too long for criterion's ten samples).
//!
//! Needs the `driftless` binary of the same profile: `cargo build --release -p
//! driftless-cli`, then `cargo bench -p driftless-benches --bench kubeflow`. Under
//! `cargo test --benches` (a debug build) ten cases run once each. Without the corpus
//! the benchmark says it was skipped.
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stderr)] // a benchmark binary

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use driftless_benches::time_command;

/// `shared/kustomize-corpus` beside the repository, or beside a folder holding it.
fn corpus_dir() -> Option<PathBuf> {
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for _ in 0..3 {
        let corpus = dir.join("../shared/kustomize-corpus");
        if corpus.join("cases.tsv").is_file() {
            return Some(corpus);
        }
        dir = dir.join("..");
    }
    None
}

/// The `driftless` binary built beside this benchmark (`target/PROFILE/driftless`).
fn driftless_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let binary = profile_dir.join("driftless");
    assert!(
        binary.is_file(),
        "{} is missing: build it first with `cargo build --release -p driftless-cli` (or without --release for `cargo test --benches`)",
        binary.display()
    );
    binary
}

/// Every case, one process each, one after the other; the total time.
fn run_all(mut command_for: impl FnMut(&str) -> Command, paths: &[String]) -> Duration {
    paths
        .iter()
        .map(|path| time_command(&mut command_for(path)))
        .sum()
}

fn kubeflow(_: &mut Criterion) {
    let Some(corpus) = corpus_dir() else {
        eprintln!("kubeflow: SKIPPED, the Kustomize corpus is not beside the repository");
        return;
    };
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let cases = std::fs::read_to_string(corpus.join("cases.tsv")).unwrap();
    let mut paths: Vec<String> = cases
        .lines()
        .filter_map(|line| line.strip_prefix("kubeflow-manifests\t"))
        .filter_map(|rest| rest.split('\t').next())
        .map(str::to_owned)
        .collect();
    assert_eq!(paths.len(), 192, "the corpus holds 192 kubeflow cases");
    if !benchmarking {
        paths.truncate(10);
    }
    let repo = corpus.join("repos/kubeflow-manifests");
    let binary = driftless_binary();
    let driftless = |path: &str| {
        let mut command = Command::new(&binary);
        command.arg("render").arg(&repo).arg("--path").arg(path);
        command
    };
    let kubectl = |path: &str| {
        let mut command = Command::new("kubectl");
        command.arg("kustomize").arg(repo.join(path));
        command
    };

    // One round (every case once) takes seconds to minutes: both tools are timed over
    // three rounds, side by side, instead of criterion's ten samples.
    let rounds = if benchmarking { 3 } else { 1 };
    let (mut theirs, mut ours): (Vec<Duration>, Vec<Duration>) = (0..rounds)
        .map(|_| (run_all(kubectl, &paths), run_all(driftless, &paths)))
        .unzip();
    theirs.sort();
    ours.sort();
    let (theirs, ours) = (theirs[rounds / 2], ours[rounds / 2]);
    eprintln!(
        "kubeflow: {} kustomizations, one process each: kubectl kustomize {theirs:.2?}, driftless {ours:.2?} (median of {rounds}): {:.1}x faster",
        paths.len(),
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
}

criterion_group!(benches, kubeflow);
criterion_main!(benches);
