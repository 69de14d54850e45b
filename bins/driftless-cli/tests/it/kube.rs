//! `diff` and `apply --target kube` against the real test API server.

use driftless_testkit::kube::{TestNamespace, kubeconfig};

use crate::{stderr, stdout};

#[test]
fn apply_diff_and_prune_on_a_cluster() {
    let kubeconfig = kubeconfig();
    let ns = TestNamespace::new("cli");
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    let config_map = |name: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {}\ndata:\n  mode: fast\n",
            ns.name()
        )
    };
    std::fs::write(repo.join("a.yaml"), config_map("a")).unwrap();
    std::fs::write(repo.join("b.yaml"), config_map("b")).unwrap();
    let run = |args: Vec<String>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_driftless"));
        command
            .args(args)
            .current_dir(work.path())
            .env("KUBECONFIG", &kubeconfig);
        command.output().unwrap()
    };
    let target = ["--target", "kube", "--name", ns.name()];
    let with = |command: &[&'static str]| -> Vec<String> {
        command
            .iter()
            .chain(&target)
            .map(|s| (*s).to_owned())
            .collect()
    };

    let out = run(with(&["diff", "repo"]));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = run(with(&["apply", "repo", "--prune"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("2 created"), "{}", stdout(&out));
    assert_eq!(
        ns.kubectl(&["get", "configmap", "a", "-o", "jsonpath={.data.mode}"]),
        "fast"
    );
    let out = run(with(&["diff", "repo"]));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    std::fs::remove_file(repo.join("b.yaml")).unwrap();
    let out = run(with(&["apply", "repo", "--prune"]));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("1 pruned"), "{}", stdout(&out));
    let left = ns.kubectl(&["get", "configmaps", "-o", "name"]);
    assert!(
        left.contains("configmap/a") && !left.contains("configmap/b"),
        "{left}"
    );
}

#[test]
fn kubeconfig_and_namespace_flags_then_delete() {
    let kubeconfig = kubeconfig();
    let ns = TestNamespace::new("cli-flags");
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    // No namespace in the file: -n decides, as with kubectl.
    std::fs::write(
        repo.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_driftless"));
        command
            .args(args)
            .args(["--target", "kube", "--name", "flags", "-n", ns.name()])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .current_dir(work.path())
            .env_remove("KUBECONFIG")
            // No ~/.kube/config to fall back on: only --kubeconfig can work.
            .env("HOME", work.path());
        command.output().unwrap()
    };
    let out = run(&["apply", "repo", "--prune"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        ns.kubectl(&[
            "get",
            "configmap",
            "settings",
            "-o",
            "jsonpath={.data.mode}"
        ]),
        "fast"
    );

    let out = run(&["delete", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("would be deleted"),
        "{}",
        stdout(&out)
    );
    let out = run(&["delete"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("1 deleted"), "{}", stdout(&out));
    let left = ns.kubectl(&["get", "configmaps", "-o", "name"]);
    assert!(!left.contains("configmap/settings"), "{left}");
    // The inventory goes with the app: no ApplySet parent is left behind.
    let secrets = ns.kubectl(&["get", "secrets", "-o", "name"]);
    assert!(!secrets.contains("secret/applyset-flags"), "{secrets}");
}
