//! gix progress reported as `tracing` events, at most about once a second per task.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use gix::progress::{Id, MessageLevel, Step, StepShared, Unit};

/// How often a task may report, in milliseconds.
const INTERVAL_MS: u64 = 1000;

/// A gix progress that emits `tracing` events (target `driftless_source_git::progress`)
/// for long-running tasks: receiving objects, resolving deltas, checking out.
pub(crate) struct TracingProgress {
    remote: Arc<str>,
    name: String,
    id: Id,
    max: Option<Step>,
    unit: Option<Unit>,
    step: StepShared,
    start: Instant,
    last_report_ms: Arc<AtomicU64>,
}

impl TracingProgress {
    pub(crate) fn new(remote: &str, name: impl Into<String>) -> Self {
        Self {
            remote: remote.into(),
            name: name.into(),
            id: gix::progress::UNKNOWN,
            max: None,
            unit: None,
            step: StepShared::default(),
            start: Instant::now(),
            last_report_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    fn maybe_report(&self) {
        let elapsed = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_report_ms.load(Ordering::Relaxed);
        if elapsed.saturating_sub(last) < INTERVAL_MS {
            return;
        }
        if self
            .last_report_ms
            .compare_exchange(last, elapsed, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let step = self.step.load(Ordering::Relaxed);
        let unit = self
            .unit
            .as_ref()
            .map(|u| u.display(step, self.max, None).to_string());
        match (self.max, unit) {
            (_, Some(shown)) => {
                tracing::info!(target: "driftless_source_git::progress", remote = %self.remote, task = %self.name, "{}: {shown}", self.name);
            }
            (Some(max), None) => {
                tracing::info!(target: "driftless_source_git::progress", remote = %self.remote, task = %self.name, "{}: {step}/{max}", self.name);
            }
            (None, None) => {
                tracing::info!(target: "driftless_source_git::progress", remote = %self.remote, task = %self.name, "{}: {step}", self.name);
            }
        }
    }
}

impl gix::Count for TracingProgress {
    fn set(&self, step: Step) {
        self.step.store(step, Ordering::Relaxed);
        self.maybe_report();
    }

    fn step(&self) -> Step {
        self.step.load(Ordering::Relaxed)
    }

    fn inc_by(&self, step: Step) {
        self.step.fetch_add(step, Ordering::Relaxed);
        self.maybe_report();
    }

    fn counter(&self) -> StepShared {
        Arc::clone(&self.step)
    }
}

impl gix::Progress for TracingProgress {
    fn init(&mut self, max: Option<Step>, unit: Option<Unit>) {
        self.max = max;
        self.unit = unit;
        self.step.store(0, Ordering::Relaxed);
    }

    fn set_name(&mut self, name: String) {
        self.name = name;
    }

    fn name(&self) -> Option<String> {
        Some(self.name.clone())
    }

    fn id(&self) -> Id {
        self.id
    }

    fn message(&self, level: MessageLevel, message: String) {
        match level {
            MessageLevel::Failure => {
                tracing::warn!(target: "driftless_source_git::progress", remote = %self.remote, task = %self.name, "{message}");
            }
            MessageLevel::Info | MessageLevel::Success => {
                tracing::debug!(target: "driftless_source_git::progress", remote = %self.remote, task = %self.name, "{message}");
            }
        }
    }
}

impl gix::NestedProgress for TracingProgress {
    type SubProgress = TracingProgress;

    fn add_child(&mut self, name: impl Into<String>) -> Self::SubProgress {
        Self::new(&self.remote, name)
    }

    fn add_child_with_id(&mut self, name: impl Into<String>, id: Id) -> Self::SubProgress {
        let mut child = Self::new(&self.remote, name);
        child.id = id;
        child
    }
}
