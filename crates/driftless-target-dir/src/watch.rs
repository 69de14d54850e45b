//! The drift watch of a directory target ([`Target::watch`](driftless_core::Target)): a
//! file-system watch (inotify on Linux, through `notify`) on the target directory.
//!
//! A change to the file of an object in this target's inventory is drift unless the file
//! holds exactly what was applied: our own writes (and saves that change nothing) are
//! recognised by their content, so they never start a reconcile. Changes are looked at
//! under the directory's apply lock, so that an apply in flight is seen only once it is
//! finished and its inventory written.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use driftless_core::{Drift, DriftKind, DriftSink, DriftWatch, ObjectId};
use notify::{EventKind, RecursiveMode, Watcher as _};

use crate::layout::{LOCK_FILE, STATE_DIR};
use crate::target::{FileState, read_file, relative_path};
use crate::{DirTargetOptions, Error, fsutil, inventory};

/// How long to gather events after the first one: a save is often several events
/// (write, rename, attributes), and one look is enough for all of them.
const SETTLE: Duration = Duration::from_millis(25);

/// Starts watching `root` (created when missing, so that it can be watched) and reports
/// drift of the objects of the inventory `options.name` to `sink`.
pub(crate) fn start(
    root: &Path,
    options: &DirTargetOptions,
    sink: DriftSink,
) -> Result<DriftWatch, Error> {
    std::fs::create_dir_all(root).map_err(|source| Error::TargetDir {
        path: root.to_owned(),
        source,
    })?;
    let watch_error = |source: notify::Error| Error::Watch {
        dir: root.to_owned(),
        source: Box::new(source),
    };
    let (send, changes) = mpsc::channel::<PathBuf>();
    let state_dir = root.join(STATE_DIR);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else {
            return;
        };
        // Reads (ours included) change nothing.
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        for path in event.paths {
            if !path.starts_with(&state_dir) {
                // The follower is gone only when the watch is being dropped.
                let _ = send.send(path);
            }
        }
    })
    .map_err(watch_error)?;
    watcher
        .watch(root, RecursiveMode::Recursive)
        .map_err(watch_error)?;
    let follower = Follower {
        root: root.to_owned(),
        options: options.clone(),
        sink,
    };
    std::thread::Builder::new()
        .name(format!("driftless-watch-{}", options.name))
        .spawn(move || follower.run(&changes))
        .map_err(|source| Error::Watch {
            dir: root.to_owned(),
            source: Box::new(source),
        })?;
    // Dropping the watcher closes the channel, which ends the follower thread.
    Ok(DriftWatch::new(Mutex::new(watcher)))
}

/// Turns changed paths into drift of one inventory.
struct Follower {
    root: PathBuf,
    options: DirTargetOptions,
    sink: DriftSink,
}

impl Follower {
    fn run(&self, changes: &mpsc::Receiver<PathBuf>) {
        while let Ok(first) = changes.recv() {
            let mut paths = BTreeSet::from([first]);
            let settled = Instant::now() + SETTLE;
            loop {
                let left = settled.saturating_duration_since(Instant::now());
                match changes.recv_timeout(left) {
                    Ok(path) => {
                        paths.insert(path);
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => break,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
            match self.drifted(&paths) {
                Ok(drifts) => drifts.into_iter().for_each(|drift| (self.sink)(drift)),
                Err(error) => tracing::warn!(
                    dir = %self.root.display(),
                    inventory = %self.options.name,
                    error = %chain(&error),
                    "cannot look at changed files; the next interval corrects any drift"
                ),
            }
        }
    }

    /// The drift among `changed` paths: files of our objects that are gone or hold
    /// something else than what was applied.
    fn drifted(&self, changed: &BTreeSet<PathBuf>) -> Result<Vec<Drift>, Error> {
        let root = &self.root;
        let lock = root.join(STATE_DIR).join(LOCK_FILE);
        let _lock = fsutil::lock(root, lock, self.options.lock_timeout)?;
        let state = inventory::read(root, &self.options.name)?;
        let mut ours: HashMap<PathBuf, &ObjectId> = HashMap::new();
        for id in state.objects.keys().chain(state.pending.keys()) {
            ours.insert(root.join(relative_path(root, id)?), id);
        }
        let mut drifts = Vec::new();
        for path in changed {
            let Some(&id) = ours.get(path) else {
                continue;
            };
            let rel = relative_path(root, id)?;
            let kind = match read_file(root, id, &rel)? {
                FileState::Missing => DriftKind::Deleted,
                FileState::Object(found)
                    if state.objects.get(id).is_some_and(|a| a.is(&found))
                        || state.pending.get(id).is_some_and(|a| a.is(&found)) =>
                {
                    continue;
                }
                FileState::Object(_) | FileState::Unreadable(_) => DriftKind::Modified,
            };
            tracing::debug!(object = %id, path = %path.display(), "hand edit");
            drifts.push(Drift::new(Some(id.clone()), kind));
        }
        Ok(drifts)
    }
}

/// An error and its causes, for one log line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}
