//! Helpers shared by the tests: objects, a small planner, directory listings.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use driftless_core::{
    Action, ApplyOptions, ApplyReport, Change, LiveState, Object, ObjectId, ObjectSet, Plan, Target,
};
use driftless_target_dir::{DirTarget, Error};
use serde_json::{Value, json};

/// An object from JSON.
pub fn obj(value: Value) -> Object {
    Object::new(value).unwrap()
}

/// A ConfigMap with one data entry.
pub fn cm(namespace: Option<&str>, name: &str, value: &str) -> Object {
    let mut metadata = json!({"name": name});
    if let Some(ns) = namespace {
        metadata["namespace"] = json!(ns);
    }
    obj(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {"value": value},
    }))
}

/// An object set.
pub fn set(objects: impl IntoIterator<Item = Object>) -> ObjectSet {
    ObjectSet::try_from(objects.into_iter().collect::<Vec<_>>()).unwrap()
}

/// A small, strict planner: desired objects are created when missing, updated when
/// their live form differs in any way, unchanged otherwise; live objects that are not
/// desired (inventory members) are pruned. Enough to drive the target in tests.
pub fn plan(desired: &ObjectSet, live: &LiveState) -> Plan {
    let mut changes = Vec::new();
    for object in desired {
        let id = object.id();
        let action = match live.objects.get(&id) {
            None => Action::Create {
                desired: object.clone(),
            },
            Some(l) if l.object == *object => Action::Unchanged {
                desired: object.clone(),
            },
            Some(l) => Action::Update {
                desired: object.clone(),
                live: l.object.clone(),
                fields: Vec::new(),
                patch: json_patch::Patch::default(),
            },
        };
        changes.push(Change { id, action });
    }
    for (id, l) in &live.objects {
        if !desired.contains(id) {
            changes.push(Change {
                id: id.clone(),
                action: Action::Prune {
                    live: l.object.clone(),
                },
            });
        }
    }
    Plan { changes }
}

/// One reconcile: read live state, plan, apply.
pub async fn sync(target: &DirTarget, desired: &ObjectSet, options: ApplyOptions) -> ApplyReport {
    let live = target.live(desired).await.unwrap();
    target.apply(&plan(desired, &live), &options).await.unwrap()
}

/// Options that prune.
pub fn prune() -> ApplyOptions {
    ApplyOptions::default().prune(true)
}

/// The directory target's own error inside a trait error.
pub fn dir_error(error: &driftless_core::TargetError) -> &Error {
    error
        .downcast_ref::<Error>()
        .unwrap_or_else(|| panic!("not a directory target error: {error}"))
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir,
    File {
        bytes: Vec<u8>,
        inode: u64,
        mtime_ns: i128,
    },
    Symlink(std::path::PathBuf),
}

/// Everything below `root` (relative paths, sorted): folders, files with their bytes,
/// inode and modification time, symbolic links with their targets.
pub fn listing(root: &Path) -> BTreeMap<String, Entry> {
    walkdir::WalkDir::new(root)
        .min_depth(1)
        .sort_by_file_name()
        .into_iter()
        .map(|entry| {
            let entry = entry.unwrap();
            let rel = entry
                .path()
                .strip_prefix(root)
                .unwrap()
                .display()
                .to_string();
            let meta = entry.path().symlink_metadata().unwrap();
            let kind = if meta.file_type().is_symlink() {
                Entry::Symlink(std::fs::read_link(entry.path()).unwrap())
            } else if meta.is_dir() {
                Entry::Dir
            } else {
                Entry::File {
                    bytes: std::fs::read(entry.path()).unwrap(),
                    inode: meta.ino(),
                    mtime_ns: i128::from(meta.mtime()) * 1_000_000_000
                        + i128::from(meta.mtime_nsec()),
                }
            };
            (rel, kind)
        })
        .collect()
}

/// The files below `root` (relative paths, sorted), outside `.driftless/`.
pub fn files(root: &Path) -> Vec<String> {
    listing(root)
        .into_iter()
        .filter(|(path, entry)| {
            matches!(entry, Entry::File { .. }) && !path.starts_with(".driftless")
        })
        .map(|(path, _)| path)
        .collect()
}

/// The ids in the inventory, as `live` reports them.
pub async fn inventory(target: &DirTarget) -> Vec<ObjectId> {
    target
        .live(&ObjectSet::new())
        .await
        .unwrap()
        .inventory
        .into_iter()
        .collect()
}

/// Reads an object file back.
pub fn read_object(path: &Path) -> Object {
    let text = std::fs::read_to_string(path).unwrap();
    let mut docs = driftless_core::yaml::from_str_multi(&text).unwrap();
    assert_eq!(docs.len(), 1, "{}: one document", path.display());
    obj(docs.remove(0))
}
