//! The HTTP server: health, metrics, the status API and webhooks, as an axum
//! [`Router`] an embedder can serve alone or merge into its own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use crate::auth::Identity;

use crate::agent::{Agent, Refusal};
use crate::api::{ErrorBody, RollbackRequest, Triggered};
use crate::error::error_chain;
use crate::{Error, webhook};

/// The largest webhook payload accepted (GitHub caps deliveries at 25 MB; pushes of
/// ordinary size are far below this).
pub const MAX_BODY: usize = 1024 * 1024;

type Shared = State<Arc<Agent>>;

/// Limits of the HTTP server, so slow or many clients cannot starve the agent of
/// file descriptors or tasks.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ServeOptions {
    /// Connections served at once; more are accepted and closed at once, so they
    /// hold no file descriptor (default 256).
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and how long an idle
    /// kept-alive connection stays open (default 10s).
    pub header_timeout: Duration,
    /// How long reading a body and answering may take (default 30s).
    pub request_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl ServeOptions {
    /// Sets [`max_connections`](Self::max_connections).
    #[must_use]
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// Sets [`header_timeout`](Self::header_timeout).
    #[must_use]
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// Sets [`request_timeout`](Self::request_timeout).
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }
}

/// The routes: `/healthz`, `/readyz`, `/metrics`, `/api/v1/...` and `/hooks/<app>`
/// (see `docs/agent.md`), with the agent's access rules ([`crate::auth`]): mutations
/// need the token, a JSON content type, this agent's `Host` and no foreign `Origin`;
/// reads follow [`crate::auth::ReadAccess`] (the client's address is known when the
/// router is served by [`serve_on`], else reads need the token unless open).
pub fn router(agent: Arc<Agent>) -> Router {
    let mutations = Router::new()
        .route("/api/v1/apps/{name}/reconcile", post(reconcile))
        .route("/api/v1/apps/{name}/suspend", post(suspend))
        .route("/api/v1/apps/{name}/resume", post(resume))
        .route("/api/v1/apps/{name}/rollback", post(rollback))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&agent),
            require_mutation,
        ));
    let reads = Router::new()
        .route("/metrics", get(metrics))
        .route("/api/v1/apps", get(list_apps))
        .route("/api/v1/apps/{name}", get(get_app))
        .route("/api/v1/apps/{name}/history", get(history))
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/removed", get(removed))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&agent),
            require_read,
        ));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/hooks/{name}", post(hook))
        .merge(reads)
        .merge(mutations)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(agent)
}

async fn require_mutation(State(agent): Shared, mut request: Request, next: Next) -> Response {
    match agent.api_auth().check_mutation(request.headers()) {
        Ok(identity) => {
            request.extensions_mut().insert(identity);
            next.run(request).await
        }
        Err(rejection) => {
            tracing::warn!(path = %request.uri().path(), reason = %rejection, "API mutation refused");
            error(rejection.status(), rejection.to_string())
        }
    }
}

/// Answers 408 when reading the body and answering take longer than `timeout`; a
/// `reconcile?wait=true` is bounded by its own `timeout` parameter instead.
async fn bounded(request: Request, next: Next, timeout: Duration) -> Response {
    let waits = request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|pair| pair == "wait=true"));
    if waits {
        return next.run(request).await;
    }
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => error(StatusCode::REQUEST_TIMEOUT, "the request took too long"),
    }
}

async fn require_read(State(agent): Shared, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    match agent.api_auth().check_read(request.headers(), peer) {
        Ok(()) => next.run(request).await,
        Err(rejection) => error(rejection.status(), rejection.to_string()),
    }
}

/// Serves [`router`] on `addr` until the agent's shutdown token is cancelled.
pub async fn serve(agent: Arc<Agent>, addr: SocketAddr) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Listen { addr, source })?;
    serve_on(agent, listener).await
}

/// Serves [`router`] on a bound listener with the default [`ServeOptions`] until the
/// agent's shutdown token is cancelled.
pub async fn serve_on(agent: Arc<Agent>, listener: tokio::net::TcpListener) -> Result<(), Error> {
    serve_with(agent, listener, ServeOptions::default()).await
}

/// Serves [`router`] on a bound listener within `options` until the agent's shutdown
/// token is cancelled; connections in flight then finish their request.
pub async fn serve_with(
    agent: Arc<Agent>,
    listener: tokio::net::TcpListener,
    options: ServeOptions,
) -> Result<(), Error> {
    let shutdown = agent.shutdown_token().clone();
    let request_timeout = options.request_timeout;
    let app = router(agent).layer(middleware::from_fn(move |request, next| {
        bounded(request, next, request_timeout)
    }));
    let slots = Arc::new(Semaphore::new(options.max_connections));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before accept:
                    // wait a little rather than spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        while connections.try_join_next().is_some() {}
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::debug!(%peer, "connection limit reached; closing a new connection");
            drop(stream);
            continue;
        };
        let service = app
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
        let shutdown = shutdown.clone();
        let header_timeout = options.header_timeout;
        connections.spawn(async move {
            let _slot = slot;
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    while connections.join_next().await.is_some() {}
    Ok(())
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(ErrorBody {
            error: message.into(),
        }),
    )
        .into_response()
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Gone(_) => StatusCode::GONE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = error_chain(&self);
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %message, "API request failed");
        }
        error(status, message)
    }
}

async fn readyz(State(agent): Shared) -> Response {
    if !agent.is_ready() {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response()
    } else if !agent.history_writable() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the history store cannot write\n",
        )
            .into_response()
    } else {
        (StatusCode::OK, "ready\n").into_response()
    }
}

async fn metrics(State(agent): Shared) -> Response {
    match agent.metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics"),
    }
}

async fn list_apps(State(agent): Shared) -> Response {
    Json(agent.statuses()).into_response()
}

async fn get_app(State(agent): Shared, Path(name): Path<String>) -> Response {
    match agent.find(&name) {
        Ok(app) => Json(app.status.borrow().clone()).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn removed(State(agent): Shared) -> Response {
    Json(agent.removed()).into_response()
}

#[derive(Debug, Deserialize)]
struct Limit {
    limit: Option<usize>,
    app: Option<String>,
}

fn history_store(agent: &Agent) -> Result<Arc<crate::history::History>, Refusal> {
    agent
        .history
        .clone()
        .ok_or_else(|| Refusal::Conflict("this agent keeps no history".into()))
}

async fn history(
    State(agent): Shared,
    Path(name): Path<String>,
    Query(q): Query<Limit>,
) -> Response {
    let store = match agent.find(&name).and_then(|_| history_store(&agent)) {
        Ok(store) => store,
        Err(refusal) => return refusal.into_response(),
    };
    let limit = q.limit.unwrap_or(50);
    match tokio::task::spawn_blocking(move || store.syncs(&name, limit)).await {
        Ok(Ok(records)) => Json(records).into_response(),
        Ok(Err(e)) => Refusal::Internal(e.into()).into_response(),
        Err(e) => Refusal::Internal(e.into()).into_response(),
    }
}

async fn audit(State(agent): Shared, Query(q): Query<Limit>) -> Response {
    let store = match history_store(&agent) {
        Ok(store) => store,
        Err(refusal) => return refusal.into_response(),
    };
    let limit = q.limit.unwrap_or(100);
    match tokio::task::spawn_blocking(move || store.audit_entries(q.app.as_deref(), limit)).await {
        Ok(Ok(entries)) => Json(entries).into_response(),
        Ok(Err(e)) => Refusal::Internal(e.into()).into_response(),
        Err(e) => Refusal::Internal(e.into()).into_response(),
    }
}

/// `?wait=true&timeout=5m`: answer with the outcome of the reconcile asked for.
#[derive(Debug, Deserialize)]
struct Wait {
    #[serde(default)]
    wait: bool,
    timeout: Option<String>,
}

/// How long `?wait=true` waits when no timeout is given.
const DEFAULT_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

async fn reconcile(
    State(agent): Shared,
    Extension(Identity(actor)): Extension<Identity>,
    Path(name): Path<String>,
    Query(q): Query<Wait>,
) -> Response {
    if q.wait {
        return reconcile_and_wait(&agent, &actor, &name, q.timeout.as_deref()).await;
    }
    if let Err(refusal) = agent.trigger(&name, "api") {
        return refusal.into_response();
    }
    agent.audit(&name, "reconcile", &actor, None).await;
    (
        StatusCode::ACCEPTED,
        Json(Triggered {
            triggered: true,
            reason: None,
        }),
    )
        .into_response()
}

async fn reconcile_and_wait(
    agent: &Agent,
    actor: &str,
    name: &str,
    timeout: Option<&str>,
) -> Response {
    let timeout = match timeout.map(humantime::parse_duration).transpose() {
        Ok(timeout) => timeout.unwrap_or(DEFAULT_WAIT),
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("invalid timeout: {e} (write e.g. 30s or 5m)"),
            );
        }
    };
    if agent.find(name).is_ok() {
        agent.audit(name, "reconcile", actor, None).await;
    }
    match agent.trigger_and_wait(name, "api", timeout).await {
        Ok(Some(outcome)) => Json(outcome).into_response(),
        Ok(None) => error(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "the reconcile of {name} did not end within {}",
                humantime::format_duration(timeout)
            ),
        ),
        Err(refusal) => refusal.into_response(),
    }
}

async fn suspend(
    State(agent): Shared,
    Extension(Identity(actor)): Extension<Identity>,
    Path(name): Path<String>,
) -> Response {
    set_suspended(&agent, &actor, &name, true).await
}

async fn resume(
    State(agent): Shared,
    Extension(Identity(actor)): Extension<Identity>,
    Path(name): Path<String>,
) -> Response {
    set_suspended(&agent, &actor, &name, false).await
}

async fn set_suspended(agent: &Agent, actor: &str, name: &str, suspended: bool) -> Response {
    match agent.set_suspended(name, suspended).await {
        Ok(status) => {
            let action = if suspended { "suspend" } else { "resume" };
            agent.audit(name, action, actor, None).await;
            tracing::info!(app = %name, action, "app {action}d through the API");
            Json(status).into_response()
        }
        Err(refusal) => refusal.into_response(),
    }
}

async fn rollback(
    State(agent): Shared,
    Extension(Identity(actor)): Extension<Identity>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let request: RollbackRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the body must be JSON {{\"revision\": \"...\"}}: {e}"),
            );
        }
    };
    match agent.rollback(&name, request.revision.trim()).await {
        Ok(status) => {
            let pinned = status.pinned.clone();
            agent.audit(&name, "rollback", &actor, pinned.clone()).await;
            tracing::info!(app = %name, revision = pinned.as_deref().unwrap_or_default(), "pinned to an earlier revision until resumed");
            Json(status).into_response()
        }
        Err(refusal) => refusal.into_response(),
    }
}

fn not_triggered(reason: impl Into<String>) -> Response {
    (
        StatusCode::OK,
        Json(Triggered {
            triggered: false,
            reason: Some(reason.into()),
        }),
    )
        .into_response()
}

async fn hook(
    State(agent): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let app = match agent.find(&name) {
        Ok(app) => app,
        Err(refusal) => return refusal.into_response(),
    };
    let Some(secret) = &app.options.webhook_secret else {
        return error(
            StatusCode::NOT_FOUND,
            format!("{name} has no webhook configured"),
        );
    };
    let provider = match webhook::verify(&headers, &body, secret) {
        Ok(provider) => provider,
        Err(rejection) => {
            tracing::warn!(app = %name, reason = %rejection, "webhook rejected");
            agent.metrics.webhook(&name, "rejected");
            return error(StatusCode::UNAUTHORIZED, rejection.to_string());
        }
    };
    if let Some(event) = webhook::event(&headers).filter(|e| !webhook::is_push(e)) {
        agent.metrics.webhook(&name, "ignored");
        return not_triggered(format!("{event} event ignored"));
    }
    let pushed = webhook::pushed_ref(&body);
    if !app.follows().matches(pushed.as_deref()) {
        agent.metrics.webhook(&name, "ignored");
        let pushed = pushed.unwrap_or_default();
        tracing::debug!(app = %name, %pushed, "push to a ref the app does not follow");
        return not_triggered(format!("{name} does not follow {pushed}"));
    }
    if app.suspended() {
        agent.metrics.webhook(&name, "ignored");
        return not_triggered("suspended");
    }
    agent.metrics.webhook(&name, "triggered");
    let actor = format!("webhook:{}", provider.as_str());
    agent.audit(&name, "webhook", &actor, pushed.clone()).await;
    tracing::info!(app = %name, provider = provider.as_str(), pushed = pushed.as_deref().unwrap_or(""), "webhook: reconciling");
    app.trigger(&actor);
    (
        StatusCode::ACCEPTED,
        Json(Triggered {
            triggered: true,
            reason: None,
        }),
    )
        .into_response()
}
