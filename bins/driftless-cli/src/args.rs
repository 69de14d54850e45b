//! Command-line arguments.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// GitOps engine: render, diff and apply desired state from git, OCI or a directory.
#[derive(Debug, Parser)]
#[command(name = "driftless", version, propagate_version = true)]
pub(crate) struct Cli {
    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Render a source into objects, printed as multi-document YAML.
    ///
    /// A folder holding a kustomization file is rendered as a Kustomize overlay;
    /// otherwise every YAML and JSON file below it is read.
    Render(RenderArgs),
    /// Compare a source with a target. Exit code 0: same, 1: differs, 2: error.
    Diff(DiffArgs),
    /// Apply a source to a target.
    Apply(ApplyArgs),
    /// Resolve and fetch a source; print its revision (e.g. main@sha1:<hex>).
    Fetch(FetchArgs),
    /// Package a directory as an OCI artifact (Flux's format) and push it.
    Push(PushArgs),
    /// Reconcile the apps of an agent configuration once, without a daemon.
    Sync(crate::commands::sync::SyncArgs),
    /// The apps of a running agent: revision, readiness, last sync.
    Status(crate::commands::agent::AgentArgs),
    /// The sync history of an app of a running agent, newest first.
    History(crate::commands::agent::HistoryArgs),
    /// Ask a running agent to reconcile an app now.
    Reconcile(crate::commands::agent::ReconcileArgs),
    /// Stop reconciling an app until it is resumed.
    Suspend(crate::commands::agent::AppArgs),
    /// Resume a suspended or pinned app.
    Resume(crate::commands::agent::AppArgs),
    /// Pin an app to a revision it applied before, until it is resumed.
    Rollback(crate::commands::agent::RollbackArgs),
}

/// Where desired state comes from.
#[derive(Debug, Args)]
pub(crate) struct SourceArgs {
    /// A directory, a git URL (https, http, ssh, git, file, user@host:path) or
    /// oci://HOST/REPO[:TAG|@DIGEST].
    pub(crate) source: String,
    /// Follow this branch.
    #[arg(long, group = "reference")]
    pub(crate) branch: Option<String>,
    /// Follow this tag.
    #[arg(long, group = "reference")]
    pub(crate) tag: Option<String>,
    /// Follow the highest tag matching this semver range (e.g. ">=1.2, <2").
    #[arg(long, group = "reference")]
    pub(crate) semver: Option<String>,
    /// Use this commit (with --branch: on that branch).
    #[arg(long, conflicts_with_all = ["tag", "semver"])]
    pub(crate) commit: Option<String>,
    /// The folder inside the source to render.
    #[arg(long)]
    pub(crate) path: Option<PathBuf>,
    /// How to render: auto (kustomize when a kustomization file is present), plain or
    /// kustomize.
    #[arg(long, default_value = "auto")]
    pub(crate) render: String,
    /// Where fetched sources are cached (default ~/.cache/driftless).
    #[arg(long, env = "DRIFTLESS_CACHE_DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Stop a git or OCI resolve or fetch that takes longer than this (e.g. 30s, 5m;
    /// default 10m).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub(crate) timeout: Option<std::time::Duration>,
    #[command(flatten)]
    pub(crate) auth: AuthArgs,
}

/// Credentials, always read from files so they stay out of shell history and logs.
#[derive(Debug, Args)]
pub(crate) struct AuthArgs {
    /// A file holding a token (git over HTTPS, OCI registry token).
    #[arg(long, env = "DRIFTLESS_TOKEN_FILE")]
    pub(crate) token_file: Option<PathBuf>,
    /// A file holding the username (with --password-file).
    #[arg(long, env = "DRIFTLESS_USERNAME_FILE", requires = "password_file")]
    pub(crate) username_file: Option<PathBuf>,
    /// A file holding the password or access token (with --username-file).
    #[arg(long, env = "DRIFTLESS_PASSWORD_FILE", requires = "username_file")]
    pub(crate) password_file: Option<PathBuf>,
    /// An SSH private key, for ssh:// and user@host:path URLs.
    #[arg(long, env = "DRIFTLESS_SSH_KEY_FILE")]
    pub(crate) ssh_key_file: Option<PathBuf>,
    /// The known_hosts file the server's key is checked against (with --ssh-key-file).
    #[arg(long, env = "DRIFTLESS_KNOWN_HOSTS_FILE")]
    pub(crate) known_hosts_file: Option<PathBuf>,
    /// Docker's config.json to take registry credentials from.
    #[arg(long, env = "DOCKER_CONFIG_FILE")]
    pub(crate) docker_config: Option<PathBuf>,
    /// Allow plain HTTP to registries that are not on the loopback interface.
    #[arg(long)]
    pub(crate) insecure: bool,
}

#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    #[command(flatten)]
    pub(crate) source: SourceArgs,
    /// Also copy the fetched tree (the --path folder of it) into this directory.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// The directory to package.
    pub(crate) dir: PathBuf,
    /// Where to push: oci://HOST/REPO:TAG.
    pub(crate) reference: String,
    #[command(flatten)]
    pub(crate) auth: AuthArgs,
    /// The source URL to record (default: the git remote of DIR's checkout).
    #[arg(long)]
    pub(crate) source: Option<String>,
    /// The revision to record (default: DIR's checkout, e.g. main@sha1:<hex>).
    #[arg(long)]
    pub(crate) revision: Option<String>,
    /// Output format.
    #[arg(short, long, default_value = "human")]
    pub(crate) output: Format,
}

/// Output formats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// For people (colour on a terminal).
    #[default]
    Human,
    /// JSON, for scripts.
    Json,
    /// YAML, for scripts.
    Yaml,
}

#[derive(Debug, Args)]
pub(crate) struct RenderArgs {
    #[command(flatten)]
    pub(crate) source: SourceArgs,
    /// Output format: yaml (default, multi-document) or json (a list).
    #[arg(short, long, default_value = "yaml")]
    pub(crate) output: Format,
}

/// Where objects are applied.
#[derive(Debug, Args)]
pub(crate) struct TargetArgs {
    /// dir:PATH, kube or kube:CONTEXT.
    #[arg(long, short = 't')]
    pub(crate) target: Option<String>,
    /// The name of the inventory kept on the target (default: the source's folder
    /// name): apps sharing a target must use different names.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Never count this field as drift: a JSON pointer, optionally for one kind or
    /// object only: `/spec/replicas`, `Deployment=/spec/replicas`,
    /// `Deployment/web=/spec/replicas`. Repeatable.
    #[arg(long = "ignore", value_name = "[KIND[/NAME]=]POINTER")]
    pub(crate) ignore: Vec<String>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("against").required(true).args(["target", "rev"])))]
pub(crate) struct DiffArgs {
    #[command(flatten)]
    pub(crate) source: SourceArgs,
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// Compare two revisions of SOURCE instead of a target: A..B (commits, branches or
    /// tags), rendered without any cluster. Exit code 1 when they differ.
    #[arg(long, value_name = "A..B", conflicts_with = "target")]
    pub(crate) rev: Option<String>,
    /// Output format.
    #[arg(short, long, default_value = "human")]
    pub(crate) output: Format,
    /// Colour the human diff: auto (on a terminal), always, never.
    #[arg(long, default_value = "auto")]
    pub(crate) color: Color,
}

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Color {
    /// On a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)] // each bool is a command-line switch
#[command(group(ArgGroup::new("to").required(true).args(["target"])))]
pub(crate) struct ApplyArgs {
    #[command(flatten)]
    pub(crate) source: SourceArgs,
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    /// Delete objects applied before and no longer desired.
    #[arg(long)]
    pub(crate) prune: bool,
    /// Change nothing; show what would change.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Take ownership of conflicting fields; recreate objects whose immutable fields
    /// changed.
    #[arg(long)]
    pub(crate) force: bool,
    /// With --prune, allow an empty render to delete every object applied before.
    #[arg(long)]
    pub(crate) allow_empty: bool,
    /// Output format.
    #[arg(short, long, default_value = "human")]
    pub(crate) output: Format,
}
