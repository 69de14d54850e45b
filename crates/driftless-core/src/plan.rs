//! [`Plan`]: what a reconcile will change, object by object.
//!
//! The differ (`driftless-diff`) computes plans; targets carry them out. The plan lives
//! in the core so that both sides, and user-written targets, share one vocabulary.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Object, ObjectId};

/// The changes one reconcile makes, in apply order: desired objects in render order,
/// then prunes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// One entry per desired object, and one per object to prune.
    pub changes: Vec<Change>,
}

impl Plan {
    /// Whether applying the plan would change anything.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action.is_change())
    }

    /// How many entries there are of each action.
    pub fn summary(&self) -> PlanSummary {
        let mut summary = PlanSummary::default();
        for change in &self.changes {
            match change.action {
                Action::Create { .. } => summary.create += 1,
                Action::Update { .. } => summary.update += 1,
                Action::Unchanged { .. } => summary.unchanged += 1,
                Action::Prune { .. } => summary.prune += 1,
            }
        }
        summary
    }

    /// The desired objects of the plan (every entry but prunes), in order.
    pub fn desired(&self) -> impl Iterator<Item = &Object> {
        self.changes.iter().filter_map(|c| c.action.desired())
    }
}

/// Counts of a plan's actions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// Objects to create.
    pub create: usize,
    /// Objects to update.
    pub update: usize,
    /// Objects already as desired.
    pub unchanged: usize,
    /// Objects to delete.
    pub prune: usize,
}

/// One object's entry in a [`Plan`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The object.
    pub id: ObjectId,
    /// What happens to it.
    #[serde(flatten)]
    pub action: Action,
}

/// What happens to one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Action {
    /// Desired but not live: create it.
    Create {
        /// The object to create.
        desired: Object,
    },
    /// Live, but some field we set differs: update it.
    Update {
        /// The object as desired.
        desired: Object,
        /// The object as live (normalized: no status, no server-set metadata).
        live: Object,
        /// The fields that differ, sorted by path.
        fields: Vec<FieldChange>,
        /// An RFC 6902 JSON patch that turns the normalized live object into one that
        /// agrees with desired on every field desired sets.
        patch: json_patch::Patch,
    },
    /// Live and as desired.
    Unchanged {
        /// The object as desired.
        desired: Object,
    },
    /// Applied before, no longer desired: delete it (when pruning).
    Prune {
        /// The object as live.
        live: Object,
    },
}

impl Action {
    /// Whether this action changes the target.
    pub fn is_change(&self) -> bool {
        !matches!(self, Self::Unchanged { .. })
    }

    /// The desired object (every action but prune).
    pub fn desired(&self) -> Option<&Object> {
        match self {
            Self::Create { desired }
            | Self::Update { desired, .. }
            | Self::Unchanged { desired } => Some(desired),
            Self::Prune { .. } => None,
        }
    }

    /// A lowercase name for output: `create`, `update`, `unchanged`, `prune`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Create { .. } => "create",
            Self::Update { .. } => "update",
            Self::Unchanged { .. } => "unchanged",
            Self::Prune { .. } => "prune",
        }
    }
}

/// One field that differs between live and desired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// A JSON pointer (RFC 6901) to the field, e.g. `/spec/replicas`.
    pub path: String,
    /// The live value (`None` when the field is not set live).
    pub live: Option<Value>,
    /// The desired value (`None` when we set it before and no longer do).
    pub desired: Option<Value>,
}

/// Health of one object on a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", content = "message", rename_all = "lowercase")]
pub enum Health {
    /// Ready.
    Healthy,
    /// Not ready yet (rolling out, pending); worth waiting for.
    Progressing(String),
    /// Failed; waiting will not help.
    Degraded(String),
}

/// Health of several objects, by id.
pub type HealthReport = BTreeMap<ObjectId, Health>;
