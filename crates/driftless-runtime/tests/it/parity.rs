//! The agent configuration has the CLI's `--ignore`, `--force` and `--namespace`.

use driftless_runtime::config::AgentConfig;
use driftless_runtime::{AgentBuilder, OutcomeKind};
use driftless_testkit::kube::TestNamespace;

use crate::support::{CM, Dirs, live_cm};

fn config(dirs: &Dirs, app: &str) -> AgentConfig {
    let text = format!(
        "apiVersion: driftless.dev/v1alpha1\nkind: AgentConfig\nstateDir: {}\napps:\n{app}",
        dirs.path("state").display()
    );
    AgentConfig::from_yaml(&text).unwrap()
}

#[tokio::test]
async fn ignored_fields_are_left_alone_and_others_corrected() {
    let dirs = Dirs::new();
    let src = dirs.path("src/web");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("cm.yaml"), format!("{CM}  size: small\n")).unwrap();
    let live = dirs.path("live/web");
    let config = config(
        &dirs,
        &format!(
            "- name: web\n  source: {{url: {}}}\n  target: dir:{}\n  ignore: ['ConfigMap/settings=/data/mode']\n",
            src.display(),
            live.display()
        ),
    );
    let agent = AgentBuilder::from_config(&config)
        .await
        .unwrap()
        .build()
        .unwrap();
    let first = agent.reconcile("web", "test").await.unwrap();
    assert_eq!(first.result, OutcomeKind::Succeeded, "{first:?}");
    let edit = |from: &str, to: &str| {
        let text = std::fs::read_to_string(live_cm(&live)).unwrap();
        std::fs::write(live_cm(&live), text.replace(from, to)).unwrap();
    };
    // A change to the ignored field is not drift: nothing is written.
    edit("mode: fast", "mode: scaled");
    let second = agent.reconcile("web", "test").await.unwrap();
    assert_eq!((second.updated, second.unchanged), (0, 1), "{second:?}");
    let now = std::fs::read_to_string(live_cm(&live)).unwrap();
    assert!(
        now.contains("mode: scaled"),
        "an ignored field was put back: {now}"
    );
    // A change to another field is, and is corrected.
    edit("size: small", "size: huge");
    let third = agent.reconcile("web", "test").await.unwrap();
    assert_eq!(third.updated, 1, "{third:?}");
    let now = std::fs::read_to_string(live_cm(&live)).unwrap();
    assert!(
        now.contains("size: small"),
        "a field not ignored stays drifted: {now}"
    );
}

#[tokio::test]
async fn target_namespace_places_objects_that_name_none() {
    let ns = TestNamespace::new("target-ns");
    let dirs = Dirs::new();
    let src = dirs.path("src/web");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n",
    )
    .unwrap();
    let config = config(
        &dirs,
        &format!(
            "- name: web\n  source: {{url: {}}}\n  target: kube\n  targetNamespace: {}\n  force: true\n",
            src.display(),
            ns.name()
        ),
    );
    assert!(config.apps[0].pipeline_options().apply.force);
    let agent = AgentBuilder::from_config(&config)
        .await
        .unwrap()
        .build()
        .unwrap();
    let outcome = agent.reconcile("web", "test").await.unwrap();
    assert_eq!(outcome.result, OutcomeKind::Succeeded, "{outcome:?}");
    let mode = ns.kubectl(&[
        "get",
        "configmap",
        "settings",
        "-o",
        "jsonpath={.data.mode}",
    ]);
    assert_eq!(mode, "fast");
    // Each reconcile that changed something or failed leaves a Kubernetes Event on the
    // ApplySet parent; one that changed nothing leaves none.
    let events = || {
        ns.kubectl(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.kind=Secret,involvedObject.name=applyset-web",
            "-o",
            "jsonpath={range .items[*]}{.type} {.reason} {.message}{\"\\n\"}{end}",
        ])
    };
    let first = events();
    assert_eq!(first.lines().count(), 1, "{first}");
    assert!(
        first.starts_with("Normal ReconciliationSucceeded applied sha256:"),
        "{first}"
    );
    assert!(first.contains("/settings created"), "{first}");
    agent.reconcile("web", "test").await.unwrap();
    assert_eq!(
        events().lines().count(),
        1,
        "a no-op reconcile left an event"
    );
    std::fs::write(
        src.join("cm.yaml"),
        "apiVersion: example.com/v1\nkind: Nope\nmetadata: {name: x}\n",
    )
    .unwrap();
    let failed = agent.reconcile("web", "test").await.unwrap();
    assert_eq!(failed.result, OutcomeKind::Failed);
    let all = events();
    assert!(
        all.lines()
            .any(|l| l.starts_with("Warning ReconciliationFailed") && l.contains("Nope")),
        "{all}"
    );
}
