//! The Kustomize renderer against the oracle, `kubectl kustomize` (Kustomize v5):
//! a corpus of realistic trees under `tests/kustomize/`, error cases, and generated
//! kustomizations. Both outputs are parsed and compared as values (types included),
//! in order.

// Fixtures are YAML text built with `format!`; clarity beats the allocation.
#![allow(clippy::format_push_string, clippy::format_collect)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use driftless_core::{Renderer, Snapshot};
use driftless_render::kustomize::{KustomizeRenderer, is_kustomization_dir};
use proptest::prelude::*;
use serde_json::Value;

use crate::cm;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kustomize")
}

/// `kubectl`, checked once to embed Kustomize v5.
fn kubectl() -> &'static str {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        let out = Command::new("kubectl").args(["version", "--client"]).output();
        let ok = out.is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains("Kustomize Version: v5")
        });
        assert!(
            ok,
            "kubectl with Kustomize v5 is required: install kubectl 1.27 or later (it embeds Kustomize v5) and put it on PATH"
        );
    });
    "kubectl"
}

/// What `kubectl kustomize DIR` prints, parsed; or its error.
pub(crate) fn oracle(dir: &Path) -> Result<Vec<Value>, String> {
    let out = Command::new(kubectl())
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("run kubectl kustomize");
    if out.status.success() {
        Ok(
            driftless_core::yaml::from_str_multi(&String::from_utf8_lossy(&out.stdout))
                .expect("kubectl prints valid YAML"),
        )
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

pub(crate) fn ours(
    root: &Path,
    rel: &str,
) -> Result<Vec<Value>, driftless_render::kustomize::Error> {
    KustomizeRenderer::new().build(root, Path::new(rel))
}

pub(crate) fn describe(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| serde_json::to_string(v).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Renders `rel` below `root` and compares it with the oracle, strictly.
pub(crate) fn assert_same(root: &Path, rel: &str) {
    let expected =
        oracle(&root.join(rel)).unwrap_or_else(|e| panic!("oracle failed on {rel}: {e}"));
    let actual = ours(root, rel).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert!(
        actual == expected,
        "{rel}: output differs from kubectl kustomize\n--- ours:\n{}\n--- kubectl:\n{}",
        describe(&actual),
        describe(&expected)
    );
}

/// Both refuse `rel`; our error names `file`.
pub(crate) fn assert_both_refuse(root: &Path, rel: &str, file: &str) {
    let theirs = oracle(&root.join(rel));
    assert!(theirs.is_err(), "kubectl accepts {rel}");
    let err = ours(root, rel).expect_err(rel);
    let text = err.to_string();
    assert!(
        text.contains(file),
        "{rel}: error {text:?} does not name {file}"
    );
}

#[test]
fn multi_environment_app() {
    let root = corpus().join("multi-env");
    for env in ["dev", "staging", "prod"] {
        assert_same(&root, &format!("overlays/{env}"));
    }
    assert_same(&root, "base");
}

#[test]
fn platform_with_crds_webhooks_and_custom_field_specs() {
    let root = corpus().join("platform");
    assert_same(&root, "overlays/cluster-a");
    assert_same(&root, "policy");
}

#[test]
fn generators_across_three_levels() {
    let root = corpus().join("generators");
    for level in ["base", "region", "cluster"] {
        assert_same(&root, level);
    }
}

#[test]
fn components() {
    assert_same(&corpus().join("components"), "overlays/prod");
}

#[test]
fn name_references_follow_prefix_suffix_and_namespace() {
    let root = corpus().join("name-refs");
    assert_same(&root, "base");
    assert_same(&root, "overlay");
}

#[test]
fn patches_of_every_kind() {
    assert_same(&corpus().join("patches"), ".");
}

#[test]
fn replacements() {
    assert_same(&corpus().join("replacements"), ".");
}

#[test]
fn labels_and_annotations_with_field_specs() {
    assert_same(&corpus().join("labels"), ".");
}

#[test]
fn images_and_replicas() {
    assert_same(&corpus().join("images-replicas"), "overlay");
}

#[test]
fn sort_orders() {
    let root = corpus().join("sort");
    for case in ["shared", "legacy-custom", "fifo"] {
        assert_same(&root, case);
    }
}

/// Plain scalars that YAML 1.1 (`kubectl apply`) and Kustomize's kyaml read differently:
/// `yes`/`on`/`n` stay strings in resources and strategic merge patches (values and
/// keys), timestamps become RFC 3339 strings, annotations stay as written, while JSON 6902
/// patches and env files keep their own rules.
#[test]
fn yaml_1_2_scalars_in_resources_and_patches() {
    let root = corpus().join("scalars");
    assert_same(&root, "base");
    assert_same(&root, "overlay");
    let out = ours(&root, "overlay").unwrap();
    let settings = out
        .iter()
        .find(|o| o["metadata"]["name"] == "prod-settings")
        .expect("the ConfigMap is rendered");
    assert_eq!(settings["data"]["on"], "On");
    assert_eq!(settings["data"]["day"], "2001-12-14T00:00:00Z");
    assert_eq!(settings["metadata"]["labels"]["tier"], "on");
}

#[test]
fn builtin_transformer_and_generator_configs() {
    assert_same(&corpus().join("plugins"), ".");
}

#[test]
fn inputs_kustomize_rejects_are_errors_naming_the_file() {
    let root = corpus().join("errors");
    for (rel, file) in [
        ("outside-root/app", "outside-root/app/kustomization.yaml"),
        ("cycle/a", "cycle/b/kustomization.yaml"),
        ("helm", "helm/kustomization.yaml"),
        ("unknown-field", "unknown-field/kustomization.yaml"),
        ("missing-file", "missing-file/kustomization.yaml"),
        ("duplicate", "duplicate/kustomization.yaml"),
        (
            "component-as-resource",
            "component-as-resource/kustomization.yaml",
        ),
        ("merge-missing", "merge-missing/kustomization.yaml"),
        ("replicas-no-match", "replicas-no-match/kustomization.yaml"),
        ("patch-no-match", "patch-no-match/kustomization.yaml"),
        ("exec-plugin", "exec-plugin/kustomization.yaml"),
        (
            "json-patch-no-target",
            "json-patch-no-target/kustomization.yaml",
        ),
        ("non-string-key", "non-string-key/config.yaml"),
    ] {
        assert_both_refuse(&root, rel, file);
    }
    let unknown = ours(&root, "unknown-field").unwrap_err().to_string();
    assert!(unknown.contains("resource"), "{unknown}");
}

#[test]
fn remote_resources_are_refused() {
    let root = corpus().join("errors");
    let err = ours(&root, "remote").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("remote/kustomization.yaml"), "{text}");
    assert!(text.contains("remote resource"), "{text}");
    assert!(
        text.contains("github.com/kubernetes-sigs/kustomize"),
        "{text}"
    );
}

#[test]
fn renderer_trait_gives_an_object_set_in_oracle_order() {
    let root = corpus().join("multi-env");
    assert!(is_kustomization_dir(&root.join("overlays/prod")));
    assert!(!is_kustomization_dir(&root.join("overlays")));
    let snapshot = Snapshot::new(
        &root,
        "main@sha1:0123456789abcdef0123456789abcdef01234567"
            .parse()
            .unwrap(),
    );
    let set = KustomizeRenderer::new()
        .render(&snapshot, Path::new("overlays/prod"))
        .unwrap();
    let expected = oracle(&root.join("overlays/prod")).unwrap();
    let actual: Vec<Value> = set.iter().map(|o| o.as_value().clone()).collect();
    assert_eq!(actual, expected);
}

#[test]
fn rendering_is_deterministic() {
    let root = corpus().join("name-refs");
    let first = ours(&root, "overlay").unwrap();
    for _ in 0..3 {
        assert_eq!(ours(&root, "overlay").unwrap(), first);
    }
}

/// A generated overlay on a generated base.
#[derive(Debug, Clone)]
struct Generated {
    services: Vec<&'static str>,
    prefix: Option<String>,
    suffix: Option<String>,
    namespace: Option<String>,
    labels: Vec<(&'static str, String)>,
    include_selectors: bool,
    annotations: Vec<(&'static str, String)>,
    image: Option<(Option<String>, Option<String>)>,
    replicas: Option<(usize, u8)>,
    literals: Vec<(&'static str, String)>,
    merge: Vec<(&'static str, String)>,
    disable_hash: bool,
    base_prefix: bool,
    patch_env: Option<String>,
}

fn generated() -> impl Strategy<Value = Generated> {
    let services = proptest::sample::subsequence(vec!["api", "web", "worker", "cache"], 1..=3);
    let name = "[a-z]{1,5}";
    let label = (
        proptest::sample::select(vec!["team", "tier", "app.kubernetes.io/part-of"]),
        "[a-z0-9]{1,6}",
    );
    let literal = (
        proptest::sample::select(vec!["MODE", "LEVEL", "URL", "PORT"]),
        "[a-zA-Z0-9:/._-]{0,12}",
    );
    (
        services,
        proptest::option::of(name.prop_map(|s| format!("{s}-"))),
        proptest::option::of(name.prop_map(|s| format!("-{s}"))),
        proptest::option::of(name),
        proptest::collection::vec(label.clone(), 0..3),
        any::<bool>(),
        proptest::collection::vec(label, 0..2),
        proptest::option::of((
            proptest::option::of("[a-z]{1,6}/[a-z]{1,6}"),
            proptest::option::of("[0-9]\\.[0-9]{1,2}"),
        )),
        proptest::option::of((0usize..3, 0u8..10)),
        proptest::collection::vec(literal.clone(), 1..4),
        proptest::collection::vec(literal, 0..3),
        (
            any::<bool>(),
            (any::<bool>(), proptest::option::of("[a-z0-9]{1,8}")),
        ),
    )
        .prop_map(
            |(
                services,
                prefix,
                suffix,
                namespace,
                labels,
                include_selectors,
                annotations,
                image,
                replicas,
                literals,
                merge,
                (disable_hash, (base_prefix, patch_env)),
            )| Generated {
                services,
                prefix,
                suffix,
                namespace,
                labels,
                include_selectors,
                annotations,
                image,
                replicas,
                literals,
                merge,
                disable_hash,
                base_prefix,
                patch_env,
            },
        )
}

/// `key: "value"` lines (last value of a key wins), with the given indent.
fn quoted_pairs(pairs: &[(&str, String)], indent: &str) -> String {
    let map: std::collections::BTreeMap<&str, &String> =
        pairs.iter().map(|(k, v)| (*k, v)).collect();
    map.iter()
        .map(|(k, v)| format!("{indent}{k}: \"{v}\"\n"))
        .collect()
}

/// `- "KEY=value"` lines (last value of a key wins).
fn literal_lines(pairs: &[(&str, String)]) -> String {
    let map: std::collections::BTreeMap<&str, &String> =
        pairs.iter().map(|(k, v)| (*k, v)).collect();
    map.iter()
        .map(|(k, v)| format!("  - \"{k}={v}\"\n"))
        .collect()
}

fn write_generated(dir: &Path, g: &Generated) {
    let mut base = String::from("resources:\n");
    for svc in &g.services {
        base.push_str(&format!("- {svc}.yaml\n"));
        crate::write(
            dir,
            &format!("base/{svc}.yaml"),
            &format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {svc}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: {svc}}}\n  template:\n    metadata:\n      labels: {{app: {svc}}}\n    spec:\n      serviceAccountName: {svc}\n      containers:\n      - name: {svc}\n        image: example/{svc}:1.0\n        envFrom: [{{configMapRef: {{name: settings}}}}]\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {svc}\nspec:\n  selector: {{app: {svc}}}\n  ports: [{{port: 80}}]\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {svc}\n"
            ),
        );
    }
    base.push_str("configMapGenerator:\n- name: settings\n  literals:\n");
    base.push_str(&literal_lines(&g.literals));
    base.push_str("secretGenerator:\n- name: token\n  literals:\n  - \"value=s3cr3t\"\n");
    if g.base_prefix {
        base.push_str("namePrefix: base-\n");
    }
    crate::write(dir, "base/kustomization.yaml", &base);

    let mut overlay = String::from("resources:\n- ../base\n");
    if let Some(p) = &g.prefix {
        overlay.push_str(&format!("namePrefix: {p}\n"));
    }
    if let Some(s) = &g.suffix {
        overlay.push_str(&format!("nameSuffix: {s}\n"));
    }
    if let Some(ns) = &g.namespace {
        overlay.push_str(&format!("namespace: ns-{ns}\n"));
    }
    if !g.labels.is_empty() {
        overlay.push_str(&format!(
            "labels:\n- includeSelectors: {}\n  pairs:\n{}",
            g.include_selectors,
            quoted_pairs(&g.labels, "    ")
        ));
    }
    if !g.annotations.is_empty() {
        overlay.push_str(&format!(
            "commonAnnotations:\n{}",
            quoted_pairs(&g.annotations, "  ")
        ));
    }
    if let Some((new_name, new_tag)) = &g.image {
        overlay.push_str(&format!("images:\n- name: example/{}\n", g.services[0]));
        if let Some(n) = new_name {
            overlay.push_str(&format!("  newName: {n}\n"));
        }
        if let Some(t) = new_tag {
            overlay.push_str(&format!("  newTag: \"{t}\"\n"));
        }
    }
    if let Some((i, count)) = g.replicas {
        let svc = g.services[i % g.services.len()];
        overlay.push_str(&format!("replicas:\n- name: {svc}\n  count: {count}\n"));
    }
    if !g.merge.is_empty() || g.disable_hash {
        overlay.push_str("configMapGenerator:\n- name: settings\n  behavior: merge\n");
        if g.disable_hash {
            overlay.push_str("  options:\n    disableNameSuffixHash: true\n");
        }
        if !g.merge.is_empty() {
            overlay.push_str("  literals:\n");
            overlay.push_str(&literal_lines(&g.merge));
        }
    }
    if let Some(value) = &g.patch_env {
        overlay.push_str(&format!(
            "patches:\n- target:\n    kind: Deployment\n  patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata:\n      name: any\n    spec:\n      template:\n        spec:\n          containers:\n          - name: {}\n            env:\n            - name: PATCHED\n              value: \"{value}\"\n            - name: TOKEN\n              valueFrom:\n                secretKeyRef: {{name: token, key: value}}\n",
            g.services[0]
        ));
    }
    crate::write(dir, "overlay/kustomization.yaml", &overlay);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn generated_kustomizations_match_the_oracle(g in generated()) {
        let dir = tempfile::tempdir().unwrap();
        write_generated(dir.path(), &g);
        let expected = oracle(&dir.path().join("overlay"));
        let actual = ours(dir.path(), "overlay");
        match (actual, expected) {
            (Ok(a), Ok(e)) => prop_assert!(a == e, "differs for {:?}\n--- ours:\n{}\n--- kubectl:\n{}", g, describe(&a), describe(&e)),
            (Err(a), Err(_)) => prop_assert!(a.to_string().contains("kustomization.yaml"), "{}", a),
            (Ok(_), Err(e)) => prop_assert!(false, "kubectl refuses {:?}: {}", g, e),
            (Err(a), Ok(_)) => prop_assert!(false, "we refuse {:?}: {}", g, a),
        }
    }
}

/// A temporary tree of `files`, built by us and by the oracle at `rel`.
pub(crate) fn assert_same_tree(files: &[(&str, &str)], rel: &str) -> tempfile::TempDir {
    let dir = crate::tree(files);
    assert_same(dir.path(), rel);
    dir
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        args: [\"--upstream=$(SVC)\", \"--ns=$(NS)\", \"$$(SVC)\"]
        env:
        - {name: DEBUG, value: \"$(DEBUG)\"}
        - {name: PORT, value: \"$(PORT)\"}
";

const SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: shop
  annotations: {app.io/debug: \"true\"}
spec:
  ports: [{port: 80}]
";

#[test]
fn an_overlay_rendered_as_a_folder_uses_bases_anywhere_in_the_tree() {
    let dir = crate::tree(&[
        ("base/kustomization.yaml", "resources: [deploy.yaml]\n"),
        ("base/deploy.yaml", &cm("settings")),
        (
            "overlays/prod/kustomization.yaml",
            "resources: [../../base]\nnamePrefix: prod-\n",
        ),
        (
            "overlays/file/kustomization.yaml",
            "resources: [../../base/deploy.yaml]\n",
        ),
    ]);
    let expected = oracle(&dir.path().join("overlays/prod")).unwrap();
    // The folder is the snapshot, the tree above it is where bases may come from.
    let snapshot = Snapshot::new(
        dir.path().join("overlays/prod"),
        "sha256:00".parse().unwrap(),
    )
    .within(dir.path());
    let set = driftless_render::AutoRenderer::default()
        .render(&snapshot, Path::new("."))
        .unwrap();
    let actual: Vec<Value> = set.iter().map(|o| o.as_value().clone()).collect();
    assert_eq!(actual, expected);
    // Files, unlike kustomizations, must be below the kustomization's folder.
    assert_both_refuse(
        dir.path(),
        "overlays/file",
        "overlays/file/kustomization.yaml",
    );
    // Without the tree, the base is outside the snapshot.
    let alone = Snapshot::new(
        dir.path().join("overlays/prod"),
        "sha256:00".parse().unwrap(),
    );
    let err = driftless_render::AutoRenderer::default()
        .render(&alone, Path::new("."))
        .unwrap_err();
    assert!(crate::chain(&err).contains("kustomization.yaml"), "{err}");
}

#[test]
fn vars_are_resolved_after_names_change() {
    let params = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: params}\ndata: {debug: \"on\", port: \"8080\"}\n";
    let base_k = "resources: [deploy.yaml, service.yaml, params.yaml]
vars:
- name: SVC
  objref: {apiVersion: v1, kind: Service, name: api}
- name: NS
  objref: {apiVersion: v1, kind: Service, name: api}
  fieldref: {fieldPath: metadata.namespace}
- name: DEBUG
  objref: {apiVersion: v1, kind: ConfigMap, name: params}
  fieldref: {fieldpath: data.debug}
- name: PORT
  objref: {apiVersion: v1, kind: Service, name: api}
  fieldref: {fieldpath: 'spec.ports[0].port'}
";
    let dir = assert_same_tree(
        &[
            ("base/kustomization.yaml", base_k),
            ("base/deploy.yaml", DEPLOYMENT),
            ("base/service.yaml", SERVICE),
            ("base/params.yaml", params),
            (
                "overlay/kustomization.yaml",
                "resources: [../base]\nnamePrefix: prod-\n",
            ),
        ],
        "overlay",
    );
    let out = ours(dir.path(), "overlay").unwrap();
    let args = &out[2]["spec"]["template"]["spec"]["containers"][0]["args"];
    assert_eq!(args[0], "--upstream=prod-api", "{out:?}");
}

#[test]
fn replacements_reach_keys_holding_dots_in_brackets() {
    let k = "resources: [service.yaml, deploy.yaml]
replacements:
- source: {kind: Service, name: api, fieldPath: 'metadata.annotations.[app.io/debug]'}
  targets:
  - select: {kind: Deployment}
    fieldPaths: ['metadata.annotations.[cert-manager.io/inject-ca-from]']
    options: {create: true}
";
    let dir = assert_same_tree(
        &[
            ("kustomization.yaml", k),
            ("service.yaml", SERVICE),
            ("deploy.yaml", &DEPLOYMENT.replace("$(", "(")),
        ],
        ".",
    );
    let out = ours(dir.path(), ".").unwrap();
    assert_eq!(
        out[1]["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        "true"
    );
}

#[test]
fn empty_annotations_secret_data_and_generator_spellings() {
    let objects = "apiVersion: v1
kind: ServiceAccount
metadata:
  name: sa
  annotations:
  labels:
---
apiVersion: v1
kind: Secret
metadata: {name: cert, annotations: {}}
data: {}
";
    let dir = crate::tree(&[
        (
            "kustomization.yaml",
            "resources: [objects.yaml]
secretGenerator:
- name: empty
configMapGenerator:
- name: added
  behavior: add
  literals: [a=b]
- name: bin
  files: [blob.bin]
",
        ),
        ("objects.yaml", objects),
    ]);
    // Bytes that are not UTF-8 go to binaryData, base64 in lines like Kustomize's.
    std::fs::write(
        dir.path().join("blob.bin"),
        (0u8..=255).chain(0u8..=255).collect::<Vec<u8>>(),
    )
    .unwrap();
    assert_same(dir.path(), ".");
}

#[test]
fn common_labels_never_create_a_list_a_stateful_set_lacks() {
    let set = "apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: cache}
spec:
  template:
    spec:
      containers: [{name: cache, image: redis}]
  volumeClaimTemplates:
  - metadata: {name: data}
";
    assert_same_tree(
        &[
            (
                "kustomization.yaml",
                "resources: [set.yaml]\ncommonLabels: {team: a}\n",
            ),
            ("set.yaml", set),
        ],
        ".",
    );
}

#[test]
fn patches_by_label_keep_the_target_version_and_replace_adds_missing_keys() {
    let k = "resources: [deploy.yaml]
patches:
- target: {labelSelector: app=web}
  patch: |
    apiVersion: apps/v1beta1
    kind: Deployment
    metadata: {name: any}
    spec: {replicas: 2}
- target: {kind: Deployment, name: web}
  patch: |
    - {op: replace, path: /spec/template/spec/containers/0/imagePullPolicy, value: Always}
";
    assert_same_tree(
        &[
            ("kustomization.yaml", k),
            ("deploy.yaml", &DEPLOYMENT.replace("$(", "(")),
        ],
        ".",
    );
}

#[test]
fn a_component_builds_on_its_own() {
    assert_same_tree(
        &[
            (
                "kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [cm.yaml]\nnamePrefix: c-\n",
            ),
            ("cm.yaml", &cm("settings")),
        ],
        ".",
    );
}

#[test]
fn env_lines_without_a_value_are_refused_never_read_from_the_environment() {
    let dir = crate::tree(&[
        (
            "kustomization.yaml",
            "configMapGenerator:\n- name: env\n  envs: [app.env]\n",
        ),
        ("app.env", "A=1\n# comment\nHOME\n"),
    ]);
    let err = ours(dir.path(), ".").unwrap_err().to_string();
    assert!(
        err.starts_with("app.env: line 3: \"HOME\" has no `=`"),
        "{err}"
    );
}

#[test]
fn a_strategic_merge_drops_values_written_as_nothing_but_keeps_explicit_nulls() {
    let deploy = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
spec:
  template:
    spec:
      affinity:
        nodeAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          requiredDuringSchedulingIgnoredDuringExecution: null
      containers:
      - name: web
        image: nginx
        command:
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: untouched}
  data:
    empty:
";
    let patch =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2}\n";
    assert_same_tree(
        &[
            (
                "kustomization.yaml",
                "resources: [deploy.yaml]\npatches:\n- path: patch.yaml\n",
            ),
            ("deploy.yaml", deploy),
            ("patch.yaml", patch),
        ],
        ".",
    );
}
