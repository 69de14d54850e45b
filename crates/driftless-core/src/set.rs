//! [`ObjectSet`]: an ordered set of objects with unique ids.

use indexmap::IndexMap;
use indexmap::map::Entry;

use crate::{Error, Object, ObjectId};

/// An ordered set of [`Object`]s, unique by [`ObjectId`], with O(1) lookup by id.
///
/// Order is insertion order: the order in which a renderer produced the objects.
///
/// ```
/// use driftless_core::{Object, ObjectSet};
/// use serde_json::json;
///
/// let cm = |name: &str| Object::new(json!({
///     "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
/// }));
/// let mut set = ObjectSet::new();
/// set.insert(cm("a")?)?;
/// set.insert(cm("b")?)?;
/// assert!(set.insert(cm("a")?).is_err()); // duplicate id
/// assert_eq!(set.len(), 2);
/// assert!(set.get(&"/ConfigMap//b".parse()?).is_some());
/// # Ok::<(), driftless_core::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectSet {
    objects: IndexMap<ObjectId, Object>,
}

impl ObjectSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an object at the end; an object with the same id already in the set is an
    /// error ([`Error::DuplicateObject`]) and leaves the set unchanged.
    pub fn insert(&mut self, object: Object) -> Result<(), Error> {
        match self.objects.entry(object.id()) {
            Entry::Occupied(entry) => Err(Error::DuplicateObject(entry.key().clone())),
            Entry::Vacant(entry) => {
                entry.insert(object);
                Ok(())
            }
        }
    }

    /// Adds or replaces an object; a replaced object keeps its position.
    pub fn upsert(&mut self, object: Object) -> Option<Object> {
        self.objects.insert(object.id(), object)
    }

    /// Removes an object by id, keeping the order of the others.
    pub fn remove(&mut self, id: &ObjectId) -> Option<Object> {
        self.objects.shift_remove(id)
    }

    /// The object with this id.
    pub fn get(&self, id: &ObjectId) -> Option<&Object> {
        self.objects.get(id)
    }

    /// Whether an object with this id is in the set.
    pub fn contains(&self, id: &ObjectId) -> bool {
        self.objects.contains_key(id)
    }

    /// The number of objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// The objects, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Object> {
        self.objects.values()
    }

    /// The ids, in order.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = &ObjectId> {
        self.objects.keys()
    }
}

impl IntoIterator for ObjectSet {
    type Item = Object;
    type IntoIter = indexmap::map::IntoValues<ObjectId, Object>;

    fn into_iter(self) -> Self::IntoIter {
        self.objects.into_values()
    }
}

impl<'a> IntoIterator for &'a ObjectSet {
    type Item = &'a Object;
    type IntoIter = indexmap::map::Values<'a, ObjectId, Object>;

    fn into_iter(self) -> Self::IntoIter {
        self.objects.values()
    }
}

impl TryFrom<Vec<Object>> for ObjectSet {
    type Error = Error;

    fn try_from(objects: Vec<Object>) -> Result<Self, Self::Error> {
        let mut set = Self::new();
        for object in objects {
            set.insert(object)?;
        }
        Ok(set)
    }
}
