use crate::{driftless, repo_root, stderr, stdout};

#[test]
fn renders_the_example_as_multi_document_yaml() {
    let out = driftless(&repo_root(), &["render", "examples/quickstart/app"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn renders_json_for_scripts() {
    let out = driftless(
        &repo_root(),
        &["render", "examples/quickstart/app", "-o", "json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Deployment", "Namespace", "Service", "ConfigMap"]);
    // A quoted "on" stays a string.
    assert_eq!(list[3]["data"]["PODINFO_CACHE"], "on");
}

#[test]
fn errors_name_the_file_with_their_causes_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "apiVersion: v1\nkind: [\n").unwrap();
    let out = driftless(dir.path(), &["render", "."]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("caused by:"), "{err}");
    assert!(err.contains("bad.yaml"), "{err}");
    assert!(stdout(&out).is_empty());
}

#[test]
fn missing_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = driftless(dir.path(), &["render", "no-such-dir"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no-such-dir is not a directory"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn every_command_has_help() {
    for command in ["render", "diff", "apply"] {
        let out = driftless(&repo_root(), &[command, "--help"]);
        assert!(out.status.success(), "{command}: {}", stderr(&out));
        assert!(stdout(&out).contains("Usage: driftless"), "{command}");
    }
}
