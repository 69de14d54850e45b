use std::path::Path;

use crate::{driftless, stderr, stdout};

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap();
}

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: 2\n";
const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  ports:\n  - port: 80\n";

/// A source dir with a deployment and a service, and an empty live dir.
fn setup() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("repo")).unwrap();
    write(&dir.path().join("repo"), "deployment.yaml", DEPLOYMENT);
    write(&dir.path().join("repo"), "service.yaml", SERVICE);
    (dir, "dir:live".to_owned())
}

#[test]
fn diff_exit_codes_follow_drift() {
    let (dir, target) = setup();
    let diff = |extra: &[&str]| {
        let mut args = vec!["diff", "repo", "--target", &target, "--color", "never"];
        args.extend_from_slice(extra);
        driftless(dir.path(), &args)
    };
    let out = diff(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("+ create apps/Deployment/shop/web"),
        "{}",
        stdout(&out)
    );

    let out = driftless(dir.path(), &["apply", "repo", "--target", &target]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = diff(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // A hand edit of the live file is drift: diff shows it, apply puts it back.
    let file = dir.path().join("live/shop/apps_Deployment/web.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("replicas: 2", "replicas: 7")).unwrap();
    let out = diff(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["summary"]["update"], 1, "{json}");
    let out = driftless(dir.path(), &["apply", "repo", "--target", &target]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("replicas: 2")
    );
}

#[test]
fn dry_run_writes_nothing() {
    let (dir, target) = setup();
    let out = driftless(
        dir.path(),
        &["apply", "repo", "--target", &target, "--dry-run"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("would be created"),
        "{}",
        stdout(&out)
    );
    let live = dir.path().join("live");
    let entries = std::fs::read_dir(&live).map_or(0, Iterator::count);
    assert_eq!(entries, 0, "dry run wrote into {}", live.display());
}

#[test]
fn prune_removes_only_what_was_applied() {
    let (dir, target) = setup();
    assert!(
        driftless(dir.path(), &["apply", "repo", "--target", &target])
            .status
            .success()
    );
    let foreign = dir.path().join("live/shop/core_Service/foreign.yaml");
    std::fs::write(&foreign, SERVICE.replace("name: web", "name: foreign")).unwrap();
    std::fs::remove_file(dir.path().join("repo/service.yaml")).unwrap();

    // Without --prune the service stays.
    let out = driftless(dir.path(), &["apply", "repo", "--target", &target]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("live/shop/core_Service/web.yaml").exists());

    let out = driftless(
        dir.path(),
        &[
            "apply", "repo", "--target", &target, "--prune", "-o", "json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["applied"]["pruned"],
        serde_json::json!(["/Service/shop/web"])
    );
    assert!(!dir.path().join("live/shop/core_Service/web.yaml").exists());
    assert!(
        foreign.exists(),
        "a file driftless did not write was pruned"
    );
}

#[test]
fn empty_render_does_not_prune_everything() {
    let (dir, target) = setup();
    assert!(
        driftless(dir.path(), &["apply", "repo", "--target", &target])
            .status
            .success()
    );
    std::fs::remove_file(dir.path().join("repo/service.yaml")).unwrap();
    std::fs::remove_file(dir.path().join("repo/deployment.yaml")).unwrap();
    let out = driftless(
        dir.path(),
        &["apply", "repo", "--target", &target, "--prune"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("rendered no objects"),
        "{}",
        stderr(&out)
    );
    assert!(dir.path().join("live/shop/core_Service/web.yaml").exists());
    let out = driftless(
        dir.path(),
        &[
            "apply",
            "repo",
            "--target",
            &target,
            "--prune",
            "--allow-empty",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!dir.path().join("live/shop/core_Service/web.yaml").exists());
}

#[test]
fn unknown_target_is_explained() {
    let (dir, _) = setup();
    let out = driftless(dir.path(), &["diff", "repo", "--target", "cluster"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("use dir:PATH, kube or kube:CONTEXT"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn ignored_fields_are_not_drift() {
    let (dir, target) = setup();
    assert!(
        driftless(dir.path(), &["apply", "repo", "--target", &target])
            .status
            .success()
    );
    let file = dir.path().join("live/shop/apps_Deployment/web.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("replicas: 2", "replicas: 7")).unwrap();

    let diff = |ignore: &str| {
        driftless(
            dir.path(),
            &["diff", "repo", "--target", &target, "--ignore", ignore],
        )
    };
    assert_eq!(diff("Deployment/web=/spec/replicas").status.code(), Some(0));
    assert_eq!(diff("/spec/replicas").status.code(), Some(0));
    assert_eq!(diff("Service=/spec/replicas").status.code(), Some(1));
    let out = diff("spec/replicas");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid --ignore"),
        "{}",
        stderr(&out)
    );
}
