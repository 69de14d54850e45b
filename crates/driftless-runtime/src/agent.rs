//! The agent: a set of apps, each with a pipeline and a schedule. One reconcile path,
//! [`Agent::reconcile`], serves the daemon's loops, `--once` and `driftless sync`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use driftless::spec::{SourceRef, SourceSpec};
use driftless::{Pipeline, Revision, SyncReport};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::api::{AppStatus, Condition, Outcome, OutcomeKind};
use crate::auth::ApiAuth;
use crate::config::{AgentConfig, AppConfig};
use crate::error::error_chain;
use crate::history::{AppState, History, NewSync, SyncRecord, SyncResult};
use crate::metrics::Metrics;
use crate::webhook::Follows;
use crate::{Error, dependency_order};

/// The longest wait between retries of a failing app.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The first wait after a failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(2);

/// How an app is scheduled and gated, apart from its [`Pipeline`].
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct AppOptions {
    /// How often to reconcile (and correct drift); default 1 min.
    pub interval: Option<Duration>,
    /// Do not reconcile until resumed.
    pub suspend: bool,
    /// Apps that must be ready before this one reconciles.
    pub depends_on: Vec<String>,
    /// The shared secret verifying push notifications on `POST /hooks/<app>`.
    pub webhook_secret: Option<Vec<u8>>,
    /// The reference the source follows (which pushes concern the app).
    pub reference: SourceRef,
    /// Whether the source has earlier revisions to roll back to (not a local directory).
    pub rollback: bool,
}

impl std::fmt::Debug for AppOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppOptions")
            .field("interval", &self.interval)
            .field("suspend", &self.suspend)
            .field("depends_on", &self.depends_on)
            .field("webhook", &self.webhook_secret.as_ref().map(|_| "<secret>"))
            .field("reference", &self.reference)
            .field("rollback", &self.rollback)
            .finish()
    }
}

impl AppOptions {
    /// Sets [`interval`](Self::interval).
    #[must_use]
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = Some(interval);
        self
    }

    /// Sets [`suspend`](Self::suspend).
    #[must_use]
    pub fn suspend(mut self, suspend: bool) -> Self {
        self.suspend = suspend;
        self
    }

    /// Sets [`depends_on`](Self::depends_on).
    #[must_use]
    pub fn depends_on(mut self, apps: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.depends_on = apps.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`webhook_secret`](Self::webhook_secret).
    #[must_use]
    pub fn webhook_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.webhook_secret = Some(secret.into());
        self
    }

    /// Sets [`reference`](Self::reference).
    #[must_use]
    pub fn reference(mut self, reference: SourceRef) -> Self {
        self.reference = reference;
        self
    }

    /// Sets [`rollback`](Self::rollback).
    #[must_use]
    pub fn rollback(mut self, rollback: bool) -> Self {
        self.rollback = rollback;
        self
    }

    fn interval_or_default(&self) -> Duration {
        self.interval.unwrap_or(Duration::from_secs(60))
    }
}

/// Collects the apps of an [`Agent`].
///
/// ```
/// use driftless::{LocalSource, Pipeline};
/// use driftless::render::AutoRenderer;
/// use driftless::target_dir::DirTarget;
/// use driftless_runtime::{AgentBuilder, AppOptions};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let repo = tempfile::tempdir()?;
/// # std::fs::write(repo.path().join("cm.yaml"),
/// #     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: web}\n")?;
/// # let live = tempfile::tempdir()?;
/// let pipeline = Pipeline::new(
///     LocalSource::new(repo.path()),
///     AutoRenderer::default(),
///     DirTarget::new(live.path())?,
/// );
/// let agent = AgentBuilder::new().app("web", pipeline, AppOptions::default()).build()?;
/// let outcomes = agent.reconcile_all(None, "example").await?;
/// assert!(!outcomes[0].is_failure());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct AgentBuilder {
    apps: Vec<(String, Pipeline, AppOptions)>,
    history: Option<History>,
    auth: ApiAuth,
    leader: Option<watch::Receiver<bool>>,
    shutdown: CancellationToken,
}

impl AgentBuilder {
    /// No apps yet, no history, always the leader.
    pub fn new() -> Self {
        Self::default()
    }

    /// The apps of a configuration, their pipelines opened (sources cache under the
    /// configuration's state directory), their webhook secrets read, and the API's
    /// access rules (the token made in the state directory when none is configured).
    pub async fn from_config(config: &AgentConfig) -> Result<Self, Error> {
        let mut builder = Self::new().api_auth(config.api_auth()?);
        for app in &config.apps {
            let pipeline =
                app.pipeline(&config.cache_dir())
                    .await
                    .map_err(|source| Error::OpenApp {
                        app: app.name.clone(),
                        source: Box::new(source),
                    })?;
            let options = app_options(app)?;
            builder = builder.app(&app.name, pipeline, options);
        }
        Ok(builder)
    }

    /// Adds an app.
    #[must_use]
    pub fn app(mut self, name: impl Into<String>, pipeline: Pipeline, options: AppOptions) -> Self {
        self.apps.push((name.into(), pipeline, options));
        self
    }

    /// Records syncs, the audit journal and suspension/rollback pins in `history`, and
    /// restores what it holds.
    #[must_use]
    pub fn history(mut self, history: History) -> Self {
        self.history = Some(history);
        self
    }

    /// Who may use the HTTP API (default: nobody may mutate, loopback reads).
    #[must_use]
    pub fn api_auth(mut self, auth: ApiAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Reconciles only while `leader` holds `true` (see [`crate::leader`]).
    #[must_use]
    pub fn leader(mut self, leader: watch::Receiver<bool>) -> Self {
        self.leader = Some(leader);
        self
    }

    /// Stops the loops and cancels reconciles in flight when `shutdown` is cancelled.
    #[must_use]
    pub fn shutdown(mut self, shutdown: CancellationToken) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Checks names and dependencies, and restores each app's persisted state.
    pub fn build(self) -> Result<Agent, Error> {
        let mut index = BTreeMap::new();
        for (i, (name, ..)) in self.apps.iter().enumerate() {
            if index.insert(name.clone(), i).is_some() {
                return Err(Error::DuplicateApp(name.clone()));
            }
        }
        for (name, _, options) in &self.apps {
            if let Some(dep) = options.depends_on.iter().find(|d| !index.contains_key(*d)) {
                return Err(Error::UnknownDependency {
                    app: name.clone(),
                    dependency: dep.clone(),
                });
            }
        }
        let graph: Vec<(&str, &[String])> = self
            .apps
            .iter()
            .map(|(name, _, options)| (name.as_str(), options.depends_on.as_slice()))
            .collect();
        let order = dependency_order(&graph).map_err(|cycle| {
            Error::DependencyCycle(cycle.iter().map(|&i| graph[i].0.to_owned()).collect())
        })?;
        let history = self.history.map(Arc::new);
        let mut apps = Vec::with_capacity(self.apps.len());
        for (name, pipeline, options) in self.apps {
            apps.push(Arc::new(App::new(
                name,
                pipeline,
                options,
                history.as_deref(),
            )?));
        }
        let leader = self.leader.unwrap_or_else(|| watch::channel(true).1);
        Ok(Agent {
            apps,
            index,
            order,
            history,
            auth: self.auth,
            metrics: Metrics::new(),
            leader,
            shutdown: self.shutdown,
            ready: AtomicBool::new(false),
        })
    }
}

/// How an app of a configuration is scheduled.
fn app_options(app: &AppConfig) -> Result<AppOptions, Error> {
    let mut options = AppOptions::default()
        .interval(app.interval)
        .suspend(app.suspend)
        .depends_on(app.depends_on.clone())
        .reference(app.source_ref())
        .rollback(!matches!(app.source_spec(), Ok(SourceSpec::Local(_))));
    if let Some(webhook) = &app.webhook {
        let path = &webhook.secret_file;
        let secret = std::fs::read(path).map_err(|source| Error::WebhookSecret {
            app: app.name.clone(),
            path: path.clone(),
            source,
        })?;
        let secret = trim_newlines(secret);
        if secret.is_empty() {
            return Err(Error::EmptyWebhookSecret {
                app: app.name.clone(),
                path: path.clone(),
            });
        }
        options = options.webhook_secret(secret);
    }
    Ok(options)
}

/// A set of apps kept in sync: their loops, status, metrics and history.
pub struct Agent {
    apps: Vec<Arc<App>>,
    index: BTreeMap<String, usize>,
    order: Vec<usize>,
    pub(crate) history: Option<Arc<History>>,
    pub(crate) auth: ApiAuth,
    pub(crate) metrics: Metrics,
    leader: watch::Receiver<bool>,
    shutdown: CancellationToken,
    ready: AtomicBool,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("apps", &self.index.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// One app and its live status.
pub(crate) struct App {
    pub(crate) name: String,
    pub(crate) options: AppOptions,
    pipeline: Pipeline,
    trigger: Notify,
    trigger_reason: Mutex<Option<String>>,
    persisted: Mutex<AppState>,
    pub(crate) status: watch::Sender<AppStatus>,
}

/// Why an operation on an app was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// No app has this name.
    #[error("no app named {0:?}")]
    NotFound(String),
    /// The app's state does not allow it (e.g. suspended, local source).
    #[error("{0}")]
    Conflict(String),
    /// The request is wrong (e.g. an unknown revision).
    #[error("{0}")]
    BadRequest(String),
    /// Something failed inside the agent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Agent {
    /// The app names, in dependency order.
    pub fn app_names(&self) -> Vec<&str> {
        self.order
            .iter()
            .map(|&i| self.apps[i].name.as_str())
            .collect()
    }

    pub(crate) fn app(&self, name: &str) -> Option<&Arc<App>> {
        self.index.get(name).map(|&i| &self.apps[i])
    }

    pub(crate) fn find(&self, name: &str) -> Result<&Arc<App>, Refusal> {
        self.app(name)
            .ok_or_else(|| Refusal::NotFound(name.to_owned()))
    }

    /// The status of every app, in configuration order.
    pub fn statuses(&self) -> Vec<AppStatus> {
        self.apps
            .iter()
            .map(|a| a.status.borrow().clone())
            .collect()
    }

    /// The status of one app.
    pub fn status(&self, name: &str) -> Option<AppStatus> {
        self.app(name).map(|a| a.status.borrow().clone())
    }

    /// Whether the loops are running (for `/readyz`).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Whether the history store can write (true without one): false after a write
    /// failed (e.g. a full disk), until one succeeds.
    pub fn history_writable(&self) -> bool {
        self.history.as_ref().is_none_or(|h| h.is_writable())
    }

    /// The API's access rules.
    pub fn api_auth(&self) -> &ApiAuth {
        &self.auth
    }

    /// The token that stops the agent.
    pub fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Records leadership in the metrics.
    pub fn set_leader(&self, leading: bool) {
        self.metrics.set_leader(leading);
    }

    /// Every app once (or only `only`), dependencies first, through
    /// [`reconcile`](Self::reconcile): suspended apps are left alone, and an app whose
    /// dependency is not ready is skipped. With `only`, the app's dependencies are
    /// neither reconciled nor checked.
    pub async fn reconcile_all(
        &self,
        only: Option<&str>,
        trigger: &str,
    ) -> Result<Vec<Outcome>, Error> {
        if let Some(name) = only {
            let app = self
                .app(name)
                .ok_or_else(|| Error::UnknownApp(name.to_owned()))?;
            return Ok(vec![self.reconcile_app(app, trigger, false).await]);
        }
        let mut outcomes = Vec::with_capacity(self.apps.len());
        for &i in &self.order {
            outcomes.push(self.reconcile_app(&self.apps[i], trigger, true).await);
        }
        Ok(outcomes)
    }

    /// One reconcile of the app `name`, now: the path every entry point takes. A
    /// suspended app or one with a dependency not ready is not reconciled.
    pub async fn reconcile(&self, name: &str, trigger: &str) -> Result<Outcome, Error> {
        let app = self
            .app(name)
            .ok_or_else(|| Error::UnknownApp(name.to_owned()))?;
        Ok(self.reconcile_app(app, trigger, true).await)
    }

    async fn reconcile_app(&self, app: &App, trigger: &str, check_dependencies: bool) -> Outcome {
        if app.suspended() {
            tracing::info!(app = %app.name, "suspended, not reconciled");
            return Outcome::not_run(&app.name, OutcomeKind::Suspended, "suspended");
        }
        if check_dependencies && let Some(waiting) = self.unready_dependency(app) {
            let message = format!("dependency {waiting} is not ready");
            app.status.send_modify(|s| {
                s.ready = false;
                s.conditions = vec![Condition::ready(
                    false,
                    "DependencyNotReady",
                    format!("waiting for {waiting} to be ready at its current revision"),
                )];
            });
            tracing::info!(app = %app.name, dependency = %waiting, "waiting for a dependency");
            return Outcome::not_run(&app.name, OutcomeKind::Skipped, message);
        }
        self.run_pipeline(app, trigger).await
    }

    /// Runs every app's loop until the shutdown token is cancelled, then waits for the
    /// reconciles in flight.
    pub async fn run(self: Arc<Self>) {
        let mut tasks = tokio::task::JoinSet::new();
        for app in &self.apps {
            tasks.spawn(Arc::clone(&self).run_app(Arc::clone(app)));
        }
        self.ready.store(true, Ordering::Relaxed);
        while let Some(joined) = tasks.join_next().await {
            if let Err(error) = joined {
                tracing::error!(%error, "an app task failed");
            }
        }
        self.ready.store(false, Ordering::Relaxed);
    }

    /// One app's loop: interval with jitter, backoff on failure, triggers, leadership,
    /// suspension and dependencies.
    async fn run_app(self: Arc<Self>, app: Arc<App>) {
        let mut leader = self.leader.clone();
        let interval = app.options.interval_or_default();
        let mut delay = Duration::ZERO;
        let mut reason = String::from("startup");
        loop {
            if !delay.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(delay) => reason = "interval".into(),
                    () = app.trigger.notified() => reason = app.take_reason(),
                    () = self.shutdown.cancelled() => return,
                }
            }
            if self.shutdown.is_cancelled() {
                return;
            }
            while !*leader.borrow_and_update() {
                tokio::select! {
                    changed = leader.changed() => if changed.is_err() { return },
                    () = self.shutdown.cancelled() => return,
                }
            }
            let outcome = self.reconcile_app(&app, &reason, true).await;
            delay = match outcome.result {
                OutcomeKind::Succeeded => jitter(interval),
                OutcomeKind::Failed => backoff(app.status.borrow().consecutive_failures, interval),
                OutcomeKind::Suspended => interval,
                OutcomeKind::Skipped => {
                    self.wait_for_dependencies(&app, interval).await;
                    Duration::ZERO
                }
            };
        }
    }

    /// Waits until a dependency's status changes, a trigger, the interval or shutdown.
    async fn wait_for_dependencies(&self, app: &App, interval: Duration) {
        let Some(waiting) = self.unready_dependency(app) else {
            return;
        };
        let Some(dependency) = self.app(&waiting) else {
            return;
        };
        let mut changed = dependency.status.subscribe();
        tokio::select! {
            _ = changed.changed() => {},
            () = app.trigger.notified() => {},
            () = tokio::time::sleep(interval) => {},
            () = self.shutdown.cancelled() => {},
        }
    }

    /// The first dependency of `app` that is not ready.
    fn unready_dependency(&self, app: &App) -> Option<String> {
        app.options
            .depends_on
            .iter()
            .find(|dep| self.app(dep).is_none_or(|d| !d.status.borrow().ready))
            .cloned()
    }

    /// Runs the pipeline, records the sync, updates metrics and status.
    async fn run_pipeline(&self, app: &App, trigger: &str) -> Outcome {
        let name = app.name.clone();
        app.status.send_modify(|s| s.reconciling = true);
        let started = SystemTime::now();
        let clock = Instant::now();
        let pinned = app.pinned();
        // Shutdown cancels the reconcile in flight (fetch, render, health wait).
        let cancel = self.shutdown.child_token();
        let result = app
            .pipeline
            .reconcile_cancellable(pinned.as_ref(), &cancel)
            .await;
        let elapsed = clock.elapsed();
        let sync = match &result {
            Ok(report) => new_sync(&name, trigger, started, report),
            Err(error) => NewSync {
                app: name.clone(),
                revision: pinned.as_ref().map(ToString::to_string),
                started,
                finished: SystemTime::now(),
                result: SyncResult::Failed,
                trigger: trigger.to_owned(),
                error: Some(error_chain(error)),
                ..NewSync::default()
            },
        };
        let record = self.record(&sync).await;
        self.metrics.reconciled(&name, result.is_ok(), elapsed);
        match result {
            Ok(report) => {
                self.succeeded(app, &report, record);
                outcome_of(&name, &sync, elapsed)
            }
            Err(error) => {
                let message = error_chain(&error);
                tracing::error!(app = %name, error = %message, "reconcile failed");
                app.status.send_modify(|s| {
                    s.ready = false;
                    s.consecutive_failures += 1;
                    s.reconciling = false;
                    s.conditions = vec![Condition::ready(
                        false,
                        "ReconciliationFailed",
                        message.clone(),
                    )];
                    if record.is_some() {
                        s.last_sync = record;
                    }
                });
                outcome_of(&name, &sync, elapsed)
            }
        }
    }

    fn succeeded(&self, app: &App, report: &SyncReport, record: Option<SyncRecord>) {
        let name = &app.name;
        let previous = app.status.borrow().revision.clone();
        let revision = report.revision.to_string();
        let objects = report.applied.created.len()
            + report.applied.updated.len()
            + report.applied.unchanged.len();
        self.metrics
            .applied(name, previous.as_deref(), &revision, objects);
        let changed = report.applied.created.len()
            + report.applied.updated.len()
            + report.applied.pruned.len();
        if !report.rendered && changed > 0 {
            tracing::warn!(app = %name, %revision, objects = changed, "drift corrected");
            self.metrics.drift_corrected(name, changed);
        }
        app.status.send_modify(|s| {
            s.revision = Some(revision.clone());
            s.ready = true;
            s.objects = objects;
            s.consecutive_failures = 0;
            s.reconciling = false;
            s.conditions = vec![Condition::ready(
                true,
                "ReconciliationSucceeded",
                format!("applied {revision}"),
            )];
            if record.is_some() {
                s.last_sync = record;
            }
        });
    }

    /// Records a sync when there is a history store; a failure is logged, not returned.
    async fn record(&self, sync: &NewSync) -> Option<SyncRecord> {
        let history = Arc::clone(self.history.as_ref()?);
        let sync = sync.clone();
        let app = sync.app.clone();
        match tokio::task::spawn_blocking(move || history.record_sync(&sync)).await {
            Ok(Ok(record)) => Some(record),
            Ok(Err(error)) => {
                tracing::error!(%app, error = %error_chain(&error), "cannot record the sync");
                None
            }
            Err(error) => {
                tracing::error!(%app, %error, "cannot record the sync");
                None
            }
        }
    }

    /// Appends to the audit journal; a failure is logged, not returned.
    pub(crate) async fn audit(&self, app: &str, action: &str, actor: &str, detail: Option<String>) {
        let Some(history) = self.history.clone() else {
            return;
        };
        let (app, action, actor) = (app.to_owned(), action.to_owned(), actor.to_owned());
        let result = tokio::task::spawn_blocking(move || {
            history.audit(&app, &action, &actor, detail.as_deref())
        })
        .await;
        match result {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::error!(error = %error_chain(&error), "cannot write the audit journal");
            }
            Err(error) => tracing::error!(%error, "cannot write the audit journal"),
        }
    }

    /// Asks the app's loop to reconcile at once. A suspended app is refused.
    pub fn trigger(&self, name: &str, reason: &str) -> Result<(), Refusal> {
        let app = self.find(name)?;
        if app.suspended() {
            return Err(Refusal::Conflict(format!(
                "{name} is suspended: resume it first"
            )));
        }
        app.trigger(reason);
        Ok(())
    }

    /// Suspends or resumes the app `name` (resume also drops a rollback pin),
    /// persistently when there is a history store. An app suspended by its
    /// configuration cannot be resumed here.
    pub async fn set_suspended(&self, name: &str, suspended: bool) -> Result<AppStatus, Refusal> {
        let app = self.find(name)?;
        if !suspended && app.options.suspend {
            return Err(Refusal::Conflict(format!(
                "{name} is suspended by the configuration (suspend: true): change it there"
            )));
        }
        let state = {
            let mut persisted = lock(&app.persisted);
            persisted.suspended = suspended;
            if !suspended {
                persisted.pinned = None;
            }
            persisted.clone()
        };
        self.persist(app, &state).await?;
        app.status.send_modify(|s| {
            s.suspended = suspended || app.options.suspend;
            s.pinned.clone_from(&state.pinned);
        });
        if !suspended {
            app.trigger("resume");
        }
        Ok(app.status.borrow().clone())
    }

    /// Pins the app `name` to `revision` (a full revision or a unique prefix of one it
    /// applied before) until resumed, and reconciles at once.
    pub async fn rollback(&self, name: &str, revision: &str) -> Result<AppStatus, Refusal> {
        let app = self.find(name)?;
        if !app.options.rollback {
            return Err(Refusal::Conflict(format!(
                "{} is a local directory: it has no earlier revisions to roll back to",
                app.status.borrow().source
            )));
        }
        let Some(history) = self.history.clone() else {
            return Err(Refusal::Conflict(format!(
                "{name} keeps no history: there is no applied revision to roll back to"
            )));
        };
        let app_name = name.to_owned();
        let applied = tokio::task::spawn_blocking(move || history.applied_revisions(&app_name))
            .await
            .map_err(|e| Refusal::Internal(e.into()))?
            .map_err(|e| Refusal::Internal(e.into()))?;
        let full = unique_revision(&applied, revision, name)?;
        let state = {
            let mut persisted = lock(&app.persisted);
            persisted.pinned = Some(full.clone());
            persisted.clone()
        };
        self.persist(app, &state).await?;
        app.status.send_modify(|s| s.pinned = Some(full.clone()));
        app.trigger("rollback");
        Ok(app.status.borrow().clone())
    }

    async fn persist(&self, app: &App, state: &AppState) -> Result<(), Refusal> {
        let Some(history) = self.history.clone() else {
            return Ok(());
        };
        let (name, state) = (app.name.clone(), state.clone());
        tokio::task::spawn_blocking(move || history.set_app_state(&name, &state))
            .await
            .map_err(|e| Refusal::Internal(e.into()))?
            .map_err(|e| Refusal::Internal(e.into()))
    }
}

/// The one revision of `applied` that `given` names in full or by a prefix of its
/// commit id (7 characters or more).
fn unique_revision(applied: &[String], given: &str, app: &str) -> Result<String, Refusal> {
    let matches: Vec<&String> = applied
        .iter()
        .filter(|r| {
            *r == given
                || r.parse::<Revision>()
                    .is_ok_and(|p| given.len() >= 7 && p.hex().starts_with(given))
        })
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Refusal::BadRequest(format!(
            "{given} is not a revision {app} applied before (see its history)"
        ))),
        _ => Err(Refusal::BadRequest(format!(
            "{given} matches several revisions; give more of it"
        ))),
    }
}

impl App {
    fn new(
        name: String,
        pipeline: Pipeline,
        options: AppOptions,
        history: Option<&History>,
    ) -> Result<Self, Error> {
        let (persisted, last_sync, last_ok) = match history {
            Some(history) => (
                history.app_state(&name)?,
                history.last_sync(&name, None)?,
                history.last_sync(&name, Some(SyncResult::Succeeded))?,
            ),
            None => (AppState::default(), None, None),
        };
        let status = AppStatus {
            name: name.clone(),
            source: pipeline.source().describe(),
            target: pipeline.target().describe(),
            revision: last_ok.and_then(|s| s.revision),
            ready: false,
            suspended: options.suspend || persisted.suspended,
            pinned: persisted.pinned.clone(),
            reconciling: false,
            objects: 0,
            consecutive_failures: 0,
            conditions: vec![Condition::ready(false, "Starting", "not reconciled yet")],
            last_sync,
        };
        Ok(Self {
            name,
            options,
            pipeline,
            trigger: Notify::new(),
            trigger_reason: Mutex::new(None),
            persisted: Mutex::new(persisted),
            status: watch::Sender::new(status),
        })
    }

    /// Asks the app's task to reconcile at once.
    pub(crate) fn trigger(&self, reason: &str) {
        *lock(&self.trigger_reason) = Some(reason.to_owned());
        self.trigger.notify_one();
    }

    fn take_reason(&self) -> String {
        lock(&self.trigger_reason)
            .take()
            .unwrap_or_else(|| "trigger".into())
    }

    pub(crate) fn suspended(&self) -> bool {
        self.options.suspend || lock(&self.persisted).suspended
    }

    fn pinned(&self) -> Option<Revision> {
        let pinned = lock(&self.persisted).pinned.clone()?;
        match pinned.parse() {
            Ok(revision) => Some(revision),
            Err(error) => {
                tracing::error!(app = %self.name, %pinned, %error, "ignoring an invalid pin");
                None
            }
        }
    }

    /// Which pushes concern this app.
    pub(crate) fn follows(&self) -> Follows {
        match &self.options.reference {
            SourceRef::Branch(branch)
            | SourceRef::Commit {
                branch: Some(branch),
                ..
            } => Follows::Branch(branch.clone()),
            SourceRef::Tag(_) | SourceRef::Semver(_) => Follows::Tags,
            SourceRef::Commit { branch: None, .. } => Follows::Anything,
            // The remote's default branch: the one the last applied revision came from.
            _ => self
                .status
                .borrow()
                .revision
                .as_deref()
                .and_then(|r| r.parse::<Revision>().ok())
                .and_then(|r| r.reference().map(str::to_owned))
                .map_or(Follows::Anything, Follows::Branch),
        }
    }
}

fn new_sync(app: &str, trigger: &str, started: SystemTime, report: &SyncReport) -> NewSync {
    NewSync {
        app: app.to_owned(),
        revision: Some(report.revision.to_string()),
        started,
        finished: SystemTime::now(),
        result: SyncResult::Succeeded,
        trigger: trigger.to_owned(),
        created: report.applied.created.len(),
        updated: report.applied.updated.len(),
        pruned: report.applied.pruned.len(),
        unchanged: report.applied.unchanged.len(),
        rendered: report.rendered,
        error: None,
    }
}

fn outcome_of(app: &str, sync: &NewSync, elapsed: Duration) -> Outcome {
    Outcome {
        app: app.to_owned(),
        result: match sync.result {
            SyncResult::Succeeded => OutcomeKind::Succeeded,
            SyncResult::Failed => OutcomeKind::Failed,
        },
        revision: sync.revision.clone(),
        created: sync.created,
        updated: sync.updated,
        pruned: sync.pruned,
        unchanged: sync.unchanged,
        error: sync.error.clone(),
        duration_seconds: elapsed.as_secs_f64(),
    }
}

/// The interval, moved by up to ±10 % so that apps do not reconcile in lockstep.
fn jitter(interval: Duration) -> Duration {
    let factor = 0.9 + fastrand::f64() * 0.2;
    interval.mul_f64(factor)
}

/// 2 s, 4 s, 8 s… after consecutive failures, never longer than the interval or 5 min.
fn backoff(failures: u32, interval: Duration) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    let delay = FIRST_BACKOFF.saturating_mul(1 << exponent);
    delay
        .min(interval.min(MAX_BACKOFF))
        .max(Duration::from_millis(100))
}

fn trim_newlines(mut secret: Vec<u8>) -> Vec<u8> {
    while secret.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        secret.pop();
    }
    secret
}

/// Locks a mutex that is never held across an await; a poisoned lock still holds valid
/// data (every critical section only assigns fields).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_interval() {
        let hour = Duration::from_secs(3600);
        assert_eq!(backoff(1, hour), Duration::from_secs(2));
        assert_eq!(backoff(2, hour), Duration::from_secs(4));
        assert_eq!(backoff(5, hour), Duration::from_secs(32));
        assert_eq!(backoff(30, hour), MAX_BACKOFF);
        assert_eq!(
            backoff(30, Duration::from_secs(10)),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..100 {
            let d = jitter(Duration::from_secs(100));
            assert!(
                d >= Duration::from_secs(90) && d <= Duration::from_secs(110),
                "{d:?}"
            );
        }
    }

    #[test]
    fn rollback_revisions_match_in_full_or_by_prefix() {
        let applied = vec![
            "main@sha1:0123456789abcdef0123456789abcdef01234567".to_owned(),
            "main@sha1:0123456f00000000000000000000000000000000".to_owned(),
        ];
        assert_eq!(
            unique_revision(&applied, "01234567", "web").unwrap(),
            applied[0]
        );
        assert!(matches!(
            unique_revision(&applied, "012345", "web"),
            Err(Refusal::BadRequest(_))
        ));
        assert!(matches!(
            unique_revision(&applied, "0123456", "web"),
            Err(Refusal::BadRequest(m)) if m.contains("several")
        ));
    }
}
