//! Applying a real-shaped application to a real API server: driftless's Kubernetes
//! target against `kubectl apply --server-side`, on the same server in the same run.
//!
//! The application is podinfo (`crates/driftless-target-kube/tests/data/podinfo.yaml`:
//! a Deployment with probes and resources in millicores and Mi, a Service, an HPA, a
//! Secret written with stringData, a ConfigMap, a ServiceAccount) copied under numbered
//! names until there are 500 objects (20 under `cargo test --benches`). Both sides get
//! the same objects (Service ports carry `protocol`, which the 1.20 test server wants in
//! any server-side apply body).
//!
//! Cases:
//! - `apply`: into a fresh namespace (one per iteration, created outside the timing);
//! - `reapply`: the same objects again, unchanged. driftless twice: `agent`, the same
//!   target reconciling again (what the agent does every interval: objects known in sync
//!   are not asked about again), and `cold`, a new target each time (a new `driftless
//!   apply` process: every object goes through a server-side apply dry run).
//!
//! driftless runs a whole reconcile each time (prepare, live state, plan, apply). The API
//! requests of each side are printed once: driftless counts its own, kubectl's come from
//! its `-v=6` request log.
//!
//! Needs the test API server (`KUBECONFIG`, see `driftless_testkit::kube`); without it
//! the benchmark fails with the instructions to start one.
//!
//! Run with `cargo bench -p driftless-benches --bench kube_apply`.
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stderr)] // a benchmark binary

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use driftless_core::{ApplyOptions, Object, ObjectSet, Target};
use driftless_diff::DiffOptions;
use driftless_target_kube::{KubeOptions, KubeTarget, RequestCounts};
use driftless_testkit::kube::{TestNamespace, kubeconfig, kubectl_command};
use serde_json::{Value, json};

fn count() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        500
    } else {
        20
    }
}

/// `n` objects: numbered copies of podinfo's.
fn application(n: usize) -> ObjectSet {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/driftless-target-kube/tests/data/podinfo.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut set = ObjectSet::new();
    for copy in 0.. {
        let renamed = text
            .replace("podinfo", &format!("podinfo-{copy:03}"))
            .replace(
                &format!("stefanprodan/podinfo-{copy:03}"),
                "stefanprodan/podinfo",
            );
        for mut value in driftless_core::yaml::from_str_multi(&renamed).unwrap() {
            if set.len() == n {
                return set;
            }
            if let Some(Value::Array(ports)) = value.pointer_mut("/spec/ports") {
                for port in ports {
                    port["protocol"] = json!("TCP");
                }
            }
            // The test server's Service range has a few hundred addresses, shared by
            // every namespace alive: headless Services take none.
            if value["kind"] == "Service" {
                value["spec"]["clusterIP"] = json!("None");
                value["spec"].as_object_mut().unwrap().shift_remove("type");
            }
            set.insert(Object::new(value).unwrap()).unwrap();
        }
    }
    set
}

fn manifest(objects: &ObjectSet, path: &Path) {
    let values: Vec<&Value> = objects.iter().map(Object::as_value).collect();
    std::fs::write(path, driftless_core::yaml::to_string_multi(values).unwrap()).unwrap();
}

async fn open(namespace: &str) -> KubeTarget {
    KubeTarget::from_kubeconfig(
        KubeOptions::default()
            .kubeconfig(kubeconfig())
            .namespace(namespace)
            .applyset("bench"),
    )
    .await
    .unwrap()
}

/// One whole reconcile with `target`; returns the requests it sent so far.
async fn reconcile(target: &KubeTarget, desired: &ObjectSet) -> RequestCounts {
    let desired = target.prepare(desired.clone()).await.unwrap();
    let live = target.live(&desired).await.unwrap();
    let plan = driftless_diff::plan(&desired, &live, &DiffOptions::default());
    target
        .apply(&plan, &ApplyOptions::default().prune(true))
        .await
        .unwrap();
    target.request_counts()
}

/// One whole reconcile from a new target, as a new process would.
async fn cold(namespace: &str, desired: &ObjectSet) -> RequestCounts {
    reconcile(&open(namespace).await, desired).await
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

/// Requests in kubectl's `-v=6` log: (reads, writes).
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
    let desired = application(n);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.yaml");
    manifest(&desired, &file);

    // Requests, once per side: first apply, then unchanged (cold and warm).
    let ns = TestNamespace::new("bench-requests-d");
    let first = runtime.block_on(cold(ns.name(), &desired));
    let target = runtime.block_on(open(ns.name()));
    let again = runtime.block_on(reconcile(&target, &desired));
    let before = target.request_counts();
    let warm = runtime.block_on(reconcile(&target, &desired));
    let ns = TestNamespace::new("bench-requests-k");
    let k_first = kubectl_requests(&run(&mut kubectl_apply(ns.name(), &file, true)));
    let k_again = kubectl_requests(&run(&mut kubectl_apply(ns.name(), &file, true)));
    eprintln!(
        "kube_apply/{n}: requests (reads/writes/dry runs): driftless apply {}/{}/{}, reapply cold {}/{}/{}, reapply agent {}/{}/{}; kubectl apply {}/{}, reapply {}/{}",
        first.reads,
        first.writes,
        first.dry_runs,
        again.reads,
        again.writes,
        again.dry_runs,
        warm.reads - before.reads,
        warm.writes - before.writes,
        warm.dry_runs - before.dry_runs,
        k_first.0,
        k_first.1,
        k_again.0,
        k_again.1
    );
    assert_eq!(again.writes, 0, "an unchanged reapply writes nothing");
    assert_eq!(
        warm.writes, before.writes,
        "an unchanged reapply writes nothing"
    );

    let mut group = c.benchmark_group("kube_apply");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(if n > 100 { 30 } else { 1 }));
    group.warm_up_time(Duration::from_millis(if n > 100 { 1000 } else { 10 }));

    group.bench_function(BenchmarkId::new("driftless/apply", n), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let ns = TestNamespace::new("bench-d");
                let start = Instant::now();
                runtime.block_on(cold(ns.name(), &desired));
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
    runtime.block_on(cold(ns_d.name(), &desired));
    let agent = runtime.block_on(open(ns_d.name()));
    runtime.block_on(reconcile(&agent, &desired));
    group.bench_function(BenchmarkId::new("driftless/reapply-agent", n), |b| {
        b.iter(|| runtime.block_on(reconcile(&agent, &desired)));
    });
    group.bench_function(BenchmarkId::new("driftless/reapply-cold", n), |b| {
        b.iter(|| runtime.block_on(cold(ns_d.name(), &desired)));
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
