//! Where objects land, and what their files hold.

use driftless_core::{ApplyOptions, Target};
use driftless_target_dir::{DirTarget, Error};
use serde_json::json;

use crate::common::{cm, dir_error, files, obj, read_object, set, sync};

#[tokio::test]
async fn objects_are_files_by_namespace_group_and_kind() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let desired = set([
        cm(Some("web"), "settings", "fast"),
        obj(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "admin"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}],
        })),
        obj(json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "frontend", "namespace": "web", "labels": {"app": "frontend"}},
            "spec": {"replicas": 3},
        })),
        obj(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}})),
    ]);
    let report = sync(&target, &desired, ApplyOptions::default()).await;
    assert_eq!(report.created.len(), 4);

    assert_eq!(
        files(dir.path()),
        [
            "_cluster/core_Namespace/web.yaml",
            "_cluster/rbac.authorization.k8s.io_ClusterRole/admin.yaml",
            "web/apps_Deployment/frontend.yaml",
            "web/core_ConfigMap/settings.yaml",
        ]
    );
    // Each file is one document holding exactly the desired object.
    for object in &desired {
        let path = target.object_path(&object.id()).unwrap();
        assert_eq!(read_object(&path), *object, "{}", path.display());
    }
    let mut contents = String::new();
    for f in files(dir.path()) {
        contents.push_str("# ");
        contents.push_str(&f);
        contents.push('\n');
        contents.push_str(&std::fs::read_to_string(dir.path().join(&f)).unwrap());
    }
    insta::assert_snapshot!("layout_files", contents);
}

#[tokio::test]
async fn describe_names_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    assert_eq!(target.describe(), format!("dir:{}", dir.path().display()));
    assert_eq!(target.path(), dir.path());
}

#[tokio::test]
async fn new_accepts_missing_directories_and_rejects_files() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b/live");
    let target = DirTarget::new(&nested).unwrap();
    // Opening and reading create nothing: the first apply that writes does.
    assert!(target.live(&set([])).await.unwrap().objects.is_empty());
    assert!(!dir.path().join("a").exists());
    sync(&target, &set([]), ApplyOptions::default()).await;
    assert!(nested.is_dir());
    assert!(files(&nested).is_empty());

    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let err = DirTarget::new(&file).unwrap_err();
    assert!(matches!(err, Error::TargetDir { .. }), "{err}");
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn inventory_lists_what_was_applied() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let a = cm(Some("web"), "a", "1");
    let desired = set([a.clone(), cm(None, "b", "2")]);
    sync(&target, &desired, ApplyOptions::default()).await;

    let live = target.live(&desired).await.unwrap();
    assert_eq!(
        live.inventory
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["/ConfigMap//b", "/ConfigMap/web/a"]
    );
    let entry = &live.objects[&a.id()];
    assert_eq!(entry.object, a);
    assert_eq!(entry.predicted.as_ref(), Some(&a));
    // What was applied is given for objects no longer desired (what prune looks at).
    let live = target.live(&set([])).await.unwrap();
    assert_eq!(live.objects[&a.id()].last_applied.as_ref(), Some(&a));
    let live = target.live(&desired).await.unwrap();
    // The live objects come in desired order.
    assert_eq!(
        live.objects.keys().cloned().collect::<Vec<_>>(),
        desired.ids().cloned().collect::<Vec<_>>()
    );
    assert!(
        dir.path()
            .join(".driftless/inventories/default.json")
            .is_file()
    );
    assert!(dir.path().join(".driftless/lock").is_file());
}

#[tokio::test]
async fn plan_entry_holding_another_object_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let target = DirTarget::new(dir.path()).unwrap();
    let plan = driftless_core::Plan {
        changes: vec![driftless_core::Change {
            id: cm(None, "a", "1").id(),
            action: driftless_core::Action::Create {
                desired: cm(None, "b", "1"),
            },
        }],
    };
    let err = target
        .apply(&plan, &ApplyOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(dir_error(&err), Error::PlanMismatch { .. }),
        "{err}"
    );
    assert!(files(dir.path()).is_empty());
}
