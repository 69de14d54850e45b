//! Drift watches ([`Target::watch`](driftless_core::Target)): what our ApplySets own,
//! watched, and nothing else.
//!
//! Many apps share one cluster, so the watches are shared too: a [`Hub`] per cluster
//! runs one metadata-only watch per (group, kind) named by the inventories of the
//! targets that watch, selecting objects that carry the ApplySet `part-of` label and
//! dispatching each change by the label's value to the target ([`Owner`]) of that set.
//! Kinds are added and dropped as the inventories change. Only a few hashes per object
//! are kept, so memory grows slowly with the objects we manage and not at all with the
//! others.
//!
//! What is drift: a managed object deleted (or taken out of its set) by someone else, or
//! written by a field manager other than ours. The `managedFields` of each object tell
//! who wrote it: a write of ours changes only our own entry, so our applies never start
//! a reconcile, and status written by controllers (entries that touch only `status`) is
//! no drift either. Deletions we make (prune, recreate) are announced by the target
//! before it makes them.
//!
//! The watch resumes from its last resourceVersion after a disconnect (an API server
//! restart), lists again when that version is too old (`410 Gone`), and compares the new
//! list with what it knew, so that drift made while it was away is still caught. Where
//! RBAC forbids watching a kind, it says so once and tries again every few minutes; the
//! interval still corrects drift of that kind.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash as _, Hasher as _};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use driftless_core::{Drift, DriftKind, DriftSink, DriftWatch, ObjectId};
use futures::StreamExt as _;
use kube::api::{Api, DynamicObject};
use kube::core::PartialObjectMeta;
use kube::discovery::ApiResource;
use kube::runtime::watcher;
use tokio::task::JoinHandle;

use crate::applyset::{GroupKind, PART_OF_LABEL};

/// The first wait before watching again after an error; it doubles up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// The longest wait between attempts to watch again.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long to wait before trying again to watch a kind RBAC forbids.
const FORBIDDEN_RETRY: Duration = Duration::from_secs(300);

/// The watches of one cluster.
pub(crate) struct Hub {
    client: kube::Client,
    owners: Arc<Owners>,
    watches: Mutex<HashMap<GroupKind, JoinHandle<()>>>,
}

/// The targets that watch, by ApplySet id.
#[derive(Default)]
struct Owners(Mutex<HashMap<String, Weak<Owner>>>);

impl Owners {
    fn get(&self, applyset_id: &str) -> Option<Arc<Owner>> {
        lock(&self.0).get(applyset_id).and_then(Weak::upgrade)
    }
}

impl Hub {
    /// The watches of the cluster `client` reaches, none running yet. Targets share
    /// them by sharing the hub (through their [`Cluster`](crate::Cluster)).
    pub(crate) fn new(client: &kube::Client) -> Arc<Self> {
        Arc::new(Self {
            client: client.clone(),
            owners: Arc::default(),
            watches: Mutex::default(),
        })
    }

    /// Runs one watch for every kind a watching owner holds, and no other.
    fn refresh(&self) {
        let mut wanted: BTreeMap<GroupKind, ApiResource> = BTreeMap::new();
        for owner in lock(&self.owners.0).values().filter_map(Weak::upgrade) {
            if lock(&owner.sink).is_some() {
                wanted.extend(lock(&owner.kinds).clone());
            }
        }
        let mut watches = lock(&self.watches);
        watches.retain(|kind, task| {
            let keep = wanted.contains_key(kind) && !task.is_finished();
            if !keep {
                tracing::debug!(group = %kind.group, kind = %kind.kind, "no longer watched");
                task.abort();
            }
            keep
        });
        for (kind, resource) in wanted {
            if watches.contains_key(&kind) {
                continue;
            }
            tracing::debug!(group = %kind.group, kind = %kind.kind, "watching for drift");
            let follower = KindWatch {
                kind: kind.clone(),
                owners: Arc::clone(&self.owners),
                known: HashMap::new(),
            };
            let api = Api::all_with(self.client.clone(), &resource);
            watches.insert(kind, tokio::spawn(follower.run(api)));
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        for task in lock(&self.watches).values() {
            task.abort();
        }
    }
}

/// What one target (one ApplySet) holds, and where its drift goes.
pub(crate) struct Owner {
    applyset_id: String,
    field_manager: String,
    hub: Arc<Hub>,
    /// The kinds of its inventory, with how to reach them.
    kinds: Mutex<BTreeMap<GroupKind, ApiResource>>,
    /// Set while the target is watched.
    sink: Mutex<Option<DriftSink>>,
    /// Objects the target is deleting itself: their deletion is no drift.
    deleting: Mutex<HashSet<ObjectId>>,
}

impl Owner {
    pub(crate) fn new(hub: Arc<Hub>, applyset_id: &str, field_manager: &str) -> Arc<Self> {
        Arc::new(Self {
            applyset_id: applyset_id.to_owned(),
            field_manager: field_manager.to_owned(),
            hub,
            kinds: Mutex::default(),
            sink: Mutex::default(),
            deleting: Mutex::default(),
        })
    }

    /// Starts reporting drift to `sink` until the returned watch is dropped.
    pub(crate) fn watch(self: &Arc<Self>, sink: DriftSink) -> DriftWatch {
        *lock(&self.sink) = Some(sink);
        lock(&self.hub.owners.0).insert(self.applyset_id.clone(), Arc::downgrade(self));
        self.hub.refresh();
        DriftWatch::new(Watching(Arc::clone(self)))
    }

    /// The kinds the inventory holds now (added kinds are watched, dropped ones no
    /// longer, when nothing else needs them).
    pub(crate) fn follow(&self, kinds: impl IntoIterator<Item = ApiResource>) {
        let kinds: BTreeMap<GroupKind, ApiResource> = kinds
            .into_iter()
            .map(|api| (GroupKind::new(&api.group, &api.kind), api))
            .collect();
        let changed = {
            let mut current = lock(&self.kinds);
            let changed = current.keys().ne(kinds.keys());
            *current = kinds;
            changed
        };
        if changed && lock(&self.sink).is_some() {
            self.hub.refresh();
        }
    }

    /// The target is about to delete `id`: its deletion is ours.
    pub(crate) fn deleting(&self, id: &ObjectId) {
        lock(&self.deleting).insert(id.clone());
    }

    /// The target's deletion of `id` did not happen (it was gone already).
    pub(crate) fn not_deleted(&self, id: &ObjectId) {
        lock(&self.deleting).remove(id);
    }

    fn report(&self, drift: Drift) {
        let sink = lock(&self.sink).clone();
        if let Some(sink) = sink {
            tracing::debug!(applyset = %self.applyset_id, %drift, "drift");
            sink(drift);
        }
    }

    /// Whether the deletion of `id` was ours (and forgets it).
    fn was_deleting(&self, id: &ObjectId) -> bool {
        lock(&self.deleting).remove(id)
    }
}

/// A target being watched; dropping it stops reporting, and drops the kinds only it
/// needed.
struct Watching(Arc<Owner>);

impl Drop for Watching {
    fn drop(&mut self) {
        let owner = &self.0;
        *lock(&owner.sink) = None;
        lock(&owner.hub.owners.0).remove(&owner.applyset_id);
        owner.hub.refresh();
    }
}

/// What we know of one managed object.
struct Seen {
    /// The ApplySet it belongs to.
    applyset_id: String,
    /// Digests of its `managedFields` entries, but those only about `status`.
    entries: Vec<u64>,
}

/// The watch of one kind, over the whole cluster.
struct KindWatch {
    kind: GroupKind,
    owners: Arc<Owners>,
    /// Managed objects by (namespace, name).
    known: HashMap<(Option<String>, String), Seen>,
}

impl KindWatch {
    async fn run(mut self, api: Api<PartialObjectMeta<DynamicObject>>) {
        // Existence of the label: members of any ApplySet; dispatched by its value.
        // `PartialObjectMeta` makes every request metadata-only.
        let config = watcher::Config::default().labels(PART_OF_LABEL);
        let mut events = std::pin::pin!(watcher::watcher(api, config));
        let mut listing: Option<HashSet<(Option<String>, String)>> = None;
        let mut listed_before = false;
        let mut backoff = FIRST_BACKOFF;
        let mut forbidden = false;
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => {
                    backoff = FIRST_BACKOFF;
                    forbidden = false;
                    self.handle(event, &mut listing, &mut listed_before);
                }
                Err(error) if is_forbidden(&error) => {
                    if !forbidden {
                        tracing::warn!(
                            group = %self.kind.group,
                            kind = %self.kind.kind,
                            %error,
                            "RBAC forbids watching this kind: its drift is corrected every interval only (allow list and watch to correct it at once)"
                        );
                        forbidden = true;
                    }
                    tokio::time::sleep(FORBIDDEN_RETRY).await;
                }
                Err(error) => {
                    tracing::debug!(
                        group = %self.kind.group,
                        kind = %self.kind.kind,
                        %error,
                        retry_in = ?backoff,
                        "watch interrupted; resuming"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    fn handle(
        &mut self,
        event: watcher::Event<PartialObjectMeta<DynamicObject>>,
        listing: &mut Option<HashSet<(Option<String>, String)>>,
        listed_before: &mut bool,
    ) {
        match event {
            watcher::Event::Init => *listing = Some(HashSet::new()),
            watcher::Event::InitApply(object) => {
                if let Some(listing) = listing.as_mut() {
                    listing.insert(key(&object));
                }
                // The first list is where we start from; a later one (after the
                // watch fell too far behind) is compared with what we knew.
                self.applied(&object, *listed_before);
            }
            watcher::Event::InitDone => {
                let listed = listing.take().unwrap_or_default();
                let gone: Vec<(Option<String>, String)> = self
                    .known
                    .keys()
                    .filter(|k| !listed.contains(*k))
                    .cloned()
                    .collect();
                for key in &gone {
                    self.deleted(key);
                }
                *listed_before = true;
            }
            watcher::Event::Apply(object) => self.applied(&object, true),
            watcher::Event::Delete(object) => self.deleted(&key(&object)),
        }
    }

    /// Records `object` and, when `report`, reports drift if someone else wrote it or
    /// moved it out of its set.
    fn applied(&mut self, object: &PartialObjectMeta<DynamicObject>, report: bool) {
        let key = key(object);
        let applyset_id = object
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(PART_OF_LABEL))
            .cloned()
            .unwrap_or_default();
        let entries = entries(object);
        let before = self.known.get(&key);
        if report {
            if let Some(before) = before.filter(|b| b.applyset_id != applyset_id) {
                // Moved to another set: gone from the one it was in.
                self.dispatch(&before.applyset_id, &key, DriftKind::Deleted);
            }
            if let Some(owner) = self.owners.get(&applyset_id) {
                let old: &[u64] = before
                    .filter(|b| b.applyset_id == applyset_id)
                    .map_or(&[], |b| &b.entries);
                let foreign_write = entries
                    .iter()
                    .any(|(hash, manager)| manager != &owner.field_manager && !old.contains(hash));
                if foreign_write {
                    owner.report(Drift::new(Some(self.id(&key)), DriftKind::Modified));
                }
            }
        }
        // Objects of sets no target here holds (another agent's, kubectl's) are not
        // kept: memory follows what we manage, not what the cluster holds. One of them
        // is dispatched again only if it moves into a set of ours (then it is new).
        if self.owners.get(&applyset_id).is_none() {
            self.known.remove(&key);
            return;
        }
        let entries = entries.iter().map(|(hash, _)| *hash).collect();
        self.known.insert(
            key,
            Seen {
                applyset_id,
                entries,
            },
        );
    }

    /// Forgets `key` and reports its deletion, unless its owner deleted it.
    fn deleted(&mut self, key: &(Option<String>, String)) {
        let Some(seen) = self.known.remove(key) else {
            return;
        };
        self.dispatch(&seen.applyset_id, key, DriftKind::Deleted);
    }

    fn dispatch(&self, applyset_id: &str, key: &(Option<String>, String), kind: DriftKind) {
        let Some(owner) = self.owners.get(applyset_id) else {
            return;
        };
        let id = self.id(key);
        if kind == DriftKind::Deleted && owner.was_deleting(&id) {
            return;
        }
        owner.report(Drift::new(Some(id), kind));
    }

    fn id(&self, (namespace, name): &(Option<String>, String)) -> ObjectId {
        ObjectId::new(
            &self.kind.group,
            &self.kind.kind,
            namespace.as_deref(),
            name,
        )
    }
}

fn key(object: &PartialObjectMeta<DynamicObject>) -> (Option<String>, String) {
    (
        object.metadata.namespace.clone(),
        object.metadata.name.clone().unwrap_or_default(),
    )
}

/// The `managedFields` entries of `object` as (digest, manager), but those that touch
/// only `status` (controllers reporting, not drift).
fn entries(object: &PartialObjectMeta<DynamicObject>) -> Vec<(u64, String)> {
    let Some(managed) = &object.metadata.managed_fields else {
        return Vec::new();
    };
    managed
        .iter()
        .filter(|entry| {
            let status_only = entry.subresource.as_deref() == Some("status")
                || entry
                    .fields_v1
                    .as_ref()
                    .and_then(|f| f.0.as_object())
                    .is_some_and(|f| f.keys().all(|k| k == "f:status"));
            !status_only
        })
        .map(|entry| {
            let mut hasher = DefaultHasher::new();
            serde_json::to_string(entry)
                .unwrap_or_default()
                .hash(&mut hasher);
            (hasher.finish(), entry.manager.clone().unwrap_or_default())
        })
        .collect()
}

fn is_forbidden(error: &watcher::Error) -> bool {
    let code = match error {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => crate::call::status_code(e),
        watcher::Error::WatchError(status) => Some(status.code),
        watcher::Error::NoResourceVersion => None,
    };
    code == Some(403)
}

/// Locks a mutex that is never held across an await; a poisoned lock still holds valid
/// data (every critical section only reads or assigns).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(manager_entries: &serde_json::Value) -> PartialObjectMeta<DynamicObject> {
        serde_json::from_value(json!({
            "apiVersion": "meta.k8s.io/v1",
            "kind": "PartialObjectMetadata",
            "metadata": {
                "name": "settings",
                "namespace": "web",
                "labels": {PART_OF_LABEL: "applyset-abc"},
                "managedFields": manager_entries,
            },
        }))
        .unwrap()
    }

    #[test]
    fn entries_about_status_alone_are_left_out() {
        let object = meta(&json!([
            {"manager": "driftless", "operation": "Apply", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:data": {"f:mode": {}}}, "time": "2026-01-01T00:00:00Z"},
            {"manager": "kube-controller-manager", "operation": "Update", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:status": {"f:replicas": {}}}, "time": "2026-01-01T00:00:01Z"},
        ]));
        let found = entries(&object);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1, "driftless");
    }

    // A client needs a runtime, even one that never sends.
    #[tokio::test]
    async fn a_new_entry_of_another_manager_is_drift_and_ours_is_not() {
        let hub = Hub::new(&dummy_client());
        let owner = Owner::new(Arc::clone(&hub), "applyset-abc", "driftless");
        let (send, drifts) = std::sync::mpsc::channel();
        *lock(&owner.sink) = Some(Arc::new(move |d| send.send(d).unwrap()));
        lock(&hub.owners.0).insert("applyset-abc".into(), Arc::downgrade(&owner));
        let mut watch = config_map_watch(&hub);
        let ours = json!({"manager": "driftless", "operation": "Apply",
            "fieldsV1": {"f:data": {}}, "time": "2026-01-01T00:00:00Z"});
        watch.applied(&meta(&json!([ours])), true);
        // Our own re-apply: our entry changes, no one else's.
        let ours_again = json!({"manager": "driftless", "operation": "Apply",
            "fieldsV1": {"f:data": {}}, "time": "2026-01-01T00:00:05Z"});
        watch.applied(&meta(&json!([ours_again])), true);
        assert!(drifts.try_recv().is_err());
        let patch = json!({"manager": "kubectl-patch", "operation": "Update",
            "fieldsV1": {"f:data": {"f:mode": {}}}, "time": "2026-01-01T00:00:09Z"});
        watch.applied(&meta(&json!([ours_again, patch])), true);
        let drift = drifts.try_recv().unwrap();
        assert_eq!(drift.kind, DriftKind::Modified);
        assert_eq!(
            drift.object,
            Some(ObjectId::new("", "ConfigMap", Some("web"), "settings"))
        );
        // Our deletion is announced; someone else's is drift.
        let id = ObjectId::new("", "ConfigMap", Some("web"), "settings");
        owner.deleting(&id);
        watch.deleted(&(Some("web".into()), "settings".into()));
        assert!(drifts.try_recv().is_err());
        watch.applied(&meta(&json!([ours_again])), false);
        watch.deleted(&(Some("web".into()), "settings".into()));
        assert_eq!(drifts.try_recv().unwrap().kind, DriftKind::Deleted);
    }

    #[tokio::test]
    async fn objects_of_sets_no_target_here_holds_are_not_kept() {
        let hub = Hub::new(&dummy_client());
        let mut watch = config_map_watch(&hub);
        let theirs = json!({"manager": "kubectl", "operation": "Apply",
            "fieldsV1": {"f:data": {}}, "time": "2026-01-01T00:00:00Z"});
        watch.applied(&meta(&json!([theirs])), false);
        assert!(watch.known.is_empty());
        let owner = Owner::new(Arc::clone(&hub), "applyset-abc", "driftless");
        lock(&hub.owners.0).insert("applyset-abc".into(), Arc::downgrade(&owner));
        watch.applied(&meta(&json!([theirs])), false);
        assert_eq!(watch.known.len(), 1);
    }

    /// The ConfigMap watch of `hub`, not running.
    fn config_map_watch(hub: &Hub) -> KindWatch {
        KindWatch {
            kind: GroupKind::new("", "ConfigMap"),
            owners: Arc::clone(&hub.owners),
            known: HashMap::new(),
        }
    }

    fn dummy_client() -> kube::Client {
        let service = tower::service_fn(|_request: http::Request<kube::client::Body>| async {
            Err::<http::Response<kube::client::Body>, std::io::Error>(std::io::Error::other(
                "no server in this test",
            ))
        });
        kube::Client::new(service, "default")
    }
}
