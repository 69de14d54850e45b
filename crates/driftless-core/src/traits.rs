//! The plug-in traits: [`Source`], [`Renderer`], [`Target`].

use std::collections::BTreeSet;
use std::path::Path;

use async_trait::async_trait;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::{
    Health, HealthReport, Object, ObjectId, ObjectSet, Plan, RenderError, Revision, Snapshot,
    SourceError, TargetError,
};

/// Where desired state comes from: a git repository, an OCI artifact, a directory.
///
/// A source is configured (URL, reference, credentials) when it is built; the trait
/// only resolves and fetches. Implementations must be cheap to call often: the agent
/// calls [`resolve`](Source::resolve) on every interval and fetches only when the
/// revision changed.
#[async_trait]
pub trait Source: Send + Sync {
    /// What this source is, for logs and reports, e.g. `https://host/org/repo.git`.
    /// Never includes credentials.
    fn describe(&self) -> String;

    /// The newest revision of the configured reference, found cheaply (like
    /// `git ls-remote`, or a manifest HEAD request).
    async fn resolve(&self) -> Result<Revision, SourceError>;

    /// Fetches `revision` into an immutable [`Snapshot`]. A failed fetch leaves nothing
    /// half-written behind for a renderer to read.
    async fn fetch(&self, revision: &Revision) -> Result<Snapshot, SourceError>;
}

/// Turns a folder of a snapshot into objects. Pure, CPU-bound and deterministic: the
/// same files render the same objects in the same order.
pub trait Renderer: Send + Sync {
    /// Renders `path` (relative to the snapshot root) into objects. Files outside the
    /// snapshot are never read.
    fn render(&self, snapshot: &Snapshot, path: &Path) -> Result<ObjectSet, RenderError>;
}

/// Where objects are applied: a Kubernetes cluster, a directory, a user's own system.
///
/// A target remembers what it applied (its inventory), so that prune deletes only
/// objects it created and no longer desired, never anything else.
#[async_trait]
pub trait Target: Send + Sync {
    /// What this target is, for logs and reports, e.g. `dir:/srv/live` or `kube:prod`.
    fn describe(&self) -> String;

    /// Adjusts desired objects to this target before they are compared, e.g. gives
    /// namespaced kinds the default namespace. The default changes nothing.
    async fn prepare(&self, desired: ObjectSet) -> Result<ObjectSet, TargetError> {
        Ok(desired)
    }

    /// Reads the live state of every desired object and every inventory member.
    async fn live(&self, desired: &ObjectSet) -> Result<LiveState, TargetError>;

    /// Carries out a plan: creates and updates its desired objects, deletes its prunes
    /// when `options.prune` is set, and records the new inventory. With
    /// `options.dry_run` it changes nothing.
    async fn apply(&self, plan: &Plan, options: &ApplyOptions) -> Result<ApplyReport, TargetError>;

    /// The health of the given objects. The default reports every object healthy, for
    /// targets without a notion of readiness.
    async fn health(&self, ids: &[ObjectId]) -> Result<HealthReport, TargetError> {
        Ok(ids.iter().map(|id| (id.clone(), Health::Healthy)).collect())
    }

    /// Records what a reconcile did where the target's own users look (e.g. a
    /// Kubernetes Event on the inventory's parent object). The default records nothing.
    async fn record_event(&self, event: &TargetEvent) -> Result<(), TargetError> {
        let _ = event;
        Ok(())
    }
}

/// The outcome of a reconcile, as a target records it ([`Target::record_event`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetEvent {
    /// Whether it is a warning (a failure) rather than a normal event.
    pub warning: bool,
    /// A CamelCase reason, e.g. `ReconciliationSucceeded`.
    pub reason: String,
    /// What happened, for people.
    pub message: String,
}

/// What a target holds: its live objects and what it applied before.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveState {
    /// Live objects, by id: those desired that exist, and those in the inventory that
    /// still exist.
    pub objects: IndexMap<ObjectId, LiveObject>,
    /// Every object this target applied and has not deleted since.
    pub inventory: BTreeSet<ObjectId>,
}

/// One live object.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveObject {
    /// The object as it is now.
    pub object: Object,
    /// The object as we last applied it, when the target knows: fields in it that are
    /// no longer desired are ours to remove; other fields only live are not drift.
    pub last_applied: Option<Object>,
}

/// How to apply a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApplyOptions {
    /// Change nothing; report what would change.
    pub dry_run: bool,
    /// Delete objects the plan marks for pruning.
    pub prune: bool,
    /// Take ownership of conflicting fields and recreate objects whose immutable fields
    /// changed.
    pub force: bool,
}

impl ApplyOptions {
    /// Sets [`dry_run`](Self::dry_run).
    #[must_use]
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Sets [`prune`](Self::prune).
    #[must_use]
    pub fn prune(mut self, prune: bool) -> Self {
        self.prune = prune;
        self
    }

    /// Sets [`force`](Self::force).
    #[must_use]
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }
}

/// What an apply did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReport {
    /// Objects created.
    pub created: Vec<ObjectId>,
    /// Objects updated.
    pub updated: Vec<ObjectId>,
    /// Objects left as they were.
    pub unchanged: Vec<ObjectId>,
    /// Objects deleted.
    pub pruned: Vec<ObjectId>,
    /// Objects that were to be pruned but are kept (e.g. annotated
    /// `driftless.dev/prune: disabled`).
    pub prune_skipped: Vec<ObjectId>,
    /// Whether this was a dry run.
    pub dry_run: bool,
}
