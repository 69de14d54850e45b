//! Kubernetes Events on the ApplySet parent: the outcome of each reconcile where
//! `kubectl describe secret applyset-<app>` and `kubectl get events` show it.

use driftless_core::TargetEvent;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};

use crate::error::Error;

/// The ApplySet parent an event is about, and who reports it.
pub(crate) struct Parent<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) name: &'a str,
    /// The field manager, as the reporting component.
    pub(crate) component: &'a str,
}

/// Creates one core/v1 Event on the parent Secret (core/v1 rather than
/// events.k8s.io/v1: `kubectl describe` on every server version shows it).
pub(crate) async fn record(
    client: &Client,
    parent: &Parent<'_>,
    event: &TargetEvent,
) -> Result<(), Error> {
    let now = Timestamp::now();
    let event = Event {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}.", parent.name)),
            namespace: Some(parent.namespace.to_owned()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Secret".into()),
            name: Some(parent.name.to_owned()),
            namespace: Some(parent.namespace.to_owned()),
            ..ObjectReference::default()
        },
        type_: Some(if event.warning { "Warning" } else { "Normal" }.into()),
        reason: Some(event.reason.clone()),
        // The API server refuses messages over 1 KiB.
        message: Some(truncate(&event.message, 1024)),
        action: Some("Reconcile".into()),
        source: Some(EventSource {
            component: Some(parent.component.to_owned()),
            host: None,
        }),
        reporting_component: Some(parent.component.to_owned()),
        reporting_instance: Some(parent.component.to_owned()),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        event_time: Some(MicroTime(now)),
        count: Some(1),
        ..Event::default()
    };
    let api: Api<Event> = Api::namespaced(client.clone(), parent.namespace);
    api.create(&PostParams::default(), &event)
        .await
        .map_err(|e| Error::Api {
            verb: "create".into(),
            resource: format!("events (on Secret {})", parent.name),
            namespace: Some(parent.namespace.to_owned()),
            source: Box::new(e),
        })?;
    Ok(())
}

/// At most `max` bytes, cut at a character boundary.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        assert_eq!(truncate("short", 1024), "short");
        assert_eq!(truncate("ééé", 3), "é");
    }
}
