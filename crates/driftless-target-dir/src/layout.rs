//! Where each object lives: `<namespace or _cluster>/<group>_<kind>/<name>.yaml`.
//!
//! The mapping from ids to paths is one-to-one: every id that maps at all maps to its
//! own path, inside the target directory, of exactly three plain components. Ids that
//! cannot be mapped that way are rejected with the reason.

use std::path::PathBuf;

use driftless_core::ObjectId;

/// The folder of cluster-scoped objects.
pub const CLUSTER_DIR: &str = "_cluster";
/// How the core API group (`""`, as in `apiVersion: v1`) is written in folder names.
pub const CORE_GROUP: &str = "core";
/// The folder, inside the target directory, of the target's own state.
pub const STATE_DIR: &str = ".driftless";
/// The folder, inside [`STATE_DIR`], of the inventories: `<name>.json` for each name.
pub const INVENTORIES_DIR: &str = "inventories";
/// The single, unnamed inventory that directories applied to before inventories had
/// names, inside [`STATE_DIR`]. It becomes the inventory of the first name applied.
pub const LEGACY_INVENTORY_FILE: &str = "inventory.json";
/// The lock file, inside [`STATE_DIR`].
pub const LOCK_FILE: &str = "lock";

/// The longest name accepted, in bytes, so that `<name>.yaml` fits a file name.
const MAX_NAME: usize = 250;
/// The longest file name most file systems take.
const MAX_COMPONENT: usize = 255;

/// Why an id cannot be mapped to a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unsafe {
    pub(crate) field: &'static str,
    pub(crate) value: String,
    pub(crate) reason: &'static str,
}

/// The path of an object's file, relative to the target directory.
pub(crate) fn object_path(id: &ObjectId) -> Result<PathBuf, Unsafe> {
    let namespace = match id.namespace() {
        Some(ns) => {
            check("namespace", ns)?;
            if ns == CLUSTER_DIR {
                return Err(unsafe_(
                    "namespace",
                    ns,
                    "is the folder name of cluster-scoped objects",
                ));
            }
            ns
        }
        None => CLUSTER_DIR,
    };
    let group = match id.group() {
        "" => CORE_GROUP,
        CORE_GROUP => {
            return Err(unsafe_(
                "group",
                CORE_GROUP,
                "is how the core API group is written in folder names",
            ));
        }
        group => {
            check("group", group)?;
            if group.contains('_') {
                return Err(unsafe_(
                    "group",
                    group,
                    "contains '_', which separates group and kind in folder names",
                ));
            }
            group
        }
    };
    check("kind", id.kind())?;
    let kind_dir = format!("{group}_{}", id.kind());
    if kind_dir.len() > MAX_COMPONENT {
        return Err(unsafe_(
            "kind",
            id.kind(),
            "makes the folder name `<group>_<kind>` longer than 255 bytes",
        ));
    }
    check("name", id.name())?;
    if id.name().len() > MAX_NAME {
        return Err(unsafe_(
            "name",
            id.name(),
            "is longer than 250 bytes, too long for a file name",
        ));
    }
    let mut path = PathBuf::from(namespace);
    path.push(kind_dir);
    path.push(format!("{}.yaml", id.name()));
    Ok(path)
}

/// Checks one part of an id that becomes (part of) a path component.
fn check(field: &'static str, value: &str) -> Result<(), Unsafe> {
    let reason = if value.is_empty() {
        "is empty"
    } else if value.contains('/') {
        "contains '/'"
    } else if value.contains('\\') {
        "contains '\\'"
    } else if value.contains('\0') {
        "contains a NUL character"
    } else if value.starts_with('.') {
        "starts with '.'"
    } else if value.contains("..") {
        "contains '..'"
    } else if value.len() > MAX_COMPONENT {
        "is longer than 255 bytes"
    } else {
        return Ok(());
    };
    Err(unsafe_(field, value, reason))
}

fn unsafe_(field: &'static str, value: &str, reason: &'static str) -> Unsafe {
    Unsafe {
        field,
        value: value.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;
    use std::path::Component;

    fn path(group: &str, kind: &str, ns: Option<&str>, name: &str) -> Result<String, Unsafe> {
        object_path(&ObjectId::new(group, kind, ns, name)).map(|p| p.display().to_string())
    }

    #[test]
    fn maps_namespaced_and_cluster_objects() {
        assert_eq!(
            path("", "ConfigMap", Some("web"), "settings").unwrap(),
            "web/core_ConfigMap/settings.yaml"
        );
        assert_eq!(
            path("rbac.authorization.k8s.io", "ClusterRole", None, "admin").unwrap(),
            "_cluster/rbac.authorization.k8s.io_ClusterRole/admin.yaml"
        );
        assert_eq!(
            path("apps", "Deployment", Some("prod"), "web.v2").unwrap(),
            "prod/apps_Deployment/web.v2.yaml"
        );
    }

    #[test]
    fn rejects_unsafe_components() {
        let cases = [
            (path("", "ConfigMap", None, "a/b"), "name", "contains '/'"),
            (path("", "ConfigMap", None, ".."), "name", "starts with '.'"),
            (
                path("", "ConfigMap", None, ".hidden"),
                "name",
                "starts with '.'",
            ),
            (path("", "ConfigMap", None, "a..b"), "name", "contains '..'"),
            (
                path("", "ConfigMap", None, "a\0b"),
                "name",
                "contains a NUL character",
            ),
            (path("", "ConfigMap", None, "a\\b"), "name", "contains '\\'"),
            (
                path("", "ConfigMap", Some(".."), "a"),
                "namespace",
                "starts with '.'",
            ),
            (
                path("", "ConfigMap", Some("a/b"), "a"),
                "namespace",
                "contains '/'",
            ),
            (path("", "Config/Map", None, "a"), "kind", "contains '/'"),
            (path("", "", None, "a"), "kind", "is empty"),
            (
                path(".x", "ConfigMap", None, "a"),
                "group",
                "starts with '.'",
            ),
        ];
        for (result, field, reason) in cases {
            let err = result.unwrap_err();
            assert_eq!((err.field, err.reason), (field, reason), "{err:?}");
        }
        assert_eq!(
            path("", "ConfigMap", Some("_cluster"), "a")
                .unwrap_err()
                .field,
            "namespace"
        );
        assert_eq!(
            path("core", "ConfigMap", None, "a").unwrap_err().field,
            "group"
        );
        assert_eq!(path("a_b", "Kind", None, "a").unwrap_err().field, "group");
        assert_eq!(
            path("", "ConfigMap", None, &"n".repeat(251))
                .unwrap_err()
                .field,
            "name"
        );
        assert!(path("", "ConfigMap", None, &"n".repeat(250)).is_ok());
    }

    proptest! {
        /// Every mapped id lands on three plain components, and no two ids share a path.
        #[test]
        fn paths_are_plain_and_one_to_one(
            ids in proptest::collection::vec(
                ("[a-z_.]{0,4}", "[A-Za-z_.]{0,4}", proptest::option::of("[a-z_.]{0,4}"), "[a-z_./]{1,4}"),
                1..40,
            )
        ) {
            let mut seen: HashMap<PathBuf, ObjectId> = HashMap::new();
            for (group, kind, ns, name) in ids {
                let id = ObjectId::new(group, kind, ns.as_deref(), name);
                if let Ok(path) = object_path(&id) {
                    let components: Vec<_> = path.components().collect();
                    prop_assert_eq!(components.len(), 3);
                    prop_assert!(components.iter().all(|c| matches!(c, Component::Normal(_))));
                    prop_assert!(components.iter().all(|c| !c.as_os_str().to_string_lossy().starts_with('.')));
                    if let Some(other) = seen.insert(path.clone(), id.clone()) {
                        prop_assert_eq!(other, id, "two ids share {}", path.display());
                    }
                }
            }
        }
    }
}
