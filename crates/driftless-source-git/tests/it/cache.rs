//! The cache: shallow first fetch, incremental later fetches, one-request resolves,
//! shared snapshots, concurrency and corruption.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use driftless_core::Source;
use driftless_source_git::GitSource;
use driftless_testkit::git::{GitHttp, GitServerRoot, HttpRequest};

use crate::common::{options, read, resolve_and_fetch, standard_repo};

/// Deterministic, poorly compressible text of about `len` bytes.
fn noise(seed: u64, len: usize) -> String {
    let mut state = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    let mut out = String::with_capacity(len + 16);
    while out.len() < len {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        write!(out, "{:016x}", state >> 1).unwrap();
        if out.len().is_multiple_of(64) {
            out.push('\n');
        }
    }
    out
}

fn pack_bytes(requests: &[HttpRequest]) -> usize {
    requests
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.response_bytes)
        .sum()
}

fn cached_repos(cache: &Path) -> Vec<PathBuf> {
    let mut repos: Vec<PathBuf> = std::fs::read_dir(cache.join("repos"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "git"))
        .collect();
    repos.sort();
    repos
}

#[tokio::test(flavor = "multi_thread")]
async fn second_fetch_downloads_only_new_objects_and_resolve_is_one_request() {
    let root = GitServerRoot::new();
    let repo = root.create_repo("big");
    for i in 0..200u64 {
        repo.write(&format!("manifests/cm-{i:03}.yaml"), &noise(i, 2000));
    }
    let first_commit = repo.commit("many files");
    repo.push();
    let http = GitHttp::start(root.path());
    let cache = tempfile::tempdir().unwrap();
    let source = GitSource::new(options(&http.url("big"), cache.path())).unwrap();

    let first = source.resolve().await.unwrap();
    assert_eq!(first.to_string(), format!("main@sha1:{first_commit}"));
    http.clear_requests();
    let snapshot = source.fetch(&first).await.unwrap();
    let first_bytes = pack_bytes(&http.requests());
    assert!(
        first_bytes > 200 * 1000,
        "the first fetch downloads the files: {first_bytes} bytes"
    );
    assert_eq!(
        std::fs::read_dir(snapshot.root().join("manifests"))
            .unwrap()
            .count(),
        200
    );
    // The first fetch is shallow.
    let repos = cached_repos(cache.path());
    assert_eq!(repos.len(), 1);
    assert!(
        repos[0].join("shallow").is_file(),
        "the cached repository is shallow"
    );

    // Unchanged: resolve is one request, and fetching again none.
    http.clear_requests();
    assert_eq!(source.resolve().await.unwrap(), first);
    let requests = http.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("GET", "/big.git/info/refs")
    );
    http.clear_requests();
    assert_eq!(source.fetch(&first).await.unwrap(), snapshot);
    assert!(http.requests().is_empty(), "{:?}", http.requests());

    // One new commit changing one file: only its objects come over the wire.
    repo.write("manifests/cm-007.yaml", &noise(10_007, 2000));
    let second_commit = repo.commit("change one file");
    repo.push();
    let second = source.resolve().await.unwrap();
    assert_eq!(second.to_string(), format!("main@sha1:{second_commit}"));
    http.clear_requests();
    let snapshot2 = source.fetch(&second).await.unwrap();
    let second_bytes = pack_bytes(&http.requests());
    assert!(
        second_bytes * 20 < first_bytes,
        "the second fetch downloads only new objects: {second_bytes} bytes vs {first_bytes}"
    );
    assert_eq!(
        read(&snapshot2, "manifests/cm-007.yaml"),
        noise(10_007, 2000)
    );
    assert_eq!(read(&snapshot2, "manifests/cm-008.yaml"), noise(8, 2000));
    // The old snapshot is untouched.
    assert_eq!(read(&snapshot, "manifests/cm-007.yaml"), noise(7, 2000));
    assert_eq!(
        cached_repos(cache.path()).len(),
        1,
        "one bare repository per remote"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshots_are_shared_by_commit() {
    let root = GitServerRoot::new();
    let (repo, commits) = standard_repo(&root, "app");
    let http = GitHttp::start(root.path());
    let cache = tempfile::tempdir().unwrap();

    let (a, snap_a) =
        resolve_and_fetch(options(&http.url("app"), cache.path()).branch("main")).await;
    let (b, snap_b) =
        resolve_and_fetch(options(&http.url("app"), cache.path()).path("deploy")).await;
    let path = repo.bare().to_string_lossy().into_owned();
    let (c, snap_c) = resolve_and_fetch(options(&path, cache.path()).tag("v1.3.0-rc.1")).await;
    assert_eq!(a.hex(), commits.c3);
    assert_eq!((b.hex(), c.hex()), (a.hex(), a.hex()));
    assert_eq!(snap_b.root(), snap_a.root().join("deploy"));
    assert_eq!(snap_c.root(), snap_a.root());
    assert_eq!(
        snap_a.root(),
        cache.path().join("snapshots").join(&commits.c3)
    );
    // The second remote did not even need a repository: the snapshot was there.
    assert_eq!(cached_repos(cache.path()).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_fetches_of_one_remote_are_safe() {
    let root = GitServerRoot::new();
    let (_repo, commits) = standard_repo(&root, "app");
    let http = GitHttp::start(root.path());
    let cache = tempfile::tempdir().unwrap();
    let mut tasks = Vec::new();
    for (i, reference) in ["main", "feature", "main", "feature", "main", "feature"]
        .into_iter()
        .enumerate()
    {
        let source =
            GitSource::new(options(&http.url("app"), cache.path()).branch(reference)).unwrap();
        tasks.push(tokio::spawn(async move {
            let revision = source.resolve().await.unwrap();
            (i, source.fetch(&revision).await.unwrap())
        }));
    }
    for task in tasks {
        let (i, snapshot) = task.await.unwrap();
        let expected = if i % 2 == 0 {
            "version: 3\n"
        } else {
            "version: feature\n"
        };
        assert_eq!(read(&snapshot, "deploy/app.yaml"), expected);
    }
    let mut snapshots: Vec<String> = std::fs::read_dir(cache.path().join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    snapshots.sort();
    let mut expected = vec![commits.c3.clone(), commits.c4.clone()];
    expected.sort();
    assert_eq!(snapshots, expected, "no temporary folders are left behind");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_cache_is_rebuilt() {
    let root = GitServerRoot::new();
    let (_repo, commits) = standard_repo(&root, "app");
    let http = GitHttp::start(root.path());
    let cache = tempfile::tempdir().unwrap();
    let (first, snapshot) =
        resolve_and_fetch(options(&http.url("app"), cache.path()).tag("v1.0.0")).await;
    assert_eq!(first.hex(), commits.c1);
    let repo = cached_repos(cache.path()).remove(0);

    // Garbage in every pack and index: the next fetch needs objects and must rebuild.
    for entry in std::fs::read_dir(repo.join("objects/pack")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::write(&path, b"this is not a pack").unwrap();
    }
    std::fs::remove_dir_all(snapshot.root()).unwrap();
    let (again, snapshot) =
        resolve_and_fetch(options(&http.url("app"), cache.path()).tag("v1.0.0")).await;
    assert_eq!(again, first);
    assert_eq!(read(&snapshot, "deploy/app.yaml"), "version: 1\n");

    // An unreadable repository (broken HEAD and config) is rebuilt, too.
    std::fs::write(repo.join("HEAD"), "garbage").unwrap();
    std::fs::write(repo.join("config"), "[[[ not config").unwrap();
    let (main, snapshot) = resolve_and_fetch(options(&http.url("app"), cache.path())).await;
    assert_eq!(main.hex(), commits.c3);
    assert_eq!(read(&snapshot, "deploy/app.yaml"), "version: 3\n");
}
