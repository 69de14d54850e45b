//! Invariants: rendering is deterministic, and what we write reads back the same.

use std::collections::BTreeMap;
use std::path::Path;

use driftless_core::yaml;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::{render, write};

/// File paths (none hidden; directories never have an extension, so no path is both)
/// with the data of the objects each file holds.
fn layouts() -> impl Strategy<Value = BTreeMap<String, Vec<Value>>> {
    prop::collection::btree_map(
        "[a-c]{1,2}(/[a-c][a-c._-]{0,2}){0,2}\\.(yaml|yml|json)",
        prop::collection::vec(data(), 0..4),
        0..8,
    )
}

fn data() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![
            "on",
            "y",
            "no",
            "1",
            "010",
            "0x1F",
            "1e3",
            "~",
            "null",
            "",
            "<<",
            "a: b",
            "- x",
            "#",
            "multi\nline\n",
            " padded ",
            "2024-01-02",
        ])
        .prop_map(Value::from),
        "\\PC{0,10}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z0-9<~.-]{0,5}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Writes the layout into `root`, in the given order of files; object names are unique
/// (file number and position).
fn write_layout(root: &Path, files: &[(&String, &Vec<Value>)]) {
    for (path, objects) in files {
        let docs: Vec<Value> = objects
            .iter()
            .enumerate()
            .map(|(i, data)| {
                let name = format!("{}-{i}", path.replace(['/', '.'], "-"));
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
            })
            .collect();
        let text = if Path::new(path.as_str())
            .extension()
            .is_some_and(|e| e == "json")
        {
            docs.iter()
                .map(|d| serde_json::to_string_pretty(d).unwrap())
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            yaml::to_string_multi(&docs).unwrap()
        };
        write(root, path, &text);
    }
}

fn rendered_bytes(root: &Path) -> String {
    let set = render(root).unwrap();
    let values: Vec<Value> = set.into_iter().map(Into::into).collect();
    yaml::to_string_multi(&values).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn rendering_is_deterministic(layout in layouts()) {
        let files: Vec<_> = layout.iter().collect();
        let reversed: Vec<_> = layout.iter().rev().collect();
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        // Written in opposite orders: directory order on disk must not matter.
        write_layout(a.path(), &files);
        write_layout(b.path(), &reversed);
        let first = rendered_bytes(a.path());
        prop_assert_eq!(&first, &rendered_bytes(a.path()));
        prop_assert_eq!(&first, &rendered_bytes(b.path()));
    }

    #[test]
    fn written_objects_render_back_the_same(layout in layouts()) {
        let dir = tempfile::tempdir().unwrap();
        write_layout(dir.path(), &layout.iter().collect::<Vec<_>>());
        let set = render(dir.path()).unwrap();
        let expected: usize = layout.values().map(Vec::len).sum();
        prop_assert_eq!(set.len(), expected);
        for (path, objects) in &layout {
            for (i, data) in objects.iter().enumerate() {
                let name = format!("{}-{i}", path.replace(['/', '.'], "-"));
                let id = format!("/ConfigMap//{name}").parse().unwrap();
                let object = set.get(&id).unwrap();
                prop_assert_eq!(&object.as_value()["data"], data);
            }
        }
    }
}
