//! SIGHUP reloads the configuration: apps added, changed and removed.

use std::process::Command;
use std::time::Duration;

use crate::support::{CM, Workspace, wait_for};

fn cm_of(ws: &Workspace, app: &str) -> Option<String> {
    ws.read(&format!("live/{app}/web/core_ConfigMap/settings.yaml"))
}

#[test]
fn sighup_adds_changes_and_removes_apps() {
    let ws = Workspace::new();
    for app in ["kept", "changed", "gone", "new"] {
        ws.write(&format!("src/{app}/cm.yaml"), CM);
    }
    ws.write("src/changed-v2/cm.yaml", &CM.replace("fast", "v2"));
    let kept = ws.app("kept", "    interval: 1h\n");
    ws.config(&format!(
        "{kept}{}{}",
        ws.app("changed", "    interval: 1h\n"),
        ws.app("gone", "    interval: 1h\n")
    ));
    let agent = ws.start();
    for app in ["kept", "changed", "gone"] {
        agent.wait_syncs(app, 1);
    }

    // `changed` now reads another folder, `gone` is removed, `new` is added.
    let changed = ws
        .app("changed", "    interval: 1h\n")
        .replace("src/changed}", "src/changed-v2}");
    ws.config(&format!(
        "{kept}{changed}{}",
        ws.app("new", "    interval: 1h\n")
    ));
    let status = Command::new("kill")
        .args(["-HUP", &agent.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_for("the new app to be applied", Duration::from_secs(10), || {
        cm_of(&ws, "new")
    });
    wait_for(
        "the changed app to apply its new source",
        Duration::from_secs(10),
        || cm_of(&ws, "changed").filter(|t| t.contains("mode: v2")),
    );
    let names: Vec<String> = agent
        .get("/api/v1/apps")
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["kept", "changed", "new"]);
    // The unchanged app was not restarted: no second startup sync.
    assert_eq!(agent.history("kept").len(), 1);

    // The removed app: reported, no longer reconciled, its objects left in place.
    let removed = agent.get("/api/v1/removed");
    assert_eq!(removed[0]["name"], "gone");
    assert_eq!(removed[0]["objects"], 1);
    let (status, body) = agent.post("/api/v1/apps/gone/reconcile", "", &[]);
    assert_eq!(status, 410, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("left in place"),
        "{body}"
    );
    assert!(
        cm_of(&ws, "gone").is_some(),
        "the removed app's objects were deleted"
    );
    let log = ws.log();
    assert!(
        log.lines()
            .any(|l| l.contains("app removed from the configuration") && l.contains("gone")),
        "{log}"
    );

    // A broken configuration changes nothing.
    ws.write("agent.yaml", "apps: [\n");
    Command::new("kill")
        .args(["-HUP", &agent.pid().to_string()])
        .status()
        .unwrap();
    wait_for("the reload error", Duration::from_secs(10), || {
        ws.log().contains("keeping the running one").then_some(())
    });
    assert_eq!(agent.get("/api/v1/apps").as_array().unwrap().len(), 3);
}
