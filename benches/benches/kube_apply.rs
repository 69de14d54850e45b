//! Applying ConfigMaps to a real API server: driftless's Kubernetes target against
//! `kubectl apply --server-side`, on the same server in the same run.
//!
//! Four cases, each on 500 ConfigMaps (20 under `cargo test --benches`):
//! - `apply`: into a fresh namespace (one per iteration, created outside the timing);
//! - `reapply`: the same objects again, unchanged.
//!
//! driftless runs a whole reconcile each time (prepare, live state, plan, apply), from a
//! new client. The API requests of each side are printed once: driftless counts its own,
//! kubectl's come from its `-v=6` request log.
//!
//! Needs the test API server (`KUBECONFIG`, see `driftless_testkit::kube`); without it
//! the benchmark fails with the instructions to start one.
//!
//! Run with `cargo bench -p driftless-benches --bench kube_apply`.
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stderr)] // a benchmark binary

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use driftless_core::{ApplyOptions, Object, ObjectSet, Target};
use driftless_diff::DiffOptions;
use driftless_target_kube::{KubeOptions, KubeTarget, RequestCounts};
use driftless_testkit::kube::{TestNamespace, kubeconfig, kubectl_command};
use serde_json::json;

fn count() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        500
    } else {
        20
    }
}

fn config_maps(n: usize) -> ObjectSet {
    let mut set = ObjectSet::new();
    for i in 0..n {
        set.insert(
            Object::new(json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": format!("cm-{i:04}"), "labels": {"bench": "kube-apply"}},
                "data": {"index": i.to_string(), "payload": "x".repeat(64)},
            }))
            .unwrap(),
        )
        .unwrap();
    }
    set
}

fn manifest(n: usize, path: &Path) {
    let mut yaml = String::new();
    for i in 0..n {
        write!(
            yaml,
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i:04}\n  labels:\n    bench: kube-apply\ndata:\n  index: \"{i}\"\n  payload: {}\n",
            "x".repeat(64)
        )
        .unwrap();
    }
    std::fs::write(path, yaml).unwrap();
}

/// One whole reconcile into `namespace`; returns the requests it sent.
async fn driftless(namespace: &str, desired: &ObjectSet) -> RequestCounts {
    let target = KubeTarget::from_kubeconfig(
        KubeOptions::default()
            .kubeconfig(kubeconfig())
            .namespace(namespace)
            .applyset("bench"),
    )
    .await
    .unwrap();
    let desired = target.prepare(desired.clone()).await.unwrap();
    let live = target.live(&desired).await.unwrap();
    let plan = driftless_diff::plan(&desired, &live, &DiffOptions::default());
    target
        .apply(&plan, &ApplyOptions::default().prune(true))
        .await
        .unwrap();
    target.request_counts()
}

fn kubectl_apply(namespace: &str, file: &Path, verbose: bool) -> Command {
    let mut command = kubectl_command();
    command.args(["apply", "--server-side", "-n", namespace, "-f"]);
    command.arg(file);
    if verbose {
        command.arg("-v=6");
    }
    command
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("start kubectl");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Requests in kubectl's `-v=6` log.
fn kubectl_requests(log: &str) -> (usize, usize) {
    let mut reads = 0;
    let mut writes = 0;
    for line in log.lines() {
        for (method, read) in [
            ("GET", true),
            ("PATCH", false),
            ("POST", false),
            ("PUT", false),
            ("DELETE", false),
        ] {
            if line.contains(&format!("\"{method} https://"))
                || line.contains(&format!("] {method} https://"))
            {
                if read {
                    reads += 1;
                } else {
                    writes += 1;
                }
            }
        }
    }
    (reads, writes)
}

fn kube_apply(c: &mut Criterion) {
    // Fails with the instructions when no server runs.
    let _ = kubeconfig();
    let n = count();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let desired = config_maps(n);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("configmaps.yaml");
    manifest(n, &file);

    // Requests, once per side: first apply, then unchanged.
    let ns = TestNamespace::new("bench-requests-d");
    let first = runtime.block_on(driftless(ns.name(), &desired));
    let again = runtime.block_on(driftless(ns.name(), &desired));
    let ns = TestNamespace::new("bench-requests-k");
    let k_first = kubectl_requests(&run(&mut kubectl_apply(ns.name(), &file, true)));
    let k_again = kubectl_requests(&run(&mut kubectl_apply(ns.name(), &file, true)));
    eprintln!(
        "kube_apply/{n}: requests (reads/writes): driftless apply {}/{}, reapply {}/{}; kubectl apply {}/{}, reapply {}/{}",
        first.reads,
        first.writes,
        again.reads,
        again.writes,
        k_first.0,
        k_first.1,
        k_again.0,
        k_again.1
    );
    assert_eq!(again.writes, 0, "an unchanged reapply writes nothing");

    let mut group = c.benchmark_group("kube_apply");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(if n > 100 { 20 } else { 1 }));
    group.warm_up_time(Duration::from_millis(if n > 100 { 1000 } else { 10 }));

    group.bench_function(BenchmarkId::new("driftless/apply", n), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let ns = TestNamespace::new("bench-d");
                let start = Instant::now();
                runtime.block_on(driftless(ns.name(), &desired));
                total += start.elapsed();
            }
            total
        });
    });
    group.bench_function(BenchmarkId::new("kubectl/apply", n), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let ns = TestNamespace::new("bench-k");
                let start = Instant::now();
                run(&mut kubectl_apply(ns.name(), &file, false));
                total += start.elapsed();
            }
            total
        });
    });

    let ns_d = TestNamespace::new("bench-re-d");
    runtime.block_on(driftless(ns_d.name(), &desired));
    group.bench_function(BenchmarkId::new("driftless/reapply", n), |b| {
        b.iter(|| runtime.block_on(driftless(ns_d.name(), &desired)));
    });
    let ns_k = TestNamespace::new("bench-re-k");
    run(&mut kubectl_apply(ns_k.name(), &file, false));
    group.bench_function(BenchmarkId::new("kubectl/reapply", n), |b| {
        b.iter(|| run(&mut kubectl_apply(ns_k.name(), &file, false)));
    });
    group.finish();
}

criterion_group!(benches, kube_apply);
criterion_main!(benches);
