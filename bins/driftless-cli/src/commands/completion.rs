//! `driftless completion SHELL`.

use std::process::ExitCode;

use clap::CommandFactory;

use crate::args::{Cli, CompletionArgs};

pub(crate) fn run(args: &CompletionArgs) -> anyhow::Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "driftless", &mut script);
    crate::output::bytes(&script)?;
    Ok(ExitCode::SUCCESS)
}
