//! Sharding: several replicas share the apps, each app reconciled by one live replica.
//!
//! Each replica holds a membership Lease of its own (see
//! [`driftless::target_kube::lease::MemberLease`]) and lists the group's Leases on every
//! tick. An app goes to the member with the highest rendezvous weight
//! ([`owner`]): when a member leaves, only its apps move; when one joins, only the apps
//! it now wins (about 1/N) move. Apps joined by `dependsOn` are hashed together, by
//! their group's key ([`group_keys`]), so a dependency is ready where its dependents run.
//!
//! No app is reconciled by two replicas at once. With `D` the lease duration and
//! `T = D / 6` the tick (also the time limit of one tick's API calls):
//!
//! - a member acts on its view of the group only while its last good tick (renewal and
//!   list) started less than `D - T` ago; past that it stops every app, cancelling the
//!   reconciles in flight;
//! - another member judges it gone only when a list it *sent* at least `D` after it
//!   first saw the member's current Lease version still shows that version, so the
//!   silent member has stopped by then;
//! - a member that joins (or comes back after such a gap) starts apps only `D` after
//!   its Lease was written: by then every other member has listed the group since, sees
//!   it, and has stopped the apps it lost (a member stops an app as soon as a list shows
//!   it is no longer its own);
//! - so every member that acts is in the view of every other that acts, and rendezvous
//!   hashing over two views that both hold the two members cannot give one app to both.
//!
//! A member that leaves on shutdown stops its apps first, then deletes its Lease, and the
//! others take its apps at their next tick.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
#[cfg(any(feature = "kube", test))]
use std::time::Instant;

use sha2::{Digest, Sha256};
use tokio::sync::watch;

/// The rendezvous weight of `member` for the shard `key`: the first 8 bytes of
/// SHA-256(`member` NUL `key`), so every replica, build and platform computes the same.
pub fn weight(member: &str, key: &str) -> u64 {
    let mut hash = Sha256::new();
    hash.update(member.as_bytes());
    hash.update([0]);
    hash.update(key.as_bytes());
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// The member that owns `key`: the highest weight, ties to the greater identity.
pub fn owner<'a>(members: &'a [String], key: &str) -> Option<&'a str> {
    members
        .iter()
        .max_by_key(|m| (weight(m, key), m.as_str()))
        .map(String::as_str)
}

/// The shard key of every app (name, dependencies): the first name, in sort order, of
/// the apps it is joined to through `dependsOn` either way. Unknown dependencies are
/// ignored.
pub fn group_keys(apps: &[(&str, &[String])]) -> BTreeMap<String, String> {
    let index: BTreeMap<&str, usize> = apps
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (*name, i))
        .collect();
    // Union-find with the smallest name as each set's representative.
    let mut parent: Vec<usize> = (0..apps.len()).collect();
    for (i, (_, deps)) in apps.iter().enumerate() {
        for dep in deps.iter().filter_map(|d| index.get(d.as_str())) {
            let (a, b) = (root(&mut parent, i), root(&mut parent, *dep));
            if a != b {
                let (keep, join) = if apps[a].0 <= apps[b].0 {
                    (a, b)
                } else {
                    (b, a)
                };
                parent[join] = keep;
            }
        }
    }
    (0..apps.len())
        .map(|i| {
            let r = root(&mut parent, i);
            (apps[i].0.to_owned(), apps[r].0.to_owned())
        })
        .collect()
}

/// The representative of `i`'s set, shortening the path on the way.
fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// This replica's view of the group, as the agent follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    me: String,
    members: Arc<Vec<String>>,
    active: bool,
}

impl Membership {
    /// The view of `me` among `members` (sorted and deduplicated here); `active`: whether
    /// `me` may reconcile now.
    pub fn new(me: impl Into<String>, mut members: Vec<String>, active: bool) -> Self {
        members.sort();
        members.dedup();
        Self {
            me: me.into(),
            members: Arc::new(members),
            active,
        }
    }

    /// A replica that has not joined yet: it owns nothing.
    pub fn joining(me: impl Into<String>) -> Self {
        Self::new(me, Vec::new(), false)
    }

    /// This replica's identity.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// The live members, sorted.
    pub fn members(&self) -> &[String] {
        &self.members
    }

    /// Whether this replica reconciles at all now (joined long enough, and its view is
    /// current).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The member that owns the shard `key` in this view.
    pub fn owner(&self, key: &str) -> Option<&str> {
        owner(&self.members, key)
    }

    /// Whether this replica reconciles the shard `key` now.
    pub fn owns(&self, key: &str) -> bool {
        self.active && self.owner(key) == Some(self.me.as_str())
    }
}

/// Waits until this replica owns the shard `key`; `false` when the view's sender is gone.
pub(crate) async fn wait_owned(view: &mut watch::Receiver<Membership>, key: &str) -> bool {
    view.wait_for(|m| m.owns(key)).await.is_ok()
}

/// Returns once this replica no longer owns the shard `key` (or the sender is gone).
pub(crate) async fn wait_lost(view: &mut watch::Receiver<Membership>, key: &str) {
    let _ = view.wait_for(|m| !m.owns(key)).await;
}

#[cfg(any(feature = "kube", test))] // the membership loop needs the Kubernetes API
/// One member as last seen: its Lease version, and when (on our clock) we first saw it.
#[derive(Debug, Clone)]
struct Seen {
    identity: String,
    version: String,
    since: Instant,
}

#[cfg(any(feature = "kube", test))] // the membership loop needs the Kubernetes API
/// Tells live members from gone ones by their Lease versions over time, on this
/// replica's clock only (clock skew between machines does not matter).
#[derive(Debug)]
pub(crate) struct Tracker {
    duration: Duration,
    seen: BTreeMap<String, Seen>,
}

#[cfg(any(feature = "kube", test))] // the membership loop needs the Kubernetes API
/// What one list of the group shows.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Observed {
    /// Identities of the members judged alive.
    pub(crate) live: Vec<String>,
    /// Lease names and versions of members judged gone.
    pub(crate) gone: Vec<(String, String)>,
}

#[cfg(any(feature = "kube", test))] // the membership loop needs the Kubernetes API
impl Tracker {
    pub(crate) fn new(duration: Duration) -> Self {
        Self {
            duration,
            seen: BTreeMap::new(),
        }
    }

    /// Takes in a list of `(lease, identity, version)` that was sent at `sent` and
    /// answered at `answered`. A version not seen before counts from `answered` (it was
    /// written before then); one unchanged since a time `duration` or more before `sent`
    /// is gone.
    pub(crate) fn observe(
        &mut self,
        members: impl IntoIterator<Item = (String, String, String)>,
        sent: Instant,
        answered: Instant,
    ) -> Observed {
        let mut next = BTreeMap::new();
        let mut observed = Observed::default();
        for (lease, identity, version) in members {
            let seen = match self.seen.remove(&lease) {
                Some(seen) if seen.version == version && seen.identity == identity => seen,
                _ => Seen {
                    identity,
                    version,
                    since: answered,
                },
            };
            if sent >= seen.since + self.duration {
                observed.gone.push((lease, seen.version));
            } else {
                observed.live.push(seen.identity.clone());
                next.insert(lease, seen);
            }
        }
        self.seen = next;
        observed.live.sort();
        observed
    }

    /// When a list should next be sent to tell whether a silent member is gone.
    pub(crate) fn next_verdict(&self) -> Option<Instant> {
        self.seen.values().map(|s| s.since + self.duration).min()
    }
}

/// The tick of a lease duration: how often a member renews and lists, and the time
/// limit of one tick's calls.
pub fn tick(lease_duration: Duration) -> Duration {
    (lease_duration / 6).max(Duration::from_millis(100))
}

#[cfg(feature = "kube")]
pub use running::Sharding;

#[cfg(feature = "kube")]
mod running {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use driftless::target_kube::lease::{LeaseOptions, MemberLease, Renewal};
    use tokio::sync::watch;
    use tokio::task::JoinHandle;
    use tokio_util::sync::CancellationToken;

    use super::{Membership, Tracker, tick};
    use crate::config;
    use crate::{Agent, Error, error_chain};

    /// This replica's membership: renews its Lease, follows the group, and publishes
    /// the view the agent's app loops follow, until [`leave`](Self::leave).
    #[derive(Debug)]
    pub struct Sharding {
        lease: Arc<MemberLease>,
        stop: CancellationToken,
        task: JoinHandle<()>,
    }

    impl Sharding {
        /// Connects to the API server and starts taking part; `view` follows the group.
        pub async fn start(
            config: &config::Sharding,
            view: watch::Sender<Membership>,
            agent: Arc<Agent>,
        ) -> Result<Self, Error> {
            let identity = config
                .identity
                .clone()
                .unwrap_or_else(crate::leader::default_identity);
            let options = LeaseOptions::new(&config.namespace, &config.name, &identity)
                .duration(config.lease_duration);
            let lease = Arc::new(MemberLease::connect(options).await.map_err(|source| {
                Error::Sharding {
                    group: format!("{}/{}", config.namespace, config.name),
                    source: Box::new(source),
                }
            })?);
            view.send_replace(Membership::joining(identity.clone()));
            tracing::info!(
                group = %format!("{}/{}", config.namespace, config.name),
                lease = %lease.lease_name(),
                %identity,
                "joining the shard group"
            );
            let stop = CancellationToken::new();
            let member = Member {
                lease: Arc::clone(&lease),
                view,
                agent,
                identity,
                duration: config.lease_duration,
            };
            let task = tokio::spawn(member.run(stop.clone()));
            Ok(Self { lease, stop, task })
        }

        /// Stops taking part and deletes this replica's Lease, so the others take its
        /// apps at once. Call it after the app loops have stopped.
        pub async fn leave(self) {
            self.stop.cancel();
            if let Err(error) = self.task.await {
                tracing::error!(%error, "the sharding task failed");
            }
            match self.lease.leave().await {
                Ok(()) => tracing::info!("left the shard group"),
                Err(error) => {
                    tracing::warn!(error = %error_chain(&error), "cannot delete the membership lease");
                }
            }
        }
    }

    /// The state of the membership loop.
    struct Member {
        lease: Arc<MemberLease>,
        view: watch::Sender<Membership>,
        agent: Arc<Agent>,
        identity: String,
        duration: Duration,
    }

    /// What a good tick learned.
    struct Tick {
        renewal: Renewal,
        renewed: Instant,
        members: Vec<(String, String, String)>,
        sent: Instant,
        answered: Instant,
    }

    impl Member {
        async fn run(self, stop: CancellationToken) {
            let tick = tick(self.duration);
            let hold = self.duration.saturating_sub(tick);
            let mut tracker = Tracker::new(self.duration);
            // Since when our membership has been continuous, and until when our view
            // may be acted on.
            let mut joined: Option<Instant> = None;
            let mut valid_until: Option<Instant> = None;
            loop {
                let started = Instant::now();
                let outcome = self.tick_within(tick, valid_until, &stop).await;
                let Some(outcome) = outcome else { return };
                let mut wake = started + tick;
                match outcome {
                    Ok(done) => {
                        let gap = valid_until.is_none_or(|until| started >= until);
                        if done.renewal == Renewal::Disturbed {
                            tracing::error!(
                                identity = %self.identity,
                                "the membership lease was written by someone else since the last renewal: is another replica using this identity? Waiting a lease duration before reconciling"
                            );
                        }
                        if gap || done.renewal != Renewal::Renewed {
                            if joined.is_some() {
                                tracing::warn!(
                                    "rejoining the shard group after a gap: waiting a lease duration before reconciling"
                                );
                            }
                            joined = Some(done.renewed);
                        }
                        valid_until = Some(started + hold);
                        let observed = tracker.observe(done.members, done.sent, done.answered);
                        for (lease, version) in &observed.gone {
                            self.remove(lease, version).await;
                        }
                        let mut members = observed.live;
                        members.push(self.identity.clone());
                        let since = joined.unwrap_or(done.renewed);
                        let active = since.elapsed() >= self.duration;
                        self.publish(Membership::new(self.identity.clone(), members, active));
                        if !active {
                            wake = wake.min(since + self.duration);
                        }
                        if let Some(verdict) = tracker.next_verdict() {
                            wake = wake.min(verdict.max(Instant::now()));
                        }
                    }
                    Err(message) => {
                        tracing::warn!(error = %message, "shard membership tick failed");
                    }
                }
                if !self.sleep_until(wake.into(), valid_until, &stop).await {
                    return;
                }
            }
        }

        /// One tick (renew, then list) within `limit`, stepping down meanwhile when the
        /// view expires. `None`: stopped.
        async fn tick_within(
            &self,
            limit: Duration,
            valid_until: Option<Instant>,
            stop: &CancellationToken,
        ) -> Option<Result<Tick, String>> {
            let work = tokio::time::timeout(limit, self.tick_once());
            tokio::pin!(work);
            let mut expired = false;
            loop {
                let deadline = valid_until.filter(|_| !expired);
                tokio::select! {
                    result = &mut work => {
                        return Some(match result {
                            Ok(Ok(tick)) => Ok(tick),
                            Ok(Err(error)) => Err(error_chain(&error)),
                            Err(_) => Err(format!("no answer within {limit:?}")),
                        });
                    }
                    () = sleep_until_opt(deadline) => {
                        expired = true;
                        self.step_down();
                    }
                    () = stop.cancelled() => return None,
                }
            }
        }

        async fn tick_once(&self) -> Result<Tick, driftless::target_kube::Error> {
            let renewal = self.lease.renew().await?;
            let renewed = Instant::now();
            let sent = Instant::now();
            let members = self.lease.members().await?;
            let answered = Instant::now();
            Ok(Tick {
                renewal,
                renewed,
                members: members
                    .into_iter()
                    .filter(|m| m.lease != self.lease.lease_name())
                    .map(|m| (m.lease, m.identity, m.version))
                    .collect(),
                sent,
                answered,
            })
        }

        /// Sleeps until `wake`; steps down if the view expires first. `false`: stopped.
        async fn sleep_until(
            &self,
            wake: tokio::time::Instant,
            valid_until: Option<Instant>,
            stop: &CancellationToken,
        ) -> bool {
            let deadline = valid_until.filter(|until| *until < wake.into_std());
            tokio::select! {
                () = tokio::time::sleep_until(wake) => true,
                () = sleep_until_opt(deadline) => {
                    self.step_down();
                    tokio::select! {
                        () = tokio::time::sleep_until(wake) => true,
                        () = stop.cancelled() => false,
                    }
                }
                () = stop.cancelled() => false,
            }
        }

        /// Our view is too old to act on: stop every app.
        fn step_down(&self) {
            let current = self.view.borrow().clone();
            if current.is_active() {
                tracing::warn!("cannot renew the membership lease in time: no longer reconciling");
                self.publish(Membership::new(
                    current.me().to_owned(),
                    current.members().to_vec(),
                    false,
                ));
            }
        }

        fn publish(&self, next: Membership) {
            let previous = self.view.borrow().clone();
            if previous == next {
                return;
            }
            if previous.members() != next.members() || previous.is_active() != next.is_active() {
                tracing::info!(
                    members = ?next.members(),
                    active = next.is_active(),
                    "shard group changed"
                );
            }
            self.agent.set_leader(next.is_active());
            self.view.send_replace(next);
        }

        /// Deletes the Lease of a member judged gone (best effort: any member may).
        async fn remove(&self, lease: &str, version: &str) {
            match self.lease.remove(lease, version).await {
                Ok(true) => {
                    tracing::info!(%lease, "a member stopped renewing its lease: removed it, its apps move");
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::debug!(error = %error_chain(&error), "cannot remove a lapsed membership lease");
                }
            }
        }
    }

    async fn sleep_until_opt(deadline: Option<Instant>) {
        match deadline {
            Some(at) => tokio::time::sleep_until(at.into()).await,
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn names(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}-{i}")).collect()
    }

    #[test]
    fn weights_are_stable_across_builds() {
        // Fixed values: a change here would move every app of every running group.
        assert_eq!(weight("replica-a", "web"), weight("replica-a", "web"));
        assert_ne!(weight("replica-a", "web"), weight("replica-b", "web"));
        assert_ne!(weight("a", "bweb"), weight("ab", "web"));
        let expected = {
            let digest = Sha256::digest(b"replica-a\0web");
            u64::from_be_bytes(digest[..8].try_into().unwrap())
        };
        assert_eq!(weight("replica-a", "web"), expected);
    }

    #[test]
    fn apps_spread_evenly() {
        let members = names("replica", 3);
        let apps = names("app", 3000);
        let mut counts = BTreeMap::new();
        for app in &apps {
            *counts.entry(owner(&members, app).unwrap()).or_insert(0) += 1;
        }
        for (member, count) in counts {
            assert!((900..=1100).contains(&count), "{member}: {count}");
        }
    }

    #[test]
    fn a_join_moves_about_one_in_n_and_only_to_the_newcomer() {
        let apps = names("app", 3000);
        for n in [2usize, 3, 5, 10] {
            let before = names("replica", n);
            let mut after = before.clone();
            after.push("replica-new".into());
            let mut moved = 0usize;
            for app in &apps {
                let (old, new) = (owner(&before, app).unwrap(), owner(&after, app).unwrap());
                if old != new {
                    assert_eq!(new, "replica-new", "{app} moved between old members");
                    moved += 1;
                }
            }
            let expected = apps.len() / (n + 1);
            assert!(
                moved.abs_diff(expected) <= expected / 5,
                "{n}+1 members: {moved} of {} moved, expected ~{expected}",
                apps.len()
            );
        }
    }

    #[test]
    fn a_leave_moves_only_the_leavers_apps() {
        let apps = names("app", 1000);
        let before = names("replica", 4);
        let after: Vec<String> = before
            .iter()
            .filter(|m| *m != "replica-2")
            .cloned()
            .collect();
        for app in &apps {
            let old = owner(&before, app).unwrap();
            let new = owner(&after, app).unwrap();
            if old != "replica-2" {
                assert_eq!(old, new, "{app}");
            }
        }
    }

    #[test]
    fn dependency_groups_share_a_key() {
        let deps = |d: &[&str]| d.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let (web, api, infra, lone) = (deps(&["api"]), deps(&["infra"]), deps(&[]), deps(&[]));
        let apps: Vec<(&str, &[String])> = vec![
            ("web", &web),
            ("api", &api),
            ("infra", &infra),
            ("lone", &lone),
        ];
        let keys = group_keys(&apps);
        assert_eq!(keys["web"], "api");
        assert_eq!(keys["api"], "api");
        assert_eq!(keys["infra"], "api");
        assert_eq!(keys["lone"], "lone");
    }

    #[test]
    fn membership_owns_only_when_active() {
        let view = Membership::new("b", vec!["a".into(), "b".into()], true);
        let mine = (0..50)
            .map(|i| format!("app-{i}"))
            .find(|k| view.owner(k) == Some("b"))
            .unwrap();
        assert!(view.owns(&mine));
        let idle = Membership::new("b", vec!["a".into(), "b".into()], false);
        assert!(!idle.owns(&mine));
        assert!(!Membership::joining("b").owns(&mine));
    }

    fn entry(lease: &str, version: &str) -> (String, String, String) {
        (lease.into(), format!("id-{lease}"), version.into())
    }

    #[test]
    fn a_silent_member_is_gone_only_after_a_whole_duration() {
        let d = Duration::from_secs(6);
        let mut tracker = Tracker::new(d);
        let t0 = Instant::now();
        let seen = tracker.observe([entry("a", "1"), entry("b", "1")], t0, t0);
        assert_eq!(seen.live, ["id-a", "id-b"]);
        // b renews, a stays silent.
        let t1 = t0 + Duration::from_secs(3);
        let seen = tracker.observe([entry("a", "1"), entry("b", "2")], t1, t1);
        assert_eq!(seen.live, ["id-a", "id-b"]);
        assert_eq!(tracker.next_verdict(), Some(t0 + d));
        // A list sent just before the duration has passed still counts a as live.
        let t2 = (t0 + d).checked_sub(Duration::from_millis(1)).unwrap();
        let seen = tracker.observe([entry("a", "1"), entry("b", "2")], t2, t0 + d);
        assert_eq!(seen.live, ["id-a", "id-b"]);
        let t3 = t0 + d;
        let seen = tracker.observe([entry("a", "1"), entry("b", "2")], t3, t3);
        assert_eq!(seen.live, ["id-b"]);
        assert_eq!(seen.gone, [("a".to_owned(), "1".to_owned())]);
    }

    #[test]
    fn a_new_version_counts_from_when_the_answer_came() {
        let d = Duration::from_secs(6);
        let mut tracker = Tracker::new(d);
        let sent = Instant::now();
        let answered = sent + Duration::from_secs(2);
        tracker.observe([entry("a", "1")], sent, answered);
        // d after sending is not enough: the version may have been written just before
        // the answer.
        let seen = tracker.observe([entry("a", "1")], sent + d, sent + d);
        assert_eq!(seen.live, ["id-a"]);
        let seen = tracker.observe([entry("a", "1")], answered + d, answered + d);
        assert!(seen.live.is_empty());
        // A member that left (its Lease deleted) is forgotten.
        let mut tracker = Tracker::new(d);
        tracker.observe([entry("a", "1")], sent, sent);
        let seen = tracker.observe(Vec::new(), sent, sent);
        assert!(seen.live.is_empty() && seen.gone.is_empty());
        assert_eq!(tracker.next_verdict(), None);
    }
}
