//! One reconcile task per app: interval with jitter, backoff on failure, triggers,
//! suspend, pins, and dependencies.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use driftless::config::{AgentConfig, AppConfig};
use driftless::history::{AppState, History, NewSync, SyncRecord, SyncResult};
use driftless::spec::{SourceRef, SourceSpec};
use driftless::{Pipeline, Revision, SyncReport};
use serde::Serialize;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::webhook::Follows;

/// The longest wait between retries of a failing app.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The first wait after a failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(2);

/// Everything the tasks and the HTTP server share.
pub(crate) struct Agent {
    pub(crate) apps: Vec<Arc<App>>,
    index: BTreeMap<String, usize>,
    pub(crate) history: Arc<History>,
    pub(crate) metrics: Metrics,
    pub(crate) leader: watch::Receiver<bool>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) ready: AtomicBool,
}

/// One app and its live status.
pub(crate) struct App {
    pub(crate) config: AppConfig,
    pipeline: Pipeline,
    local: bool,
    trigger: Notify,
    trigger_reason: Mutex<Option<String>>,
    persisted: Mutex<AppState>,
    pub(crate) webhook_secret: Option<Vec<u8>>,
    pub(crate) status: watch::Sender<AppStatus>,
}

/// What `/api/v1/apps` reports for each app.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AppStatus {
    pub(crate) name: String,
    pub(crate) source: String,
    pub(crate) target: String,
    /// The revision last applied successfully.
    pub(crate) revision: Option<String>,
    /// Whether the last reconcile succeeded (dependents wait for this).
    pub(crate) ready: bool,
    pub(crate) suspended: bool,
    pub(crate) pinned: Option<String>,
    pub(crate) reconciling: bool,
    pub(crate) objects: usize,
    pub(crate) consecutive_failures: u32,
    pub(crate) conditions: Vec<Condition>,
    pub(crate) last_sync: Option<SyncRecord>,
}

/// A Kubernetes-style condition.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Condition {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) status: String,
    pub(crate) reason: String,
    pub(crate) message: String,
}

impl Condition {
    fn ready(ready: bool, reason: &str, message: impl Into<String>) -> Self {
        Self {
            kind: "Ready".into(),
            status: if ready { "True" } else { "False" }.into(),
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// Why an API call on an app was refused.
#[derive(Debug)]
pub(crate) enum Refusal {
    Conflict(String),
    BadRequest(String),
    Internal(anyhow::Error),
}

impl Agent {
    /// Opens every app's pipeline and the history store, and restores persisted state.
    pub(crate) async fn new(
        config: &AgentConfig,
        leader: watch::Receiver<bool>,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let history = Arc::new(History::open(&config.state_dir).with_context(|| {
            format!("opening the state directory {}", config.state_dir.display())
        })?);
        let mut apps = Vec::with_capacity(config.apps.len());
        let mut index = BTreeMap::new();
        for app in &config.apps {
            let pipeline = app
                .pipeline(&config.cache_dir())
                .await
                .with_context(|| format!("app {:?}", app.name))?;
            let webhook_secret = match &app.webhook {
                Some(webhook) => {
                    let secret = std::fs::read(&webhook.secret_file).with_context(|| {
                        format!(
                            "app {:?}: cannot read webhook.secretFile {}",
                            app.name,
                            webhook.secret_file.display()
                        )
                    })?;
                    let secret = trim_newlines(secret);
                    anyhow::ensure!(
                        !secret.is_empty(),
                        "app {:?}: webhook.secretFile {} is empty",
                        app.name,
                        webhook.secret_file.display()
                    );
                    Some(secret)
                }
                None => None,
            };
            let persisted = history.app_state(&app.name)?;
            let last_sync = history.last_sync(&app.name, None)?;
            let last_ok = history.last_sync(&app.name, Some(SyncResult::Succeeded))?;
            let status = AppStatus {
                name: app.name.clone(),
                source: pipeline.source().describe(),
                target: pipeline.target().describe(),
                revision: last_ok.as_ref().and_then(|s| s.revision.clone()),
                ready: false,
                suspended: app.suspend || persisted.suspended,
                pinned: persisted.pinned.clone(),
                reconciling: false,
                objects: 0,
                consecutive_failures: 0,
                conditions: vec![Condition::ready(false, "Starting", "not reconciled yet")],
                last_sync,
            };
            let local = matches!(app.source_spec(), Ok(SourceSpec::Local(_)));
            index.insert(app.name.clone(), apps.len());
            apps.push(Arc::new(App {
                config: app.clone(),
                pipeline,
                local,
                trigger: Notify::new(),
                trigger_reason: Mutex::new(None),
                persisted: Mutex::new(persisted),
                webhook_secret,
                status: watch::Sender::new(status),
            }));
        }
        Ok(Self {
            apps,
            index,
            history,
            metrics: Metrics::new(),
            leader,
            shutdown,
            ready: AtomicBool::new(false),
        })
    }

    pub(crate) fn app(&self, name: &str) -> Option<&Arc<App>> {
        self.index.get(name).map(|&i| &self.apps[i])
    }

    /// Runs one app's loop until shutdown.
    pub(crate) async fn run_app(self: Arc<Self>, app: Arc<App>) {
        let mut leader = self.leader.clone();
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
            if app.suspended() {
                delay = app.config.interval;
                continue;
            }
            if let Some(waiting) = self.unready_dependency(&app) {
                app.status.send_modify(|s| {
                    s.ready = false;
                    s.conditions = vec![Condition::ready(
                        false,
                        "DependencyNotReady",
                        format!("waiting for {waiting} to be ready at its current revision"),
                    )];
                });
                tracing::info!(app = %app.config.name, dependency = %waiting, "waiting for a dependency");
                let mut dep = self.apps[self.index[&waiting]].status.subscribe();
                tokio::select! {
                    _ = dep.changed() => {},
                    () = app.trigger.notified() => {},
                    () = tokio::time::sleep(app.config.interval) => {},
                    () = self.shutdown.cancelled() => return,
                }
                delay = Duration::ZERO;
                continue;
            }
            let ok = self.reconcile(&app, &reason).await;
            let failures = app.status.borrow().consecutive_failures;
            delay = if ok {
                jitter(app.config.interval)
            } else {
                backoff(failures, app.config.interval)
            };
        }
    }

    /// The first dependency of `app` that is not ready.
    fn unready_dependency(&self, app: &App) -> Option<String> {
        app.config
            .depends_on
            .iter()
            .find(|dep| self.app(dep).is_none_or(|d| !d.status.borrow().ready))
            .cloned()
    }

    /// One reconcile of `app`: apply, record, update metrics and status. Returns
    /// whether it succeeded.
    pub(crate) async fn reconcile(&self, app: &App, trigger: &str) -> bool {
        let name = app.config.name.clone();
        app.status.send_modify(|s| s.reconciling = true);
        let started = SystemTime::now();
        let clock = Instant::now();
        let pinned = app.pinned();
        let result = match &pinned {
            Some(revision) => app.pipeline.reconcile_at(Some(revision)).await,
            None => app.pipeline.reconcile().await,
        };
        let elapsed = clock.elapsed();
        let finished = SystemTime::now();
        let previous = app.status.borrow().revision.clone();
        let sync = match &result {
            Ok(report) => new_sync(&name, trigger, started, finished, report),
            Err(error) => NewSync {
                app: name.clone(),
                revision: pinned.as_ref().map(ToString::to_string),
                started,
                finished,
                result: SyncResult::Failed,
                trigger: trigger.to_owned(),
                error: Some(error_chain(error)),
                ..NewSync::default()
            },
        };
        let history = Arc::clone(&self.history);
        let record = match tokio::task::spawn_blocking(move || history.record_sync(&sync)).await {
            Ok(Ok(record)) => Some(record),
            Ok(Err(error)) => {
                tracing::error!(app = %name, error = %error_chain(&error), "cannot record the sync");
                None
            }
            Err(error) => {
                tracing::error!(app = %name, %error, "cannot record the sync");
                None
            }
        };
        self.metrics.reconciled(&name, result.is_ok(), elapsed);
        match &result {
            Ok(report) => {
                let revision = report.revision.to_string();
                let objects = report.applied.created.len()
                    + report.applied.updated.len()
                    + report.applied.unchanged.len();
                self.metrics
                    .applied(&name, previous.as_deref(), &revision, objects);
                let changed = report.applied.created.len()
                    + report.applied.updated.len()
                    + report.applied.pruned.len();
                if !report.rendered && changed > 0 {
                    tracing::warn!(app = %name, %revision, objects = changed, "drift corrected");
                    self.metrics.drift_corrected(&name, changed);
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
                        s.last_sync.clone_from(&record);
                    }
                });
            }
            Err(error) => {
                let message = error_chain(error);
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
                        s.last_sync.clone_from(&record);
                    }
                });
            }
        }
        result.is_ok()
    }

    /// Appends to the audit journal; a failure is logged, not returned.
    pub(crate) async fn audit(&self, app: &str, action: &str, actor: &str, detail: Option<String>) {
        let history = Arc::clone(&self.history);
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

    /// Suspends or resumes `app` (resume also drops a rollback pin), persistently.
    pub(crate) async fn set_suspended(&self, app: &App, suspended: bool) -> Result<(), Refusal> {
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
            s.suspended = suspended || app.config.suspend;
            s.pinned.clone_from(&state.pinned);
        });
        if !suspended {
            app.trigger("resume");
        }
        Ok(())
    }

    /// Pins `app` to `revision` (a full revision or a unique prefix of one it applied
    /// before) until resumed, and reconciles at once. Returns the full revision.
    pub(crate) async fn rollback(&self, app: &App, revision: &str) -> Result<String, Refusal> {
        if app.local {
            return Err(Refusal::Conflict(format!(
                "{} is a local directory: it has no earlier revisions to roll back to",
                app.config.source.url
            )));
        }
        let history = Arc::clone(&self.history);
        let name = app.config.name.clone();
        let applied = tokio::task::spawn_blocking(move || history.applied_revisions(&name))
            .await
            .map_err(|e| Refusal::Internal(e.into()))?
            .map_err(|e| Refusal::Internal(e.into()))?;
        let matches: Vec<&String> = applied
            .iter()
            .filter(|r| {
                *r == revision
                    || r.parse::<Revision>()
                        .is_ok_and(|p| revision.len() >= 7 && p.hex().starts_with(revision))
            })
            .collect();
        let full = match matches.as_slice() {
            [one] => (*one).clone(),
            [] => {
                return Err(Refusal::BadRequest(format!(
                    "{revision} is not a revision {} applied before (see its history)",
                    app.config.name
                )));
            }
            _ => {
                return Err(Refusal::BadRequest(format!(
                    "{revision} matches several revisions; give more of it"
                )));
            }
        };
        let state = {
            let mut persisted = lock(&app.persisted);
            persisted.pinned = Some(full.clone());
            persisted.clone()
        };
        self.persist(app, &state).await?;
        app.status.send_modify(|s| s.pinned = Some(full.clone()));
        app.trigger("rollback");
        Ok(full)
    }

    async fn persist(&self, app: &App, state: &AppState) -> Result<(), Refusal> {
        let history = Arc::clone(&self.history);
        let (name, state) = (app.config.name.clone(), state.clone());
        tokio::task::spawn_blocking(move || history.set_app_state(&name, &state))
            .await
            .map_err(|e| Refusal::Internal(e.into()))?
            .map_err(|e| Refusal::Internal(e.into()))
    }
}

impl App {
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
        self.config.suspend || lock(&self.persisted).suspended
    }

    fn pinned(&self) -> Option<Revision> {
        let pinned = lock(&self.persisted).pinned.clone()?;
        match pinned.parse() {
            Ok(revision) => Some(revision),
            Err(error) => {
                tracing::error!(app = %self.config.name, %pinned, %error, "ignoring an invalid pin");
                None
            }
        }
    }

    /// Which pushes concern this app.
    pub(crate) fn follows(&self) -> Follows {
        match self.config.source_ref() {
            SourceRef::Branch(branch)
            | SourceRef::Commit {
                branch: Some(branch),
                ..
            } => Follows::Branch(branch),
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

fn new_sync(
    app: &str,
    trigger: &str,
    started: SystemTime,
    finished: SystemTime,
    report: &SyncReport,
) -> NewSync {
    NewSync {
        app: app.to_owned(),
        revision: Some(report.revision.to_string()),
        started,
        finished,
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

/// An error and its causes on one line.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        cause = inner.source();
    }
    message
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
}
