//! Interoperability with other tools: artifacts in Flux's format made by GNU tar and
//! copied into the registry by skopeo from a hand-written OCI layout; our pushes read
//! back by skopeo and unpacked by GNU tar.

use std::fs;
use std::path::Path;
use std::process::Command;

use driftless_core::Source as _;
use driftless_source_oci::manifest::{
    FLUX_CONFIG_MEDIA_TYPE, FLUX_CONTENT_MEDIA_TYPE, GENERIC_LAYER_MEDIA_TYPES,
    OCI_MANIFEST_MEDIA_TYPE,
};
use driftless_source_oci::{PushOptions, push};
use driftless_testkit::registry::Registry;

use crate::support::{cache, digest, read_tree, source, write_tree};

const SKOPEO_HINT: &str = "install skopeo (apt-get install -y skopeo)";

fn run(program: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Writes an OCI image layout holding one manifest tagged `tag`, whose only layer is
/// `layer`; returns the manifest digest.
fn write_layout(
    layout: &Path,
    tag: &str,
    config_media_type: &str,
    config: &[u8],
    layer_media_type: &str,
    layer: &[u8],
) -> String {
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let d = digest(bytes);
        fs::write(blobs.join(d.trim_start_matches("sha256:")), bytes).unwrap();
        d
    };
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST_MEDIA_TYPE,
        "config": {"mediaType": config_media_type, "digest": put(config), "size": config.len()},
        "layers": [{"mediaType": layer_media_type, "digest": put(layer), "size": layer.len()}],
        "annotations": {
            "org.opencontainers.image.source": "https://github.com/example/manifests",
            "org.opencontainers.image.revision": "main@sha1:0123456789abcdef0123456789abcdef01234567"
        }
    });
    let manifest = serde_json::to_vec_pretty(&manifest).unwrap();
    let manifest_digest = put(&manifest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": OCI_MANIFEST_MEDIA_TYPE,
            "digest": manifest_digest,
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": tag}
        }]
    });
    fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    manifest_digest
}

/// A tar+gzip of `dir` made by GNU tar.
fn gnu_tar_gz(dir: &Path) -> Vec<u8> {
    driftless_testkit::require_program("tar", "install tar (apt-get install -y tar)");
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("layer.tar.gz");
    run(
        "tar",
        &[
            "-czf",
            archive.to_str().unwrap(),
            "-C",
            dir.to_str().unwrap(),
            ".",
        ],
    );
    fs::read(archive).unwrap()
}

fn skopeo_copy_in(registry: &Registry, layout: &Path, tag: &str, repo: &str) {
    driftless_testkit::require_program("skopeo", SKOPEO_HINT);
    let from = format!("oci:{}:{tag}", layout.display());
    let to = format!("docker://{}/{repo}:{tag}", registry.host());
    run(
        "skopeo",
        &[
            "copy",
            "--quiet",
            "--preserve-digests",
            "--dest-tls-verify=false",
            &from,
            &to,
        ],
    );
}

#[tokio::test]
async fn reads_a_flux_artifact_copied_in_by_skopeo() {
    let registry = Registry::start();
    let content = tempfile::tempdir().unwrap();
    write_tree(
        content.path(),
        &[
            ("apps/web.yaml", "kind: Deployment\n"),
            ("infra/ns.yaml", "kind: Namespace\n"),
        ],
    );
    let layer = gnu_tar_gz(content.path());
    let layout = tempfile::tempdir().unwrap();
    let manifest_digest = write_layout(
        layout.path(),
        "v1.0.0",
        FLUX_CONFIG_MEDIA_TYPE,
        b"{}",
        FLUX_CONTENT_MEDIA_TYPE,
        &layer,
    );
    skopeo_copy_in(&registry, layout.path(), "v1.0.0", "flux/manifests");

    let cache = cache();
    let source = source(
        &format!("{}:v1.0.0", registry.url("flux/manifests")),
        cache.path(),
    );
    let revision = source.resolve().await.unwrap();
    assert_eq!(revision.to_string(), format!("v1.0.0@{manifest_digest}"));
    let snapshot = source.fetch(&revision).await.unwrap();
    assert_eq!(read_tree(snapshot.root()), read_tree(content.path()));
}

#[tokio::test]
async fn reads_a_generic_single_layer_artifact() {
    let registry = Registry::start();
    let content = tempfile::tempdir().unwrap();
    write_tree(content.path(), &[("deploy.yaml", "kind: Service\n")]);
    let layer = gnu_tar_gz(content.path());
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let layout = tempfile::tempdir().unwrap();
    write_layout(
        layout.path(),
        "v2",
        "application/vnd.oci.image.config.v1+json",
        config,
        GENERIC_LAYER_MEDIA_TYPES[0],
        &layer,
    );
    skopeo_copy_in(&registry, layout.path(), "v2", "generic");

    let cache = cache();
    let source = source(&format!("{}:v2", registry.url("generic")), cache.path());
    let revision = source.resolve().await.unwrap();
    let snapshot = source.fetch(&revision).await.unwrap();
    assert_eq!(read_tree(snapshot.root()), read_tree(content.path()));
}

#[tokio::test]
async fn our_artifacts_read_back_with_skopeo_and_gnu_tar() {
    driftless_testkit::require_program("skopeo", SKOPEO_HINT);
    let registry = Registry::start();
    let content = tempfile::tempdir().unwrap();
    write_tree(
        content.path(),
        &[("a.yaml", "a: 1\n"), ("deep/er/b.yaml", "b: 2\n")],
    );
    let pushed = push(
        content.path(),
        &format!("{}:v1", registry.url("ours")),
        &PushOptions::default()
            .use_git(false)
            .source("https://github.com/example/ours")
            .revision("main@sha1:0123456789abcdef0123456789abcdef01234567"),
    )
    .await
    .unwrap();

    let remote = format!("docker://{}/ours:v1", registry.host());
    let raw = run(
        "skopeo",
        &["inspect", "--raw", "--tls-verify=false", &remote],
    );
    assert_eq!(
        digest(&raw),
        pushed.revision.digest(),
        "skopeo sees the digest we computed"
    );
    let manifest: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(manifest["mediaType"], OCI_MANIFEST_MEDIA_TYPE);
    assert_eq!(manifest["config"]["mediaType"], FLUX_CONFIG_MEDIA_TYPE);
    assert_eq!(manifest["layers"][0]["mediaType"], FLUX_CONTENT_MEDIA_TYPE);
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.source"],
        "https://github.com/example/ours"
    );

    let layout = tempfile::tempdir().unwrap();
    let to = format!("oci:{}:v1", layout.path().display());
    run(
        "skopeo",
        &["copy", "--quiet", "--src-tls-verify=false", &remote, &to],
    );
    let layer = layout
        .path()
        .join("blobs/sha256")
        .join(pushed.layer_digest.trim_start_matches("sha256:"));
    let out = tempfile::tempdir().unwrap();
    run(
        "tar",
        &[
            "-xzf",
            layer.to_str().unwrap(),
            "-C",
            out.path().to_str().unwrap(),
        ],
    );
    assert_eq!(read_tree(out.path()), read_tree(content.path()));
    let listing = Command::new("tar")
        .args(["-tvzf", layer.to_str().unwrap()])
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(listing.status.success());
    let listing = String::from_utf8(listing.stdout).unwrap();
    for line in listing.lines() {
        assert!(line.contains(" 0/0 "), "owner 0/0: {line}");
        assert!(line.contains("1970-01-01"), "fixed mtime: {line}");
    }
}
