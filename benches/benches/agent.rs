//! The agent as a running process: webhook-to-applied latency with a 1 h interval,
//! resident memory with 10 idle apps, and CPU of 100 apps in steady state.
//!
//! These are properties of a long-running binary, so each is measured on a real
//! `driftless-agent` process (built by this benchmark first) reading local
//! sources into directory targets. There is no reference tool on the same footing
//! (Flux and Argo CD need a cluster and controllers), so the figures are reported
//! against the goals: p50 latency < 2 s, RSS < 30 MB, and CPU as measured.
//!
//! `cargo bench --bench agent` measures in full (10 pushes; CPU over a whole 1 min
//! interval). Under `cargo test --benches` it runs a short version (3 pushes; CPU over
//! 4 s at a 2 s interval, extrapolated), still asserting the goals.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::missing_panics_doc,
    clippy::print_stdout
)]

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: web\ndata:\n  mode: m0\n";
const SECRET: &str = "bench-secret";

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

/// Writes `count` apps (sources `src/app-N`, targets `live/app-N`) and starts an agent.
fn start(dir: &Path, count: usize, interval: &str, webhook: bool) -> Agent {
    let port = driftless_testkit::free_port();
    std::fs::write(dir.join("secret"), SECRET).unwrap();
    let mut config = format!(
        "apiVersion: driftless.dev/v1alpha1\nkind: AgentConfig\nlisten: 127.0.0.1:{port}\n\
         stateDir: {}\napps:\n",
        dir.join("state").display()
    );
    for n in 0..count {
        let src = dir.join(format!("src/app-{n}"));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("cm.yaml"), CM).unwrap();
        let _ = write!(
            config,
            "  - name: app-{n}\n    source: {{url: {}}}\n    target: dir:{}\n    interval: {interval}\n",
            src.display(),
            dir.join(format!("live/app-{n}")).display()
        );
        if webhook {
            let _ = writeln!(
                config,
                "    webhook: {{secretFile: {}}}",
                dir.join("secret").display()
            );
        }
    }
    std::fs::write(dir.join("agent.yaml"), config).unwrap();
    let child = Command::new(driftless_benches::agent_binary())
        .arg("--config")
        .arg(dir.join("agent.yaml"))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let agent = Agent { child, port };
    driftless_testkit::wait_for_port(port, Duration::from_secs(30));
    for n in 0..count {
        wait_until(Duration::from_secs(60), || live(dir, n).is_some());
    }
    agent
}

fn live(dir: &Path, n: usize) -> Option<String> {
    std::fs::read_to_string(dir.join(format!("live/app-{n}/web/core_ConfigMap/settings.yaml"))).ok()
}

fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A GitLab-style webhook delivery (the shared token in a header), over plain HTTP/1.1.
fn post_hook(port: u16, app: &str) -> u16 {
    let body = r#"{"ref":"refs/heads/main"}"#;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /hooks/{app} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Gitlab-Token: {SECRET}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Pushes a change and measures until it is applied, `pushes` times; returns sorted
/// latencies.
fn webhook_latencies(pushes: usize) -> Vec<Duration> {
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path(), 1, "1h", true);
    let mut latencies = Vec::with_capacity(pushes);
    for push in 1..=pushes {
        let mode = format!("m{push}");
        std::fs::write(
            dir.path().join("src/app-0/cm.yaml"),
            CM.replace("m0", &mode),
        )
        .unwrap();
        let started = Instant::now();
        assert_eq!(post_hook(agent.port, "app-0"), 202);
        let expected = format!("mode: {mode}");
        wait_until(Duration::from_secs(30), || {
            live(dir.path(), 0).is_some_and(|t| t.contains(&expected))
        });
        latencies.push(started.elapsed());
    }
    latencies.sort();
    latencies
}

fn proc_status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// User + system CPU time of a process, from /proc/<pid>/stat.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let hz = 100; // USER_HZ on Linux
    Duration::from_millis(ticks * 1000 / hz)
}

/// VmRSS and RssAnon (heap and stacks, without the mapped binary) in kB.
fn idle_rss_kb(apps: usize) -> (u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path(), apps, "1h", true);
    std::thread::sleep(Duration::from_secs(2));
    let pid = agent.child.id();
    (
        proc_status_kb(pid, "VmRSS:"),
        proc_status_kb(pid, "RssAnon:"),
    )
}

/// CPU share of one core used by `apps` apps at `interval`, measured over `period` in
/// steady state (after every app's first sync).
fn steady_cpu(apps: usize, interval: &str, period: Duration) -> (f64, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path(), apps, interval, false);
    let pid = agent.child.id();
    let before = cpu_time(pid);
    std::thread::sleep(period);
    let used = cpu_time(pid).saturating_sub(before);
    (used.as_secs_f64() / period.as_secs_f64(), used)
}

/// KiB (as /proc reports them) in MB, for printing.
#[allow(clippy::cast_precision_loss)] // memory sizes are far below 2^52 KiB
fn kib_to_mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn agent_benchmarks(c: &mut Criterion) {
    let full = std::env::args().any(|a| a == "--bench");
    let pushes = if full { 10 } else { 3 };
    let latencies = webhook_latencies(pushes);
    let p50 = latencies[latencies.len() / 2];
    println!(
        "agent webhook-to-applied (1 h interval, {pushes} pushes): p50 {:.1} ms, max {:.1} ms (goal p50 < 2 s)",
        p50.as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3
    );
    assert!(
        p50 < Duration::from_secs(2),
        "p50 {p50:?} misses the 2 s goal"
    );

    let (rss, anon) = idle_rss_kb(10);
    println!(
        "agent resident memory, 10 idle apps: VmRSS {:.1} MB, of which anonymous {:.1} MB \
         (goal < 30 MB{})",
        kib_to_mb(rss),
        kib_to_mb(anon),
        if cfg!(debug_assertions) {
            "; debug build, its mapped code is far larger"
        } else {
            ""
        }
    );
    // A debug build maps several times more code than a release build: there the goal
    // holds for what the agent allocates; a release build (`cargo bench`) meets it whole.
    let measured = if cfg!(debug_assertions) { anon } else { rss };
    assert!(measured < 30 * 1024, "{measured} kB misses the 30 MB goal");

    if full {
        let (share, used) = steady_cpu(100, "1m", Duration::from_secs(60));
        println!(
            "agent CPU, 100 apps at a 1 min interval, over 60 s: {:.2} s = {:.2} % of one core",
            used.as_secs_f64(),
            share * 100.0
        );
    } else {
        let (share, used) = steady_cpu(100, "2s", Duration::from_secs(4));
        println!(
            "agent CPU, 100 apps at a 2 s interval, over 4 s: {:.2} s = {:.1} % of one core \
             (at 1 min: ~{:.2} %)",
            used.as_secs_f64(),
            share * 100.0,
            share * 100.0 * 2.0 / 60.0
        );
    }

    // One webhook round trip under criterion, for its statistics.
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path(), 1, "1h", true);
    let mut group = c.benchmark_group("agent");
    group.sample_size(10);
    let mut push = 0u64;
    group.bench_function("webhook_to_applied", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                push += 1;
                let mode = format!("c{push}");
                std::fs::write(
                    dir.path().join("src/app-0/cm.yaml"),
                    CM.replace("m0", &mode),
                )
                .unwrap();
                let started = Instant::now();
                assert_eq!(post_hook(agent.port, "app-0"), 202);
                let expected = format!("mode: {mode}");
                wait_until(Duration::from_secs(30), || {
                    live(dir.path(), 0).is_some_and(|t| t.contains(&expected))
                });
                total += started.elapsed();
            }
            total
        });
    });
    group.finish();
}

criterion_group!(benches, agent_benchmarks);
criterion_main!(benches);
