//! `driftless sync`, `diff --rev`, and the commands that talk to an agent.

use std::path::Path;

use driftless_testkit::git::GitServerRoot;

use crate::{driftless, stderr, stdout};

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: web\ndata:\n  mode: fast\n";

fn write(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

fn config(dir: &Path, apps: &str) -> String {
    let text = format!(
        "apiVersion: driftless.dev/v1alpha1\nkind: AgentConfig\nstateDir: {}\napps:\n{apps}",
        dir.join("state").display()
    );
    write(&dir.join("agent.yaml"), &text);
    dir.join("agent.yaml").display().to_string()
}

#[test]
fn sync_reconciles_every_app_once_in_dependency_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(&d.join("src/web/cm.yaml"), CM);
    write(
        &d.join("src/infra/ns.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n",
    );
    let apps = format!(
        "  - name: web\n    source: {{url: {src}/web}}\n    target: dir:{live}/web\n    dependsOn: [infra]\n\
         \x20 - name: infra\n    source: {{url: {src}/infra}}\n    target: dir:{live}/infra\n",
        src = d.join("src").display(),
        live = d.join("live").display()
    );
    let config = config(d, &apps);
    let out = driftless(d, &["sync", "--config", &config, "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let results: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let order: Vec<&str> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["app"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["infra", "web"]);
    assert_eq!(results[1]["created"], 1);
    assert!(
        d.join("live/web/web/core_ConfigMap/settings.yaml")
            .is_file()
    );

    // Only one app, in human form; nothing changed.
    let out = driftless(d, &["sync", "--config", &config, "--app", "web"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("web: sha256:"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("0 created, 0 updated, 0 pruned, 1 unchanged"),
        "{}",
        stdout(&out)
    );

    // A failing dependency: exit 1, its dependent skipped.
    std::fs::remove_dir_all(d.join("src/infra")).unwrap();
    let out = driftless(d, &["sync", "--config", &config]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("web: skipped: dependency infra is not ready"),
        "{}",
        stdout(&out)
    );

    // An invalid configuration: exit 2, naming the field.
    write(
        &d.join("agent.yaml"),
        "apps:\n  - name: a\n    source: {url: ./x}\n    target: dir:/x\n    interval: never\n",
    );
    let out = driftless(d, &["sync", "--config", &config]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("apps[0].interval"),
        "{}",
        stderr(&out)
    );
}

/// `suspend: true` is honoured by `sync` as by the agent (one reconcile path).
#[test]
fn sync_leaves_suspended_apps_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(&d.join("src/web/cm.yaml"), CM);
    write(&d.join("src/paused/cm.yaml"), CM);
    let apps = format!(
        "  - name: web\n    source: {{url: {src}/web}}\n    target: dir:{live}/web\n\
         \x20 - name: paused\n    source: {{url: {src}/paused}}\n    target: dir:{live}/paused\n    suspend: true\n",
        src = d.join("src").display(),
        live = d.join("live").display()
    );
    let config = config(d, &apps);
    let out = driftless(d, &["sync", "--config", &config, "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let results: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(results[0]["result"], "Succeeded");
    assert_eq!(results[1]["app"], "paused");
    assert_eq!(results[1]["result"], "Suspended");
    assert!(
        !d.join("live/paused/web/core_ConfigMap/settings.yaml").exists(),
        "a suspended app was synced"
    );
    // Naming it does not override the suspension either.
    let out = driftless(d, &["sync", "--config", &config, "--app", "paused"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "paused: suspended, not reconciled\n");
    assert!(
        !d.join("live/paused/web/core_ConfigMap/settings.yaml").exists(),
        "a suspended app was synced"
    );
}

#[test]
fn diff_between_two_revisions_needs_no_cluster() {
    let root = GitServerRoot::new();
    let repo = root.create_repo("app");
    repo.write("deploy/cm.yaml", CM);
    let first = repo.commit("first");
    repo.write("deploy/cm.yaml", &CM.replace("fast", "slow"));
    repo.write(
        "deploy/ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n",
    );
    let second = repo.commit("second");
    repo.tag("v2");
    repo.push();
    let url = format!("file://{}", repo.bare().display());
    let cache = tempfile::tempdir().unwrap();
    let cache = cache.path().to_str().unwrap();
    let range = format!("{first}..{second}");
    let out = driftless(
        root.path(),
        &[
            "diff",
            &url,
            "--path",
            "deploy",
            "--rev",
            &range,
            "--cache-dir",
            cache,
            "--color",
            "never",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("--- sha1:{first}")) || text.contains(&first),
        "{text}"
    );
    assert!(text.contains("/ConfigMap/web/settings"), "{text}");
    assert!(
        text.contains("/Namespace//web") || text.contains("Namespace"),
        "{text}"
    );
    assert!(text.contains("slow"), "{text}");

    // A tag as one side; the same revision on both sides: no difference.
    let out = driftless(
        root.path(),
        &[
            "diff",
            &url,
            "--path",
            "deploy",
            "--rev",
            &format!("v2..{second}"),
            "--cache-dir",
            cache,
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );

    // Neither --target nor --rev; a bad range.
    let out = driftless(root.path(), &["diff", &url]);
    assert_eq!(out.status.code(), Some(2));
    let out = driftless(root.path(), &["diff", &url, "--rev", "main"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("A..B"), "{}", stderr(&out));
}

#[test]
fn agent_commands_say_when_no_agent_answers() {
    let dir = tempfile::tempdir().unwrap();
    let port = driftless_testkit::free_port();
    let agent = format!("http://127.0.0.1:{port}");
    for args in [
        vec!["status"],
        vec!["history", "web"],
        vec!["reconcile", "web"],
        vec!["suspend", "web"],
        vec!["resume", "web"],
        vec!["rollback", "web", "--to", "abc1234"],
    ] {
        let mut args = args.clone();
        args.extend(["--agent", &agent]);
        let out = driftless(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("cannot reach the agent"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}
