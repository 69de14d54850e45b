//! The history store on a real file system: it recovers from a full disk without a
//! restart, and folds no-op reconciles.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use driftless_runtime::history::{History, NewSync, SyncResult};

fn no_op(app: &str) -> NewSync {
    NewSync {
        app: app.into(),
        revision: Some("main@sha1:0123456789abcdef0123456789abcdef01234567".into()),
        started: SystemTime::now(),
        finished: SystemTime::now() + Duration::from_millis(3),
        result: SyncResult::Succeeded,
        trigger: "interval".into(),
        unchanged: 12,
        ..NewSync::default()
    }
}

#[test]
fn a_hundred_no_op_reconciles_are_one_entry() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(dir.path()).unwrap().keep_syncs(5);
    let applied = history
        .record_sync(&NewSync {
            created: 12,
            ..no_op("web")
        })
        .unwrap();
    let first = no_op("web");
    history.record_sync(&first).unwrap();
    for _ in 1..100 {
        history.record_sync(&no_op("web")).unwrap();
    }
    let syncs = history.syncs("web", 10).unwrap();
    assert_eq!(syncs.len(), 2, "{syncs:#?}");
    assert_eq!(syncs[0].count, 100);
    assert_eq!(
        syncs[0].first_started.as_deref(),
        Some(driftless_runtime::history::rfc3339(first.started).as_str())
    );
    assert_eq!(syncs[1].id, applied.id);
    assert_eq!(syncs[1].count, 1);

    // A sync that changed something, or failed, is an entry of its own, and the no-op
    // passes after it start a new one.
    history
        .record_sync(&NewSync {
            updated: 1,
            ..no_op("web")
        })
        .unwrap();
    history
        .record_sync(&NewSync {
            result: SyncResult::Failed,
            error: Some("render failed".into()),
            ..no_op("web")
        })
        .unwrap();
    history.record_sync(&no_op("web")).unwrap();
    history.record_sync(&no_op("web")).unwrap();
    let counts: Vec<u64> = history
        .syncs("web", 10)
        .unwrap()
        .iter()
        .map(|s| s.count)
        .collect();
    assert_eq!(counts, [2, 1, 1, 100, 1]);
}

/// A tmpfs mounted for one test and unmounted when dropped.
struct SmallTmpfs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl SmallTmpfs {
    /// Mounts a tmpfs of `size` (e.g. `4m`), or says why it cannot.
    fn mount(size: &str) -> Result<Self, String> {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let root = status
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0");
        if !root {
            return Err("mounting a tmpfs needs root".into());
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed (no CAP_SYS_ADMIN?): {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(Self { _dir: dir, path })
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

/// Fills the file system of `dir` with a file there, until it is full.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write as _;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0_u8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    let _ = file.sync_all();
    path
}

#[test]
fn a_full_disk_makes_the_store_unwritable_until_space_is_freed() {
    let tmpfs = match SmallTmpfs::mount("4m") {
        Ok(tmpfs) => tmpfs,
        Err(why) => {
            #[allow(clippy::print_stderr)] // the reason a test is skipped
            {
                eprintln!("skipped: {why}");
            }
            return;
        }
    };
    let history = History::open(tmpfs.path()).unwrap();
    let big = |n: usize| NewSync {
        created: n,
        error: Some("x".repeat(128 * 1024)),
        ..no_op("web")
    };
    history.record_sync(&big(1)).unwrap();
    assert!(history.is_writable());

    let filler = fill(tmpfs.path());
    let mut failed = None;
    for n in 2..64 {
        if let Err(e) = history.record_sync(&big(n)) {
            failed = Some(e);
            break;
        }
    }
    let failed = failed.expect("a write on a full disk fails");
    assert!(!history.is_writable(), "{failed}");
    // Still full: writes keep failing, and the store says so.
    assert!(history.record_sync(&big(100)).is_err());
    assert!(!history.is_writable());
    history
        .audit("web", "suspend", "token:test", None)
        .unwrap_err();

    std::fs::remove_file(filler).unwrap();
    let recorded = history.record_sync(&big(101)).unwrap();
    assert_eq!(recorded.created, 101);
    assert!(history.is_writable());
    history.audit("web", "suspend", "token:test", None).unwrap();
    let syncs = history.syncs("web", 100).unwrap();
    assert_eq!(syncs[0].created, 101);
    assert!(syncs.iter().any(|s| s.created == 1), "{}", syncs.len());
}

/// A reconcile that fails after resolving (here: the render) records the revision it
/// failed at, so the history says which commit broke.
#[tokio::test]
async fn a_failed_reconcile_records_the_revision_it_failed_at() {
    let dirs = crate::support::Dirs::new();
    let web = dirs.app("web");
    std::fs::write(dirs.path("src/web/broken.yaml"), "kind: [unclosed\n").unwrap();
    let agent = driftless_runtime::AgentBuilder::new()
        .app("web", web, driftless_runtime::AppOptions::default())
        .history(History::open(&dirs.path("state")).unwrap())
        .build()
        .unwrap();
    let outcomes = agent.reconcile_all(None, "test").await.unwrap();
    assert!(outcomes[0].is_failure(), "{:?}", outcomes[0]);
    drop(agent);
    let history = History::open(&dirs.path("state")).unwrap();
    let failed = &history.syncs("web", 1).unwrap()[0];
    assert_eq!(failed.result, SyncResult::Failed);
    let revision = failed.revision.as_deref().unwrap_or_default();
    assert!(revision.contains("sha256:"), "{failed:?}");
    assert!(
        failed
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("broken.yaml")
    );
}
