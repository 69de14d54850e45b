//! Output order: Kustomize's `legacy` order (by kind priority, then gvk, namespace
//! and name), or `fifo` (the order resources were loaded).

use std::cmp::Ordering;
use std::collections::HashMap;

use super::resource::{Gvk, Resource};

/// Kinds first in the legacy order, in this order.
pub(crate) const DEFAULT_ORDER_FIRST: [&str; 22] = [
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

/// Kinds last in the legacy order, in this order.
pub(crate) const DEFAULT_ORDER_LAST: [&str; 2] = [
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

fn gvk_string(g: &Gvk) -> String {
    let or = |s: &str, d: &str| {
        if s.is_empty() {
            d.to_owned()
        } else {
            s.to_owned()
        }
    };
    format!(
        "{}_{}_{}",
        or(&g.group, "~G"),
        or(&g.version, "~V"),
        or(&g.kind, "~K")
    )
}

/// Sorts in the legacy order with the given first and last kinds.
pub(crate) fn legacy(resources: &mut Vec<Resource>, first: &[String], last: &[String]) {
    let mut rank: HashMap<&str, i64> = HashMap::new();
    let n_first = i64::try_from(first.len()).unwrap_or(i64::MAX);
    for (i, k) in first.iter().enumerate() {
        rank.insert(k, -n_first + i64::try_from(i).unwrap_or(0));
    }
    for (i, k) in last.iter().enumerate() {
        rank.insert(k, 1 + i64::try_from(i).unwrap_or(0));
    }
    let mut keyed: Vec<(i64, String, String, Resource)> = resources
        .drain(..)
        .map(|r| {
            let gvk = r.gvk();
            let ns = if r.namespace().is_empty() {
                "~X"
            } else {
                r.namespace()
            };
            let name = if r.name().is_empty() { "~N" } else { r.name() };
            let gs = gvk_string(&gvk);
            let id = format!("{gs}|{ns}|{name}");
            (rank.get(gvk.kind.as_str()).copied().unwrap_or(0), gs, id, r)
        })
        .collect();
    keyed.sort_by(|a, b| match a.0.cmp(&b.0) {
        Ordering::Equal if a.1 != b.1 => a.1.cmp(&b.1),
        Ordering::Equal => a.2.cmp(&b.2),
        other => other,
    });
    resources.extend(keyed.into_iter().map(|k| k.3));
}
