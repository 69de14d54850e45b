//! Resources as Kustomize tracks them: the object plus its name history, and the
//! ordered, id-indexed list of them.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

/// Group, version and kind. In a selector, empty fields match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct Gvk {
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) kind: String,
}

impl Gvk {
    pub(crate) fn from_api_version(api_version: &str, kind: &str) -> Self {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        Self {
            group: group.to_owned(),
            version: version.to_owned(),
            kind: kind.to_owned(),
        }
    }

    /// Whether `selector` selects this gvk (empty selector fields are wildcards).
    pub(crate) fn is_selected_by(&self, selector: &Gvk) -> bool {
        (selector.group.is_empty() || selector.group == self.group)
            && (selector.version.is_empty() || selector.version == self.version)
            && (selector.kind.is_empty() || selector.kind == self.kind)
    }

    /// Whether Kubernetes defines this kind as cluster-scoped.
    pub(crate) fn is_cluster_scoped(&self) -> bool {
        is_cluster_scoped(&self.group, &self.kind)
    }
}

/// Built-in cluster-scoped kinds, by group and kind. Everything else (including every
/// custom resource) is namespaced, as Kustomize assumes.
fn is_cluster_scoped(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        (
            "",
            "Namespace" | "Node" | "PersistentVolume" | "ComponentStatus"
        ) | (
            "rbac.authorization.k8s.io",
            "ClusterRole" | "ClusterRoleBinding"
        ) | (
            "apiextensions.k8s.io" | "apiextensions.k8s.io/v1beta1",
            "CustomResourceDefinition"
        ) | (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration"
                | "ValidatingWebhookConfiguration"
                | "ValidatingAdmissionPolicy"
                | "ValidatingAdmissionPolicyBinding"
        ) | ("apiregistration.k8s.io", "APIService")
            | ("scheduling.k8s.io", "PriorityClass")
            | ("policy" | "extensions", "PodSecurityPolicy")
            | (
                "storage.k8s.io",
                "StorageClass" | "CSIDriver" | "CSINode" | "VolumeAttachment"
            )
            | ("node.k8s.io", "RuntimeClass")
            | ("networking.k8s.io", "IngressClass")
            | ("certificates.k8s.io", "CertificateSigningRequest")
            | (
                "flowcontrol.apiserver.k8s.io",
                "FlowSchema" | "PriorityLevelConfiguration"
            )
            | (
                "authentication.k8s.io" | "authorization.k8s.io",
                "TokenReview"
                    | "SubjectAccessReview"
                    | "SelfSubjectAccessReview"
                    | "SelfSubjectRulesReview"
            )
    )
}

/// A resource id: gvk, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ResId {
    pub(crate) gvk: Gvk,
    pub(crate) namespace: String,
    pub(crate) name: String,
}

impl ResId {
    /// The namespace as Kustomize compares it: cluster-scoped kinds have none, an
    /// empty namespace is `default`.
    pub(crate) fn effective_namespace(&self) -> &str {
        if self.gvk.is_cluster_scoped() {
            "_non_namespaceable_"
        } else if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }
}

impl std::fmt::Display for ResId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let api_version = if self.gvk.group.is_empty() {
            self.gvk.version.clone()
        } else {
            format!("{}/{}", self.gvk.group, self.gvk.version)
        };
        write!(f, "{api_version} {} ", self.gvk.kind)?;
        if !self.namespace.is_empty() {
            write!(f, "{}/", self.namespace)?;
        }
        write!(f, "{}", self.name)
    }
}

/// How a generated object combines with one of the same id from a base.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Behavior {
    #[default]
    Create,
    Merge,
    Replace,
}

/// One resource with the bookkeeping Kustomize keeps about it.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    pub(crate) value: Value,
    /// Ids it had before renames and namespace changes, oldest first.
    pub(crate) prev_ids: Vec<ResId>,
    /// Name prefixes and suffixes applied so far, innermost first.
    pub(crate) prefixes: Vec<String>,
    pub(crate) suffixes: Vec<String>,
    /// A content hash is to be appended to the name at the end of the build.
    pub(crate) needs_hash: bool,
    pub(crate) behavior: Behavior,
    /// The `vars` whose value is read from this resource.
    pub(crate) ref_vars: Vec<String>,
    /// JSON pointers of values written as nothing (`key:`) when loaded.
    pub(crate) empty_values: Vec<String>,
}

impl Resource {
    pub(crate) fn new(value: Value) -> Self {
        Self {
            value,
            prev_ids: Vec::new(),
            prefixes: Vec::new(),
            suffixes: Vec::new(),
            needs_hash: false,
            behavior: Behavior::Create,
            ref_vars: Vec::new(),
            empty_values: Vec::new(),
        }
    }

    pub(crate) fn str_field(&self, path: &[&str]) -> &str {
        path.iter()
            .try_fold(&self.value, |v, k| v.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub(crate) fn kind(&self) -> &str {
        self.str_field(&["kind"])
    }

    pub(crate) fn api_version(&self) -> &str {
        self.str_field(&["apiVersion"])
    }

    pub(crate) fn name(&self) -> &str {
        self.str_field(&["metadata", "name"])
    }

    pub(crate) fn namespace(&self) -> &str {
        self.str_field(&["metadata", "namespace"])
    }

    pub(crate) fn gvk(&self) -> Gvk {
        Gvk::from_api_version(self.api_version(), self.kind())
    }

    pub(crate) fn cur_id(&self) -> ResId {
        ResId {
            gvk: self.gvk(),
            namespace: self.namespace().to_owned(),
            name: self.name().to_owned(),
        }
    }

    /// The id it had when loaded (or generated).
    pub(crate) fn org_id(&self) -> ResId {
        self.prev_ids
            .first()
            .cloned()
            .unwrap_or_else(|| self.cur_id())
    }

    /// Remembers the current id before a change of name, namespace or kind.
    pub(crate) fn store_previous_id(&mut self) {
        let id = self.cur_id();
        self.prev_ids.push(id);
    }

    /// Drops the values written as nothing, as Kustomize's strategic merge does on the
    /// object it patches (an explicit `null` stays). Only values reached through
    /// mappings and lists of mappings are dropped, as its merge walks them.
    pub(crate) fn drop_empty_values(&mut self) {
        for pointer in std::mem::take(&mut self.empty_values) {
            let Some((parent, key)) = pointer.rsplit_once('/') else {
                continue;
            };
            let key = key.replace("~1", "/").replace("~0", "~");
            if let Some(Value::Object(map)) = self.value.pointer_mut(parent)
                && map.get(&key).is_some_and(Value::is_null)
            {
                map.shift_remove(&key);
            }
        }
    }

    pub(crate) fn metadata_mut(&mut self) -> &mut Map<String, Value> {
        let root = object_mut(&mut self.value);
        let meta = root
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        object_mut(meta)
    }

    pub(crate) fn set_name(&mut self, name: &str) {
        self.metadata_mut()
            .insert("name".into(), Value::String(name.to_owned()));
    }

    pub(crate) fn set_namespace(&mut self, namespace: &str) {
        let meta = self.metadata_mut();
        if namespace.is_empty() {
            meta.shift_remove("namespace");
        } else {
            meta.insert("namespace".into(), Value::String(namespace.to_owned()));
        }
    }

    pub(crate) fn string_map(&self, key: &str) -> Map<String, Value> {
        self.value
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) fn set_meta_map(&mut self, key: &str, map: Map<String, Value>) {
        let meta = self.metadata_mut();
        if map.is_empty() {
            meta.shift_remove(key);
        } else {
            meta.insert(key.to_owned(), Value::Object(map));
        }
    }

    pub(crate) fn labels(&self) -> Map<String, Value> {
        self.string_map("labels")
    }

    pub(crate) fn annotations(&self) -> Map<String, Value> {
        self.string_map("annotations")
    }
}

/// `value` as a mapping, made one if it is not.
pub(crate) fn object_mut(value: &mut Value) -> &mut Map<String, Value> {
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    match value {
        Value::Object(map) => map,
        _ => unreachable!("made a mapping just above"),
    }
}

/// The ordered list of resources of one accumulation.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResMap {
    pub(crate) resources: Vec<Resource>,
}

impl ResMap {
    /// Appends resources, refusing one whose current id is already present.
    pub(crate) fn append_all(
        &mut self,
        index: &mut HashSet<(Gvk, String, String)>,
        others: Vec<Resource>,
    ) -> Result<(), String> {
        for r in others {
            let key = id_key(&r.cur_id());
            if !index.insert(key) {
                return Err(format!(
                    "may not add resource with an already registered id: {}",
                    r.cur_id()
                ));
            }
            self.resources.push(r);
        }
        Ok(())
    }

    /// The current ids, for [`append_all`](Self::append_all).
    pub(crate) fn cur_id_set(&self) -> HashSet<(Gvk, String, String)> {
        self.resources.iter().map(|r| id_key(&r.cur_id())).collect()
    }

    /// Index from every id (current and previous) to resource positions.
    pub(crate) fn any_id_index(&self) -> HashMap<(Gvk, String, String), Vec<usize>> {
        let mut index: HashMap<(Gvk, String, String), Vec<usize>> = HashMap::new();
        for (i, r) in self.resources.iter().enumerate() {
            let mut keys = vec![id_key(&r.cur_id())];
            for p in &r.prev_ids {
                let k = id_key(p);
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
            for k in keys {
                index.entry(k).or_default().push(i);
            }
        }
        index
    }

    /// Checks that current ids are unique.
    pub(crate) fn check_unique(&self) -> Result<(), String> {
        let mut seen = HashSet::new();
        for r in &self.resources {
            let id = r.cur_id();
            if !seen.insert(id_key(&id)) {
                return Err(format!("more than one resource with id {id}"));
            }
        }
        Ok(())
    }
}

/// The lookup key of an id: gvk, effective namespace, name.
pub(crate) fn id_key(id: &ResId) -> (Gvk, String, String) {
    (
        id.gvk.clone(),
        id.effective_namespace().to_owned(),
        id.name.clone(),
    )
}
