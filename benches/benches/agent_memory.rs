//! Peak memory of a real `driftless-agent` reconciling one large app: 50,000
//! ConfigMaps (500 under `cargo test --bench agent_memory`), from a local folder of
//! 1,000 files, into two targets:
//!
//! - a directory target (`dir:`), where nothing but the agent itself costs time, so the
//!   figure is the agent's own;
//! - the real API server (`kube`), all 50,000 in one namespace: server-side apply of
//!   each, the ApplySet, the list of what is live. Side by side in the same run:
//!   `kubectl apply --server-side` of the same file, its peak RSS sampled every 20 ms.
//!
//! For each: the first reconcile (everything created), a second at the same revision
//! (drift check: what the agent does every interval), and a third after one object
//! changed (a new revision: fetch, render, plan again). Reported: the agent's peak
//! resident memory (`VmHWM`) after each, and its resident memory (`VmRSS`) when idle
//! afterwards, which shows what it keeps between reconciles. The goal: at most 300 MB
//! for 50,000 objects (the shipped Deployment's limit is 256 Mi).
//!
//! `cargo bench -p driftless-benches --bench agent_memory` (`AGENT_MEMORY_OBJECTS=N`
//! for another size). Needs the test API server
//! (`KUBECONFIG`) for the kube case.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::missing_panics_doc,
    clippy::print_stdout
)] // a benchmark binary; setup failures should be loud

use std::fmt::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use driftless_benches::{AgentProcess, http_request, mib, proc_status_kib, wait_until};
use driftless_testkit::kube::{TestNamespace, kubeconfig};

const SECRET: &str = "agent-memory-secret";
const FILES: usize = 1000;

fn objects() -> usize {
    if let Some(n) = std::env::var("AGENT_MEMORY_OBJECTS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        return n;
    }
    if std::env::args().any(|a| a == "--bench") {
        50_000
    } else {
        500
    }
}

/// `n` ConfigMaps in `FILES` files (fewer when `n` is small), each with three keys.
fn write_app(dir: &Path, n: usize, namespace: &str, mark: &str) {
    let files = FILES.min(n);
    let per_file = n.div_ceil(files);
    std::fs::create_dir_all(dir).unwrap();
    for file in 0..files {
        let mut text = String::new();
        for i in file * per_file..((file + 1) * per_file).min(n) {
            write!(
                text,
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings-{i:05}\n  namespace: {namespace}\n  labels:\n    app: big\n    shard: \"{}\"\ndata:\n  mode: \"{}\"\n  endpoint: https://service-{i}.example.com:8443/api/v1\n  retries: \"3\"\n---\n",
                i % 16,
                if i == 0 { mark } else { "steady" }
            )
            .unwrap();
        }
        std::fs::write(dir.join(format!("cm-{file:04}.yaml")), text).unwrap();
    }
}

struct Figures {
    first: (Duration, u64),
    again: (Duration, u64),
    changed: (Duration, u64),
    idle_rss: u64,
}

/// The agent on one app (`target`, `namespace`), three reconciles.
fn run_agent(dir: &Path, n: usize, target: &str, namespace: &str) -> Figures {
    let source = dir.join("src");
    write_app(&source, n, namespace, "first");
    std::fs::write(dir.join("secret"), SECRET).unwrap();
    let port = driftless_testkit::free_port();
    let config = format!(
        "apiVersion: driftless.dev/v1alpha1\nkind: AgentConfig\nlisten: 127.0.0.1:{port}\n\
         stateDir: {state}\napps:\n  - name: big\n    source: {{url: {source}}}\n    \
         target: {target}\n{namespace_line}    interval: 60m\n    \
         webhook: {{secretFile: {secret}}}\n",
        // Only a kube target takes a namespace (the objects name theirs for a folder).
        namespace_line = if target == "kube" {
            format!("    targetNamespace: {namespace}\n")
        } else {
            String::new()
        },
        state = dir.join("state").display(),
        source = source.display(),
        secret = dir.join("secret").display(),
    );
    let config_path = dir.join("agent.yaml");
    std::fs::write(&config_path, config).unwrap();
    let kubeconfig = std::env::var_os("KUBECONFIG").unwrap_or_default();
    let agent = AgentProcess::start(
        &config_path,
        port,
        &[("KUBECONFIG", kubeconfig.as_os_str())],
        &dir.join("agent.log"),
    );
    let started = Instant::now();
    let synced = |count: u64| {
        let statuses = agent.statuses();
        let status = &statuses[0];
        let count_now = status["lastSync"]["id"].as_u64().unwrap_or(0);
        assert!(
            status["consecutiveFailures"] == 0,
            "the reconcile failed: {status}"
        );
        status["ready"] == true && count_now >= count
    };
    wait_until(Duration::from_secs(1800), "the first reconcile", || {
        synced(1)
    });
    let first = (started.elapsed(), agent.peak_rss_kib());

    let hook = || {
        http_request(
            port,
            "POST",
            "/hooks/big",
            &[
                ("X-Gitlab-Token", SECRET),
                ("Content-Type", "application/json"),
            ],
            "{}",
        )
    };
    let started = Instant::now();
    hook();
    wait_until(Duration::from_secs(1800), "the second reconcile", || {
        synced(2)
    });
    let again = (started.elapsed(), agent.peak_rss_kib());

    write_app(&source, n, namespace, "changed");
    let started = Instant::now();
    hook();
    wait_until(Duration::from_secs(1800), "the third reconcile", || {
        synced(3)
    });
    let changed = (started.elapsed(), agent.peak_rss_kib());
    std::thread::sleep(Duration::from_secs(1));
    let idle_rss = agent.rss_kib();
    Figures {
        first,
        again,
        changed,
        idle_rss,
    }
}

fn report(case: &str, n: usize, figures: &Figures) {
    println!(
        "agent_memory/{case}/{n} objects: first reconcile {:.1} s (peak RSS {:.0} MiB), same revision again {:.1} s (peak {:.0} MiB), one object changed {:.1} s (peak {:.0} MiB); idle afterwards {:.0} MiB",
        figures.first.0.as_secs_f64(),
        mib(figures.first.1),
        figures.again.0.as_secs_f64(),
        mib(figures.again.1),
        figures.changed.0.as_secs_f64(),
        mib(figures.changed.1),
        mib(figures.idle_rss),
    );
}

/// `kubectl apply --server-side -f <folder>` of the same objects: (time, peak RSS KiB
/// sampled every 20 ms).
fn kubectl_apply(folder: &Path) -> (Duration, u64) {
    let mut command = driftless_testkit::kube::kubectl_command();
    command
        .args(["apply", "--server-side", "-f"])
        .arg(folder)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command.spawn().unwrap();
    let pid = child.id();
    let mut peak = 0;
    loop {
        peak = peak.max(proc_status_kib(pid, "VmHWM:"));
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "kubectl apply failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (started.elapsed(), peak)
}

fn agent_memory(c: &mut Criterion) {
    let n = objects();
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let figures = run_agent(
        &dir.path().join("agent-dir"),
        n,
        &format!("dir:{}", live.display()),
        "big",
    );
    report("dir", n, &figures);

    let _ = kubeconfig();
    let ns = TestNamespace::new("agent-memory");
    let figures = run_agent(&dir.path().join("agent-kube"), n, "kube", ns.name());
    report("kube", n, &figures);
    let reference_ns = TestNamespace::new("agent-memory-kubectl");
    let folder = dir.path().join("kubectl");
    write_app(&folder, n, reference_ns.name(), "first");
    let (time, peak) = kubectl_apply(&folder);
    println!(
        "agent_memory/kube/{n} objects: kubectl apply --server-side (same run) {:.1} s, peak RSS {:.0} MiB",
        time.as_secs_f64(),
        mib(peak)
    );

    // Criterion's statistics for rendering and reconciling the small app into a folder.
    let mut group = c.benchmark_group("agent_memory");
    group.sample_size(10).warm_up_time(Duration::from_millis(1));
    group.bench_function("500_objects_dir_first_reconcile", |b| {
        b.iter_custom(|iterations| {
            (0..iterations)
                .map(|_| {
                    let dir = tempfile::tempdir().unwrap();
                    let live = dir.path().join("live");
                    run_agent(dir.path(), 500, &format!("dir:{}", live.display()), "big")
                        .first
                        .0
                })
                .sum()
        });
    });
    group.finish();
}

criterion_group!(benches, agent_memory);
criterion_main!(benches);
