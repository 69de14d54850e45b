//! The agent on a real git server (`git http-backend` on 127.0.0.1): pushes announced
//! by a webhook are applied at once, pushes to other branches are not, and a rollback
//! pins an earlier commit until resumed.

use std::time::Duration;

use driftless_testkit::git::{GitHttp, GitServerRoot};

use crate::support::{CM, Workspace, hmac_hex, wait_for};

const SECRET: &str = "git-hook-secret";
const LIVE_CM: &str = "live/web/web/core_ConfigMap/settings.yaml";

fn push_hook(git_ref: &str) -> (String, String) {
    let body = format!(r#"{{"ref":"{git_ref}"}}"#);
    let signature = format!("sha256={}", hmac_hex(&body, SECRET));
    (body, signature)
}

#[test]
fn pushes_webhooks_other_branches_and_rollback_over_git_http() {
    let root = GitServerRoot::new();
    let repo = root.create_repo("app");
    repo.write("deploy/cm.yaml", CM);
    let first = repo.commit("first");
    repo.push();
    let http = GitHttp::start(root.path());

    let ws = Workspace::new();
    ws.write("hook-secret", SECRET);
    let apps = format!(
        "  - name: web\n    source: {{url: {}, branch: main, path: deploy}}\n    target: dir:{}\n    \
         interval: 1h\n    webhook: {{secretFile: {}}}\n",
        http.url("app"),
        ws.path("live/web").display(),
        ws.path("hook-secret").display()
    );
    ws.config(&apps);
    let agent = ws.start();
    let history = agent.wait_syncs("web", 1);
    assert_eq!(history[0]["result"], "Succeeded", "{}", history[0]);
    assert_eq!(history[0]["revision"], format!("main@sha1:{first}"));
    assert!(ws.read(LIVE_CM).unwrap().contains("mode: fast"));

    // A push to main, announced by a webhook, is applied at once (the interval is 1 h).
    repo.write("deploy/cm.yaml", &CM.replace("fast", "slow"));
    let second = repo.commit("second");
    repo.push();
    let (body, signature) = push_hook("refs/heads/main");
    let (status, reply) = agent.post(
        "/hooks/web",
        &body,
        &[
            ("X-Hub-Signature-256", &signature),
            ("X-GitHub-Event", "push"),
        ],
    );
    assert_eq!(status, 202, "{reply}");
    wait_for(
        "the pushed commit to be applied",
        Duration::from_secs(20),
        || ws.read(LIVE_CM).filter(|t| t.contains("mode: slow")),
    );
    assert_eq!(
        agent.wait_syncs("web", 2)[0]["revision"],
        format!("main@sha1:{second}")
    );

    // A push to another branch does not trigger anything.
    repo.branch("feature");
    repo.write("deploy/cm.yaml", &CM.replace("fast", "feature"));
    repo.commit("feature work");
    repo.push();
    let (body, signature) = push_hook("refs/heads/feature");
    let (status, reply) = agent.post(
        "/hooks/web",
        &body,
        &[
            ("X-Hub-Signature-256", &signature),
            ("X-GitHub-Event", "push"),
        ],
    );
    assert_eq!(
        (status, reply["triggered"].as_bool()),
        (200, Some(false)),
        "{reply}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(agent.history("web").len(), 2);

    // Rollback to the first commit (by a prefix of its id) pins it until resume.
    let (status, reply) = agent.post(
        "/api/v1/apps/web/rollback",
        &format!(r#"{{"revision":"{}"}}"#, &first[..10]),
        &[],
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["pinned"], format!("main@sha1:{first}"));
    wait_for(
        "the rollback to be applied",
        Duration::from_secs(20),
        || ws.read(LIVE_CM).filter(|t| t.contains("mode: fast")),
    );
    let (status, reply) = agent.post(
        "/api/v1/apps/web/rollback",
        r#"{"revision":"0000000"}"#,
        &[],
    );
    assert_eq!(status, 400, "{reply}");
    let (status, _) = agent.post("/api/v1/apps/web/resume", "", &[]);
    assert_eq!(status, 200);
    wait_for(
        "the newest commit to be applied again",
        Duration::from_secs(20),
        || ws.read(LIVE_CM).filter(|t| t.contains("mode: slow")),
    );
    let audit = agent.get("/api/v1/audit?app=web");
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["resume", "rollback", "webhook"]);
}

/// A fetch that hangs on a server sending a byte a second (git:// and HTTP) does not
/// hold the agent: SIGTERM stops it within seconds.
#[test]
fn sigterm_stops_the_agent_during_a_hanging_fetch() {
    use driftless_testkit::git::TrickleServer;
    use std::process::Command;
    use std::time::Instant;

    let git_daemon = TrickleServer::git();
    let git_http = TrickleServer::http("application/x-git-upload-pack-advertisement");
    let ws = Workspace::new();
    let apps = format!(
        "  - name: daemon\n    source: {{url: 'git://127.0.0.1:{}/app.git'}}\n    target: dir:{}\n\
         \x20 - name: http\n    source: {{url: 'http://127.0.0.1:{}/app.git'}}\n    target: dir:{}\n",
        git_daemon.port(),
        ws.path("live/daemon").display(),
        git_http.port(),
        ws.path("live/http").display(),
    );
    ws.config(&apps);
    let mut agent = ws.start();
    // Both fetches are under way (and hanging) by now.
    std::thread::sleep(Duration::from_secs(2));
    let status = Command::new("kill")
        .args(["-TERM", &agent.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    let exit = wait_for("the agent to exit", Duration::from_secs(10), || {
        agent.child.0.try_wait().unwrap()
    });
    assert!(exit.success(), "{exit}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}
