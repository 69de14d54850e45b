//! Webhooks: GitHub, GitLab and Gitea deliveries trigger a reconcile at once (the
//! interval is an hour); bad signatures are refused and trigger nothing.

use std::time::Duration;

use crate::support::{Agent, CM, Workspace, hmac_hex, wait_for};

const SECRET: &str = "s3cret-for-tests";
const LIVE_CM: &str = "live/web/web/core_ConfigMap/settings.yaml";

fn start() -> (Workspace, Agent) {
    let ws = Workspace::new();
    ws.write("src/web/cm.yaml", CM);
    ws.write("hook-secret", &format!("{SECRET}\n"));
    let extra = format!(
        "    interval: 1h\n    webhook: {{secretFile: {}}}\n",
        ws.path("hook-secret").display()
    );
    ws.config(&ws.app("web", &extra));
    let agent = ws.start();
    agent.wait_syncs("web", 1);
    (ws, agent)
}

fn change_and_expect(
    ws: &Workspace,
    agent: &Agent,
    mode: &str,
    headers: &[(&str, &str)],
    body: &str,
) {
    ws.write("src/web/cm.yaml", &CM.replace("fast", mode));
    let (status, reply) = agent.post("/hooks/web", body, headers);
    assert_eq!(status, 202, "{reply}");
    assert_eq!(reply["triggered"], true);
    wait_for(
        &format!("mode {mode} applied"),
        Duration::from_secs(10),
        || {
            ws.read(LIVE_CM)
                .filter(|t| t.contains(&format!("mode: {mode}")))
        },
    );
}

#[test]
fn github_gitlab_and_gitea_deliveries_trigger_a_reconcile() {
    let (ws, agent) = start();
    let body = r#"{"ref":"refs/heads/main","after":"0123"}"#;
    let github = format!("sha256={}", hmac_hex(body, SECRET));
    change_and_expect(
        &ws,
        &agent,
        "github",
        &[("X-Hub-Signature-256", &github), ("X-GitHub-Event", "push")],
        body,
    );
    change_and_expect(
        &ws,
        &agent,
        "gitlab",
        &[("X-Gitlab-Token", SECRET), ("X-Gitlab-Event", "Push Hook")],
        body,
    );
    let gitea = hmac_hex(body, SECRET);
    change_and_expect(
        &ws,
        &agent,
        "gitea",
        &[("X-Gitea-Signature", &gitea), ("X-Gitea-Event", "push")],
        body,
    );
    // The file is written before the sync is recorded: wait for the record.
    let history = agent.wait_syncs("web", 4);
    let triggers: Vec<&str> = history
        .iter()
        .map(|s| s["trigger"].as_str().unwrap())
        .collect();
    assert_eq!(
        triggers,
        [
            "webhook:gitea",
            "webhook:gitlab",
            "webhook:github",
            "startup"
        ]
    );
    // A ping is verified and acknowledged, and triggers nothing.
    let (status, reply) = agent.post(
        "/hooks/web",
        "{}",
        &[
            (
                "X-Hub-Signature-256",
                &format!("sha256={}", hmac_hex("{}", SECRET)),
            ),
            ("X-GitHub-Event", "ping"),
        ],
    );
    assert_eq!((status, reply["triggered"].as_bool()), (200, Some(false)));
    assert!(
        agent.metric("driftless_webhooks_total{app=\"web\",outcome=\"triggered\"}") == Some(3.0)
    );
}

#[test]
fn bad_signatures_get_401_and_trigger_nothing() {
    let (ws, agent) = start();
    ws.write("src/web/cm.yaml", &CM.replace("fast", "forged"));
    let body = r#"{"ref":"refs/heads/main"}"#;
    let wrong = hmac_hex(body, "not-the-secret");
    let cases: [&[(&str, &str)]; 5] = [
        &[("X-Hub-Signature-256", &format!("sha256={wrong}"))],
        &[("X-Hub-Signature-256", &wrong)],
        &[("X-Gitea-Signature", &wrong)],
        &[("X-Gitlab-Token", "not-the-secret")],
        &[],
    ];
    for headers in cases {
        let (status, reply) = agent.post("/hooks/web", body, headers);
        assert_eq!(status, 401, "{headers:?}: {reply}");
    }
    // A signature over another body does not verify either.
    let good_for_other = format!("sha256={}", hmac_hex("{}", SECRET));
    let (status, _) = agent.post(
        "/hooks/web",
        body,
        &[("X-Hub-Signature-256", &good_for_other)],
    );
    assert_eq!(status, 401);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        agent.history("web").len(),
        1,
        "a rejected delivery triggered a reconcile"
    );
    assert!(ws.read(LIVE_CM).unwrap().contains("mode: fast"));
    assert_eq!(
        agent.metric("driftless_webhooks_total{app=\"web\",outcome=\"rejected\"}"),
        Some(6.0)
    );
}

#[test]
fn oversized_bodies_and_unknown_apps_are_refused() {
    let (_ws, agent) = start();
    let big = "x".repeat(2 * 1024 * 1024);
    let signature = format!("sha256={}", hmac_hex(&big, SECRET));
    let (status, _) = agent.post("/hooks/web", &big, &[("X-Hub-Signature-256", &signature)]);
    assert_eq!(status, 413);
    let (status, _) = agent.post("/hooks/other", "{}", &[("X-Gitlab-Token", SECRET)]);
    assert_eq!(status, 404);
    assert_eq!(agent.history("web").len(), 1);
}
