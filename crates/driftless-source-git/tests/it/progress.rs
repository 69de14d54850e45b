//! Long fetches report progress as `tracing` events (the CLI prints them on stderr).

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use driftless_testkit::git::{GitHttp, GitServerRoot};

use crate::common::{options, resolve_and_fetch};

static EVENTS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        EVENTS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures the git source's events of every test in this binary (the fetch runs on
/// tokio's blocking threads, so a thread-local subscriber would miss them).
fn capture() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        tracing_subscriber::fmt()
            .with_env_filter("driftless_source_git=info")
            .with_ansi(false)
            .with_writer(|| Capture)
            .init();
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn fetches_report_what_they_do() {
    capture();
    let root = GitServerRoot::new();
    let repo = root.create_repo("progress");
    for i in 0..50 {
        repo.write(&format!("m/{i}.yaml"), &format!("index: {i}\n"));
    }
    repo.commit("files");
    repo.push();
    let http = GitHttp::start(root.path());
    let cache = tempfile::tempdir().unwrap();
    let (revision, _) = resolve_and_fetch(options(&http.url("progress"), cache.path())).await;

    let events = String::from_utf8(EVENTS.lock().unwrap().clone()).unwrap();
    let ours: Vec<&str> = events
        .lines()
        .filter(|l| l.contains(&revision.to_string()))
        .collect();
    assert!(ours.iter().any(|l| l.contains("fetching")), "{events}");
    assert!(
        ours.iter()
            .any(|l| l.contains("fetched") && l.contains("objects=")),
        "{events}"
    );
    assert!(
        ours.iter()
            .any(|l| l.contains("checked out") && l.contains("files=50")),
        "{events}"
    );
}
