//! A driftless [`Target`](driftless_core::Target) on a directory: each object is one YAML
//! file, and editing a file by hand is drift that the next apply puts back.
//!
//! ```
//! use driftless_core::{Action, ApplyOptions, Change, Object, ObjectSet, Plan, Target};
//! use driftless_target_dir::DirTarget;
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let target = DirTarget::new(dir.path())?;
//!
//! let settings = Object::new(json!({
//!     "apiVersion": "v1",
//!     "kind": "ConfigMap",
//!     "metadata": {"name": "settings", "namespace": "web"},
//!     "data": {"mode": "fast"},
//! }))?;
//! let mut desired = ObjectSet::new();
//! desired.insert(settings.clone())?;
//! assert!(target.live(&desired).await?.objects.is_empty());
//!
//! // The differ (driftless-diff) computes plans from desired and live state.
//! let plan = Plan {
//!     changes: vec![Change { id: settings.id(), action: Action::Create { desired: settings } }],
//! };
//! let report = target.apply(&plan, &ApplyOptions::default()).await?;
//! assert_eq!(report.created.len(), 1);
//! assert!(dir.path().join("web/core_ConfigMap/settings.yaml").is_file());
//! assert_eq!(target.live(&desired).await?.inventory.len(), 1);
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! An object lives at `<namespace or _cluster>/<group>_<kind>/<name>.yaml`, the core API
//! group written `core`: `web/core_ConfigMap/settings.yaml`,
//! `_cluster/rbac.authorization.k8s.io_ClusterRole/admin.yaml`. Each file holds one
//! YAML document, the object as desired. An id that cannot be mapped safely and
//! one-to-one (a part that is empty, holds `/`, `\`, `..` or NUL, starts with `.`, a
//! namespace `_cluster`, a group `core` or with `_`) is an [`Error::UnsafeName`] naming
//! the object: nothing is ever written outside the directory, and folders on the way
//! that are symbolic links are refused.
//!
//! `.driftless/` holds the target's own state: `inventories/<name>.json` and `lock`.
//!
//! # Namespaces
//!
//! [`prepare`](driftless_core::Target::prepare) places objects as kubectl would: a
//! namespaced kind that names no namespace gets [`DirTargetOptions::namespace`]
//! (`default` unless set), a cluster-scoped kind loses any namespace it names. The
//! built-in cluster-scoped kinds are known; a custom kind's scope comes from its
//! CustomResourceDefinition, among the objects applied or already in the directory;
//! any other kind is namespaced (as Kustomize assumes). A target read or applied to
//! without `prepare` (a plan made by hand) keeps objects as they are.
//!
//! # Several apps in one directory
//!
//! Each inventory has a name ([`DirTargetOptions::name`], the app's name), and apps
//! sharing a directory use different names: each prunes only what its own inventory
//! holds. Applying an object that another name's inventory holds fails with
//! [`Error::Owned`], naming both, unless [`DirTargetOptions::adopt`] is set: then the
//! object leaves the other inventory and joins this one. An inventory left empty (the
//! app deleted everything it applied) is removed.
//!
//! A directory applied to before inventories had names holds one unnamed inventory,
//! `.driftless/inventory.json`: until a name takes it over, it is read as the inventory
//! of any name that has none, and the first apply that writes takes it over for its
//! name (a rename under the lock, so only one name can).
//!
//! # Inventory and prune
//!
//! The inventory records every object this target applied under its name, as it was
//! last applied (compact JSON, one object per line; kept as text in memory too, a tenth
//! of the parsed objects' size). Applying an object writes exactly that object to its
//! file, so [`live`](driftless_core::Target::live) gives each desired object as its own
//! [`LiveObject::predicted`](driftless_core::LiveObject::predicted): anything else in
//! the file, a field added by hand included, is drift.
//! [`LiveObject::last_applied`](driftless_core::LiveObject::last_applied) is given for
//! objects no longer desired, the ones prune looks at.
//! [`live`](driftless_core::Target::live) reads only the files of desired ids and
//! inventory ids, never a directory scan. Prune deletes only files of ids in the
//! inventory; a file this target never wrote is never touched, whatever its path.
//! An object annotated `driftless.dev/prune: disabled` is never deleted: it is reported
//! in `prune_skipped` and leaves the inventory (it is no longer managed). An object
//! whose file was deleted by hand and that is no longer desired leaves the inventory
//! too, so a file put there later is not ours. Folders left empty by prune or by such a
//! deletion are removed, never the target directory itself. When an apply does
//! not prune, objects it would prune stay in the inventory, to be pruned later.
//!
//! # Writes
//!
//! Every file is written atomically (a temporary file in the same folder, flushed, then
//! renamed over the old one) and the inventory is written last, after the changed
//! folders are flushed: a crash mid-apply never leaves a half-written object, nor an
//! inventory claiming an object that was not written. So that objects a killed apply
//! did write are not orphaned, the apply first lists the objects new to the inventory
//! as `pending` in the inventory file; the next reader adopts a pending object only if
//! its file holds exactly what was being written. Temporary files (named
//! `.driftless-tmp-*`) that a crash left behind are removed by the next apply that
//! writes to their folder. An object already as desired is
//! not written, and an inventory that did not change is not either, so an unchanged
//! re-apply writes nothing. A dry run writes nothing at all: no files, folders,
//! inventory or lock, and a missing target directory stays missing (it reads as empty
//! and is created by the first apply that writes).
//!
//! # Hand edits
//!
//! A file edited by hand is read as it is and compared like any live object. A file
//! that is no longer the object (not YAML, not one mapping, another object's id, not
//! a regular file) is drift too, not an error: it is logged as a warning and read as
//! missing, so the plan creates the object again and the apply writes over the file.
//! If the object is no longer desired, it reads as its bare identity, so prune can
//! still delete it. A broken inventory, however, is an error
//! ([`Error::InventoryCorrupt`]): guessing there could prune the wrong files.
//!
//! # Concurrency
//!
//! An apply holds an exclusive lock on `.driftless/lock` (an OS file lock, released
//! even if the process dies). Another apply to the same directory, in this process or
//! another, waits for it up to [`DirTargetOptions::lock_timeout`] and then fails with
//! [`Error::LockTimeout`] naming the directory. Reading live state takes no lock: every
//! file is replaced atomically, so a reader sees each object whole.
//!
//! All file work runs on tokio's blocking thread pool; object files are read and
//! written by several threads at once (each write waits for its flush to disk). The
//! `force` apply option has no meaning here: a directory has no field owners and no
//! immutable fields.

mod error;
mod fsutil;
mod inventory;
mod layout;
mod scope;
mod target;
mod watch;

pub use error::Error;
pub use layout::{
    CLUSTER_DIR, CORE_GROUP, INVENTORIES_DIR, LEGACY_INVENTORY_FILE, LOCK_FILE, STATE_DIR,
};
pub use target::{
    DEFAULT_NAME, DEFAULT_NAMESPACE, DirTarget, DirTargetOptions, PRUNE_ANNOTATION, PRUNE_DISABLED,
};
