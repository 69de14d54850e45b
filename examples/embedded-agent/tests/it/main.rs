//! Runs the example: the service's flags follow the manifests file, the agent's API
//! answers in the same process, and SIGTERM stops it cleanly.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const FLAGS: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: checkout\n  namespace: shop\ndata:\n  newFlow: \"on\"\n";

/// Kills the program if the test fails before stopping it.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(http: &reqwest::blocking::Client, url: &str) -> Option<Value> {
    http.get(url).send().ok()?.json().ok()
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn flags_follow_the_manifests_and_the_agent_api_answers() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("flags.yaml");
    std::fs::write(&manifests, FLAGS).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_example-embedded-agent"))
        .arg(&manifests)
        .arg(format!("127.0.0.1:{port}"))
        .env("DRIFTLESS_API_TOKEN", "embedded-token")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();

    wait_for("the first sync", || {
        get(&http, &format!("{base}/flags")).is_some_and(|f| f["checkout"]["newFlow"] == "on")
    });
    let apps = get(&http, &format!("{base}/api/v1/apps")).unwrap();
    assert_eq!(apps[0]["name"], "flags");
    assert_eq!(apps[0]["target"], "memory:flags");
    assert_eq!(apps[0]["ready"], true);

    // A change is picked up at once on request (the interval is 30 s).
    std::fs::write(&manifests, FLAGS.replace("\"on\"", "\"off\"")).unwrap();
    let response = http
        .post(format!("{base}/api/v1/apps/flags/reconcile"))
        .bearer_auth("embedded-token")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(response.status(), 202);
    wait_for("the change to reach the service", || {
        get(&http, &format!("{base}/flags")).is_some_and(|f| f["checkout"]["newFlow"] == "off")
    });
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("driftless_reconciles_total{app=\"flags\",result=\"succeeded\"} 2"),
        "{metrics}"
    );

    let status = Command::new("kill")
        .args(["-TERM", &running.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut exit = None;
    wait_for("the program to exit", || {
        exit = running.0.try_wait().unwrap();
        exit.is_some()
    });
    assert!(exit.unwrap().success(), "{exit:?}");
}
