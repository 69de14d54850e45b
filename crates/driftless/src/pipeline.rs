//! [`Pipeline`]: one reconcile, fetch → render → plan → apply → prune.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use driftless_core::{
    ApplyOptions, ApplyReport, Health, HealthReport, ObjectId, ObjectSet, Plan, PlanSummary,
    Renderer, Revision, Snapshot, Source, Target,
};
use driftless_diff::DiffOptions;
use serde::Serialize;
use tokio::sync::Mutex;

use crate::Error;

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
}

/// One source, one renderer, one target: the unit the agent reconciles and embedders
/// drive from their own code.
///
/// The last render is kept, so a reconcile at an unchanged revision neither fetches
/// nor renders again, but still compares with the target and corrects drift.
pub struct Pipeline {
    source: Arc<dyn Source>,
    renderer: Arc<dyn Renderer>,
    target: Arc<dyn Target>,
    options: PipelineOptions,
    last_render: Mutex<Option<Rendered>>,
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
            last_render: Mutex::new(None),
        }
    }

    /// Sets the options.
    #[must_use]
    pub fn with_options(mut self, options: PipelineOptions) -> Self {
        self.options = options;
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
    pub async fn render(&self, revision: Option<&Revision>) -> Result<(Rendered, bool), Error> {
        let revision = match revision {
            Some(revision) => revision.clone(),
            None => self.resolve().await?,
        };
        let mut last = self.last_render.lock().await;
        if let Some(rendered) = last.as_ref().filter(|r| r.revision == revision) {
            tracing::debug!(%revision, "revision unchanged, reusing the last render");
            return Ok((rendered.clone(), false));
        }
        let snapshot = self.fetch(Some(&revision)).await?;
        let objects = self.render_snapshot(snapshot).await?;
        let objects = self
            .target
            .prepare(objects)
            .await
            .map_err(|source| self.target_error("preparing objects for", source))?;
        let rendered = Rendered { revision, objects };
        *last = Some(rendered.clone());
        Ok((rendered, true))
    }

    /// Compares desired with live: what a reconcile would do.
    pub async fn plan(&self, revision: Option<&Revision>) -> Result<(Rendered, Plan, bool), Error> {
        let (rendered, fresh) = self.render(revision).await?;
        let live = self
            .target
            .live(&rendered.objects)
            .await
            .map_err(|source| self.target_error("reading", source))?;
        let plan = driftless_diff::plan(&rendered.objects, &live, &self.options.diff);
        Ok((rendered, plan, fresh))
    }

    /// One reconcile of the newest revision: fetch, render, plan, apply, prune, and wait
    /// for health when asked to.
    pub async fn reconcile(&self) -> Result<SyncReport, Error> {
        self.reconcile_at(None).await
    }

    /// One reconcile of `revision` (or the newest).
    pub async fn reconcile_at(&self, revision: Option<&Revision>) -> Result<SyncReport, Error> {
        let started = Instant::now();
        let (rendered, plan, fresh) = self.plan(revision).await?;
        let summary = plan.summary();
        self.check_empty_prune(&rendered, &summary)?;
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
        let health = match self.options.health_timeout {
            Some(timeout) if !self.options.apply.dry_run => {
                let ids: Vec<ObjectId> = rendered.objects.ids().cloned().collect();
                self.wait_healthy(&ids, timeout).await?
            }
            _ => HealthReport::new(),
        };
        Ok(SyncReport {
            revision: rendered.revision,
            summary,
            applied,
            health,
            rendered: fresh,
            duration: started.elapsed(),
        })
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

    async fn render_snapshot(&self, snapshot: Snapshot) -> Result<ObjectSet, Error> {
        let renderer = Arc::clone(&self.renderer);
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

mod duration_secs {
    use std::time::Duration;

    pub(super) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}
