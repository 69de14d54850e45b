//! Runs the example against an in-memory store served on 127.0.0.1.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::Value;

type Store = Arc<Mutex<BTreeMap<String, Value>>>;

/// The store's API in memory: GET /objects, PUT and DELETE /objects/<key>.
fn serve(store: Store) -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    std::thread::spawn(move || {
        for mut request in server.incoming_requests() {
            let key = request
                .url()
                .trim_start_matches("/objects")
                .trim_start_matches('/');
            let key = key.replace("%2F", "/");
            let mut store = store.lock().unwrap();
            let response = match request.method() {
                tiny_http::Method::Get => {
                    let all: Vec<&Value> = store.values().collect();
                    tiny_http::Response::from_string(serde_json::to_string(&all).unwrap())
                }
                tiny_http::Method::Put => {
                    let mut body = String::new();
                    request.as_reader().read_to_string(&mut body).unwrap();
                    store.insert(key, serde_json::from_str(&body).unwrap());
                    tiny_http::Response::from_string("")
                }
                tiny_http::Method::Delete => {
                    store.remove(&key);
                    tiny_http::Response::from_string("")
                }
                _ => tiny_http::Response::from_string("").with_status_code(405),
            };
            let _ = request.respond(response);
        }
    });
    url
}

fn run(source: &Path, url: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_example-custom-target"))
        .args([source.to_str().unwrap(), url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn keeps_the_store_in_sync() {
    let store = Store::default();
    let url = serve(Arc::clone(&store));
    let repo = tempfile::tempdir().unwrap();
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("../quickstart/app");
    for entry in std::fs::read_dir(&app).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, repo.path().join(path.file_name().unwrap())).unwrap();
    }

    assert!(run(repo.path(), &url).contains("4 created"));
    assert!(
        store
            .lock()
            .unwrap()
            .contains_key("apps/Deployment/podinfo/podinfo")
    );
    assert!(run(repo.path(), &url).contains("0 created, 0 updated, 0 pruned, 4 unchanged"));

    // Drift in the store is put back.
    store
        .lock()
        .unwrap()
        .get_mut("apps/Deployment/podinfo/podinfo")
        .unwrap()["spec"]["replicas"] = Value::from(9);
    assert!(run(repo.path(), &url).contains("1 updated"));
    let replicas =
        store.lock().unwrap()["apps/Deployment/podinfo/podinfo"]["spec"]["replicas"].clone();
    assert_eq!(replicas, 2);

    // A removed manifest is pruned; a key the target never wrote is left alone.
    store.lock().unwrap().insert(
        "/ConfigMap/other/foreign".into(),
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "foreign", "namespace": "other"}}),
    );
    std::fs::remove_file(repo.path().join("deployment.yaml")).unwrap();
    assert!(run(repo.path(), &url).contains("1 pruned"));
    let keys: Vec<String> = store.lock().unwrap().keys().cloned().collect();
    assert!(
        !keys.contains(&"apps/Deployment/podinfo/podinfo".to_owned()),
        "{keys:?}"
    );
    assert!(
        keys.contains(&"/ConfigMap/other/foreign".to_owned()),
        "{keys:?}"
    );
}
