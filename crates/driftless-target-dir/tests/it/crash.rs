//! A real crash: a process applying to the directory is killed with SIGKILL at random
//! moments. Every object file left is whole, and the next apply recovers exactly.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use driftless_core::{ApplyOptions, Object, ObjectSet, Target};
use driftless_target_dir::DirTarget;
use driftless_testkit::ChildGuard;
use serde_json::json;

use crate::common::{files, inventory, listing, read_object, set, sync};

const DIR_VAR: &str = "DRIFTLESS_TARGET_DIR_CRASH_DIR";

/// Object `i` at `version`: big enough that a torn write would show.
fn object(i: usize, version: u32) -> Object {
    Object::new(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": format!("o{i}"), "namespace": format!("ns{}", i % 4)},
        "data": {"version": version.to_string(), "payload": "x".repeat(2000)},
    }))
    .unwrap()
}

/// Two alternating desired sets: overlapping members, different versions.
fn desired(round: u32) -> ObjectSet {
    if round.is_multiple_of(2) {
        set((0..150).map(|i| object(i, round)))
    } else {
        set((50..200).map(|i| object(i, round)))
    }
}

/// The helper process: applies `desired(0)`, `desired(1)`, ... until killed.
#[tokio::test]
#[ignore = "the process that crash::kill_9_mid_apply starts and kills"]
async fn crash_worker() {
    let dir = std::env::var(DIR_VAR).expect("run by crash::kill_9_mid_apply");
    let target = DirTarget::new(dir).unwrap();
    for round in 0.. {
        sync(
            &target,
            &desired(round),
            ApplyOptions::default().prune(true),
        )
        .await;
    }
}

/// Every object file below `root` holds one whole object of the universe.
fn assert_files_whole(root: &Path) {
    for path in files(root) {
        if path
            .rsplit('/')
            .next()
            .unwrap()
            .starts_with(".driftless-tmp-")
        {
            continue; // an unrenamed temporary file is no object
        }
        let object = read_object(&root.join(&path));
        let i: usize = object.name()[1..].parse().unwrap();
        let version: u32 = object.as_value()["data"]["version"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(object, self::object(i, version), "{path} is torn");
    }
}

#[tokio::test]
async fn kill_9_mid_apply() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    for (attempt, wait_ms) in [150u64, 400, 700, 1100].into_iter().enumerate() {
        let child = Command::new(&exe)
            .args([
                "crash::crash_worker",
                "--exact",
                "--ignored",
                "--test-threads=1",
            ])
            .env(DIR_VAR, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut guard = ChildGuard(child);
        std::thread::sleep(Duration::from_millis(wait_ms));
        assert!(
            guard.0.try_wait().unwrap().is_none(),
            "attempt {attempt}: the worker ended by itself"
        );
        guard.0.kill().unwrap(); // SIGKILL: no destructor, no cleanup runs
        guard.0.wait().unwrap();
        drop(guard);
        assert_files_whole(dir.path());

        // The inventory is whole (never a torn write), and what it holds of each
        // object is an object of the universe.
        let target = DirTarget::new(dir.path()).unwrap();
        let live = target.live(&ObjectSet::new()).await.unwrap();
        for (id, entry) in &live.objects {
            let applied = entry.last_applied.as_ref().unwrap();
            let i: usize = applied.name()[1..].parse().unwrap();
            let version = applied.as_value()["data"]["version"].as_str().unwrap();
            assert_eq!(*applied, object(i, version.parse().unwrap()), "{id}");
        }
    }

    // The next apply recovers exactly: the desired set, nothing else, no temporary
    // files, no empty folders.
    let target = DirTarget::new(dir.path()).unwrap();
    let last = desired(7);
    sync(&target, &last, ApplyOptions::default().prune(true)).await;
    assert_files_whole(dir.path());
    let mut expected: Vec<String> = last
        .ids()
        .map(|id| {
            let path = target.object_path(id).unwrap();
            path.strip_prefix(dir.path()).unwrap().display().to_string()
        })
        .collect();
    expected.sort();
    assert_eq!(files(dir.path()), expected);
    let mut ids: Vec<_> = last.ids().cloned().collect();
    ids.sort();
    assert_eq!(inventory(&target).await, ids);
    assert!(
        !listing(dir.path())
            .keys()
            .any(|p| p.contains(".driftless-tmp-"))
    );
}
