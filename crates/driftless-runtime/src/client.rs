//! A typed client of the agent's HTTP API, over the same types the server uses.
//!
//! ```no_run
//! # async fn run() -> Result<(), driftless_runtime::client::ClientError> {
//! let client = driftless_runtime::client::Client::new("http://127.0.0.1:9090")?;
//! for app in client.apps().await? {
//!     println!("{}: {}", app.name, app.state());
//! }
//! # Ok(())
//! # }
//! ```

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{AppStatus, ErrorBody, Outcome, RollbackRequest, Triggered};
use crate::history::{AuditEntry, SyncRecord};

/// Why a call to the agent failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The agent's address is not a URL.
    #[error("invalid agent address {address:?}")]
    Address {
        /// The address given.
        address: String,
        /// The cause.
        #[source]
        source: url::ParseError,
    },
    /// The HTTP client could not be set up.
    #[error("cannot set up the HTTP client")]
    Setup(#[source] reqwest::Error),
    /// The agent could not be reached, or its answer not read.
    #[error("cannot reach the agent at {address} (is it running?)")]
    Unreachable {
        /// The agent's address.
        address: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The agent refused the request.
    #[error("{status}: {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The agent's message.
        message: String,
    },
    /// The answer is not what the API defines.
    #[error("unexpected answer from {url}")]
    Decode {
        /// The URL called.
        url: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

/// A client of one agent. Mutations need the agent's API token ([`Client::token`]).
#[derive(Clone)]
pub struct Client {
    base: url::Url,
    http: reqwest::Client,
    token: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of the agent at `address` (e.g. `http://127.0.0.1:9090`).
    pub fn new(address: &str) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .build()
            .map_err(ClientError::Setup)?;
        Self::with_http(address, http)
    }

    /// A client over a configured HTTP client (timeouts, TLS, proxies).
    pub fn with_http(address: &str, http: reqwest::Client) -> Result<Self, ClientError> {
        let base = url::Url::parse(address.trim_end_matches('/')).map_err(|source| {
            ClientError::Address {
                address: address.to_owned(),
                source,
            }
        })?;
        Ok(Self {
            base,
            http,
            token: None,
        })
    }

    /// Sends `token` as a bearer token with every request.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Every app's status.
    pub async fn apps(&self) -> Result<Vec<AppStatus>, ClientError> {
        self.call(Method::GET, &["api", "v1", "apps"], &[], None::<&()>)
            .await
    }

    /// One app's status.
    pub async fn app(&self, name: &str) -> Result<AppStatus, ClientError> {
        self.call(Method::GET, &["api", "v1", "apps", name], &[], None::<&()>)
            .await
    }

    /// An app's syncs, newest first.
    pub async fn history(&self, name: &str, limit: usize) -> Result<Vec<SyncRecord>, ClientError> {
        let limit = limit.to_string();
        self.call(
            Method::GET,
            &["api", "v1", "apps", name, "history"],
            &[("limit", &limit)],
            None::<&()>,
        )
        .await
    }

    /// The audit journal, newest first, of one app or all.
    pub async fn audit(
        &self,
        app: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, ClientError> {
        let limit = limit.to_string();
        let mut query = vec![("limit", limit.as_str())];
        if let Some(app) = app {
            query.push(("app", app));
        }
        self.call(Method::GET, &["api", "v1", "audit"], &query, None::<&()>)
            .await
    }

    /// Asks for a reconcile of `name` at once.
    pub async fn reconcile(&self, name: &str) -> Result<Triggered, ClientError> {
        self.post(name, "reconcile", None::<&()>).await
    }

    /// Asks for a reconcile of `name` and waits up to `timeout` for its outcome. An
    /// answer not given in time is [`ClientError::Refused`] with status 504.
    pub async fn reconcile_and_wait(
        &self,
        name: &str,
        timeout: std::time::Duration,
    ) -> Result<Outcome, ClientError> {
        let timeout_text = humantime::format_duration(timeout).to_string();
        self.call_with(
            Method::POST,
            &["api", "v1", "apps", name, "reconcile"],
            &[("wait", "true"), ("timeout", &timeout_text)],
            None::<&()>,
            // The agent answers when its own wait ends; give the answer time to arrive.
            Some(timeout + std::time::Duration::from_secs(10)),
        )
        .await
    }

    /// Suspends `name`.
    pub async fn suspend(&self, name: &str) -> Result<AppStatus, ClientError> {
        self.post(name, "suspend", None::<&()>).await
    }

    /// Resumes `name` (and drops a rollback pin).
    pub async fn resume(&self, name: &str) -> Result<AppStatus, ClientError> {
        self.post(name, "resume", None::<&()>).await
    }

    /// Pins `name` to an earlier `revision` until resumed.
    pub async fn rollback(&self, name: &str, revision: &str) -> Result<AppStatus, ClientError> {
        let body = RollbackRequest {
            revision: revision.to_owned(),
        };
        self.post(name, "rollback", Some(&body)).await
    }

    async fn post<T: DeserializeOwned>(
        &self,
        name: &str,
        action: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, ClientError> {
        self.call(
            Method::POST,
            &["api", "v1", "apps", name, action],
            &[],
            body,
        )
        .await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&impl Serialize>,
    ) -> Result<T, ClientError> {
        self.call_with(method, segments, query, body, None).await
    }

    async fn call_with<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&impl Serialize>,
        timeout: Option<std::time::Duration>,
    ) -> Result<T, ClientError> {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let unreachable = |source| ClientError::Unreachable {
            address: self.base.to_string(),
            source,
        };
        let is_post = method == Method::POST;
        let mut request = self.http.request(method, url.clone());
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        request = match body {
            Some(body) => request.json(body),
            // Mutations are JSON, even without a body.
            None if is_post => request.json(&serde_json::json!({})),
            None => request,
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorBody>(&bytes).map_or_else(
                |_| String::from_utf8_lossy(&bytes).trim().to_owned(),
                |body| body.error,
            );
            return Err(ClientError::Refused {
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_slice(&bytes).map_err(|source| ClientError::Decode {
            url: url.to_string(),
            source,
        })
    }
}
