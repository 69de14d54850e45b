//! The agent: a set of apps, each with a pipeline and a schedule. One reconcile path,
//! [`Agent::reconcile`], serves the daemon's loops, `--once` and `driftless sync`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use driftless::core::TargetEvent;
use driftless::spec::{SourceRef, SourceSpec};
use driftless::{Pipeline, Revision, Stage, SyncReport};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::api::{AppStatus, Condition, Outcome, OutcomeKind};
use crate::auth::ApiAuth;
use crate::config::{AgentConfig, AppConfig};
use crate::error::error_chain;
use crate::history::{AppState, History, NewSync, SyncRecord, SyncResult};
use crate::metrics::Metrics;
use crate::shard::Membership;
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
    /// What the app is made from (e.g. its configuration): a reload keeps an app whose
    /// fingerprint did not change, and restarts the others.
    pub fingerprint: Option<String>,
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
            .field("fingerprint", &self.fingerprint.is_some())
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

    /// Sets [`fingerprint`](Self::fingerprint).
    #[must_use]
    pub fn fingerprint(mut self, fingerprint: impl Into<String>) -> Self {
        self.fingerprint = Some(fingerprint.into());
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
    shard: Option<watch::Receiver<Membership>>,
    shutdown: CancellationToken,
}

impl AgentBuilder {
    /// No apps yet, no history, always the leader.
    pub fn new() -> Self {
        Self::default()
    }

    /// The apps of a configuration, their pipelines opened (sources cache under the
    /// configuration's state directory; targets on one cluster share a connection; at
    /// most `concurrency` reconcile at once), their webhook secrets read, and the API's
    /// access rules (the token made in the state directory when none is configured).
    pub async fn from_config(config: &AgentConfig) -> Result<Self, Error> {
        let mut builder = Self::new().api_auth(config.api_auth()?);
        // One connection per cluster and one set of reconcile slots for all the apps.
        let shared = config.shared();
        for app in &config.apps {
            let pipeline = app
                .pipeline_sharing(&config.cache_dir(), &shared)
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

    /// Reconciles only the apps `shard` gives this replica, and stops an app (cancelling
    /// its reconcile in flight) as soon as it does not (see [`crate::shard`]).
    #[must_use]
    pub fn shard(mut self, shard: watch::Receiver<Membership>) -> Self {
        self.shard = Some(shard);
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
        check_apps(&self.apps)?;
        let history = self.history.map(Arc::new);
        let mut apps = Vec::with_capacity(self.apps.len());
        for (name, pipeline, options) in self.apps {
            let app = App::new(name, pipeline, options, history.as_deref(), &self.shutdown)?;
            apps.push(Arc::new(app));
        }
        let leader = self.leader.unwrap_or_else(|| watch::channel(true).1);
        let (spawn, spawned) = tokio::sync::mpsc::unbounded_channel();
        Ok(Agent {
            apps: RwLock::new(Arc::new(AppSet::new(apps))),
            removed: Mutex::new(Vec::new()),
            spawn,
            spawned: tokio::sync::Mutex::new(spawned),
            history,
            auth: self.auth,
            metrics: Metrics::new(),
            leader,
            shard: self.shard,
            shutdown: self.shutdown,
            ready: AtomicBool::new(false),
        })
    }
}

/// Unique names, known dependencies, no cycle.
fn check_apps(apps: &[(String, Pipeline, AppOptions)]) -> Result<(), Error> {
    let mut names = BTreeSet::new();
    for (name, ..) in apps {
        if !names.insert(name.as_str()) {
            return Err(Error::DuplicateApp(name.clone()));
        }
    }
    for (name, _, options) in apps {
        if let Some(dep) = options
            .depends_on
            .iter()
            .find(|d| !names.contains(d.as_str()))
        {
            return Err(Error::UnknownDependency {
                app: name.clone(),
                dependency: dep.clone(),
            });
        }
    }
    let graph: Vec<(&str, &[String])> = apps
        .iter()
        .map(|(name, _, options)| (name.as_str(), options.depends_on.as_slice()))
        .collect();
    dependency_order(&graph).map_err(|cycle| {
        Error::DependencyCycle(cycle.iter().map(|&i| graph[i].0.to_owned()).collect())
    })?;
    Ok(())
}

/// The apps of an agent at one time; replaced whole by a reload.
struct AppSet {
    apps: Vec<Arc<App>>,
    index: BTreeMap<String, usize>,
    order: Vec<usize>,
    /// Each app's shard key: apps joined by `dependsOn` share one.
    shard_keys: BTreeMap<String, String>,
}

impl AppSet {
    /// Apps already checked by [`check_apps`].
    fn new(apps: Vec<Arc<App>>) -> Self {
        let index = apps
            .iter()
            .enumerate()
            .map(|(i, app)| (app.name.clone(), i))
            .collect();
        let graph: Vec<(&str, &[String])> = apps
            .iter()
            .map(|app| (app.name.as_str(), app.options.depends_on.as_slice()))
            .collect();
        let order = dependency_order(&graph).unwrap_or_else(|_| (0..apps.len()).collect());
        let shard_keys = crate::shard::group_keys(&graph);
        Self {
            apps,
            index,
            order,
            shard_keys,
        }
    }

    fn get(&self, name: &str) -> Option<&Arc<App>> {
        self.index.get(name).map(|&i| &self.apps[i])
    }

    fn in_order(&self) -> impl Iterator<Item = &Arc<App>> {
        self.order.iter().map(|&i| &self.apps[i])
    }
}

/// An app a reload removed: the agent no longer reconciles it, and leaves its objects
/// in place.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovedApp {
    /// The app.
    pub name: String,
    /// When it was removed, RFC 3339 (UTC).
    pub removed: String,
    /// The revision it had applied last, when any.
    pub revision: Option<String>,
    /// How many objects it managed (left in place).
    pub objects: usize,
}

/// What a reload changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reloaded {
    /// Apps that are new.
    pub added: Vec<String>,
    /// Apps whose definition changed (restarted with the new one).
    pub changed: Vec<String>,
    /// Apps that are gone.
    pub removed: Vec<String>,
    /// Apps left as they were.
    pub unchanged: Vec<String>,
}

/// How an app of a configuration is scheduled.
fn app_options(app: &AppConfig) -> Result<AppOptions, Error> {
    let mut options = AppOptions::default()
        .interval(app.interval)
        .suspend(app.suspend)
        .depends_on(app.depends_on.clone())
        .reference(app.source_ref())
        .rollback(!matches!(app.source_spec(), Ok(SourceSpec::Local(_))))
        .fingerprint(serde_json::to_string(app).unwrap_or_default());
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
    apps: RwLock<Arc<AppSet>>,
    removed: Mutex<Vec<RemovedApp>>,
    /// Apps added by a reload, for [`Agent::run`] to start.
    spawn: tokio::sync::mpsc::UnboundedSender<Arc<App>>,
    spawned: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Arc<App>>>,
    pub(crate) history: Option<Arc<History>>,
    pub(crate) auth: ApiAuth,
    pub(crate) metrics: Metrics,
    leader: watch::Receiver<bool>,
    /// Which apps are this replica's, when the apps are sharded over replicas.
    shard: Option<watch::Receiver<Membership>>,
    shutdown: CancellationToken,
    ready: AtomicBool,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("apps", &self.app_names())
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
    /// How many reconciles have started.
    started: std::sync::atomic::AtomicU64,
    /// The number and outcome of the last reconcile that ended.
    ended: watch::Sender<(u64, Option<Outcome>)>,
    /// Stops this app's loop and its reconcile in flight (shutdown, or a reload that
    /// removed or replaced it).
    stop: CancellationToken,
    /// What the app was made from, to tell a changed definition on reload (`None`:
    /// always replaced).
    pub(crate) fingerprint: Option<String>,
}

/// Why an operation on an app was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// No app has this name.
    #[error("no app named {0:?}")]
    NotFound(String),
    /// The app was removed by a reload.
    #[error("{0}")]
    Gone(String),
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
    fn app_set(&self) -> Arc<AppSet> {
        Arc::clone(
            &self
                .apps
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The app names, in dependency order.
    pub fn app_names(&self) -> Vec<String> {
        self.app_set().in_order().map(|a| a.name.clone()).collect()
    }

    pub(crate) fn app(&self, name: &str) -> Option<Arc<App>> {
        self.app_set().get(name).cloned()
    }

    pub(crate) fn find(&self, name: &str) -> Result<Arc<App>, Refusal> {
        self.app(name).ok_or_else(|| {
            let removed = lock(&self.removed)
                .iter()
                .rev()
                .find(|r| r.name == name)
                .cloned();
            match removed {
                Some(removed) => Refusal::Gone(format!(
                    "{name} was removed from the configuration at {}; its objects are left in place",
                    removed.removed
                )),
                None => Refusal::NotFound(name.to_owned()),
            }
        })
    }

    /// The status of every app, in configuration order.
    pub fn statuses(&self) -> Vec<AppStatus> {
        self.app_set()
            .apps
            .iter()
            .map(|a| a.status.borrow().clone())
            .collect()
    }

    /// The status of one app.
    pub fn status(&self, name: &str) -> Option<AppStatus> {
        self.app(name).map(|a| a.status.borrow().clone())
    }

    /// Apps removed by reloads since the agent started, oldest first.
    pub fn removed(&self) -> Vec<RemovedApp> {
        lock(&self.removed).clone()
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
            return Ok(vec![self.reconcile_app(&app, trigger, false).await]);
        }
        let apps = self.app_set();
        let mut outcomes = Vec::with_capacity(apps.apps.len());
        for app in apps.in_order() {
            outcomes.push(self.reconcile_app(app, trigger, true).await);
        }
        Ok(outcomes)
    }

    /// One reconcile of the app `name`, now: the path every entry point takes. A
    /// suspended app or one with a dependency not ready is not reconciled.
    pub async fn reconcile(&self, name: &str, trigger: &str) -> Result<Outcome, Error> {
        let app = self
            .app(name)
            .ok_or_else(|| Error::UnknownApp(name.to_owned()))?;
        Ok(self.reconcile_app(&app, trigger, true).await)
    }

    async fn reconcile_app(&self, app: &App, trigger: &str, check_dependencies: bool) -> Outcome {
        let number = app.started.fetch_add(1, Ordering::SeqCst) + 1;
        let outcome = self.gate_and_run(app, trigger, check_dependencies).await;
        app.ended.send_replace((number, Some(outcome.clone())));
        outcome
    }

    async fn gate_and_run(&self, app: &App, trigger: &str, check_dependencies: bool) -> Outcome {
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

    /// Runs every app's loop (and those a reload adds) until the shutdown token is
    /// cancelled, then waits for the reconciles in flight.
    pub async fn run(self: Arc<Self>) {
        let mut tasks = tokio::task::JoinSet::new();
        for app in &self.app_set().apps {
            tasks.spawn(Arc::clone(&self).run_app(Arc::clone(app)));
        }
        self.ready.store(true, Ordering::Relaxed);
        let mut spawned = self.spawned.lock().await;
        loop {
            tokio::select! {
                Some(app) = spawned.recv() => {
                    tasks.spawn(Arc::clone(&self).run_app(app));
                }
                Some(joined) = tasks.join_next() => {
                    if let Err(error) = joined {
                        tracing::error!(%error, "an app task failed");
                    }
                }
                () = self.shutdown.cancelled() => break,
            }
        }
        while let Some(joined) = tasks.join_next().await {
            if let Err(error) = joined {
                tracing::error!(%error, "an app task failed");
            }
        }
        self.ready.store(false, Ordering::Relaxed);
    }

    /// Replaces the apps with those of `builder` (its history, leader and shutdown are
    /// not used): new apps start, apps whose definition changed restart with the new
    /// one, apps that are gone stop and leave their objects in place (reported by
    /// [`removed`](Self::removed) and a log line). Nothing changes when the new set is
    /// invalid.
    pub fn reload(&self, builder: AgentBuilder) -> Result<Reloaded, Error> {
        check_apps(&builder.apps)?;
        let current = self.app_set();
        let mut reloaded = Reloaded::default();
        let mut apps = Vec::with_capacity(builder.apps.len());
        let mut started = Vec::new();
        for (name, pipeline, options) in builder.apps {
            if let Some(existing) = current.get(&name) {
                if existing.fingerprint.is_some() && existing.fingerprint == options.fingerprint {
                    reloaded.unchanged.push(name);
                    apps.push(Arc::clone(existing));
                    continue;
                }
                reloaded.changed.push(name.clone());
            } else {
                reloaded.added.push(name.clone());
            }
            let app = Arc::new(App::new(
                name,
                pipeline,
                options,
                self.history.as_deref(),
                &self.shutdown,
            )?);
            started.push(Arc::clone(&app));
            apps.push(app);
        }
        let next = AppSet::new(apps);
        for app in &current.apps {
            if next.get(&app.name).is_some_and(|n| Arc::ptr_eq(n, app)) {
                continue;
            }
            app.stop.cancel();
            if next.get(&app.name).is_none() {
                let status = app.status.borrow().clone();
                tracing::warn!(
                    app = %app.name,
                    objects = status.objects,
                    "app removed from the configuration: no longer reconciled, its objects are left in place"
                );
                lock(&self.removed).push(RemovedApp {
                    name: app.name.clone(),
                    removed: crate::history::rfc3339(SystemTime::now()),
                    revision: status.revision,
                    objects: status.objects,
                });
                reloaded.removed.push(app.name.clone());
            }
        }
        *self
            .apps
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(next);
        for app in started {
            // `run` is gone only at shutdown, when nothing needs to start.
            let _ = self.spawn.send(app);
        }
        tracing::info!(
            added = ?reloaded.added,
            changed = ?reloaded.changed,
            removed = ?reloaded.removed,
            "configuration reloaded"
        );
        Ok(reloaded)
    }

    /// One app's loop: interval with jitter, backoff on failure, triggers, leadership,
    /// suspension and dependencies.
    async fn run_app(self: Arc<Self>, app: Arc<App>) {
        // Drift made by someone else is corrected at once, not at the next interval.
        let _drift = crate::drift::watch(&self, &app.name, app.pipeline.target());
        let mut held = false;
        Arc::clone(&self).run_app_loop(&app, &mut held).await;
        if held {
            self.hand_off(&app, "stopped").await;
        }
    }

    async fn run_app_loop(self: Arc<Self>, app: &App, held: &mut bool) {
        let mut leader = self.leader.clone();
        let interval = app.options.interval_or_default();
        let mut delay = Duration::ZERO;
        let mut reason = String::from("startup");
        loop {
            if !delay.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(delay) => reason = "interval".into(),
                    () = app.trigger.notified() => reason = app.take_reason(),
                    () = app.stop.cancelled() => return,
                    () = self.until_lost(app) => {}
                }
            }
            if app.stop.is_cancelled() {
                return;
            }
            while !*leader.borrow_and_update() {
                tokio::select! {
                    changed = leader.changed() => if changed.is_err() { return },
                    () = app.stop.cancelled() => return,
                }
            }
            if !self.owns(app) {
                if !self.take_over(app, held).await {
                    return;
                }
                reason = "sharding".into();
            }
            let outcome = self.reconcile_app(app, &reason, true).await;
            delay = match outcome.result {
                OutcomeKind::Succeeded => jitter(interval),
                OutcomeKind::Failed => backoff(app.status.borrow().consecutive_failures, interval),
                OutcomeKind::Suspended => interval,
                OutcomeKind::Skipped => {
                    self.wait_for_dependencies(app, interval).await;
                    Duration::ZERO
                }
            };
        }
    }

    /// Sharded: the app is not (or no longer) this replica's. Records the hand-off when it
    /// held it (its reconciles have ended), waits until it is this replica's again and
    /// records that before any reconcile. `false`: the app stopped first.
    async fn take_over(&self, app: &App, held: &mut bool) -> bool {
        let Some(mut shard) = self.shard.clone() else {
            return true;
        };
        if std::mem::take(held) {
            self.hand_off(app, "moved").await;
        }
        let key = self.shard_key(&app.name);
        tokio::select! {
            owned = crate::shard::wait_owned(&mut shard, &key) => if !owned { return false },
            () = app.stop.cancelled() => return false,
        }
        let view = shard.borrow().clone();
        tracing::info!(app = %app.name, members = ?view.members(), "reconciling this app on this replica");
        self.audit(
            &app.name,
            "shard-acquired",
            &format!("shard:{}", view.me()),
            Some(view.members().join(",")),
        )
        .await;
        *held = true;
        true
    }

    /// Records that this replica stopped reconciling `app` (its reconciles have ended).
    async fn hand_off(&self, app: &App, why: &str) {
        let Some(shard) = &self.shard else { return };
        let me = shard.borrow().me().to_owned();
        tracing::info!(app = %app.name, "no longer reconciling this app on this replica ({why})");
        self.audit(
            &app.name,
            "shard-released",
            &format!("shard:{me}"),
            Some(why.to_owned()),
        )
        .await;
    }

    /// The shard key of the app `name` (its name, or its dependency group's).
    fn shard_key(&self, name: &str) -> String {
        self.app_set()
            .shard_keys
            .get(name)
            .cloned()
            .unwrap_or_else(|| name.to_owned())
    }

    /// Whether this replica reconciles `app` now: always, unless the apps are sharded.
    fn owns(&self, app: &App) -> bool {
        self.shard
            .as_ref()
            .is_none_or(|shard| shard.borrow().owns(&self.shard_key(&app.name)))
    }

    /// Returns once `app` is not this replica's (never, unless the apps are sharded).
    async fn until_lost(&self, app: &App) {
        match self.shard.clone() {
            Some(mut shard) => {
                crate::shard::wait_lost(&mut shard, &self.shard_key(&app.name)).await;
            }
            None => std::future::pending().await,
        }
    }

    /// Why `app` is not reconciled here when another replica does it (or none can now).
    fn reconciled_elsewhere(&self, app: &App) -> Option<String> {
        let view = self.shard.as_ref()?.borrow().clone();
        let key = self.shard_key(&app.name);
        if view.owns(&key) {
            return None;
        }
        Some(match view.owner(&key) {
            Some(owner) if view.is_active() && owner != view.me() => {
                format!("{} is reconciled by replica {owner}: ask it", app.name)
            }
            _ => format!(
                "this replica ({}) does not reconcile {} now: it is joining the shard group or cannot reach the API server",
                view.me(),
                app.name
            ),
        })
    }

    /// Waits until a dependency's status changes, a trigger, the interval, shutdown or
    /// the app moving to another replica.
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
            () = app.stop.cancelled() => {},
            () = self.until_lost(app) => {},
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

    /// Runs the pipeline, records the sync, updates metrics and status. Every log line
    /// of the reconcile carries the app's name (a span with the `app` field).
    async fn run_pipeline(&self, app: &App, trigger: &str) -> Outcome {
        // At ERROR level so that no filter disables it: a span a filter turns off takes its
        // fields with it, and a `RUST_LOG=warn` failure line would not name its app.
        let span = tracing::error_span!("reconcile", app = %app.name, trigger = %trigger);
        self.run_pipeline_in_span(app, trigger)
            .instrument(span)
            .await
    }

    async fn run_pipeline_in_span(&self, app: &App, trigger: &str) -> Outcome {
        let name = app.name.clone();
        app.status.send_modify(|s| s.reconciling = true);
        let started = SystemTime::now();
        let clock = Instant::now();
        let pinned = app.pinned();
        // Shutdown cancels the reconcile in flight (fetch, render, health wait), and so
        // does a newer revision appearing while we wait for health.
        let cancel = app.stop.child_token();
        let ended = tokio::select! {
            result = app.pipeline.reconcile_cancellable(pinned.as_ref(), &cancel) => result,
            newer = self.supervise(app, pinned.is_none()) => {
                tracing::info!(revision = %newer, "a newer revision: the health wait is cancelled");
                // Reconcile again at once, at the newer revision.
                app.trigger("newer revision");
                Err(driftless::Error::Cancelled { stage: "waiting for health" })
            }
            // Another replica takes the app over: stop before it starts.
            () = self.until_lost(app) => {
                tracing::warn!("the app moves to another replica: the reconcile in flight is cancelled");
                Err(driftless::Error::Cancelled { stage: "handing the app to another replica" })
            }
        };
        let elapsed = clock.elapsed();
        let mut sync = match &ended {
            Ok(report) => new_sync(&name, trigger, started, report),
            Err(error) => NewSync {
                app: name.clone(),
                // The revision it failed at, when it got as far as resolving one.
                revision: pinned
                    .clone()
                    .or_else(|| app.pipeline.resolved())
                    .as_ref()
                    .map(ToString::to_string),
                started,
                finished: SystemTime::now(),
                result: SyncResult::Failed,
                trigger: trigger.to_owned(),
                error: Some(error_chain(error)),
                ..NewSync::default()
            },
        };
        let source_error = ended
            .as_ref()
            .ok()
            .and_then(|report| report.source_error.as_deref())
            .map(|error| {
                format!(
                    "{}; correcting drift from the last good revision",
                    error_chain(error)
                )
            });
        if let Some(message) = &source_error {
            sync.result = SyncResult::Failed;
            sync.error = Some(message.clone());
        }
        let record = self.record(&sync).await;
        let succeeded = sync.result == SyncResult::Succeeded;
        self.metrics.reconciled(&name, succeeded, elapsed);
        if let Ok(report) = &ended {
            self.applied(app, report);
        }
        if let Some(event) = target_event(&ended, source_error.as_deref()) {
            // Where the target's users look (a Kubernetes Event on the ApplySet parent);
            // a failure to record it does not fail the reconcile.
            if let Err(error) = app.pipeline.target().record_event(&event).await {
                tracing::warn!(error = %error_chain(&error), "cannot record the event on the target");
            }
        }
        match (&ended, source_error) {
            (Ok(report), None) => {
                let revision = report.revision.to_string();
                app.status.send_modify(|s| {
                    s.ready = true;
                    s.consecutive_failures = 0;
                    s.conditions = vec![Condition::ready(
                        true,
                        "ReconciliationSucceeded",
                        format!("applied {revision}"),
                    )];
                });
            }
            (Ok(_), Some(message)) => {
                tracing::error!(error = %message, "the source is unavailable");
                app.failed("SourceUnavailable", message);
            }
            (Err(error), _) => {
                tracing::error!(error = %error_chain(error), "reconcile failed");
                app.failed("ReconciliationFailed", error_chain(error));
            }
        }
        app.status.send_modify(|s| {
            s.reconciling = false;
            if record.is_some() {
                s.last_sync = record;
            }
        });
        outcome_of(&name, &sync, elapsed)
    }

    /// Follows the pipeline while it runs: reports `Progressing` while it waits for
    /// health and, when `follow_newer`, returns a newer revision of the source as soon
    /// as one appears during that wait. Never returns otherwise.
    async fn supervise(&self, app: &App, follow_newer: bool) -> Revision {
        let mut stage = app.pipeline.stage();
        let poll = app
            .options
            .interval_or_default()
            .min(Duration::from_secs(5));
        loop {
            let waiting = stage
                .wait_for(|s| matches!(s, Stage::WaitingForHealth { .. }))
                .await
                .map(|waiting| waiting.clone());
            let Ok(Stage::WaitingForHealth { revision, objects }) = waiting else {
                // The pipeline is gone: nothing more to follow.
                return std::future::pending().await;
            };
            app.status.send_modify(|s| {
                s.conditions = vec![Condition::progressing(format!(
                    "applied {revision}; waiting for {objects} objects to become healthy"
                ))];
            });
            loop {
                tokio::select! {
                    () = tokio::time::sleep(poll) => {}
                    changed = stage.changed() => {
                        if changed.is_err() {
                            return std::future::pending().await;
                        }
                        break;
                    }
                }
                if !follow_newer {
                    continue;
                }
                match app.pipeline.resolve().await {
                    Ok(newest) if newest != revision => return newest,
                    Ok(_) => {}
                    Err(error) => {
                        tracing::debug!(error = %error_chain(&error), "cannot look for a newer revision");
                    }
                }
            }
        }
    }

    /// Metrics of an apply, and the log line naming what drifted.
    fn applied(&self, app: &App, report: &SyncReport) {
        let name = &app.name;
        let previous = app.status.borrow().revision.clone();
        let revision = report.revision.to_string();
        let objects = report.applied.created.len()
            + report.applied.updated.len()
            + report.applied.unchanged.len();
        self.metrics
            .applied(name, previous.as_deref(), &revision, objects);
        if !report.rendered && !report.changes.is_empty() && !report.applied.dry_run {
            let drifted: Vec<String> = report.changes.iter().map(ToString::to_string).collect();
            tracing::warn!(
                %revision,
                count = drifted.len(),
                objects = %drifted.join("; "),
                "drift corrected"
            );
            self.metrics.drift_corrected(name, drifted.len());
        }
        app.status.send_modify(|s| {
            s.revision = Some(revision);
            s.objects = objects;
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
        if let Some(elsewhere) = self.reconciled_elsewhere(&app) {
            return Err(Refusal::Conflict(elsewhere));
        }
        app.trigger(reason);
        Ok(())
    }

    /// Asks the app's loop to reconcile at once and waits up to `timeout` for the
    /// outcome of that reconcile (not of one already running when asked). `None`: not
    /// done in time.
    pub async fn trigger_and_wait(
        &self,
        name: &str,
        reason: &str,
        timeout: Duration,
    ) -> Result<Option<Outcome>, Refusal> {
        let app = self.find(name)?;
        let mut ended = app.ended.subscribe();
        let asked_after = app.started.load(Ordering::SeqCst);
        self.trigger(name, reason)?;
        let done =
            tokio::time::timeout(timeout, ended.wait_for(|(number, _)| *number > asked_after))
                .await;
        Ok(match done {
            Ok(Ok(ended)) => ended.1.clone(),
            Ok(Err(_)) | Err(_) => None,
        })
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
        self.persist(&app, &state).await?;
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
        self.persist(&app, &state).await?;
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
        shutdown: &CancellationToken,
    ) -> Result<Self, Error> {
        let fingerprint = options.fingerprint.clone();
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
            started: std::sync::atomic::AtomicU64::new(0),
            ended: watch::Sender::new((0, None)),
            stop: shutdown.child_token(),
            fingerprint,
        })
    }

    fn failed(&self, reason: &str, message: String) {
        self.status.send_modify(|s| {
            s.ready = false;
            s.consecutive_failures += 1;
            s.conditions = vec![Condition::ready(false, reason, message)];
        });
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
        changes: report.changes.iter().map(ToString::to_string).collect(),
    }
}

/// The event a reconcile leaves on its target: changes, failures, an unavailable
/// source. A reconcile that changed nothing, or was cancelled, leaves none.
fn target_event(
    ended: &Result<SyncReport, driftless::Error>,
    source_error: Option<&str>,
) -> Option<TargetEvent> {
    let (warning, reason, message) = match (ended, source_error) {
        (Ok(report), None) if report.changes.is_empty() => return None,
        (Ok(report), None) => {
            let changes: Vec<String> = report.changes.iter().map(ToString::to_string).collect();
            (
                false,
                "ReconciliationSucceeded",
                format!("applied {}: {}", report.revision, changes.join("; ")),
            )
        }
        (Ok(_), Some(message)) => (true, "SourceUnavailable", message.to_owned()),
        (Err(driftless::Error::Cancelled { .. }), _) => return None,
        (Err(error), _) => (true, "ReconciliationFailed", error_chain(error)),
    };
    Some(TargetEvent {
        warning,
        reason: reason.to_owned(),
        message,
    })
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
