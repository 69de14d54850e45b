//! Invariants of plans, over arbitrary nested JSON objects.

use std::collections::BTreeSet;

use driftless_core::{Action, LiveObject, LiveState, Object, ObjectId, ObjectSet};
use driftless_diff::{DiffOptions, IgnoreRule, applied_state, plan, render_human, render_json};
use proptest::prelude::*;
use serde_json::{Map, Number, Value, json};

/// Keys from a small alphabet, so desired, live and applied values share keys often;
/// `/` and `~` check pointer escaping.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-d]",
        1 => "[a-c][/~][a-c]",
        1 => Just("status".to_owned()),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..3).prop_map(Value::from),
        // Integral floats equal integers; fractional ones do not.
        (-3i32..3).prop_map(|i| json!(f64::from(i))),
        (-1000.0f64..1000.0).prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[xyz]{0,2}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// The fields of an object below its identity: a map of arbitrary values.
fn body() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((key(), value()), 0..5).prop_map(|entries| entries.into_iter().collect())
}

fn object(name: &str, body: &Map<String, Value>) -> Object {
    Object::new(json!({
        "apiVersion": "example.com/v1",
        "kind": "Thing",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": body,
    }))
    .unwrap()
}

/// Whether `actual` agrees with `desired` on every field desired sets: maps key by key
/// (extra keys allowed), lists of the same length item by item, numbers by value, and a
/// desired `null` matches a missing field.
fn agrees(desired: &Value, actual: Option<&Value>) -> bool {
    match (desired, actual) {
        (Value::Null, None | Some(Value::Null)) => true,
        (_, None) => false,
        (Value::Object(d), Some(Value::Object(a))) => d.iter().all(|(k, v)| agrees(v, a.get(k))),
        (Value::Array(d), Some(Value::Array(a))) => {
            d.len() == a.len() && d.iter().zip(a).all(|(v, w)| agrees(v, Some(w)))
        }
        (Value::Number(d), Some(Value::Number(a))) => d.as_f64() == a.as_f64() || d == a,
        (d, Some(a)) => d == a,
    }
}

/// Whether every field applied before and no longer desired is gone from `actual`.
fn dropped(desired: &Value, applied: Option<&Value>, actual: Option<&Value>) -> bool {
    match (desired, applied, actual) {
        (Value::Object(d), Some(Value::Object(p)), Some(Value::Object(a))) => {
            p.keys()
                .filter(|k| !d.contains_key(*k))
                .all(|k| !a.contains_key(k))
                && d.iter().all(|(k, v)| dropped(v, p.get(k), a.get(k)))
        }
        (Value::Array(d), Some(Value::Array(p)), Some(Value::Array(a))) => d
            .iter()
            .enumerate()
            .all(|(i, v)| dropped(v, p.get(i), a.get(i))),
        _ => true,
    }
}

/// An object whose metadata and status hold arbitrary picks of what a server sets,
/// empty label and annotation maps, and the last-applied annotation.
fn served_object() -> impl Strategy<Value = Object> {
    let metadata_key = prop_oneof![
        Just("uid"),
        Just("resourceVersion"),
        Just("generation"),
        Just("managedFields"),
        Just("creationTimestamp"),
        Just("labels"),
        Just("annotations"),
        Just("finalizers"),
    ];
    let annotations = prop::collection::btree_map(
        prop_oneof![
            Just("kubectl.kubernetes.io/last-applied-configuration".to_owned()),
            "[a-b]".prop_map(|k| format!("example.com/{k}")),
        ],
        "[xy]{0,1}",
        0..3,
    )
    .prop_map(|m| json!(m));
    let labels = prop::collection::btree_map("[a-b]", "[xy]{0,1}", 0..2).prop_map(|m| json!(m));
    (
        prop::collection::vec(
            (metadata_key, prop_oneof![value(), annotations, labels]),
            0..5,
        ),
        body(),
        prop::option::of(value()),
    )
        .prop_map(|(metadata, body, status)| {
            let mut object = object("o", &body).into_value();
            for (key, value) in metadata {
                object["metadata"][key] = value;
            }
            if let Some(status) = status {
                object["status"] = status;
            }
            Object::new(object).unwrap()
        })
}

fn live_state(objects: &[(Object, Option<Object>)], inventory: &[ObjectId]) -> LiveState {
    let mut live = LiveState::default();
    for (object, last_applied) in objects {
        live.objects.insert(
            object.id(),
            LiveObject {
                object: object.clone(),
                last_applied: last_applied.clone(),
                predicted: None,
            },
        );
    }
    live.inventory.extend(inventory.iter().cloned());
    live
}

/// Adds what a server would: status and server-set metadata.
fn as_served(object: &Object) -> Object {
    let mut value = object.as_value().clone();
    value["status"] = json!({"observedGeneration": 3});
    value["metadata"]["uid"] = json!("u-1");
    value["metadata"]["resourceVersion"] = json!("17");
    value["metadata"]["managedFields"] = json!([{"manager": "driftless"}]);
    value["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/last-applied-configuration": "{}"});
    Object::new(value).unwrap()
}

/// Every integer becomes the equal float.
fn floats(value: &Value) -> Value {
    match value {
        Value::Number(n) if n.is_i64() => json!(n.as_f64().unwrap()),
        Value::Array(items) => Value::Array(items.iter().map(floats).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), floats(v))).collect())
        }
        other => other.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A set planned against itself, as a server holds it, is all unchanged.
    #[test]
    fn plan_of_a_set_against_itself_is_unchanged(bodies in prop::collection::vec(body(), 0..6)) {
        let objects: Vec<Object> =
            bodies.iter().enumerate().map(|(i, b)| object(&format!("o{i}"), b)).collect();
        let desired = ObjectSet::try_from(objects.clone()).unwrap();
        let served: Vec<(Object, Option<Object>)> =
            objects.iter().map(|o| (as_served(o), Some(o.clone()))).collect();
        let ids: Vec<ObjectId> = desired.ids().cloned().collect();
        for live in [applied_state(&desired), live_state(&served, &ids)] {
            let plan = plan(&desired, &live, &DiffOptions::default());
            prop_assert_eq!(plan.changes.len(), objects.len());
            prop_assert!(
                plan.changes.iter().all(|c| matches!(c.action, Action::Unchanged { .. })),
                "{:?}", plan
            );
            prop_assert!(!plan.has_changes());
        }
    }

    /// Integers and the equal floats are the same value.
    #[test]
    fn numbers_compare_by_value(body in body()) {
        let desired = ObjectSet::try_from(vec![object("o", &body)]).unwrap();
        let float_body = floats(&Value::Object(body.clone()));
        let live_object = object("o", float_body.as_object().unwrap());
        let live = live_state(&[(live_object, None)], &[]);
        let plan = plan(&desired, &live, &DiffOptions::default());
        prop_assert!(!plan.has_changes(), "{:?}", plan);
    }

    /// Applying an update's patch to the normalized live object gives one that agrees with
    /// desired on every desired field and has dropped the fields we no longer apply;
    /// unchanged objects already agree.
    #[test]
    fn patch_reproduces_desired(
        desired_body in body(),
        live_body in body(),
        applied_body in prop::option::of(body()),
        exact_lists in any::<bool>(),
    ) {
        let desired_object = object("o", &desired_body);
        let applied = applied_body.as_ref().map(|b| object("o", b));
        let live = live_state(&[(as_served(&object("o", &live_body)), applied.clone())], &[]);
        let desired = ObjectSet::try_from(vec![desired_object.clone()]).unwrap();
        let plan = plan(&desired, &live, &DiffOptions::default().exact_lists(exact_lists));
        let normalized_desired = driftless_diff::normalize(&desired_object).into_value();
        let normalized_applied = applied.map(|a| driftless_diff::normalize(&a).into_value());
        let after = match &plan.changes[0].action {
            Action::Update { live, patch, fields, .. } => {
                prop_assert_eq!(fields.len(), patch.0.len());
                prop_assert!(fields.windows(2).all(|w| w[0].path < w[1].path));
                let mut value = live.as_value().clone();
                json_patch::patch(&mut value, patch).unwrap();
                value
            }
            Action::Unchanged { .. } => driftless_diff::normalize(&as_served(&object("o", &live_body))).into_value(),
            other => return Err(TestCaseError::fail(format!("unexpected {other:?}"))),
        };
        prop_assert!(agrees(&normalized_desired, Some(&after)), "{after:#}");
        prop_assert!(dropped(&normalized_desired, normalized_applied.as_ref(), Some(&after)), "{after:#}");
        // And once patched, nothing is left to do.
        let replanned = plan_one(&desired_object, Object::new(after).unwrap(), normalized_applied);
        prop_assert!(!replanned.has_changes(), "{replanned:?}");
    }

    /// Planning raw objects gives what planning their normalized forms gives.
    #[test]
    fn plans_compare_normalized_objects(
        desired in served_object(),
        live in served_object(),
        applied in prop::option::of(served_object()),
    ) {
        let normalized = |o: &Object| driftless_diff::normalize(o);
        let raw = plan_one(&desired, live.clone(), applied.clone().map(Object::into_value));
        let pre = plan_one(
            &normalized(&desired),
            normalized(&live),
            applied.as_ref().map(|a| normalized(a).into_value()),
        );
        match (&raw.changes[0].action, &pre.changes[0].action) {
            (Action::Unchanged { .. }, Action::Unchanged { .. }) => {}
            (
                Action::Update { fields: f1, patch: p1, live: l1, .. },
                Action::Update { fields: f2, patch: p2, live: l2, .. },
            ) => {
                prop_assert_eq!(f1, f2);
                prop_assert_eq!(p1, p2);
                prop_assert_eq!(l1, l2);
            }
            (a, b) => return Err(TestCaseError::fail(format!("{a:?} != {b:?}"))),
        }
    }

    /// Ignored fields are never part of a change or a patch.
    #[test]
    fn ignored_fields_never_change(desired_body in body(), live_body in body(), ignored in key()) {
        let rule = IgnoreRule::new(format!("/spec/{}", ignored.replace('~', "~0").replace('/', "~1"))).unwrap();
        let prefix = rule.pointer.clone();
        let desired = ObjectSet::try_from(vec![object("o", &desired_body)]).unwrap();
        let live_object = object("o", &live_body);
        let live = live_state(&[(live_object.clone(), Some(live_object.clone()))], &[]);
        let plan = plan(&desired, &live, &DiffOptions::default().ignore(rule));
        if let Action::Update { fields, live, patch, .. } = &plan.changes[0].action {
            for field in fields {
                prop_assert!(field.path != prefix && !field.path.starts_with(&format!("{prefix}/")), "{}", field.path);
            }
            let mut value = live.as_value().clone();
            json_patch::patch(&mut value, patch).unwrap();
            prop_assert_eq!(value.pointer(&prefix), live.as_value().pointer(&prefix));
        }
    }

    /// The same inputs give the same plan and the same output, whatever the map order of
    /// the live state.
    #[test]
    fn plans_are_deterministic(
        bodies in prop::collection::vec((body(), body()), 0..6),
        inventory_picks in prop::collection::vec(0usize..12, 0..12),
    ) {
        let desired = ObjectSet::try_from(
            bodies.iter().enumerate().filter(|(i, _)| i % 3 != 0).map(|(i, (d, _))| object(&format!("o{i}"), d)).collect::<Vec<_>>(),
        ).unwrap();
        let live_objects: Vec<(Object, Option<Object>)> = bodies
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == 0)
            .map(|(i, (_, l))| (object(&format!("o{i}"), l), None))
            .collect();
        let inventory: Vec<ObjectId> = inventory_picks.iter().map(|i| object(&format!("o{i}"), &Map::new()).id()).collect();
        let forward = live_state(&live_objects, &inventory);
        let mut reversed_objects = live_objects.clone();
        reversed_objects.reverse();
        let backward = live_state(&reversed_objects, &inventory);
        let options = DiffOptions::default();
        let first = plan(&desired, &forward, &options);
        prop_assert_eq!(&first, &plan(&desired, &forward, &options));
        prop_assert_eq!(&first, &plan(&desired, &backward, &options));
        prop_assert_eq!(render_json(&first), render_json(&plan(&desired, &backward, &options)));
        let human = driftless_diff::HumanOptions::default();
        prop_assert_eq!(render_human(&first, &human), render_human(&plan(&desired, &backward, &options), &human));
    }

    /// Prune lists exactly the inventory members that are live and no longer desired,
    /// sorted, and nothing outside the inventory.
    #[test]
    fn prune_stays_inside_the_inventory(
        desired_names in prop::collection::btree_set(0usize..10, 0..10),
        live_names in prop::collection::btree_set(0usize..10, 0..10),
        inventory_names in prop::collection::btree_set(0usize..10, 0..10),
    ) {
        let thing = |i: &usize| object(&format!("o{i}"), &Map::new());
        let desired = ObjectSet::try_from(desired_names.iter().map(thing).collect::<Vec<_>>()).unwrap();
        let live_objects: Vec<(Object, Option<Object>)> = live_names.iter().map(|i| (thing(i), None)).collect();
        let inventory: Vec<ObjectId> = inventory_names.iter().map(|i| thing(i).id()).collect();
        let live = live_state(&live_objects, &inventory);
        let plan = plan(&desired, &live, &DiffOptions::default());
        let pruned: Vec<ObjectId> = plan
            .changes
            .iter()
            .filter(|c| matches!(c.action, Action::Prune { .. }))
            .map(|c| c.id.clone())
            .collect();
        let expected: Vec<ObjectId> = inventory
            .iter()
            .filter(|id| !desired.contains(id) && live.objects.contains_key(*id))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        prop_assert_eq!(&pruned, &expected);
        prop_assert!(pruned.iter().all(|id| live.inventory.contains(id)));
        // Desired entries come first, in desired order.
        let desired_ids: Vec<&ObjectId> = plan.changes.iter().take(desired.len()).map(|c| &c.id).collect();
        prop_assert_eq!(desired_ids, desired.ids().collect::<Vec<_>>());
    }
}

fn plan_one(desired: &Object, live: Object, applied: Option<Value>) -> driftless_core::Plan {
    let live = live_state(&[(live, applied.map(|a| Object::new(a).unwrap()))], &[]);
    plan(
        &ObjectSet::try_from(vec![desired.clone()]).unwrap(),
        &live,
        &DiffOptions::default(),
    )
}
