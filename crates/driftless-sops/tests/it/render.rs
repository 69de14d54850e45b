//! The decryptor as the renderers' decoder: SOPS files read as resources, patches and
//! generator inputs are decrypted in memory; the files on disk stay encrypted.

use std::path::Path;
use std::sync::Arc;

use driftless_core::ObjectId;
use driftless_render::{AutoRenderer, Decoder};

use crate::oracle::Keys;

#[test]
fn resources_patches_and_generator_inputs_are_decrypted() {
    let keys = Keys::new();
    let root = keys.dir.path().join("app");
    std::fs::create_dir_all(&root).unwrap();
    let regex = ["--encrypted-regex", "^(data|stringData|value)$"];
    let encrypt = |name: &str, plain: &str, flags: &[&str]| {
        let path = keys.encrypt(name, plain, flags);
        std::fs::rename(&path, root.join(name)).unwrap();
    };
    encrypt(
        "secret.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: from-resource}\n",
        &regex,
    );
    encrypt(
        "patch.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {extra: from-patch}\n",
        &regex,
    );
    encrypt("app.env", "API_TOKEN=from-dotenv\n", &[]);
    encrypt("settings.ini", "[server]\ntoken = from-ini\n", &[]);
    std::fs::write(
        root.join("kustomization.yaml"),
        "resources: [secret.yaml]\npatches: [{path: patch.yaml}]\n\
         secretGenerator:\n- name: gen\n  envs: [app.env]\n  files: [settings.ini]\n\
         generatorOptions: {disableNameSuffixHash: true}\n",
    )
    .unwrap();
    let before: Vec<Vec<u8>> = ["secret.yaml", "app.env"]
        .iter()
        .map(|f| std::fs::read(root.join(f)).unwrap())
        .collect();

    let decoder: Arc<dyn Decoder> = Arc::new(keys.decryptor());
    let objects = AutoRenderer::default()
        .with_decoder(decoder)
        .render_path(&root, Path::new("."))
        .unwrap();
    let get = |id: &str| {
        objects
            .get(&id.parse::<ObjectId>().unwrap())
            .unwrap()
            .as_value()
            .clone()
    };
    let db = get("/Secret//db");
    assert_eq!(db["stringData"]["password"], "from-resource");
    assert_eq!(db["stringData"]["extra"], "from-patch");
    assert!(db.get("sops").is_none(), "the sops metadata is gone");
    let generated = get("/Secret//gen");
    let decode = |v: &serde_json::Value| {
        use base64::Engine;
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(decode(&generated["data"]["API_TOKEN"]), "from-dotenv");
    assert_eq!(
        decode(&generated["data"]["settings.ini"]),
        "[server]\ntoken = from-ini\n"
    );

    // Nothing was written: the files are still the encrypted ones.
    let after: Vec<Vec<u8>> = ["secret.yaml", "app.env"]
        .iter()
        .map(|f| std::fs::read(root.join(f)).unwrap())
        .collect();
    assert_eq!(before, after);

    // Without the key, the render fails naming the file.
    let other = Keys::new();
    let error = AutoRenderer::default()
        .with_decoder(Arc::new(other.decryptor()))
        .render_path(&root, Path::new("."))
        .unwrap_err();
    let mut chain = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    assert!(chain.contains("secret.yaml"), "{chain}");
    assert!(
        chain.contains("no age identity given can decrypt it"),
        "{chain}"
    );
}
