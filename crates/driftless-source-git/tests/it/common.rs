//! Shared fixtures: the standard repository and helpers.

use std::path::Path;
use std::time::Duration;

use driftless_core::{Revision, Snapshot, Source};
use driftless_source_git::{GitSource, GitSourceOptions};
use driftless_testkit::git::{GitServerRoot, WorkRepo};

/// The commits of the standard repository `app`.
pub(crate) struct Commits {
    /// main, tagged v1.0.0 (annotated).
    pub(crate) c1: String,
    /// main, tagged v1.2.0 (lightweight).
    pub(crate) c2: String,
    /// main's tip, tagged v1.3.0-rc.1 (annotated).
    pub(crate) c3: String,
    /// The tip of branch `feature`, forked from c2.
    pub(crate) c4: String,
}

/// Builds the standard repository `name` in `root` and pushes it:
/// `deploy/app.yaml` says which commit it is.
pub(crate) fn standard_repo(root: &GitServerRoot, name: &str) -> (WorkRepo, Commits) {
    let repo = root.create_repo(name);
    repo.write("README.md", "# app\n")
        .write("deploy/app.yaml", "version: 1\n");
    let c1 = repo.commit("one");
    repo.annotated_tag("v1.0.0");
    repo.write("deploy/app.yaml", "version: 2\n");
    let c2 = repo.commit("two");
    repo.tag("v1.2.0");
    repo.branch("feature");
    repo.write("deploy/app.yaml", "version: feature\n");
    let c4 = repo.commit("feature");
    repo.switch("main");
    repo.write("deploy/app.yaml", "version: 3\n");
    let c3 = repo.commit("three");
    repo.annotated_tag("v1.3.0-rc.1");
    repo.tag("not-a-version");
    repo.push();
    (repo, Commits { c1, c2, c3, c4 })
}

/// Options with short timeouts and the given cache.
pub(crate) fn options(url: &str, cache: &Path) -> GitSourceOptions {
    GitSourceOptions::new(url)
        .cache_dir(cache)
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(60))
}

/// Resolves and fetches.
pub(crate) async fn resolve_and_fetch(options: GitSourceOptions) -> (Revision, Snapshot) {
    let source = GitSource::new(options).expect("valid options");
    let revision = source.resolve().await.expect("resolve");
    let snapshot = source.fetch(&revision).await.expect("fetch");
    assert_eq!(snapshot.revision(), &revision);
    (revision, snapshot)
}

/// The contents of a file in a snapshot.
pub(crate) fn read(snapshot: &Snapshot, path: &str) -> String {
    std::fs::read_to_string(snapshot.root().join(path))
        .unwrap_or_else(|e| panic!("read {path} in {}: {e}", snapshot.root().display()))
}

/// The error of a resolve-then-fetch, as the git source's own error.
pub(crate) async fn resolve_and_fetch_err(
    options: GitSourceOptions,
) -> driftless_source_git::Error {
    let source = match GitSource::new(options) {
        Ok(source) => source,
        Err(e) => return e,
    };
    match source.resolve_revision().await {
        Ok(revision) => source
            .fetch_revision(&revision)
            .await
            .expect_err("fetch should fail"),
        Err(e) => e,
    }
}

/// An error and all its sources, joined, as a user would see it.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        out.push_str(": ");
        out.push_str(&e.to_string());
        next = e.source();
    }
    out
}
