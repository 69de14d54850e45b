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

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use driftless_benches::time_command;
use driftless_render::kustomize::KustomizeRenderer;
use serde_json::Value;

fn write(root: &Path, path: &str, content: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// Writes the tree with `n` services below `root`; the overlay to build is
/// `overlays/prod`.
fn generate(root: &Path, n: usize) {
    let mut base = String::from("resources:\n");
    for i in 0..n {
        let svc = format!("svc-{i:03}");
        writeln!(base, "- {svc}").unwrap();
        write(
            root,
            &format!("base/{svc}/kustomization.yaml"),
            &format!(
                "resources:\n- deployment.yaml\n- service.yaml\n- serviceaccount.yaml\n- hpa.yaml\nconfigMapGenerator:\n- name: {svc}-config\n  literals:\n  - SERVICE={svc}\n  - LOG_LEVEL=info\n  - PORT=8080\n"
            ),
        );
        write(
            root,
            &format!("base/{svc}/deployment.yaml"),
            &format!(
                "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {svc}
  labels:
    app: {svc}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {svc}
  template:
    metadata:
      labels:
        app: {svc}
    spec:
      serviceAccountName: {svc}
      containers:
      - name: app
        image: registry.example.com/shop/{svc}:1.0.{i}
        ports:
        - containerPort: 8080
          name: http
        envFrom:
        - configMapRef:
            name: {svc}-config
        resources:
          requests:
            cpu: 50m
            memory: 64Mi
"
            ),
        );
        write(
            root,
            &format!("base/{svc}/service.yaml"),
            &format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: {svc}\nspec:\n  selector:\n    app: {svc}\n  ports:\n  - name: http\n    port: 80\n    targetPort: http\n"
            ),
        );
        write(
            root,
            &format!("base/{svc}/serviceaccount.yaml"),
            &format!("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {svc}\n"),
        );
        write(
            root,
            &format!("base/{svc}/hpa.yaml"),
            &format!(
                "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: {svc}\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: {svc}\n  minReplicas: 1\n  maxReplicas: 4\n"
            ),
        );
    }
    write(root, "base/kustomization.yaml", &base);

    let mut prod = String::from(
        "resources:
- ../../base
namespace: shop-prod
namePrefix: prod-
labels:
- pairs:
    env: prod
  includeSelectors: true
commonAnnotations:
  owner: platform
patches:
- target:
    kind: Deployment
  patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: any
    spec:
      template:
        spec:
          containers:
          - name: app
            env:
            - name: ENVIRONMENT
              value: prod
            resources:
              limits:
                memory: 256Mi
images:
",
    );
    for i in 0..n {
        let svc = format!("svc-{i:03}");
        writeln!(
            prod,
            "- name: registry.example.com/shop/{svc}\n  newTag: 2.0.{i}"
        )
        .unwrap();
    }
    prod.push_str("replicas:\n");
    for i in 0..n {
        writeln!(prod, "- name: svc-{i:03}\n  count: {}", 2 + i % 3).unwrap();
    }
    prod.push_str("configMapGenerator:\n");
    for i in 0..n {
        writeln!(
            prod,
            "- name: svc-{i:03}-config\n  behavior: merge\n  literals:\n  - LOG_LEVEL=warn"
        )
        .unwrap();
    }
    write(root, "overlays/prod/kustomization.yaml", &prod);
}

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
