//! One module per command; each returns the process exit code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use driftless::diff::IgnoreRule;
use driftless::{
    CredentialFiles, Pipeline, PipelineOptions, SourceAuth, SourceOptions, SourceRef, SourceSpec,
    TargetOptions, TargetSpec,
};

use crate::args::{
    Command, CredentialArgs, IgnoreArgs, RegistryArgs, RenderMode, RenderWithArgs, SourceArgs,
    SshArgs, TargetArgs,
};

pub(crate) mod agent;
mod apply;
mod completion;
mod delete;
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
        Command::Delete(args) => delete::run(args).await,
        Command::Fetch(args) => fetch::run(args).await,
        Command::Push(args) => push::run(args).await,
        Command::Sync(args) => sync::run(args).await,
        Command::Status(args) => agent::status(args).await,
        Command::History(args) => agent::history(args).await,
        Command::Reconcile(args) => agent::reconcile(args).await,
        Command::Suspend(args) => agent::act(args, agent::Action::Suspend).await,
        Command::Resume(args) => agent::act(args, agent::Action::Resume).await,
        Command::Rollback(args) => agent::rollback(args).await,
        Command::Completion(args) => completion::run(&args),
    }
}

/// The source the source arguments name, following their reference.
pub(crate) fn open_source(args: &SourceArgs) -> anyhow::Result<Arc<dyn driftless::Source>> {
    let reference = SourceRef::select(
        args.branch.as_deref(),
        args.tag.as_deref(),
        args.semver.as_deref(),
        args.commit.as_deref(),
    );
    open_source_at(args, reference)
}

/// The source the source arguments name, following `reference` instead of theirs.
pub(crate) fn open_source_at(
    args: &SourceArgs,
    reference: SourceRef,
) -> anyhow::Result<Arc<dyn driftless::Source>> {
    let spec: SourceSpec = args.source.parse()?;
    let mut options = SourceOptions::default()
        .reference(reference)
        .auth(source_auth(
            &args.credentials,
            Some(&args.ssh),
            &args.registry,
        ))
        .insecure(args.registry.insecure)
        .timeout(args.timeout);
    if let Some(dir) = &args.cache_dir {
        options = options.cache_dir(dir);
    }
    Ok(driftless::spec::open_source(&spec, &options)?)
}

/// The renderer the render arguments ask for: the mode, SOPS decryption with the age
/// identities given, and substitution when variables are given.
pub(crate) fn renderer(args: &RenderWithArgs) -> anyhow::Result<Arc<dyn driftless::Renderer>> {
    use driftless::postbuild::{RenderOptions, VarsFile, renderer_with, substitution};
    use driftless::render::RenderMode as Mode;
    use driftless::sops::{Decryptor, Identities};

    let mode = match args.render {
        RenderMode::Auto => Mode::Auto,
        RenderMode::Plain => Mode::Plain,
        RenderMode::Kustomize => Mode::Kustomize,
    };
    let post = &args.post_build;
    let mut identities = Identities::from_env()?;
    for file in &post.age_identity {
        identities.add_file(file)?;
    }
    let decryptor = Decryptor::new(identities);
    let inline = post
        .substitute
        .iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .with_context(|| format!("--substitute {pair:?}: write NAME=VALUE"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let files: Vec<VarsFile> = post
        .substitute_from
        .iter()
        .map(|file| match file.strip_suffix('?') {
            Some(path) => VarsFile {
                path: path.into(),
                optional: true,
            },
            None => VarsFile {
                path: file.into(),
                optional: false,
            },
        })
        .collect();
    let substitution = if inline.is_empty() && files.is_empty() && !post.substitute_strict {
        None
    } else {
        Some(substitution(
            &files,
            &inline,
            post.substitute_strict,
            Some(&decryptor),
        )?)
    };
    let options = RenderOptions::default()
        .mode(mode)
        .decryptor(Some(decryptor))
        .substitution(substitution);
    Ok(renderer_with(&options))
}

/// The credentials the flags name; see [`CredentialFiles`] for which kind wins.
pub(crate) fn source_auth(
    credentials: &CredentialArgs,
    ssh: Option<&SshArgs>,
    registry: &RegistryArgs,
) -> SourceAuth {
    let mut files = CredentialFiles::default();
    files.token_file.clone_from(&credentials.token_file);
    files.username_file.clone_from(&credentials.username_file);
    files.password_file.clone_from(&credentials.password_file);
    if let Some(ssh) = ssh {
        files.ssh_key_file.clone_from(&ssh.ssh_key_file);
        files.known_hosts_file.clone_from(&ssh.known_hosts_file);
    }
    files.docker_config = registry.docker_config.as_deref().map(docker_config_file);
    files.to_auth()
}

/// Docker's `config.json` in the configuration directory `dir` (as `DOCKER_CONFIG`
/// names it); a file given instead is taken as it is.
fn docker_config_file(dir: &Path) -> PathBuf {
    if dir.is_file() {
        dir.to_owned()
    } else {
        dir.join("config.json")
    }
}

/// The inventory name: the one given, or one derived from the whole source identity.
pub(crate) fn inventory_name(
    target: &TargetArgs,
    source: Option<&str>,
    path: Option<&Path>,
) -> anyhow::Result<String> {
    if let Some(name) = &target.name {
        return Ok(name.clone());
    }
    let source = source.context("give --name, or the source the app was applied from")?;
    let spec: SourceSpec = source.parse()?;
    let name = spec.inventory_name(path.unwrap_or_else(|| Path::new("")));
    tracing::info!(%name, "inventory name derived from the source; --name sets one");
    Ok(name)
}

/// Opens the target the target arguments name, keeping the inventory `name`.
pub(crate) async fn open_target(
    args: &TargetArgs,
    name: &str,
    adopt: bool,
) -> anyhow::Result<Arc<dyn driftless::Target>> {
    let spec: TargetSpec = args
        .target
        .as_deref()
        .context("--target is required")?
        .parse()?;
    let mut options = TargetOptions::default().inventory_name(name).adopt(adopt);
    if let Some(namespace) = &args.namespace {
        options = options.namespace(namespace);
    }
    if let Some(path) = &args.kube.kubeconfig {
        options = options.kubeconfig(path);
    }
    if let Some(context) = &args.kube.context {
        options = options.context(context);
    }
    Ok(driftless::spec::open_target(&spec, &options).await?)
}

/// A pipeline from the source, render, target and ignore arguments, and the name of
/// the inventory it keeps.
pub(crate) async fn pipeline(
    source_args: &SourceArgs,
    render_args: &RenderWithArgs,
    target_args: &TargetArgs,
    ignore_args: &IgnoreArgs,
    adopt: bool,
    options: PipelineOptions,
) -> anyhow::Result<(Pipeline, String)> {
    let source = open_source(source_args)?;
    let name = inventory_name(
        target_args,
        Some(&source_args.source),
        source_args.path.as_deref(),
    )?;
    let target = open_target(target_args, &name, adopt).await?;
    let rules = ignore_args
        .rules
        .iter()
        .map(|rule| ignore_rule(rule))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let diff = options.diff.clone().ignore_rules(rules);
    let pipeline = Pipeline::from_dyn(source, renderer(render_args)?, target).with_options(
        options
            .path(source_args.path.clone().unwrap_or_default())
            .diff(diff),
    );
    Ok((pipeline, name))
}

/// `[KIND[/NAME]=]POINTER` as an ignore rule.
fn ignore_rule(text: &str) -> anyhow::Result<IgnoreRule> {
    text.parse()
        .with_context(|| format!("invalid --ignore {text:?}"))
}
