//! Prune deletes only what this target applied and no longer desires.

use driftless_core::{Action, ApplyOptions, Change, ObjectSet, Plan, Target};
use driftless_target_dir::DirTarget;
use serde_json::json;

use crate::common::{cm, files, inventory, listing, obj, plan, prune, set, sync};

#[tokio::test]
async fn prune_deletes_objects_no_longer_desired_and_their_empty_folders() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let a = cm(Some("web"), "a", "1");
    let b = cm(Some("web"), "b", "2");
    let c = cm(Some("db"), "c", "3");
    let role = obj(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r"},
    }));
    sync(
        &target,
        &set([a.clone(), b.clone(), c.clone(), role.clone()]),
        prune(),
    )
    .await;

    let report = sync(&target, &set([a.clone()]), prune()).await;
    assert_eq!(report.unchanged, [a.id()]);
    let mut pruned = report.pruned.clone();
    pruned.sort();
    let mut expected = vec![b.id(), c.id(), role.id()];
    expected.sort();
    assert_eq!(pruned, expected);
    assert!(report.prune_skipped.is_empty());

    // Only `a` is left, and no empty folder: `db/` and `_cluster/` are gone; the root stays.
    let entries: Vec<String> = listing(dir.path())
        .into_keys()
        .filter(|p| !p.starts_with(".driftless"))
        .collect();
    assert_eq!(
        entries,
        ["web", "web/core_ConfigMap", "web/core_ConfigMap/a.yaml"]
    );
    assert_eq!(inventory(&target).await, [a.id()]);

    // Pruning everything keeps the target directory itself.
    let report = sync(&target, &ObjectSet::new(), prune()).await;
    assert_eq!(report.pruned, [a.id()]);
    assert!(dir.path().is_dir());
    let entries: Vec<String> = listing(dir.path()).into_keys().collect();
    assert_eq!(
        entries,
        [".driftless", ".driftless/inventories", ".driftless/lock"]
    );
    assert!(inventory(&target).await.is_empty());
}

#[tokio::test]
async fn foreign_files_are_never_touched() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let root = dir.path();
    // Files we did not write, some exactly where an object of ours would be.
    let foreign = [
        ("README.md", "hello\n"),
        ("web/notes.txt", "notes\n"),
        ("web/core_ConfigMap/.hidden", "x"),
        (
            "web/core_ConfigMap/theirs.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: theirs, namespace: web}\n",
        ),
        ("_cluster/core_ConfigMap/junk.yaml", "not: [valid\n"),
    ];
    for (path, text) in foreign {
        std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
        std::fs::write(root.join(path), text).unwrap();
    }
    let a = cm(Some("web"), "a", "1");
    let b = cm(Some("web"), "b", "1");
    sync(&target, &set([a.clone(), b.clone()]), prune()).await;
    sync(&target, &set([a.clone()]), prune()).await;
    sync(&target, &ObjectSet::new(), prune()).await;

    for (path, text) in foreign {
        assert_eq!(
            std::fs::read_to_string(root.join(path)).unwrap(),
            text,
            "{path}"
        );
    }
    let mut expected: Vec<&str> = foreign.iter().map(|(p, _)| *p).collect();
    expected.sort_unstable();
    assert_eq!(files(root), expected);

    // A plan (say, from a stale live state) that prunes a file this target never
    // applied: the file stays, reported as skipped.
    let theirs = cm(Some("web"), "theirs", "x");
    let stray = Plan {
        changes: vec![Change {
            id: theirs.id(),
            action: Action::Prune {
                live: theirs.clone(),
            },
        }],
    };
    let report = target.apply(&stray, &prune()).await.unwrap();
    assert!(report.pruned.is_empty());
    assert_eq!(report.prune_skipped, [theirs.id()]);
    assert!(root.join("web/core_ConfigMap/theirs.yaml").is_file());
}

#[tokio::test]
async fn annotated_objects_are_never_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let keep = obj(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "keep", "namespace": "web",
                     "annotations": {"driftless.dev/prune": "disabled"}},
    }));
    let drop = cm(Some("web"), "drop", "1");
    let hand = cm(Some("web"), "hand", "1");
    sync(
        &target,
        &set([keep.clone(), drop.clone(), hand.clone()]),
        prune(),
    )
    .await;
    // `hand` is annotated by hand, on the live file only.
    let hand_path = target.object_path(&hand.id()).unwrap();
    let text = std::fs::read_to_string(&hand_path).unwrap().replace(
        "  name: hand\n",
        "  name: hand\n  annotations:\n    driftless.dev/prune: disabled\n",
    );
    std::fs::write(&hand_path, &text).unwrap();

    let report = sync(&target, &ObjectSet::new(), prune()).await;
    assert_eq!(report.pruned, [drop.id()]);
    let mut skipped = report.prune_skipped.clone();
    skipped.sort();
    assert_eq!(skipped, [hand.id(), keep.id()]);
    assert_eq!(
        files(dir.path()),
        [
            "web/core_ConfigMap/hand.yaml",
            "web/core_ConfigMap/keep.yaml"
        ]
    );
    assert_eq!(std::fs::read_to_string(&hand_path).unwrap(), text);
    // They are no longer managed: later applies leave them out of every plan.
    assert!(inventory(&target).await.is_empty());
    let report = sync(&target, &ObjectSet::new(), prune()).await;
    assert_eq!(report, driftless_core::ApplyReport::default());
    assert_eq!(files(dir.path()).len(), 2);
}

#[tokio::test]
async fn without_prune_objects_stay_in_the_inventory_until_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let a = cm(Some("web"), "a", "1");
    let b = cm(Some("web"), "b", "2");
    sync(
        &target,
        &set([a.clone(), b.clone()]),
        ApplyOptions::default(),
    )
    .await;

    let desired = set([a.clone()]);
    let live = target.live(&desired).await.unwrap();
    let plan = plan(&desired, &live);
    assert_eq!(plan.summary().prune, 1);
    let report = target.apply(&plan, &ApplyOptions::default()).await.unwrap();
    assert!(report.pruned.is_empty() && report.prune_skipped.is_empty());
    assert_eq!(files(dir.path()).len(), 2);
    assert_eq!(inventory(&target).await, [a.id(), b.id()]);

    // A later apply with prune still knows `b` is ours.
    let report = sync(&target, &desired, prune()).await;
    assert_eq!(report.pruned, [b.id()]);
    assert_eq!(files(dir.path()), ["web/core_ConfigMap/a.yaml"]);
}

#[tokio::test]
async fn object_whose_file_was_deleted_by_hand_is_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let a = cm(Some("web"), "a", "1");
    let b = cm(Some("web"), "b", "2");
    sync(&target, &set([a.clone(), b.clone()]), prune()).await;
    let b_path = target.object_path(&b.id()).unwrap();
    std::fs::remove_file(&b_path).unwrap();

    // `b` is no longer desired and not live: nothing to prune, and it leaves the
    // inventory, so a file someone puts there later is theirs.
    let report = sync(&target, &set([a.clone()]), prune()).await;
    assert!(report.pruned.is_empty());
    assert_eq!(inventory(&target).await, [a.id()]);
    std::fs::write(
        &b_path,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: web}\n",
    )
    .unwrap();
    let report = sync(&target, &set([a.clone()]), prune()).await;
    assert!(report.pruned.is_empty());
    assert!(b_path.is_file());
}

#[tokio::test]
async fn prune_keeps_folders_that_hold_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let a = cm(Some("web"), "a", "1");
    sync(&target, &set([a.clone()]), prune()).await;
    std::fs::write(dir.path().join("web/keep.txt"), "mine").unwrap();

    sync(&target, &ObjectSet::new(), prune()).await;
    let entries: Vec<String> = listing(dir.path())
        .into_keys()
        .filter(|p| !p.starts_with(".driftless"))
        .collect();
    assert_eq!(entries, ["web", "web/keep.txt"]);
}
