//! What a snapshot may contain: symlinks inside it, a selected path; never a link
//! leaving it.

use driftless_source_git::Error;
use driftless_testkit::git::GitServerRoot;

use crate::common::{chain, options, read, resolve_and_fetch, resolve_and_fetch_err};

#[tokio::test(flavor = "multi_thread")]
async fn symlinks_inside_work_and_escaping_ones_are_refused() {
    let root = GitServerRoot::new();
    let repo = root.create_repo("links");
    repo.write("base/app.yaml", "kind: ConfigMap\n")
        .symlink("overlay/app.yaml", "../base/app.yaml")
        .write("bin/run.sh", "#!/bin/sh\n");
    std::fs::set_permissions(
        repo.path().join("bin/run.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    repo.commit("inside");
    repo.push();
    let cache = tempfile::tempdir().unwrap();
    let url = repo.bare().to_string_lossy().into_owned();
    let (_, snapshot) = resolve_and_fetch(options(&url, cache.path())).await;
    assert_eq!(read(&snapshot, "overlay/app.yaml"), "kind: ConfigMap\n");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(snapshot.root().join("bin/run.sh"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o111, 0o111, "executable bit kept");

    repo.symlink("overlay/passwd", "../../../../etc/passwd");
    let bad = repo.commit("escape");
    repo.push();
    let err = resolve_and_fetch_err(options(&url, cache.path())).await;
    assert!(
        matches!(err, Error::SymlinkEscape { .. }),
        "{}",
        chain(&err)
    );
    assert!(err.to_string().contains("overlay/passwd"), "{err}");
    assert!(!cache.path().join("snapshots").join(&bad).exists());

    repo.remove("overlay/passwd").symlink("abs", "/etc/passwd");
    repo.commit("absolute");
    repo.push();
    let err = resolve_and_fetch_err(options(&url, cache.path())).await;
    assert!(
        matches!(err, Error::SymlinkEscape { .. }),
        "{}",
        chain(&err)
    );
    assert!(err.to_string().contains("\"abs\""), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn path_selects_a_folder_inside_the_repository() {
    let root = GitServerRoot::new();
    let repo = root.create_repo("paths");
    repo.write("deploy/prod/app.yaml", "env: prod\n")
        .write("top.txt", "x");
    repo.symlink("current", "deploy/prod");
    repo.commit("layout");
    repo.push();
    let cache = tempfile::tempdir().unwrap();
    let url = repo.bare().to_string_lossy().into_owned();

    let (_, snapshot) = resolve_and_fetch(options(&url, cache.path()).path("deploy/prod")).await;
    assert!(snapshot.root().ends_with("deploy/prod"));
    assert_eq!(read(&snapshot, "app.yaml"), "env: prod\n");
    let (_, linked) = resolve_and_fetch(options(&url, cache.path()).path("current")).await;
    assert_eq!(read(&linked, "app.yaml"), "env: prod\n");

    let err = resolve_and_fetch_err(options(&url, cache.path()).path("deploy/staging")).await;
    assert!(matches!(err, Error::PathNotFound { .. }), "{err}");
    assert!(err.to_string().contains("deploy/staging"), "{err}");
    let err = resolve_and_fetch_err(options(&url, cache.path()).path("top.txt")).await;
    assert!(matches!(err, Error::PathNotFound { .. }), "{err}");
    let err = resolve_and_fetch_err(options(&url, cache.path()).path("deploy/../../x")).await;
    assert!(matches!(err, Error::PathOutsideRepository { .. }), "{err}");
}
