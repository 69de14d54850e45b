//! The agent's configuration: one YAML file listing the apps to keep in sync.
//!
//! ```
//! use driftless_runtime::config::AgentConfig;
//!
//! let text = "apiVersion: driftless.dev/v1alpha1\nkind: AgentConfig\napps:\n\
//!             - name: web\n  source: {url: ./deploy}\n  target: dir:/srv/live\n  interval: 30s\n";
//! let config = AgentConfig::from_yaml(text)?;
//! assert_eq!(config.apps[0].interval.as_secs(), 30);
//!
//! let error = AgentConfig::from_yaml(&text.replace("30s", "soon")).unwrap_err();
//! assert_eq!(error.field(), Some("apps[0].interval"));
//! # Ok::<(), driftless_runtime::config::ConfigError>(())
//! ```
//!
//! Every error names the field that is wrong (`apps[1].dependsOn[0]`): unknown fields,
//! duplicate app names, unknown or cyclic `dependsOn`, durations that do not parse
//! (`humantime`: `30s`, `5m`, `1h 30m`), source URLs and targets that cannot be used.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use driftless::render::RenderMode;
use serde::{Deserialize, Deserializer, Serialize};

use driftless::postbuild::{
    Cluster, ObjectKind, ObjectRef, PostBuild, RenderOptions, Vars, VarsFile, VarsSource,
};
use driftless::render::substitute::Substitution;
use driftless::sops::{Decryptor, Identities};
use driftless::spec::{
    SourceAuth, SourceOptions, SourceRef, SourceSpec, TargetOptions, TargetSpec,
};
use driftless::{Pipeline, PipelineOptions};

/// The `apiVersion` of an agent configuration.
pub const API_VERSION: &str = "driftless.dev/v1alpha1";
/// The `kind` of an agent configuration.
pub const KIND: &str = "AgentConfig";

/// What is wrong with a configuration, naming the field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The text is not YAML.
    #[error("the configuration is not valid YAML")]
    Yaml(#[source] driftless::core::yaml::YamlError),
    /// A field has a wrong value, or is unknown, or missing.
    #[error("{field}: {message}")]
    Field {
        /// The path of the field, e.g. `apps[1].interval` (empty for the whole file).
        field: String,
        /// What is wrong and what to write instead.
        message: String,
    },
}

impl ConfigError {
    fn at(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Field {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The path of the field that is wrong, when the error is about one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Field { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// The agent's configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AgentConfig {
    /// `driftless.dev/v1alpha1`.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// `AgentConfig`.
    #[serde(default = "default_kind")]
    pub kind: String,
    /// Where health, metrics, the status API and webhooks are served.
    #[serde(default = "default_listen")]
    #[cfg_attr(test, schemars(with = "String"))]
    pub listen: SocketAddr,
    /// History, audit journal and caches; survives restarts. Relative paths are taken
    /// from the directory the agent runs in.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Elect one leader among replicas with a Kubernetes Lease; only the leader
    /// reconciles.
    #[serde(default)]
    pub leader_election: Option<LeaderElection>,
    /// Share the apps among replicas: each holds a membership Lease, and each app is
    /// reconciled by one live replica, chosen by rendezvous hashing. Not with
    /// `leaderElection`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharding: Option<Sharding>,
    /// Who may use the HTTP API.
    #[serde(default)]
    pub api: ApiConfig,
    /// How many apps may reconcile at once (fetch, render, plan, apply; a health wait
    /// does not count). The others wait their turn, so that many apps starting together
    /// keep memory and the API server's load bounded.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// The apps to keep in sync.
    pub apps: Vec<AppConfig>,
}

/// The default of [`AgentConfig::concurrency`].
pub const DEFAULT_CONCURRENCY: usize = 16;

fn default_concurrency() -> usize {
    DEFAULT_CONCURRENCY
}

/// Access to the HTTP API. Mutations always need a bearer token: the one in
/// `tokenFile`, else one the agent creates in `<stateDir>/api-token` (mode 0600), which
/// `driftless` finds when run with the same `--config`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiConfig {
    /// The file holding the bearer token (trailing newlines are ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// Who may read the status API and metrics without the token: `open`, `loopback`
    /// (the default: clients on this machine) or `token`.
    #[serde(default)]
    pub reads: crate::auth::ReadAccess,
    /// Names clients may reach the agent by besides its listen address (e.g. a
    /// Service's DNS name), accepted in the `Host` of mutations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
}

/// A Kubernetes Lease that elects the replica that reconciles.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeaderElection {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// How long a leader holds the Lease without renewing it (default 15s).
    #[serde(default = "default_lease_duration", with = "duration")]
    #[cfg_attr(test, schemars(with = "String"))]
    pub lease_duration: Duration,
    /// This replica's identity (default: `$POD_NAME`, else the host name and process id).
    #[serde(default)]
    pub identity: Option<String>,
}

/// Membership Leases that share the apps among the live replicas (see `docs/agent.md`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sharding {
    /// The namespace of the membership Leases.
    pub namespace: String,
    /// The group's name: replicas with the same name share the apps. Each replica's
    /// Lease is named after it and labelled `driftless.dev/shard-group=<name>`.
    pub name: String,
    /// How long a replica that stops renewing its Lease keeps its apps; also how long
    /// a joining replica waits before it starts any (default 15s).
    #[serde(default = "default_lease_duration", with = "duration")]
    #[cfg_attr(test, schemars(with = "String"))]
    pub lease_duration: Duration,
    /// This replica's identity (default: `$POD_NAME`, else the host name and process id).
    #[serde(default)]
    pub identity: Option<String>,
}

/// One app: a source, how to render it, and where to apply it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppConfig {
    /// A unique name: letters, digits, `-`, `_` and `.` (it is used in URLs and as the
    /// target's inventory name).
    pub name: String,
    /// Where desired state comes from.
    pub source: SourceConfig,
    /// How to render: `auto`, `plain` or `kustomize`.
    #[serde(default)]
    #[cfg_attr(test, schemars(schema_with = "schema::render_mode"))]
    pub render: RenderMode,
    /// `dir:PATH`, `kube` or `kube:CONTEXT`.
    pub target: String,
    /// How often to reconcile (and correct drift).
    #[serde(default = "default_interval", with = "duration")]
    #[cfg_attr(test, schemars(with = "String"))]
    pub interval: Duration,
    /// Delete objects applied before and no longer desired.
    #[serde(default = "default_true")]
    pub prune: bool,
    /// Do not reconcile until resumed.
    #[serde(default)]
    pub suspend: bool,
    /// Apps that must be healthy at their current revision before this one reconciles.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Wait this long for applied objects to become healthy; unset: do not wait.
    #[serde(default, with = "opt_duration")]
    #[cfg_attr(test, schemars(with = "Option<String>"))]
    pub health_timeout: Option<Duration>,
    /// Reconcile at once on a verified push notification.
    #[serde(default)]
    pub webhook: Option<WebhookConfig>,
    /// Fields never compared, as the CLI's `--ignore`: `[KIND[/NAME]=]POINTER`, e.g.
    /// `Deployment/web=/spec/replicas` for a field an autoscaler owns.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Recreate objects whose immutable fields changed, as the CLI's `--force`.
    #[serde(default)]
    pub force: bool,
    /// The namespace given to namespaced objects that name none (`kube` targets; the
    /// default is the context's namespace), as the CLI's `--namespace`.
    #[serde(default)]
    pub target_namespace: Option<String>,
    /// The namespace of the app's inventory, the ApplySet parent (`kube` targets; the
    /// default is `targetNamespace`, else `default`): fixed here, never by whichever
    /// namespace a kubeconfig context names. In a cluster, the agent's own namespace.
    #[serde(default)]
    pub inventory_namespace: Option<String>,
    /// Variables substituted after rendering, as Flux's `spec.postBuild`.
    #[serde(default)]
    pub post_build: Option<PostBuildConfig>,
    /// SOPS decryption of the files rendered, as Flux's `spec.decryption`.
    #[serde(default)]
    pub decryption: Option<DecryptionConfig>,
}

/// Where an app's desired state comes from.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceConfig {
    /// A git URL, `oci://…`, or a local directory.
    pub url: String,
    /// Follow this branch.
    #[serde(default)]
    pub branch: Option<String>,
    /// Follow this tag.
    #[serde(default)]
    pub tag: Option<String>,
    /// Follow the highest tag in this semver range.
    #[serde(default)]
    pub semver: Option<String>,
    /// Stay at this commit.
    #[serde(default)]
    pub commit: Option<String>,
    /// The folder inside the source to render.
    #[serde(default)]
    pub path: PathBuf,
    /// Credentials.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// How long one resolve or fetch may take before it is stopped (default 10m).
    #[serde(
        default,
        with = "opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(test, schemars(with = "Option<String>"))]
    pub timeout: Option<Duration>,
}

/// Credentials for a source, each read from a file.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthConfig {
    /// A bearer token.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// A user name, with `passwordFile`.
    #[serde(default)]
    pub username_file: Option<PathBuf>,
    /// A password, with `usernameFile`.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// An SSH private key, with `knownHostsFile`.
    #[serde(default)]
    pub ssh_key_file: Option<PathBuf>,
    /// SSH known hosts, with `sshKeyFile`.
    #[serde(default)]
    pub known_hosts_file: Option<PathBuf>,
}

/// A push notification endpoint, `POST /hooks/<app>`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookConfig {
    /// The file holding the shared secret (trailing newlines are ignored).
    pub secret_file: PathBuf,
}

fn default_api_version() -> String {
    API_VERSION.to_owned()
}

fn default_kind() -> String {
    KIND.to_owned()
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9090))
}

fn default_state_dir() -> PathBuf {
    PathBuf::from(".driftless")
}

fn default_interval() -> Duration {
    Duration::from_secs(60)
}

fn default_lease_duration() -> Duration {
    Duration::from_secs(15)
}

/// A DNS label for the group (it is a label value), a Kubernetes namespace, a duration
/// that leaves room for renewals, and not together with leader election.
fn validate_sharding(sharding: &Sharding, leader_election: bool) -> Result<(), ConfigError> {
    if leader_election {
        return Err(ConfigError::at(
            "sharding",
            "choose leaderElection (one replica reconciles every app) or sharding (the apps are shared), not both",
        ));
    }
    if !is_dns_name(&sharding.namespace) {
        return Err(ConfigError::at(
            "sharding.namespace",
            format!(
                "{:?} is not a Kubernetes name (lowercase letters, digits, '-', '.')",
                sharding.namespace
            ),
        ));
    }
    let name = &sharding.name;
    if name.len() > 63 || name.contains('.') || !is_dns_name(name) {
        return Err(ConfigError::at(
            "sharding.name",
            format!("{name:?} is not a DNS label (up to 63 lowercase letters, digits and '-')"),
        ));
    }
    if sharding.lease_duration < Duration::from_secs(2) {
        return Err(ConfigError::at(
            "sharding.leaseDuration",
            "must be at least 2s",
        ));
    }
    if sharding.identity.as_deref().is_some_and(str::is_empty) {
        return Err(ConfigError::at(
            "sharding.identity",
            "must not be empty (leave it out for the default)",
        ));
    }
    Ok(())
}

fn default_true() -> bool {
    true
}

/// Durations as humantime strings: `30s`, `5m`, `1h 30m`.
mod duration {
    use super::{Deserialize, Deserializer, Duration};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!(
                "invalid duration {text:?} ({e}): write e.g. 30s, 5m or 1h 30m"
            ))
        })
    }

    pub(super) fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

mod opt_duration {
    use super::{Deserialize, Deserializer, Duration};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(with = "super::duration")] Duration);
        Ok(Option::<Wrapped>::deserialize(d)?.map(|Wrapped(d)| d))
    }

    #[allow(clippy::ref_option)] // serde's `with` passes a reference to the field
    pub(super) fn serialize<S: serde::Serializer>(
        d: &Option<Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::duration::serialize(d, s),
            None => s.serialize_none(),
        }
    }
}

impl AgentConfig {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml(&text)
    }

    /// Parses and validates a configuration.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let mut docs = driftless::core::yaml::from_str_multi(text).map_err(ConfigError::Yaml)?;
        if docs.len() != 1 {
            return Err(ConfigError::at(
                "",
                format!(
                    "expected one YAML document, found {}: the configuration is one AgentConfig",
                    docs.len()
                ),
            ));
        }
        let doc = docs.remove(0);
        let config: Self = serde_path_to_error::deserialize(doc).map_err(|e| {
            let field = e.path().to_string();
            let field = if field == "." { String::new() } else { field };
            ConfigError::at(field, e.into_inner().to_string())
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: names, references between apps, URLs, targets.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.api_version != API_VERSION {
            return Err(ConfigError::at(
                "apiVersion",
                format!("unsupported {:?}: use {API_VERSION}", self.api_version),
            ));
        }
        if self.kind != KIND {
            return Err(ConfigError::at(
                "kind",
                format!("unsupported {:?}: use {KIND}", self.kind),
            ));
        }
        if self.concurrency == 0 {
            return Err(ConfigError::at(
                "concurrency",
                "0 would reconcile nothing: give at least 1",
            ));
        }
        if let Some(election) = &self.leader_election {
            for (field, value) in [("namespace", &election.namespace), ("name", &election.name)] {
                if !is_dns_name(value) {
                    return Err(ConfigError::at(
                        format!("leaderElection.{field}"),
                        format!(
                            "{value:?} is not a Kubernetes name (lowercase letters, digits, '-', '.')"
                        ),
                    ));
                }
            }
            if election.lease_duration < Duration::from_secs(2) {
                return Err(ConfigError::at(
                    "leaderElection.leaseDuration",
                    "must be at least 2s",
                ));
            }
        }
        if let Some(sharding) = &self.sharding {
            validate_sharding(sharding, self.leader_election.is_some())?;
        }
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, app) in self.apps.iter().enumerate() {
            app.validate(&format!("apps[{i}]"))?;
            if let Some(first) = index.insert(&app.name, i) {
                return Err(ConfigError::at(
                    format!("apps[{i}].name"),
                    format!("duplicate app name {:?} (also apps[{first}])", app.name),
                ));
            }
        }
        for (i, app) in self.apps.iter().enumerate() {
            for (j, dep) in app.depends_on.iter().enumerate() {
                if !index.contains_key(dep.as_str()) {
                    return Err(ConfigError::at(
                        format!("apps[{i}].dependsOn[{j}]"),
                        format!("unknown app {dep:?}: dependsOn names apps of this file"),
                    ));
                }
                if dep == &app.name {
                    return Err(ConfigError::at(
                        format!("apps[{i}].dependsOn[{j}]"),
                        format!("app {dep:?} depends on itself"),
                    ));
                }
            }
        }
        self.order().map(|_| ())
    }

    /// The app named `name`.
    pub fn app(&self, name: &str) -> Option<&AppConfig> {
        self.apps.iter().find(|app| app.name == name)
    }

    /// Indexes of the apps, each after the apps it depends on (Kahn's algorithm; ties in
    /// file order). A cycle is an error naming it.
    pub fn order(&self) -> Result<Vec<usize>, ConfigError> {
        let graph: Vec<(&str, &[String])> = self
            .apps
            .iter()
            .map(|app| (app.name.as_str(), app.depends_on.as_slice()))
            .collect();
        crate::dependency_order(&graph).map_err(|cycle| {
            let names: Vec<&str> = cycle.iter().map(|&i| graph[i].0).collect();
            ConfigError::at(
                format!("apps[{}].dependsOn", cycle[0]),
                format!("dependency cycle: {}", names.join(" -> ")),
            )
        })
    }

    /// The API's access rules: the configured token (or the one in the state
    /// directory, created when missing), read access, and the names of this agent.
    pub fn api_auth(&self) -> Result<crate::auth::ApiAuth, crate::Error> {
        let token = match &self.api.token_file {
            Some(path) => crate::auth::read_token(path)?,
            None => crate::auth::ensure_state_token(&self.state_dir)?,
        };
        let mut auth = crate::auth::ApiAuth::new()
            .token(&token)
            .reads(self.api.reads)
            .listen(self.listen);
        for host in &self.api.hosts {
            auth = auth.host(host);
        }
        Ok(auth)
    }

    /// The API token a client on this machine uses for this configuration: the
    /// configured file's, else the state directory's (which the agent creates).
    pub fn client_token(&self) -> Result<String, crate::Error> {
        let path = self
            .api
            .token_file
            .clone()
            .unwrap_or_else(|| crate::auth::state_token_path(&self.state_dir));
        crate::auth::read_token(&path)
    }

    /// Where sources are cached: `<stateDir>/cache`.
    pub fn cache_dir(&self) -> PathBuf {
        self.state_dir.join("cache")
    }

    /// What the apps' pipelines share: a connection per cluster and
    /// [`concurrency`](Self::concurrency) reconcile slots.
    pub fn shared(&self) -> SharedResources {
        SharedResources {
            clusters: driftless::Clusters::new(),
            slots: Some(Arc::new(tokio::sync::Semaphore::new(self.concurrency))),
        }
    }
}

/// What the pipelines of one configuration's apps share.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SharedResources {
    /// One connection (and discovery cache) per Kubernetes cluster.
    pub clusters: driftless::Clusters,
    /// The reconcile slots ([`driftless::PipelineOptions::slots`]).
    pub slots: Option<Arc<tokio::sync::Semaphore>>,
}

impl AppConfig {
    fn validate(&self, at: &str) -> Result<(), ConfigError> {
        if !is_app_name(&self.name) {
            return Err(ConfigError::at(
                format!("{at}.name"),
                format!(
                    "{:?} is not a valid app name: use 1 to 63 letters, digits, '-', '_' or '.', \
                     starting with a letter or digit",
                    self.name
                ),
            ));
        }
        self.source.validate(&format!("{at}.source"))?;
        self.target_spec()
            .map_err(|e| ConfigError::at(format!("{at}.target"), e.to_string()))?;
        if self.interval < Duration::from_secs(1) {
            return Err(ConfigError::at(
                format!("{at}.interval"),
                "must be at least 1s",
            ));
        }
        for (j, rule) in self.ignore.iter().enumerate() {
            ignore_rule(rule)
                .map_err(|e| ConfigError::at(format!("{at}.ignore[{j}]"), e.to_string()))?;
        }
        for (field, namespace) in [
            ("targetNamespace", &self.target_namespace),
            ("inventoryNamespace", &self.inventory_namespace),
        ] {
            let Some(namespace) = namespace else { continue };
            if !matches!(self.target_spec(), Ok(TargetSpec::Kube(_))) {
                return Err(ConfigError::at(
                    format!("{at}.{field}"),
                    format!("only kube targets take a namespace, not {}", self.target),
                ));
            }
            if !is_dns_label(namespace) {
                return Err(ConfigError::at(
                    format!("{at}.{field}"),
                    format!(
                        "{namespace:?} is not a namespace name (up to 63 lowercase letters, digits and '-')"
                    ),
                ));
            }
        }
        let kube = matches!(self.target_spec(), Ok(TargetSpec::Kube(_)));
        if let Some(post_build) = &self.post_build {
            post_build.validate(&format!("{at}.postBuild"), kube)?;
        }
        if let Some(decryption) = &self.decryption {
            decryption.validate(&format!("{at}.decryption"), kube)?;
        }
        if let Some(webhook) = &self.webhook
            && webhook.secret_file.as_os_str().is_empty()
        {
            return Err(ConfigError::at(
                format!("{at}.webhook.secretFile"),
                "must name the file holding the shared secret",
            ));
        }
        Ok(())
    }

    /// The source, as a spec.
    pub fn source_spec(&self) -> Result<SourceSpec, driftless::Error> {
        self.source.url.parse()
    }

    /// The target, as a spec.
    pub fn target_spec(&self) -> Result<TargetSpec, driftless::Error> {
        self.target.parse()
    }

    /// The reference this app follows.
    pub fn source_ref(&self) -> SourceRef {
        let s = &self.source;
        SourceRef::select(
            s.branch.as_deref(),
            s.tag.as_deref(),
            s.semver.as_deref(),
            s.commit.as_deref(),
        )
    }

    /// The pipeline options this app asks for.
    pub fn pipeline_options(&self) -> PipelineOptions {
        // The rules were checked when the configuration was loaded.
        let ignore = self.ignore.iter().filter_map(|r| ignore_rule(r).ok());
        PipelineOptions::default()
            .path(&self.source.path)
            .apply(
                driftless::core::ApplyOptions::default()
                    .prune(self.prune)
                    .force(self.force),
            )
            .diff(driftless::diff::DiffOptions::default().ignore_rules(ignore))
            .health_timeout(self.health_timeout)
    }

    /// The options the app's target is opened with.
    pub fn target_options(&self) -> TargetOptions {
        let mut options = TargetOptions::default().inventory_name(&self.name);
        if let Some(namespace) = &self.target_namespace {
            options = options.namespace(namespace);
        }
        if let Some(namespace) = &self.inventory_namespace {
            options = options.inventory_namespace(namespace);
        }
        options
    }

    /// How the app renders: its mode, SOPS decryption when `decryption` is set, and
    /// substitution when `postBuild` is (variable files are read now). ConfigMaps and
    /// Secrets of the cluster are not read here: see [`post_build`](Self::post_build).
    pub fn render_options(&self) -> Result<RenderOptions, driftless::Error> {
        let decryptor = self
            .decryption
            .as_ref()
            .map(DecryptionConfig::decryptor)
            .transpose()?;
        let substitution = self
            .post_build
            .as_ref()
            .map(|post_build| post_build.substitution(decryptor.as_ref()))
            .transpose()?;
        Ok(RenderOptions::default()
            .mode(self.render)
            .decryptor(decryptor)
            .substitution(substitution))
    }

    /// What the app's renders read at each reconcile (keys and variables, from files
    /// and from `cluster`, the app's Kubernetes cluster), when `decryption` or
    /// `postBuild` is set. Identity files and the SOPS variables are read now.
    pub fn post_build(
        &self,
        cluster: Option<Cluster>,
    ) -> Result<Option<PostBuild>, driftless::Error> {
        if self.decryption.is_none() && self.post_build.is_none() {
            return Ok(None);
        }
        let identities = self
            .decryption
            .as_ref()
            .map(DecryptionConfig::identities)
            .transpose()?;
        let key_secret = self
            .decryption
            .as_ref()
            .and_then(|d| d.secret_ref.as_ref())
            .map(|secret| {
                ObjectRef::new(ObjectKind::Secret, &secret.name).namespace(secret.namespace.clone())
            });
        Ok(Some(
            PostBuild::default()
                .mode(self.render)
                .identities(identities)
                .key_secret(key_secret)
                .vars(self.post_build.as_ref().map(PostBuildConfig::vars))
                .cluster(cluster),
        ))
    }

    /// Opens the app's source, renderer and target into a [`Pipeline`]; sources cache
    /// under `cache_dir`.
    pub async fn pipeline(&self, cache_dir: &Path) -> Result<Pipeline, driftless::Error> {
        self.pipeline_sharing(cache_dir, &SharedResources::default())
            .await
    }

    /// Like [`pipeline`](Self::pipeline), sharing `shared` with the other apps.
    pub async fn pipeline_sharing(
        &self,
        cache_dir: &Path,
        shared: &SharedResources,
    ) -> Result<Pipeline, driftless::Error> {
        let options = SourceOptions::default()
            .reference(self.source_ref())
            .auth(
                self.source
                    .auth
                    .as_ref()
                    .map(AuthConfig::to_auth)
                    .unwrap_or_default(),
            )
            .cache_dir(cache_dir)
            .timeout(self.source.timeout);
        let source = driftless::spec::open_source(&self.source_spec()?, &options)?;
        let (target, cluster) = driftless::spec::open_target_in(
            &self.target_spec()?,
            &self.target_options(),
            &shared.clusters,
        )
        .await?;
        let renderer =
            driftless::postbuild::renderer_with(&RenderOptions::default().mode(self.render));
        let options = self.pipeline_options().slots(shared.slots.clone());
        let pipeline = Pipeline::from_dyn(source, renderer, target).with_options(options);
        Ok(match self.post_build(cluster)? {
            Some(post_build) => pipeline.with_post_build(post_build),
            None => pipeline,
        })
    }
}

impl AuthConfig {
    /// The credentials as the sources take them. Validation made sure that at most one
    /// kind is given, and whole.
    pub fn to_auth(&self) -> SourceAuth {
        let mut files = driftless::spec::CredentialFiles::default();
        files.token_file.clone_from(&self.token_file);
        files.username_file.clone_from(&self.username_file);
        files.password_file.clone_from(&self.password_file);
        files.ssh_key_file.clone_from(&self.ssh_key_file);
        files.known_hosts_file.clone_from(&self.known_hosts_file);
        files.to_auth()
    }
}

impl SourceConfig {
    #[allow(clippy::too_many_lines)] // one check after the other, each naming its field
    fn validate(&self, at: &str) -> Result<(), ConfigError> {
        let spec: SourceSpec = self
            .url
            .parse()
            .map_err(|e: driftless::Error| ConfigError::at(format!("{at}.url"), e.to_string()))?;
        if let SourceSpec::Git(url) | SourceSpec::Oci(url) = &spec
            && url.contains("://")
        {
            let parsed = url::Url::parse(url).map_err(|e| {
                ConfigError::at(format!("{at}.url"), format!("invalid URL {url:?}: {e}"))
            })?;
            if parsed.scheme() != "file" && parsed.host_str().is_none_or(str::is_empty) {
                return Err(ConfigError::at(
                    format!("{at}.url"),
                    format!("invalid URL {url:?}: it has no host"),
                ));
            }
        }
        let refs = [
            ("branch", &self.branch),
            ("tag", &self.tag),
            ("semver", &self.semver),
            ("commit", &self.commit),
        ];
        for (field, value) in refs {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return Err(ConfigError::at(
                    format!("{at}.{field}"),
                    "must not be empty",
                ));
            }
        }
        let chosen: Vec<&str> = [("tag", &self.tag), ("semver", &self.semver)]
            .iter()
            .chain([("branch", &self.branch)].iter())
            .filter(|(_, v)| v.is_some())
            .map(|(f, _)| *f)
            .collect();
        if chosen.len() > 1 {
            return Err(ConfigError::at(
                format!("{at}.{}", chosen[0]),
                format!(
                    "give only one of branch, tag and semver (found {})",
                    chosen.join(", ")
                ),
            ));
        }
        if self.commit.is_some() && (self.tag.is_some() || self.semver.is_some()) {
            return Err(ConfigError::at(
                format!("{at}.commit"),
                "a commit goes alone or with a branch, not with tag or semver",
            ));
        }
        if let Some(range) = &self.semver {
            semver::VersionReq::parse(range).map_err(|e| {
                ConfigError::at(
                    format!("{at}.semver"),
                    format!("invalid range {range:?}: {e}"),
                )
            })?;
        }
        if matches!(spec, SourceSpec::Local(_)) && refs.iter().any(|(_, value)| value.is_some()) {
            return Err(ConfigError::at(
                format!("{at}.url"),
                format!(
                    "{} is a local directory: it has no branch, tag or commit",
                    self.url
                ),
            ));
        }
        if self.timeout.is_some_and(|t| t < Duration::from_secs(1)) {
            return Err(ConfigError::at(
                format!("{at}.timeout"),
                "must be at least 1s",
            ));
        }
        if self.path.is_absolute()
            || self
                .path
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(ConfigError::at(
                format!("{at}.path"),
                format!(
                    "{} must be relative and stay inside the source",
                    self.path.display()
                ),
            ));
        }
        if let Some(auth) = &self.auth {
            let kinds: Vec<&str> = [
                ("tokenFile", auth.token_file.is_some()),
                (
                    "usernameFile",
                    auth.username_file.is_some() || auth.password_file.is_some(),
                ),
                (
                    "sshKeyFile",
                    auth.ssh_key_file.is_some() || auth.known_hosts_file.is_some(),
                ),
            ]
            .iter()
            .filter(|(_, given)| *given)
            .map(|(name, _)| *name)
            .collect();
            if kinds.len() > 1 {
                return Err(ConfigError::at(
                    format!("{at}.auth.{}", kinds[1]),
                    format!("give one kind of credentials (found {})", kinds.join(", ")),
                ));
            }
            if auth.username_file.is_some() != auth.password_file.is_some() {
                let missing = if auth.username_file.is_some() {
                    "passwordFile"
                } else {
                    "usernameFile"
                };
                return Err(ConfigError::at(
                    format!("{at}.auth.{missing}"),
                    "usernameFile and passwordFile go together",
                ));
            }
            if auth.known_hosts_file.is_some() && auth.ssh_key_file.is_none() {
                return Err(ConfigError::at(
                    format!("{at}.auth.sshKeyFile"),
                    "knownHostsFile needs sshKeyFile",
                ));
            }
            if matches!(spec, SourceSpec::Local(_)) {
                return Err(ConfigError::at(
                    format!("{at}.auth"),
                    format!("{} is a local directory: it takes no credentials", self.url),
                ));
            }
        }
        Ok(())
    }
}

/// Post-build variable substitution, with Flux's field names (`spec.postBuild`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PostBuildConfig {
    /// Variables by name; they win over `substituteFrom`.
    #[serde(default)]
    pub substitute: BTreeMap<String, String>,
    /// Where more variables come from, in order (later ones win).
    #[serde(default)]
    pub substitute_from: Vec<SubstituteFromConfig>,
    /// Refuse variables that are neither defined nor defaulted (Flux's
    /// `StrictPostBuildSubstitutions`), instead of substituting an empty string.
    #[serde(default)]
    pub strict: bool,
}

/// A source of variables (`substituteFrom`): a file on the agent's machine, or a
/// ConfigMap or Secret of the app's Kubernetes cluster, read at each reconcile.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubstituteFromConfig {
    /// `File` (KEY=value lines, or a ConfigMap or Secret manifest, SOPS-encrypted or
    /// not), or `ConfigMap` or `Secret` (its data, read from the cluster of the app's
    /// `kube` target at each reconcile).
    pub kind: String,
    /// The object's name, for `ConfigMap` and `Secret`.
    #[serde(default)]
    pub name: Option<String>,
    /// The object's namespace, for `ConfigMap` and `Secret`; the default is the app's
    /// own namespace, its `inventoryNamespace` (as Flux reads them from the
    /// Kustomization's namespace).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The file, for `File`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// A missing source is skipped.
    #[serde(default)]
    pub optional: bool,
}

/// SOPS decryption (`decryption`), with Flux's field names.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecryptionConfig {
    /// `sops`, the only provider.
    pub provider: String,
    /// Files of age identities (`AGE-SECRET-KEY-1…` lines), in addition to
    /// `SOPS_AGE_KEY_FILE` and `SOPS_AGE_KEY` of the agent's environment.
    #[serde(default)]
    pub identity_files: Vec<PathBuf>,
    /// A Secret of the app's cluster holding age identities in its keys ending in
    /// `.agekey`, as Flux's `decryption.secretRef`; read at each reconcile.
    #[serde(default)]
    pub secret_ref: Option<SecretRefConfig>,
}

/// A Secret of the app's cluster (`decryption.secretRef`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRefConfig {
    /// The Secret's name.
    pub name: String,
    /// Its namespace; the default is the app's own namespace, its `inventoryNamespace`.
    #[serde(default)]
    pub namespace: Option<String>,
}

impl PostBuildConfig {
    fn validate(&self, at: &str, kube: bool) -> Result<(), ConfigError> {
        for name in self.substitute.keys() {
            Substitution::new()
                .var(name.clone(), "")
                .map_err(|e| ConfigError::at(format!("{at}.substitute.{name}"), e.to_string()))?;
        }
        for (i, from) in self.substitute_from.iter().enumerate() {
            from.validate(&format!("{at}.substituteFrom[{i}]"), kube)?;
        }
        Ok(())
    }

    /// The substitution this asks for, from files only; files are read now, and
    /// decrypted with `decryptor` when they are SOPS files. ConfigMap and Secret
    /// sources are read at each reconcile: see [`vars`](Self::vars).
    pub fn substitution(
        &self,
        decryptor: Option<&Decryptor>,
    ) -> Result<Substitution, driftless::Error> {
        let files: Vec<VarsFile> = self
            .substitute_from
            .iter()
            .filter_map(|from| {
                from.path.clone().map(|path| VarsFile {
                    path,
                    optional: from.optional,
                })
            })
            .collect();
        driftless::postbuild::substitution(&files, &self.inline(), self.strict, decryptor)
    }

    /// Where the variables come from, in order, as read at each reconcile.
    pub fn vars(&self) -> Vars {
        let mut vars = Vars::default();
        vars.sources = self
            .substitute_from
            .iter()
            .filter_map(SubstituteFromConfig::source)
            .collect();
        vars.inline = self.inline();
        vars.strict = self.strict;
        vars
    }

    fn inline(&self) -> Vec<(String, String)> {
        self.substitute
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl SubstituteFromConfig {
    fn validate(&self, at: &str, kube: bool) -> Result<(), ConfigError> {
        let object = match self.kind.as_str() {
            "File" => false,
            "ConfigMap" | "Secret" => true,
            other => {
                return Err(ConfigError::at(
                    format!("{at}.kind"),
                    format!("unknown kind {other:?}: use File, ConfigMap or Secret"),
                ));
            }
        };
        let misplaced = if object {
            self.path.as_ref().map(|_| "path")
        } else {
            (self.name.as_ref().map(|_| "name")).or(self.namespace.as_ref().map(|_| "namespace"))
        };
        if let Some(field) = misplaced {
            let wanted = if object { "name" } else { "path" };
            return Err(ConfigError::at(
                format!("{at}.{field}"),
                format!("a {} source takes a {wanted}, not a {field}", self.kind),
            ));
        }
        if !object {
            return match self.path {
                Some(_) => Ok(()),
                None => Err(ConfigError::at(
                    format!("{at}.path"),
                    "a File source needs a path",
                )),
            };
        }
        check_object_ref(
            at,
            &self.kind,
            self.name.as_deref(),
            self.namespace.as_deref(),
            kube,
        )
    }

    fn source(&self) -> Option<VarsSource> {
        let kind = match self.kind.as_str() {
            "ConfigMap" => ObjectKind::ConfigMap,
            "Secret" => ObjectKind::Secret,
            _ => {
                let path = self.path.clone()?;
                return Some(VarsSource::File(VarsFile {
                    path,
                    optional: self.optional,
                }));
            }
        };
        let object = ObjectRef::new(kind, self.name.clone()?).namespace(self.namespace.clone());
        Some(VarsSource::Object {
            object,
            optional: self.optional,
        })
    }
}

/// A ConfigMap or Secret reference: a name, a namespace when given, and a kube target
/// to read it from.
fn check_object_ref(
    at: &str,
    kind: &str,
    name: Option<&str>,
    namespace: Option<&str>,
    kube: bool,
) -> Result<(), ConfigError> {
    let Some(name) = name else {
        return Err(ConfigError::at(
            format!("{at}.name"),
            format!("a {kind} source needs a name"),
        ));
    };
    if !is_dns_name(name) {
        return Err(ConfigError::at(
            format!("{at}.name"),
            format!("{name:?} is not a {kind} name (lowercase letters, digits, '-' and '.')"),
        ));
    }
    if let Some(namespace) = namespace
        && !is_dns_label(namespace)
    {
        return Err(ConfigError::at(
            format!("{at}.namespace"),
            format!(
                "{namespace:?} is not a namespace name (up to 63 lowercase letters, digits and '-')"
            ),
        ));
    }
    if !kube {
        return Err(ConfigError::at(
            at,
            format!(
                "a {kind} is read from the app's Kubernetes cluster: only apps with a kube \
                 target can read one"
            ),
        ));
    }
    Ok(())
}

impl DecryptionConfig {
    fn validate(&self, at: &str, kube: bool) -> Result<(), ConfigError> {
        if self.provider != "sops" {
            return Err(ConfigError::at(
                format!("{at}.provider"),
                format!("unknown provider {:?}: use sops", self.provider),
            ));
        }
        if let Some(secret) = &self.secret_ref {
            check_object_ref(
                &format!("{at}.secretRef"),
                "Secret",
                Some(&secret.name),
                secret.namespace.as_deref(),
                kube,
            )?;
        }
        Ok(())
    }

    /// The identities of the files and of the SOPS variables (not those of
    /// `secretRef`, read at each reconcile).
    pub fn identities(&self) -> Result<Identities, driftless::Error> {
        let mut identities = Identities::from_env()?;
        for file in &self.identity_files {
            identities.add_file(file)?;
        }
        Ok(identities)
    }

    /// A decryptor with the identities of the files and of the SOPS variables.
    pub fn decryptor(&self) -> Result<Decryptor, driftless::Error> {
        Ok(Decryptor::new(self.identities()?))
    }
}

fn is_app_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `[KIND[/NAME]=]POINTER`, the syntax of the CLI's `--ignore`, as a rule.
pub fn ignore_rule(text: &str) -> Result<driftless::diff::IgnoreRule, driftless::diff::Error> {
    text.parse()
}

fn is_dns_label(name: &str) -> bool {
    name.len() <= 63 && !name.ends_with('-') && is_dns_name(name) && !name.contains('.')
}

fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const HEAD: &str = "apiVersion: driftless.dev/v1alpha1\nkind: AgentConfig\n";

    fn app(name: &str, extra: &str) -> String {
        format!("- name: {name}\n  source: {{url: ./deploy}}\n  target: dir:/tmp/live\n{extra}")
    }

    fn parse(apps: &str) -> Result<AgentConfig, ConfigError> {
        AgentConfig::from_yaml(&format!("{HEAD}apps:\n{apps}"))
    }

    fn field_of(apps: &str) -> (String, String) {
        match parse(apps).unwrap_err() {
            ConfigError::Field { field, message } => (field, message),
            other => panic!("not a field error: {other}"),
        }
    }

    #[test]
    fn full_example_parses_with_defaults() {
        let config = AgentConfig::from_yaml(&format!(
            "{HEAD}listen: 127.0.0.1:9191\nstateDir: /var/lib/d\n\
             leaderElection: {{namespace: ops, name: driftless}}\napps:\n\
             - name: web\n  source:\n    url: https://git.example.com/org/repo.git\n    \
             branch: main\n    path: deploy/prod\n  render: kustomize\n  target: dir:/srv\n  \
             interval: 1m 30s\n  prune: false\n  dependsOn: [infra]\n  healthTimeout: 5m\n  \
             webhook: {{secretFile: /etc/secret}}\n{}",
            app("infra", "")
        ))
        .unwrap();
        let web = config.app("web").unwrap();
        assert_eq!(web.interval, Duration::from_secs(90));
        assert_eq!(web.health_timeout, Some(Duration::from_secs(300)));
        assert_eq!(web.render, RenderMode::Kustomize);
        assert_eq!(web.source_ref(), SourceRef::Branch("main".into()));
        assert!(!web.prune);
        let infra = config.app("infra").unwrap();
        assert_eq!(infra.interval, Duration::from_secs(60));
        assert!(infra.prune);
        assert_eq!(config.listen.port(), 9191);
        assert_eq!(
            config.leader_election.as_ref().unwrap().lease_duration,
            Duration::from_secs(15)
        );
        assert_eq!(config.order().unwrap(), vec![1, 0]);
    }

    #[test]
    fn unknown_fields_are_named() {
        let (field, message) = field_of(&app("web", "  intervall: 1m\n"));
        assert_eq!(field, "apps[0].intervall");
        assert!(message.contains("unknown field `intervall`"), "{message}");
        let (field, _) = field_of(&app("web", "  webhook: {secret: x}\n"));
        assert_eq!(field, "apps[0].webhook.secret");
        let err = AgentConfig::from_yaml("apps: []\nlisten2: x\n").unwrap_err();
        assert!(err.to_string().contains("listen2"), "{err}");
    }

    #[test]
    fn sharding_is_checked_and_excludes_leader_election() {
        let with = |section: &str| {
            AgentConfig::from_yaml(&format!("{HEAD}{section}apps:\n{}", app("web", "")))
        };
        let config = with("sharding: {namespace: ops, name: agents}\n").unwrap();
        let sharding = config.sharding.unwrap();
        assert_eq!(sharding.lease_duration, Duration::from_secs(15));
        assert_eq!(sharding.identity, None);
        for (section, field) in [
            (
                "sharding: {namespace: Ops, name: agents}\n",
                "sharding.namespace",
            ),
            ("sharding: {namespace: ops, name: a.b}\n", "sharding.name"),
            (
                "sharding: {namespace: ops, name: agents, leaseDuration: 1s}\n",
                "sharding.leaseDuration",
            ),
            (
                "sharding: {namespace: ops, name: agents, identity: ''}\n",
                "sharding.identity",
            ),
            (
                "sharding: {namespace: ops, name: agents}\nleaderElection: {namespace: ops, name: lock}\n",
                "sharding",
            ),
            (
                "sharding: {namespace: ops, name: agents, shards: 3}\n",
                "sharding.shards",
            ),
        ] {
            let error = with(section).unwrap_err();
            assert_eq!(error.field(), Some(field), "{section}: {error}");
        }
    }

    #[test]
    fn bad_durations_are_named() {
        let apps = format!("{}{}", app("a", ""), app("b", "  interval: 5 parsecs\n"));
        let (field, message) = field_of(&apps);
        assert_eq!(field, "apps[1].interval");
        assert!(message.contains("invalid duration"), "{message}");
        let (field, _) = field_of(&app("a", "  healthTimeout: soon\n"));
        assert_eq!(field, "apps[0].healthTimeout");
        let (field, _) = field_of(&app("a", "  interval: 0s\n"));
        assert_eq!(field, "apps[0].interval");
    }

    #[test]
    fn concurrency_defaults_to_16_and_is_at_least_1() {
        let config = parse(&app("a", "")).unwrap();
        assert_eq!(config.concurrency, DEFAULT_CONCURRENCY);
        let slots = config.shared().slots.unwrap();
        assert_eq!(slots.available_permits(), 16);
        let config = AgentConfig::from_yaml(&format!("{HEAD}concurrency: 3\napps: []\n")).unwrap();
        assert_eq!(config.concurrency, 3);
        match AgentConfig::from_yaml(&format!("{HEAD}concurrency: 0\napps: []\n")).unwrap_err() {
            ConfigError::Field { field, message } => {
                assert_eq!(field, "concurrency");
                assert!(message.contains("at least 1"), "{message}");
            }
            other => panic!("not a field error: {other}"),
        }
    }

    #[test]
    fn duplicate_names_are_named() {
        let (field, message) = field_of(&format!("{}{}", app("web", ""), app("web", "")));
        assert_eq!(field, "apps[1].name");
        assert!(message.contains("also apps[0]"), "{message}");
    }

    #[test]
    fn unknown_and_cyclic_dependencies() {
        let (field, message) = field_of(&app("a", "  dependsOn: [nope]\n"));
        assert_eq!(field, "apps[0].dependsOn[0]");
        assert!(message.contains("nope"), "{message}");
        let apps = format!(
            "{}{}{}",
            app("a", "  dependsOn: [b]\n"),
            app("b", "  dependsOn: [c]\n"),
            app("c", "  dependsOn: [a]\n")
        );
        let (field, message) = field_of(&apps);
        assert_eq!(field, "apps[0].dependsOn");
        assert_eq!(message, "dependency cycle: a -> b -> c -> a");
        let (_, message) = field_of(&app("a", "  dependsOn: [a]\n"));
        assert!(message.contains("itself"), "{message}");
    }

    #[test]
    fn bad_urls_and_targets_are_named() {
        let bad = "- name: a\n  source: {url: 'https://'}\n  target: dir:/x\n";
        assert_eq!(field_of(bad).0, "apps[0].source.url");
        let bad = "- name: a\n  source: {url: 's3://bucket'}\n  target: dir:/x\n";
        assert_eq!(field_of(bad).0, "apps[0].source.url");
        let bad = "- name: a\n  source: {url: ./x}\n  target: cluster\n";
        assert_eq!(field_of(bad).0, "apps[0].target");
        let bad = "- name: a\n  source: {url: ./x, branch: main}\n  target: dir:/x\n";
        assert_eq!(field_of(bad).0, "apps[0].source.url");
        let bad =
            "- name: a\n  source: {url: 'https://h/r.git', branch: m, tag: v1}\n  target: dir:/x\n";
        assert_eq!(field_of(bad).0, "apps[0].source.tag");
        let bad = "- name: 'a b'\n  source: {url: ./x}\n  target: dir:/x\n";
        assert_eq!(field_of(bad).0, "apps[0].name");
        let err =
            AgentConfig::from_yaml(&format!("{HEAD}listen: nowhere\napps: []\n")).unwrap_err();
        assert_eq!(err.field(), Some("listen"));
    }

    #[test]
    fn ignore_force_and_target_namespace_as_the_cli_has_them() {
        let kube = "- name: a\n  source: {url: ./x}\n  target: kube\n  force: true\n  \
                    targetNamespace: shop\n  ignore: ['Deployment/web=/spec/replicas', /metadata/labels/team]\n";
        let config = parse(kube).unwrap();
        let web = &config.apps[0];
        let options = web.pipeline_options();
        assert!(options.apply.force);
        let rules = &options.diff.ignore;
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].kind.as_deref(), Some("Deployment"));
        assert_eq!(rules[0].name.as_deref(), Some("web"));
        assert_eq!(rules[0].pointer, "/spec/replicas");
        assert_eq!(rules[1].kind, None);
        assert_eq!(web.target_options().namespace.as_deref(), Some("shop"));
        let home = kube.replace(
            "targetNamespace: shop",
            "inventoryNamespace: driftless-system",
        );
        let config = parse(&home).unwrap();
        let options = config.apps[0].target_options();
        assert_eq!(
            options.inventory_namespace.as_deref(),
            Some("driftless-system")
        );
        assert_eq!(options.namespace, None);

        let (field, message) = field_of(&app("a", "  ignore: [/ok, 'spec/replicas']\n"));
        assert_eq!(field, "apps[0].ignore[1]");
        assert!(message.contains("JSON pointer"), "{message}");
        let (field, message) = field_of(&app("a", "  targetNamespace: shop\n"));
        assert_eq!(field, "apps[0].targetNamespace");
        assert!(message.contains("only kube targets"), "{message}");
        let bad = kube.replace("targetNamespace: shop", "targetNamespace: Shop_1");
        assert_eq!(field_of(&bad).0, "apps[0].targetNamespace");
    }

    #[test]
    fn post_build_and_decryption_follow_flux_names() {
        let config = parse(&app(
            "web",
            "  postBuild:\n    substitute: {cluster_name: eu-1, replicas: '3'}\n    \
             substituteFrom:\n      - {kind: File, path: /etc/vars.env, optional: true}\n  \
             decryption: {provider: sops, identityFiles: [/etc/age.key]}\n",
        ))
        .unwrap();
        let web = config.app("web").unwrap();
        let post_build = web.post_build.as_ref().unwrap();
        assert_eq!(post_build.substitute["cluster_name"], "eu-1");
        assert!(post_build.substitute_from[0].optional);
        assert_eq!(web.decryption.as_ref().unwrap().identity_files.len(), 1);
        let substitution = post_build.substitution(None).unwrap();
        assert_eq!(substitution.vars()["replicas"], "3");

        let (field, message) = field_of(&app("a", "  postBuild: {substitute: {a-b: x}}\n"));
        assert_eq!(field, "apps[0].postBuild.substitute.a-b");
        assert!(message.contains("invalid variable name"), "{message}");
        // ConfigMaps and Secrets are read from the cluster: only kube targets have one.
        let (field, message) = field_of(&app(
            "a",
            "  postBuild: {substituteFrom: [{kind: ConfigMap, name: vars}]}\n",
        ));
        assert_eq!(field, "apps[0].postBuild.substituteFrom[0]");
        assert!(
            message.contains("only apps with a kube target"),
            "{message}"
        );
        let kube = |extra: &str| {
            format!("- name: a\n  source: {{url: ./deploy}}\n  target: kube\n{extra}")
        };
        let config = parse(&kube(
            "  postBuild:\n    substituteFrom:\n      - {kind: ConfigMap, name: vars}\n      \
             - {kind: Secret, name: more, namespace: shared, optional: true}\n  \
             decryption: {provider: sops, secretRef: {name: sops-age}}\n",
        ))
        .unwrap();
        let vars = config.apps[0].post_build.as_ref().unwrap().vars();
        assert_eq!(vars.sources.len(), 2);
        assert!(matches!(
            &vars.sources[1],
            VarsSource::Object { object, optional: true }
                if object.kind == ObjectKind::Secret && object.namespace.as_deref() == Some("shared")
        ));
        for (extra, wanted, words) in [
            (
                "  postBuild: {substituteFrom: [{kind: Secret}]}\n",
                "apps[0].postBuild.substituteFrom[0].name",
                "needs a name",
            ),
            (
                "  postBuild: {substituteFrom: [{kind: Secret, name: Bad_Name}]}\n",
                "apps[0].postBuild.substituteFrom[0].name",
                "not a Secret name",
            ),
            (
                "  postBuild: {substituteFrom: [{kind: ConfigMap, name: v, path: /x}]}\n",
                "apps[0].postBuild.substituteFrom[0].path",
                "takes a name",
            ),
            (
                "  postBuild: {substituteFrom: [{kind: Vault, name: v}]}\n",
                "apps[0].postBuild.substituteFrom[0].kind",
                "use File, ConfigMap or Secret",
            ),
            (
                "  decryption: {provider: sops, secretRef: {name: k, namespace: A}}\n",
                "apps[0].decryption.secretRef.namespace",
                "not a namespace name",
            ),
        ] {
            let (field, message) = field_of(&kube(extra));
            assert_eq!(field, wanted, "{extra}");
            assert!(message.contains(words), "{extra}: {message}");
        }
        let (field, _) = field_of(&app("a", "  postBuild: {substituteFrom: [{kind: File}]}\n"));
        assert_eq!(field, "apps[0].postBuild.substituteFrom[0].path");
        let (field, message) = field_of(&app("a", "  decryption: {provider: vault}\n"));
        assert_eq!(field, "apps[0].decryption.provider");
        assert!(message.contains("use sops"), "{message}");
        let (field, _) = field_of(&app(
            "a",
            "  decryption: {provider: sops, secretRef: {name: x}}\n",
        ));
        assert_eq!(field, "apps[0].decryption.secretRef");
    }

    #[test]
    fn yaml_errors_keep_their_position() {
        let err = AgentConfig::from_yaml("apps: [\n").unwrap_err();
        assert!(matches!(err, ConfigError::Yaml(_)), "{err}");
    }
}

/// The published JSON Schema of the configuration (`docs/agent-config.schema.json`),
/// derived from the types above so that the two cannot drift apart.
#[cfg(test)]
mod schema {
    use std::path::PathBuf;

    pub(super) fn render_mode(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "enum": ["auto", "plain", "kustomize"],
            "default": "auto",
        })
    }

    fn published() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/agent-config.schema.json")
    }

    /// Fails when the types changed and the published schema did not; run with
    /// `DRIFTLESS_UPDATE_SCHEMA=1` to write the new one.
    #[test]
    fn published_schema_matches_the_types() {
        let mut schema = schemars::schema_for!(super::AgentConfig);
        schema.insert(
            "$id".into(),
            "https://driftless.dev/schemas/agent-config-v1alpha1.json".into(),
        );
        let text = format!("{}\n", serde_json::to_string_pretty(&schema).unwrap());
        if std::env::var_os("DRIFTLESS_UPDATE_SCHEMA").is_some() {
            std::fs::write(published(), &text).unwrap();
        }
        let on_disk = std::fs::read_to_string(published()).unwrap_or_default();
        assert!(
            on_disk == text,
            "docs/agent-config.schema.json is out of date: run \
             DRIFTLESS_UPDATE_SCHEMA=1 cargo test -p driftless-runtime --lib config::schema"
        );
    }

    /// Whether the published schema accepts `value`, as the reference validator
    /// (Python's `jsonschema`) judges it.
    fn schema_accepts(value: &serde_json::Value) -> bool {
        driftless_testkit::require_program(
            "python3",
            "install python3 and python3-jsonschema (scripts/install-test-deps.sh)",
        );
        let dir = tempfile::tempdir().unwrap();
        let instance = dir.path().join("config.json");
        std::fs::write(&instance, serde_json::to_vec(value).unwrap()).unwrap();
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import json, sys, jsonschema\n\
                 schema = json.load(open(sys.argv[1]))\n\
                 try:\n    jsonschema.validate(json.load(open(sys.argv[2])), schema)\n\
                 except jsonschema.ValidationError as e:\n    print(e.message); sys.exit(1)",
            ])
            .arg(published())
            .arg(&instance)
            .output()
            .unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "the validator failed (is python3-jsonschema installed?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.status.success()
    }

    /// The schema and the loader agree on what a valid configuration is, for every
    /// rule the schema can express.
    #[test]
    fn the_schema_and_the_loader_agree() {
        let valid = "apiVersion: driftless.dev/v1alpha1\nkind: AgentConfig\nlisten: 127.0.0.1:9191\n\
                     apps:\n- name: web\n  source: {url: 'https://git.example.com/r.git', branch: main}\n  \
                     target: kube\n  interval: 30s\n  force: true\n  targetNamespace: shop\n  \
                     ignore: ['Deployment/web=/spec/replicas']\n  healthTimeout: 1m\n";
        let cases = [
            (valid.to_owned(), true),
            (valid.replace("interval:", "intervall:"), false),
            (valid.replace("force: true", "force: 'yes'"), false),
            (valid.replace("  target: kube\n", ""), false),
            (
                valid.replace("ignore: ['Deployment/web=/spec/replicas']", "ignore: /x"),
                false,
            ),
            (
                std::fs::read_to_string(
                    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                        .join("../../examples/quickstart/agent.yaml"),
                )
                .unwrap(),
                true,
            ),
        ];
        for (text, valid) in cases {
            let value = driftless::core::yaml::from_str_multi(&text)
                .unwrap()
                .remove(0);
            assert_eq!(schema_accepts(&value), valid, "schema on {text}");
            assert_eq!(
                super::AgentConfig::from_yaml(&text).is_ok(),
                valid,
                "loader on {text}"
            );
        }
    }

    /// The quick start configuration is valid for both the types and the schema's
    /// required fields.
    #[test]
    fn quickstart_config_loads() {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/quickstart/agent.yaml");
        let config = super::AgentConfig::load(&path).unwrap();
        assert_eq!(config.apps[0].name, "quickstart");
    }
}
