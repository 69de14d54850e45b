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
    /// Render a source into objects, printed as multi-document YAML (or a JSON list).
    ///
    /// A folder holding a kustomization file is rendered as a Kustomize overlay;
    /// otherwise every YAML and JSON file below it is read.
    Render(RenderArgs),
    /// Compare a source with a target, or two revisions of a source (--rev). Exit code
    /// 0: same, 1: differs, 2: error.
    Diff(DiffArgs),
    /// Apply a source to a target; with --prune, delete what it applied before and no
    /// longer desires.
    Apply(ApplyArgs),
    /// Resolve and fetch a source; print its revision (e.g. main@sha1:<hex>).
    Fetch(FetchArgs),
    /// Package a directory as an OCI artifact (Flux's format) and push it.
    Push(PushArgs),
    /// Uninstall an app: delete every object its inventory holds, then the inventory.
    ///
    /// The inventory is the one `apply` kept for the same SOURCE and --path, or the
    /// one named by --name. Objects annotated driftless.dev/prune: disabled are left
    /// in place.
    Delete(DeleteArgs),
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
    /// Print a shell completion script: driftless completion bash|zsh|fish.
    ///
    /// bash: driftless completion bash > ~/.local/share/bash-completion/completions/driftless
    ///
    /// zsh: driftless completion zsh > "${fpath[1]}/_driftless"
    ///
    /// fish: driftless completion fish > ~/.config/fish/completions/driftless.fish
    Completion(CompletionArgs),
}

/// Where desired state comes from.
#[derive(Debug, Args)]
#[command(next_help_heading = "Source")]
pub(crate) struct SourceArgs {
    /// A directory, a git URL (https, http, ssh, git, file, user@host:path) or
    /// oci://HOST/REPO[:TAG|@DIGEST].
    #[arg(help_heading = None)]
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
    /// Use this commit (with --branch: on that branch); for OCI, a digest.
    #[arg(long, conflicts_with_all = ["tag", "semver"])]
    pub(crate) commit: Option<String>,
    /// The folder inside the source to use.
    #[arg(long)]
    pub(crate) path: Option<PathBuf>,
    /// Where fetched sources are cached (default ~/.cache/driftless).
    #[arg(long, env = "DRIFTLESS_CACHE_DIR")]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Stop a git or OCI resolve or fetch that takes longer than this (e.g. 30s, 5m;
    /// default 10m).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub(crate) timeout: Option<std::time::Duration>,
    #[command(flatten)]
    pub(crate) credentials: CredentialArgs,
    #[command(flatten)]
    pub(crate) ssh: SshArgs,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

/// SOPS decryption and Flux-style variable substitution, applied while rendering.
#[derive(Debug, Args)]
pub(crate) struct PostBuildArgs {
    /// Substitute ${NAME} with VALUE in the rendered objects (Flux's postBuild.substitute).
    /// Repeatable; wins over --substitute-from.
    #[arg(long = "substitute", value_name = "NAME=VALUE")]
    pub(crate) substitute: Vec<String>,
    /// Take variables from a file: KEY=value lines, or a ConfigMap or Secret manifest
    /// (SOPS-encrypted or not). Repeatable; later files win. A trailing `?` makes the
    /// file optional.
    #[arg(long = "substitute-from", value_name = "FILE")]
    pub(crate) substitute_from: Vec<String>,
    /// Refuse variables that are neither given nor defaulted, instead of substituting
    /// an empty string.
    #[arg(long)]
    pub(crate) substitute_strict: bool,
    /// A file of age identities (AGE-SECRET-KEY-1…) to decrypt SOPS files with.
    /// Repeatable; SOPS_AGE_KEY_FILE, SOPS_AGE_KEY and sops' default key file are read too.
    #[arg(long = "age-identity", value_name = "FILE")]
    pub(crate) age_identity: Vec<PathBuf>,
}

/// How a source is rendered.
#[derive(Debug, Args)]
#[command(next_help_heading = "Source")]
pub(crate) struct RenderWithArgs {
    /// How to render: auto (Kustomize when the folder holds a kustomization file,
    /// plain YAML otherwise), plain or kustomize.
    #[arg(long, value_enum, default_value_t = RenderMode::Auto)]
    pub(crate) render: RenderMode,
    #[command(flatten)]
    pub(crate) post_build: PostBuildArgs,
}

/// How to render a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RenderMode {
    /// Kustomize when the folder holds a kustomization file, plain YAML otherwise.
    Auto,
    /// Every YAML and JSON file below the folder.
    Plain,
    /// The folder as a Kustomize overlay.
    Kustomize,
}

/// Credentials for git over HTTP and OCI registries, always read from files so they
/// stay out of shell history and logs.
#[derive(Debug, Args)]
#[command(next_help_heading = "Credentials")]
#[allow(clippy::struct_field_names)] // the fields are the flags --token-file, --username-file…
pub(crate) struct CredentialArgs {
    /// A file holding a token (git over HTTPS, OCI registry token).
    #[arg(long, env = "DRIFTLESS_TOKEN_FILE")]
    pub(crate) token_file: Option<PathBuf>,
    /// A file holding the username (with --password-file).
    #[arg(long, env = "DRIFTLESS_USERNAME_FILE", requires = "password_file")]
    pub(crate) username_file: Option<PathBuf>,
    /// A file holding the password or access token (with --username-file).
    #[arg(long, env = "DRIFTLESS_PASSWORD_FILE", requires = "username_file")]
    pub(crate) password_file: Option<PathBuf>,
}

/// SSH credentials for git.
#[derive(Debug, Args)]
#[command(next_help_heading = "Credentials")]
pub(crate) struct SshArgs {
    /// An SSH private key, for ssh:// and user@host:path URLs.
    #[arg(long, env = "DRIFTLESS_SSH_KEY_FILE")]
    pub(crate) ssh_key_file: Option<PathBuf>,
    /// The known_hosts file the server's key is checked against (with --ssh-key-file).
    #[arg(long, env = "DRIFTLESS_KNOWN_HOSTS_FILE")]
    pub(crate) known_hosts_file: Option<PathBuf>,
}

/// How to reach OCI registries.
#[derive(Debug, Args)]
#[command(next_help_heading = "Credentials")]
pub(crate) struct RegistryArgs {
    /// Docker's configuration directory, holding the config.json that registry
    /// credentials are taken from (default: ~/.docker).
    #[arg(long, env = "DOCKER_CONFIG", value_name = "DIR")]
    pub(crate) docker_config: Option<PathBuf>,
    /// Allow plain HTTP to registries that are not on the loopback interface.
    #[arg(long)]
    pub(crate) insecure: bool,
}

#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// Also copy the fetched tree (the --path folder of it) into this directory.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) source: SourceArgs,
}

#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// The directory to package.
    pub(crate) dir: PathBuf,
    /// Where to push: oci://HOST/REPO:TAG.
    pub(crate) reference: String,
    /// The source URL to record (default: the git remote of DIR's checkout).
    #[arg(long)]
    pub(crate) source: Option<String>,
    /// The revision to record (default: DIR's checkout, e.g. main@sha1:<hex>).
    #[arg(long)]
    pub(crate) revision: Option<String>,
    /// Output format.
    #[arg(short, long, default_value = "human")]
    pub(crate) output: Format,
    #[command(flatten)]
    pub(crate) credentials: CredentialArgs,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
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
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = ObjectFormat::Yaml)]
    pub(crate) output: ObjectFormat,
    #[command(flatten)]
    pub(crate) source: SourceArgs,
    #[command(flatten)]
    pub(crate) render: RenderWithArgs,
}

/// How objects are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ObjectFormat {
    /// Multi-document YAML, `---` between objects.
    Yaml,
    /// A JSON list of objects.
    Json,
}

/// Where objects are applied, and the inventory kept there.
#[derive(Debug, Args)]
#[command(next_help_heading = "Target")]
pub(crate) struct TargetArgs {
    /// dir:PATH, kube or kube:CONTEXT.
    #[arg(long, short = 't')]
    pub(crate) target: Option<String>,
    /// The name of the inventory kept on the target (the app's name; the ApplySet on
    /// Kubernetes). Default: derived from the whole source (URL or absolute path, and
    /// --path), e.g. prod-1f0c6b9a2e. Apps sharing a target must use different names.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// The namespace of namespaced objects that name none (default: the kubeconfig
    /// context's namespace for kube, `default` for dir:).
    #[arg(long, short = 'n')]
    pub(crate) namespace: Option<String>,
    #[command(flatten)]
    pub(crate) kube: KubeArgs,
}

/// How to reach a Kubernetes cluster.
#[derive(Debug, Args)]
#[command(next_help_heading = "Kubernetes")]
pub(crate) struct KubeArgs {
    /// The kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster).
    #[arg(long, value_name = "FILE")]
    pub(crate) kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: the current one); same as --target kube:CONTEXT.
    #[arg(long)]
    pub(crate) context: Option<String>,
}

/// Fields that never count as drift.
#[derive(Debug, Args)]
#[command(next_help_heading = "Target")]
pub(crate) struct IgnoreArgs {
    /// Never count this field as drift: a JSON pointer, optionally for one kind or
    /// object only: `/spec/replicas`, `Deployment=/spec/replicas`,
    /// `Deployment/web=/spec/replicas`. Repeatable.
    #[arg(long = "ignore", value_name = "[KIND[/NAME]=]POINTER")]
    pub(crate) rules: Vec<String>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("against").required(true).args(["target", "rev"])))]
pub(crate) struct DiffArgs {
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
    #[command(flatten)]
    pub(crate) source: SourceArgs,
    #[command(flatten)]
    pub(crate) render: RenderWithArgs,
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    #[command(flatten)]
    pub(crate) ignore: IgnoreArgs,
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
    /// Delete objects applied before under this inventory name and no longer desired.
    #[arg(long)]
    pub(crate) prune: bool,
    /// Take over objects that another inventory (another app) holds, instead of
    /// refusing to apply them.
    #[arg(long)]
    pub(crate) adopt: bool,
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
    #[command(flatten)]
    pub(crate) source: SourceArgs,
    #[command(flatten)]
    pub(crate) render: RenderWithArgs,
    #[command(flatten)]
    pub(crate) target: TargetArgs,
    #[command(flatten)]
    pub(crate) ignore: IgnoreArgs,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("identity").required(true).multiple(true).args(["source", "name"])))]
#[command(group(ArgGroup::new("to").required(true).args(["target"])))]
pub(crate) struct DeleteArgs {
    /// The source the app was applied from, to derive its inventory name (as apply
    /// does); not fetched. Give --name instead when the app was applied with one.
    pub(crate) source: Option<String>,
    /// The folder inside the source the app was applied from (with SOURCE).
    #[arg(long, requires = "source")]
    pub(crate) path: Option<PathBuf>,
    /// Change nothing; show what would be deleted.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Output format.
    #[arg(short, long, default_value = "human")]
    pub(crate) output: Format,
    #[command(flatten)]
    pub(crate) target: TargetArgs,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}
