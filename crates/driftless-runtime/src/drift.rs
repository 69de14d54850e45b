//! Drift noticed by watching, turned into reconciles.
//!
//! Each app's loop starts its target's watch ([`Target::watch`]): a Kubernetes target
//! watches the kinds of its inventory, a directory target its files. A change someone
//! else makes to what the app holds reaches `follow`, which waits [`DEBOUNCE`] for
//! more of the same burst (a `kubectl apply` of many objects is one reconcile) and then
//! reconciles the app at once, through the same trigger as `driftless reconcile`. At
//! most [`CONCURRENT`] such reconciles run at a time across all apps, so a burst over
//! many apps cannot start them all at once. The interval stays: it is the full resync
//! and the source poll, and the only way drift is found when a target cannot watch.

use std::sync::Arc;
use std::time::Duration;

use driftless::core::{Drift, Target};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

use crate::Agent;
use crate::error::error_chain;

/// How long a burst of changes is gathered before its one reconcile.
pub const DEBOUNCE: Duration = Duration::from_millis(50);
/// How many reconciles started by drift run at once, over all apps.
pub const CONCURRENT: usize = 8;
/// How long a drift reconcile may hold its turn (e.g. waiting for health) before the
/// next app's may start.
const TURN: Duration = Duration::from_secs(60);

static TURNS: Semaphore = Semaphore::const_new(CONCURRENT);

/// An app's running watch: dropping it stops the watch and its follower.
pub(crate) struct AppWatch {
    _watch: driftless::core::DriftWatch,
    follower: JoinHandle<()>,
}

impl Drop for AppWatch {
    fn drop(&mut self) {
        self.follower.abort();
    }
}

/// Starts the drift watch of the app `name` on `target`. `None` when the target cannot
/// watch (or failed to start: logged, the interval still corrects drift).
pub(crate) fn watch(agent: &Arc<Agent>, name: &str, target: &dyn Target) -> Option<AppWatch> {
    let (send, drifts) = mpsc::unbounded_channel();
    let sink: driftless::core::DriftSink = Arc::new(move |drift: Drift| {
        // The follower is gone only when the watch is being dropped.
        let _ = send.send(drift);
    });
    let watch = match target.watch(sink) {
        Ok(Some(watch)) => watch,
        Ok(None) => {
            tracing::debug!(app = %name, "the target cannot watch: drift is corrected every interval");
            return None;
        }
        Err(error) => {
            tracing::warn!(
                app = %name,
                error = %error_chain(&error),
                "cannot watch the target: drift is corrected every interval only"
            );
            return None;
        }
    };
    tracing::debug!(app = %name, target = %target.describe(), "watching the target for drift");
    let follower = tokio::spawn(follow(Arc::clone(agent), name.to_owned(), drifts));
    Some(AppWatch {
        _watch: watch,
        follower,
    })
}

/// Reconciles the app once per burst of drift, waiting for its turn.
async fn follow(agent: Arc<Agent>, name: String, mut drifts: mpsc::UnboundedReceiver<Drift>) {
    while let Some(first) = drifts.recv().await {
        let burst = gather(first, &mut drifts).await;
        let reason = reason(&burst);
        tracing::info!(app = %name, drift = %reason, "drift noticed: reconciling now");
        let Ok(_turn) = TURNS.acquire().await else {
            return;
        };
        // Changes seen while we wait are corrected by the reconcile we wait for.
        while drifts.try_recv().is_ok() {}
        match agent.trigger_and_wait(&name, &reason, TURN).await {
            Ok(_) => {}
            Err(refused) => {
                tracing::debug!(app = %name, %refused, "drift not corrected now");
            }
        }
    }
}

/// The changes that arrive within [`DEBOUNCE`] of the first.
async fn gather(first: Drift, drifts: &mut mpsc::UnboundedReceiver<Drift>) -> Vec<Drift> {
    let mut burst = vec![first];
    let until = tokio::time::Instant::now() + DEBOUNCE;
    while let Ok(Some(next)) = tokio::time::timeout_at(until, drifts.recv()).await {
        burst.push(next);
    }
    burst
}

/// The trigger recorded in the history: `drift: <first change>` and how many more.
fn reason(burst: &[Drift]) -> String {
    match burst {
        [] => "drift".to_owned(),
        [one] => format!("drift: {one}"),
        [first, rest @ ..] => format!("drift: {first} and {} more", rest.len()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use driftless::core::{DriftKind, ObjectId};

    #[test]
    fn the_reason_names_the_first_change_and_counts_the_rest() {
        let id = ObjectId::new("", "ConfigMap", Some("web"), "settings");
        let one = Drift::new(Some(id), DriftKind::Deleted);
        assert_eq!(reason(std::slice::from_ref(&one)), format!("drift: {one}"));
        let burst = vec![one.clone(), Drift::new(None, DriftKind::Modified)];
        assert_eq!(reason(&burst), format!("drift: {one} and 1 more"));
    }

    #[tokio::test]
    async fn a_burst_is_gathered_until_the_debounce_ends() {
        let (send, mut drifts) = mpsc::unbounded_channel();
        for _ in 0..3 {
            send.send(Drift::new(None, DriftKind::Modified)).unwrap();
        }
        let first = drifts.recv().await.unwrap();
        let late = send.clone();
        let later = tokio::spawn(async move {
            tokio::time::sleep(DEBOUNCE * 4).await;
            late.send(Drift::new(None, DriftKind::Deleted)).unwrap();
        });
        assert_eq!(gather(first, &mut drifts).await.len(), 3);
        later.await.unwrap();
        assert_eq!(drifts.recv().await.unwrap().kind, DriftKind::Deleted);
    }
}
