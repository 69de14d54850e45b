//! The driftless agent loop inside another program: a small feature-flag service whose
//! flags are kept in sync with a manifests file, with the agent's API served beside the
//! service's own routes.
//!
//! ```text
//! cargo run -p example-embedded-agent -- flags.yaml 127.0.0.1:8080
//! curl 127.0.0.1:8080/flags                          # the service
//! curl 127.0.0.1:8080/api/v1/apps                    # the agent, in the same process
//! DRIFTLESS_API_TOKEN=s3cret cargo run -p example-embedded-agent -- flags.yaml 127.0.0.1:8080
//! curl -X POST -H 'Authorization: Bearer s3cret' -H 'Content-Type: application/json' \
//!     127.0.0.1:8080/api/v1/apps/flags/reconcile
//! ```
//!
//! The API's mutations need the token given in `DRIFTLESS_API_TOKEN` (without one,
//! they are refused); reads are open to clients on this machine.
//!
//! Both plug-ins are the program's own: a [`Source`] reading one multi-document YAML
//! file (its revision is the file's SHA-256), and a [`Target`] that is the service's
//! in-memory flag table. The agent brings the schedule (every 30 s), backoff, history
//! in memory, the status API and metrics; Ctrl-C or SIGTERM stops both cleanly.
#![allow(clippy::print_stderr)] // a command-line program

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use driftless::core::{
    Action, ApplyOptions, ApplyReport, LiveObject, LiveState, Object, ObjectId, ObjectSet, Plan,
    Revision, Snapshot, Source, SourceError, Target, TargetError, async_trait,
};
use driftless::render::AutoRenderer;
use driftless::{Pipeline, PipelineOptions};
use driftless_runtime::auth::ApiAuth;
use driftless_runtime::{AgentBuilder, AppOptions};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// What can go wrong reading the manifests file.
#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the snapshot {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} changed while it was fetched (expected {expected})", path.display())]
    Changed { path: PathBuf, expected: String },
}

/// One YAML file of manifests; each revision is copied into its own snapshot folder.
struct ManifestFile {
    path: PathBuf,
    snapshots: tempfile::TempDir,
}

impl ManifestFile {
    fn new(path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            path: path.to_owned(),
            snapshots: tempfile::tempdir()?,
        })
    }

    async fn read(&self) -> Result<(Vec<u8>, Revision), FileError> {
        let bytes = tokio::fs::read(&self.path)
            .await
            .map_err(|source| FileError::Read {
                path: self.path.clone(),
                source,
            })?;
        let hex = hex::encode(Sha256::digest(&bytes));
        let revision = Revision::new(None, "sha256", &hex).expect("a SHA-256 in hex is a revision");
        Ok((bytes, revision))
    }
}

#[async_trait]
impl Source for ManifestFile {
    fn describe(&self) -> String {
        format!("file:{}", self.path.display())
    }

    async fn resolve(&self) -> Result<Revision, SourceError> {
        let (_, revision) = self.read().await.map_err(SourceError::other)?;
        Ok(revision)
    }

    async fn fetch(&self, revision: &Revision) -> Result<Snapshot, SourceError> {
        let (bytes, read) = self.read().await.map_err(SourceError::other)?;
        if &read != revision {
            return Err(SourceError::other(FileError::Changed {
                path: self.path.clone(),
                expected: revision.to_string(),
            }));
        }
        let dir = self.snapshots.path().join(revision.hex());
        let file = dir.join("manifests.yaml");
        let write = |source| FileError::Write {
            path: file.clone(),
            source,
        };
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| SourceError::other(write(e)))?;
        tokio::fs::write(&file, bytes)
            .await
            .map_err(|e| SourceError::other(write(e)))?;
        Ok(Snapshot::new(dir, read))
    }
}

/// The service's flags: the `data` of every ConfigMap applied, by ConfigMap name. The
/// agent is the only writer; the service's handlers read.
#[derive(Clone, Default)]
struct FlagTable {
    objects: Arc<RwLock<BTreeMap<ObjectId, Object>>>,
}

impl FlagTable {
    /// `{"<configmap>": {"<flag>": "<value>"}}`.
    fn flags(&self) -> Value {
        let objects = self
            .objects
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let flags: serde_json::Map<String, Value> = objects
            .values()
            .filter(|o| o.kind() == "ConfigMap")
            .map(|o| {
                let data = o.as_value().get("data").cloned().unwrap_or(Value::Null);
                (o.name().to_owned(), data)
            })
            .collect();
        Value::Object(flags)
    }
}

#[async_trait]
impl Target for FlagTable {
    fn describe(&self) -> String {
        "memory:flags".into()
    }

    async fn live(&self, _desired: &ObjectSet) -> Result<LiveState, TargetError> {
        let objects = self
            .objects
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Only the agent writes the table: everything in it is ours and as applied.
        let inventory: BTreeSet<ObjectId> = objects.keys().cloned().collect();
        let objects = objects
            .iter()
            .map(|(id, object)| {
                let live = LiveObject {
                    object: object.clone(),
                    last_applied: Some(object.clone()),
                    predicted: None,
                };
                (id.clone(), live)
            })
            .collect();
        Ok(LiveState { objects, inventory })
    }

    async fn apply(&self, plan: &Plan, options: &ApplyOptions) -> Result<ApplyReport, TargetError> {
        let mut report = ApplyReport {
            dry_run: options.dry_run,
            ..ApplyReport::default()
        };
        let mut objects = self
            .objects
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for change in &plan.changes {
            let id = change.id.clone();
            match &change.action {
                Action::Create { desired } | Action::Update { desired, .. } => {
                    if !options.dry_run {
                        objects.insert(id.clone(), desired.clone());
                    }
                    if matches!(change.action, Action::Create { .. }) {
                        report.created.push(id);
                    } else {
                        report.updated.push(id);
                    }
                }
                Action::Unchanged { .. } => report.unchanged.push(id),
                Action::Prune { .. } if options.prune => {
                    if !options.dry_run {
                        objects.remove(&id);
                    }
                    report.pruned.push(id);
                }
                Action::Prune { .. } => {}
            }
        }
        Ok(report)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [manifests, listen] = args.as_slice() else {
        eprintln!("usage: example-embedded-agent MANIFESTS_FILE LISTEN_ADDR");
        return ExitCode::from(2);
    };
    let listen: SocketAddr = match listen.parse() {
        Ok(listen) => listen,
        Err(error) => {
            eprintln!("error: {listen:?} is not an address like 127.0.0.1:8080: {error}");
            return ExitCode::from(2);
        }
    };
    match run(Path::new(manifests), listen).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// The API's access: the token in `DRIFTLESS_API_TOKEN`, if any, for mutations.
fn api_auth(listen: SocketAddr) -> ApiAuth {
    let auth = ApiAuth::new().listen(listen);
    match std::env::var(driftless_runtime::auth::TOKEN_ENV) {
        Ok(token) if !token.trim().is_empty() => auth.token(token.trim()),
        _ => auth,
    }
}

async fn run(manifests: &Path, listen: SocketAddr) -> anyhow::Result<()> {
    let flags = FlagTable::default();
    let pipeline = Pipeline::new(
        ManifestFile::new(manifests)?,
        AutoRenderer::default(),
        flags.clone(),
    )
    .with_options(PipelineOptions::default().apply(ApplyOptions::default().prune(true)));
    let shutdown = CancellationToken::new();
    let agent = Arc::new(
        AgentBuilder::new()
            .app(
                "flags",
                pipeline,
                AppOptions::default().interval(Duration::from_secs(30)),
            )
            .api_auth(api_auth(listen))
            .shutdown(shutdown.clone())
            .build()?,
    );

    // The service's own route, with the agent's API and metrics beside it.
    let service = axum::Router::new()
        .route(
            "/flags",
            get(|State(flags): State<FlagTable>| async move { Json(flags.flags()) }),
        )
        .with_state(flags)
        .merge(driftless_runtime::server::router(Arc::clone(&agent)));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let stop = shutdown.clone();
    let server = tokio::spawn(async move {
        // The peer's address tells loopback reads from others.
        axum::serve(
            listener,
            service.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
    });
    let loops = tokio::spawn(Arc::clone(&agent).run());

    stop_signal().await;
    shutdown.cancel();
    loops.await?;
    server.await??;
    Ok(())
}

/// Ctrl-C, or SIGTERM on Unix.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
