//! Real application manifests (`tests/data`): applied, re-applied with no write and an
//! empty diff, drift made with kubectl undone with no flag, Secret values never shown.

use driftless_core::{Action, ApplyOptions, ObjectSet, Plan, Target};
use driftless_diff::{DiffOptions, HumanOptions, render_human, render_json};
use driftless_target_kube::KubeTarget;
use driftless_testkit::kube::{TestNamespace, kubectl_command};
use serde_json::json;

use crate::support::{app, get, plan_with, reconcile, target};

/// What a plan would change, for assertion messages.
fn shown(plan: &Plan) -> String {
    render_human(plan, &HumanOptions::default())
}

/// Apply, then re-apply from a new target (nothing cached: every object goes through a
/// dry run) and again from the same one (known in sync: not even a dry run). Both make
/// no write and plan nothing; then uninstall removes everything, cluster-scoped too.
async fn reapply_writes_nothing(file: &str) {
    let ns = TestNamespace::new(file.trim_end_matches(".yaml"));
    let desired = || app(file, &ns);
    let count = desired().len();
    let first = target(&ns, "app").await;
    let (_, report) = reconcile(&first, desired(), ApplyOptions::default().prune(true))
        .await
        .unwrap();
    assert_eq!(report.created.len(), count, "{report:#?}");

    let fresh = target(&ns, "app").await;
    let plan = plan_with(&fresh, desired(), &DiffOptions::default())
        .await
        .unwrap();
    assert!(
        !plan.has_changes(),
        "false drift in {file}:\n{}",
        shown(&plan)
    );
    assert_eq!(render_json(&plan)["summary"]["changed"], json!(false));
    let report = fresh
        .apply(&plan, &ApplyOptions::default().prune(true))
        .await
        .unwrap();
    assert_eq!(report.unchanged.len(), count);
    let counts = fresh.request_counts();
    assert_eq!(counts.writes, 0, "{counts:?}");
    assert_eq!(counts.dry_runs, count as u64, "{counts:?}");

    let (plan, _) = reconcile(&fresh, desired(), ApplyOptions::default().prune(true))
        .await
        .unwrap();
    assert!(!plan.has_changes(), "{}", shown(&plan));
    let again = fresh.request_counts();
    assert_eq!(again.writes, 0, "{again:?}");
    assert_eq!(again.dry_runs, counts.dry_runs, "known in sync: no dry run");

    let removed = fresh.uninstall().await.unwrap();
    assert_eq!(removed.pruned.len(), count, "{removed:#?}");
    assert!(get(&ns, "secret", "applyset-app").is_none());
}

#[tokio::test]
async fn podinfo_reapplies_with_no_write_and_an_empty_diff() {
    reapply_writes_nothing("podinfo.yaml").await;
}

#[tokio::test]
async fn statefulset_reapplies_with_no_write_and_an_empty_diff() {
    reapply_writes_nothing("statefulset.yaml").await;
}

#[tokio::test]
async fn crd_and_custom_resources_reapply_with_no_write_and_an_empty_diff() {
    reapply_writes_nothing("crd.yaml").await;
}

#[tokio::test]
async fn kube_prometheus_reapplies_with_no_write_and_an_empty_diff() {
    reapply_writes_nothing("kube-prometheus.yaml").await;
}

/// An object known to be in sync is not held: the desired object stands for it, as its
/// own prediction; once someone writes it (a new resourceVersion) it is read, and its
/// drift seen.
#[tokio::test]
async fn an_object_in_sync_is_not_held_until_someone_writes_it() {
    let ns = TestNamespace::new("settled");
    let desired = || app("podinfo.yaml", &ns);
    let target = target(&ns, "podinfo").await;
    reconcile(&target, desired(), ApplyOptions::default())
        .await
        .unwrap();
    let prepared = target.prepare(desired()).await.unwrap();
    let live = target.live(&prepared).await.unwrap();
    let config = live
        .objects
        .iter()
        .find(|(id, _)| id.name() == "podinfo-config")
        .map(|(_, live)| live.clone())
        .unwrap();
    let desired_config = prepared.iter().find(|o| o.name() == "podinfo-config");
    assert_eq!(Some(&config.object), desired_config);
    assert!(config.object.as_value()["metadata"].get("uid").is_none());
    assert_eq!(config.predicted.as_ref(), Some(&config.object));
    assert!(!driftless_diff::plan(&prepared, &live, &DiffOptions::default()).has_changes());

    kubectl_edit(
        &ns,
        "configmap/podinfo-config",
        "s/alpha: first/alpha: edited/",
    );
    let plan = plan_with(&target, desired(), &DiffOptions::default())
        .await
        .unwrap();
    let fields: Vec<String> = plan
        .changes
        .iter()
        .filter_map(|change| match &change.action {
            Action::Update { fields, .. } => Some(fields.iter().map(|f| f.path.clone())),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(fields, ["/data/alpha"], "{}", shown(&plan));
}

/// `kubectl edit` with a scripted editor.
fn kubectl_edit(ns: &TestNamespace, resource: &str, sed: &str) {
    let out = kubectl_command()
        .env("KUBE_EDITOR", format!("sed -i -e '{sed}'"))
        .args(["-n", ns.name(), "edit", resource])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubectl edit {resource}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn kubectl_edit_patch_scale_label_and_delete_are_undone_with_no_flag() {
    let ns = TestNamespace::new("kubectl-drift");
    let desired = || app("podinfo.yaml", &ns);
    let first = target(&ns, "podinfo").await;
    reconcile(&first, desired(), ApplyOptions::default())
        .await
        .unwrap();

    kubectl_edit(
        &ns,
        "configmap/podinfo-config",
        "s/alpha: first/alpha: edited/",
    );
    ns.kubectl(&["patch", "deployment", "podinfo", "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"podinfod","image":"nginx:1.25"}]}}}}"#]);
    ns.kubectl(&["scale", "deployment", "podinfo", "--replicas=5"]);
    ns.kubectl(&["label", "service", "podinfo", "added-by=kubectl"]);
    ns.kubectl(&["delete", "serviceaccount", "podinfo"]);
    assert_eq!(
        get(&ns, "configmap", "podinfo-config").unwrap()["data"]["alpha"],
        "edited"
    );

    let target = target(&ns, "podinfo").await;
    let plan = plan_with(&target, desired(), &DiffOptions::default())
        .await
        .unwrap();
    let changed = |name: &str| {
        plan.changes
            .iter()
            .find(|c| c.id.name() == name && c.action.is_change())
            .map(|c| match &c.action {
                Action::Update { fields, .. } => fields.iter().map(|f| f.path.clone()).collect(),
                other => vec![other.name().to_owned()],
            })
            .unwrap_or_default()
    };
    assert_eq!(
        changed("podinfo-config"),
        ["/data/alpha"],
        "{}",
        shown(&plan)
    );
    assert_eq!(
        changed("podinfo-auth"),
        Vec::<String>::new(),
        "{}",
        shown(&plan)
    );
    let summary = plan.summary();
    assert_eq!((summary.create, summary.update), (1, 3), "{}", shown(&plan));
    let text = shown(&plan);
    assert!(text.contains("-    added-by: kubectl"), "{text}");
    assert!(text.contains("-  replicas: 5\n+  replicas: 2"), "{text}");

    let report = target.apply(&plan, &ApplyOptions::default()).await.unwrap();
    assert_eq!(
        report.updated.len() + report.created.len(),
        4,
        "{report:#?}"
    );
    assert_eq!(
        get(&ns, "configmap", "podinfo-config").unwrap()["data"]["alpha"],
        "first"
    );
    let deployment = get(&ns, "deployment", "podinfo").unwrap();
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "ghcr.io/stefanprodan/podinfo:6.5.0"
    );
    let service = get(&ns, "service", "podinfo").unwrap();
    assert!(
        service["metadata"]["labels"].get("added-by").is_none(),
        "{service:#}"
    );
    assert!(get(&ns, "serviceaccount", "podinfo").is_some());

    let plan = plan_with(&target, desired(), &DiffOptions::default())
        .await
        .unwrap();
    assert!(!plan.has_changes(), "{}", shown(&plan));
}

#[tokio::test]
async fn secret_values_never_appear_in_a_diff() {
    let ns = TestNamespace::new("secret-mask");
    let secret_only = |password: &str| -> ObjectSet {
        let mut set = ObjectSet::new();
        for object in app("podinfo.yaml", &ns) {
            if object.kind() == "Secret" {
                let mut object = object;
                object.as_value_mut()["stringData"]["password"] = json!(password);
                set.insert(object).unwrap();
            }
        }
        set
    };
    let target: KubeTarget = target(&ns, "secret").await;
    let first = plan_with(
        &target,
        secret_only("hunter2-from-git"),
        &DiffOptions::default(),
    )
    .await
    .unwrap();
    let secrets = [
        "hunter2-from-git",
        "aHVudGVyMi1mcm9tLWdpdA",
        "super-secret-token",
        "c3VwZXItc2VjcmV0LXRva2Vu",
        "changed-in-git",
        "Y2hhbmdlZC1pbi1naXQ",
    ];
    let outputs = |plan: &Plan| {
        [
            shown(plan),
            render_json(plan).to_string(),
            driftless_core::yaml::to_string(&render_json(plan)).unwrap(),
            format!(
                "{:?}",
                plan.changes
                    .iter()
                    .map(|c| match &c.action {
                        Action::Update {
                            fields,
                            patch,
                            live,
                            ..
                        } => format!("{fields:?}{patch:?}{live:?}"),
                        _ => String::new(),
                    })
                    .collect::<Vec<_>>()
            ),
        ]
    };
    for text in outputs(&first) {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} shown in:\n{text}");
        }
    }
    target
        .apply(&first, &ApplyOptions::default())
        .await
        .unwrap();

    let changed = plan_with(
        &target,
        secret_only("changed-in-git"),
        &DiffOptions::default(),
    )
    .await
    .unwrap();
    let Action::Update { fields, .. } = &changed.changes[0].action else {
        panic!("expected an update:\n{}", shown(&changed));
    };
    let paths: Vec<&str> = fields.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["/data/password"], "only the changed key");
    let text = shown(&changed);
    assert!(
        text.contains("-  password: \"***\"\n+  password: \"*** (after)\""),
        "{text}"
    );
    for text in outputs(&changed) {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} shown in:\n{text}");
        }
    }
}

/// Servers before 1.21 (the 1.20 test server among them) refuse a server-side apply
/// body whose Service port omits `protocol`; the target writes the default `TCP`, so the
/// manifest applies as written.
#[tokio::test]
async fn service_ports_without_protocol_refused_by_1_20_servers_apply_through_the_target() {
    let ns = TestNamespace::new("port-protocol");
    let manifest = "apiVersion: v1\nkind: Service\nmetadata:\n  name: bare\nspec:\n  selector: {app: bare}\n  ports:\n  - port: 80\n";
    let out = ns.kubectl_output(&["apply", "--server-side", "-f", "-"], Some(manifest));
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("omits key field \"protocol\""), "{err}");
    }
    let target = target(&ns, "ports").await;
    let desired =
        || crate::support::objects(driftless_core::yaml::from_str_multi(manifest).unwrap());
    reconcile(&target, desired(), ApplyOptions::default())
        .await
        .unwrap();
    let service = get(&ns, "service", "bare").unwrap();
    assert_eq!(service["spec"]["ports"][0]["protocol"], "TCP");
    let plan = plan_with(&target, desired(), &DiffOptions::default())
        .await
        .unwrap();
    assert!(!plan.has_changes(), "{}", shown(&plan));
}
