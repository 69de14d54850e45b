//! Leader election among replicas with a Kubernetes Lease: only the leader reconciles.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::LeaderElection;
use driftless::target_kube::lease::{LeaseLock, LeaseOptions, LeaseState};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{Agent, Error, error_chain};

/// The running election: renews or contends for the Lease until stopped.
#[derive(Debug)]
pub struct Election {
    lock: Arc<LeaseLock>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Election {
    /// Connects to the API server and starts contending; `leader` follows the outcome.
    pub async fn start(
        config: &LeaderElection,
        leader: watch::Sender<bool>,
        agent: Arc<Agent>,
    ) -> Result<Self, Error> {
        let identity = config.identity.clone().unwrap_or_else(default_identity);
        let options = LeaseOptions::new(&config.namespace, &config.name, &identity)
            .duration(config.lease_duration);
        let lock = Arc::new(
            LeaseLock::connect(options)
                .await
                .map_err(|source| Error::Lease {
                    lease: format!("{}/{}", config.namespace, config.name),
                    source: Box::new(source),
                })?,
        );
        tracing::info!(lease = %format!("{}/{}", config.namespace, config.name), %identity, "contending for leadership");
        let stop = CancellationToken::new();
        let task = tokio::spawn(contend(Arc::clone(&lock), leader, agent, stop.clone()));
        Ok(Self { lock, stop, task })
    }

    /// Stops renewing and gives the Lease up, so another replica takes over at once.
    /// Called after the reconciles in flight have finished.
    pub async fn release(self) {
        self.stop.cancel();
        if let Err(error) = self.task.await {
            tracing::error!(%error, "the leader election task failed");
        }
        if let Err(error) = self.lock.release().await {
            tracing::warn!(error = %error_chain(&error), "cannot release the lease");
        }
    }
}

async fn contend(
    lock: Arc<LeaseLock>,
    leader: watch::Sender<bool>,
    agent: Arc<Agent>,
    stop: CancellationToken,
) {
    let duration = lock.options().duration;
    let period = lock.options().retry_period();
    let mut leading = false;
    let mut last_renewal = Instant::now();
    loop {
        match lock.try_acquire_or_renew().await {
            Ok(LeaseState::Held) => {
                last_renewal = Instant::now();
                if !leading {
                    tracing::info!("became the leader: reconciling");
                    leading = true;
                    set(&leader, &agent, true);
                }
            }
            Ok(LeaseState::HeldBy(holder)) => {
                if leading {
                    tracing::warn!(%holder, "lost the lease: no longer reconciling");
                    leading = false;
                    set(&leader, &agent, false);
                } else {
                    tracing::debug!(%holder, "following");
                }
            }
            Ok(LeaseState::Free) => {
                if leading {
                    leading = false;
                    set(&leader, &agent, false);
                }
            }
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "leader election request failed");
                // Step down before the hold can lapse, so two replicas never both act.
                if leading && last_renewal.elapsed() + period >= duration {
                    tracing::warn!("cannot renew the lease in time: no longer reconciling");
                    leading = false;
                    set(&leader, &agent, false);
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(period.max(Duration::from_millis(200))) => {}
            () = stop.cancelled() => return,
        }
    }
}

fn set(leader: &watch::Sender<bool>, agent: &Agent, leading: bool) {
    agent.set_leader(leading);
    leader.send_replace(leading);
}

/// `$POD_NAME`, else the host name and process id.
pub(crate) fn default_identity() -> String {
    if let Ok(pod) = std::env::var("POD_NAME")
        && !pod.is_empty()
    {
        return pod;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "driftless-agent".into());
    format!("{host}-{}", std::process::id())
}
