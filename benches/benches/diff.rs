//! Planning cost of `driftless-diff` as the number of objects grows.
//!
//! Plans 1,000 and 10,000 Deployments against live copies of themselves (with status,
//! server-set metadata and defaulted fields, as a cluster returns them), where one
//! object in fifty has a changed replica count or image, and a few inventory members
//! are to be pruned. Throughput is reported per object: the per-object time staying flat
//! from 1,000 to 10,000 is what shows that planning is linear in the number of objects.
//!
//! There is no reference tool to run side by side here: Flux and Argo CD compute their
//! diffs inside their controllers against a live API server, and offer no stand-alone
//! command that plans a set of objects against a given live state, so this benchmark
//! measures driftless alone.
//!
//! Run with `cargo bench -p driftless-benches --bench diff`; `cargo test --benches` runs
//! each case once.
#![allow(missing_docs, clippy::unwrap_used)] // a benchmark binary; setup failures should be loud

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use driftless_core::{LiveObject, LiveState, Object, ObjectSet};
use driftless_diff::{DiffOptions, plan};
use serde_json::json;

fn deployment(i: usize, replicas: u32, image: &str) -> Object {
    Object::new(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": format!("app-{i}"),
            "namespace": format!("team-{}", i % 20),
            "labels": {"app": format!("app-{i}"), "team": format!("team-{}", i % 20)},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": format!("app-{i}")}},
            "template": {
                "metadata": {"labels": {"app": format!("app-{i}")}},
                "spec": {"containers": [{
                    "name": "main",
                    "image": image,
                    "ports": [{"containerPort": 8080}],
                    "env": [{"name": "INDEX", "value": i.to_string()}],
                }]},
            },
        },
    }))
    .unwrap()
}

/// As a server returns an object: status, server metadata and defaults added.
fn served(object: &Object, i: usize) -> Object {
    let mut value = object.as_value().clone();
    value["metadata"]["uid"] = json!(format!("uid-{i}"));
    value["metadata"]["resourceVersion"] = json!(i.to_string());
    value["metadata"]["managedFields"] = json!([{"manager": "driftless", "operation": "Apply"}]);
    value["spec"]["revisionHistoryLimit"] = json!(10);
    value["spec"]["progressDeadlineSeconds"] = json!(600);
    let container = &mut value["spec"]["template"]["spec"]["containers"][0];
    container["imagePullPolicy"] = json!("IfNotPresent");
    container["terminationMessagePath"] = json!("/dev/termination-log");
    value["status"] = json!({"replicas": 2, "readyReplicas": 2});
    Object::new(value).unwrap()
}

/// `n` desired objects, and a live state where one in fifty differs and `n / 100`
/// inventory members are no longer desired.
fn inputs(n: usize) -> (ObjectSet, LiveState) {
    let mut desired = ObjectSet::new();
    let mut live = LiveState::default();
    for i in 0..n {
        let wanted = deployment(i, 2, "registry.example.com/app:1.2.0");
        let applied = match i % 100 {
            0 => deployment(i, 3, "registry.example.com/app:1.2.0"),
            50 => deployment(i, 2, "registry.example.com/app:1.1.0"),
            _ => wanted.clone(),
        };
        live.inventory.insert(wanted.id());
        live.objects.insert(
            wanted.id(),
            LiveObject {
                object: served(&applied, i),
                last_applied: Some(applied),
                predicted: None,
            },
        );
        desired.insert(wanted).unwrap();
    }
    for i in n..n + n / 100 {
        let gone = deployment(i, 1, "registry.example.com/app:0.9.0");
        live.inventory.insert(gone.id());
        live.objects.insert(
            gone.id(),
            LiveObject {
                object: served(&gone, i),
                last_applied: Some(gone),
                predicted: None,
            },
        );
    }
    (desired, live)
}

fn bench_plan(c: &mut Criterion) {
    let mut group = c.benchmark_group("diff/plan");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let options = DiffOptions::default();
    for n in [1_000, 10_000] {
        let (desired, live) = inputs(n);
        // The plan is what it should be, so the timing is of real work.
        let summary = plan(&desired, &live, &options).summary();
        assert_eq!(
            (summary.update, summary.prune, summary.create),
            (n / 50, n / 100, 0)
        );
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| plan(black_box(&desired), black_box(&live), &options));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_plan);
criterion_main!(benches);
