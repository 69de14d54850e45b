//! `driftless delete`: uninstall an app from a target.

use std::process::ExitCode;

use driftless::{UninstallOptions, uninstall};

use crate::args::{DeleteArgs, Format};
use crate::output;

pub(crate) async fn run(args: DeleteArgs) -> anyhow::Result<ExitCode> {
    let name = super::inventory_name(&args.target, args.source.as_deref(), args.path.as_deref())?;
    let target = super::open_target(&args.target, &name, false).await?;
    let report = uninstall(
        target.as_ref(),
        &UninstallOptions::default().dry_run(args.dry_run),
    )
    .await?;
    match args.output {
        Format::Human => output::text(&output::delete_summary(&report, &target.describe(), &name))?,
        format => output::value(&serde_json::to_value(&report)?, format)?,
    }
    Ok(ExitCode::SUCCESS)
}
