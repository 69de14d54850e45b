//! Two applies to the same directory never interleave.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use driftless_core::{ApplyOptions, ObjectSet, Target};
use driftless_target_dir::{DirTarget, DirTargetOptions, Error};
use driftless_testkit::{ChildGuard, require_program};

use crate::common::{cm, dir_error, files, plan, prune, read_object, set, sync};

#[tokio::test]
async fn apply_waits_for_another_process_then_times_out_naming_the_directory() {
    let flock = require_program("flock", "install util-linux (apt-get install util-linux)");
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::with_options(
        dir.path(),
        DirTargetOptions::default().lock_timeout(Duration::from_millis(300)),
    )
    .unwrap();
    let lock = dir.path().join(".driftless/lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();

    // Another process takes the lock (an flock(2) lock, as ours) and holds it.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec 9>'{}' && '{}' -x 9 && echo locked && exec sleep 60",
            lock.display(),
            flock.display()
        ))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let guard = ChildGuard(child);
    let mut first_line = String::new();
    BufReader::new(stdout).read_line(&mut first_line).unwrap();
    assert_eq!(first_line.trim(), "locked");

    let desired = set([cm(Some("web"), "a", "1")]);
    let live = target.live(&desired).await.unwrap();
    let started = Instant::now();
    let err = target
        .apply(&plan(&desired, &live), &ApplyOptions::default())
        .await
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(
        matches!(dir_error(&err), Error::LockTimeout { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
    assert!(
        files(dir.path()).is_empty(),
        "nothing written without the lock"
    );

    // Once the other process is gone, its lock is too.
    drop(guard);
    let report = target
        .apply(&plan(&desired, &live), &ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(report.created.len(), 1);
}

#[tokio::test]
async fn dry_run_needs_no_lock() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::with_options(
        dir.path(),
        DirTargetOptions::default().lock_timeout(Duration::ZERO),
    )
    .unwrap();
    sync(&target, &set([cm(None, "a", "1")]), ApplyOptions::default()).await;
    let lock = std::fs::File::open(dir.path().join(".driftless/lock")).unwrap();
    lock.lock().unwrap();
    let report = sync(
        &target,
        &ObjectSet::new(),
        ApplyOptions::default().dry_run(true).prune(true),
    )
    .await;
    assert_eq!(report.pruned.len(), 1);
    let err = target
        .apply(&driftless_core::Plan::default(), &ApplyOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(dir_error(&err), Error::LockTimeout { .. }),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_applies_serialize() {
    // Several targets on one directory apply different sets at once. Each apply runs
    // whole under the lock, so the result is exactly one of the sets, with an inventory
    // that matches the files.
    let dir = tempfile::tempdir().unwrap();
    let sets: Vec<ObjectSet> = (0..6)
        .map(|i| {
            set((0..8).filter(|j| (i + j) % 3 != 0).map(|j| {
                cm(
                    Some(&format!("ns{}", j % 3)),
                    &format!("o{j}"),
                    &format!("v{i}"),
                )
            }))
        })
        .collect();
    let mut tasks = Vec::new();
    for desired in sets.clone() {
        let target = DirTarget::new(dir.path()).unwrap();
        tasks.push(tokio::spawn(async move {
            // Read and apply under the same lock order as the other tasks may race:
            // a stale plan is fine, interleaved writes are not.
            sync(&target, &desired, prune()).await
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let target = DirTarget::new(dir.path()).unwrap();
    let live = target.live(&ObjectSet::new()).await.unwrap();
    for id in &live.inventory {
        let path = target.object_path(id).unwrap();
        assert_eq!(
            Some(&read_object(&path)),
            live.objects[id].last_applied.as_ref()
        );
    }
    // A final reconcile of any set converges to it exactly.
    sync(&target, &sets[0], prune()).await;
    let expected: Vec<String> = {
        let mut v: Vec<String> = sets[0]
            .ids()
            .map(|id| {
                target
                    .object_path(id)
                    .unwrap()
                    .strip_prefix(dir.path())
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(files(dir.path()), expected);
}
