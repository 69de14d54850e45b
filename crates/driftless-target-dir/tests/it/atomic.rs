//! Atomic writes: no half-written object, no temporary file left, and an inventory
//! that never claims an object whose file was not written.

use std::path::Path;

use driftless_core::{ApplyOptions, LiveState, ObjectSet, Target};
use driftless_target_dir::{DirTarget, Error};

use crate::common::{
    cm, dir_error, files, inventory, listing, plan, prune, read_object, set, sync,
};

/// The ids the inventory file claims as applied.
fn claimed(root: &Path) -> Vec<String> {
    section(root, "objects")
}

/// The ids the inventory file lists as pending.
fn pending(root: &Path) -> Vec<String> {
    section(root, "pending")
}

fn section(root: &Path, name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root.join(".driftless/inventories/default.json")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value
        .get(name)
        .and_then(serde_json::Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// No temporary file anywhere below `root`.
fn assert_no_temp_files(root: &Path) {
    let temps: Vec<String> = listing(root)
        .into_keys()
        .filter(|p| p.rsplit('/').next().unwrap().starts_with(".driftless-tmp-"))
        .collect();
    assert!(temps.is_empty(), "temporary files left: {temps:?}");
}

/// Every inventory member's file exists and holds the object as last applied.
async fn assert_inventory_matches_files(target: &DirTarget) {
    let live = target.live(&ObjectSet::new()).await.unwrap();
    for id in &live.inventory {
        let path = target.object_path(id).unwrap();
        let entry = &live.objects[id];
        assert_eq!(
            Some(&read_object(&path)),
            entry.last_applied.as_ref(),
            "{id}"
        );
    }
}

#[tokio::test]
async fn applies_leave_no_temporary_files_and_a_consistent_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let steps = [
        set([
            cm(Some("web"), "a", "1"),
            cm(Some("web"), "b", "1"),
            cm(None, "c", "1"),
        ]),
        set([
            cm(Some("web"), "a", "2"),
            cm(None, "c", "1"),
            cm(Some("db"), "d", "1"),
        ]),
        set([cm(Some("db"), "d", "2")]),
    ];
    for desired in &steps {
        sync(&target, desired, prune()).await;
        assert_no_temp_files(dir.path());
        assert_inventory_matches_files(&target).await;
    }
    assert_eq!(files(dir.path()), ["db/core_ConfigMap/d.yaml"]);
}

#[tokio::test]
async fn failed_apply_keeps_the_previous_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let x = cm(Some("web"), "x", "1");
    sync(&target, &set([x.clone()]), prune()).await;
    let inventory_before = claimed(dir.path());

    // Many objects to write, and one of them cannot be: a folder is where its file
    // should go.
    let others: Vec<_> = (0..40)
        .map(|i| cm(Some("web"), &format!("o{i}"), "1"))
        .collect();
    let blocked = cm(Some("web"), "blocked", "1");
    let blocked_path = target.object_path(&blocked.id()).unwrap();
    std::fs::create_dir_all(blocked_path.join("in-the-way")).unwrap();
    let mut objects = vec![x.clone()];
    objects.extend(others.iter().cloned());
    objects.insert(20, blocked.clone());
    let desired = set(objects);
    let live = target.live(&desired).await.unwrap();
    let err = target
        .apply(&plan(&desired, &live), &prune())
        .await
        .unwrap_err();
    match dir_error(&err) {
        Error::Write { path, id, .. } => {
            assert_eq!(path, &blocked_path);
            assert_eq!(**id, blocked.id());
        }
        other => panic!("unexpected error: {other}"),
    }
    assert!(err.to_string().contains("blocked"), "{err}");
    // Whatever was written is whole; the inventory claims none of it yet, it only
    // lists the new objects as pending.
    for object in &others {
        let path = target.object_path(&object.id()).unwrap();
        if path.exists() {
            assert_eq!(read_object(&path), *object);
        }
    }
    assert_eq!(claimed(dir.path()), inventory_before);
    assert_eq!(pending(dir.path()).len(), 41);
    assert_no_temp_files(dir.path());
    assert_inventory_matches_files(&target).await;

    // With the obstacle gone, the next apply completes and owns everything.
    std::fs::remove_dir_all(&blocked_path).unwrap();
    let report = sync(&target, &desired, prune()).await;
    assert_eq!(report.created.len() + report.unchanged.len(), desired.len());
    assert!(report.created.contains(&blocked.id()));
    let mut ids: Vec<_> = desired.ids().cloned().collect();
    ids.sort();
    assert_eq!(inventory(&target).await, ids);
    assert_inventory_matches_files(&target).await;
}

#[tokio::test]
async fn folder_in_the_way_fails_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    // `blocked/` should be a folder, but a file is in the way.
    std::fs::write(dir.path().join("blocked"), "in the way").unwrap();
    let a = cm(Some("web"), "a", "1");
    let b = cm(Some("blocked"), "b", "1");
    let desired = set([a.clone(), b.clone()]);
    let live = target.live(&desired).await.unwrap();
    let err = target
        .apply(&plan(&desired, &live), &ApplyOptions::default())
        .await
        .unwrap_err();
    match dir_error(&err) {
        Error::NotADirectory { path, id } => {
            assert_eq!(path, &dir.path().join("blocked"));
            assert_eq!(**id, b.id());
        }
        other => panic!("unexpected error: {other}"),
    }
    assert_eq!(files(dir.path()), ["blocked"]);
    assert!(claimed(dir.path()).is_empty());
    assert!(
        target
            .live(&ObjectSet::new())
            .await
            .unwrap()
            .inventory
            .is_empty()
    );
}

#[tokio::test]
async fn failed_rename_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let a = cm(Some("web"), "a", "1");
    // A non-empty folder where the file should go: the rename fails.
    let path = target.object_path(&a.id()).unwrap();
    std::fs::create_dir_all(path.join("sub")).unwrap();

    let err = target
        .apply(
            &plan(&set([a.clone()]), &LiveState::default()),
            &ApplyOptions::default(),
        )
        .await
        .unwrap_err();
    match dir_error(&err) {
        Error::Write { path: p, id, .. } => {
            assert_eq!(p, &path);
            assert_eq!(**id, a.id());
        }
        other => panic!("unexpected error: {other}"),
    }
    assert_no_temp_files(dir.path());
    assert!(claimed(dir.path()).is_empty());
    assert!(
        target
            .live(&ObjectSet::new())
            .await
            .unwrap()
            .inventory
            .is_empty()
    );
}

#[tokio::test]
async fn temporary_files_of_an_interrupted_apply_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let a = cm(Some("web"), "a", "1");
    sync(&target, &set([a.clone()]), prune()).await;
    // What a crash between writing and renaming leaves behind.
    let stale = [
        "web/core_ConfigMap/.driftless-tmp-Xy12ab",
        ".driftless/inventories/.driftless-tmp-Qw34cd",
    ];
    for path in stale {
        std::fs::write(dir.path().join(path), "half an obj").unwrap();
    }
    std::fs::write(dir.path().join("web/core_ConfigMap/.other"), "theirs").unwrap();

    // A dry run leaves them; a real apply that writes there removes them.
    sync(
        &target,
        &set([cm(Some("web"), "a", "2")]),
        ApplyOptions::default().dry_run(true),
    )
    .await;
    assert!(dir.path().join(stale[0]).exists());
    sync(&target, &set([cm(Some("web"), "a", "2")]), prune()).await;
    assert_no_temp_files(dir.path());
    assert!(dir.path().join("web/core_ConfigMap/.other").exists());
}

#[tokio::test]
async fn objects_written_by_a_failed_apply_can_still_be_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let x = cm(Some("web"), "x", "1");
    let others: Vec<_> = (0..30)
        .map(|i| cm(Some("web"), &format!("o{i}"), "1"))
        .collect();
    let blocked = cm(Some("web"), "blocked", "1");
    let blocked_path = target.object_path(&blocked.id()).unwrap();
    std::fs::create_dir_all(blocked_path.join("in-the-way")).unwrap();
    // `blocked` last: every other write is under way before it fails.
    let mut objects = vec![x.clone()];
    objects.extend(others.iter().cloned());
    objects.push(blocked.clone());
    let desired = set(objects);
    let live = target.live(&desired).await.unwrap();
    target
        .apply(&plan(&desired, &live), &prune())
        .await
        .unwrap_err();
    let written: Vec<_> = others
        .iter()
        .filter(|o| target.object_path(&o.id()).unwrap().exists())
        .map(driftless_core::Object::id)
        .collect();
    assert_eq!(written.len(), others.len());

    // They are not claimed, but known as written by that apply: no longer desired,
    // they are pruned like any object of ours. A file that was never written is not.
    let live = target.live(&ObjectSet::new()).await.unwrap();
    for id in &written {
        assert!(live.inventory.contains(id), "{id}");
    }
    let report = sync(&target, &set([x.clone()]), prune()).await;
    for id in &written {
        assert!(report.pruned.contains(id), "{id}");
    }
    assert_eq!(files(dir.path()), ["web/core_ConfigMap/x.yaml"]);
    assert!(blocked_path.join("in-the-way").is_dir());
    assert!(pending(dir.path()).is_empty());
}
