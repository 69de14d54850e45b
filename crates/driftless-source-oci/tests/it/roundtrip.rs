//! Push a directory, resolve and fetch it back: by tag, semver range and digest.

use std::process::Command;

use driftless_core::Source as _;
use driftless_source_oci::manifest::{ANNOTATION_CREATED, ANNOTATION_REVISION, ANNOTATION_SOURCE};
use driftless_source_oci::{OciSource, OciSourceOptions, PushOptions, push};
use driftless_testkit::registry::Registry;

use crate::support::{cache, cache_entries, read_tree, source, write_tree};

const FILES: &[(&str, &str)] = &[
    ("kustomization.yaml", "resources:\n  - app/deploy.yaml\n"),
    (
        "app/deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n",
    ),
    ("app/empty.yaml", ""),
];

fn options() -> PushOptions {
    PushOptions::default().use_git(false)
}

#[tokio::test]
async fn push_then_fetch_by_tag() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), FILES);
    let url = format!("{}:v1.0.0", registry.url("team/app"));

    let pushed = push(dir.path(), &url, &options()).await.unwrap();
    assert_eq!(pushed.revision.reference(), Some("v1.0.0"));
    assert_eq!(pushed.revision.algorithm(), "sha256");

    let cache = cache();
    let source = source(&url, cache.path());
    assert_eq!(source.describe(), url);
    let revision = source.resolve().await.unwrap();
    assert_eq!(
        revision, pushed.revision,
        "resolve gives the pushed manifest digest"
    );
    let snapshot = source.fetch(&revision).await.unwrap();
    assert_eq!(snapshot.revision(), &revision);
    assert_eq!(
        snapshot.root(),
        cache.path().join("snapshots").join(revision.hex())
    );
    assert_eq!(read_tree(snapshot.root()), read_tree(dir.path()));
    assert_eq!(
        cache_entries(cache.path()),
        vec![revision.hex().to_owned()],
        "no staging leftovers"
    );

    // Pushing the same content again uploads no blob, only the manifest.
    let uploads = |log: &str| log.matches("POST /v2/team/app/blobs/uploads/").count();
    let before = uploads(&registry.log());
    assert_eq!(before, 2, "layer and config were uploaded once");
    let again = push(
        dir.path(),
        &format!("{}:again", registry.url("team/app")),
        &options(),
    )
    .await
    .unwrap();
    assert_eq!(again.revision.digest(), pushed.revision.digest());
    assert_eq!(uploads(&registry.log()), before);

    // A second fetch finds the snapshot in the cache, even with the registry gone.
    drop(registry);
    let again = source.fetch(&revision).await.unwrap();
    assert_eq!(again, snapshot);
}

#[tokio::test]
async fn latest_is_the_default_tag() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), FILES);
    let pushed = push(dir.path(), &registry.url("app"), &options())
        .await
        .unwrap();
    assert_eq!(pushed.revision.reference(), Some("latest"));
    let cache = cache();
    let revision = source(&registry.url("app"), cache.path())
        .resolve()
        .await
        .unwrap();
    assert_eq!(revision.to_string(), pushed.revision.to_string());
}

#[tokio::test]
async fn semver_picks_the_highest_matching_tag() {
    let registry = Registry::start();
    let mut pushed = Vec::new();
    for tag in [
        "v1.0.0",
        "1.2.0",
        "v1.10.1",
        "v2.0.0",
        "v1.11.0-rc.1",
        "not-a-version",
    ] {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &[("version.txt", tag)]);
        let url = format!("{}:{tag}", registry.url("app"));
        pushed.push((tag, push(dir.path(), &url, &options()).await.unwrap()));
    }
    let cache = cache();
    let resolve = |range: &str| {
        let source = OciSource::new(
            OciSourceOptions::new(registry.url("app"))
                .semver(range)
                .cache_dir(cache.path()),
        )
        .unwrap();
        async move { (source.resolve().await, source) }
    };

    let (revision, source) = resolve("^1").await;
    let revision = revision.unwrap();
    assert_eq!(
        revision.reference(),
        Some("v1.10.1"),
        "prereleases excluded, numeric order"
    );
    let expected = &pushed.iter().find(|(t, _)| *t == "v1.10.1").unwrap().1;
    assert_eq!(&revision, &expected.revision);
    assert!(
        source.describe().contains("semver ^1"),
        "{}",
        source.describe()
    );
    let snapshot = source.fetch(&revision).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(snapshot.root().join("version.txt")).unwrap(),
        "v1.10.1"
    );

    let (revision, _) = resolve(">=1.0.0, <1.5.0").await;
    assert_eq!(revision.unwrap().reference(), Some("1.2.0"));
    let (revision, _) = resolve("*").await;
    assert_eq!(revision.unwrap().reference(), Some("v2.0.0"));

    let (error, _) = resolve("^3").await;
    let error = error.unwrap_err();
    let message = crate::support::oci_error(&error).to_string();
    assert!(
        message.contains("^3") && message.contains("no tag"),
        "{message}"
    );
}

#[tokio::test]
async fn fetch_by_digest() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), FILES);
    let pushed = push(
        dir.path(),
        &format!("{}:v1", registry.url("app")),
        &options(),
    )
    .await
    .unwrap();
    // Move the tag away: the digest still names the first artifact.
    write_tree(dir.path(), &[("new.yaml", "x: 1\n")]);
    push(
        dir.path(),
        &format!("{}:v1", registry.url("app")),
        &options(),
    )
    .await
    .unwrap();

    let cache = cache();
    let by_digest = format!("{}@{}", registry.url("app"), pushed.revision.digest());
    let source = source(&by_digest, cache.path());
    let revision = source.resolve().await.unwrap();
    assert_eq!(
        revision.to_string(),
        pushed.revision.digest(),
        "a digest reference has no tag"
    );
    let snapshot = source.fetch(&revision).await.unwrap();
    assert!(!snapshot.root().join("new.yaml").exists());
    assert_eq!(read_tree(snapshot.root()).len(), FILES.len());

    // The same with the digest and tag given apart from the reference (`--digest`, `--tag`).
    let pinned = OciSource::new(
        OciSourceOptions::new(registry.url("app"))
            .tag("v1")
            .digest(pushed.revision.digest())
            .cache_dir(cache.path()),
    )
    .unwrap();
    assert_eq!(pinned.resolve().await.unwrap(), pushed.revision);
    let moved = OciSource::new(
        OciSourceOptions::new(registry.url("app"))
            .tag("v1")
            .cache_dir(cache.path()),
    )
    .unwrap();
    assert_ne!(
        moved.resolve().await.unwrap(),
        pushed.revision,
        "the tag moved on"
    );
}

#[tokio::test]
#[allow(clippy::many_single_char_names)] // five pushes, named in order
async fn same_content_same_digest() {
    let registry = Registry::start();
    let one = tempfile::tempdir().unwrap();
    write_tree(one.path(), FILES);
    std::thread::sleep(std::time::Duration::from_millis(1100)); // other mtimes
    let two = tempfile::tempdir().unwrap();
    // Written in another order.
    for file in FILES.iter().rev() {
        write_tree(two.path(), &[*file]);
    }
    let a = push(
        one.path(),
        &format!("{}:a", registry.url("app")),
        &options(),
    )
    .await
    .unwrap();
    let b = push(
        two.path(),
        &format!("{}:b", registry.url("other")),
        &options(),
    )
    .await
    .unwrap();
    assert_eq!(a.revision.digest(), b.revision.digest());
    assert_eq!(a.layer_digest, b.layer_digest);

    write_tree(two.path(), &[("app/deploy.yaml", "changed\n")]);
    let c = push(
        two.path(),
        &format!("{}:c", registry.url("app")),
        &options(),
    )
    .await
    .unwrap();
    assert_ne!(a.revision.digest(), c.revision.digest());
    assert_ne!(a.layer_digest, c.layer_digest);

    // A fixed creation time is part of the manifest, and reproducible too.
    let created = options().created("2024-01-01T00:00:00Z");
    let d = push(one.path(), &format!("{}:d", registry.url("app")), &created)
        .await
        .unwrap();
    let e = push(one.path(), &format!("{}:e", registry.url("app")), &created)
        .await
        .unwrap();
    assert_eq!(d.revision.digest(), e.revision.digest());
    assert_ne!(d.revision.digest(), a.revision.digest());
    assert_eq!(d.annotations[ANNOTATION_CREATED], "2024-01-01T00:00:00Z");
}

fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn annotations_come_from_the_git_checkout() {
    driftless_testkit::require_program("git", "install git (apt-get install -y git)");
    let registry = Registry::start();
    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "-q", "-b", "main"]);
    git(
        repo.path(),
        &[
            "remote",
            "add",
            "origin",
            "https://me:t0ken@git.example.com/org/repo.git",
        ],
    );
    write_tree(repo.path(), &[("deploy/app.yaml", "kind: ConfigMap\n")]);
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-q", "-m", "init"]);
    let head = git(repo.path(), &["rev-parse", "HEAD"]);

    let pushed = push(
        &repo.path().join("deploy"),
        &format!("{}:v1", registry.url("app")),
        &PushOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        pushed.annotations[ANNOTATION_SOURCE],
        "https://git.example.com/org/repo.git"
    );
    assert_eq!(
        pushed.annotations[ANNOTATION_REVISION],
        format!("main@sha1:{head}")
    );
    assert!(!pushed.annotations.contains_key(ANNOTATION_CREATED));

    // Given values win over git's.
    let pushed = push(
        &repo.path().join("deploy"),
        &format!("{}:v2", registry.url("app")),
        &PushOptions::default()
            .source("https://elsewhere/x")
            .revision("v9@sha1:abc"),
    )
    .await
    .unwrap();
    assert_eq!(pushed.annotations[ANNOTATION_SOURCE], "https://elsewhere/x");
    assert_eq!(pushed.annotations[ANNOTATION_REVISION], "v9@sha1:abc");

    // Outside a checkout there are none.
    let plain = tempfile::tempdir().unwrap();
    write_tree(plain.path(), FILES);
    let pushed = push(
        plain.path(),
        &format!("{}:v3", registry.url("app")),
        &PushOptions::default(),
    )
    .await
    .unwrap();
    assert!(pushed.annotations.is_empty(), "{:?}", pushed.annotations);
}

#[tokio::test]
async fn pushing_a_file_or_to_a_digest_is_refused() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), FILES);
    let err = push(
        &dir.path().join("kustomization.yaml"),
        &registry.url("app"),
        &options(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
    let digest = format!("{}@sha256:{}", registry.url("app"), "0".repeat(64));
    let err = push(dir.path(), &digest, &options()).await.unwrap_err();
    assert!(err.to_string().contains("not a digest"), "{err}");
}
