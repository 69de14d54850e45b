//! Every ref kind over every transport.

use driftless_source_git::{GitAuth, GitRef};
use driftless_testkit::git::{GitDaemon, GitHttp, GitServerRoot, GitSshd};

use crate::common::{Commits, options, read, resolve_and_fetch, standard_repo};

/// Resolves and fetches every kind of ref from `url` and checks revision and tree.
async fn every_ref_kind(url: &str, auth: &GitAuth, commits: &Commits) {
    let cache = tempfile::tempdir().unwrap();
    let cases: Vec<(GitRef, String, &str)> = vec![
        (
            GitRef::DefaultBranch,
            format!("main@sha1:{}", commits.c3),
            "version: 3\n",
        ),
        (
            GitRef::Branch("main".into()),
            format!("main@sha1:{}", commits.c3),
            "version: 3\n",
        ),
        (
            GitRef::Branch("feature".into()),
            format!("feature@sha1:{}", commits.c4),
            "version: feature\n",
        ),
        (
            GitRef::Tag("v1.0.0".into()),
            format!("v1.0.0@sha1:{}", commits.c1),
            "version: 1\n",
        ),
        (
            GitRef::Tag("v1.2.0".into()),
            format!("v1.2.0@sha1:{}", commits.c2),
            "version: 2\n",
        ),
        (
            GitRef::Semver("^1".into()),
            format!("v1.2.0@sha1:{}", commits.c2),
            "version: 2\n",
        ),
        (
            GitRef::Semver(">=1.3.0-rc.0, <2".into()),
            format!("v1.3.0-rc.1@sha1:{}", commits.c3),
            "version: 3\n",
        ),
        (
            GitRef::Commit {
                sha: commits.c1.clone(),
                branch: Some("main".into()),
            },
            format!("main@sha1:{}", commits.c1),
            "version: 1\n",
        ),
        (
            GitRef::Commit {
                sha: commits.c4.clone(),
                branch: None,
            },
            format!("sha1:{}", commits.c4),
            "version: feature\n",
        ),
    ];
    for (reference, expected, contents) in cases {
        let (revision, snapshot) = resolve_and_fetch(
            options(url, cache.path())
                .reference(reference.clone())
                .auth(auth.clone()),
        )
        .await;
        assert_eq!(revision.to_string(), expected, "{reference} over {url}");
        assert_eq!(
            read(&snapshot, "deploy/app.yaml"),
            contents,
            "{reference} over {url}"
        );
        assert_eq!(read(&snapshot, "README.md"), "# app\n");
        assert!(!snapshot.root().join(".git").exists());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn local_path_and_file_url() {
    let root = GitServerRoot::new();
    let (repo, commits) = standard_repo(&root, "app");
    let path = repo.bare().to_string_lossy().into_owned();
    every_ref_kind(&path, &GitAuth::None, &commits).await;
    every_ref_kind(&format!("file://{path}"), &GitAuth::None, &commits).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn git_daemon() {
    let root = GitServerRoot::new();
    let (_repo, commits) = standard_repo(&root, "app");
    let daemon = GitDaemon::start(root.path());
    every_ref_kind(&daemon.url("app"), &GitAuth::None, &commits).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn smart_http() {
    let root = GitServerRoot::new();
    let (_repo, commits) = standard_repo(&root, "app");
    let http = GitHttp::start(root.path());
    every_ref_kind(&http.url("app"), &GitAuth::None, &commits).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn smart_http_with_basic_auth_and_token() {
    let root = GitServerRoot::new();
    let (_repo, commits) = standard_repo(&root, "app");
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("user"), "alice\n").unwrap();
    std::fs::write(secrets.path().join("password"), "correct-horse\n").unwrap();
    let http = GitHttp::start_with_basic_auth(root.path(), "alice", "correct-horse");
    let basic = GitAuth::Basic {
        username: driftless_source_git::Secret::File(secrets.path().join("user")),
        password: driftless_source_git::Secret::File(secrets.path().join("password")),
    };
    every_ref_kind(&http.url("app"), &basic, &commits).await;

    let token_server = GitHttp::start_with_basic_auth(root.path(), "x-access-token", "tok-123");
    let token = GitAuth::Token {
        token: driftless_source_git::Secret::Value("tok-123".into()),
    };
    every_ref_kind(&token_server.url("app"), &token, &commits).await;

    // Credentials in the URL are used, too.
    let url = http
        .url("app")
        .replace("http://", "http://alice:correct-horse@");
    let cache = tempfile::tempdir().unwrap();
    let (revision, _) = resolve_and_fetch(options(&url, cache.path())).await;
    assert_eq!(revision.to_string(), format!("main@sha1:{}", commits.c3));
}

#[tokio::test(flavor = "multi_thread")]
async fn ssh() {
    let root = GitServerRoot::new();
    let (repo, commits) = standard_repo(&root, "app");
    let sshd = GitSshd::start();
    let auth = GitAuth::Ssh {
        key_file: sshd.client_key(),
        known_hosts_file: Some(sshd.known_hosts()),
    };
    every_ref_kind(&sshd.url(repo.bare()), &auth, &commits).await;
}
