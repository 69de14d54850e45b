//! [`DirTarget`]: the [`Target`] implementation.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use driftless_core::{
    Action, ApplyOptions, ApplyReport, Change, DriftSink, DriftWatch, LiveObject, LiveState,
    Object, ObjectId, ObjectSet, Plan, Target, TargetError,
};
use indexmap::IndexMap;

use crate::inventory::{self, Applied, Inventory};
use crate::layout::{self, LOCK_FILE, STATE_DIR};
use crate::{Error, fsutil, scope};

/// How many threads write object files at once. Each write ends with a flush to disk
/// that mostly waits, so more threads than cores pay off.
const WRITE_THREADS: usize = 16;
/// How many threads read object files at once (reading is mostly parsing YAML).
fn read_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(4, std::num::NonZero::get)
        .clamp(2, 16)
}

/// The annotation that keeps an object from being pruned: `driftless.dev/prune: disabled`.
pub const PRUNE_ANNOTATION: &str = "driftless.dev/prune";
/// The value of [`PRUNE_ANNOTATION`] that disables pruning.
pub const PRUNE_DISABLED: &str = "disabled";

/// The inventory name of a target opened without one.
pub const DEFAULT_NAME: &str = "default";
/// The namespace of namespaced objects that name none, unless set otherwise.
pub const DEFAULT_NAMESPACE: &str = "default";

/// How a [`DirTarget`] behaves.
///
/// ```
/// use std::time::Duration;
/// use driftless_target_dir::DirTargetOptions;
///
/// let options = DirTargetOptions::default()
///     .name("web")
///     .namespace("prod")
///     .lock_timeout(Duration::from_secs(5));
/// assert_eq!(options.lock_timeout, Duration::from_secs(5));
/// assert!(!options.adopt);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DirTargetOptions {
    /// The name of the inventory this target keeps (the app's name): apps sharing a
    /// directory each use their own, and never prune each other's objects. 1 to 63
    /// letters, digits, `-`, `_` or `.`. Default: [`DEFAULT_NAME`].
    pub name: String,
    /// Take over objects that another name's inventory holds, instead of failing with
    /// [`Error::Owned`]: they leave the other inventory and join this one.
    pub adopt: bool,
    /// The namespace given to namespaced objects that name none (as kubectl does).
    /// Default: [`DEFAULT_NAMESPACE`].
    pub namespace: String,
    /// How long an apply waits for another process applying to the same directory to
    /// finish before it gives up with [`Error::LockTimeout`]. Default: 60 seconds.
    pub lock_timeout: Duration,
}

impl Default for DirTargetOptions {
    fn default() -> Self {
        Self {
            name: DEFAULT_NAME.to_owned(),
            adopt: false,
            namespace: DEFAULT_NAMESPACE.to_owned(),
            lock_timeout: Duration::from_secs(60),
        }
    }
}

impl DirTargetOptions {
    /// Sets [`name`](Self::name).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets [`adopt`](Self::adopt).
    #[must_use]
    pub fn adopt(mut self, adopt: bool) -> Self {
        self.adopt = adopt;
        self
    }

    /// Sets [`namespace`](Self::namespace).
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Sets [`lock_timeout`](Self::lock_timeout).
    #[must_use]
    pub fn lock_timeout(mut self, lock_timeout: Duration) -> Self {
        self.lock_timeout = lock_timeout;
        self
    }
}

/// A directory that stands for a live system: each object is one YAML file at
/// `<namespace or _cluster>/<group>_<kind>/<name>.yaml` (the core group written
/// `core`), and `.driftless/` holds the inventories and the apply lock.
///
/// See the [crate documentation](crate) for what it guarantees.
#[derive(Debug, Clone)]
pub struct DirTarget {
    root: PathBuf,
    options: DirTargetOptions,
}

impl DirTarget {
    /// A target on the directory `path`, with the inventory [`DEFAULT_NAME`]. A missing
    /// directory reads as empty and is created (with its parents) by the first apply
    /// that writes.
    pub fn new(path: impl Into<PathBuf>) -> Result<Self, Error> {
        Self::with_options(path, DirTargetOptions::default())
    }

    /// A target on the directory `path` with the given options. A missing directory
    /// reads as empty and is created (with its parents) by the first apply that writes;
    /// a path that exists must be a directory, and the name a valid inventory name.
    pub fn with_options(
        path: impl Into<PathBuf>,
        options: DirTargetOptions,
    ) -> Result<Self, Error> {
        let root = path.into();
        if !inventory::is_valid_name(&options.name) {
            return Err(Error::InvalidName {
                dir: root,
                name: options.name,
            });
        }
        match fs::metadata(&root) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(Error::TargetDir {
                    path: root,
                    source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::TargetDir { path: root, source }),
        }
        Ok(Self { root, options })
    }

    /// The target directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The options.
    pub fn options(&self) -> &DirTargetOptions {
        &self.options
    }

    /// Where the object `id` is kept, or why it cannot be kept in this directory.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use driftless_core::ObjectId;
    /// use driftless_target_dir::DirTarget;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let target = DirTarget::new(dir.path())?;
    /// let id = ObjectId::new("", "ConfigMap", Some("web"), "settings");
    /// assert_eq!(target.object_path(&id)?, dir.path().join("web/core_ConfigMap/settings.yaml"));
    /// assert!(target.object_path(&ObjectId::new("", "ConfigMap", None, "../x")).is_err());
    /// # Ok(()) }
    /// ```
    pub fn object_path(&self, id: &ObjectId) -> Result<PathBuf, Error> {
        relative_path(&self.root, id).map(|rel| self.root.join(rel))
    }

    async fn blocking<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Path) -> Result<T, Error> + Send + 'static,
    {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || work(&root))
            .await
            .map_err(|source| Error::Task {
                dir: self.root.clone(),
                source,
            })?
    }
}

#[async_trait]
impl Target for DirTarget {
    fn describe(&self) -> String {
        format!("dir:{}", self.root.display())
    }

    async fn prepare(&self, desired: ObjectSet) -> Result<ObjectSet, TargetError> {
        let namespace = self.options.namespace.clone();
        Ok(self
            .blocking(move |root| scope::prepare(root, desired, &namespace))
            .await?)
    }

    async fn live(&self, desired: &ObjectSet) -> Result<LiveState, TargetError> {
        // Objects are shared, not copied: a clone of the set costs its index.
        let desired = desired.clone();
        let name = self.options.name.clone();
        Ok(self
            .blocking(move |root| live(root, &name, &desired))
            .await?)
    }

    async fn apply(&self, plan: &Plan, options: &ApplyOptions) -> Result<ApplyReport, TargetError> {
        let plan = plan.clone();
        let apply_options = *options;
        let options = self.options.clone();
        Ok(self
            .blocking(move |root| apply(root, &options, &plan, apply_options))
            .await?)
    }

    /// Watches the directory (inotify): a hand edit or deletion of a file of this
    /// inventory is reported at once; our own writes are recognised by their content.
    fn watch(&self, sink: DriftSink) -> Result<Option<DriftWatch>, TargetError> {
        Ok(Some(crate::watch::start(&self.root, &self.options, sink)?))
    }
}

/// The path of `id` relative to the target directory `root`.
pub(crate) fn relative_path(root: &Path, id: &ObjectId) -> Result<PathBuf, Error> {
    layout::object_path(id).map_err(|e| Error::UnsafeName {
        dir: root.to_owned(),
        id: Box::new(id.clone()),
        field: e.field,
        value: e.value,
        reason: e.reason,
    })
}

/// Reads the live state: the files of every desired id and every inventory member.
///
/// Applying a desired object writes exactly that object to its file, so it is its own
/// prediction ([`LiveObject::predicted`]): whatever else the file holds is drift. The
/// object as last applied is given for objects no longer desired, which only prune
/// looks at.
fn live(root: &Path, name: &str, desired: &ObjectSet) -> Result<LiveState, Error> {
    let inventory::State {
        objects: mut claimed,
        mut pending,
    } = inventory::read(root, name)?;
    pending.retain(|id, _| !claimed.contains_key(id));
    let mut inventory_ids: BTreeSet<ObjectId> = claimed.keys().cloned().collect();
    let others: Vec<ObjectId> = claimed
        .keys()
        .chain(pending.keys())
        .filter(|id| !desired.contains(id))
        .cloned()
        .collect();

    // Paths and folders in order, then the files read in parallel.
    let mut files = Files::new(root);
    let mut to_read = Vec::with_capacity(desired.len() + others.len());
    for id in desired.ids().chain(&others) {
        let rel = relative_path(root, id)?;
        if files.check_dirs(id, &rel, false)? {
            to_read.push((id, rel));
        }
    }
    let states = parallel(&to_read, read_threads(), |(id, rel)| {
        // A file that holds the desired object is kept once: as the desired object.
        Ok(match (read_file(root, id, rel)?, desired.get(id)) {
            (FileState::Object(found), Some(wanted)) if found == *wanted => {
                FileState::Object(wanted.clone())
            }
            (state, _) => state,
        })
    })?;

    let mut objects = IndexMap::with_capacity(to_read.len());
    for ((id, rel), state) in to_read.iter().zip(states) {
        let id: &ObjectId = id;
        let last_applied = claimed.remove(id);
        let was_pending = pending.remove(id);
        let desired_object = desired.get(id);
        match state {
            FileState::Missing => {}
            FileState::Object(object) => {
                // An object an interrupted apply was writing is ours if its file holds
                // exactly what was being written.
                let last_applied = match (last_applied, was_pending) {
                    (Some(last_applied), _) => Some(last_applied),
                    (None, Some(pending)) if pending.is(&object) => {
                        inventory_ids.insert(id.clone());
                        Some(pending)
                    }
                    _ => None,
                };
                let live = match desired_object {
                    Some(desired) => LiveObject {
                        object,
                        last_applied: None,
                        predicted: Some(desired.clone()),
                    },
                    None => match last_applied {
                        Some(applied) => LiveObject {
                            object,
                            last_applied: Some(applied.object()),
                            predicted: None,
                        },
                        None => continue,
                    },
                };
                objects.insert(id.clone(), live);
            }
            FileState::Unreadable(reason) => {
                tracing::warn!(
                    path = %root.join(rel).display(),
                    object = %id,
                    "{reason}; treating it as drift that the next apply repairs"
                );
                // A desired object reads as missing, so that the plan creates it and the
                // apply writes over the broken file. An object only in the inventory
                // still exists (a file we wrote is there), so that prune can delete it.
                if desired_object.is_none()
                    && let Some(last_applied) = last_applied.as_ref().map(Applied::object)
                {
                    objects.insert(
                        id.clone(),
                        LiveObject {
                            object: identity_only(&last_applied),
                            last_applied: Some(last_applied),
                            predicted: None,
                        },
                    );
                }
            }
        }
    }
    Ok(LiveState {
        objects,
        inventory: inventory_ids,
    })
}

/// Every entry of `plan` with its file's path; an entry whose id cannot be a path, or
/// whose object has another id, is an error.
fn check_entries<'p>(root: &Path, plan: &'p Plan) -> Result<Vec<(&'p Change, PathBuf)>, Error> {
    let mut entries = Vec::with_capacity(plan.changes.len());
    for change in &plan.changes {
        if let Some(desired) = change.action.desired()
            && desired.id() != change.id
        {
            return Err(Error::PlanMismatch {
                id: Box::new(change.id.clone()),
                found: Box::new(desired.id()),
            });
        }
        entries.push((change, relative_path(root, &change.id)?));
    }
    Ok(entries)
}

/// Before objects new to the inventory are written, lists them as pending in the
/// inventory file: if this apply is killed before it records them, the next one still
/// knows they are ours. Writes nothing when there are none.
fn record_pending(
    root: &Path,
    name: &str,
    entries: &[(&Change, PathBuf)],
    inventory: &Inventory,
) -> Result<(), Error> {
    let pending: Inventory = entries
        .iter()
        .filter_map(|(change, _)| match &change.action {
            Action::Create { desired } | Action::Update { desired, .. }
                if !inventory.contains_key(&change.id) =>
            {
                Some((change.id.clone(), Applied::of(desired)))
            }
            _ => None,
        })
        .collect();
    if !pending.is_empty() {
        inventory::write(root, name, inventory, &pending)?;
    }
    Ok(())
}

/// Adds to `inventory` the objects an interrupted apply was writing (`pending`) whose
/// file holds exactly what was being written: that apply wrote them.
fn recover_pending(
    root: &Path,
    files: &mut Files<'_>,
    inventory: &mut Inventory,
    pending: Inventory,
) -> Result<(), Error> {
    for (id, object) in pending {
        if inventory.contains_key(&id) {
            continue;
        }
        let rel = relative_path(root, &id)?;
        if !files.check_dirs(&id, &rel, false)? {
            continue;
        }
        if let FileState::Object(found) = read_file(root, &id, &rel)?
            && object.is(&found)
        {
            tracing::info!(object = %id, "adopted: written by an apply that was interrupted");
            inventory.insert(id, object);
        }
    }
    Ok(())
}

/// Makes sure that no object of `plan` belongs to another name's inventory. With
/// `adopt`, such objects leave the other inventories (written at once unless this is a
/// dry run, before this name claims them: an object is never in two inventories);
/// without, they are an [`Error::Owned`] naming both owners.
fn claim(root: &Path, target: &DirTargetOptions, plan: &Plan, dry_run: bool) -> Result<(), Error> {
    let mut others = inventory::read_others(root, &target.name)?;
    if others.is_empty() {
        return Ok(());
    }
    let owners: HashMap<&ObjectId, &str> = others
        .iter()
        .flat_map(|(owner, state)| {
            state
                .objects
                .keys()
                .chain(state.pending.keys())
                .map(move |id| (id, owner.as_str()))
        })
        .collect();
    let mut taken: BTreeMap<String, Vec<ObjectId>> = BTreeMap::new();
    for change in &plan.changes {
        if change.action.desired().is_none() {
            continue;
        }
        if let Some(owner) = owners.get(&change.id) {
            taken
                .entry((*owner).to_owned())
                .or_default()
                .push(change.id.clone());
        }
    }
    if taken.is_empty() {
        return Ok(());
    }
    if !target.adopt {
        return Err(Error::Owned {
            dir: root.to_owned(),
            name: target.name.clone(),
            conflicts: taken
                .into_iter()
                .flat_map(|(owner, ids)| ids.into_iter().map(move |id| (id, owner.clone())))
                .collect(),
        });
    }
    for (owner, ids) in taken {
        let Some(state) = others.get_mut(&owner) else {
            continue;
        };
        for id in &ids {
            tracing::info!(object = %id, from = %owner, to = %target.name, "adopted");
            state.objects.remove(id);
            state.pending.remove(id);
        }
        if !dry_run {
            inventory::write(root, &owner, &state.objects, &state.pending)?;
        }
    }
    Ok(())
}

/// Creates the target directory, takes its lock, and gives the unnamed inventory of an
/// older driftless to this name if it has none.
fn lock(root: &Path, target: &DirTargetOptions) -> Result<fsutil::DirLock, Error> {
    fs::create_dir_all(root).map_err(|source| Error::TargetDir {
        path: root.to_owned(),
        source,
    })?;
    let lock = root.join(STATE_DIR).join(LOCK_FILE);
    let lock = fsutil::lock(root, lock, target.lock_timeout)?;
    inventory::take_over_legacy(root, &target.name)?;
    Ok(lock)
}

/// Carries out a plan under the directory's lock.
fn apply(
    root: &Path,
    target: &DirTargetOptions,
    plan: &Plan,
    options: ApplyOptions,
) -> Result<ApplyReport, Error> {
    let dry_run = options.dry_run;
    let name = target.name.as_str();
    // A dry run creates nothing, not even the target directory or the lock file.
    let _lock = if dry_run {
        None
    } else {
        Some(lock(root, target)?)
    };
    let inventory::State {
        objects: mut next,
        pending: interrupted,
    } = inventory::read(root, name)?;
    let mut files = Files::new(root);
    recover_pending(root, &mut files, &mut next, interrupted)?;

    // Check every entry before touching anything: a bad name, or an object of another
    // inventory, fails the whole apply.
    let entries = check_entries(root, plan)?;
    claim(root, target, plan, dry_run)?;
    if !dry_run {
        record_pending(root, name, &entries, &next)?;
    }

    let mut report = ApplyReport {
        dry_run,
        ..ApplyReport::default()
    };
    let mut writes = Vec::new();
    let mut deletes = Vec::new();
    for (change, rel) in &entries {
        let id = &change.id;
        match &change.action {
            Action::Create { desired } | Action::Update { desired, .. } => {
                writes.push((id, rel.as_path(), desired));
                next.insert(id.clone(), Applied::of(desired));
                if matches!(change.action, Action::Create { .. }) {
                    report.created.push(id.clone());
                } else {
                    report.updated.push(id.clone());
                }
            }
            Action::Unchanged { desired } => {
                // Nothing to write. The inventory claims only files that exist: with a
                // plan made before another apply removed this file, it is not ours now.
                if dry_run || files.exists(id, rel)? {
                    next.insert(id.clone(), Applied::of(desired));
                } else {
                    tracing::debug!(object = %id, "unchanged in the plan but its file is gone");
                    next.remove(id);
                }
                report.unchanged.push(id.clone());
            }
            Action::Prune { live } => {
                if !options.prune {
                    // Not pruning: it stays ours, to be pruned by a later apply.
                    continue;
                }
                let Some(last_applied) = next.get(id) else {
                    tracing::warn!(
                        object = %id,
                        path = %root.join(rel).display(),
                        "not pruned: this target never applied it, so its file is left alone"
                    );
                    report.prune_skipped.push(id.clone());
                    continue;
                };
                if prune_disabled(live) || prune_disabled(&last_applied.object()) {
                    tracing::info!(
                        object = %id,
                        "not pruned: annotated {PRUNE_ANNOTATION}: {PRUNE_DISABLED}; it is left \
                         in place and no longer managed"
                    );
                    next.remove(id);
                    report.prune_skipped.push(id.clone());
                    continue;
                }
                deletes.push((id, rel.as_path()));
                next.remove(id);
                report.pruned.push(id.clone());
            }
        }
    }

    if dry_run {
        return Ok(report);
    }

    files.write_objects(&writes)?;
    for (id, rel) in deletes {
        files.delete_object(id, rel)?;
    }
    forget_gone(root, plan, &mut files, &mut next)?;

    // Objects first, made durable; the inventory last, so it never claims an object
    // whose file is not written.
    files.sync()?;
    inventory::write(root, name, &next, &Inventory::new())?;
    tracing::info!(
        target = %format!("dir:{}", root.display()),
        name,
        created = report.created.len(),
        updated = report.updated.len(),
        unchanged = report.unchanged.len(),
        pruned = report.pruned.len(),
        prune_skipped = report.prune_skipped.len(),
        "applied"
    );
    Ok(report)
}

/// Forgets objects applied before whose files are gone and that `plan` does not
/// mention: should a file appear there again, it is not ours to prune. Folders their
/// files left empty are removed.
fn forget_gone(
    root: &Path,
    plan: &Plan,
    files: &mut Files<'_>,
    inventory: &mut Inventory,
) -> Result<(), Error> {
    let mentioned: HashSet<&ObjectId> = plan.changes.iter().map(|c| &c.id).collect();
    let mut gone = Vec::new();
    for id in inventory.keys().filter(|id| !mentioned.contains(id)) {
        let rel = relative_path(root, id)?;
        if !files.exists(id, &rel)? {
            tracing::debug!(object = %id, "its file is gone; dropped from the inventory");
            files.remove_empty_dirs(&rel);
            gone.push(id.clone());
        }
    }
    for id in &gone {
        inventory.remove(id);
    }
    Ok(())
}

/// Whether an object is annotated `driftless.dev/prune: disabled`.
fn prune_disabled(object: &Object) -> bool {
    object.annotation(PRUNE_ANNOTATION) == Some(PRUNE_DISABLED)
}

/// The object reduced to its identity: apiVersion, kind, metadata.name and namespace.
/// Stands for an object whose file exists but cannot be read.
fn identity_only(object: &Object) -> Object {
    let mut stub = object.clone();
    if let Some(map) = stub.as_value_mut().as_object_mut() {
        map.retain(|key, _| matches!(key.as_str(), "apiVersion" | "kind" | "metadata"));
        if let Some(metadata) = map.get_mut("metadata").and_then(|m| m.as_object_mut()) {
            metadata.retain(|key, _| matches!(key.as_str(), "name" | "namespace"));
        }
    }
    stub
}

/// Runs `work` on every item with up to `threads` threads, and returns the results in
/// the order of the items, or the first error met (the other threads then stop taking
/// new items).
fn parallel<T, R, F>(items: &[T], threads: usize, work: F) -> Result<Vec<R>, Error>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> Result<R, Error> + Sync,
{
    let threads = threads.min(items.len());
    if threads <= 1 {
        return items.iter().map(work).collect();
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let mut results: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    let mut first_error = None;
    std::thread::scope(|scope| {
        let worker = || {
            let mut done = Vec::new();
            while !failed.load(Ordering::Relaxed) {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(index) else { break };
                match work(item) {
                    Ok(result) => done.push((index, result)),
                    Err(error) => {
                        failed.store(true, Ordering::Relaxed);
                        return (done, Some(error));
                    }
                }
            }
            (done, None)
        };
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
        for handle in handles {
            let (done, error) = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for (index, result) in done {
                results[index] = Some(result);
            }
            if first_error.is_none() {
                first_error = error;
            }
        }
    });
    if let Some(error) = first_error {
        return Err(error);
    }
    Ok(results.into_iter().flatten().collect())
}

/// Writes `object` to its file `rel` below `root`, atomically; its folders exist.
fn write_object(root: &Path, id: &ObjectId, rel: &Path, object: &Object) -> Result<(), Error> {
    let text =
        driftless_core::yaml::to_string(object.as_value()).map_err(|source| Error::Serialize {
            id: Box::new(id.clone()),
            source,
        })?;
    let path = root.join(rel);
    fsutil::atomic_write(&path, text.as_bytes()).map_err(|source| Error::Write {
        path: path.clone(),
        id: Box::new(id.clone()),
        source,
    })?;
    tracing::debug!(object = %id, path = %path.display(), "written");
    Ok(())
}

/// Reads the object file `rel` of `id` below `root`; its folders were checked.
pub(crate) fn read_file(root: &Path, id: &ObjectId, rel: &Path) -> Result<FileState, Error> {
    let path = root.join(rel);
    let read_error = |source| Error::Read {
        path: path.clone(),
        id: Box::new(id.clone()),
        source,
    };
    match fs::symlink_metadata(&path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => {
            return Ok(FileState::Unreadable(
                "the file is a symbolic link or not a regular file".into(),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(FileState::Missing),
        Err(source) => return Err(read_error(source)),
    }
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(FileState::Missing),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            return Ok(FileState::Unreadable("the file is not UTF-8 text".into()));
        }
        Err(source) => return Err(read_error(source)),
    };
    let mut docs = match driftless_core::yaml::from_str_multi(&text) {
        Ok(docs) => docs,
        Err(e) => return Ok(FileState::Unreadable(format!("the file is not YAML: {e}"))),
    };
    if docs.len() != 1 {
        return Ok(FileState::Unreadable(format!(
            "the file holds {} YAML documents, not one object",
            docs.len()
        )));
    }
    let object = match Object::new(docs.remove(0)) {
        Ok(object) => object,
        Err(e) => {
            return Ok(FileState::Unreadable(format!(
                "the file is not an object: {e}"
            )));
        }
    };
    if object.id() != *id {
        return Ok(FileState::Unreadable(format!(
            "the file holds the object {} instead",
            object.id()
        )));
    }
    Ok(FileState::Object(object))
}

/// What an object's file holds.
pub(crate) enum FileState {
    /// No file.
    Missing,
    /// The object.
    Object(Object),
    /// A file that is not the object (broken YAML, not a mapping, another object, not a
    /// regular file), and why.
    Unreadable(String),
}

/// File work inside one target directory: it remembers the folders it has checked, so
/// each is looked at once, and the folders it changed, to flush them to disk.
struct Files<'a> {
    root: &'a Path,
    /// Folders (relative) known to be plain directories.
    known: HashSet<PathBuf>,
    /// Folders (absolute) whose entries changed.
    dirty: BTreeSet<PathBuf>,
    /// Folders (absolute) cleared of leftover temporary files.
    swept: HashSet<PathBuf>,
}

impl<'a> Files<'a> {
    fn new(root: &'a Path) -> Self {
        Self {
            root,
            known: HashSet::new(),
            dirty: BTreeSet::new(),
            swept: HashSet::new(),
        }
    }

    /// Removes leftover temporary files from the folder `dir`, once per apply.
    fn sweep(&mut self, dir: &Path) {
        if !self.swept.contains(dir) {
            fsutil::sweep_temp_files(dir);
            self.swept.insert(dir.to_owned());
        }
    }

    /// Checks that the folders above the object file `rel` are plain directories (not
    /// symbolic links, which could lead out of the target directory), and returns
    /// whether they exist. With `create`, missing folders are created and anything else
    /// in their place is an error; without, anything else means the object is missing.
    fn check_dirs(&mut self, id: &ObjectId, rel: &Path, create: bool) -> Result<bool, Error> {
        // `rel` is `ns/group_kind/name.yaml`: check `ns`, then `ns/group_kind`.
        let dirs: Vec<&Path> = rel.ancestors().skip(1).take(2).collect();
        for dir in dirs.into_iter().rev() {
            if self.known.contains(dir) {
                continue;
            }
            let path = self.root.join(dir);
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) if !create => {
                    tracing::warn!(
                        path = %path.display(),
                        object = %id,
                        "a symbolic link or file is where a folder should be; the object \
                         reads as missing"
                    );
                    return Ok(false);
                }
                Ok(_) => {
                    return Err(Error::NotADirectory {
                        path,
                        id: Box::new(id.clone()),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if !create {
                        return Ok(false);
                    }
                    match fs::create_dir(&path) {
                        Ok(()) => {}
                        // Created meanwhile by someone else: fine if it is a directory.
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                            if !fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                                return Err(Error::NotADirectory {
                                    path,
                                    id: Box::new(id.clone()),
                                });
                            }
                        }
                        Err(source) => {
                            return Err(Error::Write {
                                path,
                                id: Box::new(id.clone()),
                                source,
                            });
                        }
                    }
                    if let Some(parent) = path.parent() {
                        self.dirty.insert(parent.to_owned());
                    }
                }
                Err(source) => {
                    return Err(Error::Read {
                        path,
                        id: Box::new(id.clone()),
                        source,
                    });
                }
            }
            self.known.insert(dir.to_owned());
        }
        Ok(true)
    }

    /// Writes objects to their files, each atomically. The folders are checked (and
    /// created) first, in order; then the files are written by several threads, since
    /// each write waits for the disk to flush it.
    fn write_objects(&mut self, writes: &[(&ObjectId, &Path, &Object)]) -> Result<(), Error> {
        for (id, rel, _) in writes {
            self.check_dirs(id, rel, true)?;
            if let Some(parent) = self.root.join(rel).parent() {
                self.sweep(parent);
                self.dirty.insert(parent.to_owned());
            }
        }
        let root = self.root;
        parallel(writes, WRITE_THREADS, |(id, rel, object)| {
            write_object(root, id, rel, object)
        })?;
        Ok(())
    }

    /// Deletes the object file `rel` of `id`, then its folders if that left them empty.
    fn delete_object(&mut self, id: &ObjectId, rel: &Path) -> Result<(), Error> {
        if !self.check_dirs(id, rel, false)? {
            return Ok(());
        }
        let path = self.root.join(rel);
        match fs::remove_file(&path) {
            Ok(()) => tracing::debug!(object = %id, path = %path.display(), "deleted"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::Delete {
                    path,
                    id: Box::new(id.clone()),
                    source,
                });
            }
        }
        self.remove_empty_dirs(rel);
        Ok(())
    }

    /// Removes the folders of the object file `rel` if they are empty: `ns/group_kind`,
    /// then `ns`; never the target directory itself, and only folders checked to be
    /// plain directories (never through a symbolic link).
    fn remove_empty_dirs(&mut self, rel: &Path) {
        for dir in rel.ancestors().skip(1).take(2) {
            if !self.known.contains(dir) {
                break;
            }
            let abs = self.root.join(dir);
            self.sweep(&abs);
            self.dirty.insert(abs.clone());
            if fs::remove_dir(&abs).is_err() {
                // Not empty (or already gone): keep it and everything above it.
                break;
            }
            self.known.remove(dir);
            if let Some(parent) = abs.parent() {
                self.dirty.insert(parent.to_owned());
            }
        }
    }

    /// Whether the object file `rel` of `id` exists (as anything).
    fn exists(&mut self, id: &ObjectId, rel: &Path) -> Result<bool, Error> {
        if !self.check_dirs(id, rel, false)? {
            return Ok(false);
        }
        let path = self.root.join(rel);
        match fs::symlink_metadata(&path) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(Error::Read {
                path,
                id: Box::new(id.clone()),
                source,
            }),
        }
    }

    /// Flushes every changed folder to disk.
    fn sync(&self) -> Result<(), Error> {
        for dir in &self.dirty {
            fsutil::sync_dir(dir).map_err(|source| Error::Sync {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(())
    }
}
