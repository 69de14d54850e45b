//! The errors of the directory target.

use std::path::PathBuf;
use std::time::Duration;

use driftless_core::{ObjectId, TargetError};

/// An error of the directory target. Every variant names the file or directory it was
/// working on and, where there is one, the object.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The target directory could not be created or is not a directory.
    #[error("cannot use {path} as a target directory")]
    TargetDir {
        /// The target directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// An object whose id cannot be stored as a file inside the target directory
    /// (it would escape it, hide as a dot file, or share its path with another id).
    #[error(
        "object {id} cannot be stored in dir:{dir}: its {field} {value:?} {reason}; rename the object"
    )]
    UnsafeName {
        /// The target directory.
        dir: PathBuf,
        /// The object.
        id: Box<ObjectId>,
        /// Which part of the id: `group`, `kind`, `namespace` or `name`.
        field: &'static str,
        /// The offending value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// A directory on the way to an object's file exists but is a symbolic link or not
    /// a directory; writing through it could leave the target directory.
    #[error(
        "refusing to write object {id}: {path} is a symbolic link or not a directory; remove it"
    )]
    NotADirectory {
        /// The path that is not a plain directory.
        path: PathBuf,
        /// The object being written.
        id: Box<ObjectId>,
    },

    /// The file-system watch of the target directory could not be started (e.g. the
    /// system's limit of inotify watches is reached: `fs.inotify.max_user_watches`).
    #[error("cannot watch {dir} for hand edits")]
    Watch {
        /// The target directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// An object's file could not be read.
    #[error("cannot read {path} (object {id})")]
    Read {
        /// The file.
        path: PathBuf,
        /// The object.
        id: Box<ObjectId>,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// An object's file (or a directory for it) could not be written.
    #[error("cannot write {path} (object {id})")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The object.
        id: Box<ObjectId>,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// An object's file could not be deleted.
    #[error("cannot delete {path} (object {id})")]
    Delete {
        /// The file.
        path: PathBuf,
        /// The object.
        id: Box<ObjectId>,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// A directory could not be flushed to disk after files in it changed.
    #[error("cannot flush the directory {path} to disk")]
    Sync {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// An object could not be written as YAML.
    #[error("cannot write object {id} as YAML")]
    Serialize {
        /// The object.
        id: Box<ObjectId>,
        /// The cause.
        #[source]
        source: driftless_core::yaml::YamlError,
    },

    /// The inventory file could not be read or written.
    #[error("cannot access the inventory {path}")]
    InventoryIo {
        /// The inventory file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// The inventory file is not one driftless wrote.
    #[error(
        "the inventory {path} is corrupt: {reason}; restore it, or delete it to start over \
         (driftless then forgets what it applied there and prunes nothing it applied before)"
    )]
    InventoryCorrupt {
        /// The inventory file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
        /// The cause, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },

    /// The lock file could not be opened or locked.
    #[error("cannot lock {path}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// Another process held the lock for longer than the lock timeout.
    #[error(
        "dir:{dir} is being applied to by another process: gave up waiting for the lock \
         {lock} after {timeout:?}; retry when it has finished"
    )]
    LockTimeout {
        /// The target directory.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// How long we waited.
        timeout: Duration,
    },

    /// The inventory name is not 1 to 63 letters, digits, `-`, `_` or `.` starting with
    /// a letter or digit.
    #[error(
        "invalid inventory name {name:?} for dir:{dir}: use 1 to 63 letters, digits, '-', '_' \
         or '.', starting with a letter or digit"
    )]
    InvalidName {
        /// The target directory.
        dir: PathBuf,
        /// The name given.
        name: String,
    },

    /// Objects to apply belong to another name's inventory: applying them would give
    /// them two owners that prune each other's objects.
    #[error(
        "refusing to apply to dir:{dir} as {name:?} objects that belong to another inventory: \
         {}; apply under the owner's name if it is the same app, take them over with the \
         adopt option (--adopt), or remove them from one of the two apps",
        owned_list(conflicts, name)
    )]
    Owned {
        /// The target directory.
        dir: PathBuf,
        /// The name applying.
        name: String,
        /// Each object and the name of the inventory that holds it.
        conflicts: Vec<(ObjectId, String)>,
    },

    /// A rendered object cannot be placed: giving it the default namespace (or taking
    /// a cluster-scoped kind's away) made its id the same as another object's.
    #[error("cannot prepare object {id} for dir:{dir}")]
    Prepare {
        /// The target directory.
        dir: PathBuf,
        /// The object.
        id: Box<ObjectId>,
        /// The cause.
        #[source]
        source: Box<driftless_core::Error>,
    },

    /// A plan entry whose desired object does not have the entry's id.
    #[error("invalid plan: the entry for {id} holds the object {found}")]
    PlanMismatch {
        /// The plan entry's id.
        id: Box<ObjectId>,
        /// The id of the object it holds.
        found: Box<ObjectId>,
    },

    /// The blocking task that did the file work panicked or was cancelled.
    #[error("the file work on dir:{dir} did not finish")]
    Task {
        /// The target directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: tokio::task::JoinError,
    },
}

/// `id (owned by "a", not "b")`, for the first few objects, and how many more.
fn owned_list(conflicts: &[(ObjectId, String)], name: &str) -> String {
    const SHOWN: usize = 5;
    let mut list: Vec<String> = conflicts
        .iter()
        .take(SHOWN)
        .map(|(id, owner)| format!("{id} (owned by {owner:?}, not {name:?})"))
        .collect();
    if conflicts.len() > SHOWN {
        list.push(format!("and {} more", conflicts.len() - SHOWN));
    }
    list.join(", ")
}

impl From<Error> for TargetError {
    fn from(error: Error) -> Self {
        TargetError::other(error)
    }
}
