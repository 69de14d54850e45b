//! `driftless diff`.

use std::io::IsTerminal;
use std::process::ExitCode;

use driftless::PipelineOptions;
use driftless::diff::HumanOptions;

use crate::args::{Color, DiffArgs, Format};
use crate::output;

pub(crate) async fn run(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let (pipeline, _) = super::pipeline(
        &args.source,
        &args.render,
        &args.target,
        &args.ignore,
        false,
        PipelineOptions::default(),
    )
    .await?;
    let (_, plan, _) = pipeline.plan(None).await?;
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => crate::output::colour(std::io::stdout().is_terminal()),
    };
    match args.output {
        Format::Human => {
            let options = HumanOptions::default().color(color);
            output::text(&driftless::diff::render_human(&plan, &options))?;
        }
        format => output::value(&driftless::diff::render_json(&plan), format)?,
    }
    Ok(if plan.has_changes() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
