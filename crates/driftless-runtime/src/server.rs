//! The HTTP server: health, metrics, the status API and webhooks, as an axum
//! [`Router`] an embedder can serve alone or merge into its own.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::agent::{Agent, Refusal};
use crate::api::{ErrorBody, RollbackRequest, Triggered};
use crate::error::error_chain;
use crate::{Error, webhook};

/// The largest webhook payload accepted (GitHub caps deliveries at 25 MB; pushes of
/// ordinary size are far below this).
pub const MAX_BODY: usize = 1024 * 1024;

type Shared = State<Arc<Agent>>;

/// The routes: `/healthz`, `/readyz`, `/metrics`, `/api/v1/...` and `/hooks/<app>`
/// (see `docs/agent.md`).
pub fn router(agent: Arc<Agent>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/apps", get(list_apps))
        .route("/api/v1/apps/{name}", get(get_app))
        .route("/api/v1/apps/{name}/history", get(history))
        .route("/api/v1/apps/{name}/reconcile", post(reconcile))
        .route("/api/v1/apps/{name}/suspend", post(suspend))
        .route("/api/v1/apps/{name}/resume", post(resume))
        .route("/api/v1/apps/{name}/rollback", post(rollback))
        .route("/api/v1/audit", get(audit))
        .route("/hooks/{name}", post(hook))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(agent)
}

/// Serves [`router`] on `addr` until the agent's shutdown token is cancelled.
pub async fn serve(agent: Arc<Agent>, addr: SocketAddr) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Listen { addr, source })?;
    serve_on(agent, listener).await
}

/// Serves [`router`] on a bound listener until the agent's shutdown token is cancelled.
pub async fn serve_on(agent: Arc<Agent>, listener: tokio::net::TcpListener) -> Result<(), Error> {
    let shutdown = agent.shutdown_token().clone();
    axum::serve(listener, router(agent))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .map_err(Error::Serve)
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
    if agent.is_ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response()
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
    match agent.status(&name) {
        Some(status) => Json(status).into_response(),
        None => Refusal::NotFound(name).into_response(),
    }
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

async fn reconcile(State(agent): Shared, Path(name): Path<String>) -> Response {
    if let Err(refusal) = agent.trigger(&name, "api") {
        return refusal.into_response();
    }
    agent.audit(&name, "reconcile", "api", None).await;
    (
        StatusCode::ACCEPTED,
        Json(Triggered {
            triggered: true,
            reason: None,
        }),
    )
        .into_response()
}

async fn suspend(State(agent): Shared, Path(name): Path<String>) -> Response {
    set_suspended(&agent, &name, true).await
}

async fn resume(State(agent): Shared, Path(name): Path<String>) -> Response {
    set_suspended(&agent, &name, false).await
}

async fn set_suspended(agent: &Agent, name: &str, suspended: bool) -> Response {
    match agent.set_suspended(name, suspended).await {
        Ok(status) => {
            let action = if suspended { "suspend" } else { "resume" };
            agent.audit(name, action, "api", None).await;
            tracing::info!(app = %name, action, "app {action}d through the API");
            Json(status).into_response()
        }
        Err(refusal) => refusal.into_response(),
    }
}

async fn rollback(State(agent): Shared, Path(name): Path<String>, body: Bytes) -> Response {
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
            agent.audit(&name, "rollback", "api", pinned.clone()).await;
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
