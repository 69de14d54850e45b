//! The auto renderer: plain directories render plainly, Kustomize overlays with Kustomize.

use std::path::Path;

use driftless_core::{RenderError, Renderer, Snapshot};
use driftless_render::{AutoRenderer, Error, KUSTOMIZATION_FILES, kustomization_file};

use crate::{cm, ids, tree};

fn snapshot(dir: &Path) -> Snapshot {
    Snapshot::new(
        dir,
        "main@sha1:0123456789abcdef0123456789abcdef01234567"
            .parse()
            .unwrap(),
    )
}

#[test]
fn kustomization_directories_are_built_with_kustomize() {
    for name in KUSTOMIZATION_FILES {
        let dir = tree(&[
            ("overlays/prod/deploy.yaml", &cm("x")),
            (
                &format!("overlays/prod/{name}"),
                "resources: [deploy.yaml]\nnamePrefix: prod-\n",
            ),
        ]);
        let renderer: Box<dyn Renderer> = Box::new(AutoRenderer::default());
        let set = renderer
            .render(&snapshot(dir.path()), Path::new("overlays/prod"))
            .unwrap();
        assert_eq!(ids(&set), ["/ConfigMap//prod-x"]);
        assert_eq!(
            kustomization_file(&dir.path().join("overlays/prod")),
            Some(name)
        );
    }
    // A broken overlay is an error naming its kustomization file.
    let dir = tree(&[("kustomization.yaml", "resources: [missing.yaml]\n")]);
    let err = AutoRenderer::default()
        .render_path(dir.path(), Path::new("."))
        .unwrap_err();
    assert!(matches!(err, Error::Kustomize(_)), "{err:?}");
    assert!(err.to_string().starts_with("kustomization.yaml:"), "{err}");
}

#[test]
fn plain_directories_render() {
    let dir = tree(&[
        ("base/a.yaml", &cm("a")),
        ("base/sub/b.yaml", &cm("b")),
        // Only the directory being rendered decides; a nested kustomization.yaml is
        // not looked for (and a directory named like one is not a file).
        ("base/kustomization.yml/c.yaml", &cm("c")),
    ]);
    let set = AutoRenderer::default()
        .render(&snapshot(dir.path()), Path::new("base"))
        .unwrap();
    assert_eq!(
        ids(&set),
        ["/ConfigMap//a", "/ConfigMap//c", "/ConfigMap//b"]
    );
}

#[test]
fn errors_convert_into_render_errors() {
    let dir = tree(&[("a.yaml", "a: [")]);
    let err: RenderError = AutoRenderer::default()
        .render(&snapshot(dir.path()), Path::new("."))
        .unwrap_err();
    assert!(matches!(
        err.downcast_ref::<Error>(),
        Some(Error::Syntax { .. })
    ));
    let source = std::error::Error::source(&err);
    assert!(source.is_some(), "the cause chain is kept");
}
