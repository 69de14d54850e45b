//! API calls: retries with backoff, request counting, and errors with context.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use driftless_core::ObjectId;
use kube::core::Status;

use crate::error::{Error, FieldConflict};

/// How many API requests a [`KubeTarget`](crate::KubeTarget) sent, by kind. Retries
/// count as requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// GET requests (reads, lists, discovery).
    pub reads: u64,
    /// Every other request (PATCH, POST, PUT, DELETE) that changes something.
    pub writes: u64,
    /// Dry runs (`dryRun=All`): the server checks a write and changes nothing.
    pub dry_runs: u64,
}

impl RequestCounts {
    /// All requests.
    pub fn total(&self) -> u64 {
        self.reads + self.writes + self.dry_runs
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    reads: AtomicU64,
    writes: AtomicU64,
    dry_runs: AtomicU64,
}

impl Counters {
    pub(crate) fn record(&self, method: &http::Method, uri: &http::Uri) {
        let dry_run = uri.query().is_some_and(|q| q.contains("dryRun=All"));
        if method == http::Method::GET {
            self.reads.fetch_add(1, Ordering::Relaxed);
        } else if dry_run {
            self.dry_runs.fetch_add(1, Ordering::Relaxed);
        } else {
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> RequestCounts {
        RequestCounts {
            reads: self.reads.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            dry_runs: self.dry_runs.load(Ordering::Relaxed),
        }
    }
}

/// A tower layer that counts requests into `counters`.
pub(crate) fn counting_layer(
    counters: Arc<Counters>,
) -> tower::util::MapRequestLayer<
    impl FnMut(http::Request<kube::client::Body>) -> http::Request<kube::client::Body> + Clone,
> {
    tower::util::MapRequestLayer::new(move |request: http::Request<kube::client::Body>| {
        counters.record(request.method(), request.uri());
        request
    })
}

/// How often a transient failure is retried, and the first delay (doubled each time).
const ATTEMPTS: u32 = 6;
const FIRST_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(5);

/// Runs `call` until it succeeds, fails for good, or has failed transiently
/// [`ATTEMPTS`] times: too many requests (429), server errors (5xx, except a
/// rejected apply body), resourceVersion conflicts and connection failures.
pub(crate) async fn retrying<T, F, Fut>(what: &str, mut call: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut delay = FIRST_DELAY;
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(error) if attempt < ATTEMPTS && is_transient(&error) => {
                let wait = retry_after(&error).unwrap_or(delay).min(MAX_DELAY);
                tracing::debug!(%what, attempt, ?wait, %error, "retrying after a transient failure");
                tokio::time::sleep(wait).await;
                delay = (delay * 2).min(MAX_DELAY);
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

fn is_transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => match status.code {
            429 | 502 | 503 | 504 => true,
            500 => !is_schema_rejection(status),
            409 => status.reason == "Conflict" && field_conflicts(status).is_empty(),
            _ => false,
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

fn retry_after(error: &kube::Error) -> Option<Duration> {
    match error {
        kube::Error::Api(status) => status
            .details
            .as_ref()
            .map(|d| d.retry_after_seconds)
            .filter(|s| *s > 0)
            .map(|s| Duration::from_secs(u64::from(s))),
        _ => None,
    }
}

/// Servers before 1.25 answer an apply body with an undeclared field with a 500.
fn is_schema_rejection(status: &Status) -> bool {
    status
        .message
        .contains("failed to create typed patch object")
}

fn field_conflicts(status: &Status) -> Vec<FieldConflict> {
    status
        .details
        .iter()
        .flat_map(|d| d.causes.iter())
        .filter(|c| c.reason == "FieldManagerConflict")
        .map(|c| FieldConflict {
            field: c.field.clone(),
            manager: c
                .message
                .split('"')
                .nth(1)
                .unwrap_or(c.message.as_str())
                .to_owned(),
        })
        .collect()
}

/// The HTTP status code of an API error, if it is one.
pub(crate) fn status_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// What a failed call was doing, to name it in the error.
pub(crate) struct CallContext<'a> {
    pub(crate) verb: &'a str,
    pub(crate) resource: &'a str,
    pub(crate) namespace: Option<&'a str>,
    pub(crate) id: Option<&'a ObjectId>,
}

impl CallContext<'_> {
    /// Turns a kube error into ours: RBAC denials name verb, resource and namespace;
    /// apply conflicts name fields and managers; immutable fields are recognised.
    pub(crate) fn error(&self, error: kube::Error) -> Error {
        if let kube::Error::Api(status) = &error {
            if status.code == 403 {
                return Error::Forbidden {
                    verb: self.verb.to_owned(),
                    resource: self.resource.to_owned(),
                    namespace: self.namespace.map(str::to_owned),
                    message: status.message.clone(),
                };
            }
            if let Some(id) = self.id {
                let conflicts = field_conflicts(status);
                if status.code == 409 && !conflicts.is_empty() {
                    return Error::Conflict {
                        id: Box::new(id.clone()),
                        conflicts,
                    };
                }
                if status.code == 422 || status.code == 400 || is_schema_rejection(status) {
                    if let Some(field) = immutable_field(status) {
                        return Error::Immutable {
                            id: Box::new(id.clone()),
                            field,
                            message: status.message.clone(),
                        };
                    }
                    return Error::Invalid {
                        id: Box::new(id.clone()),
                        message: status.message.clone(),
                    };
                }
            }
        }
        Error::Api {
            verb: self.verb.to_owned(),
            resource: self.resource.to_owned(),
            namespace: self.namespace.map(str::to_owned),
            source: Box::new(error),
        }
    }
}

/// Whether a validation message says a field cannot change (the wording varies by
/// kind and server version).
fn says_immutable(message: &str) -> bool {
    [
        "immutable",
        "may not change",
        "cannot be changed",
        "updates to statefulset spec",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// The field named by an "immutable" rejection, if the rejection is one.
pub(crate) fn immutable_field(status: &Status) -> Option<String> {
    let causes = status.details.iter().flat_map(|d| d.causes.iter());
    for cause in causes {
        if says_immutable(&cause.message) {
            return Some(if cause.field.is_empty() {
                "(unnamed)".to_owned()
            } else {
                cause.field.clone()
            });
        }
    }
    // Some rejections carry no causes; the message starts with the field then.
    if says_immutable(&status.message) {
        let field = status
            .message
            .split(": ")
            .find(|part| part.starts_with("spec.") || part.starts_with("metadata."))
            .unwrap_or("(unnamed)");
        return Some(field.to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::response::{StatusCause, StatusDetails};

    fn status(code: u16, reason: &str, message: &str, causes: Vec<StatusCause>) -> Status {
        Status {
            code,
            reason: reason.into(),
            message: message.into(),
            details: Some(StatusDetails {
                name: String::new(),
                group: String::new(),
                kind: String::new(),
                uid: String::new(),
                causes,
                retry_after_seconds: 0,
            }),
            ..Status::default()
        }
    }

    fn cause(reason: &str, message: &str, field: &str) -> StatusCause {
        StatusCause {
            reason: reason.into(),
            message: message.into(),
            field: field.into(),
        }
    }

    #[test]
    fn names_conflicting_fields_and_managers() {
        let s = status(
            409,
            "Conflict",
            "Apply failed with 1 conflict",
            vec![cause(
                "FieldManagerConflict",
                "conflict with \"kubectl-client-side-apply\" using v1",
                ".data.mode",
            )],
        );
        let id = ObjectId::new("", "ConfigMap", Some("a"), "b");
        let ctx = CallContext {
            verb: "patch",
            resource: "configmaps",
            namespace: Some("a"),
            id: Some(&id),
        };
        let err = ctx.error(kube::Error::Api(Box::new(s.clone())));
        assert_eq!(
            err.to_string(),
            "/ConfigMap/a/b: fields owned by another manager: .data.mode (owned by \"kubectl-client-side-apply\")"
        );
        assert!(!is_transient(&kube::Error::Api(Box::new(s))));
    }

    #[test]
    fn resource_version_conflicts_and_throttling_are_transient() {
        let s = status(409, "Conflict", "the object has been modified", vec![]);
        assert!(is_transient(&kube::Error::Api(Box::new(s))));
        let s = status(429, "TooManyRequests", "slow down", vec![]);
        assert!(is_transient(&kube::Error::Api(Box::new(s))));
        let s = status(
            500,
            "",
            "failed to create typed patch object: .bogus: field not declared in schema",
            vec![],
        );
        assert!(!is_transient(&kube::Error::Api(Box::new(s))));
    }

    #[test]
    fn finds_the_immutable_field() {
        let s = status(
            422,
            "Invalid",
            "Service \"web\" is invalid: spec.clusterIP: Invalid value: \"10.0.0.9\": field is immutable",
            vec![cause(
                "FieldValueInvalid",
                "Invalid value: \"10.0.0.9\": field is immutable",
                "spec.clusterIP",
            )],
        );
        assert_eq!(immutable_field(&s).as_deref(), Some("spec.clusterIP"));
        let s = status(
            422,
            "Invalid",
            "Job.batch \"j\" is invalid: spec.template: Invalid value: {}: field is immutable",
            vec![],
        );
        assert_eq!(immutable_field(&s).as_deref(), Some("spec.template"));
        let s = status(
            422,
            "Invalid",
            "Service \"db\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"10.0.0.205\"}: may not change once set",
            vec![],
        );
        assert_eq!(immutable_field(&s).as_deref(), Some("spec.clusterIPs[0]"));
    }

    #[test]
    fn forbidden_names_verb_resource_and_namespace() {
        let s = status(403, "Forbidden", "User \"bob\" cannot list", vec![]);
        let ctx = CallContext {
            verb: "list",
            resource: "secrets",
            namespace: Some("prod"),
            id: None,
        };
        assert_eq!(
            ctx.error(kube::Error::Api(Box::new(s))).to_string(),
            "forbidden: cannot list secrets in namespace prod: User \"bob\" cannot list"
        );
    }
}
