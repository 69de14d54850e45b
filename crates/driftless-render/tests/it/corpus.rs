//! The real-world corpus (`../shared/kustomize-corpus` beside the repository: 224
//! kustomizations of kubeflow/manifests, cluster-api and argocd-example-apps), every
//! case rendered both ways, as a folder (`driftless render REPO/PATH`) and as a path of
//! the repository (`driftless render REPO --path PATH`), against `kubectl kustomize`:
//! the same documents in the same order, with the same scalar types.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use driftless_core::{Renderer, Snapshot};
use driftless_render::AutoRenderer;
use serde_json::Value;

/// Cases that still differ, each with the reason. The test fails if one of them
/// starts to pass, so this list only shrinks.
const KNOWN_FAILURES: &[(&str, &str, &str)] = &[];

/// `shared/kustomize-corpus` beside the repository (`../shared` from its root), or beside
/// a folder holding it (a worktree in `wt/NAME` next to the main clone).
fn corpus_dir() -> PathBuf {
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let beside = |dir: &Path| dir.join("../shared/kustomize-corpus");
    let mut dir = repository.clone();
    for _ in 0..3 {
        if beside(&dir).join("cases.tsv").is_file() {
            return beside(&dir);
        }
        dir = dir.join("..");
    }
    beside(&repository)
}

#[test]
fn every_corpus_case_renders_as_kubectl_kustomize() {
    let corpus = corpus_dir();
    let Ok(cases) = std::fs::read_to_string(corpus.join("cases.tsv")) else {
        eprintln!(
            "SKIPPED: the Kustomize corpus is not at {} (it sits beside the repository as shared/kustomize-corpus)",
            corpus.display()
        );
        return;
    };
    let cases: Vec<(&str, &str)> = cases
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split('\t');
            Some((fields.next()?, fields.next()?))
        })
        .collect();
    let count = cases.len();
    // Each case runs `kubectl kustomize` once: spread them over the cores.
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(&(repo, path)) = cases.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let outcome = check_case(&corpus.join("repos").join(repo), path);
                    outcomes.lock().unwrap().push((repo, path, outcome));
                }
            });
        }
    });
    let mut outcomes = outcomes.into_inner().unwrap();
    outcomes.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let mut failures = Vec::new();
    let mut unexpected_passes = Vec::new();
    for (repo, path, outcome) in outcomes {
        let known = KNOWN_FAILURES
            .iter()
            .find(|(r, p, _)| *r == repo && *p == path);
        match (outcome, known) {
            (Ok(()), Some(_)) => unexpected_passes.push(format!("{repo} {path}")),
            (Err(why), None) => failures.push(format!("{repo} {path}: {why}")),
            _ => {}
        }
    }
    assert!(count > 0, "no cases in {}", corpus.display());
    assert!(
        failures.is_empty(),
        "{} of {count} corpus cases differ from kubectl kustomize:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        unexpected_passes.is_empty(),
        "listed as failing but now the same as kubectl kustomize (remove them from KNOWN_FAILURES):\n{}",
        unexpected_passes.join("\n")
    );
}

/// Renders one case both ways and compares each with the oracle.
fn check_case(repo: &Path, path: &str) -> Result<(), String> {
    let expected = oracle(&repo.join(path))?;
    let revision: driftless_core::Revision = "sha256:00".parse().unwrap();
    // A folder on its own, as `driftless render REPO/PATH` sees it: outside a git work
    // tree, the whole filesystem is the tree its bases may come from.
    let folder = Snapshot::new(repo.join(path), revision.clone()).within("/");
    let as_folder = AutoRenderer::default().render(&folder, Path::new("."));
    compare("as a folder", as_folder, &expected)?;
    let source = Snapshot::new(repo, revision);
    let as_path = AutoRenderer::default().render(&source, Path::new(path));
    compare("as --path", as_path, &expected)
}

fn compare(
    way: &str,
    rendered: Result<driftless_core::ObjectSet, driftless_core::RenderError>,
    expected: &[Value],
) -> Result<(), String> {
    let rendered = rendered.map_err(|e| format!("{way}: error: {}", crate::chain(&e)))?;
    let actual: Vec<&Value> = rendered
        .iter()
        .map(driftless_core::Object::as_value)
        .collect();
    for (index, (ours, theirs)) in actual.iter().zip(expected).enumerate() {
        if let Some(field) = first_difference(ours, theirs, "") {
            return Err(format!(
                "{way}: document {index} ({} {}) differs at {field}",
                theirs["kind"].as_str().unwrap_or("?"),
                theirs["metadata"]["name"].as_str().unwrap_or("?"),
            ));
        }
    }
    if actual.len() != expected.len() {
        return Err(format!(
            "{way}: {} documents rendered, kubectl kustomize prints {}",
            actual.len(),
            expected.len()
        ));
    }
    Ok(())
}

/// The JSON pointer of the first field where `ours` and `theirs` differ, with both
/// values.
fn first_difference(ours: &Value, theirs: &Value, at: &str) -> Option<String> {
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in b {
                let here = format!("{at}/{key}");
                match a.get(key) {
                    None => return Some(format!("{here}: missing (kubectl: {value})")),
                    Some(mine) => {
                        if let Some(d) = first_difference(mine, value, &here) {
                            return Some(d);
                        }
                    }
                }
            }
            a.iter()
                .find(|(key, _)| !b.contains_key(*key))
                .map(|(key, value)| format!("{at}/{key}: {value} (kubectl: absent)"))
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(x, y, &format!("{at}/{i}"))),
        _ if ours == theirs => None,
        _ => Some(format!("{at}: {ours} (kubectl: {theirs})")),
    }
}

/// What `kubectl kustomize DIR` prints, parsed.
fn oracle(dir: &Path) -> Result<Vec<Value>, String> {
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .map_err(|e| format!("cannot run kubectl kustomize: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "kubectl kustomize failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    driftless_core::yaml::from_str_multi(&String::from_utf8_lossy(&out.stdout))
        .map_err(|e| format!("kubectl kustomize printed invalid YAML: {e}"))
}
