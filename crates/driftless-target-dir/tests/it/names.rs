//! Ids that cannot be files inside the directory are rejected, naming the object;
//! nothing is ever written outside the directory.

use driftless_core::{ApplyOptions, LiveState, Object, ObjectSet, Target};
use driftless_target_dir::{DirTarget, Error};
use serde_json::json;

use crate::common::{cm, dir_error, listing, plan, set};

fn unsafe_objects() -> Vec<(Object, &'static str)> {
    let with = |ns: Option<&str>, name: &str| {
        let mut metadata = json!({"name": name});
        if let Some(ns) = ns {
            metadata["namespace"] = json!(ns);
        }
        Object::new(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata})).unwrap()
    };
    vec![
        (with(None, "../../escape"), "contains '/'"),
        (with(None, ".."), "starts with '.'"),
        (with(None, ".hidden"), "starts with '.'"),
        (with(None, "a..b"), "contains '..'"),
        (with(None, "nul\0byte"), "contains a NUL character"),
        (with(Some("../up"), "a"), "contains '/'"),
        (with(Some(".."), "a"), "starts with '.'"),
        (
            with(Some("_cluster"), "a"),
            "folder name of cluster-scoped objects",
        ),
        (
            Object::new(
                json!({"apiVersion": "core/v1", "kind": "ConfigMap", "metadata": {"name": "a"}}),
            )
            .unwrap(),
            "how the core API group is written",
        ),
        (
            Object::new(
                json!({"apiVersion": ".x/v1", "kind": "ConfigMap", "metadata": {"name": "a"}}),
            )
            .unwrap(),
            "starts with '.'",
        ),
    ]
}

#[tokio::test]
async fn unsafe_names_are_rejected_by_live_and_apply() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("live");
    let target = DirTarget::new(&root).unwrap();
    let fine = cm(Some("web"), "fine", "1");

    for (bad, reason) in unsafe_objects() {
        let desired = set([fine.clone(), bad.clone()]);
        let err = target.live(&desired).await.unwrap_err();
        assert!(matches!(dir_error(&err), Error::UnsafeName { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains(&bad.id().to_string()), "{message}");
        assert!(message.contains(reason), "{message}");

        // A hand-made plan: refused before anything, even `fine`, is written.
        let err = target
            .apply(
                &plan(&desired, &LiveState::default()),
                &ApplyOptions::default(),
            )
            .await
            .unwrap_err();
        assert!(matches!(dir_error(&err), Error::UnsafeName { .. }), "{err}");
        assert!(err.to_string().contains(&bad.id().to_string()), "{err}");
    }
    // Nothing but the lock was ever written, inside or outside the directory.
    let entries: Vec<String> = listing(outer.path()).into_keys().collect();
    assert_eq!(entries, ["live", "live/.driftless", "live/.driftless/lock"]);
}

#[tokio::test]
async fn symlinked_folders_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("web")).unwrap();

    let a = cm(Some("web"), "a", "1");
    let desired = set([a.clone()]);
    // Read as missing...
    let live = target.live(&desired).await.unwrap();
    assert!(live.objects.is_empty());
    // ...and never written through.
    let err = target
        .apply(&plan(&desired, &live), &ApplyOptions::default())
        .await
        .unwrap_err();
    match dir_error(&err) {
        Error::NotADirectory { path, id } => {
            assert_eq!(path, &dir.path().join("web"));
            assert_eq!(**id, a.id());
        }
        other => panic!("unexpected error: {other}"),
    }
    assert!(listing(outside.path()).is_empty());
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
async fn prune_never_removes_folders_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let a = cm(Some("web"), "a", "1");
    crate::common::sync(&target, &set([a.clone()]), crate::common::prune()).await;
    // Someone swaps the namespace folder for a link to a folder with an empty
    // `core_ConfigMap/` in it.
    std::fs::remove_dir_all(dir.path().join("web")).unwrap();
    std::fs::create_dir(outside.path().join("core_ConfigMap")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("web")).unwrap();

    let report = crate::common::sync(&target, &ObjectSet::new(), crate::common::prune()).await;
    assert!(report.pruned.is_empty());
    assert!(outside.path().join("core_ConfigMap").is_dir());
    assert!(
        dir.path()
            .join("web")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        target
            .live(&ObjectSet::new())
            .await
            .unwrap()
            .inventory
            .is_empty()
    );
}
