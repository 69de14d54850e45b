//! Durable sync history and audit journal, in an embedded transactional store under the
//! agent's `stateDir` (`history.redb`, see `docs/agent-store.md` for the choice).
//!
//! Every write is one transaction committed with an fsync before the call returns: a
//! process killed at any moment (even `kill -9`) loses nothing that was committed, and
//! never leaves a half-written record.
//!
//! ```
//! use std::time::SystemTime;
//! use driftless_runtime::history::{History, NewSync, SyncResult};
//!
//! let dir = tempfile::tempdir()?;
//! let history = History::open(dir.path())?;
//! let now = SystemTime::now();
//! history.record_sync(&NewSync {
//!     app: "web".into(),
//!     revision: Some("main@sha1:0123456789abcdef0123456789abcdef01234567".into()),
//!     started: now,
//!     finished: now,
//!     result: SyncResult::Succeeded,
//!     trigger: "interval".into(),
//!     created: 3,
//!     ..NewSync::default()
//! })?;
//! let syncs = history.syncs("web", 10)?;
//! assert_eq!(syncs[0].created, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

/// Sync records, by (app, sequence number).
const SYNCS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("syncs");
/// Audit entries, by sequence number.
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
/// Per-app state that must survive restarts (suspended, pinned revision), by app.
const APP_STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("app_state");

/// How many syncs are kept per app by default; older ones are deleted as new ones are
/// recorded.
pub const DEFAULT_KEEP_SYNCS: u64 = 1000;

/// The file name of the store inside the state directory.
pub const FILE_NAME: &str = "history.redb";

/// A failure of the history store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The state directory could not be created.
    #[error("cannot create the state directory {}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The store is held by another process (e.g. a running agent).
    #[error(
        "the history store {} is in use by another process (is an agent running on this \
         stateDir?)",
        path.display()
    )]
    InUse {
        /// The store file.
        path: PathBuf,
    },
    /// The store could not be opened, read or written.
    #[error("history store {}: {action} failed", path.display())]
    Store {
        /// The store file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The cause.
        #[source]
        source: Box<redb::Error>,
    },
    /// A record could not be encoded or decoded.
    #[error("history store {}: a record is not valid", path.display())]
    Record {
        /// The store file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

/// How a sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub enum SyncResult {
    /// Applied (and healthy, when health was waited for).
    #[default]
    Succeeded,
    /// Fetch, render, apply or health failed.
    Failed,
}

impl SyncResult {
    /// `succeeded` or `failed`, for metrics labels and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

/// A sync to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSync {
    /// The app.
    pub app: String,
    /// The revision applied (or tried), when it was resolved.
    pub revision: Option<String>,
    /// When the sync started.
    pub started: SystemTime,
    /// When it ended.
    pub finished: SystemTime,
    /// How it ended.
    pub result: SyncResult,
    /// What started it: `interval`, `webhook`, `api`, `startup`, `cli`.
    pub trigger: String,
    /// Objects created.
    pub created: usize,
    /// Objects updated.
    pub updated: usize,
    /// Objects deleted.
    pub pruned: usize,
    /// Objects left as they were.
    pub unchanged: usize,
    /// Whether the revision was fetched and rendered (false: the last render was reused).
    pub rendered: bool,
    /// The error and its causes, when it failed.
    pub error: Option<String>,
    /// What changed, one entry an object: `Kind namespace/name action (/field, …)`.
    /// Field paths only, never values, so Secrets stay out.
    pub changes: Vec<String>,
}

impl Default for NewSync {
    fn default() -> Self {
        Self {
            app: String::new(),
            revision: None,
            started: UNIX_EPOCH,
            finished: UNIX_EPOCH,
            result: SyncResult::Succeeded,
            trigger: String::new(),
            created: 0,
            updated: 0,
            pruned: 0,
            unchanged: 0,
            rendered: false,
            error: None,
            changes: Vec::new(),
        }
    }
}

/// A recorded sync.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRecord {
    /// Its number, increasing per app.
    pub id: u64,
    /// The app.
    pub app: String,
    /// The revision applied (or tried).
    pub revision: Option<String>,
    /// Start, RFC 3339 (UTC).
    pub started: String,
    /// End, RFC 3339 (UTC).
    pub finished: String,
    /// Duration in seconds.
    pub duration_seconds: f64,
    /// How it ended.
    pub result: SyncResult,
    /// What started it.
    pub trigger: String,
    /// Objects created.
    pub created: usize,
    /// Objects updated.
    pub updated: usize,
    /// Objects deleted.
    pub pruned: usize,
    /// Objects left as they were.
    pub unchanged: usize,
    /// Whether the revision was fetched and rendered.
    pub rendered: bool,
    /// The error, when it failed.
    pub error: Option<String>,
    /// How many passes this record stands for: consecutive no-op syncs (succeeded,
    /// nothing created, updated or pruned, the same revision) are folded into one
    /// record, so the retention keeps real syncs for rollback. `started`, `finished`
    /// and the duration are those of the newest pass.
    #[serde(default = "one")]
    pub count: u64,
    /// When the first pass folded into this record started, RFC 3339 (UTC).
    #[serde(default)]
    pub first_started: Option<String>,
    /// What changed, one entry an object: `Kind namespace/name action (/field, …)`
    /// (field paths only, never values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
}

fn one() -> u64 {
    1
}

/// One entry of the audit journal: who changed what about an app, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Its number, increasing.
    pub id: u64,
    /// When, RFC 3339 (UTC).
    pub time: String,
    /// The app.
    pub app: String,
    /// What was done: `suspend`, `resume`, `rollback`, `reconcile`, `webhook`.
    pub action: String,
    /// Who or what asked: `api`, `webhook:github`, …
    pub actor: String,
    /// Details, e.g. the revision rolled back to.
    pub detail: Option<String>,
}

/// State of an app that survives restarts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppState {
    /// Suspended through the API (the configuration's `suspend` applies as well).
    pub suspended: bool,
    /// Pinned to this revision by a rollback, until resumed.
    pub pinned: Option<String>,
}

/// The store: open once per process, share by reference (it is `Sync`). Calls block on
/// disk I/O; async callers run them in `spawn_blocking`.
///
/// After an I/O error (a full disk, a failing device) redb refuses every later call
/// until the database is opened again; the store closes it then and reopens it on the
/// next call, so it recovers once the cause is gone, without a restart.
/// [`is_writable`](Self::is_writable) tells whether the last write went through.
#[derive(Debug)]
pub struct History {
    /// The open database; `None` after an I/O error, until it is reopened.
    db: RwLock<Option<redb::Database>>,
    path: PathBuf,
    keep_syncs: u64,
    writable: AtomicBool,
}

impl History {
    /// Opens (or creates) the store in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Self, HistoryError> {
        std::fs::create_dir_all(state_dir).map_err(|source| HistoryError::CreateDir {
            path: state_dir.to_owned(),
            source,
        })?;
        let path = state_dir.join(FILE_NAME);
        let db = open_database(&path)?;
        let history = Self {
            db: RwLock::new(Some(db)),
            path,
            keep_syncs: DEFAULT_KEEP_SYNCS,
            writable: AtomicBool::new(true),
        };
        history.write("creating tables", |txn| {
            txn.open_table(SYNCS)?;
            txn.open_table(AUDIT)?;
            txn.open_table(APP_STATE)?;
            Ok(())
        })?;
        Ok(history)
    }

    /// Keeps the newest `count` syncs of each app (at least one); older ones are
    /// deleted in the transaction that records a new one.
    #[must_use]
    pub fn keep_syncs(mut self, count: u64) -> Self {
        self.keep_syncs = count.max(1);
        self
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the store can write: false after a write failed, until one succeeds
    /// (for readiness checks).
    pub fn is_writable(&self) -> bool {
        self.writable.load(Ordering::Relaxed)
    }

    /// Records a sync; it is on disk when this returns. A no-op sync that follows a
    /// no-op sync of the same revision is folded into its record (see
    /// [`SyncRecord::count`]), which is returned.
    pub fn record_sync(&self, sync: &NewSync) -> Result<SyncRecord, HistoryError> {
        let started = rfc3339(sync.started);
        let mut record = SyncRecord {
            id: 0,
            app: sync.app.clone(),
            revision: sync.revision.clone(),
            started: started.clone(),
            finished: rfc3339(sync.finished),
            duration_seconds: sync
                .finished
                .duration_since(sync.started)
                .unwrap_or(Duration::ZERO)
                .as_secs_f64(),
            result: sync.result,
            trigger: sync.trigger.clone(),
            created: sync.created,
            updated: sync.updated,
            pruned: sync.pruned,
            unchanged: sync.unchanged,
            rendered: sync.rendered,
            error: sync.error.clone(),
            count: 1,
            first_started: Some(started),
            changes: sync.changes.clone(),
        };
        let path = self.path.clone();
        self.write("recording a sync", |txn| {
            let mut table = txn.open_table(SYNCS)?;
            let last = table
                .range((sync.app.as_str(), 0)..=(sync.app.as_str(), u64::MAX))?
                .next_back()
                .transpose()?
                .map(|(key, value)| (key.value().1, value.value().to_vec()));
            let folded = match &last {
                Some((id, bytes)) => {
                    let previous: SyncRecord = decode(&path, bytes)?;
                    fold_no_op(&previous, &record).map(|merged| (*id, merged))
                }
                None => None,
            };
            if let Some((id, merged)) = folded {
                record = merged;
                record.id = id;
            } else {
                record.id = last.map_or(0, |(id, _)| id) + 1;
            }
            let bytes = encode(&path, &record)?;
            table.insert((sync.app.as_str(), record.id), bytes.as_slice())?;
            if record.id > self.keep_syncs {
                let cutoff = record.id - self.keep_syncs;
                table.retain_in(
                    (sync.app.as_str(), 0)..=(sync.app.as_str(), cutoff),
                    |_, _| false,
                )?;
            }
            Ok(())
        })?;
        Ok(record)
    }

    /// The newest `limit` syncs of `app`, newest first.
    pub fn syncs(&self, app: &str, limit: usize) -> Result<Vec<SyncRecord>, HistoryError> {
        self.read("reading syncs", |txn| {
            let table = txn.open_table(SYNCS)?;
            let mut out = Vec::new();
            for entry in table.range((app, 0)..=(app, u64::MAX))?.rev().take(limit) {
                let (_, value) = entry?;
                out.push(self.decode(value.value())?);
            }
            Ok(out)
        })
    }

    /// The newest sync of `app` with `result`, if any.
    pub fn last_sync(
        &self,
        app: &str,
        result: Option<SyncResult>,
    ) -> Result<Option<SyncRecord>, HistoryError> {
        self.read("reading syncs", |txn| {
            let table = txn.open_table(SYNCS)?;
            for entry in table.range((app, 0)..=(app, u64::MAX))?.rev() {
                let (_, value) = entry?;
                let record: SyncRecord = self.decode(value.value())?;
                if result.is_none_or(|r| r == record.result) {
                    return Ok(Some(record));
                }
            }
            Ok(None)
        })
    }

    /// The revisions `app` applied successfully, newest first, each once.
    pub fn applied_revisions(&self, app: &str) -> Result<Vec<String>, HistoryError> {
        self.read("reading syncs", |txn| {
            let table = txn.open_table(SYNCS)?;
            let mut seen = std::collections::BTreeSet::new();
            let mut out = Vec::new();
            for entry in table.range((app, 0)..=(app, u64::MAX))?.rev() {
                let (_, value) = entry?;
                let record: SyncRecord = self.decode(value.value())?;
                if record.result == SyncResult::Succeeded
                    && let Some(revision) = record.revision
                    && seen.insert(revision.clone())
                {
                    out.push(revision);
                }
            }
            Ok(out)
        })
    }

    /// Appends to the audit journal.
    pub fn audit(
        &self,
        app: &str,
        action: &str,
        actor: &str,
        detail: Option<&str>,
    ) -> Result<AuditEntry, HistoryError> {
        let mut entry = AuditEntry {
            id: 0,
            time: rfc3339(SystemTime::now()),
            app: app.to_owned(),
            action: action.to_owned(),
            actor: actor.to_owned(),
            detail: detail.map(str::to_owned),
        };
        let path = self.path.clone();
        self.write("appending to the audit journal", |txn| {
            let mut table = txn.open_table(AUDIT)?;
            let last = table.last()?.map_or(0, |(key, _)| key.value());
            entry.id = last + 1;
            let bytes = encode(&path, &entry)?;
            table.insert(entry.id, bytes.as_slice())?;
            Ok(())
        })?;
        Ok(entry)
    }

    /// The newest `limit` audit entries (of `app` only, when given), newest first.
    pub fn audit_entries(
        &self,
        app: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, HistoryError> {
        self.read("reading the audit journal", |txn| {
            let table = txn.open_table(AUDIT)?;
            let mut out = Vec::new();
            for entry in table.iter()?.rev() {
                if out.len() == limit {
                    break;
                }
                let (_, value) = entry?;
                let entry: AuditEntry = self.decode(value.value())?;
                if app.is_none_or(|a| a == entry.app) {
                    out.push(entry);
                }
            }
            Ok(out)
        })
    }

    /// The persisted state of `app` (default when never set).
    pub fn app_state(&self, app: &str) -> Result<AppState, HistoryError> {
        self.read("reading app state", |txn| {
            let table = txn.open_table(APP_STATE)?;
            match table.get(app)? {
                Some(value) => self.decode(value.value()),
                None => Ok(AppState::default()),
            }
        })
    }

    /// Persists the state of `app`.
    pub fn set_app_state(&self, app: &str, state: &AppState) -> Result<(), HistoryError> {
        self.write("writing app state", |txn| {
            let bytes = encode(&self.path, state)?;
            let mut table = txn.open_table(APP_STATE)?;
            table.insert(app, bytes.as_slice())?;
            Ok(())
        })
    }

    fn write(
        &self,
        action: &'static str,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<(), TxError>,
    ) -> Result<(), HistoryError> {
        let outcome = self.with_database(action, |db| {
            let txn = db.begin_write()?;
            f(&txn)?;
            txn.commit()?;
            Ok(())
        });
        self.writable.store(outcome.is_ok(), Ordering::Relaxed);
        outcome
    }

    fn read<T>(
        &self,
        action: &'static str,
        f: impl FnOnce(&redb::ReadTransaction) -> Result<T, TxError>,
    ) -> Result<T, HistoryError> {
        self.with_database(action, |db| f(&db.begin_read()?))
    }

    /// Runs `f` on the database, reopening it first when an I/O error closed it, and
    /// closing it when `f` meets one (redb refuses all later calls until reopened).
    fn with_database<T>(
        &self,
        action: &'static str,
        f: impl FnOnce(&redb::Database) -> Result<T, TxError>,
    ) -> Result<T, HistoryError> {
        let guard = self.database(action)?;
        let Some(db) = guard.as_ref() else {
            return Err(self.store_error(action, redb::Error::DatabaseClosed));
        };
        match f(db) {
            Ok(value) => Ok(value),
            Err(TxError::History(e)) => Err(e),
            Err(TxError::Store(e)) => {
                drop(guard);
                if needs_reopen(&e) {
                    self.close(&e);
                }
                Err(self.store_error(action, e))
            }
        }
    }

    /// The open database, reopened if an I/O error closed it.
    fn database(
        &self,
        action: &'static str,
    ) -> Result<RwLockReadGuard<'_, Option<redb::Database>>, HistoryError> {
        {
            let guard = self.db.read().unwrap_or_else(PoisonError::into_inner);
            if guard.is_some() {
                return Ok(guard);
            }
        }
        {
            let mut slot = self.db.write().unwrap_or_else(PoisonError::into_inner);
            if slot.is_none() {
                let db = open_database(&self.path).map_err(|e| match e {
                    HistoryError::Store { source, .. } => HistoryError::Store {
                        path: self.path.clone(),
                        action,
                        source,
                    },
                    other => other,
                })?;
                tracing::info!(path = %self.path.display(), "history store reopened");
                *slot = Some(db);
            }
        }
        Ok(self.db.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Closes the database after an I/O error; the next call reopens it.
    fn close(&self, error: &redb::Error) {
        let mut slot = self.db.write().unwrap_or_else(PoisonError::into_inner);
        if slot.take().is_some() {
            tracing::warn!(
                path = %self.path.display(),
                error = %error,
                "history store I/O error; it is reopened on the next call"
            );
        }
    }

    fn decode<T: for<'de> Deserialize<'de>>(&self, bytes: &[u8]) -> Result<T, TxError> {
        decode(&self.path, bytes)
    }

    fn store_error(&self, action: &'static str, e: impl Into<redb::Error>) -> HistoryError {
        HistoryError::Store {
            path: self.path.clone(),
            action,
            source: Box::new(e.into()),
        }
    }
}

/// Opens (or creates) the database file.
fn open_database(path: &Path) -> Result<redb::Database, HistoryError> {
    redb::Database::create(path).map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => HistoryError::InUse {
            path: path.to_owned(),
        },
        other => HistoryError::Store {
            path: path.to_owned(),
            action: "opening",
            source: Box::new(other.into()),
        },
    })
}

/// Whether redb must be reopened before it works again: after an I/O error it
/// answers every call with `PreviousIo`.
fn needs_reopen(error: &redb::Error) -> bool {
    matches!(error, redb::Error::Io(_) | redb::Error::PreviousIo)
}

/// `next` folded into `previous` when both are no-op syncs of the same revision.
fn fold_no_op(previous: &SyncRecord, next: &SyncRecord) -> Option<SyncRecord> {
    let no_op = |r: &SyncRecord| {
        r.result == SyncResult::Succeeded
            && r.error.is_none()
            && r.created == 0
            && r.updated == 0
            && r.pruned == 0
    };
    if !(no_op(previous) && no_op(next) && previous.revision == next.revision) {
        return None;
    }
    Some(SyncRecord {
        id: previous.id,
        count: previous.count.max(1) + next.count.max(1),
        first_started: previous
            .first_started
            .clone()
            .or_else(|| Some(previous.started.clone())),
        ..next.clone()
    })
}

fn decode<T: for<'de> Deserialize<'de>>(path: &Path, bytes: &[u8]) -> Result<T, TxError> {
    serde_json::from_slice(bytes).map_err(|source| {
        TxError::History(HistoryError::Record {
            path: path.to_owned(),
            source,
        })
    })
}

/// An error inside a transaction: redb's, or ours.
enum TxError {
    Store(redb::Error),
    History(HistoryError),
}

impl<E: Into<redb::Error>> From<E> for TxError {
    fn from(e: E) -> Self {
        Self::Store(e.into())
    }
}

fn encode<T: Serialize>(path: &Path, value: &T) -> Result<Vec<u8>, TxError> {
    serde_json::to_vec(value).map_err(|source| {
        TxError::History(HistoryError::Record {
            path: path.to_owned(),
            source,
        })
    })
}

/// A time as RFC 3339 in UTC with millisecond precision.
pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sync(app: &str, revision: &str, result: SyncResult) -> NewSync {
        NewSync {
            app: app.into(),
            revision: Some(revision.into()),
            started: SystemTime::now(),
            finished: SystemTime::now() + Duration::from_millis(5),
            result,
            trigger: "interval".into(),
            created: 1,
            ..NewSync::default()
        }
    }

    #[test]
    fn records_per_app_newest_first_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let history = History::open(dir.path()).unwrap();
            history
                .record_sync(&sync("web", "sha256:aa", SyncResult::Succeeded))
                .unwrap();
            history
                .record_sync(&sync("infra", "sha256:bb", SyncResult::Succeeded))
                .unwrap();
            let failed = history
                .record_sync(&sync("web", "sha256:cc", SyncResult::Failed))
                .unwrap();
            assert_eq!(failed.id, 2);
            history.audit("web", "suspend", "api", None).unwrap();
            history
                .set_app_state(
                    "web",
                    &AppState {
                        suspended: true,
                        pinned: Some("sha256:aa".into()),
                    },
                )
                .unwrap();
            assert!(matches!(
                History::open(dir.path()),
                Err(HistoryError::InUse { .. })
            ));
        }
        let history = History::open(dir.path()).unwrap();
        let web = history.syncs("web", 10).unwrap();
        assert_eq!(
            web.iter()
                .map(|s| s.revision.as_deref().unwrap())
                .collect::<Vec<_>>(),
            ["sha256:cc", "sha256:aa"]
        );
        assert_eq!(history.syncs("web", 1).unwrap().len(), 1);
        assert_eq!(history.syncs("infra", 10).unwrap().len(), 1);
        assert_eq!(history.syncs("other", 10).unwrap().len(), 0);
        let ok = history
            .last_sync("web", Some(SyncResult::Succeeded))
            .unwrap()
            .unwrap();
        assert_eq!(ok.revision.as_deref(), Some("sha256:aa"));
        assert_eq!(history.applied_revisions("web").unwrap(), ["sha256:aa"]);
        let audit = history.audit_entries(Some("web"), 10).unwrap();
        assert_eq!(audit[0].action, "suspend");
        assert!(history.app_state("web").unwrap().suspended);
        assert_eq!(history.app_state("infra").unwrap(), AppState::default());
    }

    #[test]
    fn old_syncs_are_deleted_beyond_the_retention() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::open(dir.path()).unwrap().keep_syncs(3);
        for n in 0..5 {
            history
                .record_sync(&sync(
                    "web",
                    &format!("sha256:{n:02x}"),
                    SyncResult::Succeeded,
                ))
                .unwrap();
        }
        history
            .record_sync(&sync("api", "sha256:ff", SyncResult::Succeeded))
            .unwrap();
        let ids: Vec<u64> = history
            .syncs("web", 10)
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(ids, [5, 4, 3]);
        assert_eq!(history.syncs("api", 10).unwrap().len(), 1);
    }

    #[test]
    fn app_names_with_common_prefixes_stay_apart() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::open(dir.path()).unwrap();
        history
            .record_sync(&sync("web", "sha256:aa", SyncResult::Succeeded))
            .unwrap();
        history
            .record_sync(&sync("web2", "sha256:bb", SyncResult::Succeeded))
            .unwrap();
        assert_eq!(history.syncs("web", 10).unwrap().len(), 1);
        assert_eq!(history.syncs("we", 10).unwrap().len(), 0);
    }
}
