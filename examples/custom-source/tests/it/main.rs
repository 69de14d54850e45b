//! Runs the example against a bundle served on 127.0.0.1.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::sync::{Arc, Mutex};

/// A tar.gz holding one ConfigMap with `value`.
fn bundle(value: &str) -> Vec<u8> {
    let yaml = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: demo\ndata:\n  value: {value:?}\n"
    );
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_size(yaml.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "app/settings.yaml", yaml.as_bytes())
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap()
}

/// Serves whatever `body` holds at any path, until the test ends.
fn serve(body: Arc<Mutex<Vec<u8>>>) -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/bundle.tar.gz",
        server.server_addr().to_ip().unwrap()
    );
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let bytes = body.lock().unwrap().clone();
            let _ = request.respond(tiny_http::Response::from_data(bytes));
        }
    });
    url
}

fn run(url: &str, target: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_example-custom-source"))
        .args([url, target.to_str().unwrap()])
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
fn syncs_a_bundle_and_follows_its_changes() {
    let body = Arc::new(Mutex::new(bundle("one")));
    let url = serve(Arc::clone(&body));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("live");
    let file = target.join("demo/core_ConfigMap/settings.yaml");

    assert!(run(&url, &target).contains("1 created"));
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("value: one")
    );

    assert!(run(&url, &target).contains("0 created, 0 updated"));

    *body.lock().unwrap() = bundle("two");
    assert!(run(&url, &target).contains("1 updated"));
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("value: two")
    );
}

#[test]
fn a_missing_bundle_is_an_error_and_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("live");
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/missing.tar.gz",
        server.server_addr().to_ip().unwrap()
    );
    std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let _ = request.respond(tiny_http::Response::empty(404));
        }
    });
    let out = Command::new(env!("CARGO_BIN_EXE_example-custom-source"))
        .args([url.as_str(), target.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("missing.tar.gz") && stderr.contains("404"),
        "{stderr}"
    );
    assert!(!target.join("demo").exists());
}
