//! Sharding fail-over: real `driftless-agent` processes share apps on membership Leases
//! on the test API server; one is killed with SIGKILL, and the benchmark reports how
//! long until every app it held was reconciled by the others, next to the lease
//! duration (the bound: a lease duration plus one reconcile), and how many times an app
//! was held or reconciled by two replicas at once (must be 0).
//!
//! Overlaps are counted from what the agents record: an agent writes `shard-acquired`
//! to its audit journal before its first reconcile of an app and `shard-released` after
//! its last. Those ownership spans must not overlap between replicas (the killed
//! replica's end at the kill), and each sync in a replica's history must lie inside one
//! of its own spans.
//!
//! `cargo bench -p driftless-benches --bench sharding`: 3 replicas, 300 apps, a 6 s
//! lease. Under `cargo test --bench sharding`: 2 replicas, 10 apps, a 2 s lease. Apps
//! read local directories into per-replica directory targets (cheap: the subject is the
//! hand-off, not the apply). The criterion case is the assignment itself (rendezvous
//! hashing of all apps over the live members, what a member computes on each change).
//!
//! Needs the test API server (`KUBECONFIG`, see `driftless_testkit::kube`) and builds
//! `driftless-agent` of the same profile first.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::missing_panics_doc,
    clippy::print_stdout
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use driftless_testkit::kube::TestNamespace;
use serde_json::Value;

struct Size {
    replicas: usize,
    apps: usize,
    lease: Duration,
    interval: &'static str,
}

fn size() -> Size {
    if std::env::args().any(|a| a == "--bench") {
        Size {
            replicas: 3,
            apps: 300,
            lease: Duration::from_secs(6),
            interval: "5s",
        }
    } else {
        Size {
            replicas: 2,
            apps: 10,
            lease: Duration::from_secs(2),
            interval: "1s",
        }
    }
}

struct Agent {
    child: Child,
    port: u16,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, replica: usize, size: &Size, namespace: &str) -> Agent {
    let port = driftless_testkit::free_port();
    let name = format!("replica-{replica}");
    let mut config = format!(
        "apiVersion: driftless.dev/v1alpha1\nkind: AgentConfig\nlisten: 127.0.0.1:{port}\n\
         stateDir: {}\nsharding: {{namespace: {namespace}, name: bench, leaseDuration: {}s, \
         identity: {name}}}\napps:\n",
        dir.join(format!("state-{replica}")).display(),
        size.lease.as_secs(),
    );
    for n in 0..size.apps {
        let _ = write!(
            config,
            "  - name: app-{n}\n    source: {{url: {}}}\n    target: dir:{}\n    interval: {}\n",
            dir.join(format!("src/app-{n}")).display(),
            dir.join(format!("live-{replica}/app-{n}")).display(),
            size.interval,
        );
    }
    let path = dir.join(format!("agent-{replica}.yaml"));
    std::fs::write(&path, config).unwrap();
    let child = Command::new(driftless_benches::agent_binary())
        .arg("--config")
        .arg(&path)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("agent-{replica}.log"))).unwrap())
        .spawn()
        .unwrap();
    driftless_testkit::wait_for_port(port, Duration::from_secs(60));
    Agent { child, port }
}

/// GET over plain HTTP/1.1 (reads are open on loopback); the JSON body.
fn get(port: u16, path: &str) -> Value {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}");
    serde_json::from_str(body).unwrap()
}

fn time(text: &str) -> SystemTime {
    humantime::parse_rfc3339(text).unwrap()
}

/// The replica's shard entries (action, app, time), oldest first.
fn journal(agent: &Agent) -> Vec<(String, String, SystemTime)> {
    let entries = get(agent.port, "/api/v1/audit?limit=1000000");
    let mut out: Vec<(String, String, SystemTime)> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("shard-"))
        })
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["app"].as_str().unwrap().to_owned(),
                time(e["time"].as_str().unwrap()),
            )
        })
        .collect();
    out.reverse();
    out
}

type Span = (String, SystemTime, SystemTime);

/// Ownership spans from a journal; spans still open end at `end`.
fn spans(journal: &[(String, String, SystemTime)], end: SystemTime) -> Vec<Span> {
    let mut open: BTreeMap<&str, SystemTime> = BTreeMap::new();
    let mut spans = Vec::new();
    for (action, app, at) in journal {
        if action == "shard-acquired" {
            open.insert(app, *at);
        } else if let Some(from) = open.remove(app.as_str()) {
            spans.push((app.clone(), from, *at));
        }
    }
    spans.extend(
        open.into_iter()
            .map(|(app, from)| (app.to_owned(), from, end)),
    );
    spans
}

fn held(journal: &[(String, String, SystemTime)]) -> Vec<String> {
    let far = SystemTime::now() + Duration::from_secs(86_400);
    spans(journal, far)
        .into_iter()
        .filter(|(_, _, to)| *to == far)
        .map(|(app, ..)| app)
        .collect()
}

/// Every sync of `app` on the replica: (started, finished).
fn syncs(agent: &Agent, app: &str) -> Vec<(SystemTime, SystemTime)> {
    get(
        agent.port,
        &format!("/api/v1/apps/{app}/history?limit=100000"),
    )
    .as_array()
    .unwrap()
    .iter()
    .map(|s| {
        (
            time(s["started"].as_str().unwrap()),
            time(s["finished"].as_str().unwrap()),
        )
    })
    .collect()
}

struct Record {
    spans: Vec<Span>,
    syncs: Vec<Span>,
}

fn record(agent: &Agent, apps: usize, end: SystemTime) -> Record {
    let syncs = (0..apps)
        .flat_map(|n| {
            let app = format!("app-{n}");
            syncs(agent, &app)
                .into_iter()
                .map(move |(s, f)| (app.clone(), s, f))
        })
        .collect();
    Record {
        spans: spans(&journal(agent), end),
        syncs,
    }
}

/// Ownership spans that overlap between replicas, plus syncs outside their replica's
/// spans.
fn overlaps(records: &[Record]) -> usize {
    let mut count = 0;
    for (i, a) in records.iter().enumerate() {
        for b in &records[i + 1..] {
            for (app, from, to) in &a.spans {
                count += b
                    .spans
                    .iter()
                    .filter(|(other, f, t)| other == app && from < t && f < to)
                    .count();
            }
        }
        count += a
            .syncs
            .iter()
            .filter(|(app, s, f)| {
                !a.spans
                    .iter()
                    .any(|(held, from, to)| held == app && from <= s && f <= to)
            })
            .count();
    }
    count
}

fn wait_until<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts the replicas, kills one, and prints the figures.
fn failover(size: &Size) {
    let ns = TestNamespace::new("bench-sharding");
    let dir = tempfile::tempdir().unwrap();
    for n in 0..size.apps {
        driftless_benches::write(
            dir.path(),
            &format!("src/app-{n}/cm.yaml"),
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: app-{n}, namespace: web}}\n"
            ),
        );
    }
    let mut agents: Vec<Agent> = (0..size.replicas)
        .map(|r| start(dir.path(), r, size, ns.name()))
        .collect();
    // Settled: every app held by one replica and reconciled there since.
    wait_until(
        "the replicas to share every app",
        Duration::from_secs(300),
        || {
            let held: usize = agents.iter().map(|a| held(&journal(a)).len()).sum();
            let shared = agents.iter().all(|a| !held_is_empty(a));
            (held == size.apps && shared).then_some(())
        },
    );
    let victim = agents.remove(0);
    let victim_journal = journal(&victim);
    let victim_apps = held(&victim_journal);
    let victim_record = record(
        &victim,
        size.apps,
        SystemTime::now() + Duration::from_secs(86_400),
    );
    let mut victim = victim;
    victim.child.kill().unwrap();
    victim.child.wait().unwrap();
    let killed = SystemTime::now();

    // Every app of the victim taken over and reconciled after the kill.
    let taken_over = wait_until(
        "the others to reconcile the killed replica's apps",
        Duration::from_secs(120),
        || {
            let mut latest = killed;
            for app in &victim_apps {
                let first = agents
                    .iter()
                    .flat_map(|a| syncs(a, app))
                    .filter(|(started, _)| *started >= killed)
                    .map(|(_, finished)| finished)
                    .min()?;
                latest = latest.max(first);
            }
            Some(latest)
        },
    );
    let took = taken_over.duration_since(killed).unwrap();
    let acquired = agents
        .iter()
        .flat_map(journal)
        .filter(|(action, app, at)| {
            action == "shard-acquired" && *at >= killed && victim_apps.contains(app)
        })
        .map(|(.., at)| at)
        .max()
        .unwrap();
    // The others still run: their open spans go on.
    let later = SystemTime::now() + Duration::from_secs(86_400);
    let mut records: Vec<Record> = agents.iter().map(|a| record(a, size.apps, later)).collect();
    records.push(Record {
        spans: victim_record
            .spans
            .into_iter()
            .map(|(app, from, to)| (app, from, to.min(killed)))
            .collect(),
        ..victim_record
    });
    let overlaps = overlaps(&records);
    let syncs: usize = records.iter().map(|r| r.syncs.len()).sum();
    println!(
        "sharding fail-over ({} replicas, {} apps, SIGKILL of one holding {}): all its apps \
         reconciled elsewhere {:.2} s after the kill (owned after {:.2} s); lease duration \
         {:.0} s; overlaps {overlaps} (over {} ownership spans and {syncs} sync records)",
        size.replicas,
        size.apps,
        victim_apps.len(),
        took.as_secs_f64(),
        acquired.duration_since(killed).unwrap().as_secs_f64(),
        size.lease.as_secs_f64(),
        records.iter().map(|r| r.spans.len()).sum::<usize>(),
    );
    assert_eq!(
        overlaps, 0,
        "apps held or reconciled by two replicas at once"
    );
    assert!(
        took < size.lease + Duration::from_secs(10),
        "the take-over took {took:?}"
    );
}

fn held_is_empty(agent: &Agent) -> bool {
    held(&journal(agent)).is_empty()
}

fn sharding(c: &mut Criterion) {
    let size = size();
    failover(&size);

    let members: Vec<String> = (0..size.replicas).map(|r| format!("replica-{r}")).collect();
    let apps: Vec<String> = (0..size.apps).map(|n| format!("app-{n}")).collect();
    let mut group = c.benchmark_group("sharding");
    group.bench_function(
        format!("assign_{}_apps_over_{}", size.apps, size.replicas),
        |b| {
            b.iter(|| {
                apps.iter()
                    .filter(|app| {
                        driftless_runtime::shard::owner(&members, app) == Some(members[0].as_str())
                    })
                    .count()
            });
        },
    );
    group.finish();
}

criterion_group!(benches, sharding);
criterion_main!(benches);
