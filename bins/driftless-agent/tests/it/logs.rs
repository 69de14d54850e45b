//! What operators read: every line of a reconcile names the app, drift lines name
//! objects and fields, JSON lines have unique keys, no colour codes in files.

use std::collections::BTreeSet;
use std::fmt;
use std::process::Stdio;
use std::time::Duration;

use driftless_testkit::ChildGuard;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::support::{CM, Workspace, agent_command, wait_for};

const LIVE_CM: &str = "live/web/web/core_ConfigMap/settings.yaml";

/// A JSON object read with a check that no key appears twice (serde_json keeps the
/// last of duplicates silently).
struct UniqueKeys(Vec<String>);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = UniqueKeys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
                let mut seen = BTreeSet::new();
                let mut keys = Vec::new();
                while let Some((key, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                    if !seen.insert(key.clone()) {
                        return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
                    }
                    keys.push(key);
                }
                Ok(UniqueKeys(keys))
            }
        }
        deserializer.deserialize_map(Keys)
    }
}

fn drift_and_wait(ws: &Workspace, agent: &crate::support::Agent) {
    agent.wait_syncs("web", 1);
    ws.write(LIVE_CM, &CM.replace("fast", "hacked"));
    wait_for("the drift to be corrected", Duration::from_secs(10), || {
        ws.read(LIVE_CM).filter(|t| t.contains("mode: fast"))
    });
}

#[test]
fn json_lines_have_unique_keys_and_name_the_app_and_the_drifted_fields() {
    let ws = Workspace::new();
    ws.write("src/web/cm.yaml", CM);
    ws.config(&ws.app("web", "    interval: 1s\n"));
    let agent = ws.start_with(&["--log-format", "json"]);
    drift_and_wait(&ws, &agent);
    wait_for("the drift line", Duration::from_secs(5), || {
        ws.log().contains("drift corrected").then_some(())
    });
    agent.kill9();
    let log = ws.log();
    let mut reconcile_lines = 0;
    let mut drift_lines = 0;
    for line in log.lines() {
        let keys: UniqueKeys = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON object with unique keys ({e}): {line}"));
        assert!(keys.0.contains(&"level".to_owned()), "{line}");
        let value: Value = serde_json::from_str(line).unwrap();
        let message = value["fields"]["message"].as_str().unwrap_or_default();
        if matches!(message, "reconciled" | "drift corrected") {
            reconcile_lines += 1;
            assert_eq!(value["span"]["app"], "web", "{line}");
        }
        if message == "drift corrected" {
            drift_lines += 1;
            let objects = value["fields"]["objects"].as_str().unwrap();
            assert_eq!(objects, "ConfigMap web/settings updated (/data/mode)");
        }
    }
    assert!(reconcile_lines >= 2 && drift_lines >= 1, "{log}");
}

#[test]
fn text_lines_name_the_app_and_carry_no_colour_codes_in_a_file() {
    let ws = Workspace::new();
    ws.write("src/web/cm.yaml", CM);
    ws.config(&ws.app("web", "    interval: 1s\n"));
    let agent = ws.start();
    drift_and_wait(&ws, &agent);
    wait_for("the drift line", Duration::from_secs(5), || {
        ws.log().contains("drift corrected").then_some(())
    });
    agent.kill9();
    let log = ws.log();
    assert!(!log.contains('\u{1b}'), "colour codes in a file: {log}");
    let drift = log.lines().find(|l| l.contains("drift corrected")).unwrap();
    assert!(drift.contains("app=web"), "{drift}");
    assert!(
        drift.contains("ConfigMap web/settings updated (/data/mode)"),
        "{drift}"
    );
    for line in log.lines().filter(|l| l.contains(" reconciled")) {
        assert!(line.contains("app=web"), "{line}");
    }
}

#[test]
fn a_failure_logged_with_only_warnings_enabled_names_the_app() {
    let ws = Workspace::new();
    ws.write("src/web/cm.yaml", "kind: [unclosed\n");
    let config = ws.config(&ws.app("web", "    interval: 1s\n"));
    let log = std::fs::File::create(ws.path("warn.log")).unwrap();
    let _agent = ChildGuard(
        agent_command(&config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let line = wait_for("the failure line", Duration::from_secs(10), || {
        let log = ws.read("warn.log")?;
        log.lines()
            .find(|l| l.contains("reconcile failed"))
            .map(str::to_owned)
    });
    assert!(line.contains("app=web"), "{line}");
    assert!(line.contains("cm.yaml"), "the line names the file: {line}");
}
