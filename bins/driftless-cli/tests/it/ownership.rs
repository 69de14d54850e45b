//! Apps sharing a directory target: inventory names, adoption, and `delete`.

use std::path::Path;

use crate::{driftless, stderr, stdout};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn config_map(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: web\ndata:\n  value: \"{value}\"\n"
    )
}

/// `driftless ARGS`, which must succeed; its JSON report.
fn run_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut args = args.to_vec();
    args.extend(["-o", "json"]);
    let out = driftless(dir, &args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn pruned(report: &serde_json::Value) -> usize {
    report["applied"]["pruned"].as_array().unwrap().len()
}

#[test]
fn two_overlays_named_prod_share_a_directory_without_cross_prunes() {
    let work = tempfile::tempdir().unwrap();
    // Two teams' overlays, both folders called `prod`, applied with no --name.
    write(
        &work.path().join("team-a/prod/cm.yaml"),
        &config_map("a", "1"),
    );
    write(
        &work.path().join("team-b/prod/cm.yaml"),
        &config_map("b", "1"),
    );
    let apply = |source: &str| {
        run_json(
            work.path(),
            &["apply", source, "--target", "dir:live", "--prune"],
        )
    };
    let mut cross_prunes = 0;
    for _ in 0..3 {
        cross_prunes += pruned(&apply("team-a/prod")) + pruned(&apply("team-b/prod"));
    }
    assert_eq!(cross_prunes, 0);
    assert!(work.path().join("live/web/core_ConfigMap/a.yaml").is_file());
    assert!(work.path().join("live/web/core_ConfigMap/b.yaml").is_file());
    let names: Vec<String> = std::fs::read_dir(work.path().join("live/.driftless/inventories"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("prod-")), "{names:?}");

    // The same folder reached another way is the same app.
    let out = driftless(
        work.path(),
        &[
            "apply", "team-a", "--path", "prod", "--target", "dir:live", "--prune",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("0 created"), "{}", stdout(&out));
}

#[test]
fn an_object_of_another_app_is_refused_unless_adopted() {
    let work = tempfile::tempdir().unwrap();
    write(&work.path().join("a/cm.yaml"), &config_map("shared", "1"));
    write(&work.path().join("b/cm.yaml"), &config_map("shared", "2"));
    let apply = |source: &str, name: &str, extra: &[&str]| {
        let mut args = vec![
            "apply", source, "--target", "dir:live", "--name", name, "--prune",
        ];
        args.extend_from_slice(extra);
        driftless(work.path(), &args)
    };
    assert!(apply("a", "app-a", &[]).status.success());

    for extra in [&[][..], &["--dry-run"][..]] {
        let out = apply("b", "app-b", extra);
        assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
        let message = stderr(&out);
        for part in ["\"app-a\"", "\"app-b\"", "/ConfigMap/web/shared", "--adopt"] {
            assert!(message.contains(part), "{part} in {message}");
        }
    }
    let live = work.path().join("live/web/core_ConfigMap/shared.yaml");
    assert!(std::fs::read_to_string(&live).unwrap().contains("\"1\""));

    let out = apply("b", "app-b", &["--adopt"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&live).unwrap().contains("\"2\""));
    // `a` gave it up: it no longer prunes it, nor claims it back without --adopt.
    std::fs::remove_file(work.path().join("a/cm.yaml")).unwrap();
    write(&work.path().join("a/other.yaml"), &config_map("other", "1"));
    let report = run_json(
        work.path(),
        &[
            "apply", "a", "--target", "dir:live", "--name", "app-a", "--prune",
        ],
    );
    assert_eq!(pruned(&report), 0);
    assert!(live.is_file());
}

#[test]
fn delete_uninstalls_one_app_and_leaves_the_others() {
    let work = tempfile::tempdir().unwrap();
    write(&work.path().join("web/cm.yaml"), &config_map("web", "1"));
    let kept = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n  namespace: web\n  annotations:\n    driftless.dev/prune: disabled\n";
    write(&work.path().join("web/kept.yaml"), kept);
    write(&work.path().join("db/cm.yaml"), &config_map("db", "1"));
    for source in ["web", "db"] {
        let out = driftless(work.path(), &["apply", source, "--target", "dir:live"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let live = work.path().join("live/web/core_ConfigMap");

    // A dry run deletes nothing.
    let out = driftless(
        work.path(),
        &["delete", "web", "--target", "dir:live", "--dry-run"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("/ConfigMap/web/web would be deleted"),
        "{}",
        stdout(&out)
    );
    assert!(live.join("web.yaml").is_file());

    let out = driftless(work.path(), &["delete", "web", "--target", "dir:live"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("/ConfigMap/web/web deleted"), "{text}");
    assert!(text.contains("/ConfigMap/web/kept kept"), "{text}");
    assert!(!live.join("web.yaml").exists());
    assert!(live.join("kept.yaml").is_file());
    assert!(live.join("db.yaml").is_file());
    let inventories: Vec<String> =
        std::fs::read_dir(work.path().join("live/.driftless/inventories"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
    assert_eq!(inventories.len(), 1, "{inventories:?}");
    assert!(inventories[0].starts_with("db-"), "{inventories:?}");

    // By name, as JSON; deleting again finds nothing.
    let db_name = inventories[0].trim_end_matches(".json").to_owned();
    let report = run_json(
        work.path(),
        &["delete", "--name", &db_name, "--target", "dir:live"],
    );
    assert_eq!(report["pruned"], serde_json::json!(["/ConfigMap/web/db"]));
    let report = run_json(
        work.path(),
        &["delete", "--name", &db_name, "--target", "dir:live"],
    );
    assert_eq!(report["pruned"], serde_json::json!([]));

    let out = driftless(work.path(), &["delete", "--target", "dir:live"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--name"), "{}", stderr(&out));
}

#[test]
fn objects_without_a_namespace_land_in_the_default_one() {
    let work = tempfile::tempdir().unwrap();
    write(
        &work.path().join("app/all.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\n---\n\
         apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n",
    );
    let out = driftless(work.path(), &["apply", "app", "--target", "dir:live"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let live = work.path().join("live");
    assert!(live.join("default/core_ConfigMap/settings.yaml").is_file());
    assert!(
        live.join("_cluster/rbac.authorization.k8s.io_ClusterRole/reader.yaml")
            .is_file()
    );
    assert!(live.join("_cluster/core_Namespace/team.yaml").is_file());

    // With -n, in that namespace; the old place is pruned.
    let out = driftless(
        work.path(),
        &[
            "apply", "app", "--target", "dir:live", "-n", "team", "--prune",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(live.join("team/core_ConfigMap/settings.yaml").is_file());
    assert!(!live.join("default").exists());

    // A kubeconfig is for kube targets.
    let out = driftless(
        work.path(),
        &["apply", "app", "--target", "dir:live", "--context", "prod"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("kube targets"), "{}", stderr(&out));
}

#[test]
fn diff_and_dry_run_never_create_the_target_directory() {
    let work = tempfile::tempdir().unwrap();
    write(&work.path().join("app/cm.yaml"), &config_map("a", "1"));
    let out = driftless(work.path(), &["diff", "app", "--target", "dir:live/nested"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = driftless(
        work.path(),
        &[
            "apply",
            "app",
            "--target",
            "dir:live/nested",
            "--dry-run",
            "--prune",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = driftless(
        work.path(),
        &["delete", "app", "--target", "dir:live/nested", "--dry-run"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!work.path().join("live").exists());
}

#[test]
fn two_configured_apps_on_one_directory_never_prune_each_other() {
    let work = tempfile::tempdir().unwrap();
    write(&work.path().join("web/cm.yaml"), &config_map("web", "1"));
    write(&work.path().join("db/cm.yaml"), &config_map("db", "1"));
    write(
        &work.path().join("agent.yaml"),
        "apiVersion: driftless.dev/v1alpha1\nkind: AgentConfig\nstateDir: state\napps:\n\
         - name: web\n  source: {url: web}\n  target: dir:live\n  prune: true\n\
         - name: db\n  source: {url: db}\n  target: dir:live\n  prune: true\n",
    );
    let mut pruned = 0;
    for _ in 0..5 {
        let out = driftless(
            work.path(),
            &["sync", "--config", "agent.yaml", "-o", "json"],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let results: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for result in results.as_array().unwrap() {
            assert_eq!(result["result"], "Succeeded", "{result}");
            pruned += result["pruned"].as_u64().unwrap();
        }
    }
    assert_eq!(pruned, 0, "cross prunes");
    let live = work.path().join("live");
    assert!(live.join("web/core_ConfigMap/web.yaml").is_file());
    assert!(live.join("web/core_ConfigMap/db.yaml").is_file());
    assert!(live.join(".driftless/inventories/web.json").is_file());
    assert!(live.join(".driftless/inventories/db.json").is_file());
}
