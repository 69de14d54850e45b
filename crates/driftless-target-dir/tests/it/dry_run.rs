//! A dry run reports what would change and writes nothing at all.

use driftless_core::{ApplyOptions, ApplyReport, Target};
use driftless_target_dir::DirTarget;
use serde_json::json;

use crate::common::{cm, listing, obj, plan, set, sync};

fn dry_run() -> ApplyOptions {
    ApplyOptions::default().dry_run(true).prune(true)
}

#[tokio::test]
async fn dry_run_on_a_fresh_directory_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let desired = set([cm(Some("web"), "a", "1"), cm(None, "b", "2")]);
    let report = sync(&target, &desired, dry_run()).await;
    assert!(report.dry_run);
    assert_eq!(report.created, desired.ids().cloned().collect::<Vec<_>>());
    // Not a file, not a folder, not the inventory, not the lock.
    assert!(listing(dir.path()).is_empty());
}

#[tokio::test]
async fn dry_run_reports_updates_and_prunes_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let keep = obj(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "keep", "namespace": "web",
                     "annotations": {"driftless.dev/prune": "disabled"}},
    }));
    let a = cm(Some("web"), "a", "1");
    let b = cm(Some("db"), "b", "2");
    sync(
        &target,
        &set([a.clone(), b.clone(), keep.clone()]),
        ApplyOptions::default(),
    )
    .await;
    // A hand edit and a foreign file, to be sure a dry run leaves them too.
    std::fs::write(dir.path().join("web/core_ConfigMap/a.yaml"), "broken: [").unwrap();
    std::fs::write(dir.path().join("web/notes.txt"), "mine").unwrap();
    let before = listing(dir.path());

    let new = cm(Some("new"), "n", "1");
    let desired = set([cm(Some("web"), "a", "changed"), new.clone()]);
    let live = target.live(&desired).await.unwrap();
    let report = target
        .apply(&plan(&desired, &live), &dry_run())
        .await
        .unwrap();
    assert!(report.dry_run);
    // `a` reads as missing (its file is broken), so it would be written again.
    assert_eq!(report.created, [a.id(), new.id()]);
    assert_eq!(report.pruned, [b.id()]);
    assert_eq!(report.prune_skipped, [keep.id()]);

    assert_eq!(listing(dir.path()), before);
    // The real apply does what the dry run said.
    let real = target
        .apply(&plan(&desired, &live), &ApplyOptions::default().prune(true))
        .await
        .unwrap();
    assert_eq!(
        ApplyReport {
            dry_run: true,
            ..real
        },
        report
    );
    assert_ne!(listing(dir.path()), before);
}
