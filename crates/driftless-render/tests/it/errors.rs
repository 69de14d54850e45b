//! Errors name what to fix: file, line, column, document, both places.

use std::fmt::Write as _;
use std::path::Path;

use driftless_core::yaml::YamlErrorKind;
use driftless_render::{Error, PlainOptions, PlainRenderer};

use crate::{chain, cm, render, tree};

#[test]
fn syntax_errors_name_file_line_and_column() {
    let text = format!(
        "{}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [broken\n",
        cm("ok")
    );
    let dir = tree(&[("deploy/app.yaml", &text)]);
    let err = render(dir.path()).unwrap_err();
    let Error::Syntax {
        path,
        line,
        column,
        document,
        ..
    } = &err
    else {
        panic!("expected a syntax error, got {err}");
    };
    assert_eq!(path, Path::new("deploy/app.yaml"));
    assert_eq!(*document, Some(2));
    let (line, column) = (line.unwrap(), column.unwrap());
    assert!((9..=10).contains(&line), "line {line}");
    let message = chain(&err);
    assert!(
        message.starts_with(&format!("deploy/app.yaml:{line}:{column}: invalid YAML in document 2: line {line}, column {column}: ")),
        "{message}"
    );
}

#[test]
fn duplicate_keys_name_both_lines() {
    let dir = tree(&[(
        "a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  k: a\n  k: b\n",
    )]);
    let err = render(dir.path()).unwrap_err();
    assert_eq!(
        chain(&err),
        "a.yaml:7:3: invalid YAML in document 1: line 7, column 3: duplicate key \"k\" (first at line 6, column 3)"
    );
}

#[test]
fn missing_fields_name_the_document() {
    let text = format!(
        "{}---\n# second is empty\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  namespace: x\n",
        cm("ok")
    );
    let dir = tree(&[("cfg/app.yaml", &text)]);
    let err = render(dir.path()).unwrap_err();
    assert_eq!(
        chain(&err),
        "cfg/app.yaml document 3 (line 8): not a valid object: metadata.name is missing"
    );
    let Error::InvalidObject { place, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!((place.document, place.line, place.item), (3, Some(8), None));

    for (doc, field) in [
        (
            "kind: ConfigMap\nmetadata: {name: a}\n",
            "apiVersion is missing",
        ),
        ("apiVersion: v1\nmetadata: {name: a}\n", "kind is missing"),
        (
            "apiVersion: v1\nkind: X\nmetadata: {name: \"\"}\n",
            "metadata.name must not be empty",
        ),
        (
            "- just\n- a list\n",
            "document must be a mapping with apiVersion, kind and metadata, not a sequence",
        ),
        ("just text\n", "not a string"),
        (
            "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod}\n",
            "metadata.name is missing",
        ),
    ] {
        let dir = tree(&[("x.yaml", doc)]);
        let err = render(dir.path()).unwrap_err();
        let text = chain(&err);
        assert!(text.starts_with("x.yaml document 1 (line 1)"), "{text}");
        assert!(text.ends_with(field), "{text}");
    }
    let dir = tree(&[(
        "x.yaml",
        "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}}\n- {apiVersion: v1, kind: Pod}\n",
    )]);
    assert_eq!(
        chain(&render(dir.path()).unwrap_err()),
        "x.yaml document 1 (line 1) item 1: not a valid object: metadata.name is missing"
    );
}

#[test]
fn duplicate_objects_name_both_places() {
    let dir = tree(&[
        ("a.yaml", &format!("{}---\n{}", cm("one"), cm("dup"))),
        ("b/c.yaml", &format!("\n\n{}", cm("dup"))),
    ]);
    let err = render(dir.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "duplicate object /ConfigMap//dup: defined in a.yaml document 2 (line 6) and again in b/c.yaml document 1 (line 3)"
    );
    // Namespaces and groups make different objects.
    let dir = tree(&[
        ("a.yaml", &cm("same")),
        (
            "b.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: same, namespace: other}\n",
        ),
        (
            "c.yaml",
            "apiVersion: example.com/v1\nkind: ConfigMap\nmetadata: {name: same}\n",
        ),
    ]);
    assert_eq!(render(dir.path()).unwrap().len(), 3);
}

#[cfg(unix)]
#[test]
fn symlinks_leaving_the_root_are_refused() {
    use std::os::unix::fs::symlink;
    let outside = tree(&[("secret.yaml", &cm("secret")), ("dir/x.yaml", &cm("x"))]);
    // A linked file.
    let dir = tree(&[("app.yaml", &cm("app"))]);
    symlink(
        outside.path().join("secret.yaml"),
        dir.path().join("leak.yaml"),
    )
    .unwrap();
    let err = render(dir.path()).unwrap_err();
    assert!(matches!(err, Error::SymlinkEscapesRoot { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("leak.yaml: symlink points outside the snapshot root (to "),
        "{err}"
    );
    // A linked directory.
    let dir = tree(&[("app.yaml", &cm("app"))]);
    symlink(outside.path().join("dir"), dir.path().join("more")).unwrap();
    let err = render(dir.path()).unwrap_err();
    assert!(
        err.to_string().starts_with("more: symlink points outside"),
        "{err}"
    );
    // The path to render itself.
    let dir = tree(&[("app.yaml", &cm("app"))]);
    symlink(outside.path(), dir.path().join("elsewhere")).unwrap();
    let err = PlainRenderer::default()
        .render_path(dir.path(), Path::new("elsewhere"))
        .unwrap_err();
    assert!(matches!(err, Error::SymlinkEscapesRoot { .. }), "{err}");
    // A relative link climbing out.
    let dir = tree(&[("deep/app.yaml", &cm("app"))]);
    symlink(
        "../../../../../../../../etc/hostname",
        dir.path().join("deep/host.yaml"),
    )
    .unwrap();
    assert!(render(dir.path()).is_err());
}

#[test]
fn paths_climbing_out_are_refused() {
    let dir = tree(&[("a/app.yaml", &cm("app"))]);
    for bad in ["..", "a/../../x", "/etc"] {
        let err = PlainRenderer::default()
            .render_path(&dir.path().join("a"), Path::new(bad))
            .unwrap_err();
        assert!(matches!(err, Error::PathEscapesRoot { .. }), "{bad}: {err}");
        assert!(
            err.to_string().contains("must stay inside the snapshot"),
            "{err}"
        );
    }
    let err = PlainRenderer::default()
        .render_path(dir.path(), Path::new("nope"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "nope: no such file or directory in the snapshot"
    );
}

#[test]
fn documents_and_files_over_the_limit_are_refused() {
    let big = format!("{}data:\n  blob: \"{}\"\n", cm("big"), "x".repeat(4096));
    let dir = tree(&[
        ("small.yaml", &cm("small")),
        ("z/big.yaml", &format!("{}---\n{big}", cm("first"))),
    ]);
    let renderer = PlainRenderer::new(PlainOptions::default().max_document_bytes(1024));
    let err = renderer
        .render_path(dir.path(), Path::new("."))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "z/big.yaml: document 2 is larger than the limit of 1024 bytes"
    );
    let renderer = PlainRenderer::new(PlainOptions::default().max_file_bytes(2048));
    let err = renderer
        .render_path(dir.path(), Path::new("."))
        .unwrap_err();
    assert!(
        matches!(err, Error::FileTooLarge { limit: 2048, .. }),
        "{err}"
    );
    assert!(
        err.to_string().starts_with("z/big.yaml: the file is "),
        "{err}"
    );
    // JSON documents too.
    let json = format!(
        r#"{{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "j"}}, "data": {{"b": "{}"}}}}"#,
        "x".repeat(2000)
    );
    let dir = tree(&[("j.json", &json)]);
    let renderer = PlainRenderer::new(PlainOptions::default().max_document_bytes(1024));
    let err = renderer
        .render_path(dir.path(), Path::new("."))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "j.json: document 1 is larger than the limit of 1024 bytes"
    );
}

#[test]
fn alias_bombs_are_refused_quickly() {
    let mut text = cm("bomb");
    text.push_str("data:\n  a0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n");
    for i in 1..10 {
        let p = i - 1;
        writeln!(
            text,
            "  a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]"
        )
        .unwrap();
    }
    let dir = tree(&[("bomb.yaml", &text)]);
    let started = std::time::Instant::now();
    let err = render(dir.path()).unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let Error::AliasBudget {
        document,
        limit,
        source,
        ..
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!((*document, *limit), (Some(1), 1_000_000));
    assert_eq!(
        source.kind(),
        YamlErrorKind::AliasBudget { limit: 1_000_000 }
    );
    let message = chain(&err);
    assert!(
        message.starts_with(
            "bomb.yaml document 1: aliases expand beyond the budget of 1000000 nodes: line "
        ),
        "{message}"
    );
    assert!(message.contains("alias bomb"), "{message}");
    // A smaller budget is honoured; ordinary aliases within it are fine.
    let dir = tree(&[(
        "ok.yaml",
        &format!("{}data: &d {{a: b}}\nbinaryData: *d\n", cm("ok")),
    )]);
    let renderer = PlainRenderer::new(PlainOptions::default().max_alias_nodes(3));
    assert_eq!(
        renderer
            .render_path(dir.path(), Path::new("."))
            .unwrap()
            .len(),
        1
    );
    let renderer = PlainRenderer::new(PlainOptions::default().max_alias_nodes(2));
    assert!(matches!(
        renderer
            .render_path(dir.path(), Path::new("."))
            .unwrap_err(),
        Error::AliasBudget { limit: 2, .. }
    ));
}

#[test]
fn values_json_cannot_hold_are_refused() {
    let dir = tree(&[("f.yaml", &format!("{}data:\n  ratio: .inf\n", cm("f")))]);
    let message = chain(&render(dir.path()).unwrap_err());
    assert!(message.starts_with("f.yaml:6:10: invalid YAML in document 1: line 6, column 10: .inf cannot be represented in JSON"), "{message}");
}

#[test]
fn invalid_json_and_text() {
    let dir = tree(&[("bad.json", "{\"apiVersion\": \"v1\",\n  \"kind\": }")]);
    let err = render(dir.path()).unwrap_err();
    assert!(
        err.to_string().starts_with("bad.json:2:11: invalid JSON"),
        "{err}"
    );
    let dir = tree(&[]);
    std::fs::write(dir.path().join("latin1.yaml"), b"a: \xe9t\xe9\n").unwrap();
    assert_eq!(
        render(dir.path()).unwrap_err().to_string(),
        "latin1.yaml: not UTF-8 text"
    );
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn special_files_are_refused_without_blocking() {
    let dir = tree(&[(
        "kustomization.yaml",
        "configMapGenerator:\n- name: cfg\n  files: [pipe.conf]\n",
    )]);
    mkfifo(&dir.path().join("pipe.conf"));
    let err = driftless_render::kustomize::KustomizeRenderer::new()
        .build(dir.path(), Path::new("."))
        .unwrap_err();
    assert_eq!(
        chain(&err),
        "pipe.conf: cannot read: not a regular file but a FIFO; only regular files are read"
    );

    let dir = tree(&[("a.yaml", &cm("a"))]);
    mkfifo(&dir.path().join("b.yaml"));
    let err = render(dir.path()).unwrap_err();
    assert!(matches!(err, Error::NotAFile { kind: "FIFO", .. }), "{err}");
    assert!(err.to_string().starts_with("b.yaml: "), "{err}");
}

#[test]
fn a_huge_sparse_file_is_refused_without_being_read() {
    let dir = tree(&[("kustomization.yaml", "resources: [huge.yaml]\n")]);
    std::fs::File::create(dir.path().join("huge.yaml"))
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    let err = driftless_render::kustomize::KustomizeRenderer::new()
        .build(dir.path(), Path::new("."))
        .unwrap_err();
    assert_eq!(
        chain(&err),
        "huge.yaml: cannot read: the file is 2147483648 bytes, larger than the limit of 67108864 bytes"
    );
    let err = render(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::FileTooLarge {
                size: 2_147_483_648,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_helm_chart_is_refused_as_such() {
    let dir = tree(&[
        (
            "app/Chart.yaml",
            "apiVersion: v2\nname: app\nversion: 1.0.0\n",
        ),
        ("app/templates/cm.yaml", "{{ .Values.x }}\n"),
    ]);
    let err = render(dir.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "app/Chart.yaml: Helm chart inflation is not supported; render the chart into manifests in the repository"
    );
}
