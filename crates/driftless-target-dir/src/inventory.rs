//! The inventory: what this target applied, kept in `.driftless/inventory.json`.
//!
//! For every object applied and not deleted since, it holds the object as it was last
//! applied, so that a later plan knows which fields were ours. While an apply writes
//! objects that are new to the inventory, their ids are listed as `pending`: should the
//! apply be killed before it records them, the next one adopts those whose file holds
//! exactly what was being written, so they can still be pruned. The file is JSON (a
//! machine file, not for hand-editing), sorted by id so that the same inventory is
//! always the same bytes.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use driftless_core::{Object, ObjectId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;
use crate::fsutil;
use crate::layout::{INVENTORY_FILE, STATE_DIR};

const API_VERSION: &str = "driftless.dev/v1alpha1";
const KIND: &str = "DirInventory";

/// What a target applied: each object as last applied, by id.
pub(crate) type Inventory = BTreeMap<ObjectId, Object>;

/// The inventory file: what was applied, and what an unfinished apply was writing.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct State {
    /// Objects applied, as last applied.
    pub(crate) objects: Inventory,
    /// Objects new to the inventory that an apply was writing when it stopped.
    pub(crate) pending: Inventory,
}

#[derive(Serialize)]
struct FileOut<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    objects: BTreeMap<&'a ObjectId, &'a Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pending: BTreeMap<&'a ObjectId, &'a Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIn {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    objects: BTreeMap<String, Value>,
    #[serde(default)]
    pending: BTreeMap<String, Value>,
}

/// The path of the inventory of the target directory `root`.
pub(crate) fn path(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join(INVENTORY_FILE)
}

/// Reads the inventory of `root`; a directory without one has applied nothing.
pub(crate) fn read(root: &Path) -> Result<State, Error> {
    let path = path(root);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(State::default()),
        Err(source) => return Err(Error::InventoryIo { path, source }),
    };
    parse(&path, &bytes)
}

fn parse(path: &Path, bytes: &[u8]) -> Result<State, Error> {
    let file: FileIn = serde_json::from_slice(bytes).map_err(|e| {
        corrupt(
            path,
            "it is not a driftless inventory".into(),
            Some(Box::new(e)),
        )
    })?;
    if file.api_version != API_VERSION || file.kind != KIND {
        return Err(corrupt(
            path,
            format!(
                "expected apiVersion {API_VERSION} and kind {KIND}, found {} {}",
                file.api_version, file.kind
            ),
            None,
        ));
    }
    Ok(State {
        objects: entries(path, file.objects)?,
        pending: entries(path, file.pending)?,
    })
}

fn corrupt(
    path: &Path,
    reason: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
) -> Error {
    Error::InventoryCorrupt {
        path: path.to_owned(),
        reason,
        source,
    }
}

/// Checks the entries of one section: each key an id, each value the object of that id.
fn entries(path: &Path, raw: BTreeMap<String, Value>) -> Result<Inventory, Error> {
    let mut inventory = Inventory::new();
    for (key, value) in raw {
        let id: ObjectId = key.parse().map_err(|e: driftless_core::Error| {
            corrupt(path, format!("bad object id {key:?}"), Some(Box::new(e)))
        })?;
        let object = Object::new(value).map_err(|e| {
            corrupt(
                path,
                format!("the entry of {id} is not an object"),
                Some(Box::new(e)),
            )
        })?;
        if object.id() != id {
            return Err(corrupt(
                path,
                format!("the entry of {id} holds the object {}", object.id()),
                None,
            ));
        }
        inventory.insert(id, object);
    }
    Ok(inventory)
}

/// The bytes of an inventory file.
pub(crate) fn to_bytes(objects: &Inventory, pending: &Inventory) -> Vec<u8> {
    let file = FileOut {
        api_version: API_VERSION,
        kind: KIND,
        objects: objects.iter().map(|(id, o)| (id, o.as_value())).collect(),
        pending: pending.iter().map(|(id, o)| (id, o.as_value())).collect(),
    };
    let mut bytes = serde_json::to_vec_pretty(&file)
        .expect("a map of string keys to JSON values always serializes");
    bytes.push(b'\n');
    bytes
}

/// Writes the inventory of `root` atomically, unless the file already holds exactly
/// these bytes (then nothing is written). Returns whether it wrote.
pub(crate) fn write(root: &Path, objects: &Inventory, pending: &Inventory) -> Result<bool, Error> {
    let path = path(root);
    let bytes = to_bytes(objects, pending);
    match std::fs::read(&path) {
        Ok(old) if old == bytes => return Ok(false),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => return Err(Error::InventoryIo { path, source }),
    }
    let io_error = |source| Error::InventoryIo {
        path: path.clone(),
        source,
    };
    let dir = root.join(STATE_DIR);
    std::fs::create_dir_all(&dir).map_err(io_error)?;
    fsutil::sweep_temp_files(&dir);
    fsutil::atomic_write(&path, &bytes).map_err(io_error)?;
    fsutil::sync_dir(&dir).map_err(io_error)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(name: &str) -> Object {
        Object::new(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}))
            .unwrap()
    }

    #[test]
    fn round_trips_and_skips_identical_writes() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), State::default());
        let inventory: Inventory = [cm("b"), cm("a")]
            .into_iter()
            .map(|o| (o.id(), o))
            .collect();
        assert!(write(dir.path(), &inventory, &Inventory::new()).unwrap());
        assert_eq!(read(dir.path()).unwrap().objects, inventory);
        assert!(!write(dir.path(), &inventory, &Inventory::new()).unwrap());
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        assert!(text.find("/ConfigMap//a").unwrap() < text.find("/ConfigMap//b").unwrap());
        assert!(!text.contains("pending"));

        let pending: Inventory = [cm("c")].into_iter().map(|o| (o.id(), o)).collect();
        assert!(write(dir.path(), &inventory, &pending).unwrap());
        let state = read(dir.path()).unwrap();
        assert_eq!((state.objects, state.pending), (inventory, pending));
    }

    #[test]
    fn corrupt_inventory_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(STATE_DIR)).unwrap();
        for bad in [
            "not json",
            r#"{"apiVersion": "x", "kind": "DirInventory", "objects": {}}"#,
            r#"{"apiVersion": "driftless.dev/v1alpha1", "kind": "DirInventory", "objects": {"bad": {}}}"#,
            r#"{"apiVersion": "driftless.dev/v1alpha1", "kind": "DirInventory", "objects": {"/ConfigMap//a": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}}}"#,
        ] {
            std::fs::write(path(dir.path()), bad).unwrap();
            let err = read(dir.path()).unwrap_err();
            assert!(matches!(err, Error::InventoryCorrupt { .. }), "{err}");
            assert!(err.to_string().contains("inventory.json"), "{err}");
        }
    }
}
