//! Sharding on membership Leases, on the real API server of the test run: replicas
//! join, one is killed with SIGKILL, one stops with SIGTERM, and at every step each app
//! is reconciled by exactly the replica rendezvous hashing gives it, never by two at
//! once.
//!
//! "Never by two at once" is checked from what the agents record: each replica's audit
//! journal has a `shard-acquired` entry before its first reconcile of an app and a
//! `shard-released` entry after its last; these ownership spans must not overlap between
//! replicas (a killed replica's spans end when it was killed), and every sync in each
//! replica's history must lie inside one of its own spans.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use driftless_runtime::shard::owner;
use driftless_testkit::kube::TestNamespace;
use serde_json::Value;

use crate::support::{Agent, wait_for};

const APPS: usize = 10;
const LEASE: Duration = Duration::from_secs(3);

fn app_name(n: usize) -> String {
    format!("app-{n}")
}

fn write_config(dir: &Path, replica: &str, port: u16, namespace: &str) -> PathBuf {
    let mut text = format!(
        "apiVersion: driftless.dev/v1alpha1\nkind: AgentConfig\nlisten: 127.0.0.1:{port}\n\
         stateDir: {state}\nsharding: {{namespace: {namespace}, name: agents, \
         leaseDuration: {lease}s, identity: replica-{replica}}}\napps:\n",
        state = dir.join(format!("state-{replica}")).display(),
        lease = LEASE.as_secs(),
    );
    for n in 0..APPS {
        let name = app_name(n);
        let _ = write!(
            text,
            "  - name: {name}\n    source: {{url: {src}}}\n    target: dir:{live}\n    interval: 1s\n",
            src = dir.join(format!("src/{name}")).display(),
            live = dir.join(format!("live-{replica}/{name}")).display(),
        );
    }
    let path = dir.join(format!("agent-{replica}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// The app → replica assignment among `replicas`, by the agent's own hash.
fn assignment(replicas: &[&str]) -> BTreeMap<String, String> {
    let members: Vec<String> = replicas.iter().map(|r| format!("replica-{r}")).collect();
    (0..APPS)
        .map(|n| {
            let app = app_name(n);
            let owner = owner(&members, &app).unwrap().to_owned();
            (app, owner)
        })
        .collect()
}

/// The apps a replica holds now: acquired and not released since, per its journal.
fn held(agent: &Agent) -> Vec<String> {
    held_in(&journal(agent))
}

fn held_in(journal: &[Value]) -> Vec<String> {
    let mut holding = BTreeMap::new();
    for entry in journal {
        let app = entry["app"].as_str().unwrap().to_owned();
        match entry["action"].as_str() {
            Some("shard-acquired") => holding.insert(app, true),
            Some("shard-released") => holding.insert(app, false),
            _ => None,
        };
    }
    holding
        .into_iter()
        .filter_map(|(app, holds)| holds.then_some(app))
        .collect()
}

/// The replica's shard entries, oldest first.
fn journal(agent: &Agent) -> Vec<Value> {
    let mut entries = agent
        .get("/api/v1/audit?limit=100000")
        .as_array()
        .unwrap()
        .clone();
    entries.retain(|e| {
        e["action"]
            .as_str()
            .is_some_and(|a| a.starts_with("shard-"))
    });
    entries.reverse();
    entries
}

fn time(text: &str) -> SystemTime {
    humantime::parse_rfc3339(text).unwrap()
}

/// Waits until each replica holds exactly the apps `expected` gives it and has
/// reconciled each of them since it took it over.
fn wait_settled(replicas: &[(&str, &Agent)], expected: &BTreeMap<String, String>) {
    wait_for(
        "every app held and reconciled by its replica",
        Duration::from_secs(30),
        || {
            for (name, agent) in replicas {
                let identity = format!("replica-{name}");
                let mine: Vec<String> = expected
                    .iter()
                    .filter(|(_, owner)| **owner == identity)
                    .map(|(app, _)| app.clone())
                    .collect();
                let journal = journal(agent);
                if held_in(&journal) != mine {
                    return None;
                }
                for app in &mine {
                    let history = agent.history(app);
                    let acquired = journal
                        .iter()
                        .rev()
                        .find(|e| e["app"] == app.as_str() && e["action"] == "shard-acquired")
                        .map(|e| time(e["time"].as_str().unwrap()))?;
                    let synced = history
                        .first()
                        .is_some_and(|s| time(s["started"].as_str().unwrap()) >= acquired);
                    if !synced {
                        return None;
                    }
                }
            }
            Some(())
        },
    );
}

/// Ownership spans of one replica: (app, from, to), open spans ending at `end`.
fn spans(entries: &[Value], end: SystemTime) -> Vec<(String, SystemTime, SystemTime)> {
    let mut open: BTreeMap<String, SystemTime> = BTreeMap::new();
    let mut spans = Vec::new();
    for entry in entries {
        let app = entry["app"].as_str().unwrap().to_owned();
        let at = time(entry["time"].as_str().unwrap());
        match entry["action"].as_str() {
            Some("shard-acquired") => {
                assert!(
                    open.insert(app.clone(), at).is_none(),
                    "{app} acquired twice"
                );
            }
            Some("shard-released") => {
                let from = open
                    .remove(&app)
                    .unwrap_or_else(|| panic!("{app} released unheld"));
                spans.push((app, from, at));
            }
            _ => {}
        }
    }
    spans.extend(open.into_iter().map(|(app, from)| (app, from, end)));
    spans
}

/// What one replica recorded: its ownership spans and its syncs (app, started, finished).
struct Record {
    replica: String,
    spans: Vec<(String, SystemTime, SystemTime)>,
    syncs: Vec<(String, SystemTime, SystemTime)>,
}

fn record(replica: &str, agent: &Agent, end: SystemTime) -> Record {
    let syncs = (0..APPS)
        .flat_map(|n| {
            let app = app_name(n);
            agent
                .get(&format!("/api/v1/apps/{app}/history?limit=1000"))
                .as_array()
                .unwrap()
                .clone()
                .into_iter()
                .map(move |s| {
                    (
                        app.clone(),
                        time(s["started"].as_str().unwrap()),
                        time(s["finished"].as_str().unwrap()),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    Record {
        replica: replica.to_owned(),
        spans: spans(&journal(agent), end),
        syncs,
    }
}

/// Overlapping ownership spans between replicas, and syncs outside their replica's spans.
fn violations(records: &[Record]) -> Vec<String> {
    let mut found = Vec::new();
    for (i, a) in records.iter().enumerate() {
        for b in &records[i + 1..] {
            for (app, from, to) in &a.spans {
                for (other, from_b, to_b) in &b.spans {
                    if app == other && from < to_b && from_b < to {
                        found.push(format!(
                            "{app}: held by {} {from:?}..{to:?} and by {} {from_b:?}..{to_b:?}",
                            a.replica, b.replica
                        ));
                    }
                }
            }
        }
        for (app, started, finished) in &a.syncs {
            let inside = a
                .spans
                .iter()
                .any(|(s, from, to)| s == app && from <= started && finished <= to);
            if !inside {
                found.push(format!(
                    "{app}: {} reconciled {started:?}..{finished:?} without holding it",
                    a.replica
                ));
            }
        }
    }
    found
}

fn member_leases(ns: &TestNamespace) -> Vec<String> {
    let out = ns.kubectl(&[
        "get",
        "leases",
        "-l",
        "driftless.dev/shard-group=agents",
        "-o",
        "jsonpath={.items[*].spec.holderIdentity}",
    ]);
    let mut holders: Vec<String> = out.split_whitespace().map(str::to_owned).collect();
    holders.sort();
    holders
}

#[test]
fn apps_follow_membership_changes_and_never_run_twice() {
    let ns = TestNamespace::new("agent-shard");
    let dir = tempfile::tempdir().unwrap();
    for n in 0..APPS {
        let name = app_name(n);
        std::fs::create_dir_all(dir.path().join(format!("src/{name}"))).unwrap();
        std::fs::write(
            dir.path().join(format!("src/{name}/cm.yaml")),
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: web}}\n"
            ),
        )
        .unwrap();
    }
    let start = |replica: &str| {
        let port = driftless_testkit::free_port();
        Agent::start(&write_config(dir.path(), replica, port, ns.name()), port)
    };

    // One replica reconciles everything, once its membership is a lease duration old.
    let a = start("a");
    wait_settled(&[("a", &a)], &assignment(&["a"]));
    assert_eq!(member_leases(&ns), ["replica-a"]);

    // A second one joins: only the apps it wins move to it.
    let b = start("b");
    let two = assignment(&["a", "b"]);
    wait_settled(&[("a", &a), ("b", &b)], &two);
    let moved = two.values().filter(|o| *o == "replica-b").count();
    assert!(
        (1..APPS).contains(&moved),
        "{moved} of {APPS} apps moved to b"
    );

    // A third one: apps move only to it, none between a and b.
    let c = start("c");
    let three = assignment(&["a", "b", "c"]);
    for (app, owner) in &three {
        assert!(
            owner == "replica-c" || *owner == two[app],
            "{app} moved between a and b"
        );
    }
    wait_settled(&[("a", &a), ("b", &b), ("c", &c)], &three);
    assert_eq!(member_leases(&ns), ["replica-a", "replica-b", "replica-c"]);

    // b dies: its apps go to a and c within a lease duration and a reconcile.
    let b_record_before = record("b", &b, SystemTime::now() + Duration::from_secs(3600));
    let b_apps = held(&b);
    assert!(!b_apps.is_empty(), "b holds no app");
    b.kill9();
    let killed_at = SystemTime::now();
    let killed = Instant::now();
    let after_b = assignment(&["a", "c"]);
    wait_settled(&[("a", &a), ("c", &c)], &after_b);
    let took = killed.elapsed();
    assert!(
        took < LEASE + Duration::from_secs(5),
        "b's apps were reconciled elsewhere {took:?} after the kill (lease {LEASE:?})"
    );
    // The others removed b's lapsed Lease.
    wait_for("b's Lease to be removed", Duration::from_secs(10), || {
        (member_leases(&ns) == ["replica-a", "replica-c"]).then_some(())
    });
    let b_record = Record {
        spans: b_record_before
            .spans
            .into_iter()
            .map(|(app, from, to)| (app, from, to.min(killed_at)))
            .collect(),
        ..b_record_before
    };

    let c_record = stop_cleanly(&ns, dir.path(), c, &a);
    // a still runs: its open spans go on.
    let a_record = record("a", &a, SystemTime::now() + Duration::from_secs(3600));
    let found = violations(&[a_record, b_record, c_record]);
    assert!(
        found.is_empty(),
        "apps reconciled by two replicas at once:\n{}",
        found.join("\n")
    );
}

/// Stops `c` with SIGTERM: it leaves at once, so `a`, the one left, takes its apps
/// without waiting for a lease duration. Returns what `c` recorded.
fn stop_cleanly(ns: &TestNamespace, dir: &Path, mut c: Agent, a: &Agent) -> Record {
    let c_record = record("c", &c, SystemTime::now() + Duration::from_secs(3600));
    let status = Command::new("kill")
        .args(["-TERM", &c.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let stopped = Instant::now();
    let exit = wait_for("c to exit", Duration::from_secs(10), || {
        c.child.0.try_wait().unwrap()
    });
    assert!(exit.success(), "{exit:?}");
    assert_eq!(member_leases(ns), ["replica-a"]);
    wait_settled(&[("a", a)], &assignment(&["a"]));
    assert!(
        stopped.elapsed() < LEASE,
        "a took c's apps {:?} after c left",
        stopped.elapsed()
    );
    // c's journal is final now (it released everything on the way out); read it from
    // its state directory, which it no longer holds.
    let c_store = driftless_runtime::history::History::open(&dir.join("state-c")).unwrap();
    let mut c_journal: Vec<Value> = c_store
        .audit_entries(None, 100_000)
        .unwrap()
        .into_iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .filter(|e| {
            e["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("shard-"))
        })
        .collect();
    c_journal.reverse();
    assert_eq!(
        held_in(&c_journal),
        Vec::<String>::new(),
        "c left apps held"
    );
    Record {
        spans: spans(&c_journal, SystemTime::now()),
        ..c_record
    }
}
