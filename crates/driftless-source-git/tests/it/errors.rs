//! Bad input: errors name what is missing, never show credentials, and come in time.

use std::time::{Duration, Instant};

use driftless_core::{Source, SourceError};
use driftless_source_git::{Error, GitAuth, GitRef, GitSource, Secret};
use driftless_testkit::git::{
    GitDaemon, GitHttp, GitServerRoot, GitSshd, SilentServer, TrickleServer,
};
use tokio_util::sync::CancellationToken;

use crate::common::{chain, options, resolve_and_fetch_err, standard_repo};

#[tokio::test(flavor = "multi_thread")]
async fn missing_repository_on_every_transport() {
    let root = GitServerRoot::new();
    standard_repo(&root, "app");
    let daemon = GitDaemon::start(root.path());
    let http = GitHttp::start(root.path());
    let cache = tempfile::tempdir().unwrap();
    let missing_path = root
        .path()
        .join("missing.git")
        .to_string_lossy()
        .into_owned();
    for url in [
        missing_path.clone(),
        daemon.url("missing"),
        http.url("missing"),
    ] {
        let err = resolve_and_fetch_err(options(&url, cache.path())).await;
        assert!(
            matches!(err, Error::RepositoryNotFound { .. }),
            "{url}: {}",
            chain(&err)
        );
        assert!(err.to_string().contains("missing.git"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_refs_are_named_with_what_exists() {
    let root = GitServerRoot::new();
    standard_repo(&root, "app");
    let http = GitHttp::start(root.path());
    let url = http.url("app");
    let cache = tempfile::tempdir().unwrap();

    let err = resolve_and_fetch_err(options(&url, cache.path()).branch("nope")).await;
    assert!(matches!(err, Error::BranchNotFound { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("branch \"nope\" not found in {url}; available branches include: feature, main")
    );

    let err = resolve_and_fetch_err(options(&url, cache.path()).tag("v9.9.9")).await;
    assert_eq!(
        err.to_string(),
        format!(
            "tag \"v9.9.9\" not found in {url}; available tags include: v1.3.0-rc.1, v1.2.0, v1.0.0, not-a-version"
        )
    );

    let err = resolve_and_fetch_err(options(&url, cache.path()).semver(">=5")).await;
    assert_eq!(
        err.to_string(),
        format!(
            "no tag of {url} matches semver range \">=5\"; available version tags include: v1.3.0-rc.1, v1.2.0, v1.0.0"
        )
    );

    let missing = "0123456789abcdef0123456789abcdef01234567";
    let err = resolve_and_fetch_err(options(&url, cache.path()).commit(missing, None)).await;
    assert!(
        matches!(err, Error::CommitNotFound { .. }),
        "{}",
        chain(&err)
    );
    assert!(
        err.to_string()
            .starts_with(&format!("commit {missing} not found in {url}")),
        "{err}"
    );
    // Nothing half-fetched is left for a renderer.
    assert!(!cache.path().join("snapshots").join(missing).exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn http_authentication_failure_hides_the_password() {
    let root = GitServerRoot::new();
    standard_repo(&root, "app");
    let http = GitHttp::start_with_basic_auth(root.path(), "alice", "right-password");
    let cache = tempfile::tempdir().unwrap();
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("password"), "wrong-password-42").unwrap();

    let auth = GitAuth::Basic {
        username: Secret::Value("alice".into()),
        password: Secret::File(secrets.path().join("password")),
    };
    let err = resolve_and_fetch_err(options(&http.url("app"), cache.path()).auth(auth)).await;
    assert!(
        matches!(err, Error::Authentication { .. }),
        "{}",
        chain(&err)
    );
    let shown = format!("{} {err:?}", chain(&err));
    assert!(!shown.contains("wrong-password-42"), "{shown}");

    // No credentials at all: also an authentication error.
    let err = resolve_and_fetch_err(options(&http.url("app"), cache.path())).await;
    assert!(
        matches!(err, Error::Authentication { .. }),
        "{}",
        chain(&err)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_in_urls_never_reach_errors() {
    let root = GitServerRoot::new();
    standard_repo(&root, "app");
    let http = GitHttp::start_with_basic_auth(root.path(), "alice", "right-password");
    let cache = tempfile::tempdir().unwrap();
    for url in [
        http.url("app")
            .replace("http://", "http://alice:supersecret-1@"),
        http.url("missing")
            .replace("http://", "http://alice:supersecret-1@"),
        "http://alice:supersecret-1@127.0.0.1:1/closed.git".to_owned(),
    ] {
        let source = GitSource::new(options(&url, cache.path())).unwrap();
        assert!(
            !source.describe().contains("supersecret"),
            "{}",
            source.describe()
        );
        let err = resolve_and_fetch_err(options(&url, cache.path())).await;
        let shown = format!("{} {err:?}", chain(&err));
        assert!(!shown.contains("supersecret"), "{shown}");
        assert!(shown.contains("127.0.0.1"), "{shown}");
    }
    // A token from a file, rejected.
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("token"), "tok-supersecret-2\n").unwrap();
    let auth = GitAuth::Token {
        token: Secret::File(secrets.path().join("token")),
    };
    let err = resolve_and_fetch_err(options(&http.url("app"), cache.path()).auth(auth)).await;
    let shown = format!("{} {err:?}", chain(&err));
    assert!(matches!(err, Error::Authentication { .. }), "{shown}");
    assert!(!shown.contains("supersecret"), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ssh_wrong_key_and_unknown_host_key_fail() {
    let root = GitServerRoot::new();
    let (repo, _) = standard_repo(&root, "app");
    let sshd = GitSshd::start();
    let cache = tempfile::tempdir().unwrap();
    let url = sshd.url(repo.bare());

    let wrong_key = GitAuth::Ssh {
        key_file: sshd.wrong_client_key(),
        known_hosts_file: Some(sshd.known_hosts()),
    };
    let err = resolve_and_fetch_err(options(&url, cache.path()).auth(wrong_key)).await;
    assert!(
        matches!(err, Error::Authentication { .. }),
        "{}",
        chain(&err)
    );

    let unknown_host = GitAuth::Ssh {
        key_file: sshd.client_key(),
        known_hosts_file: Some(sshd.wrong_known_hosts()),
    };
    let err = resolve_and_fetch_err(options(&url, cache.path()).auth(unknown_host)).await;
    assert!(
        matches!(err, Error::Authentication { .. }),
        "{}",
        chain(&err)
    );
    assert!(
        chain(&err).to_lowercase().contains("host key"),
        "{}",
        chain(&err)
    );

    let missing = sshd.url(&root.path().join("missing.git"));
    let good = GitAuth::Ssh {
        key_file: sshd.client_key(),
        known_hosts_file: Some(sshd.known_hosts()),
    };
    let err = resolve_and_fetch_err(options(&missing, cache.path()).auth(good)).await;
    assert!(
        matches!(err, Error::RepositoryNotFound { .. }),
        "{}",
        chain(&err)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_and_silent_hosts_fail_in_time() {
    let cache = tempfile::tempdir().unwrap();
    let closed = driftless_testkit::free_port();
    for url in [
        format!("http://127.0.0.1:{closed}/app.git"),
        format!("git://127.0.0.1:{closed}/app.git"),
    ] {
        let start = Instant::now();
        let err = resolve_and_fetch_err(options(&url, cache.path())).await;
        assert!(
            matches!(err, Error::Remote { .. }),
            "{url}: {}",
            chain(&err)
        );
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{url}: {:?}",
            start.elapsed()
        );
    }

    let silent = SilentServer::start();
    for url in [
        format!("http://127.0.0.1:{}/app.git", silent.port()),
        format!("git://127.0.0.1:{}/app.git", silent.port()),
    ] {
        let start = Instant::now();
        let err = resolve_and_fetch_err(
            options(&url, cache.path())
                .connect_timeout(Duration::from_secs(1))
                .timeout(Duration::from_secs(2)),
        )
        .await;
        assert!(
            matches!(err, Error::Timeout { .. } | Error::Remote { .. }),
            "{url}: {}",
            chain(&err)
        );
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "{url}: {:?}",
            start.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cancellation_stops_a_hanging_resolve() {
    let silent = SilentServer::start();
    let cache = tempfile::tempdir().unwrap();
    let token = CancellationToken::new();
    let source = GitSource::new(
        options(
            &format!("http://127.0.0.1:{}/app.git", silent.port()),
            cache.path(),
        )
        .cancel(token.clone()),
    )
    .unwrap();
    let cancel = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel();
    });
    let start = Instant::now();
    let err = source.resolve().await.unwrap_err();
    assert!(matches!(err, SourceError::Cancelled), "{err}");
    assert!(start.elapsed() < Duration::from_secs(3));
    cancel.await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_options_are_refused_up_front() {
    let cache = tempfile::tempdir().unwrap();
    let err =
        resolve_and_fetch_err(options("https://h/r.git", cache.path()).path("../outside")).await;
    assert!(matches!(err, Error::PathOutsideRepository { .. }), "{err}");
    let err = resolve_and_fetch_err(options("https://h/r.git", cache.path()).reference(
        GitRef::Commit {
            sha: "abc".into(),
            branch: None,
        },
    ))
    .await;
    assert!(matches!(err, Error::InvalidCommit { .. }), "{err}");
    let err = resolve_and_fetch_err(options("", cache.path())).await;
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err}");
}

/// How many threads of this process carry `name` (each test runs in its own process).
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.unwrap().path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

/// Waits until no thread talks to a remote any more: neither ours nor the HTTP
/// client's.
fn assert_network_threads_end(within: Duration, what: &str) {
    let start = Instant::now();
    loop {
        let left = threads_named(driftless_source_git::THREAD_NAME)
            + threads_named("reqwest-internal-sync-runtime");
        if left == 0 {
            return;
        }
        assert!(
            start.elapsed() < within,
            "{what}: {left} network threads still running after {within:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A server that never answers and one that sends a byte a second, over HTTP and
/// git://: the error names the URL, comes within the timeout, and the threads that
/// talked to the server are gone right after it.
#[tokio::test(flavor = "multi_thread")]
async fn silent_and_trickling_servers_are_stopped_at_the_deadline() {
    let silent = SilentServer::start();
    let trickle_http = TrickleServer::http("application/x-git-upload-pack-advertisement");
    let trickle_git = TrickleServer::git();
    let cache = tempfile::tempdir().unwrap();
    let timeout = Duration::from_secs(2);
    let commit = "0123456789abcdef0123456789abcdef01234567";
    for url in [
        format!("http://127.0.0.1:{}/app.git", silent.port()),
        format!("git://127.0.0.1:{}/app.git", silent.port()),
        format!("http://127.0.0.1:{}/app.git", trickle_http.port()),
        format!("git://127.0.0.1:{}/app.git", trickle_git.port()),
    ] {
        let source = GitSource::new(options(&url, cache.path()).timeout(timeout)).unwrap();
        let start = Instant::now();
        let err = source.resolve_revision().await.unwrap_err();
        let elapsed = start.elapsed();
        assert!(
            matches!(err, Error::Timeout { .. }),
            "{url}: {}",
            chain(&err)
        );
        assert!(err.to_string().contains(&url), "{err}");
        assert!(
            elapsed < timeout + Duration::from_millis(500),
            "{url}: {elapsed:?}"
        );
        assert_network_threads_end(Duration::from_secs(2), &url);

        let pinned = GitSource::new(
            options(&url, cache.path())
                .timeout(timeout)
                .commit(commit, Some("main".into())),
        )
        .unwrap();
        let revision = pinned.resolve_revision().await.unwrap();
        let start = Instant::now();
        let err = pinned.fetch_revision(&revision).await.unwrap_err();
        assert!(
            matches!(err, Error::Timeout { .. }),
            "{url}: {}",
            chain(&err)
        );
        assert!(start.elapsed() < timeout + Duration::from_millis(500));
        assert_network_threads_end(Duration::from_secs(2), &url);
    }
}

/// Cancelling a fetch from a silent git daemon wakes its blocked read at once.
#[tokio::test(flavor = "multi_thread")]
async fn cancellation_stops_the_network_thread() {
    let silent = SilentServer::start();
    let cache = tempfile::tempdir().unwrap();
    let token = CancellationToken::new();
    let url = format!("git://127.0.0.1:{}/app.git", silent.port());
    let source = GitSource::new(
        options(&url, cache.path())
            .timeout(Duration::from_secs(600))
            .cancel(token.clone()),
    )
    .unwrap();
    let cancel = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel();
    });
    let err = source.resolve_revision().await.unwrap_err();
    assert!(matches!(err, Error::Cancelled { .. }), "{}", chain(&err));
    assert_network_threads_end(Duration::from_secs(1), &url);
    cancel.await.unwrap();
}
