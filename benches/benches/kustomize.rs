//! Rendering a multi-environment Kustomize tree with N services: driftless's
//! Kustomize renderer against `kubectl kustomize` on the same tree in the same run.
//!
//! Each service is its own kustomization (a Deployment, Service, ServiceAccount and
//! HorizontalPodAutoscaler, and a generated ConfigMap); the `prod` overlay adds a
//! namespace, a name prefix, labels with selectors, an image override, a replica count
//! and a generator merge per service, and a strategic merge patch targeting every
//! Deployment. That is five objects per service, with name references to rewrite.
//! Before measuring, the setup checks that both tools produce the same objects.
//!
//! Measured sizes: 25 and 200 services for both tools, and 400 for driftless alone
//! (to show linear growth). Where one kubectl run takes more than five seconds
//! (200 services), kubectl and driftless are timed over a few runs and the ratio is
//! printed, since criterion's ten samples would take many minutes. Run with `cargo bench -p driftless-benches --bench
//! kustomize`; under `cargo test --benches` the sizes are small and each case runs once.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::format_push_string,
    clippy::print_stderr,
    clippy::too_many_lines
)] // a benchmark binary; setup failures should be loud

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use driftless_benches::{kustomize_tree as generate, time_command};
use driftless_render::kustomize::KustomizeRenderer;
use serde_json::Value;

fn kubectl(dir: &Path) -> Vec<Value> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl with Kustomize v5 is required to run this benchmark");
    assert!(
        out.status.success(),
        "kubectl kustomize failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    driftless_core::yaml::from_str_multi(&String::from_utf8_lossy(&out.stdout)).unwrap()
}

fn render(root: &Path) -> Vec<Value> {
    KustomizeRenderer::new()
        .build(root, Path::new("overlays/prod"))
        .unwrap()
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn kustomize(c: &mut Criterion) {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let (compared, driftless_only): (&[usize], &[usize]) = if benchmarking {
        (&[25, 200], &[400])
    } else {
        (&[5, 20], &[40])
    };

    let mut group = c.benchmark_group("kustomize_build");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    for &n in compared {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), n);
        let overlay = dir.path().join("overlays/prod");
        let ours = render(dir.path());
        assert_eq!(ours.len(), 5 * n);
        let start = Instant::now();
        let theirs = kubectl(&overlay);
        let kubectl_once = start.elapsed();
        assert!(
            ours == theirs,
            "driftless and kubectl kustomize differ at {n} services"
        );
        group.bench_with_input(BenchmarkId::new("driftless", n), &n, |b, _| {
            b.iter(|| black_box(render(dir.path())));
        });
        if benchmarking && kubectl_once > Duration::from_secs(5) {
            // Criterion takes at least ten samples; at this size kubectl needs minutes
            // for that, so it is timed over three runs here, side by side with driftless.
            let kubectl_runs: Vec<Duration> =
                std::iter::once(kubectl_once)
                    .chain((0..2).map(|_| {
                        time_command(Command::new("kubectl").arg("kustomize").arg(&overlay))
                    }))
                    .collect();
            let ours_runs: Vec<Duration> = (0..10)
                .map(|_| {
                    let start = Instant::now();
                    black_box(render(dir.path()));
                    start.elapsed()
                })
                .collect();
            let (theirs, ours) = (median(kubectl_runs), median(ours_runs));
            eprintln!(
                "kustomize_build/{n} services: kubectl kustomize {theirs:?} (median of 3), driftless {ours:?} (median of 10): {:.0}x faster",
                theirs.as_secs_f64() / ours.as_secs_f64()
            );
        } else {
            group.bench_with_input(BenchmarkId::new("kubectl_kustomize", n), &n, |b, _| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| {
                            time_command(Command::new("kubectl").arg("kustomize").arg(&overlay))
                        })
                        .sum::<Duration>()
                });
            });
        }
    }
    for &n in driftless_only {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), n);
        assert_eq!(render(dir.path()).len(), 5 * n);
        group.bench_with_input(BenchmarkId::new("driftless", n), &n, |b, _| {
            b.iter(|| black_box(render(dir.path())));
        });
    }
    group.finish();
}

criterion_group!(benches, kustomize);
criterion_main!(benches);
