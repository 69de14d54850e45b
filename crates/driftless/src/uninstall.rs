//! [`uninstall`]: delete what an app applied, and its inventory.

use driftless_core::{ApplyOptions, ApplyReport, ObjectSet, Target};
use driftless_diff::DiffOptions;

use crate::Error;

/// How [`uninstall`] runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UninstallOptions {
    /// Change nothing; report what would be deleted.
    pub dry_run: bool,
}

impl UninstallOptions {
    /// Sets [`dry_run`](Self::dry_run).
    #[must_use]
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }
}

/// Uninstalls an app from a target: deletes every object the target's inventory holds
/// (the inventory the target was opened with, e.g.
/// [`TargetOptions::inventory_name`](crate::TargetOptions::inventory_name)), and so
/// leaves the inventory empty, which a target then removes (the directory target its
/// inventory file, the Kubernetes target its ApplySet parent).
///
/// It is a prune of everything, through [`Target::apply`]: objects annotated
/// `driftless.dev/prune: disabled` stay in place (reported in `prune_skipped`) and
/// are no longer managed; objects of other inventories are never touched. Nothing is
/// fetched or rendered.
///
/// ```
/// use driftless::{uninstall, UninstallOptions};
/// use driftless::target_dir::{DirTarget, DirTargetOptions};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let target = DirTarget::with_options(dir.path(), DirTargetOptions::default().name("web"))?;
/// let report = uninstall(&target, &UninstallOptions::default()).await?;
/// assert!(report.pruned.is_empty()); // "web" had applied nothing
/// # Ok(()) }
/// ```
pub async fn uninstall(
    target: &dyn Target,
    options: &UninstallOptions,
) -> Result<ApplyReport, Error> {
    let target_error = |action, source| Error::Target {
        action,
        target: target.describe(),
        source,
    };
    let nothing = ObjectSet::new();
    let live = target
        .live(&nothing)
        .await
        .map_err(|source| target_error("reading", source))?;
    let plan = driftless_diff::plan(&nothing, &live, &DiffOptions::default());
    let apply = ApplyOptions::default().prune(true).dry_run(options.dry_run);
    let report = target
        .apply(&plan, &apply)
        .await
        .map_err(|source| target_error("deleting from", source))?;
    tracing::info!(
        from = %target.describe(),
        pruned = report.pruned.len(),
        kept = report.prune_skipped.len(),
        dry_run = report.dry_run,
        "uninstalled"
    );
    Ok(report)
}
