//! Kustomize constructs beyond the everyday ones, each against the oracle
//! (`kubectl kustomize`) on a minimal inline example: NamespaceTransformer options,
//! field names in any letter case, unknown fields in built-in transformer configs,
//! origin annotations, the `crds` field, and two versions of one custom resource.

// Fixtures are YAML text built with `format!`; clarity beats the allocation.
#![allow(clippy::format_push_string)]

use std::path::Path;

use driftless_render::kustomize::KustomizeRenderer;

use crate::kustomize::{assert_both_refuse, assert_same_tree, ours};
use crate::tree;

const BINDINGS: &str = "apiVersion: v1
kind: ConfigMap
metadata: {name: kept, namespace: keep}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unset}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
subjects:
- {kind: ServiceAccount, name: default}
- {kind: ServiceAccount, name: worker}
- {kind: ServiceAccount, name: other, namespace: elsewhere}
- {kind: User, name: default}
- {kind: Group, name: devs}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: crb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: c}
subjects:
- {kind: ServiceAccount, name: default}
- {kind: ServiceAccount, name: worker}
";

fn namespace_transformer(extra: &str) -> String {
    format!(
        "resources: [objects.yaml]
transformers:
- |-
  apiVersion: builtin
  kind: NamespaceTransformer
  metadata: {{name: ns, namespace: target}}
{extra}"
    )
}

#[test]
fn namespace_transformer_unset_only_and_role_binding_subjects() {
    for subjects in ["", "none", "defaultOnly", "allServiceAccounts"] {
        for unset_only in [false, true] {
            let mut extra = format!("  unsetOnly: {unset_only}\n");
            if !subjects.is_empty() {
                extra.push_str(&format!("  setRoleBindingSubjects: {subjects}\n"));
            }
            assert_same_tree(
                &[
                    ("kustomization.yaml", &namespace_transformer(&extra)),
                    ("objects.yaml", BINDINGS),
                ],
                ".",
            );
        }
    }
    // Field specs given to the transformer honour unsetOnly too.
    let extra = "  unsetOnly: true
  fieldSpecs:
  - {path: metadata/namespace, create: true}
  - {path: data/ns, kind: ConfigMap, create: true}
";
    assert_same_tree(
        &[
            ("kustomization.yaml", &namespace_transformer(extra)),
            ("objects.yaml", BINDINGS),
        ],
        ".",
    );
}

#[test]
fn an_unknown_role_binding_subject_mode_is_refused() {
    let dir = tree(&[
        (
            "kustomization.yaml",
            &namespace_transformer("  setRoleBindingSubjects: everyone\n"),
        ),
        ("objects.yaml", BINDINGS),
    ]);
    assert_both_refuse(dir.path(), ".", "kustomization.yaml");
    let err = ours(dir.path(), ".").unwrap_err().to_string();
    assert!(err.contains("setRoleBindingSubjects"), "{err}");
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: nginx}
";

#[test]
fn kustomization_field_names_in_any_letter_case() {
    let k = "Resources: [deploy.yaml]
NAMEPREFIX: p-
namesuffix: -s
# Both spellings fill one map: Go's JSON decoder adds to a map it already made.
CommonLabels: {team: a}
commonLabels: {tier: b}
Images:
- Name: nginx
  NEWTAG: \"1.27\"
Replicas:
- Name: web
  Count: 3
Patches:
- Target: {Kind: Deployment, Name: web}
  Patch: |
    - {op: add, path: /spec/paused, value: true}
ConfigMapGenerator:
- NAME: settings
  Literals: [mode=fast]
  OPTIONS: {DisableNameSuffixHash: true}
SortOptions: {Order: fifo}
";
    assert_same_tree(
        &[("kustomization.yaml", k), ("deploy.yaml", DEPLOYMENT)],
        ".",
    );
    // Of two spellings of a list field, the one that sorts last wins, as in Go.
    let k = "resources: [deploy.yaml]\nResources: [other.yaml]\n";
    assert_same_tree(
        &[
            ("kustomization.yaml", k),
            ("deploy.yaml", DEPLOYMENT),
            ("other.yaml", &crate::cm("other")),
        ],
        ".",
    );
}

#[test]
fn transformer_and_generator_configs_in_any_letter_case() {
    let k = "resources: [deploy.yaml]
transformers:
- |-
  apiVersion: builtin
  kind: LabelTransformer
  metadata: {name: labels}
  Labels: {team: a}
  FieldSpecs:
  - {Path: metadata/labels, Create: true}
- |-
  apiVersion: builtin
  kind: ImageTagTransformer
  metadata: {name: image}
  ImageTag: {Name: nginx, NewTag: \"2\"}
  FieldSpecs:
  - Path: spec/template/spec/containers[]/image
- |-
  apiVersion: builtin
  kind: PatchTransformer
  metadata: {name: patch}
  Patch: |
    - {op: add, path: /spec/paused, value: true}
  Target: {Kind: Deployment}
- |-
  apiVersion: builtin
  kind: ReplicaCountTransformer
  metadata: {name: replicas}
  Replica: {Name: web, Count: 4}
  FieldSpecs:
  - {path: spec/replicas, create: true}
- |-
  apiVersion: builtin
  kind: NamespaceTransformer
  metadata: {name: ns, namespace: target}
  UNSETONLY: true
# Kustomize reads this one with exact names: `Prefix` is no field of it.
- |-
  apiVersion: builtin
  kind: PrefixSuffixTransformer
  metadata: {name: affix}
  Prefix: ignored-
  suffix: -s
  fieldSpecs:
  - path: metadata/name
generators:
- |-
  apiVersion: builtin
  kind: SecretGenerator
  metadata: {name: token}
  Literals: [value=s3cr3t]
  Type: example.com/token
  Options: {DisableNameSuffixHash: true}
";
    assert_same_tree(
        &[("kustomization.yaml", k), ("deploy.yaml", DEPLOYMENT)],
        ".",
    );
}

#[test]
fn unknown_fields_are_ignored_in_transformer_configs_and_refused_in_kustomizations() {
    let k = "resources: [deploy.yaml, settings.yaml]
transformers:
- |-
  apiVersion: builtin
  kind: PrefixSuffixTransformer
  metadata: {name: affix}
  prefix: p-
  bogus: 1
  fieldSpecs:
  - {path: metadata/name, bogus: 2}
- |-
  apiVersion: builtin
  kind: PatchTransformer
  metadata: {name: patch}
  bogus: 1
  patch: |
    - {op: add, path: /spec/paused, value: true}
  target: {kind: Deployment, bogus: 2}
- |-
  apiVersion: builtin
  kind: ImageTagTransformer
  metadata: {name: image}
  bogus: 1
  imageTag: {name: nginx, newTag: \"3\", bogus: 2}
  fieldSpecs:
  - path: spec/template/spec/containers[]/image
    bogus: 3
- |-
  apiVersion: builtin
  kind: ReplacementTransformer
  metadata: {name: copy}
  bogus: 1
  replacements:
  - source: {kind: ConfigMap, name: settings, fieldPath: data.mode, bogus: 2}
    bogus: 3
    targets:
    - select: {kind: Deployment, bogus: 4}
      fieldPaths: [metadata.annotations.mode]
      options: {create: true}
- |-
  apiVersion: builtin
  kind: NamespaceTransformer
  metadata: {name: ns, namespace: target}
  bogus: 1
generators:
- |-
  apiVersion: builtin
  kind: ConfigMapGenerator
  metadata: {name: generated}
  bogus: 1
  literals: [a=b]
  options: {disableNameSuffixHash: true, bogus: 2}
";
    let settings =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n";
    assert_same_tree(
        &[
            ("kustomization.yaml", k),
            ("deploy.yaml", DEPLOYMENT),
            ("settings.yaml", settings),
        ],
        ".",
    );
    // The kustomization itself is read strictly, at every level.
    for k in [
        "resources: [deploy.yaml]\npatches:\n- target: {kind: Deployment, bogus: 1}\n  patch: '[]'\n",
        "resources: [deploy.yaml]\nsortOptions: {order: fifo, bogus: 1}\n",
        "configMapGenerator:\n- name: g\n  literals: [a=b]\n  bogus: 1\n",
    ] {
        let dir = tree(&[("kustomization.yaml", k), ("deploy.yaml", DEPLOYMENT)]);
        assert_both_refuse(dir.path(), ".", "kustomization.yaml");
        let err = ours(dir.path(), ".").unwrap_err().to_string();
        assert!(err.contains("bogus"), "{err}");
    }
}

#[test]
fn origin_annotations_name_files_and_generators() {
    let base = "resources: [settings.yaml]
configMapGenerator:
- name: base-gen
  literals: [a=b]
- name: merged
  literals: [x=1]
";
    let overlay = "resources:
- ../base
- sub/deploy.yaml
namePrefix: p-
buildMetadata: [originAnnotations, managedByLabel]
configMapGenerator:
- name: gen
  literals: [a=b]
- name: merged
  behavior: merge
  literals: [y=2]
secretGenerator:
- name: sec
  literals: [a=b]
generators:
- |-
  apiVersion: builtin
  kind: ConfigMapGenerator
  metadata: {name: plug}
  literals: [x=y]
- gens/file.yaml
";
    let file_gen = "apiVersion: builtin\nkind: SecretGenerator\nmetadata: {name: from-file, namespace: ns}\nliterals: [k=v]\n";
    let settings = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  annotations:
    config.kubernetes.io/origin: |
      path: somewhere/else.yaml
    alpha.config.kubernetes.io/transformations: |
      - path: x
data: {mode: fast}
";
    let files = [
        ("base/kustomization.yaml", base),
        ("base/settings.yaml", settings),
        ("overlay/kustomization.yaml", overlay),
        ("overlay/sub/deploy.yaml", DEPLOYMENT),
        ("overlay/gens/file.yaml", file_gen),
    ];
    let dir = assert_same_tree(&files, "overlay");
    let out = ours(dir.path(), "overlay").unwrap();
    let deploy = out.iter().find(|o| o["kind"] == "Deployment").unwrap();
    assert_eq!(
        deploy["metadata"]["annotations"]["config.kubernetes.io/origin"],
        "path: sub/deploy.yaml\n"
    );
    // Without buildMetadata, origin and transformation annotations read from files are
    // dropped, as Kustomize drops them.
    assert_same_tree(&files, "base");
}

#[test]
fn transformer_annotations_are_refused_naming_the_file() {
    let dir = tree(&[
        (
            "kustomization.yaml",
            "resources: [deploy.yaml]\nbuildMetadata: [transformerAnnotations]\n",
        ),
        ("deploy.yaml", DEPLOYMENT),
    ]);
    let err = ours(dir.path(), ".").unwrap_err().to_string();
    assert!(err.contains("kustomization.yaml"), "{err}");
    assert!(err.contains("transformerAnnotations"), "{err}");
}

#[test]
fn crds_add_name_references_labels_annotations_and_identities() {
    let crd = "github.com/example/v1beta1.MyKind:
  Schema:
    properties:
      apiVersion: {type: string}
      kind: {type: string}
      metadata:
        $ref: k8s.io/apimachinery/pkg/apis/meta/v1.ObjectMeta
      spec:
        $ref: github.com/example/v1beta1.MyKindSpec
github.com/example/v1beta1.MyKindSpec:
  Schema:
    properties:
      secretRef:
        x-kubernetes-object-ref-api-version: v1
        x-kubernetes-object-ref-kind: Secret
        $ref: k8s.io/api/core/v1.LocalObjectReference
      configRef:
        x-kubernetes-object-ref-api-version: v1
        x-kubernetes-object-ref-kind: ConfigMap
        x-kubernetes-object-ref-name-key: configName
      selector:
        x-kubernetes-label-selector: \"\"
      notes:
        x-kubernetes-annotation: \"\"
      identity:
        x-kubernetes-identity: \"\"
";
    let object = "apiVersion: example/v1beta1
kind: MyKind
metadata: {name: mine}
spec:
  secretRef: {name: token}
  configRef: {configName: settings}
  selector: {app: mine}
  notes: {written: by-hand}
  identity: mine
";
    let k = "resources: [object.yaml]
crds: [crd.yaml]
namePrefix: p-
nameSuffix: -s
commonLabels: {team: a}
commonAnnotations: {note: b}
configMapGenerator:
- name: settings
  literals: [a=b]
secretGenerator:
- name: token
  literals: [a=b]
";
    assert_same_tree(
        &[
            ("kustomization.yaml", k),
            ("crd.yaml", crd),
            ("object.yaml", object),
        ],
        ".",
    );
    // The same definitions as JSON.
    let json =
        serde_json::to_string(&driftless_core::yaml::from_str_multi(crd).unwrap()[0]).unwrap();
    assert_same_tree(
        &[
            ("kustomization.yaml", k),
            ("crd.yaml", &json),
            ("object.yaml", object),
        ],
        ".",
    );
}

#[test]
fn two_versions_of_one_custom_resource_render_both() {
    let objects = "apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
spec: {size: 1}
---
apiVersion: example.com/v2
kind: Widget
metadata: {name: w}
spec: {size: 2}
";
    let k = "resources: [widgets.yaml]
namePrefix: p-
namespace: shop
patches:
- target: {kind: Widget, version: v2}
  patch: |
    - {op: add, path: /spec/color, value: red}
- patch: |
    apiVersion: example.com/v1
    kind: Widget
    metadata: {name: w}
    spec: {shape: round}
";
    let dir = assert_same_tree(&[("kustomization.yaml", k), ("widgets.yaml", objects)], ".");
    // An object set (what is applied and diffed) keys objects without their version:
    // the two are one Kubernetes object, so building a set of them is refused, naming
    // the folder and both versions.
    let err = KustomizeRenderer::new()
        .build_set(dir.path(), Path::new("."))
        .unwrap_err();
    let text = crate::chain(&err);
    assert!(
        text.contains("example.com/v1") && text.contains("example.com/v2"),
        "{text}"
    );
}
