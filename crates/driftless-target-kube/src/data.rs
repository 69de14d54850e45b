//! Reading the data of ConfigMaps and Secrets: what post-build substitution
//! (`substituteFrom`) and SOPS decryption keys (`decryption.secretRef`) take from the
//! cluster, as Flux's kustomize-controller reads them.

use std::collections::BTreeMap;

use base64::Engine as _;
use kube::api::{Api, DynamicObject};
use serde_json::Value;

use crate::call::{self, CallContext};
use crate::error::Error;
use crate::target::KubeTarget;

/// The kinds of object whose data can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataKind {
    /// A ConfigMap: its `data` and `binaryData`.
    ConfigMap,
    /// A Secret: its `data`, decoded from base64.
    Secret,
}

impl DataKind {
    /// The kind's name, `ConfigMap` or `Secret`.
    pub fn name(self) -> &'static str {
        match self {
            Self::ConfigMap => "ConfigMap",
            Self::Secret => "Secret",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Self::ConfigMap => "configmaps",
            Self::Secret => "secrets",
        }
    }
}

/// The data of a ConfigMap or Secret: key to bytes. `Debug` names the keys, never a value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Data(BTreeMap<String, Vec<u8>>);

impl std::fmt::Debug for Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Data {
    /// The entries, by key.
    pub fn entries(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.0
    }

    /// The entries, by key, owned.
    pub fn into_entries(self) -> BTreeMap<String, Vec<u8>> {
        self.0
    }
}

impl KubeTarget {
    /// The namespace of the ApplySet parent: the app's own namespace, where its
    /// post-build ConfigMaps and Secrets are read unless one names another.
    pub fn applyset_namespace(&self) -> &str {
        self.applyset_parent_namespace()
    }

    /// The data of the ConfigMap or Secret `namespace/name`, read now; `None` when it
    /// does not exist. Values are returned to the caller only, never logged.
    pub async fn read_data(
        &self,
        kind: DataKind,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Data>, Error> {
        let resource = kube::discovery::ApiResource {
            group: String::new(),
            version: "v1".into(),
            api_version: "v1".into(),
            kind: kind.name().into(),
            plural: kind.plural().into(),
        };
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client().clone(), namespace, &resource);
        let found = call::retrying("get post-build data", || api.get_opt(name))
            .await
            .map_err(|e| {
                CallContext {
                    verb: "get",
                    resource: kind.plural(),
                    namespace: Some(namespace),
                    id: None,
                }
                .error(e)
            })?;
        found
            .map(|object| data_of(kind, namespace, name, &object.data))
            .transpose()
    }
}

/// The entries of a ConfigMap (`data`, then `binaryData`) or a Secret (`data`, decoded).
fn data_of(kind: DataKind, namespace: &str, name: &str, body: &Value) -> Result<Data, Error> {
    let invalid = |key: &str, why: &str| Error::Decode {
        what: format!("{} {namespace}/{name}", kind.name()),
        source: format!("{key}: {why}").into(),
    };
    let field = |field: &str| {
        body.get(field)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
    };
    let mut data = BTreeMap::new();
    let decode = |key: &str, value: &Value| -> Result<Vec<u8>, Error> {
        let text = value.as_str().ok_or_else(|| invalid(key, "not a string"))?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| invalid(key, "not base64"))
    };
    match kind {
        DataKind::ConfigMap => {
            for (key, value) in field("data") {
                let text = value.as_str().ok_or_else(|| invalid(key, "not a string"))?;
                data.insert(key.clone(), text.as_bytes().to_vec());
            }
            for (key, value) in field("binaryData") {
                data.insert(key.clone(), decode(key, value)?);
            }
        }
        DataKind::Secret => {
            for (key, value) in field("data") {
                data.insert(key.clone(), decode(key, value)?);
            }
        }
    }
    Ok(Data(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_decoded_and_config_maps_read_both_fields() {
        let secret = data_of(
            DataKind::Secret,
            "ns",
            "s",
            &json!({"data": {"token": "dG9r"}}),
        )
        .unwrap();
        assert_eq!(secret.entries()["token"], b"tok");
        assert_eq!(format!("{secret:?}"), "{\"token\"}");
        let cm = data_of(
            DataKind::ConfigMap,
            "ns",
            "c",
            &json!({"data": {"a": "x"}, "binaryData": {"b": "eQ=="}}),
        )
        .unwrap();
        assert_eq!(cm.entries()["a"], b"x");
        assert_eq!(cm.entries()["b"], b"y");
        let bad = data_of(DataKind::Secret, "ns", "s", &json!({"data": {"k": "%%"}})).unwrap_err();
        assert!(bad.to_string().contains("Secret ns/s"), "{bad}");
    }
}
