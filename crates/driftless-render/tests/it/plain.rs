//! What the plain renderer reads, and in which order.

use std::path::Path;

use serde_json::json;

use crate::{cm, ids, render, tree};

#[test]
fn files_in_byte_order_of_their_relative_path() {
    // Byte order of the whole relative path: "a-b.yaml" < "a.yaml" < "a/x.yaml" < "b.yml"
    // < "z/A.json" < "z/a.yaml" (walking directory by directory would differ).
    let dir = tree(&[
        ("z/a.yaml", &cm("z-a")),
        ("a/x.yaml", &cm("a-x")),
        ("b.yml", &cm("b")),
        ("a.yaml", &cm("a")),
        ("a-b.yaml", &cm("a-b")),
        (
            "z/A.json",
            r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "z-A"}}"#,
        ),
    ]);
    let set = render(dir.path()).unwrap();
    let names: Vec<&str> = set.iter().map(driftless_core::Object::name).collect();
    assert_eq!(names, ["a-b", "a", "a-x", "b", "z-A", "z-a"]);
}

#[test]
fn multi_document_files_skip_empty_documents() {
    let text = format!(
        "# leading comment\n---\n{}---\n# only a comment\n---\n---\n{}...\n---\n\n",
        cm("one"),
        cm("two")
    );
    let dir = tree(&[("all.yaml", &text)]);
    let set = render(dir.path()).unwrap();
    assert_eq!(ids(&set), ["/ConfigMap//one", "/ConfigMap//two"]);
}

#[test]
fn lists_are_flattened() {
    let dir = tree(&[(
        "lists.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: a}\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: b, namespace: prod}\n---\napiVersion: v1\nkind: ConfigMapList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n---\napiVersion: v1\nkind: List\nitems: []\n---\napiVersion: example.com/v1\nkind: AllowList\nmetadata: {name: not-a-list}\nspec: {}\n",
    )]);
    let set = render(dir.path()).unwrap();
    assert_eq!(
        ids(&set),
        [
            "/Service//a",
            "apps/Deployment/prod/b",
            "/ConfigMap//c",
            "example.com/AllowList//not-a-list"
        ]
    );
}

#[test]
fn hidden_and_other_files_are_skipped() {
    let dir = tree(&[
        ("app.yaml", &cm("app")),
        (".hidden.yaml", &cm("hidden-file")),
        (".git/config.yaml", &cm("in-git")),
        ("sub/.cache/x.yaml", &cm("in-cache")),
        ("README.md", "# not yaml"),
        ("notes.txt", "kind: nonsense"),
        (
            "app.YAML",
            "kubectl ignores upper-case extensions: not: valid: yaml",
        ),
    ]);
    let set = render(dir.path()).unwrap();
    assert_eq!(ids(&set), ["/ConfigMap//app"]);
}

#[test]
fn scalars_and_keys_are_read_as_kustomize_reads_them() {
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\n  annotations:\n    big: \"12345678901234567890\"\n    n: 1\ndata:\n  quoted-one: \"1\"\n  quoted-on: \"on\"\n  quoted-y: 'y'\nspec:\n  on: yes\n  n: y\n  octal: 010\n  hex: 0x1F\n  float-int: 1.0\n  exp: 1e3\n  big: 18446744073709551615\n  neg: -9223372036854775808\n  when: 2024-01-02\n";
    let dir = tree(&[
        ("cm.yaml", text),
        ("k/kustomization.yaml", "resources: [cm.yaml]\n"),
        ("k/cm.yaml", text),
    ]);
    let set = driftless_render::PlainRenderer::default()
        .render_path(dir.path(), Path::new("cm.yaml"))
        .unwrap();
    let value = set.iter().next().unwrap().as_value();
    assert_eq!(value["spec"]["on"], "yes");
    assert_eq!(value["spec"]["n"], "y");
    assert_eq!(value["spec"]["octal"], 8);
    let kustomized = driftless_render::kustomize::KustomizeRenderer::new()
        .build(dir.path(), Path::new("k"))
        .unwrap();
    assert_eq!(value, &kustomized[0]);
    // And both are what `kubectl kustomize` prints.
    let out = std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(dir.path().join("k"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let oracle =
        driftless_core::yaml::from_str_multi(&String::from_utf8_lossy(&out.stdout)).unwrap();
    assert_eq!(value, &oracle[0]);
}

#[test]
fn json_files_and_streams() {
    let dir = tree(&[(
        "objects.json",
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"n": "1"}, "spec": {"r": 2.0, "f": 2.5}}
        {"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "b"}}]}"#,
    )]);
    let set = render(dir.path()).unwrap();
    assert_eq!(ids(&set), ["/ConfigMap//a", "/Secret//b"]);
    let a = set.iter().next().unwrap().as_value();
    assert_eq!(a["spec"], json!({"r": 2, "f": 2.5}));
}

#[test]
fn a_sub_path_or_a_single_file() {
    let dir = tree(&[
        ("apps/web/a.yaml", &cm("web-a")),
        ("apps/web/b.yaml", &cm("web-b")),
        ("apps/db/a.yaml", &cm("db-a")),
    ]);
    let renderer = driftless_render::PlainRenderer::default();
    let set = renderer
        .render_path(dir.path(), std::path::Path::new("apps/web"))
        .unwrap();
    assert_eq!(ids(&set), ["/ConfigMap//web-a", "/ConfigMap//web-b"]);
    let set = renderer
        .render_path(dir.path(), std::path::Path::new("./apps/db/a.yaml"))
        .unwrap();
    assert_eq!(ids(&set), ["/ConfigMap//db-a"]);
}

#[test]
fn an_empty_directory_renders_nothing() {
    let dir = tree(&[("only/README.md", "nothing here")]);
    assert!(render(dir.path()).unwrap().is_empty());
}

#[cfg(unix)]
#[test]
fn symlinks_inside_the_root_are_followed() {
    use std::os::unix::fs::symlink;
    let dir = tree(&[
        ("shared/base.yaml", &cm("base")),
        ("app/own.yaml", &cm("own")),
    ]);
    symlink(
        dir.path().join("shared/base.yaml"),
        dir.path().join("app/linked.yaml"),
    )
    .unwrap();
    symlink("../shared", dir.path().join("app/shared-dir")).unwrap();
    // A dangling link that is not a manifest is ignored, like any non-manifest file.
    symlink("/nonexistent/driftless", dir.path().join("app/dangling")).unwrap();
    let renderer = driftless_render::PlainRenderer::default();
    let err = renderer
        .render_path(dir.path(), std::path::Path::new("app"))
        .unwrap_err();
    // base.yaml reached twice (the file link and the directory link): a duplicate.
    assert!(
        matches!(err, driftless_render::Error::DuplicateObject { .. }),
        "{err}"
    );
    std::fs::remove_file(dir.path().join("app/shared-dir")).unwrap();
    let set = renderer
        .render_path(dir.path(), std::path::Path::new("app"))
        .unwrap();
    assert_eq!(ids(&set), ["/ConfigMap//base", "/ConfigMap//own"]);
}
