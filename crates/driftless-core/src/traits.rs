//! The plug-in traits: [`Source`], [`Renderer`], [`Target`].

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

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

    /// Starts reporting to `sink` every change made by someone else to what this target
    /// holds (a hand edit, a deletion), so that drift can be corrected at once instead
    /// of at the next interval. Changes the target makes itself are not reported. The
    /// watch runs until the returned [`DriftWatch`] is dropped, and follows what the
    /// target holds as later applies change it. Called inside a tokio runtime.
    ///
    /// `Ok(None)` (the default): this target cannot watch; drift is found only by
    /// reconciling.
    fn watch(&self, sink: DriftSink) -> Result<Option<DriftWatch>, TargetError> {
        let _ = sink;
        Ok(None)
    }
}

/// A change made outside the app's reconciles to something a target holds for the
/// app, as a watching target reports it ([`Target::watch`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Drift {
    /// The object that changed, when the target can tell.
    pub object: Option<ObjectId>,
    /// What happened to it.
    pub kind: DriftKind,
}

impl Drift {
    /// A drift of `object` (when known).
    pub fn new(object: Option<ObjectId>, kind: DriftKind) -> Self {
        Self { object, kind }
    }
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            DriftKind::Modified => "modified",
            DriftKind::Deleted => "deleted",
        };
        match &self.object {
            Some(id) => write!(f, "{id} {what}"),
            None => write!(f, "{what}"),
        }
    }
}

/// What happened to a drifted object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DriftKind {
    /// Changed (or created with our membership) by someone else.
    Modified,
    /// Deleted, or taken out of the set, by someone else.
    Deleted,
}

/// Where a watching target reports drift. It is called from the target's own tasks or
/// threads and must return quickly (e.g. send on a channel).
pub type DriftSink = Arc<dyn Fn(Drift) + Send + Sync>;

/// A running watch of a target ([`Target::watch`]): dropping it stops the watch.
pub struct DriftWatch {
    _running: Box<dyn Send + Sync>,
}

impl DriftWatch {
    /// A watch that runs while `running` lives: whatever stops the watch when dropped
    /// (e.g. a guard that aborts its tasks).
    pub fn new(running: impl Send + Sync + 'static) -> Self {
        Self {
            _running: Box::new(running),
        }
    }
}

impl std::fmt::Debug for DriftWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DriftWatch")
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
    /// The object as the target would hold it once the desired object is applied, when
    /// the target can tell (e.g. from a server-side apply dry run). When set, the differ
    /// compares it with [`object`](Self::object) instead of comparing desired with live:
    /// only what would really change is drift, so the target's own spelling of values
    /// (units, defaults, write-only fields) never counts.
    pub predicted: Option<Object>,
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
