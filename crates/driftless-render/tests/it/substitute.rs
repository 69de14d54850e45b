//! Post-build substitution on a Kustomize app whose base and overlays use variables,
//! as a Flux fleet repository does.

use std::path::Path;
use std::process::Command;

use driftless_core::{ObjectId, ObjectSet};
use driftless_render::AutoRenderer;
use driftless_render::substitute::Substitution;
use serde_json::Value;

use crate::tree;

const BASE_DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: ${replicas:=2}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: registry.example.com/web:${version:=1.0.0}
          env:
            - {name: CLUSTER, value: \"${cluster_name}\"}
            - {name: SCRIPT, value: \"echo $${HOME} $HOME\"}
";

const BASE_SCRIPT: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: script
  labels:
    kustomize.toolkit.fluxcd.io/substitute: disabled
data:
  run.sh: echo ${HOME} ${cluster_name}
";

fn app() -> tempfile::TempDir {
    tree(&[
        (
            "base/kustomization.yaml",
            "resources: [deployment.yaml, script.yaml]\n",
        ),
        ("base/deployment.yaml", BASE_DEPLOYMENT),
        ("base/script.yaml", BASE_SCRIPT),
        (
            "clusters/prod/kustomization.yaml",
            "resources: [../../base, ingress.yaml]\nnamePrefix: ${cluster_name}-\n\
             commonLabels: {region: \"${region:=eu}\"}\n",
        ),
        (
            "clusters/prod/ingress.yaml",
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\n\
             spec:\n  rules:\n    - host: web.${cluster_name}.${domain:=example.com}\n",
        ),
    ])
}

fn render(dir: &Path, substitution: &Substitution) -> ObjectSet {
    let objects = AutoRenderer::default()
        .render_path(dir, Path::new("clusters/prod"))
        .unwrap();
    substitution.apply(objects).unwrap()
}

fn get<'a>(objects: &'a ObjectSet, id: &str) -> &'a Value {
    let id: ObjectId = id.parse().unwrap();
    objects
        .get(&id)
        .unwrap_or_else(|| panic!("no {id}"))
        .as_value()
}

#[test]
fn variables_across_base_and_overlay() {
    let dir = app();
    // Kustomize itself leaves the expressions alone (they are only text to it).
    let kubectl = Command::new("kubectl")
        .args(["kustomize"])
        .arg(dir.path().join("clusters/prod"))
        .output()
        .unwrap();
    assert!(
        kubectl.status.success(),
        "{}",
        String::from_utf8_lossy(&kubectl.stderr)
    );
    assert!(String::from_utf8_lossy(&kubectl.stdout).contains("${cluster_name}-web"));

    let substitution = Substitution::new()
        .var("cluster_name", "prod1")
        .unwrap()
        .var("replicas", "5")
        .unwrap();
    let objects = render(dir.path(), &substitution);
    let web = get(&objects, "apps/Deployment//prod1-web");
    assert_eq!(web["spec"]["replicas"], 5);
    assert_eq!(web["metadata"]["labels"]["region"], "eu");
    let container = &web["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.example.com/web:1.0.0");
    assert_eq!(container["env"][0]["value"], "prod1");
    assert_eq!(container["env"][1]["value"], "echo ${HOME} $HOME");
    let ingress = get(&objects, "networking.k8s.io/Ingress//prod1-web");
    assert_eq!(ingress["spec"]["rules"][0]["host"], "web.prod1.example.com");
    // The opted-out ConfigMap keeps its text; only its name came from the overlay.
    let script = get(&objects, "/ConfigMap//${cluster_name}-script");
    assert_eq!(script["data"]["run.sh"], "echo ${HOME} ${cluster_name}");

    // Another cluster: other values, defaults overridden.
    let staging = Substitution::new()
        .var("cluster_name", "staging")
        .unwrap()
        .var("region", "us")
        .unwrap()
        .var("domain", "test.local")
        .unwrap();
    let objects = render(dir.path(), &staging);
    let web = get(&objects, "apps/Deployment//staging-web");
    assert_eq!(web["spec"]["replicas"], 2);
    assert_eq!(web["metadata"]["labels"]["region"], "us");
    let ingress = get(&objects, "networking.k8s.io/Ingress//staging-web");
    assert_eq!(
        ingress["spec"]["rules"][0]["host"],
        "web.staging.test.local"
    );
}

#[test]
fn strict_mode_names_the_object_and_field() {
    let dir = app();
    let strict = Substitution::new()
        .var("replicas", "1")
        .unwrap()
        .strict(true);
    let objects = AutoRenderer::default()
        .render_path(dir.path(), Path::new("clusters/prod"))
        .unwrap();
    let error = strict.apply(objects).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("${cluster_name}-web"), "{message}");
    assert!(
        message.contains("variable \"cluster_name\" is not defined"),
        "{message}"
    );
}
