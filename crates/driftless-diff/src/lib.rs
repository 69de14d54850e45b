//! Desired against live: the differ of driftless.
//!
//! [`plan`] compares the objects a renderer produced with what a target holds and
//! returns a [`Plan`](driftless_core::Plan): per object create, update (the fields
//! that differ and an RFC 6902 JSON patch), unchanged, and prune for what was applied
//! before and is no longer desired. Desired is intent: a field set in desired and
//! different live is drift; a field only live holds (a server default, another
//! controller's field) is not, unless we applied it before. [`render_human`] and
//! [`render_json`] write a plan for people and for scripts.
//!
//! Pure: no I/O, no async, no failure (only building an [`IgnoreRule`] can fail), and
//! linear in the number of objects.
//!
//! ```
//! use driftless_core::{LiveObject, LiveState, Object, ObjectSet};
//! use driftless_diff::{DiffOptions, HumanOptions, IgnoreRule, plan, render_human, render_json};
//! use serde_json::json;
//!
//! let deployment = |replicas: u32, image: &str| Object::new(json!({
//!     "apiVersion": "apps/v1",
//!     "kind": "Deployment",
//!     "metadata": {"name": "api", "namespace": "web"},
//!     "spec": {"replicas": replicas, "template": {"spec": {"containers": [
//!         {"name": "api", "image": image},
//!     ]}}},
//! }));
//! let desired = ObjectSet::try_from(vec![deployment(3, "api:2")?])?;
//!
//! // Live runs an older image; the server added a status and a default.
//! let mut live_object = deployment(3, "api:1")?;
//! live_object.as_value_mut()["status"] = json!({"readyReplicas": 3});
//! live_object.as_value_mut()["spec"]["revisionHistoryLimit"] = json!(10);
//! let mut live = LiveState::default();
//! live.objects.insert(live_object.id(), LiveObject { object: live_object, last_applied: None, predicted: None });
//!
//! let plan = plan(&desired, &live, &DiffOptions::default());
//! let json = render_json(&plan);
//! assert_eq!(json["summary"]["update"], 1);
//! assert_eq!(json["changes"][0]["fields"][0]["path"], "/spec/template/spec/containers/0/image");
//! assert_eq!(json["changes"][0]["patch"][0]["op"], "replace");
//!
//! let text = render_human(&plan, &HumanOptions::default());
//! assert!(text.starts_with("~ update apps/Deployment/web/api\n"));
//! assert!(text.contains("-        image: api:1\n+        image: api:2\n"));
//!
//! // Leave the image to an image updater: nothing to do.
//! let options = DiffOptions::default()
//!     .ignore(IgnoreRule::new("/spec/template/spec/containers/0/image")?.kind("Deployment"));
//! assert!(!driftless_diff::plan(&desired, &live, &options).has_changes());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod normalize;
mod options;
mod output;
mod plan;
mod secret;

pub use error::Error;
pub use normalize::normalize;
pub use options::{DiffOptions, IgnoreRule};
pub use output::{HumanOptions, render_human, render_json};
pub use plan::{applied_state, plan};
