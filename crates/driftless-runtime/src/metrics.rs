//! Prometheus metrics, served at `/metrics` in the OpenMetrics text format.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppResult {
    app: String,
    result: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppLabel {
    app: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppRevision {
    app: String,
    revision: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AppOutcome {
    app: String,
    outcome: String,
}

type HistogramFamily = Family<AppResult, Histogram, fn() -> Histogram>;

/// Every metric the agent exports.
pub(crate) struct Metrics {
    registry: Registry,
    reconciles: Family<AppResult, Counter>,
    durations: HistogramFamily,
    revision: Family<AppRevision, Gauge>,
    drift: Family<AppLabel, Counter>,
    objects: Family<AppLabel, Gauge>,
    webhooks: Family<AppOutcome, Counter>,
    leader: Gauge,
}

fn duration_histogram() -> Histogram {
    // 5 ms to ~160 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 16))
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("driftless");
        let reconciles = Family::<AppResult, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciles, by app and result",
            reconciles.clone(),
        );
        let durations: HistogramFamily = Family::new_with_constructor(duration_histogram);
        registry.register_with_unit(
            "reconcile_duration",
            "How long reconciles take, by app and result",
            prometheus_client::registry::Unit::Seconds,
            durations.clone(),
        );
        let revision = Family::<AppRevision, Gauge>::default();
        registry.register(
            "app_revision",
            "The revision last applied to each app (value 1; the revision is a label)",
            revision.clone(),
        );
        let drift = Family::<AppLabel, Counter>::default();
        registry.register(
            "drift_corrections",
            "Objects put back after they drifted from an unchanged revision",
            drift.clone(),
        );
        let objects = Family::<AppLabel, Gauge>::default();
        registry.register(
            "managed_objects",
            "Objects each app manages",
            objects.clone(),
        );
        let webhooks = Family::<AppOutcome, Counter>::default();
        registry.register(
            "webhooks",
            "Webhook deliveries, by app and outcome (triggered, ignored, rejected)",
            webhooks.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 while this replica reconciles, else 0",
            leader.clone(),
        );
        Self {
            registry,
            reconciles,
            durations,
            revision,
            drift,
            objects,
            webhooks,
            leader,
        }
    }

    pub(crate) fn reconciled(&self, app: &str, succeeded: bool, duration: Duration) {
        let labels = AppResult {
            app: app.to_owned(),
            result: if succeeded { "succeeded" } else { "failed" }.to_owned(),
        };
        self.reconciles.get_or_create(&labels).inc();
        self.durations
            .get_or_create(&labels)
            .observe(duration.as_secs_f64());
    }

    pub(crate) fn applied(
        &self,
        app: &str,
        previous: Option<&str>,
        revision: &str,
        objects: usize,
    ) {
        if let Some(previous) = previous.filter(|p| *p != revision) {
            self.revision.remove(&AppRevision {
                app: app.to_owned(),
                revision: previous.to_owned(),
            });
        }
        self.revision
            .get_or_create(&AppRevision {
                app: app.to_owned(),
                revision: revision.to_owned(),
            })
            .set(1);
        self.objects
            .get_or_create(&AppLabel {
                app: app.to_owned(),
            })
            .set(i64::try_from(objects).unwrap_or(i64::MAX));
    }

    pub(crate) fn drift_corrected(&self, app: &str, objects: usize) {
        self.drift
            .get_or_create(&AppLabel {
                app: app.to_owned(),
            })
            .inc_by(objects as u64);
    }

    pub(crate) fn webhook(&self, app: &str, outcome: &str) {
        self.webhooks
            .get_or_create(&AppOutcome {
                app: app.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub(crate) fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    pub(crate) fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
