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
        !d.join("live/paused/web/core_ConfigMap/settings.yaml")
            .exists(),
        "a suspended app was synced"
    );
    // Naming it does not override the suspension either.
    let out = driftless(d, &["sync", "--config", &config, "--app", "paused"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "paused: suspended, not reconciled\n");
    assert!(
        !d.join("live/paused/web/core_ConfigMap/settings.yaml")
            .exists(),
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

/// The agent makes an API token in its state directory; `driftless` finds it through
/// the same `--config` (or `--state-dir`, `--token-file`, `DRIFTLESS_API_TOKEN`), and
/// without it a mutation is refused.
#[test]
fn mutations_use_the_token_the_agent_made() {
    use std::sync::Arc;

    use driftless_runtime::config::AgentConfig;
    use driftless_runtime::{AgentBuilder, history::History, server};

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(&d.join("src/web/cm.yaml"), CM);
    let port = driftless_testkit::free_port();
    let apps = format!(
        "  - name: web\n    source: {{url: {}}}\n    target: dir:{}\n    interval: 1h\n",
        d.join("src/web").display(),
        d.join("live/web").display()
    );
    let text = format!(
        "apiVersion: driftless.dev/v1alpha1\nkind: AgentConfig\nlisten: 127.0.0.1:{port}\n\
         stateDir: {}\napps:\n{apps}",
        d.join("state").display()
    );
    write(&d.join("agent.yaml"), &text);
    let config_path = d.join("agent.yaml");
    let config = AgentConfig::load(&config_path).unwrap();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let agent = runtime.block_on(async {
        Arc::new(
            AgentBuilder::from_config(&config)
                .await
                .unwrap()
                .history(History::open(&config.state_dir).unwrap())
                .shutdown(shutdown.clone())
                .build()
                .unwrap(),
        )
    });
    let server = runtime.spawn(server::serve(Arc::clone(&agent), config.listen));
    let token_file = d.join("state/api-token");
    assert!(token_file.is_file(), "the agent made no token");
    driftless_testkit::wait_for_port(port, std::time::Duration::from_secs(10));

    let config_arg = config_path.display().to_string();
    let agent_arg = format!("http://127.0.0.1:{port}");
    let elsewhere = tempfile::tempdir().unwrap();
    let out = driftless(elsewhere.path(), &["suspend", "web", "--agent", &agent_arg]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));

    let out = driftless(
        elsewhere.path(),
        &["suspend", "web", "--config", &config_arg],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "web: suspended\n");
    let state_dir = d.join("state").display().to_string();
    let out = driftless(
        elsewhere.path(),
        &[
            "resume",
            "web",
            "--agent",
            &agent_arg,
            "--state-dir",
            &state_dir,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let token_arg = token_file.display().to_string();
    let out = driftless(
        elsewhere.path(),
        &[
            "suspend",
            "web",
            "--agent",
            &agent_arg,
            "--token-file",
            &token_arg,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let token = std::fs::read_to_string(&token_file).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_driftless"))
        .args(["resume", "web", "--agent", &agent_arg])
        .current_dir(elsewhere.path())
        .env("DRIFTLESS_API_TOKEN", token.trim())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    let _ = rustls::crypto::ring::default_provider().install_default();
    let audit = runtime
        .block_on(
            driftless_runtime::client::Client::new(&agent_arg)
                .unwrap()
                .audit(Some("web"), 10),
        )
        .unwrap();
    let actor = format!(
        "token:{}",
        driftless_runtime::auth::fingerprint(token.trim())
    );
    assert_eq!(audit.len(), 4);
    assert!(audit.iter().all(|e| e.actor == actor), "{audit:?}");

    shutdown.cancel();
    runtime.block_on(server).unwrap().unwrap();
}
