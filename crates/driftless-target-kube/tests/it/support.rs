//! Shared helpers: a target per test namespace, and one reconcile (prepare, live, plan,
//! apply) as the pipeline runs it.

use driftless_core::{ApplyOptions, ApplyReport, Object, ObjectSet, Plan, Target, TargetError};
use driftless_diff::DiffOptions;
use driftless_target_kube::{KubeOptions, KubeTarget};
use driftless_testkit::kube::{TestNamespace, kubeconfig};
use serde_json::Value;

/// A target whose default namespace is `ns` and whose ApplySet is named `applyset`.
pub(crate) async fn target(ns: &TestNamespace, applyset: &str) -> KubeTarget {
    target_with(ns, applyset, KubeOptions::default()).await
}

/// Like [`target`], from the given options.
pub(crate) async fn target_with(
    ns: &TestNamespace,
    applyset: &str,
    options: KubeOptions,
) -> KubeTarget {
    KubeTarget::from_kubeconfig(
        options
            .kubeconfig(kubeconfig())
            .namespace(ns.name())
            .applyset(applyset),
    )
    .await
    .expect("connect to the test API server")
}

/// An object set from JSON values.
pub(crate) fn objects(values: impl IntoIterator<Item = Value>) -> ObjectSet {
    let mut set = ObjectSet::new();
    for value in values {
        set.insert(Object::new(value).expect("valid object"))
            .expect("unique ids");
    }
    set
}

/// A ConfigMap without a namespace (the target gives it the default one).
pub(crate) fn config_map(name: &str, data: Value) -> Value {
    let mut value = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
    });
    value["data"] = data;
    value
}

/// One reconcile: prepare, read live state, plan with the differ, apply.
pub(crate) async fn reconcile(
    target: &KubeTarget,
    desired: ObjectSet,
    options: ApplyOptions,
) -> Result<(Plan, ApplyReport), TargetError> {
    reconcile_with(target, desired, options, &DiffOptions::default()).await
}

/// [`reconcile`] with the differ's options (ignore rules).
pub(crate) async fn reconcile_with(
    target: &KubeTarget,
    desired: ObjectSet,
    options: ApplyOptions,
    diff: &DiffOptions,
) -> Result<(Plan, ApplyReport), TargetError> {
    let plan = plan_with(target, desired, diff).await?;
    let report = target.apply(&plan, &options).await?;
    Ok((plan, report))
}

/// What a reconcile would do: prepare, read live state, plan.
pub(crate) async fn plan_with(
    target: &KubeTarget,
    desired: ObjectSet,
    diff: &DiffOptions,
) -> Result<Plan, TargetError> {
    let desired = target.prepare(desired).await?;
    let live = target.live(&desired).await?;
    Ok(driftless_diff::plan(&desired, &live, diff))
}

/// An application of `tests/data` with `${NS}` replaced by the test's namespace.
pub(crate) fn app(file: &str, ns: &TestNamespace) -> ObjectSet {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace("${NS}", ns.name());
    let values = driftless_core::yaml::from_str_multi(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    objects(values.into_iter().filter(|v| !v.is_null()))
}

/// `kubectl get` of one object as JSON, or `None` when it does not exist.
pub(crate) fn get(ns: &TestNamespace, resource: &str, name: &str) -> Option<Value> {
    let out = ns.kubectl_output(&["get", resource, name, "-o", "json"], None);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("NotFound"),
            "kubectl get {resource} {name}: {err}"
        );
        return None;
    }
    Some(serde_json::from_slice(&out.stdout).expect("kubectl prints JSON"))
}

/// Names (sorted) of the objects `kubectl get RESOURCE -l SELECTOR` lists.
pub(crate) fn names(ns: &TestNamespace, resource: &str, selector: &str) -> Vec<String> {
    let out = ns.kubectl(&[
        "get",
        resource,
        "-l",
        selector,
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}",
    ]);
    let mut names: Vec<String> = out.lines().map(str::to_owned).collect();
    names.sort();
    names
}

/// Sorted ids as strings, for assertions.
pub(crate) fn ids(ids: &[driftless_core::ObjectId]) -> Vec<String> {
    let mut out: Vec<String> = ids.iter().map(ToString::to_string).collect();
    out.sort();
    out
}
