//! Leader election with a Lease on the real API server of the test run: of two agents
//! only the leader reconciles, and the other takes over when the leader dies.

use std::time::Duration;

use driftless_testkit::kube::TestNamespace;

use crate::support::{Agent, CM, wait_for};

fn write_config(
    dir: &std::path::Path,
    replica: &str,
    port: u16,
    namespace: &str,
) -> std::path::PathBuf {
    let text = format!(
        "apiVersion: driftless.dev/v1alpha1\nkind: AgentConfig\nlisten: 127.0.0.1:{port}\n\
         stateDir: {state}\nleaderElection: {{namespace: {namespace}, name: agent-lock, \
         leaseDuration: 2s, identity: replica-{replica}}}\napps:\n  - name: web\n    \
         source: {{url: {src}}}\n    target: dir:{live}\n    interval: 1h\n",
        state = dir.join(format!("state-{replica}")).display(),
        src = dir.join("src").display(),
        live = dir.join(format!("live-{replica}")).display(),
    );
    let path = dir.join(format!("agent-{replica}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn leading(agent: &Agent) -> bool {
    agent.metric("driftless_leader ") == Some(1.0)
}

#[test]
fn only_the_leader_reconciles_and_another_takes_over() {
    let ns = TestNamespace::new("agent-leader");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/cm.yaml"), CM).unwrap();
    let (port_a, port_b) = (
        driftless_testkit::free_port(),
        driftless_testkit::free_port(),
    );
    let config_a = write_config(dir.path(), "a", port_a, ns.name());
    let config_b = write_config(dir.path(), "b", port_b, ns.name());
    let a = Agent::start(&config_a, port_a);
    wait_for("replica a to lead", Duration::from_secs(20), || {
        leading(&a).then_some(())
    });
    let b = Agent::start(&config_b, port_b);
    a.wait_syncs("web", 1);
    std::thread::sleep(Duration::from_secs(3)); // more than a lease duration
    assert!(leading(&a) && !leading(&b), "exactly one leader");
    assert!(b.history("web").is_empty(), "the follower reconciled");
    assert!(
        !dir.path().join("live-b/web").exists(),
        "the follower applied"
    );
    let holder = ns.kubectl(&[
        "get",
        "lease",
        "agent-lock",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    assert_eq!(holder, "replica-a");

    a.kill9();
    wait_for("replica b to take over", Duration::from_secs(20), || {
        leading(&b).then_some(())
    });
    let history = b.wait_syncs("web", 1);
    assert_eq!(history[0]["result"], "Succeeded");
    assert!(
        dir.path()
            .join("live-b/web/core_ConfigMap/settings.yaml")
            .is_file()
    );
    let holder = ns.kubectl(&[
        "get",
        "lease",
        "agent-lock",
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ]);
    assert_eq!(holder, "replica-b");
    let transitions = ns.kubectl(&[
        "get",
        "lease",
        "agent-lock",
        "-o",
        "jsonpath={.spec.leaseTransitions}",
    ]);
    assert_eq!(transitions, "1");
}
