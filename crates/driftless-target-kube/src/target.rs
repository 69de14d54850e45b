//! [`KubeTarget`]: the [`Target`] trait over the Kubernetes API.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use driftless_core::{
    Action, ApplyOptions, ApplyReport, Change, DriftSink, DriftWatch, Health, HealthReport,
    LiveObject, LiveState, Object, ObjectId, ObjectSet, Plan, Target, TargetError, TargetEvent,
    async_trait,
};
use futures::{StreamExt as _, TryStreamExt as _, stream};
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Map, Value};

use crate::applyset::{self, GroupKind, Inventory, PART_OF_LABEL};
use crate::call::{self, CallContext, Counters, RequestCounts};
use crate::discovery::{Discovery, Resource};
use crate::error::Error;
use crate::options::KubeOptions;
use crate::ssa::{self, Policy};
use crate::{defaults, fields, health};

/// Annotation that keeps an object from being pruned: `driftless.dev/prune: disabled`.
pub const PRUNE_ANNOTATION: &str = "driftless.dev/prune";
/// Annotation that lets driftless delete and recreate an object whose immutable fields
/// changed: `driftless.dev/force: enabled`.
pub const FORCE_ANNOTATION: &str = "driftless.dev/force";

/// Missing desired objects of one kind and namespace up to this many are read one by
/// one; more are found with one list of the namespace.
const GET_LIMIT: usize = 4;

/// Objects per page of a list (kubectl's chunk size).
const LIST_PAGE: u32 = 500;

/// A Kubernetes cluster as a driftless [`Target`].
///
/// Objects are applied with server-side apply under one field manager; what was
/// applied is recorded as a KEP-3659 ApplySet (a parent Secret
/// `applyset-<name>` and the label `applyset.kubernetes.io/part-of` on every member),
/// so `kubectl` sees it too and prune never touches anything else.
pub struct KubeTarget {
    client: Client,
    options: KubeOptions,
    default_namespace: String,
    parent_name: String,
    parent_namespace: String,
    applyset_id: String,
    /// Shared with the other targets of its [`crate::Cluster`], if any.
    discovery: Arc<Discovery>,
    counters: Arc<Counters>,
    /// Objects known to be as desired, so a reconcile asks the server again only when
    /// something changed: id -> (resourceVersion, hash of the body they agree with).
    in_sync: Mutex<HashMap<ObjectId, (String, [u8; 32])>>,
    /// `managedFields` of live objects whose kubectl-made fields are to become ours
    /// before the next apply: id -> (resourceVersion, managedFields).
    takeovers: Mutex<HashMap<ObjectId, (String, Value)>>,
    /// This ApplySet in the cluster's drift watches.
    watch: Arc<crate::watch::Owner>,
}

impl std::fmt::Debug for KubeTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeTarget")
            .field("options", &self.options)
            .field("default_namespace", &self.default_namespace)
            .field("applyset_id", &self.applyset_id)
            .finish_non_exhaustive()
    }
}

impl KubeTarget {
    /// Connects with the kubeconfig (`options.kubeconfig`, else `KUBECONFIG`, else
    /// `~/.kube/config`) and the chosen context, falling back to the in-cluster service
    /// account when there is no kubeconfig and no context was asked for. A target made
    /// this way has a connection of its own; targets that share one are made with
    /// [`Cluster::target`](crate::Cluster::target).
    pub async fn from_kubeconfig(options: KubeOptions) -> Result<Self, Error> {
        let cluster = crate::Cluster::from_kubeconfig(
            options.kubeconfig.as_deref(),
            options.context.as_deref(),
        )
        .await?;
        Ok(cluster.target(options))
    }

    /// A target over an existing client (e.g. one shared with the rest of a program,
    /// or built with its own layers). `options.kubeconfig` and `options.context` are
    /// not used; the namespace defaults to the client's.
    pub fn new(client: kube::Client, options: KubeOptions) -> Self {
        crate::Cluster::new(client).target(options)
    }

    /// A target over `client` (which counts into `counters`), resolving kinds through
    /// `discovery` and watching through `hub`.
    pub(crate) fn assemble(
        client: kube::Client,
        options: KubeOptions,
        default_namespace: String,
        counters: Arc<Counters>,
        discovery: Arc<Discovery>,
        hub: Arc<crate::watch::Hub>,
    ) -> Self {
        // Fixed by configuration, never by the context: a context switch must not
        // re-parent the set.
        let parent_namespace = options
            .applyset_namespace
            .clone()
            .or_else(|| options.namespace.clone())
            .unwrap_or_else(|| "default".to_owned());
        let parent_name = format!("applyset-{}", options.applyset);
        let applyset_id = applyset::applyset_id(&parent_name, &parent_namespace, "Secret", "");
        let watch = crate::watch::Owner::new(hub, &applyset_id, &options.field_manager);
        Self {
            client,
            options,
            default_namespace,
            parent_name,
            parent_namespace,
            applyset_id,
            discovery,
            counters,
            in_sync: Mutex::new(HashMap::new()),
            takeovers: Mutex::new(HashMap::new()),
            watch,
        }
    }

    /// The ApplySet id: the value of `applyset.kubernetes.io/part-of` on every object
    /// this target applied.
    pub fn applyset_id(&self) -> &str {
        &self.applyset_id
    }

    /// The ApplySet parent: the Secret `applyset-<name>` in the ApplySet namespace.
    pub fn applyset_parent(&self) -> ObjectId {
        ObjectId::new(
            "",
            "Secret",
            Some(&self.parent_namespace),
            &self.parent_name,
        )
    }

    /// Deletes every object of the ApplySet (but those annotated
    /// `driftless.dev/prune: disabled`), then its parent: what uninstalling an
    /// application does.
    pub async fn uninstall(&self) -> Result<ApplyReport, Error> {
        let nothing = ObjectSet::new();
        let live = self.live_state(&nothing).await?;
        let changes = live
            .inventory
            .iter()
            .filter_map(|id| {
                let object = live.objects.get(id)?;
                Some(Change {
                    id: id.clone(),
                    action: Action::Prune {
                        live: object.object.clone(),
                    },
                })
            })
            .collect();
        let report = self
            .apply_plan(&Plan { changes }, &ApplyOptions::default().prune(true))
            .await?;
        self.delete_parent().await?;
        Ok(report)
    }

    /// Deletes the ApplySet parent (gone already is fine).
    async fn delete_parent(&self) -> Result<(), Error> {
        let resource = Self::secrets();
        let api = self.api(&resource, Some(&self.parent_namespace));
        let params = DeleteParams::background();
        match call::retrying("delete applyset parent", || {
            api.delete(&self.parent_name, &params)
        })
        .await
        {
            Ok(_) => Ok(()),
            Err(e) if call::status_code(&e) == Some(404) => Ok(()),
            Err(e) => Err(CallContext {
                verb: "delete",
                resource: "secrets",
                namespace: Some(&self.parent_namespace),
                id: Some(&self.applyset_parent()),
            }
            .error(e)),
        }
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn applyset_parent_namespace(&self) -> &str {
        &self.parent_namespace
    }

    /// The namespace given to namespaced objects that name none.
    pub fn default_namespace(&self) -> &str {
        &self.default_namespace
    }

    /// How many API requests this target has sent so far.
    pub fn request_counts(&self) -> RequestCounts {
        self.counters.snapshot()
    }

    fn api(&self, resource: &Resource, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace.filter(|_| resource.namespaced) {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &resource.api),
            None => Api::all_with(self.client.clone(), &resource.api),
        }
    }

    fn secrets() -> Resource {
        Resource {
            api: kube::discovery::ApiResource {
                group: String::new(),
                version: "v1".into(),
                api_version: "v1".into(),
                kind: "Secret".into(),
                plural: "secrets".into(),
            },
            namespaced: true,
        }
    }

    async fn get_parent(&self) -> Result<Option<Value>, Error> {
        let resource = Self::secrets();
        let api = self.api(&resource, Some(&self.parent_namespace));
        let found = call::retrying("get applyset parent", || api.get_opt(&self.parent_name))
            .await
            .map_err(|e| {
                CallContext {
                    verb: "get",
                    resource: "secrets",
                    namespace: Some(&self.parent_namespace),
                    id: None,
                }
                .error(e)
            })?;
        let Some(parent) = found.map(|o| to_value(&o, &resource.api)).transpose()? else {
            return Ok(None);
        };
        // Another tool's ApplySet is not ours to change (KEP-3659).
        let tooling = parent
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(applyset::TOOLING_ANNOTATION))
            .and_then(Value::as_str);
        if let Some(tooling) = tooling
            && tooling.split('/').next() != applyset::TOOLING.split('/').next()
        {
            return Err(Error::ForeignApplySet {
                parent: Box::new(self.applyset_parent()),
                tooling: tooling.to_owned(),
            });
        }
        Ok(Some(parent))
    }

    async fn write_parent(&self, inventory: &Inventory) -> Result<(), Error> {
        let resource = Self::secrets();
        let api = self.api(&resource, Some(&self.parent_namespace));
        let body = inventory.parent(&self.parent_name, &self.parent_namespace, &self.applyset_id);
        let params = PatchParams {
            field_manager: Some(self.options.field_manager.clone()),
            force: true,
            ..PatchParams::default()
        };
        let patch = Patch::Apply(&body);
        tracing::debug!(parent = %self.applyset_parent(), "writing the applyset parent");
        call::retrying("apply applyset parent", || {
            api.patch(&self.parent_name, &params, &patch)
        })
        .await
        .map_err(|e| {
            CallContext {
                verb: "patch",
                resource: "secrets",
                namespace: Some(&self.parent_namespace),
                id: Some(&self.applyset_parent()),
            }
            .error(e)
        })?;
        Ok(())
    }

    /// The objects of `resource` in `namespace` (all namespaces when `None`): our set's
    /// members, or objects of the names given. Only the objects kept are turned into
    /// values, so looking for a few names among many objects holds one page at a time.
    async fn list(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        listing: Listing<'_>,
        settled: &Settled,
    ) -> Result<Vec<Read>, Error> {
        let api = self.api(resource, namespace);
        // In pages, as kubectl lists, each object made compact as it comes: a response
        // for 50,000 objects, parsed whole, would hold them three times over (text,
        // typed, JSON) at once, and their managedFields double their size.
        let mut params = ListParams::default().limit(LIST_PAGE);
        if let Listing::Members = listing {
            params = params.labels(&format!("{PART_OF_LABEL}={}", self.applyset_id));
        }
        let mut values = Vec::new();
        loop {
            let page = call::retrying("list", || api.list(&params))
                .await
                .map_err(|e| {
                    CallContext {
                        verb: "list",
                        resource: &resource.name(),
                        namespace,
                        id: None,
                    }
                    .error(e)
                })?;
            let next = page.metadata.continue_.filter(|token| !token.is_empty());
            for object in page.items {
                if listing.keeps(&object) {
                    values.push(Self::read(to_value(&object, &resource.api)?, settled)?);
                }
            }
            match next {
                Some(token) => params = params.continue_token(&token),
                None => return Ok(values),
            }
        }
    }

    async fn get(
        &self,
        resource: &Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, Error> {
        let api = self.api(resource, namespace);
        let found = call::retrying("get", || api.get_opt(name))
            .await
            .map_err(|e| {
                CallContext {
                    verb: "get",
                    resource: &resource.name(),
                    namespace,
                    id: None,
                }
                .error(e)
            })?;
        found.map(|o| to_value(&o, &resource.api)).transpose()
    }

    /// The live object as driftless sees it, its `managedFields` apart. An object
    /// `settled` at its resourceVersion is not kept: the desired object stands for it,
    /// as the last apply or dry run found it (nothing of it is compared, so its body
    /// would only take memory).
    fn read(mut value: Value, settled: &Settled) -> Result<Read, Error> {
        let managed = take_managed_fields(&mut value);
        let object = Object::new(value.clone()).map_err(|e| decode_error(&value, e))?;
        let id = object.id();
        let version = resource_version(object.as_value());
        let live = match settled.get(&id) {
            Some((at, desired)) if *at == version => LiveObject {
                object: desired.clone(),
                last_applied: None,
                predicted: Some(desired.clone()),
            },
            _ => LiveObject {
                object,
                last_applied: None,
                predicted: None,
            },
        };
        let managed = match live.predicted {
            Some(_) => ManagedFields::of(&Value::Null),
            None => ManagedFields::of(&managed),
        };
        Ok(Read { id, live, managed })
    }

    /// Each desired object known to be in sync, with the resourceVersion it is in sync
    /// at: an apply or a dry run of the same body found it so, and nobody has written it
    /// since while its version is still this one.
    fn settled(&self, desired: &ObjectSet) -> Settled {
        let Ok(known) = self.in_sync.lock() else {
            return Settled::new();
        };
        desired
            .iter()
            .filter_map(|object| {
                let id = object.id();
                let (version, hash) = known.get(&id)?;
                let same_body = body_hash(&apply_body(object, &self.applyset_id)) == *hash;
                same_body.then(|| (id, (version.clone(), object.clone())))
            })
            .collect()
    }

    /// The fields of `live` we own through apply, as `managed` says.
    fn last_applied(
        &self,
        live: &Object,
        managed: &ManagedFields,
    ) -> Result<Option<Object>, Error> {
        let value = live.as_value();
        fields::owned_by(value, &managed.parse(), &self.options.field_manager)
            .map(Object::new)
            .transpose()
            .map_err(|e| decode_error(value, e))
    }

    fn is_member(&self, object: &Object) -> bool {
        object.labels().get(PART_OF_LABEL).and_then(Value::as_str) == Some(&self.applyset_id)
    }

    /// Resolves every distinct (apiVersion, kind) of `objects`; kinds the server does not
    /// serve yet but a CustomResourceDefinition among `objects` defines map to `None`,
    /// others are [`Error::UnknownKind`].
    async fn resolve_all(
        &self,
        objects: &ObjectSet,
    ) -> Result<HashMap<(String, String), Option<Resource>>, Error> {
        let pending = pending_crd_kinds(objects.iter());
        let mut resolved = HashMap::new();
        for object in objects {
            let key = (object.api_version().to_owned(), object.kind().to_owned());
            if resolved.contains_key(&key) {
                continue;
            }
            let resource = self.discovery.resolve(&self.client, &key.0, &key.1).await?;
            let resource = match resource {
                Some(r) => Some(r),
                None if pending.contains_key(&(object.group().to_owned(), key.1.clone())) => None,
                None => {
                    return Err(Error::UnknownKind {
                        api_version: key.0,
                        kind: key.1,
                    });
                }
            };
            resolved.insert(key, resource);
        }
        Ok(resolved)
    }
}

/// The desired objects known to be in sync, with the resourceVersion they are in sync at.
type Settled = HashMap<ObjectId, (String, Object)>;

/// A live object as read, with its `managedFields` apart.
struct Read {
    id: ObjectId,
    /// Without `managedFields`; `last_applied` is filled in where the differ needs it.
    live: LiveObject,
    managed: ManagedFields,
}

/// The `metadata.managedFields` of a live object, kept as compact JSON text until
/// needed: they are as large as the object itself, and only objects not known to be in
/// sync (or to prune) look at them.
#[derive(Debug, Clone, PartialEq)]
struct ManagedFields(Box<str>);

impl ManagedFields {
    fn of(fields: &Value) -> Self {
        Self(fields.to_string().into_boxed_str())
    }

    /// The fields, parsed again (`null` if the text were not JSON, which `of` never
    /// writes).
    fn parse(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }
}

/// Which listed objects [`KubeTarget::list`] keeps.
enum Listing<'a> {
    /// The members of our ApplySet (selected by the server, by label).
    Members,
    /// Objects of these names, whoever holds them.
    Named(&'a HashSet<&'a str>),
}

impl Listing<'_> {
    fn keeps(&self, object: &DynamicObject) -> bool {
        match self {
            Self::Members => true,
            Self::Named(names) => object
                .metadata
                .name
                .as_deref()
                .is_some_and(|name| names.contains(name)),
        }
    }
}

fn to_value(object: &DynamicObject, api: &kube::discovery::ApiResource) -> Result<Value, Error> {
    let mut value = serde_json::to_value(object).map_err(|e| Error::Decode {
        what: format!(
            "{} {}",
            api.kind,
            object.metadata.name.as_deref().unwrap_or("")
        ),
        source: Box::new(e),
    })?;
    if let Some(map) = value.as_object_mut() {
        // List items carry no apiVersion and kind.
        map.insert("apiVersion".into(), Value::String(api.api_version.clone()));
        map.insert("kind".into(), Value::String(api.kind.clone()));
    }
    Ok(value)
}

fn decode_error(value: &Value, e: driftless_core::Error) -> Error {
    Error::Decode {
        what: format!(
            "{} {}",
            value
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("object"),
            value
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
        ),
        source: Box::new(e),
    }
}

/// Kinds defined by CustomResourceDefinitions among `objects`: (group, kind) -> namespaced.
fn pending_crd_kinds<'a>(
    objects: impl Iterator<Item = &'a Object>,
) -> HashMap<(String, String), bool> {
    objects
        .filter(|o| is_crd(o))
        .filter_map(|crd| {
            let spec = crd.as_value().get("spec")?;
            let group = spec.get("group")?.as_str()?;
            let kind = spec.pointer("/names/kind")?.as_str()?;
            let namespaced = spec.get("scope").and_then(Value::as_str) != Some("Cluster");
            Some(((group.to_owned(), kind.to_owned()), namespaced))
        })
        .collect()
}

/// Takes `metadata.managedFields` out of an object and returns it (`null` when absent).
fn take_managed_fields(value: &mut Value) -> Value {
    value
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .and_then(|m| m.shift_remove("managedFields"))
        .unwrap_or(Value::Null)
}

fn resource_version(value: &Value) -> String {
    value
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

/// A digest of an apply body; the same render gives the same bytes.
fn body_hash(body: &Value) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(serde_json::to_vec(body).unwrap_or_default()).into()
}

/// Whether two versions of an object hold the same values, whoever owns them.
fn same_object(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        take_managed_fields(&mut v);
        v
    };
    strip(a) == strip(b)
}

fn is_crd(object: &Object) -> bool {
    object.group() == "apiextensions.k8s.io" && object.kind() == "CustomResourceDefinition"
}

fn is_first_stage(object: &Object) -> bool {
    is_crd(object) || (object.group().is_empty() && object.kind() == "Namespace")
}

/// The body we apply: the desired object with our membership label and without
/// server-set metadata.
fn apply_body(object: &Object, applyset_id: &str) -> Value {
    let mut object = object.clone();
    let metadata = object.metadata_mut();
    for key in [
        "resourceVersion",
        "uid",
        "creationTimestamp",
        "managedFields",
        "generation",
        "selfLink",
    ] {
        metadata.shift_remove(key);
    }
    set_label(metadata, applyset_id);
    let kind = object.kind().to_owned();
    let mut body = object.into_value();
    defaults::spell_for_apply(&kind, &mut body);
    body
}

fn set_label(metadata: &mut Map<String, Value>, applyset_id: &str) {
    let labels = metadata
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if !labels.is_object() {
        *labels = Value::Object(Map::new());
    }
    if let Some(labels) = labels.as_object_mut() {
        labels.insert(PART_OF_LABEL.into(), Value::String(applyset_id.to_owned()));
    }
}

/// What applying one object did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// A (kind, namespace) to list, and the desired objects expected in it.
#[derive(Clone)]
struct Scope {
    resource: Resource,
    namespace: Option<String>,
    desired: Vec<ObjectId>,
}

#[async_trait]
impl Target for KubeTarget {
    async fn record_event(&self, event: &TargetEvent) -> Result<(), TargetError> {
        let parent = crate::events::Parent {
            namespace: &self.parent_namespace,
            name: &self.parent_name,
            component: &self.options.field_manager,
        };
        crate::events::record(&self.client, &parent, event)
            .await
            .map_err(TargetError::from)
    }

    fn describe(&self) -> String {
        match &self.options.context {
            Some(context) => format!("kube:{context}"),
            None => "kube".to_owned(),
        }
    }

    async fn prepare(&self, desired: ObjectSet) -> Result<ObjectSet, TargetError> {
        let resolved = self.resolve_all(&desired).await?;
        let pending = pending_crd_kinds(desired.iter());
        let mut prepared = ObjectSet::new();
        for mut object in desired {
            let key = (object.api_version().to_owned(), object.kind().to_owned());
            let namespaced = match resolved.get(&key) {
                Some(Some(resource)) => resource.namespaced,
                _ => pending
                    .get(&(object.group().to_owned(), key.1))
                    .copied()
                    .unwrap_or(true),
            };
            if namespaced {
                if object.namespace().is_none() {
                    object.set_namespace(Some(&self.default_namespace));
                }
            } else {
                object.set_namespace(None);
            }
            set_label(object.metadata_mut(), &self.applyset_id);
            prepared
                .insert(object)
                .map_err(|e| TargetError::other(Box::new(e)))?;
        }
        Ok(prepared)
    }

    async fn live(&self, desired: &ObjectSet) -> Result<LiveState, TargetError> {
        Ok(self.live_state(desired).await?)
    }

    /// Watches the kinds of the inventory (one metadata-only watch per kind, shared by
    /// every target of the cluster): a change by another field manager, or a deletion
    /// we did not make, is reported at once.
    fn watch(&self, sink: DriftSink) -> Result<Option<DriftWatch>, TargetError> {
        Ok(Some(self.watch.watch(sink)))
    }

    async fn apply(&self, plan: &Plan, options: &ApplyOptions) -> Result<ApplyReport, TargetError> {
        Ok(self.apply_plan(plan, options).await?)
    }

    /// One look at each object: the caller (the pipeline, with its health timeout) owns
    /// the deadline and polls.
    async fn health(&self, ids: &[ObjectId]) -> Result<HealthReport, TargetError> {
        let owned: Vec<ObjectId> = ids.to_vec();
        let checks: Vec<(ObjectId, Health)> = stream::iter(owned)
            .map(|id: ObjectId| async move {
                let health = self.health_of(&id).await?;
                Ok::<_, Error>((id, health))
            })
            .buffered(self.options.concurrency)
            .try_collect()
            .await?;
        Ok(checks.into_iter().collect())
    }
}

impl KubeTarget {
    async fn live_state(&self, desired: &ObjectSet) -> Result<LiveState, Error> {
        let parent = self.get_parent().await?;
        let previous = parent
            .as_ref()
            .map(Inventory::from_parent)
            .unwrap_or_default();
        let resolved = self.resolve_all(desired).await?;
        let scopes = self.scopes(desired, &resolved, &previous).await?;
        // Watch what we hold and what we are about to apply.
        self.watch
            .follow(scopes.iter().map(|scope| scope.resource.api.clone()));

        // One list of members per scope.
        let settled = &self.settled(desired);
        let listed: Vec<Vec<Read>> = stream::iter(scopes.clone())
            .map(|scope: Scope| async move {
                let namespace = scope.namespace.as_deref();
                self.list(&scope.resource, namespace, Listing::Members, settled)
                    .await
            })
            .buffered(self.options.concurrency)
            .try_collect()
            .await?;
        let mut found: HashMap<ObjectId, LiveObject> = HashMap::new();
        let mut managed: HashMap<ObjectId, ManagedFields> = HashMap::new();
        let mut inventory = BTreeSet::new();
        for Read {
            id,
            mut live,
            managed: fields,
        } in listed.into_iter().flatten()
        {
            if self.is_member(&live.object) {
                inventory.insert(id.clone());
            }
            if desired.contains(&id) {
                managed.insert(id.clone(), fields);
            } else {
                // To prune: what we applied is known, as without a prediction.
                live.last_applied = self.last_applied(&live.object, &fields)?;
            }
            found.insert(id, live);
        }

        // Desired objects that are not members may still exist (created by someone
        // else, or before this applyset).
        let extra = self.look_up_missing(scopes, &found, settled).await?;
        for Read {
            id,
            live,
            managed: fields,
        } in extra
        {
            if desired.contains(&id) {
                self.check_owner(&id, &live.object).await?;
                managed.insert(id.clone(), fields);
                found.insert(id, live);
            }
        }

        self.predict_all(desired, &mut found, managed).await?;
        // An object to ignore that does not exist stays so: it stands for itself, so the
        // plan has nothing to do for it.
        for object in desired {
            let id = object.id();
            if !found.contains_key(&id) && Policy::of(object, None)? == Policy::Ignore {
                let stand_in = LiveObject {
                    object: object.clone(),
                    last_applied: None,
                    predicted: Some(object.clone()),
                };
                found.insert(id, stand_in);
            }
        }

        // Deterministic order: desired objects first, then other members by id.
        let mut state = LiveState::default();
        for id in desired.ids() {
            if let Some(live) = found.remove(id) {
                state.objects.insert(id.clone(), live);
            }
        }
        let mut rest: Vec<(ObjectId, LiveObject)> = found.into_iter().collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        state.objects.extend(rest);
        state.inventory = inventory;
        Ok(state)
    }

    /// The desired objects of `scopes` that are not among `found`, where they exist:
    /// read one by one, or, when there are many in a scope, by listing it.
    async fn look_up_missing(
        &self,
        scopes: Vec<Scope>,
        found: &HashMap<ObjectId, LiveObject>,
        settled: &Settled,
    ) -> Result<Vec<Read>, Error> {
        let mut lookups: Vec<(Scope, Vec<ObjectId>)> = Vec::new();
        for scope in scopes {
            let missing: Vec<ObjectId> = scope
                .desired
                .iter()
                .filter(|id| !found.contains_key(*id))
                .cloned()
                .collect();
            if !missing.is_empty() {
                lookups.push((scope, missing));
            }
        }
        let extra: Vec<Vec<Read>> = stream::iter(lookups)
            .map(|(scope, missing): (Scope, Vec<ObjectId>)| async move {
                let namespace = scope.namespace.as_deref();
                if missing.len() > GET_LIMIT {
                    let names = missing.iter().map(ObjectId::name).collect();
                    return self
                        .list(&scope.resource, namespace, Listing::Named(&names), settled)
                        .await;
                }
                let mut values = Vec::new();
                for id in missing {
                    if let Some(v) = self.get(&scope.resource, namespace, id.name()).await? {
                        values.push(Self::read(v, settled)?);
                    }
                }
                Ok(values)
            })
            .buffered(self.options.concurrency)
            .try_collect()
            .await?;
        Ok(extra.into_iter().flatten().collect())
    }

    async fn apply_plan(&self, plan: &Plan, options: &ApplyOptions) -> Result<ApplyReport, Error> {
        let mut report = ApplyReport {
            dry_run: options.dry_run,
            ..ApplyReport::default()
        };
        let mut first: Vec<&Change> = Vec::new();
        let mut second: Vec<&Change> = Vec::new();
        let mut prunes: Vec<&Change> = Vec::new();
        let mut wanted = Inventory::default();
        for change in &plan.changes {
            if let Some(desired) = change.action.desired() {
                wanted.add(
                    GroupKind::new(desired.group(), desired.kind()),
                    desired.namespace(),
                    &self.parent_namespace,
                );
            }
            match &change.action {
                Action::Unchanged { .. } => report.unchanged.push(change.id.clone()),
                Action::Create { desired } | Action::Update { desired, .. } => {
                    if is_first_stage(desired) {
                        first.push(change);
                    } else {
                        second.push(change);
                    }
                }
                Action::Prune { .. } => prunes.push(change),
            }
        }

        // The parent names every kind and namespace before members appear in them.
        let parent = self.get_parent().await?;
        let current = parent.as_ref().map(Inventory::from_parent);
        let before = current.clone().unwrap_or_default().union(&wanted);
        let mut written = current.clone();
        if !options.dry_run && current.as_ref() != Some(&before) {
            self.write_parent(&before).await?;
            written = Some(before.clone());
        }

        let pending = pending_crd_kinds(plan.desired());
        for stage in [first, second] {
            let pending = &pending;
            let owned: Vec<Change> = stage.iter().map(|c| (*c).clone()).collect();
            let outcomes: Vec<(ObjectId, Result<Outcome, Error>)> = stream::iter(owned)
                .map(|change: Change| async move {
                    let result = self.apply_one(&change, options, pending).await;
                    (change.id, result)
                })
                .buffered(self.options.concurrency)
                .collect()
                .await;
            let crds: Vec<&Change> = stage
                .iter()
                .copied()
                .filter(|c| c.action.desired().is_some_and(is_crd))
                .collect();
            let mut failures = Vec::new();
            for (id, outcome) in outcomes {
                match outcome {
                    Ok(Outcome::Created) => report.created.push(id.clone()),
                    Ok(Outcome::Updated) => report.updated.push(id.clone()),
                    Ok(Outcome::Unchanged) => report.unchanged.push(id.clone()),
                    Err(e) => failures.push(e),
                }
            }
            Error::gather(failures)?;
            if !options.dry_run {
                for crd in crds {
                    self.wait_established(&crd.id).await?;
                    if let Some(group) = crd
                        .action
                        .desired()
                        .and_then(|d| d.as_value().pointer("/spec/group").and_then(Value::as_str))
                    {
                        self.discovery.invalidate(group);
                    }
                }
            }
        }

        let kept = self.prune(&prunes, options, &mut report).await?;

        // The parent shrinks to what is left; a prune that leaves nothing removes it,
        // as uninstalling does.
        let after = wanted.union(&kept);
        if !options.dry_run && options.prune && written.is_some() && after.group_kinds.is_empty() {
            self.delete_parent().await?;
        } else if !options.dry_run && written.as_ref() != Some(&after) {
            self.write_parent(&after).await?;
        }
        if !options.dry_run {
            self.follow_inventory(&after).await?;
        }
        Ok(report)
    }

    /// Watches the kinds of `inventory` (new kinds, e.g. of a CRD just applied, are
    /// added; pruned kinds dropped).
    async fn follow_inventory(&self, inventory: &Inventory) -> Result<(), Error> {
        let mut kinds = Vec::with_capacity(inventory.group_kinds.len());
        for gk in &inventory.group_kinds {
            if let Some(resource) = self
                .discovery
                .resolve_group_kind(&self.client, &gk.group, &gk.kind)
                .await?
            {
                kinds.push(resource.api);
            }
        }
        self.watch.follow(kinds);
        Ok(())
    }

    /// What to list: every (kind, namespace) of desired objects, and every kind the
    /// parent names in every namespace it names.
    async fn scopes(
        &self,
        desired: &ObjectSet,
        resolved: &HashMap<(String, String), Option<Resource>>,
        previous: &Inventory,
    ) -> Result<Vec<Scope>, Error> {
        let mut scopes: BTreeMap<(String, String, Option<String>), Scope> = BTreeMap::new();
        for object in desired {
            let key = (object.api_version().to_owned(), object.kind().to_owned());
            let Some(Some(resource)) = resolved.get(&key) else {
                continue; // defined by a CRD not applied yet: nothing live
            };
            let namespace = object.namespace().filter(|_| resource.namespaced);
            scopes
                .entry((
                    object.group().to_owned(),
                    object.kind().to_owned(),
                    namespace.map(str::to_owned),
                ))
                .or_insert_with(|| Scope {
                    resource: resource.clone(),
                    namespace: namespace.map(str::to_owned),
                    desired: Vec::new(),
                })
                .desired
                .push(object.id());
        }
        let mut namespaces: BTreeSet<String> = previous.namespaces.clone();
        namespaces.insert(self.parent_namespace.clone());
        for gk in &previous.group_kinds {
            let Some(resource) = self
                .discovery
                .resolve_group_kind(&self.client, &gk.group, &gk.kind)
                .await?
            else {
                tracing::warn!(group = %gk.group, kind = %gk.kind, "the applyset names a kind the server no longer serves");
                continue;
            };
            let in_namespaces: Vec<Option<String>> = if resource.namespaced {
                namespaces.iter().cloned().map(Some).collect()
            } else {
                vec![None]
            };
            for namespace in in_namespaces {
                scopes
                    .entry((gk.group.clone(), gk.kind.clone(), namespace.clone()))
                    .or_insert_with(|| Scope {
                        resource: resource.clone(),
                        namespace,
                        desired: Vec::new(),
                    });
            }
        }

        Ok(scopes.into_values().collect())
    }

    /// Deletes the plan's prunes (when pruning) in reverse order: other kinds first, then
    /// namespaces, then CRDs. Returns the inventory of the members kept.
    async fn prune(
        &self,
        prunes: &[&Change],
        options: &ApplyOptions,
        report: &mut ApplyReport,
    ) -> Result<Inventory, Error> {
        let mut kept = Inventory::default();
        let mut deletions: [Vec<&Object>; 2] = [Vec::new(), Vec::new()];
        for change in prunes.iter().rev() {
            let Action::Prune { live } = &change.action else {
                continue;
            };
            let keep = !options.prune
                || live.annotation(PRUNE_ANNOTATION) == Some("disabled")
                || !self.is_member(live);
            if keep {
                if options.prune {
                    tracing::info!(id = %change.id, "not pruned: annotated driftless.dev/prune: disabled or not an applyset member");
                    report.prune_skipped.push(change.id.clone());
                }
                kept.add(
                    GroupKind::new(live.group(), live.kind()),
                    live.namespace(),
                    &self.parent_namespace,
                );
            } else {
                deletions[usize::from(is_first_stage(live))].push(live);
            }
        }
        for stage in deletions {
            let dry_run = options.dry_run;
            let owned: Vec<Object> = stage.into_iter().cloned().collect();
            let results: Vec<Result<ObjectId, Error>> = stream::iter(owned)
                .map(|live: Object| async move { self.delete(&live, dry_run).await })
                .buffered(self.options.concurrency)
                .collect()
                .await;
            let mut failures = Vec::new();
            for result in results {
                match result {
                    Ok(id) => report.pruned.push(id),
                    Err(e) => failures.push(e),
                }
            }
            Error::gather(failures)?;
        }

        Ok(kept)
    }

    async fn apply_one(
        &self,
        change: &Change,
        options: &ApplyOptions,
        pending: &HashMap<(String, String), bool>,
    ) -> Result<Outcome, Error> {
        let (desired, outcome) = match &change.action {
            Action::Create { desired } => (desired, Outcome::Created),
            Action::Update { desired, .. } => (desired, Outcome::Updated),
            Action::Unchanged { .. } | Action::Prune { .. } => return Ok(Outcome::Unchanged),
        };
        let id = &change.id;
        match Policy::of(desired, None)? {
            Policy::Ignore => {
                tracing::info!(%id, "not applied: annotated {}: Ignore", ssa::SSA_ANNOTATION);
                return Ok(Outcome::Unchanged);
            }
            Policy::IfNotPresent if outcome == Outcome::Updated => {
                return Ok(Outcome::Unchanged);
            }
            _ => {}
        }
        let defined_here =
            pending.contains_key(&(desired.group().to_owned(), desired.kind().to_owned()));
        let resource = match self
            .discovery
            .resolve(&self.client, desired.api_version(), desired.kind())
            .await?
        {
            Some(resource) => resource,
            // Its CRD was just applied: the server may take a moment to serve it.
            None if defined_here && !options.dry_run => self.await_kind(desired).await?,
            // In a dry run the CRD was not created, so the server cannot check its
            // objects: they would be created.
            None if defined_here => {
                return Ok(outcome);
            }
            None => {
                return Err(Error::UnknownKind {
                    api_version: desired.api_version().to_owned(),
                    kind: desired.kind().to_owned(),
                });
            }
        };
        if outcome == Outcome::Updated && !options.dry_run {
            self.take_over_fields(&resource, desired).await?;
        }
        let body = apply_body(desired, &self.applyset_id);
        match self
            .server_apply(&resource, desired, &body, options.dry_run)
            .await
        {
            Ok(applied) => {
                if !options.dry_run {
                    self.remember_in_sync(id, &applied, &body);
                }
                Ok(outcome)
            }
            Err(Error::Immutable { field, message, .. })
                if options.force || desired.annotation(FORCE_ANNOTATION) == Some("enabled") =>
            {
                tracing::info!(%id, %field, %message, "recreating: an immutable field changed");
                if options.dry_run {
                    return Ok(outcome);
                }
                let namespace = desired.namespace().filter(|_| resource.namespaced);
                self.delete_and_wait(&self.api(&resource, namespace), &resource, id)
                    .await?;
                let applied = self.server_apply(&resource, desired, &body, false).await?;
                self.remember_in_sync(id, &applied, &body);
                Ok(outcome)
            }
            Err(e) => Err(e),
        }
    }

    /// Server-side applies `body` (the apply body of `desired`), taking every field it
    /// declares from any other manager: Git wins. Returns the object as the server
    /// stored it (or, in a dry run, would).
    async fn server_apply(
        &self,
        resource: &Resource,
        desired: &Object,
        body: &Value,
        dry_run: bool,
    ) -> Result<Value, Error> {
        let namespace = desired.namespace().filter(|_| resource.namespaced);
        let api = self.api(resource, namespace);
        let params = PatchParams {
            field_manager: Some(self.options.field_manager.clone()),
            force: true,
            dry_run,
            ..PatchParams::default()
        };
        let resource_name = resource.name();
        let id = desired.id();
        let patch = Patch::Apply(body);
        let applied = call::retrying(if dry_run { "dry-run apply" } else { "apply" }, || {
            api.patch(desired.name(), &params, &patch)
        })
        .await
        .map_err(|e| {
            CallContext {
                verb: "patch",
                resource: &resource_name,
                namespace,
                id: Some(&id),
            }
            .error(e)
        })?;
        to_value(&applied, &resource.api)
    }

    /// Hands the fields kubectl managers own in `desired`'s live object to our field
    /// manager (as `kubectl`'s client-side to server-side upgrade does), so the apply
    /// that follows removes what they added and Git does not declare. Only when `live`
    /// found such fields, the object is applied with `Override`, and it has not changed
    /// since (the write carries the resourceVersion it was read at).
    async fn take_over_fields(&self, resource: &Resource, desired: &Object) -> Result<(), Error> {
        let id = desired.id();
        if Policy::of(desired, None)? != Policy::Override {
            return Ok(());
        }
        let taken = self.takeovers.lock().ok().and_then(|mut t| t.remove(&id));
        let Some((version, managed)) = taken else {
            return Ok(());
        };
        let managed = ssa::take_over(&managed, &self.options.field_manager, desired.api_version());
        let body = serde_json::json!({
            "metadata": {"resourceVersion": version, "managedFields": managed},
        });
        let namespace = desired.namespace().filter(|_| resource.namespaced);
        let api = self.api(resource, namespace);
        let params = PatchParams {
            field_manager: Some(self.options.field_manager.clone()),
            ..PatchParams::default()
        };
        tracing::info!(%id, "taking over the fields kubectl set");
        let patch = Patch::Merge(&body);
        let resource_name = resource.name();
        api.patch(desired.name(), &params, &patch)
            .await
            .map_err(|e| {
                CallContext {
                    verb: "patch",
                    resource: &resource_name,
                    namespace,
                    id: Some(&id),
                }
                .error(e)
            })?;
        Ok(())
    }

    /// Records that the object `applied` (as the server returned it) agrees with `body`.
    fn remember_in_sync(&self, id: &ObjectId, applied: &Value, body: &Value) {
        let version = resource_version(applied);
        if let Ok(mut known) = self.in_sync.lock() {
            known.insert(id.clone(), (version, body_hash(body)));
        }
    }

    /// Fills in [`LiveObject::predicted`] for every desired object that is live and not
    /// predicted yet (settled ones are).
    async fn predict_all(
        &self,
        desired: &ObjectSet,
        found: &mut HashMap<ObjectId, LiveObject>,
        mut managed: HashMap<ObjectId, ManagedFields>,
    ) -> Result<(), Error> {
        let checks: Vec<(Object, Object, ManagedFields)> = desired
            .iter()
            .filter_map(|d| {
                let id = d.id();
                let live = found.get(&id).filter(|live| live.predicted.is_none())?;
                let managed = managed
                    .remove(&id)
                    .unwrap_or_else(|| ManagedFields::of(&Value::Null));
                Some((d.clone(), live.object.clone(), managed))
            })
            .collect();
        let predictions: Vec<(ObjectId, Option<Object>, ManagedFields)> = stream::iter(checks)
            .map(
                |(desired, live, managed): (Object, Object, ManagedFields)| async move {
                    let predicted = self.predict(&desired, &live, &managed).await?;
                    Ok::<_, Error>((desired.id(), predicted, managed))
                },
            )
            .buffered(self.options.concurrency)
            .try_collect()
            .await?;
        for (id, predicted, managed) in predictions {
            let Some(live) = found.get_mut(&id) else {
                continue;
            };
            match &predicted {
                Some(predicted) => self.catch_up(&mut live.object, predicted).await?,
                // The differ compares desired with live itself, and needs what we applied.
                None => live.last_applied = self.last_applied(&live.object, &managed)?,
            }
            live.predicted = predicted;
        }
        Ok(())
    }

    /// When `live` changed between our read and the dry run (a controller writing its
    /// status, say), reads it again: a prediction is only comparable with the object it
    /// was made from, or a status update would pass for drift.
    async fn catch_up(&self, live: &mut Object, predicted: &Object) -> Result<(), Error> {
        let made_from = resource_version(predicted.as_value());
        if made_from == resource_version(live.as_value()) {
            return Ok(());
        }
        let resource = self
            .discovery
            .require(&self.client, live.api_version(), live.kind())
            .await?;
        let fresh = self.get(&resource, live.namespace(), live.name()).await?;
        if let Some(fresh) = fresh.filter(|f| resource_version(f) == made_from) {
            *live = Self::read(fresh, &Settled::new())?.live.object;
        }
        Ok(())
    }

    /// What applying `desired` would make of `live`, as the server says (a server-side
    /// apply dry run, minus the fields a takeover from kubectl would release), or `None`
    /// when the server cannot tell because an immutable field changed (the differ then
    /// compares desired with live itself). Objects known to be in sync since they were
    /// last read are not asked about again.
    async fn predict(
        &self,
        desired: &Object,
        live: &Object,
        managed: &ManagedFields,
    ) -> Result<Option<Object>, Error> {
        let id = desired.id();
        let policy = Policy::of(desired, Some(live))?;
        if matches!(policy, Policy::Ignore | Policy::IfNotPresent) {
            return Ok(Some(live.clone()));
        }
        let body = apply_body(desired, &self.applyset_id);
        let hash = body_hash(&body);
        let version = resource_version(live.as_value());
        let known = self.in_sync.lock().ok().and_then(|k| k.get(&id).cloned());
        if known.as_ref() == Some(&(version.clone(), hash)) {
            return Ok(Some(live.clone()));
        }
        let resource = self
            .discovery
            .require(&self.client, desired.api_version(), desired.kind())
            .await?;
        let mut predicted = match self.server_apply(&resource, desired, &body, true).await {
            Ok(value) => value,
            Err(Error::Immutable { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let dry_run_managed = take_managed_fields(&mut predicted);
        let managed = managed.parse();
        let imperative = (policy == Policy::Override)
            .then(|| ssa::imperative_fields(&managed, &self.options.field_manager))
            .flatten();
        if let Ok(mut takeovers) = self.takeovers.lock() {
            match &imperative {
                Some(_) => takeovers.insert(id.clone(), (version.clone(), managed)),
                None => takeovers.remove(&id),
            };
        }
        if let Some(theirs) = imperative {
            let released = ssa::released(&theirs, &dry_run_managed, &self.options.field_manager);
            fields::strip(&mut predicted, &released);
        }
        if same_object(&predicted, live.as_value())
            && let Ok(mut known) = self.in_sync.lock()
        {
            known.insert(id.clone(), (version, hash));
        }
        Object::new(predicted.clone())
            .map(Some)
            .map_err(|e| decode_error(&predicted, e))
    }

    /// Refuses a desired object that another ApplySet owns, unless adopting.
    async fn check_owner(&self, id: &ObjectId, live: &Object) -> Result<(), Error> {
        let theirs = live.labels().get(PART_OF_LABEL).and_then(Value::as_str);
        let Some(theirs) = theirs.filter(|t| *t != self.applyset_id) else {
            return Ok(());
        };
        if self.options.adopt {
            tracing::info!(%id, owner = %theirs, "adopting an object of another applyset");
            return Ok(());
        }
        Err(Error::OwnedElsewhere {
            id: Box::new(id.clone()),
            owner: self.describe_applyset(theirs).await,
            ours: format!(
                "the ApplySet of Secret {}/{} ({})",
                self.parent_namespace, self.parent_name, self.applyset_id
            ),
        })
    }

    /// Names an ApplySet by its parent when it can be found, else by its id.
    async fn describe_applyset(&self, applyset_id: &str) -> String {
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &Self::secrets().api);
        let params = ListParams::default().labels(&format!("{}={applyset_id}", applyset::ID_LABEL));
        match api.list_metadata(&params).await {
            Ok(list) => {
                if let Some(parent) = list.items.first() {
                    return format!(
                        "the ApplySet of Secret {}/{} ({applyset_id})",
                        parent.metadata.namespace.as_deref().unwrap_or(""),
                        parent.metadata.name.as_deref().unwrap_or("")
                    );
                }
            }
            Err(error) => {
                tracing::debug!(%error, "cannot look up the parent of another applyset");
            }
        }
        format!("the ApplySet {applyset_id}")
    }

    async fn delete_and_wait(
        &self,
        api: &Api<DynamicObject>,
        resource: &Resource,
        id: &ObjectId,
    ) -> Result<(), Error> {
        let resource_name = resource.name();
        let context = CallContext {
            verb: "delete",
            resource: &resource_name,
            namespace: id.namespace(),
            id: Some(id),
        };
        let params = DeleteParams::background();
        self.watch.deleting(id);
        match call::retrying("delete", || api.delete(id.name(), &params)).await {
            Ok(_) => {}
            Err(e) if call::status_code(&e) == Some(404) => {
                self.watch.not_deleted(id);
                return Ok(());
            }
            Err(e) => return Err(context.error(e)),
        }
        let deadline = Instant::now() + self.options.wait_timeout;
        loop {
            let found = call::retrying("get", || api.get_opt(id.name()))
                .await
                .map_err(|e| context.error(e))?;
            if found.is_none() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!("{id} is deleted"),
                    timeout: self.options.wait_timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn delete(&self, live: &Object, dry_run: bool) -> Result<ObjectId, Error> {
        let id = live.id();
        let resource = self
            .discovery
            .require(&self.client, live.api_version(), live.kind())
            .await?;
        let api = self.api(&resource, live.namespace());
        let params = if dry_run {
            DeleteParams::background().dry_run()
        } else {
            self.watch.deleting(&id);
            DeleteParams::background()
        };
        let deleted = call::retrying("delete", || api.delete(live.name(), &params)).await;
        if deleted.is_err() {
            self.watch.not_deleted(&id);
        }
        match deleted {
            Ok(_) => Ok(id),
            Err(e) if call::status_code(&e) == Some(404) => Ok(id),
            Err(e) => Err(CallContext {
                verb: "delete",
                resource: &resource.name(),
                namespace: live.namespace(),
                id: Some(&id),
            }
            .error(e)),
        }
    }

    /// Waits until discovery serves the kind of `desired` (defined by a CRD applied in
    /// the same pass).
    async fn await_kind(&self, desired: &Object) -> Result<Resource, Error> {
        let deadline = Instant::now() + self.options.wait_timeout;
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            self.discovery.invalidate(desired.group());
            if let Some(resource) = self
                .discovery
                .resolve(&self.client, desired.api_version(), desired.kind())
                .await?
            {
                return Ok(resource);
            }
            if Instant::now() >= deadline {
                return Err(Error::UnknownKind {
                    api_version: desired.api_version().to_owned(),
                    kind: desired.kind().to_owned(),
                });
            }
        }
    }

    async fn wait_established(&self, crd: &ObjectId) -> Result<(), Error> {
        let resource = self
            .discovery
            .require(
                &self.client,
                "apiextensions.k8s.io/v1",
                "CustomResourceDefinition",
            )
            .await?;
        let deadline = Instant::now() + self.options.wait_timeout;
        loop {
            if let Some(value) = self.get(&resource, None, crd.name()).await?
                && health::evaluate(&value) == Health::Healthy
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!("{crd} is Established"),
                    timeout: self.options.wait_timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn health_of(&self, id: &ObjectId) -> Result<Health, Error> {
        let Some(resource) = self
            .discovery
            .resolve_group_kind(&self.client, id.group(), id.kind())
            .await?
        else {
            return Ok(Health::Degraded(format!(
                "the API server does not serve kind {} of group {:?}",
                id.kind(),
                id.group()
            )));
        };
        Ok(
            match self.get(&resource, id.namespace(), id.name()).await? {
                Some(value) => health::evaluate(&value),
                None => Health::Degraded("not found".into()),
            },
        )
    }
}
