//! One module per command; each returns the process exit code.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use driftless::{
    Pipeline, PipelineOptions, SourceAuth, SourceOptions, SourceRef, SourceSpec, TargetOptions,
    TargetSpec,
};

use driftless::diff::IgnoreRule;

use crate::args::{AuthArgs, Command, SourceArgs, TargetArgs};

pub(crate) mod agent;
mod apply;
mod diff;
mod fetch;
mod push;
mod render;
mod rev_diff;
pub(crate) mod sync;

pub(crate) async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Render(args) => render::run(args).await,
        Command::Diff(mut args) if args.rev.is_some() => {
            let range = args.rev.take().unwrap_or_default();
            rev_diff::run(args, &range).await
        }
        Command::Diff(args) => diff::run(args).await,
        Command::Apply(args) => apply::run(args).await,
        Command::Fetch(args) => fetch::run(args).await,
        Command::Push(args) => push::run(args).await,
        Command::Sync(args) => sync::run(args).await,
        Command::Status(args) => agent::status(args).await,
        Command::History(args) => agent::history(args).await,
        Command::Reconcile(args) => agent::reconcile(args).await,
        Command::Suspend(args) => agent::act(args, agent::Action::Suspend).await,
        Command::Resume(args) => agent::act(args, agent::Action::Resume).await,
        Command::Rollback(args) => agent::rollback(args).await,
    }
}

/// The source, options and renderer the source arguments name.
pub(crate) fn open_source(
    args: &SourceArgs,
) -> anyhow::Result<(Arc<dyn driftless::Source>, Arc<dyn driftless::Renderer>)> {
    let spec: SourceSpec = args.source.parse()?;
    let mut options = SourceOptions::default()
        .reference(source_ref(args))
        .auth(source_auth(&args.auth))
        .insecure(args.auth.insecure)
        .timeout(args.timeout);
    if let Some(dir) = &args.cache_dir {
        options = options.cache_dir(dir);
    }
    let source = driftless::spec::open_source(&spec, &options)?;
    let mode: driftless::render::RenderMode = args
        .render
        .parse()
        .with_context(|| format!("invalid --render {:?}", args.render))?;
    Ok((source, driftless::spec::renderer(mode)))
}

/// The credentials the flags name (the first kind given wins).
pub(crate) fn source_auth(args: &AuthArgs) -> SourceAuth {
    if let Some(key_file) = &args.ssh_key_file {
        return SourceAuth::Ssh {
            key_file: key_file.clone(),
            known_hosts_file: args.known_hosts_file.clone(),
        };
    }
    if let (Some(username_file), Some(password_file)) = (&args.username_file, &args.password_file) {
        return SourceAuth::Basic {
            username_file: username_file.clone(),
            password_file: password_file.clone(),
        };
    }
    if let Some(token_file) = &args.token_file {
        return SourceAuth::Token {
            token_file: token_file.clone(),
        };
    }
    match &args.docker_config {
        Some(config_file) => SourceAuth::DockerConfig {
            config_file: config_file.clone(),
        },
        None => SourceAuth::None,
    }
}

fn source_ref(args: &SourceArgs) -> SourceRef {
    match (&args.branch, &args.tag, &args.semver, &args.commit) {
        (branch, _, _, Some(commit)) => SourceRef::Commit {
            id: commit.clone(),
            branch: branch.clone(),
        },
        (Some(branch), ..) => SourceRef::Branch(branch.clone()),
        (_, Some(tag), ..) => SourceRef::Tag(tag.clone()),
        (_, _, Some(range), _) => SourceRef::Semver(range.clone()),
        _ => SourceRef::Default,
    }
}

/// A pipeline from the source and target arguments.
pub(crate) async fn pipeline(
    source_args: &SourceArgs,
    target_args: &TargetArgs,
    options: PipelineOptions,
) -> anyhow::Result<Pipeline> {
    let (source, renderer) = open_source(source_args)?;
    let spec: TargetSpec = target_args
        .target
        .as_deref()
        .context("--target is required")?
        .parse()?;
    let name = target_args
        .name
        .clone()
        .unwrap_or_else(|| default_inventory_name(source_args));
    let target =
        driftless::spec::open_target(&spec, &TargetOptions::default().inventory_name(name)).await?;
    let rules = target_args
        .ignore
        .iter()
        .map(|rule| ignore_rule(rule))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let diff = options.diff.clone().ignore_rules(rules);
    Ok(Pipeline::from_dyn(source, renderer, target).with_options(
        options
            .path(source_args.path.clone().unwrap_or_default())
            .diff(diff),
    ))
}

/// `[KIND[/NAME]=]POINTER` as an ignore rule.
fn ignore_rule(text: &str) -> anyhow::Result<IgnoreRule> {
    let (object, pointer) = match text.split_once('=') {
        Some((object, pointer)) => (Some(object), pointer),
        None => (None, text),
    };
    let mut rule =
        IgnoreRule::new(pointer).with_context(|| format!("invalid --ignore {text:?}"))?;
    if let Some(object) = object {
        let (kind, name) = match object.split_once('/') {
            Some((kind, name)) => (kind, Some(name)),
            None => (object, None),
        };
        rule = rule.kind(kind);
        if let Some(name) = name {
            rule = rule.name(name);
        }
    }
    Ok(rule)
}

/// The last component of the source's folder (or URL), e.g. `prod` for `./deploy/prod`.
fn default_inventory_name(args: &SourceArgs) -> String {
    let path = args
        .path
        .as_deref()
        .unwrap_or_else(|| std::path::Path::new(""));
    let joined = format!("{}/{}", args.source.trim_end_matches('/'), path.display());
    joined
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .find(|part| !part.is_empty() && *part != ".")
        .unwrap_or("default")
        .trim_end_matches(".git")
        .to_owned()
}
