//! [`KeptRender`]: the last render, kept between reconciles in compact form.

use driftless_core::{Object, ObjectSet, Revision};

use crate::Error;
use crate::pipeline::{InputsDigest, Rendered};

/// A render kept until the next reconcile needs it again (the revision did not change,
/// or the source is down), each object as compact JSON text. Parsed objects take about
/// ten times the memory of their text (a small ConfigMap: ~2 KB against ~150 bytes), and
/// an agent keeps one render per app for as long as it runs; reading them back costs
/// microseconds per object, once per reconcile.
pub(crate) struct KeptRender {
    revision: Revision,
    /// The digest of the post-build inputs it was made with.
    inputs: Option<InputsDigest>,
    objects: Vec<Box<[u8]>>,
}

impl KeptRender {
    /// Keeps `rendered`, made with the post-build `inputs`.
    pub(crate) fn keep(rendered: &Rendered, inputs: Option<InputsDigest>) -> Result<Self, Error> {
        let objects = rendered
            .objects
            .iter()
            .map(|object| serde_json::to_vec(object.as_value()).map(Vec::into_boxed_slice))
            .collect::<Result<_, _>>()
            .map_err(Error::KeptRender)?;
        Ok(Self {
            revision: rendered.revision.clone(),
            inputs,
            objects,
        })
    }

    /// The revision rendered.
    pub(crate) fn revision(&self) -> &Revision {
        &self.revision
    }

    /// Whether it is the render of `revision` with `inputs`.
    pub(crate) fn is_of(&self, revision: &Revision, inputs: Option<&InputsDigest>) -> bool {
        self.revision == *revision && self.inputs.as_ref() == inputs
    }

    /// The render, parsed again.
    pub(crate) fn restore(&self) -> Result<Rendered, Error> {
        let mut objects = ObjectSet::new();
        for text in &self.objects {
            let value = serde_json::from_slice(text).map_err(Error::KeptRender)?;
            objects.insert(Object::new(value)?)?;
        }
        Ok(Rendered {
            revision: self.revision.clone(),
            objects,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_kept_render_restores_the_same_objects_in_the_same_order() {
        let mut objects = ObjectSet::new();
        for (name, value) in [("b", json!(1.5)), ("a", json!(u64::MAX)), ("c", json!(-3))] {
            let object = json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "web", "labels": {"z": "1", "a": "2"}},
                "data": {"value": value.to_string(), "n": null, "list": [true, {}, []]},
                "number": value,
            });
            objects.insert(Object::new(object).unwrap()).unwrap();
        }
        let rendered = Rendered {
            revision: Revision::new(None, "sha256", "abc").unwrap(),
            objects,
        };
        let kept = KeptRender::keep(&rendered, Some([7; 32])).unwrap();
        let restored = kept.restore().unwrap();
        assert_eq!(restored.revision, rendered.revision);
        let before: Vec<&serde_json::Value> =
            rendered.objects.iter().map(Object::as_value).collect();
        let after: Vec<&serde_json::Value> =
            restored.objects.iter().map(Object::as_value).collect();
        assert_eq!(before, after);
        let keys = |v: &serde_json::Value| -> Vec<String> {
            v["metadata"]["labels"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        assert_eq!(keys(after[0]), ["z", "a"], "key order is kept");
        assert!(kept.is_of(&rendered.revision, Some(&[7; 32])));
        assert!(!kept.is_of(&rendered.revision, None));
    }
}
