//! Syncing, drift, suspend/resume, dependencies, restarts.

use std::process::Command;
use std::time::Duration;

use crate::support::{CM, Workspace, agent_command, wait_for};

const LIVE_CM: &str = "live/web/web/core_ConfigMap/settings.yaml";

#[test]
fn initial_sync_is_applied_recorded_and_reported() {
    let ws = Workspace::new();
    ws.write("src/web/cm.yaml", CM);
    ws.config(&ws.app("web", "    interval: 1h\n"));
    let agent = ws.start();
    let history = agent.wait_syncs("web", 1);
    assert_eq!(history[0]["result"], "Succeeded");
    assert_eq!(history[0]["created"], 1);
    assert_eq!(history[0]["trigger"], "startup");
    assert!(ws.read(LIVE_CM).unwrap().contains("mode: fast"));
    let status = agent.app("web");
    assert_eq!(status["ready"], true);
    assert_eq!(status["objects"], 1);
    assert!(status["revision"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(status["conditions"][0]["reason"], "ReconciliationSucceeded");
    let apps = agent.get("/api/v1/apps");
    assert_eq!(apps.as_array().unwrap().len(), 1);
    let metrics = agent.text("/metrics");
    assert!(
        metrics.contains("driftless_reconciles_total{app=\"web\",result=\"succeeded\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("driftless_managed_objects{app=\"web\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("driftless_app_revision{app=\"web\",revision=\"sha256:"),
        "{metrics}"
    );
    assert!(
        metrics.contains("driftless_reconcile_duration_seconds_bucket"),
        "{metrics}"
    );
    assert_eq!(agent.text("/healthz"), "ok\n");
    let (status, body) = agent.post("/api/v1/apps/nope/reconcile", "", &[]);
    assert_eq!(status, 404, "{body}");
}

#[test]
fn drift_is_put_back_on_the_next_interval() {
    let ws = Workspace::new();
    ws.write("src/web/cm.yaml", CM);
    ws.config(&ws.app("web", "    interval: 1s\n"));
    let agent = ws.start();
    agent.wait_syncs("web", 1);
    ws.write(LIVE_CM, &CM.replace("fast", "hacked"));
    wait_for("the drift to be corrected", Duration::from_secs(10), || {
        ws.read(LIVE_CM).filter(|t| t.contains("mode: fast"))
    });
    let corrected = wait_for("the drift metric", Duration::from_secs(5), || {
        agent
            .metric("driftless_drift_corrections_total{app=\"web\"}")
            .filter(|v| *v >= 1.0)
    });
    assert!((corrected - 1.0).abs() < f64::EPSILON, "{corrected}");
    // The unchanged revision was not rendered again.
    let history = agent.history("web");
    assert!(history.len() >= 2);
    assert_eq!(history[0]["rendered"], false);
    assert_eq!(history[0]["revision"], history.last().unwrap()["revision"]);
}

#[test]
fn suspend_stops_reconciles_until_resumed() {
    let ws = Workspace::new();
    ws.write("src/web/cm.yaml", CM);
    ws.config(&ws.app("web", "    interval: 1s\n"));
    let agent = ws.start();
    agent.wait_syncs("web", 1);
    let (status, body) = agent.post("/api/v1/apps/web/suspend", "", &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["suspended"], true);
    std::thread::sleep(Duration::from_millis(300)); // a reconcile in flight finishes
    ws.write("src/web/cm.yaml", &CM.replace("fast", "slow"));
    let (status, _) = agent.post("/api/v1/apps/web/reconcile", "", &[]);
    assert_eq!(status, 409);
    let before = agent.history("web").len();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        agent.history("web").len(),
        before,
        "a suspended app reconciled"
    );
    assert!(ws.read(LIVE_CM).unwrap().contains("mode: fast"));
    let (status, body) = agent.post("/api/v1/apps/web/resume", "", &[]);
    assert_eq!(status, 200, "{body}");
    wait_for(
        "the resumed app to apply the change",
        Duration::from_secs(10),
        || ws.read(LIVE_CM).filter(|t| t.contains("mode: slow")),
    );
    let audit = agent.get("/api/v1/audit?app=web");
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["resume", "suspend"]);
}

#[test]
fn dependencies_reconcile_first_and_gate_dependents() {
    let ws = Workspace::new();
    // `app` depends on `infra`, whose source does not exist yet: `app` must wait.
    ws.write("src/app/cm.yaml", CM);
    let apps = format!(
        "{}{}",
        ws.app("app", "    interval: 1h\n    dependsOn: [infra]\n"),
        ws.app("infra", "    interval: 1s\n")
    );
    ws.config(&apps);
    let agent = ws.start();
    let failed = agent.wait_syncs("infra", 1);
    assert_eq!(failed[0]["result"], "Failed");
    assert!(
        failed[0]["error"].as_str().unwrap().contains("src/infra"),
        "{}",
        failed[0]
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        agent.history("app").is_empty(),
        "app reconciled before its dependency was ready"
    );
    let status = agent.app("app");
    assert_eq!(status["conditions"][0]["reason"], "DependencyNotReady");
    ws.write(
        "src/infra/ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n",
    );
    let app = agent.wait_syncs("app", 1);
    let infra = agent.history("infra");
    let infra_ok = infra
        .iter()
        .rev()
        .find(|s| s["result"] == "Succeeded")
        .unwrap();
    assert!(
        infra_ok["finished"].as_str().unwrap() <= app[0]["started"].as_str().unwrap(),
        "infra {infra_ok} app {}",
        app[0]
    );
    assert_eq!(app[0]["result"], "Succeeded");
}

#[test]
fn history_and_suspension_survive_kill_9() {
    let ws = Workspace::new();
    ws.write("src/web/cm.yaml", CM);
    ws.config(&ws.app("web", "    interval: 1h\n"));
    let agent = ws.start();
    let first = agent.wait_syncs("web", 1);
    let (status, _) = agent.post("/api/v1/apps/web/suspend", "", &[]);
    assert_eq!(status, 200);
    agent.kill9();

    let agent = ws.start();
    let history = agent.history("web");
    assert_eq!(
        history.len(),
        1,
        "the suspended app must not reconcile after restart"
    );
    assert_eq!(history[0], first[0]);
    let status = agent.app("web");
    assert_eq!(status["suspended"], true);
    assert_eq!(status["revision"], first[0]["revision"]);
    let (status, _) = agent.post("/api/v1/apps/web/resume", "", &[]);
    assert_eq!(status, 200);
    let history = agent.wait_syncs("web", 2);
    assert_eq!(history[1], first[0]);
    assert_eq!(history[0]["id"], 2);
}

#[test]
fn sigterm_stops_the_agent_cleanly() {
    let ws = Workspace::new();
    ws.write("src/web/cm.yaml", CM);
    ws.config(&ws.app("web", "    interval: 1h\n"));
    let mut agent = ws.start();
    agent.wait_syncs("web", 1);
    let status = Command::new("kill")
        .args(["-TERM", &agent.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_for("the agent to exit", Duration::from_secs(10), || {
        agent.child.0.try_wait().unwrap()
    });
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn once_reconciles_every_app_in_order_and_exits() {
    let ws = Workspace::new();
    ws.write("src/web/cm.yaml", CM);
    ws.write("src/paused/cm.yaml", CM);
    ws.write(
        "src/infra/ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: web}\n",
    );
    let config = ws.config(&format!(
        "{}{}{}",
        ws.app("web", "    dependsOn: [infra]\n"),
        ws.app("infra", ""),
        ws.app("paused", "    suspend: true\n")
    ));
    let out = agent_command(&config).arg("--once").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(ws.read(LIVE_CM).is_some());
    // `suspend: true` is honoured by --once as by the daemon and `driftless sync`.
    assert!(
        ws.read("live/paused/web/core_ConfigMap/settings.yaml")
            .is_none()
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("suspended, not reconciled"));
    assert!(
        ws.read("live/infra/_cluster/core_Namespace/web.yaml")
            .is_some()
    );
    // A failing app makes --once exit 1 and its dependents are not reconciled.
    std::fs::remove_dir_all(ws.path("src/infra")).unwrap();
    std::fs::remove_dir_all(ws.path("live/web")).unwrap();
    let out = agent_command(&config).arg("--once").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(ws.read(LIVE_CM).is_none());
}
