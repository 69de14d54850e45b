//! Health of one live object, read from its status.

use driftless_core::Health;
use serde_json::Value;

/// The health of a live object: workloads rolled out, Jobs complete, PVCs bound,
/// CRDs Established, anything else by its `Ready` condition (healthy without one).
pub(crate) fn evaluate(object: &Value) -> Health {
    let group = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(|v| v.rsplit_once('/'))
        .map_or("", |(g, _)| g);
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    match (group, kind) {
        ("apps" | "extensions", "Deployment") => deployment(object),
        ("apps", "StatefulSet") => stateful_set(object),
        ("apps" | "extensions", "DaemonSet") => daemon_set(object),
        ("batch", "Job") => job(object),
        ("", "PersistentVolumeClaim") => pvc(object),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd(object),
        _ => ready_condition(object),
    }
}

fn int(object: &Value, pointer: &str) -> Option<i64> {
    object.pointer(pointer).and_then(Value::as_i64)
}

/// The condition of this type: (status, reason, message).
fn condition<'a>(object: &'a Value, kind: &str) -> Option<(&'a str, &'a str, &'a str)> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        .map(|c| {
            let field = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("");
            (field("status"), field("reason"), field("message"))
        })
}

/// `Progressing` unless the status describes the current generation.
fn observed(object: &Value) -> Option<Health> {
    let generation = int(object, "/metadata/generation").unwrap_or(0);
    let observed = int(object, "/status/observedGeneration").unwrap_or(0);
    (observed < generation).then(|| {
        Health::Progressing(format!(
            "waiting for the controller to observe generation {generation} (observed {observed})"
        ))
    })
}

fn deployment(d: &Value) -> Health {
    if let Some(h) = observed(d) {
        return h;
    }
    if let Some(("False", "ProgressDeadlineExceeded", message)) = condition(d, "Progressing") {
        return Health::Degraded(format!("progress deadline exceeded: {message}"));
    }
    let want = int(d, "/spec/replicas").unwrap_or(1);
    let updated = int(d, "/status/updatedReplicas").unwrap_or(0);
    let total = int(d, "/status/replicas").unwrap_or(0);
    let available = int(d, "/status/availableReplicas").unwrap_or(0);
    if updated < want {
        Health::Progressing(format!("{updated} of {want} replicas updated"))
    } else if total > updated {
        Health::Progressing(format!(
            "{} old replicas pending termination",
            total - updated
        ))
    } else if available < want {
        Health::Progressing(format!("{available} of {want} updated replicas available"))
    } else {
        Health::Healthy
    }
}

fn stateful_set(s: &Value) -> Health {
    if let Some(h) = observed(s) {
        return h;
    }
    let want = int(s, "/spec/replicas").unwrap_or(1);
    let total = int(s, "/status/replicas").unwrap_or(0);
    let ready = int(s, "/status/readyReplicas").unwrap_or(0);
    if total < want {
        return Health::Progressing(format!("{total} of {want} replicas created"));
    }
    let updated = int(s, "/status/updatedReplicas").unwrap_or(0);
    let rolling = s
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        .is_none_or(|t| t == "RollingUpdate");
    if ready < want {
        return Health::Progressing(format!("{ready} of {want} replicas ready"));
    }
    if rolling {
        if updated < want {
            return Health::Progressing(format!("{updated} of {want} replicas updated"));
        }
        let current = s.pointer("/status/currentRevision");
        let update = s.pointer("/status/updateRevision");
        if update.is_some() && current != update {
            return Health::Progressing("waiting for the rolling update to finish".into());
        }
    }
    Health::Healthy
}

fn daemon_set(d: &Value) -> Health {
    if let Some(h) = observed(d) {
        return h;
    }
    let want = int(d, "/status/desiredNumberScheduled").unwrap_or(0);
    let scheduled = int(d, "/status/currentNumberScheduled").unwrap_or(0);
    let updated = int(d, "/status/updatedNumberScheduled").unwrap_or(0);
    let ready = int(d, "/status/numberReady").unwrap_or(0);
    let available = int(d, "/status/numberAvailable").unwrap_or(0);
    if scheduled < want {
        Health::Progressing(format!("{scheduled} of {want} pods scheduled"))
    } else if updated < want {
        Health::Progressing(format!("{updated} of {want} pods updated"))
    } else if ready < want {
        Health::Progressing(format!("{ready} of {want} pods ready"))
    } else if available < want {
        Health::Progressing(format!("{available} of {want} updated pods available"))
    } else {
        Health::Healthy
    }
}

fn job(j: &Value) -> Health {
    if let Some(("True", _, _)) = condition(j, "Complete") {
        return Health::Healthy;
    }
    if let Some(("True", reason, message)) = condition(j, "Failed") {
        return Health::Degraded(format!("job failed: {reason} {message}").trim().to_owned());
    }
    Health::Progressing("job not complete".into())
}

fn pvc(p: &Value) -> Health {
    match p.pointer("/status/phase").and_then(Value::as_str) {
        Some("Bound") => Health::Healthy,
        Some("Lost") => Health::Degraded("claim lost its volume".into()),
        phase => Health::Progressing(format!("claim is {}", phase.unwrap_or("Pending"))),
    }
}

fn crd(c: &Value) -> Health {
    if let Some(("True", _, _)) = condition(c, "Established") {
        return Health::Healthy;
    }
    if let Some(("False", reason, message)) = condition(c, "NamesAccepted") {
        return Health::Degraded(format!("names not accepted: {reason} {message}"));
    }
    Health::Progressing("not Established yet".into())
}

fn ready_condition(o: &Value) -> Health {
    match condition(o, "Ready") {
        None | Some(("True", _, _)) => Health::Healthy,
        Some((_, reason, message)) => {
            Health::Progressing(format!("not Ready: {reason} {message}").trim().to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployment_rollout() {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"generation": 2}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 1}});
        assert!(matches!(evaluate(&d), Health::Progressing(_)));
        d["status"] = json!({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2});
        assert!(matches!(evaluate(&d), Health::Progressing(m) if m.contains("old replicas")));
        d["status"]["replicas"] = json!(2);
        assert_eq!(evaluate(&d), Health::Healthy);
        d["status"]["conditions"] = json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]);
        assert!(matches!(evaluate(&d), Health::Degraded(_)));
    }

    #[test]
    fn stateful_and_daemon_sets_follow_kstatus() {
        let mut s = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"generation": 1}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1}});
        assert!(matches!(evaluate(&s), Health::Progressing(m) if m.contains("created")));
        s["status"] = json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 2,
            "updatedReplicas": 2, "currentRevision": "a", "updateRevision": "b"});
        assert!(matches!(evaluate(&s), Health::Progressing(m) if m.contains("rolling update")));
        s["status"]["currentRevision"] = json!("b");
        assert_eq!(evaluate(&s), Health::Healthy);

        let mut d = json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"generation": 3}, "status": {"observedGeneration": 2}});
        assert!(matches!(evaluate(&d), Health::Progressing(m) if m.contains("generation 3")));
        d["status"] = json!({"observedGeneration": 3, "desiredNumberScheduled": 3,
            "currentNumberScheduled": 3, "updatedNumberScheduled": 3, "numberReady": 2,
            "numberAvailable": 2});
        assert!(matches!(evaluate(&d), Health::Progressing(m) if m.contains("2 of 3 pods ready")));
        d["status"]["numberReady"] = json!(3);
        d["status"]["numberAvailable"] = json!(3);
        assert_eq!(evaluate(&d), Health::Healthy);
    }

    #[test]
    fn job_pvc_crd_and_ready() {
        let job = json!({"apiVersion": "batch/v1", "kind": "Job",
            "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}});
        assert!(matches!(evaluate(&job), Health::Degraded(_)));
        let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": {"phase": "Bound"}});
        assert_eq!(evaluate(&pvc), Health::Healthy);
        let crd =
            json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition"});
        assert!(matches!(evaluate(&crd), Health::Progressing(_)));
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap"});
        assert_eq!(evaluate(&cm), Health::Healthy);
        let widget = json!({"apiVersion": "x.dev/v1", "kind": "Widget",
            "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Waiting"}]}});
        assert_eq!(
            evaluate(&widget),
            Health::Progressing("not Ready: Waiting".into())
        );
    }
}
