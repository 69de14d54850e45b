//! Several apps in one directory: each inventory has a name, no app prunes another's
//! objects, and an object of another inventory is only taken over when asked.

use driftless_core::{ApplyOptions, ObjectSet, Target};
use driftless_target_dir::{DirTarget, DirTargetOptions, Error};

use crate::common::{cm, dir_error, files, inventory, plan, prune, set, sync};

fn named(dir: &std::path::Path, name: &str) -> DirTarget {
    DirTarget::with_options(dir, DirTargetOptions::default().name(name)).unwrap()
}

#[tokio::test]
async fn two_apps_in_one_directory_never_prune_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (named(dir.path(), "app-a"), named(dir.path(), "app-b"));
    let desired_a = set([cm(Some("web"), "a1", "1"), cm(Some("web"), "a2", "1")]);
    let desired_b = set([cm(Some("web"), "b1", "1"), cm(Some("db"), "b2", "1")]);
    let mut pruned = 0;
    for pass in 0..5 {
        let report_a = sync(&a, &desired_a, prune()).await;
        let report_b = sync(&b, &desired_b, prune()).await;
        pruned += report_a.pruned.len() + report_b.pruned.len();
        if pass > 0 {
            assert_eq!(report_a.unchanged.len() + report_b.unchanged.len(), 4);
        }
    }
    assert_eq!(pruned, 0, "no cross prunes");
    assert_eq!(
        files(dir.path()),
        [
            "db/core_ConfigMap/b2.yaml",
            "web/core_ConfigMap/a1.yaml",
            "web/core_ConfigMap/a2.yaml",
            "web/core_ConfigMap/b1.yaml",
        ]
    );
    assert_eq!(
        inventory(&a).await,
        desired_a.ids().cloned().collect::<Vec<_>>()
    );
    assert!(
        dir.path()
            .join(".driftless/inventories/app-a.json")
            .is_file()
    );
    assert!(
        dir.path()
            .join(".driftless/inventories/app-b.json")
            .is_file()
    );

    // Each prunes only its own: `a` drops a2, `b` keeps everything.
    let report = sync(&a, &set([cm(Some("web"), "a1", "1")]), prune()).await;
    assert_eq!(report.pruned, [cm(Some("web"), "a2", "1").id()]);
    let report = sync(&b, &desired_b, prune()).await;
    assert!(report.pruned.is_empty());
    assert_eq!(files(dir.path()).len(), 3);
}

#[tokio::test]
async fn applying_another_inventorys_object_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (named(dir.path(), "app-a"), named(dir.path(), "app-b"));
    let shared = cm(Some("web"), "shared", "1");
    sync(&a, &set([shared.clone()]), prune()).await;

    // The same object, changed or not, in a dry run or not: refused.
    for (object, dry_run) in [
        (shared.clone(), false),
        (cm(Some("web"), "shared", "2"), false),
        (shared.clone(), true),
    ] {
        let desired = set([object, cm(Some("web"), "own", "1")]);
        let live = b.live(&desired).await.unwrap();
        let err = b
            .apply(&plan(&desired, &live), &prune().dry_run(dry_run))
            .await
            .unwrap_err();
        assert!(matches!(dir_error(&err), Error::Owned { .. }), "{err}");
        let message = err.to_string();
        for part in ["\"app-a\"", "\"app-b\"", "/ConfigMap/web/shared", "--adopt"] {
            assert!(message.contains(part), "{part} in {message}");
        }
    }
    // Nothing was written by the refused applies.
    assert_eq!(files(dir.path()), ["web/core_ConfigMap/shared.yaml"]);
    assert!(inventory(&b).await.is_empty());
    assert_eq!(inventory(&a).await, [shared.id()]);
}

#[tokio::test]
async fn adopting_moves_the_object_to_the_new_inventory() {
    let dir = tempfile::tempdir().unwrap();
    let a = named(dir.path(), "app-a");
    let shared = cm(Some("web"), "shared", "1");
    let only_a = cm(Some("web"), "only-a", "1");
    sync(&a, &set([shared.clone(), only_a.clone()]), prune()).await;

    let adopter = DirTarget::with_options(
        dir.path(),
        DirTargetOptions::default().name("app-b").adopt(true),
    )
    .unwrap();
    // A dry run adopts nothing.
    sync(&adopter, &set([shared.clone()]), prune().dry_run(true)).await;
    assert_eq!(inventory(&a).await, [only_a.id(), shared.id()]);

    let report = sync(&adopter, &set([cm(Some("web"), "shared", "2")]), prune()).await;
    assert_eq!(report.updated, [shared.id()]);
    assert_eq!(inventory(&adopter).await, [shared.id()]);
    assert_eq!(inventory(&a).await, [only_a.id()]);
    // `a` no longer desires it and does not prune it: it is not its own any more.
    let report = sync(&a, &set([only_a.clone()]), prune()).await;
    assert!(report.pruned.is_empty());
    assert_eq!(files(dir.path()).len(), 2);
}

#[tokio::test]
async fn the_unnamed_inventory_of_an_older_driftless_goes_to_the_first_name() {
    let dir = tempfile::tempdir().unwrap();
    let old = cm(Some("web"), "old", "1");
    let kept = cm(Some("web"), "kept", "1");
    sync(
        &named(dir.path(), "first"),
        &set([old.clone(), kept.clone()]),
        prune(),
    )
    .await;
    // What an older driftless left: the same inventory, unnamed.
    let inventories = dir.path().join(".driftless/inventories");
    std::fs::rename(
        inventories.join("first.json"),
        dir.path().join(".driftless/inventory.json"),
    )
    .unwrap();

    let web = named(dir.path(), "web");
    assert_eq!(inventory(&web).await, [kept.id(), old.id()]);
    let report = sync(&web, &set([kept.clone()]), prune()).await;
    assert_eq!(report.pruned, [old.id()]);
    assert!(!dir.path().join(".driftless/inventory.json").exists());
    assert!(inventories.join("web.json").is_file());
    // Another name finds nothing of it.
    assert!(inventory(&named(dir.path(), "other")).await.is_empty());
}

#[tokio::test]
async fn an_emptied_inventory_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let web = named(dir.path(), "web");
    sync(&web, &set([cm(Some("web"), "a", "1")]), prune()).await;
    let report = sync(&web, &ObjectSet::new(), prune()).await;
    assert_eq!(report.pruned.len(), 1);
    assert!(files(dir.path()).is_empty());
    assert!(!dir.path().join(".driftless/inventories/web.json").exists());
}

#[tokio::test]
async fn invalid_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["", "../x", ".hidden", "a/b"] {
        let err =
            DirTarget::with_options(dir.path(), DirTargetOptions::default().name(bad)).unwrap_err();
        assert!(matches!(err, Error::InvalidName { .. }), "{bad}: {err}");
    }
}

#[tokio::test]
async fn a_missing_directory_is_created_by_the_first_apply_that_writes() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("live/nested");
    let target = DirTarget::new(&dir).unwrap();
    let desired = set([cm(Some("web"), "a", "1")]);
    // Reading and a dry run leave it missing.
    sync(&target, &desired, ApplyOptions::default().dry_run(true)).await;
    assert!(!dir.exists());
    sync(&target, &desired, ApplyOptions::default()).await;
    assert_eq!(files(&dir), ["web/core_ConfigMap/a.yaml"]);
}
