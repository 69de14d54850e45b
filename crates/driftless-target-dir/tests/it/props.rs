//! Property: after any sequence of applies, hand edits and deletions, a final apply
//! with prune leaves exactly the last desired set plus the files we never wrote.

use std::collections::BTreeMap;
use std::path::Path;

use driftless_core::{ApplyOptions, Object, ObjectSet};
use driftless_target_dir::DirTarget;
use proptest::prelude::*;
use serde_json::json;

use crate::common::{files, inventory, listing, read_object, set, sync};

/// Files we never wrote; some sit where objects of ours would, in folders of ours.
const FOREIGN: [(&str, &str); 5] = [
    ("top.txt", "mine\n"),
    ("ns0/notes.txt", "notes\n"),
    (
        "ns0/core_ConfigMap/foreign.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: foreign, namespace: ns0}\n",
    ),
    ("_cluster/apps_Deployment/junk.yaml", "{{{ not yaml\n"),
    ("ns1/apps_Deployment/.keep", ""),
];

/// The object number `index` (0..8) of the universe, at `version`.
fn object(index: usize, version: u8) -> Object {
    let namespace = match index % 3 {
        0 => Some("ns0"),
        1 => Some("ns1"),
        _ => None,
    };
    let (api_version, kind) = if index.is_multiple_of(2) {
        ("v1", "ConfigMap")
    } else {
        ("apps/v1", "Deployment")
    };
    let mut metadata = json!({"name": format!("o{index}")});
    if let Some(ns) = namespace {
        metadata["namespace"] = json!(ns);
    }
    Object::new(json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": metadata,
        "spec": {"version": version, "tag": format!("v{version}")},
    }))
    .unwrap()
}

fn desired(members: u8, version: u8) -> ObjectSet {
    set((0..8)
        .filter(|i| members & (1 << i) != 0)
        .map(|i| object(i, version)))
}

#[derive(Debug, Clone)]
enum Step {
    Apply {
        members: u8,
        version: u8,
        prune: bool,
    },
    Corrupt(usize),
    Delete(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (any::<u8>(), 0..3u8, any::<bool>())
            .prop_map(|(members, version, prune)| Step::Apply { members, version, prune }),
        1 => (0..8usize).prop_map(Step::Corrupt),
        1 => (0..8usize).prop_map(Step::Delete),
    ]
}

fn relative(target: &DirTarget, root: &Path, object: &Object) -> String {
    target
        .object_path(&object.id())
        .unwrap()
        .strip_prefix(root)
        .unwrap()
        .display()
        .to_string()
}

async fn run(steps: Vec<Step>, last_members: u8, last_version: u8) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (path, text) in FOREIGN {
        std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
        std::fs::write(root.join(path), text).unwrap();
    }
    let target = DirTarget::new(root).unwrap();
    for step in steps {
        match step {
            Step::Apply {
                members,
                version,
                prune,
            } => {
                let options = ApplyOptions::default().prune(prune);
                sync(&target, &desired(members, version), options).await;
            }
            Step::Corrupt(index) => {
                let path = target.object_path(&object(index, 0).id()).unwrap();
                if path.is_file() {
                    std::fs::write(&path, "{{{ edited by hand").unwrap();
                }
            }
            Step::Delete(index) => {
                let path = target.object_path(&object(index, 0).id()).unwrap();
                if path.is_file() {
                    std::fs::remove_file(&path).unwrap();
                }
            }
        }
    }
    let last = desired(last_members, last_version);
    sync(&target, &last, ApplyOptions::default().prune(true)).await;

    // Exactly the last desired objects, each as desired, plus the foreign files,
    // byte for byte.
    let mut expected: Vec<String> = last.iter().map(|o| relative(&target, root, o)).collect();
    expected.extend(FOREIGN.iter().map(|(p, _)| (*p).to_owned()));
    expected.sort();
    assert_eq!(files(root), expected);
    for object in &last {
        assert_eq!(
            &read_object(&target.object_path(&object.id()).unwrap()),
            object
        );
    }
    for (path, text) in FOREIGN {
        assert_eq!(
            std::fs::read_to_string(root.join(path)).unwrap(),
            text,
            "{path}"
        );
    }
    let mut ids: Vec<_> = last.ids().cloned().collect();
    ids.sort();
    assert_eq!(inventory(&target).await, ids);
    // No temporary files, and no empty folders of ours (folders holding only
    // foreign files stay).
    let entries = listing(root);
    let folders: BTreeMap<&String, usize> = entries
        .keys()
        .filter(|p| {
            matches!(entries[*p], crate::common::Entry::Dir) && !p.starts_with(".driftless")
        })
        .map(|dir| {
            let prefix = format!("{dir}/");
            (
                dir,
                entries.keys().filter(|p| p.starts_with(&prefix)).count(),
            )
        })
        .collect();
    assert!(
        folders.values().all(|n| *n > 0),
        "empty folders: {folders:?}"
    );
    assert!(!entries.keys().any(|p| p.contains(".driftless-tmp-")));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn prune_leaves_exactly_the_last_desired_set_and_foreign_files(
        steps in proptest::collection::vec(step(), 0..6),
        last_members in any::<u8>(),
        last_version in 0..3u8,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(steps, last_members, last_version));
    }
}
