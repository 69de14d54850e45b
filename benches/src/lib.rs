//! Shared helpers for the benchmarks in `benches/benches/`.
//!
//! Every benchmark measures driftless and the reference tool (git, kubectl, …) on the
//! same input in the same run, so the ratio is what matters, not the machine.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs a command to completion and returns how long it took; panics if it fails,
/// so a broken reference run never looks fast.
#[allow(clippy::missing_panics_doc)] // benchmarks fail loudly by design
pub fn time_command(command: &mut Command) -> Duration {
    let start = Instant::now();
    let output = command.output().expect("start the reference command");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    start.elapsed()
}

/// Writes `content` at `path` below `root`, creating folders.
#[allow(clippy::missing_panics_doc, clippy::unwrap_used)]
pub fn write(root: &Path, path: &str, content: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// Writes the Kustomize benchmark tree with `n` services below `root` (the tree of
/// `benches/kustomize.rs`); the overlay to build is `overlays/prod`.
#[allow(
    clippy::missing_panics_doc,
    clippy::too_many_lines,
    clippy::unwrap_used,
    clippy::format_push_string
)] // benchmark setup fails loudly
pub fn kustomize_tree(root: &Path, n: usize) {
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

/// The `driftless-agent` binary of the profile this benchmark was built with (next to
/// its target directory), built first when missing.
#[allow(clippy::missing_panics_doc, clippy::unwrap_used)] // benchmark setup fails loudly
pub fn agent_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<bench>-<hash>
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_owned();
    let binary = profile_dir.join("driftless-agent");
    if !binary.is_file() {
        let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        build.args([
            "build",
            "-q",
            "-p",
            "driftless-agent",
            "--bin",
            "driftless-agent",
        ]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.status().unwrap();
        assert!(status.success(), "building driftless-agent failed");
    }
    assert!(binary.is_file(), "{} was not built", binary.display());
    binary
}
