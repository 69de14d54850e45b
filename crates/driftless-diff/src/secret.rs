//! Secret values never leave the differ: the values of a Secret's `data` and
//! `stringData` are replaced with `***` in every field change, patch and output, as Flux
//! does (`*** (before)` and `*** (after)` where a value changes).

use driftless_core::{Object, ObjectId};
use serde_json::{Map, Value};

/// What a masked value reads.
pub(crate) const MASK: &str = "***";
/// A masked value that is being replaced.
pub(crate) const MASK_BEFORE: &str = "*** (before)";
/// A masked value that replaces another.
pub(crate) const MASK_AFTER: &str = "*** (after)";

/// The fields of a Secret that hold its values.
const VALUE_FIELDS: [&str; 2] = ["data", "stringData"];

/// Whether `id` names a core `Secret`.
pub(crate) fn is_secret(id: &ObjectId) -> bool {
    id.group().is_empty() && id.kind() == "Secret"
}

/// `object` with its values masked when it is a Secret.
pub(crate) fn mask_object(object: &Object) -> Object {
    if !is_secret(&object.id()) {
        return object.clone();
    }
    let mut masked = object.clone();
    if let Some(root) = masked.as_value_mut().as_object_mut() {
        for field in VALUE_FIELDS {
            if let Some(Value::Object(values)) = root.get_mut(field) {
                mask_entries(values, MASK);
            }
        }
    }
    masked
}

/// The value at `path` of a Secret, masked with `mask` when it is or holds Secret values:
/// `/data/key` is masked, `/data` masks each entry.
pub(crate) fn mask_at(path: &str, value: Value, mask: &str) -> Value {
    let mut tokens = path.split('/').skip(1);
    let Some(first) = tokens.next() else {
        // The whole object.
        return match value {
            Value::Object(mut root) => {
                for field in VALUE_FIELDS {
                    if let Some(Value::Object(values)) = root.get_mut(field) {
                        mask_entries(values, mask);
                    }
                }
                Value::Object(root)
            }
            other => other,
        };
    };
    if !VALUE_FIELDS.contains(&first) {
        return value;
    }
    match (tokens.next(), value) {
        (None, Value::Object(mut values)) => {
            mask_entries(&mut values, mask);
            Value::Object(values)
        }
        _ => Value::String(mask.to_owned()),
    }
}

fn mask_entries(values: &mut Map<String, Value>, mask: &str) {
    for value in values.values_mut() {
        *value = Value::String(mask.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_values_only() {
        let secret = Object::new(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "labels": {"a": "b"}},
            "data": {"password": "c2VjcmV0"}, "stringData": {"token": "t"}, "type": "Opaque",
        }))
        .unwrap();
        let masked = mask_object(&secret).into_value();
        assert_eq!(masked["data"], json!({"password": "***"}));
        assert_eq!(masked["stringData"], json!({"token": "***"}));
        assert_eq!(masked["metadata"]["labels"], json!({"a": "b"}));
        assert_eq!(masked["type"], "Opaque");
        assert_eq!(
            mask_at("/data/password", json!("x"), MASK_AFTER),
            json!(MASK_AFTER)
        );
        assert_eq!(
            mask_at("/data", json!({"a": "x"}), MASK),
            json!({"a": "***"})
        );
        assert_eq!(mask_at("/type", json!("Opaque"), MASK), json!("Opaque"));
    }
}

#[cfg(test)]
mod output_tests {
    use driftless_core::{LiveObject, LiveState, ObjectSet};
    use serde_json::json;

    use crate::{DiffOptions, HumanOptions, plan, render_human, render_json};

    fn secret(password: &str) -> driftless_core::Object {
        driftless_core::Object::new(json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "shop"},
            "data": {"password": password, "user": "YWRtaW4="},
            "stringData": {"token": format!("tok-{password}")},
        }))
        .unwrap()
    }

    #[test]
    fn secret_values_never_reach_output() {
        let old = secret("b2xkLXNlY3JldA==");
        let new = secret("bmV3LXNlY3JldA==");
        let desired = ObjectSet::try_from(vec![new]).unwrap();
        let live = LiveState {
            inventory: vec![old.id()].into_iter().collect(),
            objects: [(
                old.id(),
                LiveObject {
                    object: old.clone(),
                    last_applied: Some(old),
                    predicted: None,
                },
            )]
            .into_iter()
            .collect(),
        };
        let plan = plan(&desired, &live, &DiffOptions::default());
        let human = render_human(&plan, &HumanOptions::default());
        let json = render_json(&plan).to_string();
        for text in [&human, &json] {
            for secret in ["b2xkLXNlY3JldA==", "bmV3LXNlY3JldA==", "YWRtaW4=", "tok-"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
        }
        assert!(human.contains("~ update /Secret/shop/db"), "{human}");
        assert!(human.contains("-  password: \"***\""), "{human}");
        assert!(human.contains("+  password: \"*** (after)\""), "{human}");
        let created = plan_of_create();
        assert!(!render_human(&created, &HumanOptions::default()).contains("YWRtaW4="));
    }

    fn plan_of_create() -> driftless_core::Plan {
        let desired = ObjectSet::try_from(vec![secret("eA==")]).unwrap();
        plan(&desired, &LiveState::default(), &DiffOptions::default())
    }
}
