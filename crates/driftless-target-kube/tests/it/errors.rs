//! Conflicts with another field manager (real server); throttling and RBAC denials
//! (an HTTP-level mock: the test server cannot be made to throttle on demand).

use std::sync::{Arc, Mutex};

use driftless_core::{Action, ApplyOptions, Change, Object, ObjectSet, Plan, Target};
use driftless_target_kube::{KubeOptions, KubeTarget};
use driftless_testkit::kube::TestNamespace;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

use crate::support::{config_map, objects, reconcile, target};

#[tokio::test]
async fn fields_of_another_manager_are_taken_over_without_force() {
    let ns = TestNamespace::new("conflict");
    let out = ns.kubectl_output(
        &["apply", "--server-side", "--field-manager=other-tool", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata:\n  mode: slow\n  theirs: x\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target = target(&ns, "conflict").await;
    let desired = || objects([config_map("shared", json!({"mode": "fast"}))]);

    // Git wins: the plan shows the one field that changes, and the apply takes it.
    let (plan, report) = reconcile(&target, desired(), ApplyOptions::default())
        .await
        .unwrap();
    let Action::Update { fields, .. } = &plan.changes[0].action else {
        panic!("expected an update: {plan:#?}");
    };
    let paths: Vec<&str> = fields.iter().map(|f| f.path.as_str()).collect();
    assert!(paths.contains(&"/data/mode"), "{paths:?}");
    assert!(!paths.iter().any(|p| p.contains("theirs")), "{paths:?}");
    assert_eq!(report.updated.len(), 1);
    let live = ns.kubectl(&[
        "get",
        "configmap",
        "shared",
        "-o",
        "json",
        "--show-managed-fields",
    ]);
    let live: Value = serde_json::from_str(&live).unwrap();
    assert_eq!(
        live["data"],
        json!({"mode": "fast", "theirs": "x"}),
        "their other field stays"
    );
    let ours = live["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["manager"] == "driftless")
        .expect("driftless manages fields");
    assert!(
        ours["fieldsV1"]["f:data"].get("f:mode").is_some(),
        "{ours:#}"
    );

    // Now that we own it, the next reconcile has nothing to do.
    let (plan, _) = reconcile(&target, desired(), ApplyOptions::default())
        .await
        .unwrap();
    assert!(!plan.has_changes(), "{plan:#?}");
}

/// A minimal HTTP/1.1 server on 127.0.0.1 answering with `handler(method, path, body)`.
struct Mock {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Handler = dyn Fn(&str, &str, &str, usize) -> (u16, Value) + Send + Sync;

async fn mock(handler: Arc<Handler>) -> Mock {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let handler = handler.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or("").to_owned();
                    let path = parts.next().unwrap_or("").to_owned();
                    let mut length = 0;
                    loop {
                        let mut header = String::new();
                        stream.read_line(&mut header).await.unwrap();
                        let header = header.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = header.split_once(':')
                            && k.eq_ignore_ascii_case("content-length")
                        {
                            length = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    stream.read_exact(&mut body).await.unwrap();
                    let key = format!("{method} {}", path.split('?').next().unwrap_or(""));
                    let n = {
                        let mut seen = seen.lock().unwrap();
                        let n = seen.iter().filter(|k| **k == key).count();
                        seen.push(key);
                        n
                    };
                    let (status, reply) =
                        handler(&method, &path, &String::from_utf8_lossy(&body), n);
                    let reply = reply.to_string();
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{reply}",
                        reply.len()
                    );
                    if stream
                        .get_mut()
                        .write_all(response.as_bytes())
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    Mock {
        port,
        requests,
        task,
    }
}

async fn mock_target(mock: &Mock, dir: &tempfile::TempDir) -> KubeTarget {
    let path = dir.path().join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: mock\nclusters:\n- name: mock\n  cluster:\n    server: http://127.0.0.1:{}\nusers:\n- name: mock\n  user: {{}}\ncontexts:\n- name: mock\n  context:\n    cluster: mock\n    user: mock\n    namespace: mock\n",
            mock.port
        ),
    )
    .unwrap();
    KubeTarget::from_kubeconfig(
        KubeOptions::default()
            .kubeconfig(&path)
            .applyset("m")
            .applyset_namespace("mock"),
    )
    .await
    .unwrap()
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
           "reason": reason, "message": message})
}

fn discovery() -> Value {
    json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": "configmaps", "singularName": "", "namespaced": true, "kind": "ConfigMap",
         "verbs": ["get", "list", "patch", "delete"]},
        {"name": "secrets", "singularName": "", "namespaced": true, "kind": "Secret",
         "verbs": ["get", "list", "patch", "delete"]}
    ]})
}

#[tokio::test]
async fn throttled_and_unavailable_requests_are_retried() {
    let handler: Arc<Handler> =
        Arc::new(
            |method, path, body, n| match (method, path.split('?').next().unwrap_or("")) {
                ("GET", "/api/v1") => (200, discovery()),
                ("GET", p) if p.contains("/secrets/") => {
                    (404, status(404, "NotFound", "not found"))
                }
                ("PATCH", p) if p.ends_with("/configmaps/a") && n == 0 => (
                    429,
                    status(
                        429,
                        "TooManyRequests",
                        "too many requests, please try again later",
                    ),
                ),
                ("PATCH", p) if p.ends_with("/configmaps/a") && n == 1 => (
                    503,
                    status(503, "ServiceUnavailable", "etcd leader changed"),
                ),
                ("PATCH", _) => (200, serde_json::from_str(body).unwrap()),
                _ => (404, status(404, "NotFound", "no route")),
            },
        );
    let mock = mock(handler).await;
    let dir = tempfile::tempdir().unwrap();
    let target = mock_target(&mock, &dir).await;
    let mut cm = Object::new(config_map("a", json!({"k": "v"}))).unwrap();
    cm.set_namespace(Some("mock"));
    let plan = Plan {
        changes: vec![Change {
            id: cm.id(),
            action: Action::Create { desired: cm },
        }],
    };
    let report = target.apply(&plan, &ApplyOptions::default()).await.unwrap();
    assert_eq!(report.created.len(), 1);
    let requests = mock.requests.lock().unwrap().clone();
    let patches = requests
        .iter()
        .filter(|r| r.as_str() == "PATCH /api/v1/namespaces/mock/configmaps/a")
        .count();
    assert_eq!(patches, 3, "{requests:#?}");
    assert_eq!(
        target.request_counts().writes,
        4,
        "three tries and the parent"
    );
}

#[tokio::test]
async fn rbac_denials_name_verb_resource_and_namespace() {
    let handler: Arc<Handler> = Arc::new(|method, path, _body, _n| {
        match (method, path.split('?').next().unwrap_or("")) {
            ("GET", "/api/v1") => (200, discovery()),
            ("GET", "/api") => (200, json!({"kind": "APIVersions", "versions": ["v1"]})),
            ("GET", p) if p.contains("/secrets/") => (
                200,
                json!({
                    "apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": "applyset-m", "namespace": "mock",
                        "annotations": {"applyset.kubernetes.io/contains-group-kinds": "ConfigMap"}}
                }),
            ),
            ("GET", p) if p.ends_with("/configmaps") => (
                403,
                status(
                    403,
                    "Forbidden",
                    "configmaps is forbidden: User \"bob\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"mock\"",
                ),
            ),
            _ => (404, status(404, "NotFound", "no route")),
        }
    });
    let mock = mock(handler).await;
    let dir = tempfile::tempdir().unwrap();
    let target = mock_target(&mock, &dir).await;
    let err = target.live(&ObjectSet::new()).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("forbidden: cannot list configmaps in namespace mock: "),
        "{err}"
    );
}
