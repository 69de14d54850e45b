//! [`Pipeline`]: one reconcile, fetch → render → plan → apply → prune.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use driftless_core::{
    Action, ApplyOptions, ApplyReport, Health, HealthReport, ObjectId, ObjectSet, Plan,
    PlanSummary, Renderer, Revision, Snapshot, Source, Target,
};
use driftless_diff::DiffOptions;
use serde::Serialize;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::kept::KeptRender;
use crate::postbuild::PostBuild;

/// How a [`Pipeline`] reconciles.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PipelineOptions {
    /// The folder inside the source to render (default: its root).
    pub path: PathBuf,
    /// Dry run, prune and force.
    pub apply: ApplyOptions,
    /// Fields to ignore when comparing.
    pub diff: DiffOptions,
    /// Allow an empty render to prune every object of the inventory.
    pub allow_empty: bool,
    /// Wait until applied objects are healthy, up to this long.
    pub health_timeout: Option<Duration>,
    /// Reconciles that may run at once among the pipelines sharing these slots (e.g.
    /// every app of an agent). A reconcile holds a slot while it fetches, renders,
    /// plans and applies, and gives it back before it waits for health, so that a
    /// thousand apps starting together neither hold a thousand renders in memory nor
    /// send the API server a thousand apps' requests at once. `None`: no limit.
    pub slots: Option<Arc<Semaphore>>,
}

impl PipelineOptions {
    /// Sets [`path`](Self::path).
    #[must_use]
    pub fn path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = path.into();
        self
    }

    /// Sets [`apply`](Self::apply).
    #[must_use]
    pub fn apply(mut self, apply: ApplyOptions) -> Self {
        self.apply = apply;
        self
    }

    /// Sets [`diff`](Self::diff).
    #[must_use]
    pub fn diff(mut self, diff: DiffOptions) -> Self {
        self.diff = diff;
        self
    }

    /// Sets [`allow_empty`](Self::allow_empty).
    #[must_use]
    pub fn allow_empty(mut self, allow_empty: bool) -> Self {
        self.allow_empty = allow_empty;
        self
    }

    /// Sets [`health_timeout`](Self::health_timeout).
    #[must_use]
    pub fn health_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.health_timeout = timeout;
        self
    }

    /// Sets [`slots`](Self::slots).
    #[must_use]
    pub fn slots(mut self, slots: Option<Arc<Semaphore>>) -> Self {
        self.slots = slots;
        self
    }
}

/// The desired state at one revision, rendered and prepared for the target.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The revision rendered.
    pub revision: Revision,
    /// The desired objects.
    pub objects: ObjectSet,
}

/// What one reconcile did.
#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    /// The revision applied.
    pub revision: Revision,
    /// How many objects the plan created, updated, left and pruned.
    pub summary: PlanSummary,
    /// What the target did.
    pub applied: ApplyReport,
    /// Health of the applied objects, when waited for.
    pub health: HealthReport,
    /// Whether the revision was fetched and rendered (false: the last render was reused).
    pub rendered: bool,
    /// How long the reconcile took.
    #[serde(with = "duration_secs")]
    pub duration: Duration,
    /// The objects the plan changed, with the fields that differed (paths only, never
    /// values, so Secrets stay masked).
    pub changes: Vec<ObjectChange>,
    /// Set when the source could not be resolved or fetched and the last good render
    /// was applied instead, so that drift is still corrected while the source is down.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "error_text::serialize"
    )]
    pub source_error: Option<Arc<Error>>,
}

/// One object a reconcile changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectChange {
    /// The object.
    pub id: ObjectId,
    /// `created`, `updated` or `pruned`.
    pub action: &'static str,
    /// For an update, the JSON pointers of the fields that differed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

impl std::fmt::Display for ObjectChange {
    /// `Kind namespace/name (/field, /field)`, for log lines.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ", self.id.kind())?;
        if let Some(namespace) = self.id.namespace() {
            write!(f, "{namespace}/")?;
        }
        write!(f, "{} {}", self.id.name(), self.action)?;
        if !self.fields.is_empty() {
            write!(f, " ({})", self.fields.join(", "))?;
        }
        Ok(())
    }
}

/// What a [`Pipeline`] is doing, for status reports while a reconcile runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Stage {
    /// No reconcile is running.
    #[default]
    Idle,
    /// Resolving, fetching, rendering and comparing.
    Planning,
    /// Applying the plan.
    Applying {
        /// The revision applied.
        revision: Revision,
    },
    /// Waiting for the applied objects to become healthy.
    WaitingForHealth {
        /// The revision applied.
        revision: Revision,
        /// How many objects are waited for.
        objects: usize,
    },
}

/// The digest of the post-build inputs a render was made with.
pub(crate) type InputsDigest = [u8; 32];

/// One source, one renderer, one target: the unit the agent reconciles and embedders
/// drive from their own code.
///
/// The last render is kept (as compact JSON text, a tenth of the parsed objects' size),
/// so a reconcile at an unchanged revision neither fetches nor renders again, but still
/// compares with the target and corrects drift.
pub struct Pipeline {
    source: Arc<dyn Source>,
    renderer: Arc<dyn Renderer>,
    target: Arc<dyn Target>,
    options: PipelineOptions,
    /// Keys and variables read at each reconcile; when set, the renderer is built from
    /// them instead of being `renderer`.
    post_build: Option<PostBuild>,
    /// The last render, with the digest of the post-build inputs it was made with.
    last_render: Mutex<Option<KeptRender>>,
    /// The revision the reconcile in progress (or the last one) resolved, so that a
    /// failure after resolving can say which revision failed.
    resolved: std::sync::Mutex<Option<Revision>>,
    stage: watch::Sender<Stage>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("source", &self.source.describe())
            .field("target", &self.target.describe())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// A pipeline from concrete plug-ins.
    pub fn new(
        source: impl Source + 'static,
        renderer: impl Renderer + 'static,
        target: impl Target + 'static,
    ) -> Self {
        Self::from_dyn(Arc::new(source), Arc::new(renderer), Arc::new(target))
    }

    /// A pipeline from plug-ins chosen at run time (e.g. by configuration).
    pub fn from_dyn(
        source: Arc<dyn Source>,
        renderer: Arc<dyn Renderer>,
        target: Arc<dyn Target>,
    ) -> Self {
        Self {
            source,
            renderer,
            target,
            options: PipelineOptions::default(),
            post_build: None,
            last_render: Mutex::new(None),
            resolved: std::sync::Mutex::new(None),
            stage: watch::Sender::new(Stage::Idle),
        }
    }

    /// Follows what the pipeline is doing (planning, applying, waiting for health).
    pub fn stage(&self) -> watch::Receiver<Stage> {
        self.stage.subscribe()
    }

    /// Sets the options.
    #[must_use]
    pub fn with_options(mut self, options: PipelineOptions) -> Self {
        self.options = options;
        self
    }

    /// Renders with what `post_build` reads at each reconcile (SOPS keys and variables
    /// from files and the target's cluster) instead of the renderer given when the
    /// pipeline was made. The last render is reused only while the revision and what
    /// was read are both unchanged; a post-build input that cannot be read fails the
    /// reconcile before anything is applied.
    #[must_use]
    pub fn with_post_build(mut self, post_build: PostBuild) -> Self {
        self.post_build = Some(post_build);
        self
    }

    /// The options.
    pub fn options(&self) -> &PipelineOptions {
        &self.options
    }

    /// The source.
    pub fn source(&self) -> &dyn Source {
        self.source.as_ref()
    }

    /// The target.
    pub fn target(&self) -> &dyn Target {
        self.target.as_ref()
    }

    /// The newest revision of the source.
    pub async fn resolve(&self) -> Result<Revision, Error> {
        self.source.resolve().await.map_err(|source| Error::Fetch {
            source_name: self.source.describe(),
            source,
        })
    }

    /// Fetches `revision` (or the newest) into a snapshot.
    pub async fn fetch(&self, revision: Option<&Revision>) -> Result<Snapshot, Error> {
        let revision = match revision {
            Some(revision) => revision.clone(),
            None => self.resolve().await?,
        };
        self.source
            .fetch(&revision)
            .await
            .map_err(|source| Error::Fetch {
                source_name: self.source.describe(),
                source,
            })
    }

    /// Renders `revision` (or the newest) and prepares it for the target; reuses the
    /// last render when the revision has not changed.
    pub async fn render(
        &self,
        revision: Option<&Revision>,
    ) -> Result<(Arc<Rendered>, bool), Error> {
        self.set_resolved(None);
        let revision = match revision {
            Some(revision) => revision.clone(),
            None => self.resolve().await?,
        };
        self.set_resolved(Some(revision.clone()));
        let inputs = match &self.post_build {
            Some(post_build) => Some(post_build.read().await?),
            None => None,
        };
        let digest = inputs.as_ref().map(|inputs| inputs.digest);
        let mut last = self.last_render.lock().await;
        if let Some(kept) = last
            .as_ref()
            .filter(|kept| kept.is_of(&revision, digest.as_ref()))
        {
            tracing::debug!(%revision, "revision and inputs unchanged, reusing the last render");
            return Ok((Arc::new(kept.restore()?), false));
        }
        let this_render = match inputs {
            Some(inputs) => crate::postbuild::renderer_with(&inputs.options),
            None => Arc::clone(&self.renderer),
        };
        let snapshot = self.fetch(Some(&revision)).await?;
        let objects = self.render_snapshot(this_render, snapshot).await?;
        let objects = self
            .target
            .prepare(objects)
            .await
            .map_err(|source| self.target_error("preparing objects for", source))?;
        let rendered = Arc::new(Rendered { revision, objects });
        *last = Some(KeptRender::keep(&rendered, digest)?);
        Ok((rendered, true))
    }

    /// The revision the last render resolved, even when the reconcile then failed
    /// (fetching, rendering, applying); `None` when resolving itself failed.
    pub fn resolved(&self) -> Option<Revision> {
        self.resolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_resolved(&self, revision: Option<Revision>) {
        *self
            .resolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = revision;
    }

    /// Compares desired with live: what a reconcile would do.
    pub async fn plan(
        &self,
        revision: Option<&Revision>,
    ) -> Result<(Arc<Rendered>, Plan, bool), Error> {
        let (rendered, fresh) = self.render(revision).await?;
        let plan = self.plan_rendered(&rendered).await?;
        Ok((rendered, plan, fresh))
    }

    /// One reconcile of the newest revision: fetch, render, plan, apply, prune, and wait
    /// for health when asked to.
    pub async fn reconcile(&self) -> Result<SyncReport, Error> {
        self.reconcile_at(None).await
    }

    /// One reconcile of `revision` (or the newest).
    pub async fn reconcile_at(&self, revision: Option<&Revision>) -> Result<SyncReport, Error> {
        self.reconcile_cancellable(revision, &CancellationToken::new())
            .await
    }

    /// One reconcile of `revision` (or the newest) that stops with
    /// [`Error::Cancelled`] as soon as `cancel` is cancelled: while resolving,
    /// fetching, rendering, reading the target or waiting for health. An apply in
    /// progress is finished first, so that no half-applied object is left behind.
    pub async fn reconcile_cancellable(
        &self,
        revision: Option<&Revision>,
        cancel: &CancellationToken,
    ) -> Result<SyncReport, Error> {
        let started = Instant::now();
        let slot = cancellable(cancel, "waiting for a free slot", self.take_slot()).await?;
        let stage = StageGuard::new(&self.stage);
        stage.set(Stage::Planning);
        let planned = cancellable(cancel, "fetching and rendering", self.plan(revision)).await;
        let (rendered, plan, fresh, source_error) = match planned {
            Ok((rendered, plan, fresh)) => (rendered, plan, fresh, None),
            Err(error @ Error::Fetch { .. }) => {
                let Some(last) = self.last_good_render(revision).await else {
                    return Err(error);
                };
                tracing::warn!(
                    revision = %last.revision,
                    error = %crate::error::chain(&error),
                    "the source is unavailable: correcting drift from the last good revision"
                );
                let plan =
                    cancellable(cancel, "reading the target", self.plan_rendered(&last)).await?;
                (last, plan, false, Some(Arc::new(error)))
            }
            Err(error) => return Err(error),
        };
        let summary = plan.summary();
        self.check_empty_prune(&rendered, &summary)?;
        let changes = changes(&plan, self.options.apply);
        stage.set(Stage::Applying {
            revision: rendered.revision.clone(),
        });
        let applied = self
            .target
            .apply(&plan, &self.options.apply)
            .await
            .map_err(|source| self.target_error("applying to", source))?;
        tracing::info!(
            revision = %rendered.revision,
            created = applied.created.len(),
            updated = applied.updated.len(),
            pruned = applied.pruned.len(),
            dry_run = applied.dry_run,
            "reconciled"
        );
        // Waiting for health costs nothing: another app may reconcile meanwhile.
        drop(slot);
        let health = match self.options.health_timeout {
            Some(timeout) if !self.options.apply.dry_run => {
                let ids: Vec<ObjectId> = rendered.objects.ids().cloned().collect();
                stage.set(Stage::WaitingForHealth {
                    revision: rendered.revision.clone(),
                    objects: ids.len(),
                });
                cancellable(
                    cancel,
                    "waiting for health",
                    self.wait_healthy(&ids, timeout),
                )
                .await?
            }
            _ => HealthReport::new(),
        };
        Ok(SyncReport {
            revision: rendered.revision.clone(),
            summary,
            applied,
            health,
            rendered: fresh,
            duration: started.elapsed(),
            changes,
            source_error,
        })
    }

    /// A slot of [`PipelineOptions::slots`], waited for; `None` without a limit.
    async fn take_slot(&self) -> Result<Option<OwnedSemaphorePermit>, Error> {
        let Some(slots) = &self.options.slots else {
            return Ok(None);
        };
        // The semaphore is never closed, so acquiring only waits.
        Ok(Arc::clone(slots).acquire_owned().await.ok())
    }

    /// The last render, when it is of `revision` (or any revision when none is asked
    /// for): what is enforced while the source is down.
    async fn last_good_render(&self, revision: Option<&Revision>) -> Option<Arc<Rendered>> {
        let last = self.last_render.lock().await;
        let kept = last
            .as_ref()
            .filter(|kept| revision.is_none_or(|wanted| wanted == kept.revision()))?;
        match kept.restore() {
            Ok(rendered) => Some(Arc::new(rendered)),
            Err(error) => {
                tracing::error!(%error, "the last render cannot be restored");
                None
            }
        }
    }

    /// Compares a render with what is live.
    async fn plan_rendered(&self, rendered: &Rendered) -> Result<Plan, Error> {
        let live = self
            .target
            .live(&rendered.objects)
            .await
            .map_err(|source| self.target_error("reading", source))?;
        Ok(driftless_diff::plan(
            &rendered.objects,
            &live,
            &self.options.diff,
        ))
    }

    /// Polls the target until every object is healthy, one is degraded, or `timeout`
    /// has passed: the one deadline of a health wait (targets look once per call). The
    /// error names each object still waiting and what it waits for.
    pub async fn wait_healthy(
        &self,
        ids: &[ObjectId],
        timeout: Duration,
    ) -> Result<HealthReport, Error> {
        let deadline = Instant::now() + timeout;
        let mut delay = Duration::from_millis(100);
        loop {
            let report = self
                .target
                .health(ids)
                .await
                .map_err(|source| self.target_error("checking health on", source))?;
            if let Some((id, Health::Degraded(message))) = report
                .iter()
                .find(|(_, h)| matches!(h, Health::Degraded(_)))
            {
                return Err(Error::Degraded {
                    id: id.clone(),
                    message: message.clone(),
                });
            }
            let waiting: Vec<(ObjectId, String)> = report
                .iter()
                .filter_map(|(id, h)| match h {
                    Health::Progressing(why) => Some((id.clone(), why.clone())),
                    Health::Healthy | Health::Degraded(_) => None,
                })
                .collect();
            if waiting.is_empty() {
                return Ok(report);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::HealthTimeout { timeout, waiting });
            }
            tracing::debug!(
                waiting = waiting.len(),
                "waiting for objects to become healthy"
            );
            tokio::time::sleep(delay.min(deadline - now)).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    async fn render_snapshot(
        &self,
        renderer: Arc<dyn Renderer>,
        snapshot: Snapshot,
    ) -> Result<ObjectSet, Error> {
        let path = self.options.path.clone();
        tokio::task::spawn_blocking(move || renderer.render(&snapshot, &path))
            .await
            .map_err(Error::Task)?
            .map_err(|source| Error::Render {
                path: self.options.path.clone(),
                source,
            })
    }

    fn check_empty_prune(&self, rendered: &Rendered, summary: &PlanSummary) -> Result<(), Error> {
        let deletes_everything = rendered.objects.is_empty() && summary.prune > 0;
        if deletes_everything && self.options.apply.prune && !self.options.allow_empty {
            return Err(Error::EmptyRenderWithPrune {
                path: self.options.path.clone(),
                inventory: summary.prune,
            });
        }
        Ok(())
    }

    fn target_error(&self, action: &'static str, source: driftless_core::TargetError) -> Error {
        Error::Target {
            action,
            target: self.target.describe(),
            source,
        }
    }
}

/// The objects `plan` changes as `options` apply it.
fn changes(plan: &Plan, options: ApplyOptions) -> Vec<ObjectChange> {
    plan.changes
        .iter()
        .filter_map(|change| {
            let (action, fields) = match &change.action {
                Action::Create { .. } => ("created", Vec::new()),
                Action::Update { fields, .. } => {
                    ("updated", fields.iter().map(|f| f.path.clone()).collect())
                }
                Action::Prune { .. } if options.prune => ("pruned", Vec::new()),
                Action::Prune { .. } | Action::Unchanged { .. } => return None,
            };
            Some(ObjectChange {
                id: change.id.clone(),
                action,
                fields,
            })
        })
        .collect()
}

/// Publishes the stage, and `Idle` when the reconcile ends however it ends (also when
/// its future is dropped).
struct StageGuard<'a>(&'a watch::Sender<Stage>);

impl<'a> StageGuard<'a> {
    fn new(sender: &'a watch::Sender<Stage>) -> Self {
        Self(sender)
    }

    fn set(&self, stage: Stage) {
        self.0.send_replace(stage);
    }
}

impl Drop for StageGuard<'_> {
    fn drop(&mut self) {
        self.0.send_replace(Stage::Idle);
    }
}

/// Runs `work` until it ends or `cancel` is cancelled, whichever comes first.
async fn cancellable<T>(
    cancel: &CancellationToken,
    stage: &'static str,
    work: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::select! {
        biased;
        () = cancel.cancelled() => Err(Error::Cancelled { stage }),
        result = work => result,
    }
}

mod error_text {
    use std::sync::Arc;

    use crate::Error;

    #[allow(clippy::ref_option)] // serde's `serialize_with` passes a reference
    pub(super) fn serialize<S: serde::Serializer>(
        error: &Option<Arc<Error>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match error {
            Some(error) => s.serialize_str(&crate::error::chain(error.as_ref())),
            None => s.serialize_none(),
        }
    }
}

mod duration_secs {
    use std::time::Duration;

    pub(super) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}
