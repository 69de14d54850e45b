//! The runtime's error type.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::ConfigError;
use crate::history::HistoryError;

/// Why an agent could not be set up or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The history store failed.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// An app's source, renderer or target could not be opened.
    #[error("app {app:?}")]
    OpenApp {
        /// The app.
        app: String,
        /// The cause.
        #[source]
        source: Box<driftless::Error>,
    },
    /// An app's webhook secret could not be read.
    #[error("app {app:?}: cannot read webhook.secretFile {}", path.display())]
    WebhookSecret {
        /// The app.
        app: String,
        /// The secret file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An app's webhook secret file is empty.
    #[error("app {app:?}: webhook.secretFile {} is empty", path.display())]
    EmptyWebhookSecret {
        /// The app.
        app: String,
        /// The secret file.
        path: PathBuf,
    },
    /// Two apps have the same name.
    #[error("two apps are named {0:?}")]
    DuplicateApp(String),
    /// An app depends on an app the agent does not have.
    #[error("app {app:?} depends on {dependency:?}, which is not an app of this agent")]
    UnknownDependency {
        /// The app.
        app: String,
        /// The missing dependency.
        dependency: String,
    },
    /// Apps depend on each other in a circle.
    #[error("dependency cycle: {}", .0.join(" -> "))]
    DependencyCycle(Vec<String>),
    /// No app has this name.
    #[error("no app named {0:?}")]
    UnknownApp(String),
    /// The HTTP server could not listen.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("the HTTP server failed")]
    Serve(#[source] std::io::Error),
    /// Leader election could not start.
    #[cfg(feature = "kube")]
    #[error("leader election on Lease {lease}")]
    Lease {
        /// `namespace/name`.
        lease: String,
        /// The cause.
        #[source]
        source: Box<driftless::target_kube::Error>,
    },
    /// Sharding could not start.
    #[cfg(feature = "kube")]
    #[error("sharding on the Leases of group {group}")]
    Sharding {
        /// `namespace/name` of the group.
        group: String,
        /// The cause.
        #[source]
        source: Box<driftless::target_kube::Error>,
    },
    /// A background task failed.
    #[error("a background task failed")]
    Task(#[from] tokio::task::JoinError),
    /// The API token file could not be read or created.
    #[error("cannot read or create the API token file {}", path.display())]
    TokenFile {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The API token file is empty.
    #[error("the API token file {} is empty", path.display())]
    EmptyTokenFile {
        /// The file.
        path: std::path::PathBuf,
    },
}

/// An error and its causes on one line, for logs and API answers. A cause whose text
/// the line already holds is left out: many errors (kube's among them) repeat their
/// source in their own message.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let text = inner.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = inner.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    /// An error that repeats its source in its own text, as kube's errors do.
    #[derive(Debug, thiserror::Error)]
    #[error("request failed: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("cannot apply")]
    struct Outer(#[source] Repeats);

    #[test]
    fn a_cause_already_in_the_line_is_not_repeated() {
        let error = Outer(Repeats(std::io::Error::other("connection refused")));
        assert_eq!(
            error_chain(&error),
            "cannot apply: request failed: connection refused"
        );
    }
}
