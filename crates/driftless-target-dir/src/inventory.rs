//! The inventories: what each name applied to this target, kept in
//! `.driftless/inventories/<name>.json`.
//!
//! For every object a name applied and not deleted since, it holds the object as it was last
//! applied ([`Applied`]), so that a hand edit of its file is recognised as one and a prune
//! sees its annotations as applied. While an apply writes
//! objects that are new to the inventory, their ids are listed as `pending`: should the
//! apply be killed before it records them, the next one adopts those whose file holds
//! exactly what was being written, so they can still be pruned. The file is JSON (a
//! machine file, not for hand-editing), one compact object per line, sorted by id so
//! that the same inventory is always the same bytes. An inventory left empty is removed.
//!
//! Directories applied to before inventories had names hold one unnamed inventory,
//! `.driftless/inventory.json`: the first name applied to such a directory takes it
//! over (a rename, so it is never claimed twice).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use driftless_core::{Object, ObjectId};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::Error;
use crate::fsutil;
use crate::layout::{INVENTORIES_DIR, LEGACY_INVENTORY_FILE, STATE_DIR};

const API_VERSION: &str = "driftless.dev/v1alpha1";
const KIND: &str = "DirInventory";

/// What a target applied: each object as last applied, by id.
pub(crate) type Inventory = BTreeMap<ObjectId, Applied>;

/// An object as it was last applied, kept as its compact JSON text: parsed objects take
/// about ten times the memory of their text, and a plan needs few of them parsed (an
/// object to prune, a file edited by hand), while an inventory may hold 50,000.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub(crate) struct Applied(Box<RawValue>);

/// The same text: compact JSON of the same object is the same text.
impl PartialEq for Applied {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl Eq for Applied {}

impl Applied {
    /// Keeps `object`.
    #[allow(clippy::missing_panics_doc)] // the `expect` is on serializing a JSON value
    pub(crate) fn of(object: &Object) -> Self {
        let text = serde_json::to_string(object.as_value())
            .expect("a JSON value of string keys always serializes");
        Self(RawValue::from_string(text).expect("serde_json writes valid JSON"))
    }

    /// The object, parsed again.
    #[allow(clippy::missing_panics_doc)] // the `expect` is on text made by `of`
    pub(crate) fn object(&self) -> Object {
        let value = serde_json::from_str(self.0.get()).expect("written by `of` from an object");
        Object::new(value).expect("written by `of` from an object")
    }

    /// Whether `object` is the object applied.
    pub(crate) fn is(&self, object: &Object) -> bool {
        *self == Self::of(object)
    }
}

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
    objects: &'a Inventory,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pending: &'a Inventory,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIn {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    objects: BTreeMap<String, Box<RawValue>>,
    #[serde(default)]
    pending: BTreeMap<String, Box<RawValue>>,
}

/// The folder of the inventories of the target directory `root`.
fn dir(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join(INVENTORIES_DIR)
}

/// The path of the inventory `name` of the target directory `root`.
pub(crate) fn path(root: &Path, name: &str) -> PathBuf {
    dir(root).join(format!("{name}.json"))
}

/// The path of the unnamed inventory of directories applied to before inventories had
/// names.
pub(crate) fn legacy_path(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join(LEGACY_INVENTORY_FILE)
}

/// Whether `name` can name an inventory: 1 to 63 letters, digits, `-`, `_` or `.`,
/// starting with a letter or digit (so it is a plain file name, as app names are).
pub(crate) fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Reads the inventory `name` of `root`. A name without one has applied nothing, unless
/// the directory still holds the unnamed inventory of an older driftless: that one is
/// read in its place, as the first apply under `name` takes it over
/// ([`take_over_legacy`]).
pub(crate) fn read(root: &Path, name: &str) -> Result<State, Error> {
    match read_file(&path(root, name))? {
        Some(state) => Ok(state),
        None => Ok(read_file(&legacy_path(root))?.unwrap_or_default()),
    }
}

/// Reads one inventory file; `None` when there is none.
fn read_file(path: &Path) -> Result<Option<State>, Error> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::InventoryIo {
                path: path.to_owned(),
                source,
            });
        }
    };
    parse(path, &bytes).map(Some)
}

/// Makes the unnamed inventory of an older driftless the inventory `name`, when `name`
/// has none: one rename, so no other name can take it as well. Call under the lock.
pub(crate) fn take_over_legacy(root: &Path, name: &str) -> Result<(), Error> {
    let legacy = legacy_path(root);
    let own = path(root, name);
    if own.exists() || !legacy.exists() {
        return Ok(());
    }
    let io_error = |source| Error::InventoryIo {
        path: legacy.clone(),
        source,
    };
    std::fs::create_dir_all(dir(root)).map_err(io_error)?;
    std::fs::rename(&legacy, &own).map_err(io_error)?;
    fsutil::sync_dir(&dir(root)).map_err(io_error)?;
    fsutil::sync_dir(&root.join(STATE_DIR)).map_err(io_error)?;
    tracing::info!(
        from = %legacy.display(),
        to = %own.display(),
        "the unnamed inventory of this directory is now the inventory {name:?}"
    );
    Ok(())
}

/// Reads every inventory of `root` but `name`'s, by name.
pub(crate) fn read_others(root: &Path, name: &str) -> Result<BTreeMap<String, State>, Error> {
    let dir = dir(root);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => return Err(Error::InventoryIo { path: dir, source }),
    };
    let mut others = BTreeMap::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::InventoryIo {
            path: dir.clone(),
            source,
        })?;
        let file_name = entry.file_name();
        let Some(other) = file_name
            .to_str()
            .and_then(|f| f.strip_suffix(".json"))
            .filter(|other| is_valid_name(other) && *other != name)
        else {
            continue;
        };
        if let Some(state) = read_file(&entry.path())? {
            others.insert(other.to_owned(), state);
        }
    }
    Ok(others)
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
/// Each is parsed once, to be checked and made compact (older files are indented).
fn entries(path: &Path, raw: BTreeMap<String, Box<RawValue>>) -> Result<Inventory, Error> {
    let mut inventory = Inventory::new();
    for (key, text) in raw {
        let id: ObjectId = key.parse().map_err(|e: driftless_core::Error| {
            corrupt(path, format!("bad object id {key:?}"), Some(Box::new(e)))
        })?;
        let value = serde_json::from_str(text.get()).map_err(|e| {
            corrupt(
                path,
                format!("the entry of {id} is not JSON"),
                Some(Box::new(e)),
            )
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
        inventory.insert(id, Applied::of(&object));
    }
    Ok(inventory)
}

/// The bytes of an inventory file.
pub(crate) fn to_bytes(objects: &Inventory, pending: &Inventory) -> Vec<u8> {
    let file = FileOut {
        api_version: API_VERSION,
        kind: KIND,
        objects,
        pending,
    };
    // Sized up front: an inventory of 50,000 objects is megabytes, and growing by
    // doubling would hold up to twice that while it is written. An entry's id and
    // punctuation take well under 128 bytes; should they not, the buffer grows.
    let entry_bytes = |inventory: &Inventory| -> usize {
        inventory
            .values()
            .map(|applied| applied.0.get().len() + 128)
            .sum()
    };
    let capacity = entry_bytes(objects) + entry_bytes(pending) + 128;
    let mut bytes = Vec::with_capacity(capacity);
    serde_json::to_writer_pretty(&mut bytes, &file)
        .expect("a map of string keys to JSON texts always serializes");
    bytes.push(b'\n');
    bytes
}

/// Whether the file at `path` holds exactly `bytes`, read in pieces (an inventory may be
/// megabytes); `false` when there is no file.
fn holds(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    use std::io::Read as _;
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if file.metadata()?.len() != bytes.len() as u64 {
        return Ok(false);
    }
    let mut piece = vec![0; 64 * 1024];
    let mut rest = bytes;
    loop {
        let read = file.read(&mut piece)?;
        if read == 0 {
            return Ok(rest.is_empty());
        }
        match rest.strip_prefix(&piece[..read]) {
            Some(after) => rest = after,
            None => return Ok(false),
        }
    }
}

/// Writes the inventory `name` of `root` atomically, unless the file already holds
/// exactly these bytes (then nothing is written); an empty inventory is removed.
/// Returns whether it changed the file.
pub(crate) fn write(
    root: &Path,
    name: &str,
    objects: &Inventory,
    pending: &Inventory,
) -> Result<bool, Error> {
    let path = path(root, name);
    if objects.is_empty() && pending.is_empty() {
        return remove(root, &path);
    }
    let bytes = to_bytes(objects, pending);
    match holds(&path, &bytes) {
        Ok(true) => return Ok(false),
        Ok(false) => {}
        Err(source) => return Err(Error::InventoryIo { path, source }),
    }
    let io_error = |source| Error::InventoryIo {
        path: path.clone(),
        source,
    };
    let dir = dir(root);
    std::fs::create_dir_all(&dir).map_err(io_error)?;
    fsutil::sweep_temp_files(&dir);
    fsutil::atomic_write(&path, &bytes).map_err(io_error)?;
    fsutil::sync_dir(&dir).map_err(io_error)?;
    Ok(true)
}

/// Removes the inventory file `path` (an inventory left empty, so a name that holds
/// nothing leaves no trace). Returns whether there was one.
fn remove(root: &Path, path: &Path) -> Result<bool, Error> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(Error::InventoryIo {
                path: path.to_owned(),
                source,
            });
        }
    }
    fsutil::sync_dir(&dir(root)).map_err(|source| Error::InventoryIo {
        path: path.to_owned(),
        source,
    })?;
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
        assert_eq!(read(dir.path(), "web").unwrap(), State::default());
        let inventory: Inventory = [cm("b"), cm("a")]
            .into_iter()
            .map(|o| (o.id(), Applied::of(&o)))
            .collect();
        assert!(write(dir.path(), "web", &inventory, &Inventory::new()).unwrap());
        assert_eq!(read(dir.path(), "web").unwrap().objects, inventory);
        assert!(!write(dir.path(), "web", &inventory, &Inventory::new()).unwrap());
        let text = std::fs::read_to_string(path(dir.path(), "web")).unwrap();
        assert!(text.find("/ConfigMap//a").unwrap() < text.find("/ConfigMap//b").unwrap());
        assert!(!text.contains("pending"));

        let pending: Inventory = [cm("c")]
            .into_iter()
            .map(|o| (o.id(), Applied::of(&o)))
            .collect();
        assert!(write(dir.path(), "web", &inventory, &pending).unwrap());
        let state = read(dir.path(), "web").unwrap();
        assert_eq!((state.objects, state.pending), (inventory, pending));

        // Each name its own; an empty inventory leaves no file.
        assert_eq!(read(dir.path(), "db").unwrap(), State::default());
        assert_eq!(read_others(dir.path(), "db").unwrap().len(), 1);
        assert!(read_others(dir.path(), "web").unwrap().is_empty());
        assert!(write(dir.path(), "web", &Inventory::new(), &Inventory::new()).unwrap());
        assert!(!path(dir.path(), "web").exists());
        assert!(!write(dir.path(), "web", &Inventory::new(), &Inventory::new()).unwrap());
    }

    #[test]
    fn the_first_name_takes_over_the_unnamed_inventory() {
        let dir = tempfile::tempdir().unwrap();
        let inventory: Inventory = [cm("a")]
            .into_iter()
            .map(|o| (o.id(), Applied::of(&o)))
            .collect();
        std::fs::create_dir(dir.path().join(STATE_DIR)).unwrap();
        std::fs::write(
            legacy_path(dir.path()),
            to_bytes(&inventory, &Inventory::new()),
        )
        .unwrap();
        // Read as the inventory of any name that has none, until one takes it over.
        assert_eq!(read(dir.path(), "web").unwrap().objects, inventory);
        take_over_legacy(dir.path(), "web").unwrap();
        assert!(!legacy_path(dir.path()).exists());
        assert_eq!(read(dir.path(), "web").unwrap().objects, inventory);
        assert_eq!(read(dir.path(), "db").unwrap(), State::default());
        take_over_legacy(dir.path(), "db").unwrap();
        assert_eq!(read(dir.path(), "db").unwrap(), State::default());
    }

    #[test]
    fn an_indented_inventory_of_an_older_driftless_is_read_and_written_compact() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(super::dir(dir.path())).unwrap();
        let old = serde_json::json!({
            "apiVersion": API_VERSION,
            "kind": KIND,
            "objects": {"/ConfigMap//a": cm("a").as_value()},
        });
        let path = path(dir.path(), "web");
        std::fs::write(&path, serde_json::to_vec_pretty(&old).unwrap()).unwrap();
        let state = read(dir.path(), "web").unwrap();
        assert_eq!(state.objects[&cm("a").id()].object(), cm("a"));
        assert!(write(dir.path(), "web", &state.objects, &state.pending).unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(
                r#""/ConfigMap//a": {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}"#
            ),
            "{text}"
        );
        assert_eq!(read(dir.path(), "web").unwrap(), state);
    }

    #[test]
    fn holds_compares_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        assert!(!holds(&file, b"abc").unwrap());
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&file, &big).unwrap();
        assert!(holds(&file, &big).unwrap());
        let mut other = big.clone();
        other[150_000] ^= 1;
        assert!(!holds(&file, &other).unwrap());
        assert!(!holds(&file, &big[..1000]).unwrap());
    }

    #[test]
    fn names_are_plain_file_names() {
        for good in ["web", "a", "team-a.web_1", &"n".repeat(63)] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in ["", ".web", "-web", "a/b", "..", "a b", &"n".repeat(64)] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn corrupt_inventory_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(super::dir(dir.path())).unwrap();
        for bad in [
            "not json",
            r#"{"apiVersion": "x", "kind": "DirInventory", "objects": {}}"#,
            r#"{"apiVersion": "driftless.dev/v1alpha1", "kind": "DirInventory", "objects": {"bad": {}}}"#,
            r#"{"apiVersion": "driftless.dev/v1alpha1", "kind": "DirInventory", "objects": {"/ConfigMap//a": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}}}"#,
        ] {
            std::fs::write(path(dir.path(), "web"), bad).unwrap();
            let err = read(dir.path(), "web").unwrap_err();
            assert!(matches!(err, Error::InventoryCorrupt { .. }), "{err}");
            assert!(err.to_string().contains("inventories/web.json"), "{err}");
        }
    }
}
