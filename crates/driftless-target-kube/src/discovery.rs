//! Which resource serves a kind, and whether it is namespaced: API discovery, one
//! group version at a time, cached and refreshed when a kind is not found.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use kube::Client;
use kube::core::GroupVersion;
use kube::discovery::{ApiResource, Scope};

use crate::call::{self, CallContext};
use crate::error::Error;

/// One served resource.
#[derive(Debug, Clone)]
pub(crate) struct Resource {
    pub(crate) api: ApiResource,
    pub(crate) namespaced: bool,
}

impl Resource {
    /// `plural.group` (or `plural` for the core group), as RBAC names it.
    pub(crate) fn name(&self) -> String {
        if self.api.group.is_empty() {
            self.api.plural.clone()
        } else {
            format!("{}.{}", self.api.plural, self.api.group)
        }
    }
}

type Kinds = Arc<HashMap<String, Resource>>;

#[derive(Debug, Default)]
struct Cache {
    /// (group, version) -> kind -> resource; an empty map for a version not served.
    versions: HashMap<(String, String), Kinds>,
    /// (group, kind) -> a resource serving it, for lookups without a version.
    kinds: HashMap<(String, String), Resource>,
}

/// The discovery cache of a target.
#[derive(Debug, Default)]
pub(crate) struct Discovery {
    cache: Mutex<Cache>,
}

impl Discovery {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The resource serving `kind` in `api_version`, asking the server when the group
    /// version was never fetched or (refreshing it) when it lacks the kind. `None` when
    /// the server does not serve it.
    pub(crate) async fn resolve(
        &self,
        client: &Client,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<Resource>, Error> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let key = (group.to_owned(), version.to_owned());
        let cached = self.lock().versions.get(&key).cloned();
        if let Some(kinds) = &cached
            && let Some(resource) = kinds.get(kind)
        {
            return Ok(Some(resource.clone()));
        }
        let kinds = self.fetch(client, group, version).await?;
        Ok(kinds.get(kind).cloned())
    }

    /// Like [`resolve`](Self::resolve), but an unserved kind is [`Error::UnknownKind`].
    pub(crate) async fn require(
        &self,
        client: &Client,
        api_version: &str,
        kind: &str,
    ) -> Result<Resource, Error> {
        self.resolve(client, api_version, kind)
            .await?
            .ok_or_else(|| Error::UnknownKind {
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
            })
    }

    /// A resource serving `kind` of `group` in any version (the preferred one when the
    /// group had to be discovered).
    pub(crate) async fn resolve_group_kind(
        &self,
        client: &Client,
        group: &str,
        kind: &str,
    ) -> Result<Option<Resource>, Error> {
        let key = (group.to_owned(), kind.to_owned());
        if let Some(resource) = self.lock().kinds.get(&key) {
            return Ok(Some(resource.clone()));
        }
        let found = match kube::discovery::group(client, group).await {
            Ok(api_group) => api_group.recommended_kind(kind),
            Err(kube::Error::Discovery(_)) => None,
            Err(e) if call::status_code(&e) == Some(404) => None,
            Err(e) => return Err(discovery_error(group, e)),
        };
        let found = found.map(|(api, caps)| Resource {
            api,
            namespaced: caps.scope == Scope::Namespaced,
        });
        if let Some(resource) = &found {
            self.lock().kinds.insert(key, resource.clone());
        }
        Ok(found)
    }

    /// Forgets what is cached about a group, e.g. after one of its CRDs was applied.
    pub(crate) fn invalidate(&self, group: &str) {
        let mut cache = self.lock();
        cache.versions.retain(|(g, _), _| g != group);
        cache.kinds.retain(|(g, _), _| g != group);
    }

    async fn fetch(&self, client: &Client, group: &str, version: &str) -> Result<Kinds, Error> {
        let gv = GroupVersion::gv(group, version);
        let what = format!("discover {}", gv.api_version());
        let result = call::retrying(&what, || kube::discovery::pinned_group(client, &gv)).await;
        let kinds: HashMap<String, Resource> = match result {
            Ok(api_group) => api_group
                .versioned_resources(version)
                .into_iter()
                .map(|(api, caps)| {
                    let resource = Resource {
                        api,
                        namespaced: caps.scope == Scope::Namespaced,
                    };
                    (resource.api.kind.clone(), resource)
                })
                .collect(),
            Err(e) if call::status_code(&e) == Some(404) => HashMap::new(),
            Err(e) => return Err(discovery_error(&gv.api_version(), e)),
        };
        tracing::debug!(group_version = %gv.api_version(), kinds = kinds.len(), "discovered");
        let kinds = Arc::new(kinds);
        let mut cache = self.lock();
        for (kind, resource) in kinds.iter() {
            cache
                .kinds
                .entry((group.to_owned(), kind.clone()))
                .or_insert_with(|| resource.clone());
        }
        cache
            .versions
            .insert((group.to_owned(), version.to_owned()), kinds.clone());
        Ok(kinds)
    }
}

fn discovery_error(what: &str, error: kube::Error) -> Error {
    CallContext {
        verb: "get",
        resource: &format!("API discovery of {what}"),
        namespace: None,
        id: None,
    }
    .error(error)
}
