//! OCI artifacts: push a directory and fetch it back, driftless against the standard
//! tools doing the same work, in the same run, against the same registry.
//!
//! The input is a manifests folder of 500 YAML files (about 350 KB) in 25 folders. The
//! registry is Debian's `docker-registry` on 127.0.0.1, started by the benchmark.
//!
//! - `oci_push/driftless`: `push` (reproducible tar+gzip, config, manifest, uploads of
//!   the blobs the registry lacks; after the first round, as with skopeo, only the
//!   manifest).
//! - `oci_push/tar+skopeo`: what `flux push artifact` does, with standard tools: GNU
//!   `tar -czf`, an OCI layout written by hand, `skopeo copy` to the registry.
//! - `oci_fetch/driftless`: `resolve` + `fetch` into an empty cache (manifest HEAD and
//!   GET, blobs with digest checks, safe extraction, atomic rename).
//! - `oci_fetch/skopeo+tar`: `skopeo copy` from the registry into an OCI layout (it
//!   checks digests too), then GNU `tar -xzf` of the layer.
//!
//! Run with `cargo bench -p driftless-benches --bench oci`; `cargo test --benches` runs
//! each case once. Needs `docker-registry`, `skopeo` and `tar`.
#![allow(missing_docs, clippy::unwrap_used)] // a benchmark binary; setup failures should be loud

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use driftless_core::Source as _;
use driftless_source_oci::{OciSource, OciSourceOptions, PushOptions, push};
use driftless_testkit::registry::Registry;

const FILES: usize = 500;

fn manifests(dir: &Path) {
    for i in 0..FILES {
        let folder = dir.join(format!("team-{}", i % 25));
        fs::create_dir_all(&folder).unwrap();
        let yaml = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  namespace: team-{ns}\n  labels:\n    app: app-{i}\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: app-{i}\n  template:\n    metadata:\n      labels:\n        app: app-{i}\n    spec:\n      containers:\n        - name: main\n          image: registry.example.com/app:1.{i}.0\n          ports:\n            - containerPort: 8080\n          env:\n            - name: INDEX\n              value: \"{i}\"\n",
            ns = i % 25
        );
        fs::write(folder.join(format!("app-{i}.yaml")), yaml).unwrap();
    }
}

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// `tar -czf` of `dir`, an OCI layout in Flux's format around it, `skopeo copy` to
/// `target` (`docker://…`).
fn tar_and_skopeo_push(dir: &Path, target: &str) {
    let work = tempfile::tempdir().unwrap();
    let layer_path = work.path().join("layer.tar.gz");
    run(
        "tar",
        &[
            "-czf",
            layer_path.to_str().unwrap(),
            "-C",
            dir.to_str().unwrap(),
            ".",
        ],
    );
    let layout = work.path().join("layout");
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let hex = sha256_hex(bytes);
        fs::write(blobs.join(&hex), bytes).unwrap();
        format!("sha256:{hex}")
    };
    let layer = fs::read(&layer_path).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.cncf.flux.config.v1+json", "digest": put(b"{}"), "size": 2},
        "layers": [{"mediaType": "application/vnd.cncf.flux.content.v1.tar+gzip", "digest": put(&layer), "size": layer.len()}],
    }))
    .unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": put(&manifest),
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "v1"}
        }]
    });
    fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let from = format!("oci:{}:v1", layout.display());
    run(
        "skopeo",
        &["copy", "--quiet", "--dest-tls-verify=false", &from, target],
    );
}

/// `skopeo copy` of `source` (`docker://…`) into a layout, `tar -xzf` of its layer.
fn skopeo_and_tar_fetch(source: &str, layer_digest: &str) {
    let work = tempfile::tempdir().unwrap();
    let to = format!("oci:{}:v1", work.path().join("layout").display());
    run(
        "skopeo",
        &["copy", "--quiet", "--src-tls-verify=false", source, &to],
    );
    let layer = work
        .path()
        .join("layout/blobs/sha256")
        .join(layer_digest.trim_start_matches("sha256:"));
    let out = work.path().join("out");
    fs::create_dir_all(&out).unwrap();
    run(
        "tar",
        &["-xzf", layer.to_str().unwrap(), "-C", out.to_str().unwrap()],
    );
}

fn oci(c: &mut Criterion) {
    driftless_testkit::require_program("skopeo", "install skopeo (apt-get install -y skopeo)");
    driftless_testkit::require_program("tar", "install tar (apt-get install -y tar)");
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    manifests(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let reference = format!("{}:v1", registry.url("bench/app"));
    let options = PushOptions::default().use_git(false);
    let pushed = runtime
        .block_on(push(dir.path(), &reference, &options))
        .unwrap();

    let mut group = c.benchmark_group("oci_push");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("driftless", |b| {
        b.iter(|| {
            runtime
                .block_on(push(dir.path(), &reference, &options))
                .unwrap()
        });
    });
    let skopeo_target = format!("docker://{}/bench/skopeo:v1", registry.host());
    group.bench_function("tar+skopeo", |b| {
        b.iter(|| tar_and_skopeo_push(dir.path(), &skopeo_target));
    });
    group.finish();

    let mut group = c.benchmark_group("oci_fetch");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("driftless", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap(),
            |cache| {
                let source =
                    OciSource::new(OciSourceOptions::new(&reference).cache_dir(cache.path()))
                        .unwrap();
                runtime.block_on(async {
                    let revision = source.resolve().await.unwrap();
                    source.fetch(&revision).await.unwrap()
                });
                cache
            },
            BatchSize::PerIteration,
        );
    });
    let skopeo_source = format!("docker://{}/bench/app:v1", registry.host());
    group.bench_function("skopeo+tar", |b| {
        b.iter(|| skopeo_and_tar_fetch(&skopeo_source, &pushed.layer_digest));
    });
    group.finish();
}

criterion_group!(benches, oci);
criterion_main!(benches);
