//! Create, update, unchanged: what an apply writes, and what it leaves alone.

use driftless_core::{ApplyOptions, Target};
use driftless_target_dir::DirTarget;
use serde_json::json;

use crate::common::{Entry, cm, listing, obj, plan, read_object, set, sync};

#[tokio::test]
async fn unchanged_reapply_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let desired = set([
        cm(Some("web"), "a", "1"),
        cm(Some("web"), "b", "2"),
        cm(None, "c", "3"),
    ]);
    let first = sync(&target, &desired, ApplyOptions::default()).await;
    assert_eq!(first.created, desired.ids().cloned().collect::<Vec<_>>());

    let before = listing(dir.path());
    // Wait past the file system's timestamp granularity, so a write would show.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let second = sync(&target, &desired, ApplyOptions::default().prune(true)).await;
    assert_eq!(second.unchanged, desired.ids().cloned().collect::<Vec<_>>());
    assert!(second.created.is_empty() && second.updated.is_empty() && second.pruned.is_empty());
    // Same files, same bytes, same inodes, same modification times, inventory included.
    assert_eq!(listing(dir.path()), before);
}

#[tokio::test]
async fn update_rewrites_only_the_changed_object() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    sync(
        &target,
        &set([cm(Some("web"), "a", "1"), cm(Some("web"), "b", "2")]),
        ApplyOptions::default(),
    )
    .await;
    let before = listing(dir.path());

    let changed = cm(Some("web"), "b", "two");
    let desired = set([cm(Some("web"), "a", "1"), changed.clone()]);
    let live = target.live(&desired).await.unwrap();
    let report = target
        .apply(&plan(&desired, &live), &ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(report.updated, [changed.id()]);
    assert_eq!(report.unchanged, [cm(Some("web"), "a", "1").id()]);

    let after = listing(dir.path());
    let a = "web/core_ConfigMap/a.yaml";
    let b = "web/core_ConfigMap/b.yaml";
    assert_eq!(after[a], before[a], "the unchanged file is not touched");
    assert_ne!(after[b], before[b]);
    assert_eq!(read_object(&dir.path().join(b)), changed);
    let inventory = ".driftless/inventories/default.json";
    assert_ne!(after[inventory], before[inventory]);
    // The inventory holds the object as last applied (given once no longer desired).
    let live = target.live(&set([])).await.unwrap();
    assert_eq!(
        live.objects[&changed.id()].last_applied.as_ref(),
        Some(&changed)
    );
}

#[tokio::test]
async fn values_survive_the_round_trip_through_files() {
    // Values that a careless YAML writer or reader would change: strings that look like
    // numbers, booleans or null, large integers, floats, empty and nested collections,
    // multi-line and unicode text. Read back, they must equal what was applied, or
    // every apply would see drift.
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let tricky = obj(json!({
        "apiVersion": "example.com/v1",
        "kind": "Tricky",
        "metadata": {"name": "values", "namespace": "ns", "annotations": {"a/b": "c: d"}},
        "spec": {
            "strings": ["1", "0x1F", "1e3", "y", "on", "no", "true", "null", "~", "", " padded ",
                        "- dash", "# hash", "a: b", "'quoted'", "\"dq\"", "@at", "*star", "&amp"],
            "numbers": [0, -1, 9_007_199_254_740_993_u64, 18_446_744_073_709_551_615_u64, 1.5, -0.25, 1e-7],
            "bools": [true, false],
            "nothing": null,
            "empty": {"map": {}, "list": []},
            "text": "line one\nline two\n  indented\n",
            "unicode": "grüße — 日本 🚀",
        },
    }));
    let desired = set([tricky.clone()]);
    sync(&target, &desired, ApplyOptions::default()).await;
    let live = target.live(&desired).await.unwrap();
    assert_eq!(live.objects[&tricky.id()].object, tricky);
    let again = sync(&target, &desired, ApplyOptions::default()).await;
    assert_eq!(again.unchanged, [tricky.id()]);
}

#[tokio::test]
async fn deleted_file_is_created_again() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let a = cm(Some("web"), "a", "1");
    let desired = set([a.clone()]);
    sync(&target, &desired, ApplyOptions::default()).await;
    let path = target.object_path(&a.id()).unwrap();
    std::fs::remove_file(&path).unwrap();

    let report = sync(&target, &desired, ApplyOptions::default()).await;
    assert_eq!(report.created, [a.id()]);
    assert_eq!(read_object(&path), a);
    assert!(matches!(
        listing(dir.path())["web/core_ConfigMap/a.yaml"],
        Entry::File { .. }
    ));
}
