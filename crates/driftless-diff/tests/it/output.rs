//! Human and JSON output of plans.

use driftless_core::{LiveObject, LiveState, Object, ObjectSet};
use driftless_diff::{DiffOptions, HumanOptions, plan, render_human, render_json};
use serde_json::json;

fn cm(name: &str, data: serde_json::Value) -> Object {
    Object::new(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "n"},
        "data": data,
    }))
    .unwrap()
}

fn one_of_each() -> driftless_core::Plan {
    let desired = ObjectSet::try_from(vec![
        cm("new", json!({"a": "1"})),
        cm("changed", json!({"a": "2"})),
        cm("same", json!({"a": "1"})),
    ])
    .unwrap();
    let mut live = LiveState::default();
    for object in [
        cm("changed", json!({"a": "1"})),
        cm("same", json!({"a": "1"})),
        cm("old", json!({})),
    ] {
        live.inventory.insert(object.id());
        live.objects.insert(
            object.id(),
            LiveObject {
                object,
                last_applied: None,
                predicted: None,
            },
        );
    }
    plan(&desired, &live, &DiffOptions::default())
}

#[test]
fn colour_only_when_asked() {
    let plan = one_of_each();
    let without = render_human(&plan, &HumanOptions::default());
    assert!(!without.contains('\x1b'), "{without}");
    let coloured = render_human(&plan, &HumanOptions::default().color(true));
    assert!(
        coloured.contains("\x1b[1;32m+ create /ConfigMap/n/new\x1b[0m\n"),
        "{coloured}"
    );
    assert!(coloured.contains("\x1b[1;33m~ update /ConfigMap/n/changed\x1b[0m\n"));
    assert!(coloured.contains("\x1b[1;31m- prune /ConfigMap/n/old\x1b[0m\n"));
    assert!(
        coloured.contains("\x1b[31m-  a: \"1\"\x1b[0m\n"),
        "{coloured}"
    );
    assert!(coloured.contains("\x1b[32m+  a: \"2\"\x1b[0m\n"));
    // Without the escape codes, both say the same.
    let stripped = regex_free_strip(&coloured);
    assert_eq!(stripped, without);
}

/// Removes ANSI colour sequences (`ESC [ … m`).
fn regex_free_strip(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn unchanged_objects_are_only_counted() {
    let text = render_human(&one_of_each(), &HumanOptions::default());
    assert!(!text.contains("same"), "{text}");
    assert!(text.ends_with("1 to create, 1 to update, 1 to prune, 1 unchanged\n"));
}

#[test]
fn context_sets_the_lines_around_changes() {
    let data = json!({"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"});
    let mut changed = data.clone();
    changed["e"] = json!("6");
    let desired = ObjectSet::try_from(vec![cm("x", changed)]).unwrap();
    let mut live = LiveState::default();
    let object = cm("x", data);
    live.objects.insert(
        object.id(),
        LiveObject {
            object,
            last_applied: None,
            predicted: None,
        },
    );
    let plan = plan(&desired, &live, &DiffOptions::default());
    let none = render_human(&plan, &HumanOptions::default().context(0));
    assert_eq!(
        none,
        "~ update /ConfigMap/n/x\n@@ -11 +11 @@\n-  e: \"5\"\n+  e: \"6\"\n\n0 to create, 1 to update, 0 to prune, 0 unchanged\n"
    );
    let one = render_human(&plan, &HumanOptions::default().context(1));
    assert!(
        one.contains("@@ -10,2 +10,2 @@\n   d: \"4\"\n-  e: \"5\"\n"),
        "{one}"
    );
}

#[test]
fn json_lists_every_entry_with_a_stable_shape() {
    let value = render_json(&one_of_each());
    assert_eq!(
        value["summary"],
        json!({"create": 1, "update": 1, "prune": 1, "unchanged": 1, "changed": true})
    );
    let changes = value["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 4);
    for change in changes {
        let keys: Vec<&str> = change
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["id", "action", "fields", "patch"]);
    }
    assert_eq!(
        changes[1],
        json!({
            "id": "/ConfigMap/n/changed",
            "action": "update",
            "fields": [{"path": "/data/a", "live": "1", "desired": "2"}],
            "patch": [{"op": "replace", "path": "/data/a", "value": "2"}],
        })
    );
}

#[test]
fn json_tells_removal_from_null() {
    let desired = ObjectSet::try_from(vec![cm("x", json!({"keep": null}))]).unwrap();
    let mut live = LiveState::default();
    let object = cm("x", json!({"keep": "v", "drop": "w"}));
    live.objects.insert(
        object.id(),
        LiveObject {
            object,
            last_applied: Some(cm("x", json!({"drop": "w"}))),
            predicted: None,
        },
    );
    let value = render_json(&plan(&desired, &live, &DiffOptions::default()));
    assert_eq!(
        value["changes"][0]["fields"],
        json!([
            {"path": "/data/drop", "live": "w"},
            {"path": "/data/keep", "live": "v", "desired": null},
        ])
    );
    assert_eq!(
        value["changes"][0]["patch"],
        json!([
            {"op": "remove", "path": "/data/drop"},
            {"op": "replace", "path": "/data/keep", "value": null},
        ])
    );
}
