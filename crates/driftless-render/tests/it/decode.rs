//! The [`Decoder`] hook: every file read as a resource, a patch or a generator input
//! goes through it, in both renderers.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use driftless_core::Snapshot;
use driftless_render::{Decoder, Error, RenderMode};
use serde_json::json;

use crate::{chain, tree};

/// Decodes files whose name holds `.enc.`: their bytes are stored reversed. Records
/// every path it is given; a file holding `broken` fails to decode.
#[derive(Debug, Default)]
struct Reverse {
    seen: Mutex<Vec<PathBuf>>,
}

#[derive(Debug, thiserror::Error)]
#[error("bad ciphertext")]
struct BadCiphertext;

impl Decoder for Reverse {
    fn decode(
        &self,
        path: &Path,
        mut bytes: Vec<u8>,
    ) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
        self.seen.lock().unwrap().push(path.to_path_buf());
        if bytes.windows(6).any(|w| w == b"broken") {
            return Err(Box::new(BadCiphertext));
        }
        if path.to_string_lossy().contains(".enc.") {
            bytes.reverse();
        }
        Ok(bytes)
    }
}

fn reversed(text: &str) -> String {
    text.chars().rev().collect()
}

fn seen_names(decoder: &Reverse) -> Vec<String> {
    let mut names: Vec<String> = decoder
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn kustomize_decodes_resources_patches_and_generator_inputs() {
    let dir = tree(&[
        (
            "kustomization.yaml",
            "resources: [deploy.enc.yaml]\n\
             patches:\n- path: sm.enc.yaml\n- path: ops.enc.yaml\n  target: {kind: Deployment}\n\
             configMapGenerator:\n- name: cfg\n  files: [app.enc.conf]\n  envs: [vars.enc.env]\n",
        ),
        (
            "deploy.enc.yaml",
            &reversed(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 1}\n",
            ),
        ),
        (
            "sm.enc.yaml",
            &reversed(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {paused: true}\n",
            ),
        ),
        (
            "ops.enc.yaml",
            &reversed("- {op: replace, path: /spec/replicas, value: 3}\n"),
        ),
        ("app.enc.conf", &reversed("level=debug")),
        ("vars.enc.env", &reversed("COLOR=blue\n")),
    ]);
    let decoder = Arc::new(Reverse::default());
    let renderer = RenderMode::Kustomize.renderer(Some(decoder.clone()));
    let snapshot = Snapshot::new(dir.path(), "sha256:00".parse().unwrap());
    let set = renderer.render(&snapshot, Path::new(".")).unwrap();
    let objects: Vec<_> = set.iter().map(|o| o.as_value().clone()).collect();
    assert_eq!(objects[0]["data"]["app.enc.conf"], json!("level=debug"));
    assert_eq!(objects[0]["data"]["COLOR"], json!("blue"));
    assert_eq!(objects[1]["spec"], json!({"replicas": 3, "paused": true}));
    assert_eq!(
        seen_names(&decoder),
        [
            "app.enc.conf",
            "deploy.enc.yaml",
            "ops.enc.yaml",
            "sm.enc.yaml",
            "vars.enc.env"
        ]
    );
}

#[test]
fn plain_and_auto_decode_every_manifest() {
    let dir = tree(&[
        (
            "a.enc.yaml",
            &reversed("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"),
        ),
        (
            "b.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
        ),
    ]);
    let snapshot = Snapshot::new(dir.path(), "sha256:00".parse().unwrap());
    for mode in [RenderMode::Plain, RenderMode::Auto] {
        let decoder = Arc::new(Reverse::default());
        let set = mode
            .renderer(Some(decoder.clone()))
            .render(&snapshot, Path::new("."))
            .unwrap();
        assert_eq!(crate::ids(&set), ["/ConfigMap//a", "/ConfigMap//b"]);
        assert_eq!(seen_names(&decoder), ["a.enc.yaml", "b.yaml"], "{mode}");
    }
}

#[test]
fn a_decode_failure_names_the_file_and_keeps_the_cause() {
    let dir = tree(&[("x/secret.yaml", "broken")]);
    let plain = driftless_render::PlainRenderer::default()
        .with_decoder(Arc::new(Reverse::default()))
        .render_path(dir.path(), Path::new("."))
        .unwrap_err();
    assert!(matches!(plain, Error::Decode { .. }), "{plain:?}");
    assert_eq!(
        chain(&plain),
        "x/secret.yaml: cannot decode: bad ciphertext"
    );

    let dir = tree(&[
        ("kustomization.yaml", "resources: [secret.yaml]\n"),
        ("secret.yaml", "broken"),
    ]);
    let err = driftless_render::kustomize::KustomizeRenderer::new()
        .with_decoder(Arc::new(Reverse::default()))
        .build(dir.path(), Path::new("."))
        .unwrap_err();
    assert!(
        matches!(err, driftless_render::kustomize::Error::Decode { .. }),
        "{err:?}"
    );
    assert_eq!(chain(&err), "secret.yaml: cannot decode: bad ciphertext");
}
