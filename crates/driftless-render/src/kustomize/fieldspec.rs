//! Field specs: which field of which kinds a transformer touches, Kustomize's
//! built-in tables of them, custom ones from `configurations`, and the walk that
//! reaches the fields.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::resource::Gvk;

/// A field of the kinds a gvk selector picks, e.g. `spec/template/metadata/labels`
/// of Deployments, created when missing if `create` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldSpec {
    pub(crate) gvk: Gvk,
    pub(crate) path: Vec<String>,
    pub(crate) create: bool,
}

/// A field spec as written in a `configurations` file or a transformer config.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFieldSpec {
    #[serde(default)]
    group: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    path: String,
    #[serde(default, alias = "createIfNotPresent")]
    create: bool,
    // Kustomize accepts these on field specs; they do not change how we walk.
    #[serde(default, rename = "behavior")]
    _behavior: Option<String>,
}

impl From<&RawFieldSpec> for FieldSpec {
    fn from(raw: &RawFieldSpec) -> Self {
        Self {
            gvk: Gvk {
                group: raw.group.clone(),
                version: raw.version.clone(),
                kind: raw.kind.clone(),
            },
            path: split_path(&raw.path),
            create: raw.create,
        }
    }
}

impl FieldSpec {
    pub(crate) fn new(group: &str, version: &str, kind: &str, path: &str, create: bool) -> Self {
        Self {
            gvk: Gvk {
                group: group.to_owned(),
                version: version.to_owned(),
                kind: kind.to_owned(),
            },
            path: split_path(path),
            create,
        }
    }

    pub(crate) fn path_is(&self, path: &str) -> bool {
        self.path == split_path(path)
    }
}

/// Splits a field path on `/`; `\/` is a slash inside a key. A trailing `[]` marks a
/// list, kept on the segment: a list is walked into, but never created when missing.
pub(crate) fn split_path(path: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                current.push('/');
                chars.next();
            }
            '/' => segments.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    segments.push(current);
    segments.into_iter().filter(|s| !s.is_empty()).collect()
}

/// The field a path segment names (without its list mark).
pub(crate) fn field_name(segment: &str) -> &str {
    segment.strip_suffix("[]").unwrap_or(segment)
}

/// What to create at the end of a path that is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leaf {
    Map,
    Scalar,
}

/// Walks `path` from `value`, into every element of lists met on the way, and calls
/// `set` on each node found at the end. Missing fields end the walk, unless `create`
/// is set: then mappings are created on the way and `leaf` at the end.
pub(crate) fn walk(
    value: &mut Value,
    path: &[String],
    create: bool,
    leaf: Leaf,
    set: &mut dyn FnMut(&mut Value) -> Result<(), String>,
) -> Result<(), String> {
    let Some((head, rest)) = path.split_first() else {
        return set(value);
    };
    match value {
        Value::Null => Ok(()),
        Value::Array(items) => {
            for item in items {
                walk(item, path, create, leaf, set)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            let empty = || {
                if rest.is_empty() && leaf == Leaf::Scalar {
                    Value::Null
                } else {
                    Value::Object(Map::new())
                }
            };
            let name = field_name(head);
            if !map.contains_key(name) {
                // Kustomize never creates a field marked as a list.
                if !create || name.len() != head.len() {
                    return Ok(());
                }
                map.insert(name.to_owned(), empty());
            }
            let Some(child) = map.get_mut(name) else {
                return Ok(());
            };
            if child.is_null() && create {
                *child = empty();
            }
            walk(child, rest, create, leaf, set)
        }
        _ => Err(format!(
            "expected a sequence or mapping at {head:?} of path {}",
            path.join("/")
        )),
    }
}

/// Whether a value has something at `path` (walking into lists).
pub(crate) fn has_field(value: &Value, path: &[String]) -> bool {
    let Some((head, rest)) = path.split_first() else {
        return true;
    };
    match value {
        Value::Array(items) => items.iter().any(|i| has_field(i, path)),
        Value::Object(map) => map
            .get(field_name(head))
            .is_some_and(|c| has_field(c, rest)),
        _ => false,
    }
}

/// A kind whose name other objects refer to, with the fields that refer to it.
#[derive(Debug, Clone)]
pub(crate) struct NameBackRef {
    pub(crate) gvk: Gvk,
    pub(crate) referrers: Vec<FieldSpec>,
}

/// The field specs every built-in transformer uses, extended by `configurations`.
#[derive(Debug, Clone, Default)]
pub(crate) struct TransformerConfig {
    pub(crate) name_prefix: Vec<FieldSpec>,
    pub(crate) name_suffix: Vec<FieldSpec>,
    pub(crate) namespace: Vec<FieldSpec>,
    pub(crate) common_labels: Vec<FieldSpec>,
    pub(crate) template_labels: Vec<FieldSpec>,
    pub(crate) common_annotations: Vec<FieldSpec>,
    pub(crate) name_reference: Vec<NameBackRef>,
    pub(crate) images: Vec<FieldSpec>,
    pub(crate) replicas: Vec<FieldSpec>,
    pub(crate) var_reference: Vec<FieldSpec>,
}

/// A `configurations` file.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct RawConfig {
    #[serde(default)]
    name_prefix: Vec<RawFieldSpec>,
    #[serde(default)]
    name_suffix: Vec<RawFieldSpec>,
    #[serde(default)]
    namespace: Vec<RawFieldSpec>,
    #[serde(default)]
    common_labels: Vec<RawFieldSpec>,
    #[serde(default)]
    template_labels: Vec<RawFieldSpec>,
    #[serde(default)]
    common_annotations: Vec<RawFieldSpec>,
    #[serde(default)]
    name_reference: Vec<RawBackRef>,
    #[serde(default)]
    images: Vec<RawFieldSpec>,
    #[serde(default)]
    replicas: Vec<RawFieldSpec>,
    #[serde(default)]
    var_reference: Vec<RawFieldSpec>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawBackRef {
    #[serde(default)]
    group: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    field_specs: Vec<RawFieldSpec>,
}

fn merge_specs(into: &mut Vec<FieldSpec>, more: impl IntoIterator<Item = FieldSpec>) {
    for fs in more {
        if !into.iter().any(|f| f.gvk == fs.gvk && f.path == fs.path) {
            into.push(fs);
        }
    }
}

impl TransformerConfig {
    /// Adds another config's specs (duplicates dropped).
    pub(crate) fn merge(&mut self, other: &TransformerConfig) {
        merge_specs(&mut self.name_prefix, other.name_prefix.iter().cloned());
        merge_specs(&mut self.name_suffix, other.name_suffix.iter().cloned());
        merge_specs(&mut self.namespace, other.namespace.iter().cloned());
        merge_specs(&mut self.common_labels, other.common_labels.iter().cloned());
        merge_specs(
            &mut self.template_labels,
            other.template_labels.iter().cloned(),
        );
        merge_specs(
            &mut self.common_annotations,
            other.common_annotations.iter().cloned(),
        );
        merge_specs(&mut self.images, other.images.iter().cloned());
        merge_specs(&mut self.replicas, other.replicas.iter().cloned());
        merge_specs(&mut self.var_reference, other.var_reference.iter().cloned());
        for back in &other.name_reference {
            match self.name_reference.iter_mut().find(|b| b.gvk == back.gvk) {
                Some(existing) => merge_specs(&mut existing.referrers, back.referrers.clone()),
                None => self.name_reference.push(back.clone()),
            }
        }
    }

    pub(crate) fn from_raw(raw: &RawConfig) -> Self {
        let conv = |v: &Vec<RawFieldSpec>| v.iter().map(FieldSpec::from).collect::<Vec<_>>();
        Self {
            name_prefix: conv(&raw.name_prefix),
            name_suffix: conv(&raw.name_suffix),
            namespace: conv(&raw.namespace),
            common_labels: conv(&raw.common_labels),
            template_labels: conv(&raw.template_labels),
            common_annotations: conv(&raw.common_annotations),
            images: conv(&raw.images),
            replicas: conv(&raw.replicas),
            var_reference: conv(&raw.var_reference),
            name_reference: raw
                .name_reference
                .iter()
                .map(|b| NameBackRef {
                    gvk: Gvk {
                        group: b.group.clone(),
                        version: b.version.clone(),
                        kind: b.kind.clone(),
                    },
                    referrers: conv(&b.field_specs),
                })
                .collect(),
        }
    }

    /// Kustomize's built-in field specs.
    #[allow(clippy::too_many_lines)] // a data table
    pub(crate) fn builtin() -> Self {
        let fs = FieldSpec::new;
        let mut common_labels = vec![
            fs("", "", "", "metadata/labels", true),
            fs("", "v1", "Service", "spec/selector", true),
            fs("", "v1", "ReplicationController", "spec/selector", true),
            fs(
                "",
                "v1",
                "ReplicationController",
                "spec/template/metadata/labels",
                true,
            ),
            fs("", "", "Deployment", "spec/selector/matchLabels", true),
            fs("", "", "Deployment", "spec/template/metadata/labels", true),
        ];
        let affinity = [
            "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/labelSelector/matchLabels",
            "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
        ];
        for path in affinity {
            common_labels.push(fs("apps", "", "Deployment", path, false));
        }
        common_labels.extend([
            fs("", "", "ReplicaSet", "spec/selector/matchLabels", true),
            fs("", "", "ReplicaSet", "spec/template/metadata/labels", true),
            fs("", "", "DaemonSet", "spec/selector/matchLabels", true),
            fs("", "", "DaemonSet", "spec/template/metadata/labels", true),
            fs("apps", "", "StatefulSet", "spec/selector/matchLabels", true),
            fs(
                "apps",
                "",
                "StatefulSet",
                "spec/template/metadata/labels",
                true,
            ),
        ]);
        for path in affinity {
            common_labels.push(fs("apps", "", "StatefulSet", path, false));
        }
        common_labels.extend([
            fs(
                "apps",
                "",
                "StatefulSet",
                "spec/volumeClaimTemplates[]/metadata/labels",
                true,
            ),
            fs("batch", "", "Job", "spec/selector/matchLabels", false),
            fs("batch", "", "Job", "spec/template/metadata/labels", true),
            fs(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/spec/selector/matchLabels",
                false,
            ),
            fs(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/metadata/labels",
                true,
            ),
            fs(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/metadata/labels",
                true,
            ),
            fs(
                "policy",
                "",
                "PodDisruptionBudget",
                "spec/selector/matchLabels",
                false,
            ),
            fs(
                "networking.k8s.io",
                "",
                "NetworkPolicy",
                "spec/podSelector/matchLabels",
                false,
            ),
            fs(
                "networking.k8s.io",
                "",
                "NetworkPolicy",
                "spec/ingress/from/podSelector/matchLabels",
                false,
            ),
            fs(
                "networking.k8s.io",
                "",
                "NetworkPolicy",
                "spec/egress/to/podSelector/matchLabels",
                false,
            ),
        ]);

        let template_labels = vec![
            fs(
                "",
                "v1",
                "ReplicationController",
                "spec/template/metadata/labels",
                true,
            ),
            fs("", "", "Deployment", "spec/template/metadata/labels", true),
            fs("", "", "ReplicaSet", "spec/template/metadata/labels", true),
            fs("", "", "DaemonSet", "spec/template/metadata/labels", true),
            fs(
                "apps",
                "",
                "StatefulSet",
                "spec/template/metadata/labels",
                true,
            ),
            fs(
                "apps",
                "",
                "StatefulSet",
                "spec/volumeClaimTemplates[]/metadata/labels",
                true,
            ),
            fs("batch", "", "Job", "spec/template/metadata/labels", true),
            fs(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/metadata/labels",
                true,
            ),
            fs(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/metadata/labels",
                true,
            ),
        ];

        let common_annotations = vec![
            fs("", "", "", "metadata/annotations", true),
            fs(
                "",
                "v1",
                "ReplicationController",
                "spec/template/metadata/annotations",
                true,
            ),
            fs(
                "",
                "",
                "Deployment",
                "spec/template/metadata/annotations",
                true,
            ),
            fs(
                "",
                "",
                "ReplicaSet",
                "spec/template/metadata/annotations",
                true,
            ),
            fs(
                "",
                "",
                "DaemonSet",
                "spec/template/metadata/annotations",
                true,
            ),
            fs(
                "apps",
                "",
                "StatefulSet",
                "spec/template/metadata/annotations",
                true,
            ),
            fs(
                "batch",
                "",
                "Job",
                "spec/template/metadata/annotations",
                true,
            ),
            fs(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/metadata/annotations",
                true,
            ),
            fs(
                "batch",
                "",
                "CronJob",
                "spec/jobTemplate/spec/template/metadata/annotations",
                true,
            ),
        ];

        let namespace = vec![
            fs("", "", "", "metadata/namespace", true),
            fs("", "", "Namespace", "metadata/name", true),
            fs("", "", "RoleBinding", "subjects", false),
            fs("", "", "ClusterRoleBinding", "subjects", false),
            fs(
                "apiregistration.k8s.io",
                "",
                "APIService",
                "spec/service/namespace",
                true,
            ),
            fs(
                "apiextensions.k8s.io",
                "",
                "CustomResourceDefinition",
                "spec/conversion/webhook/clientConfig/service/namespace",
                false,
            ),
        ];

        let replicas = [
            "Deployment",
            "ReplicationController",
            "ReplicaSet",
            "StatefulSet",
        ]
        .iter()
        .map(|k| fs("", "", k, "spec/replicas", true))
        .collect();

        Self {
            name_prefix: vec![fs("", "", "", "metadata/name", false)],
            name_suffix: vec![fs("", "", "", "metadata/name", false)],
            namespace,
            common_labels,
            template_labels,
            common_annotations,
            name_reference: builtin_name_references(),
            images: [
                "spec/containers[]/image",
                "spec/initContainers[]/image",
                "spec/template/spec/containers[]/image",
                "spec/template/spec/initContainers[]/image",
            ]
            .iter()
            .map(|p| fs("", "", "", p, false))
            .collect(),
            replicas,
            var_reference: super::vars::builtin_specs(),
        }
    }
}

/// The workload kinds holding a pod spec, with the path to it.
const POD_SPEC_HOLDERS: [(&str, &str, &str); 7] = [
    ("v1", "Pod", "spec"),
    ("", "Deployment", "spec/template/spec"),
    ("", "ReplicaSet", "spec/template/spec"),
    ("", "DaemonSet", "spec/template/spec"),
    ("", "StatefulSet", "spec/template/spec"),
    ("", "Job", "spec/template/spec"),
    ("", "CronJob", "spec/jobTemplate/spec/template/spec"),
];

#[allow(clippy::too_many_lines)] // a data table
fn builtin_name_references() -> Vec<NameBackRef> {
    let fs = FieldSpec::new;
    let target = |group: &str, version: &str, kind: &str, referrers: Vec<FieldSpec>| NameBackRef {
        gvk: Gvk {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
        },
        referrers,
    };
    let in_pod_specs = |suffixes: &[&str]| {
        let mut specs = Vec::new();
        for (version, kind, prefix) in POD_SPEC_HOLDERS {
            for suffix in suffixes {
                specs.push(fs("", version, kind, &format!("{prefix}/{suffix}"), false));
            }
        }
        specs
    };
    let hpa = |kind: &str| {
        target(
            "",
            "",
            kind,
            vec![fs(
                "",
                "",
                "HorizontalPodAutoscaler",
                "spec/scaleTargetRef/name",
                false,
            )],
        )
    };
    let mut config_map = in_pod_specs(&[
        "volumes/configMap/name",
        "containers/env/valueFrom/configMapKeyRef/name",
        "initContainers/env/valueFrom/configMapKeyRef/name",
        "containers/envFrom/configMapRef/name",
        "initContainers/envFrom/configMapRef/name",
        "volumes/projected/sources/configMap/name",
    ]);
    config_map.extend([
        fs("", "", "Node", "spec/configSource/configMap", false),
        fs("", "", "Role", "rules/resourceNames", false),
        fs("", "", "ClusterRole", "rules/resourceNames", false),
        fs(
            "",
            "",
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap",
            false,
        ),
        fs(
            "serving.knative.dev",
            "v1",
            "Service",
            "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name",
            false,
        ),
        fs(
            "serving.knative.dev",
            "v1",
            "Service",
            "spec/template/spec/containers/envFrom/configMapRef/name",
            false,
        ),
    ]);
    let mut secret = in_pod_specs(&[
        "volumes/secret/secretName",
        "containers/env/valueFrom/secretKeyRef/name",
        "initContainers/env/valueFrom/secretKeyRef/name",
        "containers/envFrom/secretRef/name",
        "initContainers/envFrom/secretRef/name",
        "imagePullSecrets/name",
        "volumes/projected/sources/secret/name",
    ]);
    secret.extend([
        fs("", "", "Ingress", "spec/tls/secretName", false),
        fs(
            "",
            "",
            "Ingress",
            "metadata/annotations/ingress.kubernetes.io\\/auth-secret",
            false,
        ),
        fs(
            "",
            "",
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret",
            false,
        ),
        fs(
            "",
            "",
            "Ingress",
            "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret",
            false,
        ),
        fs("", "", "ServiceAccount", "imagePullSecrets/name", false),
        fs("", "", "StorageClass", "parameters/secretName", false),
        fs("", "", "StorageClass", "parameters/adminSecretName", false),
        fs("", "", "StorageClass", "parameters/userSecretName", false),
        fs("", "", "StorageClass", "parameters/secretRef", false),
        fs("", "", "Role", "rules/resourceNames", false),
        fs("", "", "ClusterRole", "rules/resourceNames", false),
        fs(
            "serving.knative.dev",
            "v1",
            "Service",
            "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            false,
        ),
        fs(
            "",
            "",
            "PersistentVolume",
            "spec/azureFile/secretName",
            false,
        ),
    ]);
    let service = vec![
        fs("apps", "", "StatefulSet", "spec/serviceName", false),
        fs(
            "",
            "",
            "Ingress",
            "spec/rules/http/paths/backend/serviceName",
            false,
        ),
        fs("", "", "Ingress", "spec/backend/serviceName", false),
        fs(
            "",
            "",
            "Ingress",
            "spec/rules/http/paths/backend/service/name",
            false,
        ),
        fs("", "", "Ingress", "spec/defaultBackend/service/name", false),
        fs(
            "apiregistration.k8s.io",
            "",
            "APIService",
            "spec/service/name",
            false,
        ),
        fs(
            "admissionregistration.k8s.io",
            "",
            "ValidatingWebhookConfiguration",
            "webhooks/clientConfig/service",
            false,
        ),
        fs(
            "admissionregistration.k8s.io",
            "",
            "MutatingWebhookConfiguration",
            "webhooks/clientConfig/service",
            false,
        ),
    ];
    let rbac = "rbac.authorization.k8s.io";
    let template_holders = [
        ("", "StatefulSet", "spec/template/spec"),
        ("", "Deployment", "spec/template/spec"),
        ("", "ReplicationController", "spec/template/spec"),
        ("", "CronJob", "spec/jobTemplate/spec/template/spec"),
        ("", "Job", "spec/template/spec"),
        ("", "DaemonSet", "spec/template/spec"),
    ];
    let in_templates = |field: &str| {
        let mut specs = vec![fs("", "", "Pod", &format!("spec/{field}"), false)];
        for (version, kind, prefix) in template_holders {
            specs.push(fs("", version, kind, &format!("{prefix}/{field}"), false));
        }
        specs
    };
    let mut service_account = vec![
        fs(rbac, "", "RoleBinding", "subjects", false),
        fs(rbac, "", "ClusterRoleBinding", "subjects", false),
    ];
    service_account.extend(in_templates("serviceAccountName"));
    vec![
        hpa("Deployment"),
        hpa("ReplicationController"),
        hpa("ReplicaSet"),
        hpa("StatefulSet"),
        target("", "v1", "ConfigMap", config_map),
        target("", "v1", "Secret", secret),
        target("", "v1", "Service", service),
        target(
            rbac,
            "",
            "Role",
            vec![fs(rbac, "", "RoleBinding", "roleRef/name", false)],
        ),
        target(
            rbac,
            "",
            "ClusterRole",
            vec![
                fs(rbac, "", "RoleBinding", "roleRef/name", false),
                fs(rbac, "", "ClusterRoleBinding", "roleRef/name", false),
            ],
        ),
        target("", "v1", "ServiceAccount", service_account),
        target(
            "",
            "v1",
            "PersistentVolumeClaim",
            in_templates("volumes/persistentVolumeClaim/claimName"),
        ),
        target(
            "",
            "v1",
            "PersistentVolume",
            vec![
                fs("", "", "PersistentVolumeClaim", "spec/volumeName", false),
                fs("", "", "ClusterRole", "rules/resourceNames", false),
            ],
        ),
        target(
            "storage.k8s.io",
            "v1",
            "StorageClass",
            vec![
                fs("", "", "PersistentVolume", "spec/storageClassName", false),
                fs(
                    "",
                    "",
                    "PersistentVolumeClaim",
                    "spec/storageClassName",
                    false,
                ),
                fs(
                    "",
                    "",
                    "StatefulSet",
                    "spec/volumeClaimTemplates/spec/storageClassName",
                    false,
                ),
            ],
        ),
        target(
            "scheduling.k8s.io",
            "v1",
            "PriorityClass",
            in_templates("priorityClassName"),
        ),
        // Kustomize's own table names the group with its version here, so this entry
        // never matches a real IngressClass; kept for identical output.
        target(
            "networking.k8s.io/v1",
            "v1",
            "IngressClass",
            vec![fs("", "", "Ingress", "spec/ingressClassName", false)],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splits_escaped_slashes_and_list_marks() {
        assert_eq!(
            split_path("metadata/annotations/a.io\\/b"),
            vec!["metadata", "annotations", "a.io/b"]
        );
        assert_eq!(
            split_path("spec/volumeClaimTemplates[]/metadata"),
            vec!["spec", "volumeClaimTemplates[]", "metadata"]
        );
    }

    #[test]
    fn walk_creates_and_descends_lists() {
        let mut v = json!({"spec": {"items": [{"a": 1}, {"a": 2}]}});
        let mut seen = 0;
        walk(
            &mut v,
            &split_path("spec/items/a"),
            false,
            Leaf::Scalar,
            &mut |n| {
                seen += n.as_i64().unwrap_or(0);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen, 3);
        walk(
            &mut v,
            &split_path("metadata/labels"),
            true,
            Leaf::Map,
            &mut |n| {
                n.as_object_mut().unwrap().insert("x".into(), json!("y"));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(v["metadata"]["labels"]["x"], "y");
    }
}
