//! Hand edits are drift: the next apply puts the files back.

use driftless_core::{ApplyOptions, Target};
use driftless_target_dir::{DirTarget, Error};

use crate::common::{cm, dir_error, files, plan, prune, read_object, set, sync};

#[tokio::test]
async fn an_edited_value_and_a_field_added_by_hand_are_put_back() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let a = cm(Some("web"), "a", "fast");
    let desired = set([a.clone()]);
    sync(&target, &desired, ApplyOptions::default()).await;
    let path = target.object_path(&a.id()).unwrap();
    let applied = std::fs::read_to_string(&path).unwrap();

    let edited = applied.replace("fast", "slow");
    assert_ne!(edited, applied);
    std::fs::write(&path, &edited).unwrap();

    // Live shows the edit; applying would make the file the desired object again.
    let live = target.live(&desired).await.unwrap();
    let entry = &live.objects[&a.id()];
    assert_eq!(entry.object, cm(Some("web"), "a", "slow"));
    assert_eq!(entry.predicted.as_ref(), Some(&a));

    let report = target
        .apply(&plan(&desired, &live), &ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(report.updated, [a.id()]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), applied);

    // A field only in the file is drift too: the file is the object applied.
    std::fs::write(&path, format!("{applied}extra: added by hand\n")).unwrap();
    let live = target.live(&desired).await.unwrap();
    let plan = plan(&desired, &live);
    assert_eq!(plan.summary().update, 1, "{plan:?}");
    target.apply(&plan, &ApplyOptions::default()).await.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), applied);
}

#[tokio::test]
async fn file_that_is_no_longer_the_object_is_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let a = cm(Some("web"), "a", "1");
    let desired = set([a.clone()]);
    sync(&target, &desired, ApplyOptions::default()).await;
    let path = target.object_path(&a.id()).unwrap();
    let applied = std::fs::read(&path).unwrap();

    let broken: [&[u8]; 8] = [
        b"data: [unclosed\n",           // not YAML
        b"- a list\n- not an object\n", // not a mapping
        b"just a scalar\n",             // not a mapping
        b"",                            // empty
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: web}\n---\na: 1\n", // two documents
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: web}\n", // another object
        b"kind: ConfigMap\nmetadata: {name: a}\n", // no apiVersion
        b"\xff\xfe not utf-8",                     // not text
    ];
    for content in broken {
        std::fs::write(&path, content).unwrap();
        let live = target.live(&desired).await.unwrap();
        assert!(
            !live.objects.contains_key(&a.id()),
            "{:?} reads as missing",
            String::from_utf8_lossy(content)
        );
        let report = target
            .apply(&plan(&desired, &live), &ApplyOptions::default())
            .await
            .unwrap();
        assert_eq!(report.created, [a.id()]);
        assert_eq!(std::fs::read(&path).unwrap(), applied);
    }
}

#[tokio::test]
async fn broken_file_of_an_object_no_longer_desired_is_pruned() {
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
    let path = target.object_path(&b.id()).unwrap();
    std::fs::write(&path, "{{{ not yaml").unwrap();

    let desired = set([a.clone()]);
    let live = target.live(&desired).await.unwrap();
    // It still exists (we wrote it), reduced to its identity.
    let entry = &live.objects[&b.id()];
    assert_eq!(entry.object.id(), b.id());
    assert_eq!(entry.object.as_value().get("data"), None);
    assert_eq!(entry.last_applied.as_ref(), Some(&b));

    let report = target
        .apply(&plan(&desired, &live), &prune())
        .await
        .unwrap();
    assert_eq!(report.pruned, [b.id()]);
    assert_eq!(files(dir.path()), ["web/core_ConfigMap/a.yaml"]);
}

#[tokio::test]
async fn symlinked_object_file_is_replaced_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.yaml");
    std::fs::write(
        &secret,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: web}\n",
    )
    .unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let a = cm(Some("web"), "a", "1");
    let path = target.object_path(&a.id()).unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&secret, &path).unwrap();

    let desired = set([a.clone()]);
    let live = target.live(&desired).await.unwrap();
    assert!(
        live.objects.is_empty(),
        "a symbolic link is not read as the object"
    );
    let report = target
        .apply(&plan(&desired, &live), &ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(report.created, [a.id()]);
    assert!(!path.symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(read_object(&path), a);
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap(),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: web}\n"
    );
}

#[tokio::test]
async fn corrupt_inventory_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let desired = set([cm(None, "a", "1")]);
    sync(&target, &desired, ApplyOptions::default()).await;
    let inventory = dir.path().join(".driftless/inventories/default.json");
    std::fs::write(&inventory, "{ truncated").unwrap();

    let err = target.live(&desired).await.unwrap_err();
    assert!(
        matches!(dir_error(&err), Error::InventoryCorrupt { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains(&inventory.display().to_string()),
        "{err}"
    );
    let err = target
        .apply(&driftless_core::Plan::default(), &prune())
        .await
        .unwrap_err();
    assert!(
        matches!(dir_error(&err), Error::InventoryCorrupt { .. }),
        "{err}"
    );
    // Nothing was pruned on a guess.
    assert_eq!(files(dir.path()), ["_cluster/core_ConfigMap/a.yaml"]);
}
