//! The HTTP server: health, metrics, the status API and webhooks.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::runtime::{Agent, App, Refusal};
use crate::webhook;

/// The largest webhook payload accepted (GitHub caps deliveries at 25 MB; pushes of
/// ordinary size are far below this).
pub(crate) const MAX_BODY: usize = 1024 * 1024;

type Shared = State<Arc<Agent>>;

pub(crate) fn router(agent: Arc<Agent>) -> Router {
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

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

fn unknown_app(name: &str) -> Response {
    error(StatusCode::NOT_FOUND, format!("no app named {name:?}"))
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Conflict(message) => error(StatusCode::CONFLICT, message),
            Self::BadRequest(message) => error(StatusCode::BAD_REQUEST, message),
            Self::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "API request failed");
                error(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
            }
        }
    }
}

fn find<'a>(agent: &'a Agent, name: &str) -> Result<&'a Arc<App>, Box<Response>> {
    agent.app(name).ok_or_else(|| Box::new(unknown_app(name)))
}

async fn readyz(State(agent): Shared) -> Response {
    if agent.ready.load(Ordering::Relaxed) {
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
    let apps: Vec<_> = agent
        .apps
        .iter()
        .map(|a| a.status.borrow().clone())
        .collect();
    Json(apps).into_response()
}

async fn get_app(State(agent): Shared, Path(name): Path<String>) -> Response {
    match find(&agent, &name) {
        Ok(app) => Json(app.status.borrow().clone()).into_response(),
        Err(response) => *response,
    }
}

#[derive(Debug, Deserialize)]
struct Limit {
    limit: Option<usize>,
    app: Option<String>,
}

async fn history(
    State(agent): Shared,
    Path(name): Path<String>,
    Query(q): Query<Limit>,
) -> Response {
    if let Err(response) = find(&agent, &name) {
        return *response;
    }
    let store = Arc::clone(&agent.history);
    let limit = q.limit.unwrap_or(50);
    match tokio::task::spawn_blocking(move || store.syncs(&name, limit)).await {
        Ok(Ok(records)) => Json(records).into_response(),
        Ok(Err(e)) => Refusal::Internal(e.into()).into_response(),
        Err(e) => Refusal::Internal(e.into()).into_response(),
    }
}

async fn audit(State(agent): Shared, Query(q): Query<Limit>) -> Response {
    let store = Arc::clone(&agent.history);
    let limit = q.limit.unwrap_or(100);
    match tokio::task::spawn_blocking(move || store.audit_entries(q.app.as_deref(), limit)).await {
        Ok(Ok(entries)) => Json(entries).into_response(),
        Ok(Err(e)) => Refusal::Internal(e.into()).into_response(),
        Err(e) => Refusal::Internal(e.into()).into_response(),
    }
}

async fn reconcile(State(agent): Shared, Path(name): Path<String>) -> Response {
    let app = match find(&agent, &name) {
        Ok(app) => app,
        Err(response) => return *response,
    };
    if app.suspended() {
        return Refusal::Conflict(format!("{name} is suspended: resume it first")).into_response();
    }
    agent.audit(&name, "reconcile", "api", None).await;
    app.trigger("api");
    (
        StatusCode::ACCEPTED,
        Json(json!({"app": name, "triggered": true})),
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
    let app = match find(agent, name) {
        Ok(app) => app,
        Err(response) => return *response,
    };
    if !suspended && app.config.suspend {
        return Refusal::Conflict(format!(
            "{name} is suspended by the configuration (suspend: true): change it there"
        ))
        .into_response();
    }
    if let Err(refusal) = agent.set_suspended(app, suspended).await {
        return refusal.into_response();
    }
    let action = if suspended { "suspend" } else { "resume" };
    agent.audit(name, action, "api", None).await;
    tracing::info!(app = %name, action, "app {action}d through the API");
    Json(app.status.borrow().clone()).into_response()
}

#[derive(Debug, Deserialize)]
struct RollbackBody {
    revision: String,
}

async fn rollback(State(agent): Shared, Path(name): Path<String>, body: Bytes) -> Response {
    let app = match find(&agent, &name) {
        Ok(app) => app,
        Err(response) => return *response,
    };
    let request: RollbackBody = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the body must be JSON {{\"revision\": \"...\"}}: {e}"),
            );
        }
    };
    match agent.rollback(app, request.revision.trim()).await {
        Ok(full) => {
            agent
                .audit(&name, "rollback", "api", Some(full.clone()))
                .await;
            tracing::info!(app = %name, revision = %full, "pinned to an earlier revision until resumed");
            Json(app.status.borrow().clone()).into_response()
        }
        Err(refusal) => refusal.into_response(),
    }
}

async fn hook(
    State(agent): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let app = match find(&agent, &name) {
        Ok(app) => app,
        Err(response) => return *response,
    };
    let Some(secret) = &app.webhook_secret else {
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
        return (
            StatusCode::OK,
            Json(json!({"triggered": false, "reason": format!("{event} event ignored")})),
        )
            .into_response();
    }
    let pushed = webhook::pushed_ref(&body);
    if !app.follows().matches(pushed.as_deref()) {
        agent.metrics.webhook(&name, "ignored");
        let pushed = pushed.unwrap_or_default();
        tracing::debug!(app = %name, %pushed, "push to a ref the app does not follow");
        return (
            StatusCode::OK,
            Json(json!({"triggered": false, "reason": format!("{name} does not follow {pushed}")})),
        )
            .into_response();
    }
    if app.suspended() {
        agent.metrics.webhook(&name, "ignored");
        return (
            StatusCode::OK,
            Json(json!({"triggered": false, "reason": "suspended"})),
        )
            .into_response();
    }
    agent.metrics.webhook(&name, "triggered");
    let actor = format!("webhook:{}", provider.as_str());
    agent.audit(&name, "webhook", &actor, pushed.clone()).await;
    tracing::info!(app = %name, provider = provider.as_str(), pushed = pushed.as_deref().unwrap_or(""), "webhook: reconciling");
    app.trigger(&actor);
    (StatusCode::ACCEPTED, Json(json!({"triggered": true}))).into_response()
}
