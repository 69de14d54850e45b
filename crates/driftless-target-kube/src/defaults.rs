//! Values written the way every API server's apply schema takes them.
//!
//! Servers before 1.21 refuse a server-side apply body whose Service or container port
//! omits `protocol` (a key of those lists: "associative list with keys has an element
//! that omits key field protocol"), and a quantity written as a YAML number (`cpu: 0.25`:
//! "expected string"). Both mean the same to every server once stored (`TCP` is the
//! default; `0.25` and `"0.25"` are one quantity), so the apply body spells them so —
//! as Flux does for the same reason.

use serde_json::Value;

/// Fills in `protocol: TCP` where a port omits it and writes numeric quantities as
/// strings, in Services, pod templates and volume claims.
pub(crate) fn spell_for_apply(kind: &str, body: &mut Value) {
    match kind {
        "Service" => {
            if let Some(ports) = body.pointer_mut("/spec/ports") {
                default_protocols(ports);
            }
        }
        "Pod" => pod_spec(body.get_mut("spec")),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => {
            pod_spec(body.pointer_mut("/spec/template/spec"));
            if let Some(Value::Array(claims)) = body.pointer_mut("/spec/volumeClaimTemplates") {
                for claim in claims {
                    resources(claim.pointer_mut("/spec/resources"));
                }
            }
        }
        "CronJob" => pod_spec(body.pointer_mut("/spec/jobTemplate/spec/template/spec")),
        "PersistentVolumeClaim" => resources(body.pointer_mut("/spec/resources")),
        _ => {}
    }
}

fn pod_spec(spec: Option<&mut Value>) {
    let Some(spec) = spec else {
        return;
    };
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        let Some(Value::Array(containers)) = spec.get_mut(list) else {
            continue;
        };
        for container in containers {
            if let Some(ports) = container.get_mut("ports") {
                default_protocols(ports);
            }
            resources(container.get_mut("resources"));
        }
    }
}

fn default_protocols(ports: &mut Value) {
    let Value::Array(ports) = ports else {
        return;
    };
    for port in ports.iter_mut().filter_map(Value::as_object_mut) {
        if port.get("protocol").is_none_or(Value::is_null) {
            port.insert("protocol".into(), Value::String("TCP".into()));
        }
    }
}

fn resources(resources: Option<&mut Value>) {
    let Some(resources) = resources else {
        return;
    };
    for field in ["requests", "limits"] {
        let Some(Value::Object(quantities)) = resources.get_mut(field) else {
            continue;
        };
        for quantity in quantities.values_mut() {
            if let Value::Number(n) = quantity {
                *quantity = Value::String(n.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ports_get_their_default_protocol_and_quantities_become_strings() {
        let mut deployment = json!({"spec": {"template": {"spec": {"containers": [{
            "name": "a",
            "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}],
            "resources": {"requests": {"cpu": 0.25, "memory": "64Mi"}, "limits": {"cpu": 2}},
        }]}}}});
        spell_for_apply("Deployment", &mut deployment);
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["ports"][0]["protocol"], "TCP");
        assert_eq!(container["ports"][1]["protocol"], "UDP");
        assert_eq!(
            container["resources"]["requests"],
            json!({"cpu": "0.25", "memory": "64Mi"})
        );
        assert_eq!(container["resources"]["limits"], json!({"cpu": "2"}));
        let mut service = json!({"spec": {"ports": [{"port": 80}]}});
        spell_for_apply("Service", &mut service);
        assert_eq!(service["spec"]["ports"][0]["protocol"], "TCP");
        let mut config = json!({"data": {"ports": [{"port": 80}]}});
        spell_for_apply("ConfigMap", &mut config);
        assert_eq!(config, json!({"data": {"ports": [{"port": 80}]}}));
    }
}
