//! `deploy/` on the real API server of the test run: applied as it is, then the agent
//! runs with nothing but its ServiceAccount's own token (from the TokenRequest API) and
//! reconciles the example app. Proves the RBAC is enough (ApplySet parent included)
//! and its config valid. The base's namespaces are fixed names and stay (the test
//! server runs no namespace controller to delete them); the app's objects and its
//! ApplySet parent are removed at the end.

use std::path::Path;

use driftless_testkit::kube::{kubeconfig, kubectl, kubectl_output};

use crate::support::{agent_command, repo_root};

/// A kubeconfig for the same server with only `token`, in `namespace` (as in a pod).
fn service_account_kubeconfig(dir: &Path, token: &str, namespace: &str) -> std::path::PathBuf {
    let admin = kubeconfig();
    let view = |path: &str| {
        kubectl(&[
            "config",
            "view",
            "--raw",
            "--minify",
            "-o",
            &format!("jsonpath={path}"),
        ])
    };
    let server = view("{.clusters[0].cluster.server}");
    let ca = view("{.clusters[0].cluster.certificate-authority-data}");
    assert!(!ca.is_empty(), "{} has no inline CA", admin.display());
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {server}\n    \
         certificate-authority-data: {ca}\nusers:\n- name: sa\n  user:\n    token: {token}\n\
         contexts:\n- name: sa\n  context: {{cluster: test, user: sa, namespace: {namespace}}}\n\
         current-context: sa\n"
    );
    let path = dir.join("sa.kubeconfig");
    std::fs::write(&path, text).unwrap();
    path
}

/// Deletes the example app's objects and its ApplySet parent.
fn remove_the_example_app() {
    for (namespace, objects) in [
        (
            "podinfo",
            &[
                "deployment/podinfo",
                "service/podinfo",
                "configmap/podinfo-settings",
            ][..],
        ),
        ("driftless-system", &["secret/applyset-example"][..]),
    ] {
        let mut args = vec!["-n", namespace, "delete", "--ignore-not-found"];
        args.extend_from_slice(objects);
        let out = kubectl_output(&args, None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn deploy_applies_and_the_agent_reconciles_with_its_service_account() {
    let root = repo_root();
    let manifests = kubectl(&["kustomize", &root.join("deploy").display().to_string()]);
    let applied = kubectl_output(&["apply", "-f", "-"], Some(&manifests));
    assert!(
        applied.status.success(),
        "kubectl apply of deploy/ failed: {}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let token = kubectl(&[
        "-n",
        "driftless-system",
        "create",
        "token",
        "driftless-agent",
        "--duration=10m",
    ]);

    remove_the_example_app();

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = service_account_kubeconfig(dir.path(), token.trim(), "driftless-system");
    std::fs::write(dir.path().join("api-token"), "a-token-for-this-test\n").unwrap();
    // deploy/agent.yaml, with paths of this machine and the example app from this
    // checkout rather than from GitHub.
    let config = std::fs::read_to_string(root.join("deploy/agent.yaml"))
        .unwrap()
        .replace("0.0.0.0:9090", "127.0.0.1:0")
        .replace(
            "/var/lib/driftless",
            &dir.path().join("state").display().to_string(),
        )
        .replace(
            "/etc/driftless/api/token",
            &dir.path().join("api-token").display().to_string(),
        )
        .replace(
            "https://github.com/driftless-dev/driftless.git",
            &root.join("examples/quickstart/app").display().to_string(),
        )
        .replace("      branch: main\n", "")
        .replace("      path: examples/quickstart/app\n", "");
    let config_path = dir.path().join("agent.yaml");
    std::fs::write(&config_path, config).unwrap();

    let out = agent_command(&config_path)
        .arg("--once")
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the agent failed with its ServiceAccount: {log}"
    );
    let deployment = kubectl(&[
        "-n",
        "podinfo",
        "get",
        "deployment",
        "podinfo",
        "-o",
        "name",
    ]);
    assert_eq!(deployment.trim(), "deployment.apps/podinfo");
    let parent = kubectl(&[
        "-n",
        "driftless-system",
        "get",
        "secret",
        "applyset-example",
        "-o",
        "jsonpath={.metadata.annotations.applyset\\.kubernetes\\.io/tooling}",
    ]);
    assert!(parent.starts_with("driftless/"), "{parent}");
    assert_the_drift_watches_are_allowed();

    remove_the_example_app();
}

/// The ServiceAccount may list and watch every kind of the example app across
/// namespaces, as its drift watches do (else it falls back to the interval).
fn assert_the_drift_watches_are_allowed() {
    let account = "system:serviceaccount:driftless-system:driftless-agent";
    for kind in ["namespaces", "configmaps", "services", "deployments.apps"] {
        for verb in ["list", "watch"] {
            let out = kubectl_output(
                &[
                    "auth",
                    "can-i",
                    verb,
                    kind,
                    "--all-namespaces",
                    "--as",
                    account,
                ],
                None,
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                "yes",
                "deploy/ does not let the agent {verb} {kind} across namespaces: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
