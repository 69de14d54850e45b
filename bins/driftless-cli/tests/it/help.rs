//! What `--help` lists, shell completions, and flags that take only documented values.

use crate::{driftless, stderr, stdout};

fn help(command: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = driftless(dir.path(), &[command, "--help"]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn each_command_lists_only_the_flags_it_uses() {
    let fetch = help("fetch");
    assert!(!fetch.contains("--render"), "{fetch}");
    assert!(fetch.contains("--ssh-key-file"), "{fetch}");
    assert!(!fetch.contains("--target"), "{fetch}");

    let push = help("push");
    for flag in [
        "--ssh-key-file",
        "--known-hosts-file",
        "--branch",
        "--render",
    ] {
        assert!(!push.contains(flag), "{flag} in {push}");
    }
    for flag in ["--token-file", "--docker-config", "--insecure"] {
        assert!(push.contains(flag), "{flag} missing from {push}");
    }

    let apply = help("apply");
    for flag in [
        "--kubeconfig",
        "--context",
        "-n, --namespace",
        "--adopt",
        "--render",
    ] {
        assert!(apply.contains(flag), "{flag} missing from {apply}");
    }
    // Docker's own variable: a directory holding config.json.
    assert!(apply.contains("DOCKER_CONFIG="), "{apply}");
    assert!(!apply.contains("DOCKER_CONFIG_FILE"), "{apply}");

    let delete = help("delete");
    assert!(delete.contains("--name"), "{delete}");
    assert!(!delete.contains("--render"), "{delete}");
}

#[test]
fn render_takes_only_yaml_or_json() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("app")).unwrap();
    std::fs::write(
        dir.path().join("app/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    )
    .unwrap();
    let out = driftless(dir.path(), &["render", "app", "-o", "human"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("[possible values: yaml, json]"),
        "{}",
        stderr(&out)
    );
    for format in ["yaml", "json"] {
        let out = driftless(dir.path(), &["render", "app", "-o", format]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = driftless(dir.path(), &["render", "app", "--render", "helm"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("auto, plain, kustomize"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn completion_scripts_for_bash_zsh_and_fish() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [
        ("bash", "complete -F _driftless"),
        ("zsh", "#compdef driftless"),
        ("fish", "complete -c driftless"),
    ] {
        let out = driftless(dir.path(), &["completion", shell]);
        assert!(out.status.success(), "{}", stderr(&out));
        let script = stdout(&out);
        assert!(script.contains(marker), "{shell}: {script}");
        for word in ["apply", "delete", "kubeconfig", "adopt"] {
            assert!(script.contains(word), "{shell}: {word} missing");
        }
    }
    // A script bash itself accepts.
    let script = dir.path().join("driftless.bash");
    std::fs::write(
        &script,
        driftless(dir.path(), &["completion", "bash"]).stdout,
    )
    .unwrap();
    let status = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .unwrap();
    assert!(status.success());
}
