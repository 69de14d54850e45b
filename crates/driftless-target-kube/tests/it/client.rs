//! A target over a client the program already has, from the one kubeconfig loader the
//! target and the Lease share.

use driftless_core::{ApplyOptions, Target};
use driftless_target_kube::lease::{LeaseLock, LeaseOptions, LeaseState};
use driftless_target_kube::{KubeOptions, KubeTarget, kubeconfig};
use driftless_testkit::kube::TestNamespace;
use serde_json::json;

use crate::support::{config_map, get, objects, reconcile};

#[tokio::test]
async fn a_target_and_a_lease_share_one_client() {
    let ns = TestNamespace::new("client");
    let config = kubeconfig::load(Some(&driftless_testkit::kube::kubeconfig()), None)
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();

    let target = KubeTarget::new(
        client.clone(),
        KubeOptions::default()
            .namespace(ns.name())
            .applyset("shared"),
    );
    assert_eq!(target.default_namespace(), ns.name());
    let (_, report) = reconcile(
        &target,
        objects([config_map("settings", json!({"mode": "fast"}))]),
        ApplyOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.created.len(), 1);
    let live = get(&ns, "configmap", "settings").unwrap();
    assert_eq!(live["data"]["mode"], "fast");
    // Requests through the given client are counted like those of a target that
    // connected itself.
    let counts = target.request_counts();
    assert!(counts.reads > 0 && counts.writes > 0, "{counts:?}");
    let health = target.health(&report.created).await.unwrap();
    assert_eq!(health.len(), 1);

    let lease = LeaseLock::with_client(client, LeaseOptions::new(ns.name(), "leader", "me"));
    assert_eq!(
        lease.try_acquire_or_renew().await.unwrap(),
        LeaseState::Held
    );
}

#[tokio::test]
async fn the_loader_names_a_missing_kubeconfig() {
    let error = kubeconfig::load(Some(std::path::Path::new("/nonexistent/kubeconfig")), None)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("/nonexistent/kubeconfig"),
        "{error}"
    );
}

/// Many apps on one cluster: one client and one discovery cache. The second target
/// asks nothing about the kinds the first one resolved, and each target still counts
/// its own requests.
#[tokio::test]
async fn targets_of_one_cluster_share_discovery() {
    let ns = TestNamespace::new("cluster");
    let cluster = driftless_target_kube::Cluster::from_kubeconfig(
        Some(&driftless_testkit::kube::kubeconfig()),
        None,
    )
    .await
    .unwrap();
    let first = cluster.target(
        KubeOptions::default()
            .namespace(ns.name())
            .applyset("first"),
    );
    let second = cluster.target(
        KubeOptions::default()
            .namespace(ns.name())
            .applyset("second"),
    );
    let desired = |name: &str| objects([config_map(name, json!({"mode": "fast"}))]);

    first.prepare(desired("one")).await.unwrap();
    let discovered = first.request_counts();
    assert!(
        discovered.reads > 0,
        "the first target discovers: {discovered:?}"
    );
    second.prepare(desired("two")).await.unwrap();
    assert_eq!(
        second.request_counts().reads,
        0,
        "the second target asks nothing"
    );

    let (_, report) = reconcile(&second, desired("two"), ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(report.created.len(), 1);
    assert!(get(&ns, "configmap", "two").is_some());
    assert!(second.request_counts().writes > 0);
    assert_eq!(first.request_counts().writes, 0, "counted per target");
}
