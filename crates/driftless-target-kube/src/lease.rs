//! Leader election with a Kubernetes Lease (`coordination.k8s.io/v1`), so that several
//! replicas of a controller can run and exactly one of them acts; and group membership
//! on Leases ([`MemberLease`]), one Lease a replica, for sharding work among them.
//!
//! The holder renews the Lease well within its duration; the others watch it and take
//! it over once it has not been renewed for a whole duration, as measured on their own
//! clock from when they last saw it change (so clock skew between machines does not
//! matter). Every write carries the `resourceVersion` it read: of two replicas trying
//! at once, one wins and the other sees a conflict and stays a follower.
//!
//! ```no_run
//! use std::time::Duration;
//! use driftless_target_kube::lease::{LeaseLock, LeaseOptions, LeaseState};
//!
//! # async fn run() -> Result<(), driftless_target_kube::Error> {
//! let lock = LeaseLock::connect(
//!     LeaseOptions::new("ops", "driftless", "replica-a").duration(Duration::from_secs(15)),
//! )
//! .await?;
//! loop {
//!     match lock.try_acquire_or_renew().await? {
//!         LeaseState::Held => { /* act */ }
//!         LeaseState::HeldBy(other) => { /* wait: `other` acts */ let _ = other; }
//!         LeaseState::Free => { /* nobody holds it */ }
//!     }
//!     tokio::time::sleep(lock.options().retry_period()).await;
//! #   break;
//! }
//! lock.release().await?;
//! # Ok(()) }
//! ```

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, PostParams, Preconditions};

use crate::Error;

/// Which Lease, who we are, and how long a hold lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseOptions {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This replica's identity, written as the holder.
    pub identity: String,
    /// How long a hold lasts without renewal (default 15 s).
    pub duration: Duration,
    /// A kubeconfig file to use instead of `KUBECONFIG`/`~/.kube/config`/in-cluster.
    pub kubeconfig: Option<PathBuf>,
    /// A kubeconfig context to use instead of the current one.
    pub context: Option<String>,
}

impl LeaseOptions {
    /// Options for the Lease `namespace/name`, held as `identity`.
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            duration: Duration::from_secs(15),
            kubeconfig: None,
            context: None,
        }
    }

    /// Sets [`duration`](Self::duration).
    #[must_use]
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    /// Sets [`kubeconfig`](Self::kubeconfig).
    #[must_use]
    pub fn kubeconfig(mut self, path: impl Into<PathBuf>) -> Self {
        self.kubeconfig = Some(path.into());
        self
    }

    /// Sets [`context`](Self::context).
    #[must_use]
    pub fn context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// How often to call [`LeaseLock::try_acquire_or_renew`]: a third of the duration,
    /// so a holder renews twice before its hold could lapse.
    pub fn retry_period(&self) -> Duration {
        self.duration / 3
    }

    /// A client from these options' kubeconfig and context (`KUBECONFIG`,
    /// `~/.kube/config`) or the in-cluster service account.
    async fn client(&self) -> Result<kube::Client, Error> {
        let config =
            crate::kubeconfig::load(self.kubeconfig.as_deref(), self.context.as_deref()).await?;
        kube::Client::try_from(config).map_err(|e| Error::Config {
            context: self.context.clone(),
            reason: "cannot build a client".into(),
            source: Some(e.into()),
        })
    }
}

/// Who holds the Lease after a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseState {
    /// We do: act.
    Held,
    /// Another replica does (its identity): wait.
    HeldBy(String),
    /// Nobody (it was just released, or a take-over lost a race): try again.
    Free,
}

/// A Lease lock on one API server.
pub struct LeaseLock {
    api: Api<Lease>,
    options: LeaseOptions,
    /// The holder and renew time last seen, and when (on our clock) it was first seen.
    observed: Mutex<Option<(String, Instant)>>,
}

impl std::fmt::Debug for LeaseLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseLock")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl LeaseLock {
    /// Connects with the kubeconfig (`KUBECONFIG`, `~/.kube/config`) or the in-cluster
    /// service account.
    pub async fn connect(options: LeaseOptions) -> Result<Self, Error> {
        let client = options.client().await?;
        Ok(Self::with_client(client, options))
    }

    /// A lock using an existing client.
    pub fn with_client(client: kube::Client, options: LeaseOptions) -> Self {
        Self {
            api: Api::namespaced(client, &options.namespace),
            options,
            observed: Mutex::new(None),
        }
    }

    /// The options.
    pub fn options(&self) -> &LeaseOptions {
        &self.options
    }

    /// Takes the Lease if it is free or has lapsed, renews it if we hold it, and says
    /// who holds it now.
    pub async fn try_acquire_or_renew(&self) -> Result<LeaseState, Error> {
        let now = MicroTime(Timestamp::now());
        let seconds = i32::try_from(self.options.duration.as_secs().max(1)).unwrap_or(i32::MAX);
        let Some(current) = self
            .api
            .get_opt(&self.options.name)
            .await
            .map_err(|e| self.api_error("get", e))?
        else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.options.name.clone()),
                    namespace: Some(self.options.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.options.identity.clone()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => {
                    tracing::info!(lease = %self.options.name, identity = %self.options.identity, "acquired the lease");
                    Ok(LeaseState::Held)
                }
                Err(e) if is_conflict(&e) => Ok(LeaseState::Free),
                Err(e) => Err(self.api_error("create", e)),
            };
        };
        let spec = current.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let ours = holder.as_deref() == Some(self.options.identity.as_str());
        if !ours && let Some(holder) = &holder {
            let duration = spec
                .lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .map_or(self.options.duration, Duration::from_secs);
            if !self.lapsed(&spec, holder, duration) {
                return Ok(LeaseState::HeldBy(holder.clone()));
            }
            tracing::info!(lease = %self.options.name, previous = %holder, "the lease lapsed; taking it over");
        }
        let mut lease = current;
        let transitions = spec.lease_transitions.unwrap_or(0);
        lease.spec = Some(LeaseSpec {
            holder_identity: Some(self.options.identity.clone()),
            lease_duration_seconds: Some(seconds),
            acquire_time: if ours {
                spec.acquire_time.clone()
            } else {
                Some(now.clone())
            },
            renew_time: Some(now),
            lease_transitions: Some(if ours { transitions } else { transitions + 1 }),
            ..spec
        });
        match self
            .api
            .replace(&self.options.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                if !ours {
                    tracing::info!(lease = %self.options.name, identity = %self.options.identity, "acquired the lease");
                }
                Ok(LeaseState::Held)
            }
            Err(e) if is_conflict(&e) => Ok(LeaseState::Free),
            Err(e) => Err(self.api_error("update", e)),
        }
    }

    /// Gives the Lease up if we hold it, so another replica takes over at once.
    pub async fn release(&self) -> Result<(), Error> {
        let Some(mut lease) = self
            .api
            .get_opt(&self.options.name)
            .await
            .map_err(|e| self.api_error("get", e))?
        else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.options.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        match self
            .api
            .replace(&self.options.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => {
                tracing::info!(lease = %self.options.name, identity = %self.options.identity, "released the lease");
                Ok(())
            }
            // Someone else changed it meanwhile: it is not ours to release any more.
            Err(e) if is_conflict(&e) => Ok(()),
            Err(e) => Err(self.api_error("update", e)),
        }
    }

    /// Whether another holder's hold lapsed: its record has not changed for `duration`
    /// since we first saw it.
    fn lapsed(&self, spec: &LeaseSpec, holder: &str, duration: Duration) -> bool {
        let record = format!(
            "{holder}/{}",
            spec.renew_time
                .as_ref()
                .map(|t| t.0.to_string())
                .unwrap_or_default()
        );
        let mut observed = self
            .observed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match observed.as_ref() {
            Some((seen, since)) if *seen == record => since.elapsed() >= duration,
            _ => {
                *observed = Some((record, Instant::now()));
                false
            }
        }
    }

    fn api_error(&self, verb: &str, source: kube::Error) -> Error {
        Error::Api {
            verb: verb.to_owned(),
            resource: format!("leases.coordination.k8s.io/{}", self.options.name),
            namespace: Some(self.options.namespace.clone()),
            source: Box::new(source),
        }
    }
}

fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// The label that puts a member's Lease in its group; its value is the group's name.
pub const GROUP_LABEL: &str = "driftless.dev/shard-group";

/// One member of a group as its Lease shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Member {
    /// The member's identity (the Lease's holder).
    pub identity: String,
    /// The Lease's name.
    pub lease: String,
    /// The Lease's `resourceVersion`: it changes with every renewal.
    pub version: String,
}

/// What [`MemberLease::renew`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// The Lease did not exist (first join, or another member removed it as lapsed):
    /// it was created.
    Created,
    /// The Lease was renewed.
    Renewed,
    /// The Lease was renewed, but someone else had written it since our last renewal:
    /// another replica with the same identity, or a renewal of ours that timed out on our
    /// side and went through on the server's.
    Disturbed,
}

/// This replica's membership in a group of replicas: a Lease of its own, named after
/// the group and the identity and labelled [`GROUP_LABEL`]`=<group>`. The member renews
/// it; any member lists the group. Judging who is alive is the caller's: compare
/// [`Member::version`]s over time on your own clock, as [`LeaseLock`] does.
///
/// [`LeaseOptions::name`] is the group's name (a DNS label of up to 63 characters, as
/// it is a label value).
pub struct MemberLease {
    api: Api<Lease>,
    options: LeaseOptions,
    lease: String,
    /// The `resourceVersion` of our last write.
    written: Mutex<Option<String>>,
}

impl std::fmt::Debug for MemberLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberLease")
            .field("options", &self.options)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl MemberLease {
    /// Connects with the kubeconfig (`KUBECONFIG`, `~/.kube/config`) or the in-cluster
    /// service account.
    pub async fn connect(options: LeaseOptions) -> Result<Self, Error> {
        let client = options.client().await?;
        Ok(Self::with_client(client, options))
    }

    /// A membership using an existing client.
    pub fn with_client(client: kube::Client, options: LeaseOptions) -> Self {
        Self {
            api: Api::namespaced(client, &options.namespace),
            lease: member_lease_name(&options.name, &options.identity),
            options,
            written: Mutex::new(None),
        }
    }

    /// The options.
    pub fn options(&self) -> &LeaseOptions {
        &self.options
    }

    /// The name of this member's Lease.
    pub fn lease_name(&self) -> &str {
        &self.lease
    }

    /// Creates this member's Lease, or renews it (a new `renewTime`, so a new
    /// `resourceVersion`).
    pub async fn renew(&self) -> Result<Renewal, Error> {
        let now = MicroTime(Timestamp::now());
        let seconds = i32::try_from(self.options.duration.as_secs().max(1)).unwrap_or(i32::MAX);
        let current = self
            .api
            .get_opt(&self.lease)
            .await
            .map_err(|e| self.api_error("get", &self.lease, e))?;
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.lease.clone()),
                    namespace: Some(self.options.namespace.clone()),
                    labels: Some([(GROUP_LABEL.to_owned(), self.options.name.clone())].into()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.options.identity.clone()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    ..LeaseSpec::default()
                }),
            };
            let created = self
                .api
                .create(&PostParams::default(), &lease)
                .await
                .map_err(|e| self.api_error("create", &self.lease, e))?;
            self.wrote(created.metadata.resource_version);
            return Ok(Renewal::Created);
        };
        let disturbed = {
            let written = self
                .written
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            written.is_some() && *written != lease.metadata.resource_version
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        spec.holder_identity = Some(self.options.identity.clone());
        spec.lease_duration_seconds = Some(seconds);
        spec.renew_time = Some(now);
        lease
            .metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(GROUP_LABEL.to_owned(), self.options.name.clone());
        // The resourceVersion read above guards the write: had another member removed
        // the Lease meanwhile, this fails and the next call creates it anew.
        let replaced = self
            .api
            .replace(&self.lease, &PostParams::default(), &lease)
            .await
            .map_err(|e| self.api_error("update", &self.lease, e))?;
        self.wrote(replaced.metadata.resource_version);
        Ok(if disturbed {
            Renewal::Disturbed
        } else {
            Renewal::Renewed
        })
    }

    fn wrote(&self, version: Option<String>) {
        *self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = version;
    }

    /// The group's members (this one included once it has joined), sorted by Lease name.
    /// The list is read from the server's storage, not a cache, so it is current.
    pub async fn members(&self) -> Result<Vec<Member>, Error> {
        let params = ListParams::default().labels(&format!("{GROUP_LABEL}={}", self.options.name));
        let list = self
            .api
            .list(&params)
            .await
            .map_err(|e| self.api_error("list", "", e))?;
        let mut members: Vec<Member> = list
            .items
            .into_iter()
            .filter_map(|lease| {
                let identity = lease
                    .spec
                    .as_ref()?
                    .holder_identity
                    .clone()
                    .filter(|h| !h.is_empty())?;
                Some(Member {
                    identity,
                    lease: lease.metadata.name?,
                    version: lease.metadata.resource_version?,
                })
            })
            .collect();
        members.sort_by(|a, b| a.lease.cmp(&b.lease));
        Ok(members)
    }

    /// Deletes the Lease `lease` of a member judged gone, unless its version is no longer
    /// `version` (it renewed after all). `Ok(false)`: it changed or was already gone.
    pub async fn remove(&self, lease: &str, version: &str) -> Result<bool, Error> {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: Some(version.to_owned()),
                uid: None,
            }),
            ..DeleteParams::default()
        };
        match self.api.delete(lease, &params).await {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) || is_not_found(&e) => Ok(false),
            Err(e) => Err(self.api_error("delete", lease, e)),
        }
    }

    /// Leaves the group: deletes this member's Lease, so the others go on without it
    /// at once.
    pub async fn leave(&self) -> Result<(), Error> {
        match self.api.delete(&self.lease, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(self.api_error("delete", &self.lease, e)),
        }
    }

    fn api_error(&self, verb: &str, name: &str, source: kube::Error) -> Error {
        Error::Api {
            verb: verb.to_owned(),
            resource: if name.is_empty() {
                "leases.coordination.k8s.io".to_owned()
            } else {
                format!("leases.coordination.k8s.io/{name}")
            },
            namespace: Some(self.options.namespace.clone()),
            source: Box::new(source),
        }
    }
}

/// `<group>-<identity as a DNS label, cut to 40 characters>-<8 hex of its hash>`: a
/// valid Lease name for any identity, and two identities never share one.
pub fn member_lease_name(group: &str, identity: &str) -> String {
    use sha2::{Digest, Sha256};
    let slug: String = identity
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    let slug = slug.trim_matches('-');
    let hash = Sha256::digest(identity.as_bytes());
    let short = format!(
        "{:08x}",
        u32::from_be_bytes([hash[0], hash[1], hash[2], hash[3]])
    );
    if slug.is_empty() {
        format!("{group}-{short}")
    } else {
        format!("{group}-{slug}-{short}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_lease_names_are_valid_and_distinct() {
        let a = member_lease_name("agents", "Pod_A.example:1");
        assert!(a.starts_with("agents-pod-a-example-1-"), "{a}");
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
        assert_ne!(a, member_lease_name("agents", "pod-a-example-1"));
        let long = member_lease_name("agents", &"x".repeat(300));
        assert!(long.len() < 63, "{long}");
        assert!(member_lease_name("agents", "...").starts_with("agents-"));
    }
}
