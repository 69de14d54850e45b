//! Inventory identity: each application's ApplySet is named explicitly (never after a
//! folder), its parent's namespace is fixed by configuration, objects of another set
//! are refused unless adopted, and uninstalling removes the set and its parent.

use driftless_core::ApplyOptions;
use driftless_target_kube::{Error, KubeOptions};
use driftless_testkit::kube::{TestNamespace, kubeconfig, kubectl_command};
use serde_json::json;

use crate::support::{config_map, get, names, objects, reconcile, target, target_with};

/// Two applications whose source folders are both called `prod`: with explicit names
/// they share a namespace and never prune each other.
#[tokio::test]
async fn two_apps_from_folders_named_prod_never_prune_each_other() {
    let ns = TestNamespace::new("two-prods");
    let team_a = target(&ns, "team-a-prod").await;
    let team_b = target(&ns, "team-b-prod").await;
    let a = || {
        objects([
            config_map("a-web", json!({"team": "a"})),
            config_map("a-db", json!({})),
        ])
    };
    let b = || {
        objects([
            config_map("b-web", json!({"team": "b"})),
            config_map("b-db", json!({})),
        ])
    };
    for _ in 0..3 {
        let (_, report_a) = reconcile(&team_a, a(), ApplyOptions::default().prune(true))
            .await
            .unwrap();
        let (_, report_b) = reconcile(&team_b, b(), ApplyOptions::default().prune(true))
            .await
            .unwrap();
        assert!(
            report_a.pruned.is_empty() && report_b.pruned.is_empty(),
            "cross prune"
        );
    }
    let all = ns.kubectl(&["get", "configmaps", "-o", "name"]);
    for name in ["a-web", "a-db", "b-web", "b-db"] {
        assert!(all.contains(&format!("configmap/{name}\n")), "{all}");
    }
    assert_ne!(team_a.applyset_id(), team_b.applyset_id());

    // Team B declares team A's object: refused, naming both sets.
    let err = reconcile(
        &team_b,
        objects([
            config_map("b-web", json!({})),
            config_map("a-web", json!({"team": "b"})),
        ]),
        ApplyOptions::default().prune(true),
    )
    .await
    .unwrap_err();
    let Some(Error::OwnedElsewhere { owner, ours, .. }) = err.downcast_ref::<Error>() else {
        panic!("expected an ownership error, got {err}");
    };
    assert!(owner.contains("applyset-team-a-prod"), "{owner}");
    assert!(ours.contains("applyset-team-b-prod"), "{ours}");
    let message = err.to_string();
    assert!(
        message.contains("a-web") && message.contains("adopt"),
        "{message}"
    );
    assert_eq!(get(&ns, "configmap", "a-web").unwrap()["data"]["team"], "a");

    // Asked to adopt, team B takes it.
    let adopting = target_with(&ns, "team-b-prod", KubeOptions::default().adopt(true)).await;
    reconcile(
        &adopting,
        objects([
            config_map("b-web", json!({})),
            config_map("a-web", json!({"team": "b"})),
        ]),
        ApplyOptions::default().prune(true),
    )
    .await
    .unwrap();
    let selector = format!("applyset.kubernetes.io/part-of={}", team_b.applyset_id());
    assert_eq!(names(&ns, "configmaps", &selector), ["a-web", "b-web"]);

    // Uninstalling team B removes its objects and its parent, nothing of team A's.
    let removed = team_b.uninstall().await.unwrap();
    assert_eq!(removed.pruned.len(), 2, "{removed:#?}");
    assert!(get(&ns, "secret", "applyset-team-b-prod").is_none());
    assert!(get(&ns, "configmap", "a-db").is_some());
    assert!(get(&ns, "secret", "applyset-team-a-prod").is_some());
}

/// The parent's namespace comes from configuration, not from the kubeconfig's current
/// namespace: switching the context's namespace does not re-parent the set.
#[tokio::test]
async fn the_parent_namespace_does_not_follow_the_context() {
    let home = TestNamespace::new("parent-home");
    let elsewhere = TestNamespace::new("parent-elsewhere");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kubeconfig");
    std::fs::copy(kubeconfig(), &config).unwrap();
    let switch = |namespace: &str| {
        let out = kubectl_command()
            .env("KUBECONFIG", &config)
            .args([
                "config",
                "set-context",
                "--current",
                "--namespace",
                namespace,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let open = || async {
        driftless_target_kube::KubeTarget::from_kubeconfig(
            KubeOptions::default()
                .kubeconfig(&config)
                .applyset("pinned")
                .applyset_namespace(home.name()),
        )
        .await
        .unwrap()
    };
    switch(home.name());
    let first = open().await;
    let mut cm = config_map("c", json!({}));
    cm["metadata"]["namespace"] = json!(elsewhere.name());
    reconcile(
        &first,
        objects([cm.clone()]),
        ApplyOptions::default().prune(true),
    )
    .await
    .unwrap();
    switch(elsewhere.name());
    let second = open().await;
    assert_eq!(second.applyset_id(), first.applyset_id());
    assert_eq!(second.applyset_parent(), first.applyset_parent());
    let (plan, report) = reconcile(&second, objects([cm]), ApplyOptions::default().prune(true))
        .await
        .unwrap();
    assert!(!plan.has_changes() && report.pruned.is_empty(), "{plan:#?}");
    assert!(get(&home, "secret", "applyset-pinned").is_some());
    assert!(get(&elsewhere, "secret", "applyset-pinned").is_none());

    // With no namespace configured at all, the parent goes to `default`, whatever the
    // context says.
    let unconfigured = driftless_target_kube::KubeTarget::from_kubeconfig(
        KubeOptions::default().kubeconfig(&config).applyset("x"),
    )
    .await
    .unwrap();
    assert_eq!(unconfigured.applyset_parent().namespace(), Some("default"));
    assert_eq!(unconfigured.default_namespace(), elsewhere.name());
}

/// More members than one page of a list (500): a fresh target finds every one of them
/// (nothing to create, no write), and prunes the ones no longer desired from any page.
#[tokio::test]
async fn members_beyond_one_page_are_all_found() {
    let ns = TestNamespace::new("pages");
    let all = |count: usize| {
        objects((0..count).map(|i| config_map(&format!("cm-{i:04}"), json!({"i": i.to_string()}))))
    };
    let first = target(&ns, "pages").await;
    let (_, report) = reconcile(&first, all(620), ApplyOptions::default().prune(true))
        .await
        .unwrap();
    assert_eq!(report.created.len(), 620);

    let fresh = target(&ns, "pages").await;
    let (plan, report) = reconcile(&fresh, all(560), ApplyOptions::default().prune(true))
        .await
        .unwrap();
    assert_eq!(plan.summary().create, 0, "every member was found");
    assert_eq!(report.unchanged.len(), 560);
    assert_eq!(
        report.pruned.len(),
        60,
        "the last page's members are pruned"
    );
    assert!(get(&ns, "configmap", "cm-0619").is_none());
    assert!(get(&ns, "configmap", "cm-0559").is_some());
}
