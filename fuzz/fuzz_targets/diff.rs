//! Fuzzes the differ: two JSON documents, desired and live, separated by a NUL byte.
//!
//! Each document that is not an object with apiVersion, kind and metadata.name becomes
//! the `spec` of one. Planned with and without exact list comparison, and with and
//! without live as the last applied state. Planning must never panic, an update's patch must apply to the
//! live object, and once applied nothing must be left to change.
#![no_main]

use driftless_core::{Action, LiveObject, LiveState, Object, ObjectSet};
use driftless_diff::{DiffOptions, HumanOptions, plan, render_human, render_json};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fn object(value: Value) -> Object {
    Object::new(value.clone()).unwrap_or_else(|_| {
        Object::new(json!({
            "apiVersion": "fuzz.example.com/v1",
            "kind": "Thing",
            "metadata": {"name": "thing"},
            "spec": value,
        }))
        .expect("a literal object with apiVersion, kind and name")
    })
}

fn live_state(live: &Object, last_applied: Option<Object>) -> LiveState {
    let mut state = LiveState::default();
    state.inventory.insert(live.id());
    state.objects.insert(
        live.id(),
        LiveObject {
            object: live.clone(),
            last_applied,
            predicted: None,
        },
    );
    state
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (left, right) = data.split_at(split);
    let right = right.get(1..).unwrap_or_default();
    let (Ok(desired), Ok(live)) = (
        serde_json::from_slice::<Value>(left),
        serde_json::from_slice::<Value>(right),
    ) else {
        return;
    };
    let desired = object(desired);
    let live = object(live);
    let Ok(set) = ObjectSet::try_from(vec![desired.clone()]) else {
        return;
    };
    for options in [
        DiffOptions::default(),
        DiffOptions::default().exact_lists(true),
    ] {
        for last_applied in [None, Some(live.clone())] {
            let state = live_state(&live, last_applied.clone());
            let planned = plan(&set, &state, &options);
            let _ = render_json(&planned);
            let _ = render_human(&planned, &HumanOptions::default());
            if let Some(Action::Update {
                live: normalized,
                patch,
                ..
            }) = planned.changes.first().map(|c| &c.action)
            {
                let mut patched = normalized.as_value().clone();
                json_patch::patch(&mut patched, patch).expect("an update's patch applies to live");
                let patched =
                    Object::new(patched).expect("a patch keeps apiVersion, kind and name");
                let again = plan(&set, &live_state(&patched, last_applied), &options);
                assert!(
                    !again.has_changes(),
                    "left to change after the patch: {again:?}"
                );
            }
        }
    }
});
