//! A custom [`Target`]: a key-value store behind a small HTTP API, the kind of
//! configuration service many platforms have. driftless keeps it in sync with a
//! directory of manifests, prunes what was removed and corrects drift, like it does for
//! Kubernetes.
//!
//! ```text
//! cargo run -p example-custom-target -- examples/quickstart/app http://127.0.0.1:8080
//! ```
//!
//! The store's API: `GET /objects` lists every stored object (JSON array), `PUT
//! /objects/<id>` stores one, `DELETE /objects/<id>` removes it. The target keeps its
//! inventory in the store too, under the id `_inventory`, so prune only ever deletes
//! what this target wrote.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a command-line program

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;

use driftless::core::{
    Action, ApplyOptions, ApplyReport, LiveObject, LiveState, Object, ObjectId, ObjectSet, Plan,
    Target, TargetError, async_trait,
};
use driftless::render::AutoRenderer;
use driftless::{LocalSource, Pipeline, PipelineOptions};
use serde_json::Value;

/// What can go wrong talking to the store.
#[derive(Debug, thiserror::Error)]
enum StoreError {
    #[error("{method} {url} failed")]
    Http {
        method: &'static str,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the store returned an object that is not one: {0}")]
    Invalid(#[source] driftless::core::Error),
}

/// The key under which the inventory is stored.
const INVENTORY: &str = "_inventory";

/// A key-value store of objects behind HTTP.
struct HttpStore {
    base: String,
    client: reqwest::Client,
}

impl HttpStore {
    fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
        }
    }

    fn url(&self, key: &str) -> String {
        // Ids hold '/', which the store takes as part of the key once escaped.
        format!("{}/objects/{}", self.base, key.replace('/', "%2F"))
    }

    async fn send(
        &self,
        method: &'static str,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, StoreError> {
        let http = |source| StoreError::Http {
            method,
            url: url.to_owned(),
            source,
        };
        request
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(http)
    }

    /// Every stored value: objects by id, and the inventory.
    async fn list(&self) -> Result<(Vec<Object>, BTreeSet<ObjectId>), StoreError> {
        let url = format!("{}/objects", self.base);
        let response = self.send("GET", self.client.get(&url), &url).await?;
        let values: Vec<Value> = response.json().await.map_err(|source| StoreError::Http {
            method: "GET",
            url: url.clone(),
            source,
        })?;
        let mut objects = Vec::new();
        let mut inventory = BTreeSet::new();
        for value in values {
            if value.get("kind").and_then(Value::as_str) == Some(INVENTORY) {
                let ids = value
                    .get("ids")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                inventory.extend(ids.iter().filter_map(|id| id.as_str()?.parse().ok()));
            } else {
                objects.push(Object::new(value).map_err(StoreError::Invalid)?);
            }
        }
        Ok((objects, inventory))
    }

    async fn put(&self, key: &str, value: &Value) -> Result<(), StoreError> {
        let url = self.url(key);
        self.send("PUT", self.client.put(&url).json(value), &url)
            .await
            .map(drop)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let url = self.url(key);
        self.send("DELETE", self.client.delete(&url), &url)
            .await
            .map(drop)
    }
}

#[async_trait]
impl Target for HttpStore {
    fn describe(&self) -> String {
        format!("store:{}", self.base)
    }

    async fn live(&self, desired: &ObjectSet) -> Result<LiveState, TargetError> {
        let (objects, inventory) = self.list().await.map_err(TargetError::other)?;
        let mut live = LiveState {
            inventory,
            ..LiveState::default()
        };
        for object in objects {
            let id = object.id();
            if desired.contains(&id) || live.inventory.contains(&id) {
                // The store keeps what we wrote and nothing else, so live is what we
                // last applied.
                let last_applied = Some(object.clone()).filter(|_| live.inventory.contains(&id));
                live.objects.insert(
                    id,
                    LiveObject {
                        object,
                        last_applied,
                        predicted: None,
                    },
                );
            }
        }
        Ok(live)
    }

    async fn apply(&self, plan: &Plan, options: &ApplyOptions) -> Result<ApplyReport, TargetError> {
        let mut report = ApplyReport {
            dry_run: options.dry_run,
            ..ApplyReport::default()
        };
        let mut inventory = BTreeSet::new();
        for change in &plan.changes {
            let key = change.id.to_string();
            match &change.action {
                Action::Create { desired } | Action::Update { desired, .. } => {
                    if !options.dry_run {
                        self.put(&key, desired.as_value())
                            .await
                            .map_err(TargetError::other)?;
                    }
                    let list = if matches!(change.action, Action::Create { .. }) {
                        &mut report.created
                    } else {
                        &mut report.updated
                    };
                    list.push(change.id.clone());
                    inventory.insert(change.id.clone());
                }
                Action::Unchanged { .. } => {
                    report.unchanged.push(change.id.clone());
                    inventory.insert(change.id.clone());
                }
                Action::Prune { .. } if options.prune => {
                    if !options.dry_run {
                        self.delete(&key).await.map_err(TargetError::other)?;
                    }
                    report.pruned.push(change.id.clone());
                }
                // Not pruning: it stays ours, to be pruned another time.
                Action::Prune { .. } => {
                    inventory.insert(change.id.clone());
                }
            }
        }
        if !options.dry_run {
            let ids: Vec<String> = inventory.iter().map(ToString::to_string).collect();
            let record = serde_json::json!({"kind": INVENTORY, "ids": ids});
            self.put(INVENTORY, &record)
                .await
                .map_err(TargetError::other)?;
        }
        Ok(report)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    // driftless builds rustls without a default crypto provider (ring is smaller and
    // faster to build than aws-lc); a program making its own HTTPS clients picks one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [source, store] = args.as_slice() else {
        eprintln!("usage: example-custom-target SOURCE_DIR STORE_URL");
        return ExitCode::from(2);
    };
    match run(Path::new(source), store).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(source: &Path, store: &str) -> anyhow::Result<()> {
    let pipeline = Pipeline::new(
        LocalSource::new(source),
        AutoRenderer::default(),
        HttpStore::new(store),
    )
    .with_options(PipelineOptions::default().apply(ApplyOptions::default().prune(true)));
    let report = pipeline.reconcile().await?;
    println!(
        "{}: {} created, {} updated, {} pruned, {} unchanged",
        report.revision,
        report.applied.created.len(),
        report.applied.updated.len(),
        report.applied.pruned.len(),
        report.applied.unchanged.len()
    );
    Ok(())
}
