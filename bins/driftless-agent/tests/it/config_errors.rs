//! An invalid configuration stops the agent before it starts: exit code 2 and a
//! message naming the field.

use crate::support::{Workspace, agent_command};

fn run(ws: &Workspace, apps: &str) -> (Option<i32>, String) {
    let config = ws.config(apps);
    let out = agent_command(&config).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn invalid_configurations_exit_2_naming_the_field() {
    let ws = Workspace::new();
    let cases = [
        (
            format!(
                "{}{}",
                ws.app("a", ""),
                ws.app("b", "    interval: 10 minutes please\n")
            ),
            "apps[1].interval",
        ),
        (
            format!("{}{}", ws.app("a", ""), ws.app("a", "")),
            "apps[1].name",
        ),
        (
            ws.app("a", "    dependsOn: [ghost]\n"),
            "apps[0].dependsOn[0]",
        ),
        (
            format!(
                "{}{}",
                ws.app("a", "    dependsOn: [b]\n"),
                ws.app("b", "    dependsOn: [a]\n")
            ),
            "dependency cycle: a -> b -> a",
        ),
        (ws.app("a", "    prunee: true\n"), "apps[0].prunee"),
        (
            "  - name: a\n    source: {url: 'https://'}\n    target: dir:/tmp/x\n".to_owned(),
            "apps[0].source.url",
        ),
    ];
    for (apps, expected) in cases {
        let (code, stderr) = run(&ws, &apps);
        assert_eq!(code, Some(2), "{expected}: {stderr}");
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in: {stderr}"
        );
    }
    // A missing file is a configuration error too.
    let out = agent_command(&ws.path("missing.yaml")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.yaml"));
}
