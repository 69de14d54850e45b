//! [`plan`]: desired objects against live ones.

use driftless_core::{
    Action, Change, FieldChange, LiveObject, LiveState, Object, ObjectId, ObjectSet, Plan,
};
use json_patch::jsonptr::{Pointer, PointerBuf};
use json_patch::{AddOperation, Patch, PatchOperation, RemoveOperation, ReplaceOperation};
use serde_json::{Map, Number, Value};

use crate::normalize::{normalize, normalize_metadata};
use crate::secret::{MASK_AFTER, MASK_BEFORE, is_secret, mask_at, mask_object};
use crate::{DiffOptions, IgnoreRule};

/// Compares `desired` with `live` into a [`Plan`].
///
/// One entry per desired object, in desired order: [`Action::Create`] when it is not
/// live, [`Action::Update`] when a field it sets differs live, [`Action::Unchanged`]
/// otherwise. Then one [`Action::Prune`] for every inventory member that is no longer
/// desired and still live, sorted by id. Both sides are [`normalize`]d first.
///
/// Desired is intent:
/// - a field desired sets and live holds differently (or not at all) is drift;
/// - a field only live holds is not drift (server defaults, other controllers), unless
///   [`LiveObject::last_applied`] holds it too: we set it before and no longer do, so
///   it is a change whose desired value is `None` (to remove);
/// - maps are compared key by key; lists of the same length item by item (by
///   position, without merge keys), lists of different lengths as whole values (or
///   every list as a whole value, with [`DiffOptions::exact_lists`]);
/// - numbers compare by value (`1` equals `1.0`); a desired `null` matches a field
///   that is not set;
/// - fields matched by an [`IgnoreRule`](crate::IgnoreRule) never count and are never
///   part of a patch.
///
/// `Update.fields` are sorted by path; `Update.patch` holds one operation per field
/// and, applied to the normalized live object, gives an object that agrees with
/// desired on every field desired sets. Time is linear in the size of the objects.
pub fn plan(desired: &ObjectSet, live: &LiveState, options: &DiffOptions) -> Plan {
    let rules: Vec<(&IgnoreRule, PointerBuf)> = options
        .ignore
        .iter()
        .filter_map(|rule| rule.parsed().map(|pointer| (rule, pointer)))
        .collect();
    let mut changes = Vec::with_capacity(desired.len());
    for (id, object) in desired.ids().zip(desired.iter()) {
        let action = match live.objects.get(id) {
            None => Action::Create {
                desired: object.clone(),
            },
            Some(live_object) => compare(id, object, live_object, &rules, options),
        };
        changes.push(Change {
            id: id.clone(),
            action,
        });
    }
    for id in &live.inventory {
        if desired.contains(id) {
            continue;
        }
        if let Some(live_object) = live.objects.get(id) {
            changes.push(Change {
                id: id.clone(),
                action: Action::Prune {
                    live: live_object.object.clone(),
                },
            });
        }
    }
    let plan = Plan { changes };
    tracing::debug!(summary = ?plan.summary(), "planned");
    plan
}

fn compare(
    id: &ObjectId,
    desired: &Object,
    live: &LiveObject,
    rules: &[(&IgnoreRule, PointerBuf)],
    options: &DiffOptions,
) -> Action {
    let rules: Vec<&PointerBuf> = rules
        .iter()
        .filter(|(rule, _)| rule.applies_to(id))
        .map(|(_, pointer)| pointer)
        .collect();
    let mut walker = Walker {
        rules: &rules,
        exact_lists: options.exact_lists,
        symmetric: live.predicted.is_some(),
        path: PointerBuf::new(),
        changes: Vec::new(),
    };
    match &live.predicted {
        // The target says what applying would make of the object: every difference
        // between that and live is a change, nothing else is.
        Some(predicted) => walker.walk_root(predicted.as_value(), live.object.as_value(), None),
        None => walker.walk_root(
            desired.as_value(),
            live.object.as_value(),
            live.last_applied.as_ref().map(Object::as_value),
        ),
    }
    if walker.changes.is_empty() {
        return Action::Unchanged {
            desired: desired.clone(),
        };
    }
    let secret = is_secret(id);
    let mut found = walker.changes;
    found.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    let mut fields = Vec::with_capacity(found.len());
    let mut operations = Vec::with_capacity(found.len());
    for (path, mut live_value, mut desired_value) in found {
        if secret {
            live_value = live_value.map(|v| mask_at(path.as_str(), v, MASK_BEFORE));
            desired_value = desired_value.map(|v| mask_at(path.as_str(), v, MASK_AFTER));
        }
        operations.push(match (&live_value, &desired_value) {
            (None, Some(value)) => PatchOperation::Add(AddOperation {
                path: path.clone(),
                value: value.clone(),
            }),
            (Some(_), Some(value)) => PatchOperation::Replace(ReplaceOperation {
                path: path.clone(),
                value: value.clone(),
            }),
            // A field is only recorded when one side holds it.
            (_, None) => PatchOperation::Remove(RemoveOperation { path: path.clone() }),
        });
        fields.push(FieldChange {
            path: path.as_str().to_owned(),
            live: live_value,
            desired: desired_value,
        });
    }
    Action::Update {
        desired: with_ignored_as_live(desired, &live.object, &rules),
        live: mask_object(&normalize(&live.object)),
        fields,
        patch: Patch(operations),
    }
}

/// `desired` with every ignored field it sets replaced by the live value (or taken out
/// when live has none), so that applying it leaves ignored fields as they are.
fn with_ignored_as_live(desired: &Object, live: &Object, rules: &[&PointerBuf]) -> Object {
    let mut out = desired.clone();
    for rule in rules {
        if rule.is_root() || desired.as_value().pointer(rule.as_str()).is_none() {
            continue;
        }
        match live.as_value().pointer(rule.as_str()) {
            Some(value) => put(out.as_value_mut(), rule, value.clone()),
            None => take(out.as_value_mut(), rule),
        }
    }
    out
}

/// One difference: path, live value, desired value.
type Found = (PointerBuf, Option<Value>, Option<Value>);

/// Walks desired, live and last-applied values side by side, collecting differences.
struct Walker<'a> {
    /// The ignore rules that apply to this object.
    rules: &'a [&'a PointerBuf],
    /// Whether lists compare as whole values only.
    exact_lists: bool,
    /// Whether every field only live holds is a difference (comparing a predicted object
    /// with live), not only those applied before.
    symmetric: bool,
    /// Where the walk is.
    path: PointerBuf,
    changes: Vec<Found>,
}

impl Walker<'_> {
    fn ignored(&self) -> bool {
        self.rules.iter().any(|rule| **rule == self.path)
    }

    fn walk(&mut self, desired: &Value, live: Option<&Value>, applied: Option<&Value>) {
        if self.ignored() {
            return;
        }
        let Some(live) = live else {
            if !desired.is_null() {
                let value = self.masked(desired, None);
                if !emptied(desired, &value) {
                    self.found(None, Some(value));
                }
            }
            return;
        };
        match (desired, live) {
            (Value::Object(desired), Value::Object(live)) => {
                let applied = applied.and_then(Value::as_object);
                self.walk_maps(desired, live, applied);
            }
            (Value::Array(desired), Value::Array(live))
                if desired.len() == live.len() && !self.exact_lists =>
            {
                let applied = applied.and_then(Value::as_array);
                for (index, (desired, live)) in desired.iter().zip(live).enumerate() {
                    self.path.push_back(index);
                    self.walk(desired, Some(live), applied.and_then(|a| a.get(index)));
                    self.path.pop_back();
                }
            }
            (desired, live) if same_scalar(desired, live) => {}
            (desired, live) => {
                let value = self.masked(desired, Some(live));
                if !emptied(desired, &value) && !same_value(&value, live) {
                    self.found(Some(live.clone()), Some(value));
                }
            }
        }
    }

    /// Walks two whole objects as if both were [`normalize`]d, without copying them: the
    /// top-level `status` is skipped and `metadata` is compared normalized.
    fn walk_root(&mut self, desired: &Value, live: &Value, applied: Option<&Value>) {
        let (Value::Object(desired), Value::Object(live)) = (desired, live) else {
            self.walk(desired, Some(live), applied);
            return;
        };
        if self.ignored() {
            return;
        }
        let applied = applied.and_then(Value::as_object);
        let metadata = |map: &Map<String, Value>| match map.get("metadata") {
            Some(Value::Object(metadata)) => Some(Value::Object(normalize_metadata(metadata))),
            other => other.cloned(),
        };
        let desired_metadata = metadata(desired);
        let live_metadata = metadata(live);
        let applied_metadata = applied.and_then(metadata);
        for (key, desired_value) in desired {
            self.path.push_back(key);
            match key.as_str() {
                "status" => {}
                "metadata" => self.walk(
                    desired_metadata.as_ref().unwrap_or(desired_value),
                    live_metadata.as_ref(),
                    applied_metadata.as_ref(),
                ),
                _ => self.walk(
                    desired_value,
                    live.get(key),
                    applied.and_then(|a| a.get(key)),
                ),
            }
            self.path.pop_back();
        }
        self.removals(desired, live, applied, Some("status"));
    }

    fn walk_maps(
        &mut self,
        desired: &Map<String, Value>,
        live: &Map<String, Value>,
        applied: Option<&Map<String, Value>>,
    ) {
        for (key, desired_value) in desired {
            self.path.push_back(key);
            self.walk(
                desired_value,
                live.get(key),
                applied.and_then(|a| a.get(key)),
            );
            self.path.pop_back();
        }
        self.removals(desired, live, applied, None);
    }

    /// Fields we applied before and no longer desire, that live still holds: ours to
    /// remove (all but `skip`).
    fn removals(
        &mut self,
        desired: &Map<String, Value>,
        live: &Map<String, Value>,
        applied: Option<&Map<String, Value>>,
        skip: Option<&str>,
    ) {
        let keys = if self.symmetric { Some(live) } else { applied };
        for key in keys.into_iter().flat_map(Map::keys) {
            if desired.contains_key(key) || skip == Some(key.as_str()) {
                continue;
            }
            if let Some(live_value) = live.get(key) {
                self.path.push_back(key);
                if !self.ignored() {
                    self.found(Some(live_value.clone()), None);
                }
                self.path.pop_back();
            }
        }
    }

    fn found(&mut self, live: Option<Value>, desired: Option<Value>) {
        self.changes.push((self.path.clone(), live, desired));
    }

    /// `desired` as it is to be written at the current path: with the live value (or
    /// nothing) at every ignored field below, so a patch never touches ignored fields.
    fn masked(&self, desired: &Value, live: Option<&Value>) -> Value {
        let mut value = desired.clone();
        for rule in self.rules {
            if !rule.starts_with(&self.path) {
                continue;
            }
            let Some(relative) = rule.strip_prefix(&self.path) else {
                continue;
            };
            if relative.is_root() {
                continue;
            }
            match live.and_then(|live| live.pointer(relative.as_str())) {
                Some(live_value) => put(&mut value, relative, live_value.clone()),
                None => take(&mut value, relative),
            }
        }
        value
    }
}

/// Whether masking ignored fields left nothing of a non-empty desired map or list: then
/// nothing is left to apply.
fn emptied(desired: &Value, masked: &Value) -> bool {
    match (desired, masked) {
        (Value::Object(d), Value::Object(m)) => !d.is_empty() && m.is_empty(),
        _ => false,
    }
}

/// Sets the field at `pointer` (relative to `value`) if its parent exists.
fn put(value: &mut Value, pointer: &Pointer, new: Value) {
    let Some((parent, last)) = pointer.split_back() else {
        return;
    };
    match value.pointer_mut(parent.as_str()) {
        Some(Value::Object(map)) => {
            map.insert(last.decoded().into_owned(), new);
        }
        Some(Value::Array(items)) => {
            if let Some(slot) = last
                .to_index()
                .ok()
                .and_then(|i| i.for_len(items.len()).ok())
                .and_then(|i| items.get_mut(i))
            {
                *slot = new;
            }
        }
        _ => {}
    }
}

/// Removes the map entry at `pointer` (relative to `value`). List items are kept: taking
/// one out would move the others.
fn take(value: &mut Value, pointer: &Pointer) {
    let Some((parent, last)) = pointer.split_back() else {
        return;
    };
    if let Some(Value::Object(map)) = value.pointer_mut(parent.as_str()) {
        map.shift_remove(last.decoded().as_ref());
    }
}

/// Whether two scalars are the same: numbers by value, the rest by equality. Maps and
/// lists are never "the same scalar".
fn same_scalar(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Number(a), Value::Number(b)) => same_number(a, b),
        (Value::Object(_) | Value::Array(_), _) | (_, Value::Object(_) | Value::Array(_)) => false,
        (a, b) => a == b,
    }
}

/// Deep equality with numbers compared by value.
pub(crate) fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|w| same_value(v, w)))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(v, w)| same_value(v, w))
        }
        (a, b) => same_scalar(a, b),
    }
}

/// Whether two JSON numbers have the same value: `1`, `1.0` and `1e0` are equal.
pub(crate) fn same_number(a: &Number, b: &Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    match (exact_integer(a), exact_integer(b)) {
        (Some(x), Some(y)) => x == y,
        #[allow(clippy::float_cmp)] // exact equality of the two values is what is asked
        _ => a.as_f64() == b.as_f64(),
    }
}

/// The number as an integer, when it is one (a float with no fraction counts).
fn exact_integer(n: &Number) -> Option<i128> {
    if let Some(i) = n.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(i128::from(u));
    }
    let f = n.as_f64()?;
    // 2^100 is well inside i128 and far past where floats still hold every integer.
    let limit = 2f64.powi(100);
    if f.fract() == 0.0 && f.abs() < limit {
        #[allow(clippy::cast_possible_truncation)] // integral and in range: exact
        Some(f as i128)
    } else {
        None
    }
}

/// The `LiveState` of a target that applied exactly `objects` and holds them unchanged:
/// every object is live, was applied as it is, and is in the inventory.
///
/// Useful to compare two renders, e.g. two revisions of a repository: plan the newer
/// against the state of the older.
///
/// ```
/// use driftless_core::{Object, ObjectSet};
/// use driftless_diff::{DiffOptions, applied_state, plan};
/// use serde_json::json;
///
/// let cm = |data: serde_json::Value| Object::new(json!({
///     "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data,
/// }));
/// let old = ObjectSet::try_from(vec![cm(json!({"a": "1", "b": "2"}))?])?;
/// let new = ObjectSet::try_from(vec![cm(json!({"a": "1"}))?])?;
/// let plan = plan(&new, &applied_state(&old), &DiffOptions::default());
/// assert_eq!(plan.summary().update, 1); // `b` was ours and is gone
/// # Ok::<(), driftless_core::Error>(())
/// ```
pub fn applied_state(objects: &ObjectSet) -> LiveState {
    LiveState {
        objects: objects
            .ids()
            .zip(objects.iter())
            .map(|(id, object)| {
                (
                    id.clone(),
                    LiveObject {
                        object: object.clone(),
                        last_applied: Some(object.clone()),
                        predicted: None,
                    },
                )
            })
            .collect(),
        inventory: objects.ids().cloned().collect(),
    }
}

#[cfg(test)]
#[allow(clippy::needless_pass_by_value)] // json! literals read best passed by value
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Object {
        Object::new(value).unwrap()
    }

    fn cm(data: Value) -> Object {
        object(json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "n"},
            "data": data,
        }))
    }

    fn live_of(object: Object, last_applied: Option<Object>) -> LiveState {
        let mut live = LiveState::default();
        live.inventory.insert(object.id());
        live.objects.insert(
            object.id(),
            LiveObject {
                object,
                last_applied,
                predicted: None,
            },
        );
        live
    }

    fn fields(desired: &Object, live: &LiveState, options: &DiffOptions) -> Vec<FieldChange> {
        let set = ObjectSet::try_from(vec![desired.clone()]).unwrap();
        match plan(&set, live, options).changes.remove(0).action {
            Action::Update { fields, .. } => fields,
            Action::Unchanged { .. } => Vec::new(),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn change(path: &str, live: Option<Value>, desired: Option<Value>) -> FieldChange {
        FieldChange {
            path: path.into(),
            live,
            desired,
        }
    }

    #[test]
    fn live_only_fields_are_not_drift() {
        let live = live_of(cm(json!({"a": "1", "b": "2"})), None);
        assert_eq!(
            fields(&cm(json!({"a": "1"})), &live, &DiffOptions::default()),
            []
        );
    }

    #[test]
    fn changed_and_missing_fields_are_drift() {
        let live = live_of(cm(json!({"a": "1"})), None);
        assert_eq!(
            fields(
                &cm(json!({"a": "2", "z": "3"})),
                &live,
                &DiffOptions::default()
            ),
            [
                change("/data/a", Some(json!("1")), Some(json!("2"))),
                change("/data/z", None, Some(json!("3"))),
            ]
        );
    }

    #[test]
    fn fields_we_applied_and_dropped_are_removed() {
        let before = cm(json!({"a": "1", "b": "2"}));
        let live = live_of(cm(json!({"a": "1", "b": "2", "c": "theirs"})), Some(before));
        assert_eq!(
            fields(&cm(json!({"a": "1"})), &live, &DiffOptions::default()),
            [change("/data/b", Some(json!("2")), None)]
        );
    }

    #[test]
    fn dropped_field_already_gone_is_not_drift() {
        let live = live_of(cm(json!({"a": "1"})), Some(cm(json!({"a": "1", "b": "2"}))));
        assert_eq!(
            fields(&cm(json!({"a": "1"})), &live, &DiffOptions::default()),
            []
        );
    }

    #[test]
    fn numbers_compare_by_value() {
        let live = live_of(
            cm(json!({"n": 1, "f": 2.5, "big": 9_007_199_254_740_993_u64})),
            None,
        );
        assert_eq!(
            fields(
                &cm(json!({"n": 1.0, "f": 2.5, "big": 9_007_199_254_740_993_u64})),
                &live,
                &DiffOptions::default()
            ),
            []
        );
        // Past 2^53 a float cannot hold the integer: 2^53 + 1 is not 2^53.
        assert_eq!(
            fields(
                &cm(json!({"big": 9_007_199_254_740_992.0})),
                &live,
                &DiffOptions::default()
            )
            .len(),
            1
        );
        assert_eq!(
            fields(&cm(json!({"n": 1.5})), &live, &DiffOptions::default()),
            [change("/data/n", Some(json!(1)), Some(json!(1.5)))]
        );
        assert!(same_number(
            &Number::from(-3),
            &Number::from_f64(-3.0).unwrap()
        ));
        assert!(!same_number(&Number::from(u64::MAX), &Number::from(-1)));
    }

    #[test]
    fn desired_null_matches_unset() {
        let live = live_of(cm(json!({"a": "1"})), None);
        assert_eq!(
            fields(
                &cm(json!({"a": "1", "b": null})),
                &live,
                &DiffOptions::default()
            ),
            []
        );
    }

    #[test]
    fn lists_compare_by_position_and_length() {
        let base = |list: Value| {
            object(json!({
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"containers": list},
            }))
        };
        let live = live_of(
            base(json!([{"name": "a", "image": "a:1", "imagePullPolicy": "IfNotPresent"}])),
            None,
        );
        // Defaults inside list items are not drift.
        assert_eq!(
            fields(
                &base(json!([{"name": "a", "image": "a:1"}])),
                &live,
                &DiffOptions::default()
            ),
            []
        );
        assert_eq!(
            fields(
                &base(json!([{"name": "a", "image": "a:2"}])),
                &live,
                &DiffOptions::default()
            ),
            [change(
                "/spec/containers/0/image",
                Some(json!("a:1")),
                Some(json!("a:2"))
            )]
        );
        // A different length replaces the whole list.
        let two = json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]);
        assert_eq!(
            fields(&base(two.clone()), &live, &DiffOptions::default()),
            [change(
                "/spec/containers",
                Some(json!([{"name": "a", "image": "a:1", "imagePullPolicy": "IfNotPresent"}])),
                Some(two)
            )]
        );
    }

    #[test]
    fn exact_lists_compare_whole_values() {
        let pod = |containers: Value| {
            object(json!({
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"containers": containers},
            }))
        };
        let live_list = json!([{"name": "a", "image": "a:1", "imagePullPolicy": "IfNotPresent"}]);
        let live = live_of(pod(live_list.clone()), None);
        let exact = DiffOptions::default().exact_lists(true);
        let desired = pod(json!([{"name": "a", "image": "a:1"}]));
        assert_eq!(
            fields(&desired, &live, &exact),
            [change(
                "/spec/containers",
                Some(live_list.clone()),
                Some(json!([{"name": "a", "image": "a:1"}]))
            )]
        );
        assert_eq!(fields(&pod(live_list.clone()), &live, &exact), []);
        // Numbers still compare by value inside whole lists.
        let numbers = live_of(pod(json!([1, 2.5])), None);
        assert_eq!(fields(&pod(json!([1.0, 2.5])), &numbers, &exact), []);
        // Ignored fields inside a replaced list keep their live value.
        let exact_ignoring =
            exact.ignore(IgnoreRule::new("/spec/containers/0/imagePullPolicy").unwrap());
        let desired = pod(json!([{"name": "a", "image": "a:1", "imagePullPolicy": "Always"}]));
        assert_eq!(fields(&desired, &live, &exact_ignoring), []);
    }

    #[test]
    fn paths_are_escaped_and_sorted() {
        let live = live_of(cm(json!({})), None);
        let got = fields(
            &cm(json!({"z": "1", "a/b": "2", "c~d": "3"})),
            &live,
            &DiffOptions::default(),
        );
        let paths: Vec<&str> = got.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["/data/a~1b", "/data/c~0d", "/data/z"]);
    }

    #[test]
    fn ignored_fields_are_not_drift_nor_patched() {
        let deploy = |replicas: u32, extra: Value| {
            object(json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "d", "namespace": "n"},
                "spec": {"replicas": replicas, "template": extra},
            }))
        };
        let live = live_of(
            deploy(5, json!({"a": 1, "gone": 1})),
            Some(deploy(2, json!({"a": 1, "gone": 1}))),
        );
        let options = DiffOptions::default()
            .ignore(
                IgnoreRule::new("/spec/replicas")
                    .unwrap()
                    .kind("Deployment"),
            )
            .ignore(IgnoreRule::new("/spec/template/gone").unwrap());
        assert_eq!(fields(&deploy(2, json!({"a": 1})), &live, &options), []);
        // A rule for another kind does not apply.
        let other = DiffOptions::default().ignore(
            IgnoreRule::new("/spec/replicas")
                .unwrap()
                .kind("StatefulSet"),
        );
        assert_eq!(fields(&deploy(2, json!({"a": 1})), &live, &other).len(), 2);
    }

    #[test]
    fn ignored_fields_inside_added_values_keep_live() {
        let live = live_of(cm(json!({"keep": "x"})), None);
        let options = DiffOptions::default()
            .ignore(IgnoreRule::new("/data/keep").unwrap())
            .ignore(IgnoreRule::new("/metadata/labels/skip").unwrap());
        let mut desired = cm(json!({"keep": "y", "new": "1"}));
        desired.as_value_mut()["metadata"]["labels"] = json!({"skip": "s", "app": "a"});
        assert_eq!(
            fields(&desired, &live, &options),
            [
                change("/data/new", None, Some(json!("1"))),
                change("/metadata/labels", None, Some(json!({"app": "a"}))),
            ]
        );
        // Nothing left once the ignored label is taken out: no change.
        let mut desired = cm(json!({"keep": "x"}));
        desired.as_value_mut()["metadata"]["labels"] = json!({"skip": "s"});
        assert_eq!(fields(&desired, &live, &options), []);
    }

    #[test]
    fn invalid_rule_is_skipped() {
        let live = live_of(cm(json!({"a": "1"})), None);
        let mut options = DiffOptions::default();
        options.ignore.push(IgnoreRule {
            pointer: "data/a".into(),
            group: None,
            kind: None,
            namespace: None,
            name: None,
        });
        assert_eq!(fields(&cm(json!({"a": "2"})), &live, &options).len(), 1);
    }

    #[test]
    fn prunes_only_inventory_members_still_live() {
        let a = cm(json!({}));
        let mut b = a.clone();
        b.as_value_mut()["metadata"]["name"] = json!("b");
        let mut gone = a.clone();
        gone.as_value_mut()["metadata"]["name"] = json!("gone");
        let mut foreign = a.clone();
        foreign.as_value_mut()["metadata"]["name"] = json!("foreign");
        let mut live = LiveState::default();
        for o in [&b, &foreign] {
            live.objects.insert(
                o.id(),
                LiveObject {
                    object: o.clone(),
                    last_applied: None,
                    predicted: None,
                },
            );
        }
        live.inventory.extend([b.id(), gone.id(), a.id()]);
        let desired = ObjectSet::try_from(vec![a.clone()]).unwrap();
        let plan = plan(&desired, &live, &DiffOptions::default());
        let got: Vec<(String, &str)> = plan
            .changes
            .iter()
            .map(|c| (c.id.to_string(), c.action.name()))
            .collect();
        assert_eq!(
            got,
            [
                ("/ConfigMap/n/c".to_owned(), "create"),
                ("/ConfigMap/n/b".to_owned(), "prune"),
            ]
        );
    }

    fn predicted_state(live: Object, predicted: Object) -> LiveState {
        let mut state = LiveState::default();
        state.objects.insert(
            live.id(),
            LiveObject {
                object: live,
                last_applied: None,
                predicted: Some(predicted),
            },
        );
        state
    }

    #[test]
    fn a_prediction_decides_what_changes() {
        let deployment = |cpu: Value, extra: Option<(&str, Value)>| {
            let mut value = json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "d", "namespace": "n", "resourceVersion": "7"},
                "spec": {"replicas": 2, "template": {"spec": {"containers": [
                    {"name": "a", "resources": {"limits": {"cpu": cpu}}}]}}},
                "status": {"replicas": 2},
            });
            if let Some((key, v)) = extra {
                value["spec"][key] = v;
            }
            object(value)
        };
        // Desired says 2000m, the server stores and would keep "2": no change.
        let desired = ObjectSet::try_from(vec![deployment(json!("2000m"), None)]).unwrap();
        let live = deployment(json!("2"), Some(("paused", json!(true))));
        let same = predicted_state(live.clone(), live.clone());
        assert!(!plan(&desired, &same, &DiffOptions::default()).has_changes());
        // The server would drop a field someone added and change the replicas.
        let mut predicted = deployment(json!("2"), None);
        predicted.as_value_mut()["spec"]["replicas"] = json!(3);
        let state = predicted_state(live, predicted);
        let got = fields(
            &desired.iter().next().unwrap().clone(),
            &state,
            &DiffOptions::default(),
        );
        assert_eq!(
            got,
            [
                change("/spec/paused", Some(json!(true)), None),
                change("/spec/replicas", Some(json!(2)), Some(json!(3))),
            ]
        );
        // An ignored field is neither drift nor applied: desired carries the live value.
        let options = DiffOptions::default().ignore(
            IgnoreRule::new("/spec/replicas")
                .unwrap()
                .kind("Deployment"),
        );
        let Action::Update {
            desired: applied,
            fields,
            ..
        } = plan(&desired, &state, &options).changes.remove(0).action
        else {
            panic!("expected an update");
        };
        assert_eq!(fields.len(), 1);
        assert_eq!(applied.as_value()["spec"]["replicas"], 2);
        assert_eq!(
            applied.as_value()["spec"]["template"]["spec"]["containers"][0]["resources"],
            json!({"limits": {"cpu": "2000m"}}),
            "everything else as desired"
        );
    }

    #[test]
    fn secret_values_are_masked_in_changes_and_patches() {
        let secret = |data: Value| {
            object(json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "s", "namespace": "n"}, "data": data}))
        };
        let desired =
            ObjectSet::try_from(vec![secret(json!({"a": "bmV3", "b": "c2FtZQ"}))]).unwrap();
        let live = secret(json!({"a": "b2xk", "b": "c2FtZQ"}));
        let state = predicted_state(
            live,
            secret(json!({"a": "bmV3", "b": "c2FtZQ", "c": "YWRkZWQ"})),
        );
        let Action::Update {
            fields,
            patch,
            live,
            desired: applied,
        } = plan(&desired, &state, &DiffOptions::default())
            .changes
            .remove(0)
            .action
        else {
            panic!("expected an update");
        };
        assert_eq!(
            fields,
            [
                change(
                    "/data/a",
                    Some(json!("*** (before)")),
                    Some(json!("*** (after)"))
                ),
                change("/data/c", None, Some(json!("*** (after)"))),
            ]
        );
        let shown = format!("{patch:?}{live:?}");
        for value in ["bmV3", "b2xk", "c2FtZQ", "YWRkZWQ"] {
            assert!(!shown.contains(value), "{value} in {shown}");
        }
        // What is applied keeps the real values.
        assert_eq!(applied.as_value()["data"]["a"], "bmV3");
    }

    #[test]
    fn patch_turns_live_into_desired() {
        let live_obj = cm(json!({"a": "1", "b": "2", "c": {"d": [1, 2]}}));
        let live = live_of(live_obj.clone(), Some(cm(json!({"b": "2"}))));
        let desired = cm(json!({"a": "9", "c": {"d": [1, 2, 3]}, "e": {"f": true}}));
        let set = ObjectSet::try_from(vec![desired]).unwrap();
        let Action::Update {
            patch,
            live: normalized,
            ..
        } = plan(&set, &live, &DiffOptions::default())
            .changes
            .remove(0)
            .action
        else {
            panic!("expected an update");
        };
        let mut value = normalized.into_value();
        json_patch::patch(&mut value, &patch).unwrap();
        assert_eq!(
            value["data"],
            json!({"a": "9", "c": {"d": [1, 2, 3]}, "e": {"f": true}})
        );
    }
}
