//! The inventory: what this target applied, kept in `.driftless/inventory.json`.
//!
//! For every object applied and not deleted since, it holds the object as it was last
//! applied, so that a later plan knows which fields were ours. The file is JSON (a
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

#[derive(Serialize)]
struct FileOut<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    objects: BTreeMap<&'a ObjectId, &'a Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIn {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    objects: BTreeMap<String, Value>,
}

/// The path of the inventory of the target directory `root`.
pub(crate) fn path(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join(INVENTORY_FILE)
}

/// Reads the inventory of `root`; a directory without one has applied nothing.
pub(crate) fn read(root: &Path) -> Result<Inventory, Error> {
    let path = path(root);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Inventory::new()),
        Err(source) => return Err(Error::InventoryIo { path, source }),
    };
    parse(&path, &bytes)
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Inventory, Error> {
    let corrupt = |reason: String, source: Option<Box<dyn std::error::Error + Send + Sync>>| {
        Error::InventoryCorrupt {
            path: path.to_owned(),
            reason,
            source,
        }
    };
    let file: FileIn = serde_json::from_slice(bytes)
        .map_err(|e| corrupt("it is not a driftless inventory".into(), Some(Box::new(e))))?;
    if file.api_version != API_VERSION || file.kind != KIND {
        return Err(corrupt(
            format!(
                "expected apiVersion {API_VERSION} and kind {KIND}, found {} {}",
                file.api_version, file.kind
            ),
            None,
        ));
    }
    let mut inventory = Inventory::new();
    for (key, value) in file.objects {
        let id: ObjectId = key.parse().map_err(|e: driftless_core::Error| {
            corrupt(format!("bad object id {key:?}"), Some(Box::new(e)))
        })?;
        let object = Object::new(value).map_err(|e| {
            corrupt(
                format!("the entry of {id} is not an object"),
                Some(Box::new(e)),
            )
        })?;
        if object.id() != id {
            return Err(corrupt(
                format!("the entry of {id} holds the object {}", object.id()),
                None,
            ));
        }
        inventory.insert(id, object);
    }
    Ok(inventory)
}

/// The bytes of an inventory file.
pub(crate) fn to_bytes(inventory: &Inventory) -> Vec<u8> {
    let file = FileOut {
        api_version: API_VERSION,
        kind: KIND,
        objects: inventory.iter().map(|(id, o)| (id, o.as_value())).collect(),
    };
    let mut bytes = serde_json::to_vec_pretty(&file)
        .expect("a map of string keys to JSON values always serializes");
    bytes.push(b'\n');
    bytes
}

/// Writes the inventory of `root` atomically, unless the file already holds exactly
/// these bytes (then nothing is written). Returns whether it wrote.
pub(crate) fn write(root: &Path, inventory: &Inventory) -> Result<bool, Error> {
    let path = path(root);
    let bytes = to_bytes(inventory);
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
        assert!(read(dir.path()).unwrap().is_empty());
        let inventory: Inventory = [cm("b"), cm("a")]
            .into_iter()
            .map(|o| (o.id(), o))
            .collect();
        assert!(write(dir.path(), &inventory).unwrap());
        assert_eq!(read(dir.path()).unwrap(), inventory);
        assert!(!write(dir.path(), &inventory).unwrap());
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        assert!(text.find("/ConfigMap//a").unwrap() < text.find("/ConfigMap//b").unwrap());
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
