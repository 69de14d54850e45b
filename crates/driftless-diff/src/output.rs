//! Plans for people ([`render_human`]) and for scripts ([`render_json`]).

use std::fmt::Write as _;

use driftless_core::{Action, FieldChange, Object, Plan};
use serde_json::{Map, Value, json};
use similar::{ChangeTag, TextDiff};

use crate::normalize;
use crate::secret::mask_object;

/// How [`render_human`] writes a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HumanOptions {
    /// Colour with ANSI escape codes (decide with a terminal check; off by default).
    pub color: bool,
    /// Unchanged lines shown around each change (3 by default, like `diff -u`).
    pub context: usize,
}

impl Default for HumanOptions {
    fn default() -> Self {
        Self {
            color: false,
            context: 3,
        }
    }
}

impl HumanOptions {
    /// Sets [`color`](Self::color).
    #[must_use]
    pub fn color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    /// Sets [`context`](Self::context).
    #[must_use]
    pub fn context(mut self, context: usize) -> Self {
        self.context = context;
        self
    }
}

const RESET: &str = "\x1b[0m";
const BOLD_GREEN: &str = "\x1b[1;32m";
const BOLD_YELLOW: &str = "\x1b[1;33m";
const BOLD_RED: &str = "\x1b[1;31m";
const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const CYAN: &str = "\x1b[36m";

/// Writes a plan for people: for every object that changes a header line
/// (`+ create apps/Deployment/web/api`, `~ update …`, `- prune …`) and a unified diff of
/// its YAML, then a summary line (`1 to create, 2 to update, 0 to prune, 7 unchanged`).
/// Unchanged objects are only counted.
///
/// An update shows the live object before and after its patch, so fields only live
/// holds (defaults, other controllers' fields) appear as context, never as removals.
/// Objects are shown normalized (no `status`, no server-set metadata), and the values of
/// Secrets masked (`***`, `*** (before)`, `*** (after)`).
///
/// ```
/// use driftless_core::{Object, ObjectSet, LiveState};
/// use driftless_diff::{DiffOptions, HumanOptions, plan, render_human};
/// use serde_json::json;
///
/// let desired = ObjectSet::try_from(vec![Object::new(json!({
///     "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
/// }))?])?;
/// let plan = plan(&desired, &LiveState::default(), &DiffOptions::default());
/// let text = render_human(&plan, &HumanOptions::default());
/// assert!(text.starts_with("+ create /ConfigMap//c\n"));
/// assert!(text.ends_with("1 to create, 0 to update, 0 to prune, 0 unchanged\n"));
/// # Ok::<(), driftless_core::Error>(())
/// ```
pub fn render_human(plan: &Plan, options: &HumanOptions) -> String {
    let mut out = String::new();
    for change in &plan.changes {
        let (sign, colour, old, new) = match &change.action {
            Action::Unchanged { .. } => continue,
            Action::Create { desired } => (
                "+",
                BOLD_GREEN,
                String::new(),
                yaml(&mask_object(&normalize(desired))),
            ),
            Action::Update {
                desired,
                live,
                patch,
                ..
            } => {
                let mut after = live.as_value().clone();
                let new = match json_patch::patch(&mut after, patch) {
                    Ok(()) => yaml_value(&after),
                    // The plan was not made by `plan`; show desired as it is.
                    Err(_) => yaml(&mask_object(&normalize(desired))),
                };
                ("~", BOLD_YELLOW, yaml(live), new)
            }
            Action::Prune { live } => (
                "-",
                BOLD_RED,
                yaml(&mask_object(&normalize(live))),
                String::new(),
            ),
        };
        let header = format!("{sign} {} {}", change.action.name(), change.id);
        push_line(&mut out, &header, options.color.then_some(colour));
        unified(&mut out, &old, &new, options);
        out.push('\n');
    }
    let summary = plan.summary();
    let _ = writeln!(
        out,
        "{} to create, {} to update, {} to prune, {} unchanged",
        summary.create, summary.update, summary.prune, summary.unchanged
    );
    out
}

fn unified(out: &mut String, old: &str, new: &str, options: &HumanOptions) {
    let diff = TextDiff::from_lines(old, new);
    let mut unified = diff.unified_diff();
    unified.context_radius(options.context);
    for hunk in unified.iter_hunks() {
        push_line(
            out,
            &hunk.header().to_string(),
            options.color.then_some(CYAN),
        );
        for line in hunk.iter_changes() {
            let (sign, colour) = match line.tag() {
                ChangeTag::Equal => (" ", None),
                ChangeTag::Delete => ("-", Some(RED)),
                ChangeTag::Insert => ("+", Some(GREEN)),
            };
            let text = line.value();
            let text = text.strip_suffix('\n').unwrap_or(text);
            push_line(
                out,
                &format!("{sign}{text}"),
                colour.filter(|_| options.color),
            );
        }
    }
}

fn push_line(out: &mut String, line: &str, colour: Option<&str>) {
    match colour {
        Some(colour) => {
            out.push_str(colour);
            out.push_str(line);
            out.push_str(RESET);
        }
        None => out.push_str(line),
    }
    out.push('\n');
}

fn yaml(object: &Object) -> String {
    yaml_value(object.as_value())
}

fn yaml_value(value: &Value) -> String {
    driftless_core::yaml::to_string(value)
        .or_else(|_| serde_json::to_string_pretty(value))
        .unwrap_or_default()
}

/// Writes a plan for scripts (`-o json`). The shape is stable:
///
/// ```json
/// {
///   "summary": {"create": 1, "update": 1, "prune": 1, "unchanged": 4, "changed": true},
///   "changes": [
///     {
///       "id": "apps/Deployment/web/api",
///       "action": "update",
///       "fields": [{"path": "/spec/replicas", "live": 2, "desired": 3}],
///       "patch": [{"op": "replace", "path": "/spec/replicas", "value": 3}]
///     },
///     {"id": "/ConfigMap/web/settings", "action": "create", "fields": [], "patch": []}
///   ]
/// }
/// ```
///
/// `changes` lists every entry of the plan in order, unchanged ones included;
/// `action` is `create`, `update`, `unchanged` or `prune`; `id` is the stable
/// [`ObjectId`](driftless_core::ObjectId) string. `fields` and `patch` are empty for
/// every action but `update`. In a field, `live` is left out when the field is not set
/// live and `desired` when it is to be removed (so a JSON `null` is always a value).
/// `patch` is an RFC 6902 JSON patch for the normalized live object.
pub fn render_json(plan: &Plan) -> Value {
    let summary = plan.summary();
    let changes: Vec<Value> = plan
        .changes
        .iter()
        .map(|change| {
            let (fields, patch) = match &change.action {
                Action::Update { fields, patch, .. } => (
                    fields.iter().map(field_json).collect(),
                    serde_json::to_value(patch).unwrap_or_else(|_| json!([])),
                ),
                _ => (Vec::new(), json!([])),
            };
            json!({
                "id": change.id.to_string(),
                "action": change.action.name(),
                "fields": fields,
                "patch": patch,
            })
        })
        .collect();
    json!({
        "summary": {
            "create": summary.create,
            "update": summary.update,
            "prune": summary.prune,
            "unchanged": summary.unchanged,
            "changed": plan.has_changes(),
        },
        "changes": changes,
    })
}

fn field_json(field: &FieldChange) -> Value {
    let mut map = Map::new();
    map.insert("path".into(), Value::String(field.path.clone()));
    if let Some(live) = &field.live {
        map.insert("live".into(), live.clone());
    }
    if let Some(desired) = &field.desired {
        map.insert("desired".into(), desired.clone());
    }
    Value::Object(map)
}
