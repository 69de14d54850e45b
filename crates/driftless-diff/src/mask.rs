//! Secret values never reach output: the values of a Secret's `data` and `stringData`
//! are replaced by masks before a plan is written.

use std::borrow::Cow;
use std::collections::BTreeMap;

use driftless_core::{Action, Object, Plan};
use serde_json::Value;

const FIELDS: [&str; 2] = ["data", "stringData"];

/// The plan with every Secret value masked, Argo CD's way: `++++++++`, longer for each
/// different value of the same object, so a changed value still shows as a change.
pub(crate) fn secrets(plan: &Plan) -> Cow<'_, Plan> {
    let is_secret = |id: &driftless_core::ObjectId| id.group().is_empty() && id.kind() == "Secret";
    if !plan.changes.iter().any(|change| is_secret(&change.id)) {
        return Cow::Borrowed(plan);
    }
    let mut plan = plan.clone();
    for change in plan.changes.iter_mut().filter(|c| is_secret(&c.id)) {
        let mut masks = Masks::default();
        match &mut change.action {
            Action::Create { desired } | Action::Unchanged { desired } => masks.object(desired),
            Action::Prune { live } => masks.object(live),
            Action::Update {
                desired,
                live,
                fields,
                patch,
            } => {
                masks.object(live);
                masks.object(desired);
                for field in fields.iter_mut() {
                    if is_secret_path(&field.path) {
                        for value in [&mut field.live, &mut field.desired].into_iter().flatten() {
                            masks.value(value, field.path.matches('/').count() > 1);
                        }
                    }
                }
                for op in &mut patch.0 {
                    if let json_patch::PatchOperation::Add(json_patch::AddOperation { path, value })
                    | json_patch::PatchOperation::Replace(json_patch::ReplaceOperation {
                        path,
                        value,
                    })
                    | json_patch::PatchOperation::Test(json_patch::TestOperation {
                        path,
                        value,
                    }) = op
                        && is_secret_path(&path.to_string())
                    {
                        let leaf = path.to_string().matches('/').count() > 1;
                        masks.value(value, leaf);
                    }
                }
            }
        }
    }
    Cow::Owned(plan)
}

fn is_secret_path(path: &str) -> bool {
    FIELDS
        .iter()
        .any(|f| path == format!("/{f}") || path.starts_with(&format!("/{f}/")))
}

/// One mask per distinct value, within one object.
#[derive(Default)]
struct Masks {
    seen: BTreeMap<String, String>,
}

impl Masks {
    fn mask(&mut self, value: &Value) -> Value {
        let key = value.to_string();
        let next = 8 + self.seen.len();
        Value::String(
            self.seen
                .entry(key)
                .or_insert_with(|| "+".repeat(next))
                .clone(),
        )
    }

    /// Masks `value`: itself when it is one entry, its entries when it is the map.
    fn value(&mut self, value: &mut Value, leaf: bool) {
        if leaf {
            *value = self.mask(value);
        } else if let Value::Object(map) = value {
            for entry in map.values_mut() {
                *entry = self.mask(entry);
            }
        }
    }

    fn object(&mut self, object: &mut Object) {
        for field in FIELDS {
            if let Some(map) = object.as_value_mut().get_mut(field) {
                self.value(map, false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
        assert!(human.contains("-  password: ++++++++"), "{human}");
        assert!(human.contains("+  password: +++++++++"), "{human}");
        let created = plan_of_create();
        assert!(!render_human(&created, &HumanOptions::default()).contains("YWRtaW4="));
    }

    fn plan_of_create() -> driftless_core::Plan {
        let desired = ObjectSet::try_from(vec![secret("eA==")]).unwrap();
        plan(&desired, &LiveState::default(), &DiffOptions::default())
    }
}
