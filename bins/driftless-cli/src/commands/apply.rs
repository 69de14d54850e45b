//! `driftless apply`.

use std::process::ExitCode;

use driftless::PipelineOptions;
use driftless::core::ApplyOptions;

use crate::args::{ApplyArgs, Format};
use crate::output;

pub(crate) async fn run(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let apply = ApplyOptions::default()
        .prune(args.prune)
        .dry_run(args.dry_run)
        .force(args.force);
    let options = PipelineOptions::default()
        .apply(apply)
        .allow_empty(args.allow_empty);
    let (pipeline, name) = super::pipeline(
        &args.source,
        &args.render,
        &args.target,
        &args.ignore,
        args.adopt,
        options,
    )
    .await?;
    let report = pipeline.reconcile().await?;
    match args.output {
        Format::Human => {
            output::text(&output::sync_summary(
                &report,
                &pipeline.target().describe(),
                &name,
            ))?;
        }
        format => output::value(&serde_json::to_value(&report)?, format)?,
    }
    Ok(ExitCode::SUCCESS)
}
