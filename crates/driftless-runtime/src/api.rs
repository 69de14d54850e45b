//! The HTTP API's types, shared by the server ([`crate::server`]) and the typed
//! [`crate::client::Client`]: what goes over the wire is defined once.

use serde::{Deserialize, Serialize};

use crate::history::SyncRecord;

/// What `/api/v1/apps` reports for each app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AppStatus {
    /// The app's name.
    pub name: String,
    /// The source, as it describes itself.
    pub source: String,
    /// The target, as it describes itself.
    pub target: String,
    /// The revision last applied successfully.
    pub revision: Option<String>,
    /// Whether the last reconcile succeeded (dependents wait for this).
    pub ready: bool,
    /// Whether the app is suspended (by the configuration or through the API).
    pub suspended: bool,
    /// The revision a rollback pinned the app to, until resumed.
    pub pinned: Option<String>,
    /// Whether a reconcile is running.
    pub reconciling: bool,
    /// How many objects the app manages.
    pub objects: usize,
    /// Failed reconciles since the last success.
    pub consecutive_failures: u32,
    /// Kubernetes-style conditions; the first is `Ready`.
    pub conditions: Vec<Condition>,
    /// The last sync recorded.
    pub last_sync: Option<SyncRecord>,
}

impl AppStatus {
    /// The `Ready` condition.
    pub fn ready_condition(&self) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.kind == "Ready")
    }

    /// One word for a table: `Suspended`, `Ready`, or the reason it is not ready.
    pub fn state(&self) -> &str {
        if self.suspended {
            "Suspended"
        } else if self.ready {
            "Ready"
        } else {
            self.ready_condition()
                .map_or("Unknown", |c| c.reason.as_str())
        }
    }
}

/// A Kubernetes-style condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `Ready`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// A CamelCase reason, e.g. `ReconciliationSucceeded`, `DependencyNotReady`.
    pub reason: String,
    /// What happened, for people.
    pub message: String,
}

impl Condition {
    /// A `Ready` condition.
    pub fn ready(ready: bool, reason: &str, message: impl Into<String>) -> Self {
        Self {
            kind: "Ready".into(),
            status: if ready { "True" } else { "False" }.into(),
            reason: reason.into(),
            message: message.into(),
        }
    }

    /// A `Ready` condition of status `Unknown`, reason `Progressing`: applied, waiting
    /// for the objects to become healthy.
    pub fn progressing(message: impl Into<String>) -> Self {
        Self {
            kind: "Ready".into(),
            status: "Unknown".into(),
            reason: "Progressing".into(),
            message: message.into(),
        }
    }

    /// Whether the condition holds.
    pub fn is_true(&self) -> bool {
        self.status == "True"
    }
}

/// The answer to a reconcile request or a webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Triggered {
    /// Whether a reconcile was started.
    pub triggered: bool,
    /// Why not, when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The body of `POST /api/v1/apps/<name>/rollback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackRequest {
    /// A revision the app applied before, or a unique prefix (7 characters or more) of
    /// its commit id.
    pub revision: String,
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
}

/// How one reconcile of one app ended: what `driftless sync`, `driftless-agent --once`
/// and `driftless reconcile --wait` report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// The app.
    pub app: String,
    /// How it ended.
    pub result: OutcomeKind,
    /// The revision applied (or tried), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Objects created.
    #[serde(default)]
    pub created: usize,
    /// Objects updated.
    #[serde(default)]
    pub updated: usize,
    /// Objects deleted.
    #[serde(default)]
    pub pruned: usize,
    /// Objects left as they were.
    #[serde(default)]
    pub unchanged: usize,
    /// Why it failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it took.
    #[serde(default)]
    pub duration_seconds: f64,
}

/// How a reconcile ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum OutcomeKind {
    /// Applied (and healthy, when health was waited for).
    Succeeded,
    /// Fetch, render, apply or health failed.
    Failed,
    /// Not reconciled: a dependency is not ready.
    Skipped,
    /// Not reconciled: the app is suspended.
    Suspended,
}

impl Outcome {
    pub(crate) fn not_run(app: &str, result: OutcomeKind, why: impl Into<String>) -> Self {
        Self {
            app: app.to_owned(),
            result,
            revision: None,
            created: 0,
            updated: 0,
            pruned: 0,
            unchanged: 0,
            error: Some(why.into()),
            duration_seconds: 0.0,
        }
    }

    /// Whether this counts as a failure for an exit code (failed or skipped; a
    /// suspended app is not a failure).
    pub fn is_failure(&self) -> bool {
        matches!(self.result, OutcomeKind::Failed | OutcomeKind::Skipped)
    }
}
