use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use driftless::core::{ApplyOptions, ObjectSet, RenderError, Renderer, Snapshot};
use driftless::render::AutoRenderer;
use driftless::target_dir::DirTarget;
use driftless::{Error, LocalSource, Pipeline, PipelineOptions};

fn write(dir: &Path, file: &str, text: &str) {
    let path = dir.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn config_map(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: app\ndata:\n  key: {value:?}\n"
    )
}

/// Every file below `dir`, with its contents, sorted: what a target directory holds.
fn tree(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = walk(dir)
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            (rel, std::fs::read_to_string(&p).unwrap_or_default())
        })
        .collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn pipeline(repo: &Path, live: &Path, prune: bool) -> Pipeline {
    Pipeline::new(
        LocalSource::new(repo),
        AutoRenderer::default(),
        DirTarget::new(live).unwrap(),
    )
    .with_options(PipelineOptions::default().apply(ApplyOptions::default().prune(prune)))
}

#[tokio::test]
async fn reconcile_creates_updates_and_prunes() {
    let repo = tempfile::tempdir().unwrap();
    let live = tempfile::tempdir().unwrap();
    write(repo.path(), "a.yaml", &config_map("a", "1"));
    write(repo.path(), "b.yaml", &config_map("b", "1"));

    let report = pipeline(repo.path(), live.path(), true)
        .reconcile()
        .await
        .unwrap();
    assert_eq!(report.summary.create, 2);

    std::fs::remove_file(repo.path().join("b.yaml")).unwrap();
    write(repo.path(), "a.yaml", &config_map("a", "2"));
    let report = pipeline(repo.path(), live.path(), true)
        .reconcile()
        .await
        .unwrap();
    assert_eq!(report.applied.updated.len(), 1);
    assert_eq!(report.applied.pruned.len(), 1);
    assert!(!live.path().join("app/core_ConfigMap/b.yaml").exists());
    let a = std::fs::read_to_string(live.path().join("app/core_ConfigMap/a.yaml")).unwrap();
    assert!(a.contains("key: \"2\""), "{a}");
}

#[tokio::test]
async fn failed_render_applies_nothing() {
    let repo = tempfile::tempdir().unwrap();
    let live = tempfile::tempdir().unwrap();
    write(repo.path(), "a.yaml", &config_map("a", "1"));
    pipeline(repo.path(), live.path(), true)
        .reconcile()
        .await
        .unwrap();
    let before = tree(live.path());

    // One good change and one broken file: nothing of the change may be applied.
    write(repo.path(), "a.yaml", &config_map("a", "2"));
    write(repo.path(), "broken.yaml", "kind: [unclosed\n");
    let err = pipeline(repo.path(), live.path(), true)
        .reconcile()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Render { .. }), "{err:?}");
    let chain = error_chain(&err);
    assert!(chain.contains("broken.yaml"), "{chain}");
    assert_eq!(tree(live.path()), before);
}

#[tokio::test]
async fn empty_render_with_prune_is_refused_unless_allowed() {
    let repo = tempfile::tempdir().unwrap();
    let live = tempfile::tempdir().unwrap();
    write(repo.path(), "a.yaml", &config_map("a", "1"));
    pipeline(repo.path(), live.path(), true)
        .reconcile()
        .await
        .unwrap();
    std::fs::remove_file(repo.path().join("a.yaml")).unwrap();
    let before = tree(live.path());

    let err = pipeline(repo.path(), live.path(), true)
        .reconcile()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::EmptyRenderWithPrune { inventory: 1, .. }),
        "{err:?}"
    );
    assert_eq!(tree(live.path()), before);

    let allowed = pipeline(repo.path(), live.path(), true);
    let options = allowed.options().clone().allow_empty(true);
    let report = allowed.with_options(options).reconcile().await.unwrap();
    assert_eq!(report.applied.pruned.len(), 1);
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let repo = tempfile::tempdir().unwrap();
    let live = tempfile::tempdir().unwrap();
    write(repo.path(), "a.yaml", &config_map("a", "1"));
    let dry = pipeline(repo.path(), live.path(), true);
    let options = dry
        .options()
        .clone()
        .apply(ApplyOptions::default().dry_run(true));
    let report = dry.with_options(options).reconcile().await.unwrap();
    assert_eq!(report.applied.created.len(), 1);
    assert!(report.applied.dry_run);
    assert!(tree(live.path()).is_empty());
}

/// Counts renders, to check that an unchanged revision is not rendered again.
struct Counting(AutoRenderer, Arc<AtomicUsize>);

impl Renderer for Counting {
    fn render(&self, snapshot: &Snapshot, path: &Path) -> Result<ObjectSet, RenderError> {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.render(snapshot, path)
    }
}

#[tokio::test]
async fn unchanged_revision_is_not_rendered_again_but_drift_is_corrected() {
    let repo = tempfile::tempdir().unwrap();
    let live = tempfile::tempdir().unwrap();
    write(repo.path(), "a.yaml", &config_map("a", "1"));
    let renders = Arc::new(AtomicUsize::new(0));
    let pipeline = Pipeline::new(
        LocalSource::new(repo.path()),
        Counting(AutoRenderer::default(), Arc::clone(&renders)),
        DirTarget::new(live.path()).unwrap(),
    );
    let first = pipeline.reconcile().await.unwrap();
    assert!(first.rendered);

    let file = live.path().join("app/core_ConfigMap/a.yaml");
    std::fs::write(&file, config_map("a", "hand-edited")).unwrap();
    let second = pipeline.reconcile().await.unwrap();
    assert!(!second.rendered);
    assert_eq!(renders.load(Ordering::SeqCst), 1);
    assert_eq!(second.applied.updated.len(), 1, "drift must be put back");
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("key: \"1\"")
    );

    write(repo.path(), "a.yaml", &config_map("a", "3"));
    let third = pipeline.reconcile().await.unwrap();
    assert!(third.rendered);
    assert_eq!(renders.load(Ordering::SeqCst), 2);
}

/// Tracks how many renders run at once (each takes 100 ms).
struct Overlapping {
    inner: AutoRenderer,
    running: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

impl Renderer for Overlapping {
    fn render(&self, snapshot: &Snapshot, path: &Path) -> Result<ObjectSet, RenderError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(100));
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.inner.render(snapshot, path)
    }
}

/// The most renders that ran at once when four pipelines reconcile together, sharing
/// `slots`.
async fn most_at_once(slots: Option<Arc<tokio::sync::Semaphore>>) -> usize {
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let mut reconciles = tokio::task::JoinSet::new();
    let mut dirs = Vec::new();
    for n in 0..4 {
        let repo = tempfile::tempdir().unwrap();
        let live = tempfile::tempdir().unwrap();
        write(repo.path(), "a.yaml", &config_map(&format!("a{n}"), "1"));
        let pipeline = Pipeline::new(
            LocalSource::new(repo.path()),
            Overlapping {
                inner: AutoRenderer::default(),
                running: Arc::clone(&running),
                most: Arc::clone(&most),
            },
            DirTarget::new(live.path()).unwrap(),
        )
        .with_options(PipelineOptions::default().slots(slots.clone()));
        reconciles.spawn(async move { pipeline.reconcile().await.map(|_| ()) });
        dirs.push((repo, live));
    }
    while let Some(done) = reconciles.join_next().await {
        done.unwrap().unwrap();
    }
    most.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_slots_bound_the_reconciles_running_at_once() {
    assert!(
        most_at_once(None).await > 2,
        "without slots all four overlap"
    );
    let slots = Arc::new(tokio::sync::Semaphore::new(2));
    assert_eq!(most_at_once(Some(Arc::clone(&slots))).await, 2);
    assert_eq!(slots.available_permits(), 2, "every slot is given back");
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
