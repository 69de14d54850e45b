//! The rendered form of a realistic tree, kept as snapshots.

use driftless_core::yaml;
use serde_json::{Value, json};

use crate::{render, tree};

const NAMESPACE: &str = "\
# The namespace of the shop.
apiVersion: v1
kind: Namespace
metadata:
  name: shop
";

const WEB: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: &labels
    app: web
spec:
  replicas: 3
  selector:
    matchLabels: *labels
  template:
    metadata:
      labels: *labels
    spec:
      containers:
        - name: web
          image: registry.example.com/web:1.4.2
          ports:
            - containerPort: 8080
          env:
            - name: FEATURE_X
              value: \"on\"
            - name: RETRIES
              value: \"3\"
          resources:
            limits: {cpu: 500m, memory: 256Mi}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: {app: web}
  ports:
    - port: 80
      targetPort: 8080
";

const SETTINGS: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  mode: \"yes\"
  version: \"1.10\"
  empty: \"\"
  script: |
    #!/bin/sh
    echo hello
";

const LIST: &str = r#"{
  "apiVersion": "v1",
  "kind": "List",
  "items": [
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
     "metadata": {"name": "shop-reader"},
     "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}
  ]
}"#;

#[test]
fn rendered_example_tree() {
    let dir = tree(&[
        ("namespace.yaml", NAMESPACE),
        ("apps/web.yaml", WEB),
        ("apps/settings.yml", SETTINGS),
        ("rbac/reader.json", LIST),
        ("README.md", "# shop\n"),
        (".github/workflows/ci.yaml", "on: push\n"),
    ]);
    let set = render(dir.path()).unwrap();
    let listing: Vec<Value> = set
        .iter()
        .map(|o| json!({"id": o.id().to_string(), "object": o.as_value()}))
        .collect();
    insta::assert_yaml_snapshot!("example_tree_objects", listing);
    let values: Vec<Value> = set.into_iter().map(Into::into).collect();
    insta::assert_snapshot!(
        "example_tree_rendered",
        yaml::to_string_multi(&values).unwrap()
    );
}
