//! Fetching a repository of 3,000 manifest files over smart HTTP, driftless against
//! `git clone --depth 1` of the same repository from the same server in the same run,
//! and the unchanged-revision check (driftless `resolve` against `git ls-remote`).
//!
//! The server is the test kit's `git http-backend` behind a small HTTP server on
//! 127.0.0.1, so both tools pay the same server cost. A driftless fetch starts from an
//! empty cache each time (a first fetch: shallow clone plus checkout into a
//! snapshot), like the clone. Before measuring, the setup checks that an unchanged
//! resolve is a single HTTP request.
//!
//! Run with `cargo bench -p driftless-benches --bench git_fetch`; `cargo test --benches`
//! runs each case once.
#![allow(missing_docs, clippy::unwrap_used)] // a benchmark binary; setup failures should be loud

use std::hint::black_box;
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use driftless_core::Source;
use driftless_source_git::{GitSource, GitSourceOptions};
use driftless_testkit::git::{GitHttp, GitServerRoot};

const FILES: usize = 3_000;

fn manifest(i: usize) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings-{i}\n  namespace: team-{}\n  labels:\n    app: app-{}\ndata:\n  index: \"{i}\"\n  mode: fast\n  replicas: \"{}\"\n",
        i % 20,
        i % 150,
        i % 7 + 1
    )
}

fn git(args: &[&str]) -> Command {
    let mut command = Command::new("git");
    command
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0");
    command
}

fn fetch(c: &mut Criterion) {
    let root = GitServerRoot::new();
    let repo = root.create_repo("manifests");
    for i in 0..FILES {
        repo.write(
            &format!("apps/app-{}/cm-{i:04}.yaml", i % 150),
            &manifest(i),
        );
    }
    repo.commit("3,000 manifests");
    repo.push();
    let http = GitHttp::start(root.path());
    let url = http.url("manifests");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // The unchanged check is one request.
    let warm_cache = tempfile::tempdir().unwrap();
    let warm = GitSource::new(GitSourceOptions::new(&url).cache_dir(warm_cache.path())).unwrap();
    let revision = runtime.block_on(warm.resolve()).unwrap();
    let snapshot = runtime.block_on(warm.fetch(&revision)).unwrap();
    assert!(snapshot.root().join("apps/app-0/cm-0000.yaml").is_file());
    http.clear_requests();
    assert_eq!(runtime.block_on(warm.resolve()).unwrap(), revision);
    assert_eq!(
        http.requests().len(),
        1,
        "an unchanged resolve is one request"
    );

    let mut group = c.benchmark_group("git_fetch_3000_files");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("driftless_fetch", |b| {
        b.iter_with_setup(
            || tempfile::tempdir().unwrap(),
            |cache| {
                let source =
                    GitSource::new(GitSourceOptions::new(&url).cache_dir(cache.path())).unwrap();
                let snapshot = runtime.block_on(async {
                    let revision = source.resolve().await.unwrap();
                    source.fetch(&revision).await.unwrap()
                });
                black_box(snapshot);
                cache
            },
        );
    });
    group.bench_function("git_clone_depth_1", |b| {
        b.iter_with_setup(
            || tempfile::tempdir().unwrap(),
            |dir| {
                let target = dir.path().join("clone");
                let status = git(&["clone", "--quiet", "--depth", "1", &url])
                    .arg(&target)
                    .status()
                    .unwrap();
                assert!(status.success(), "git clone failed");
                dir
            },
        );
    });
    group.finish();

    let mut group = c.benchmark_group("git_unchanged_check");
    group.bench_function("driftless_resolve", |b| {
        b.iter(|| black_box(runtime.block_on(warm.resolve()).unwrap()));
    });
    group.bench_function("git_ls_remote", |b| {
        b.iter(|| {
            let output = git(&["ls-remote", &url, "HEAD"]).output().unwrap();
            assert!(output.status.success(), "git ls-remote failed");
            black_box(output.stdout)
        });
    });
    group.finish();
}

criterion_group!(benches, fetch);
criterion_main!(benches);
