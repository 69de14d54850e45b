//! Apps reading local directories into directory targets.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use driftless::render::AutoRenderer;
use driftless::target_dir::DirTarget;
use driftless::{LocalSource, Pipeline};

pub(crate) const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: web\ndata:\n  mode: fast\n";

/// A temporary directory with `src/<app>` sources and `live/<app>` targets.
pub(crate) struct Dirs(pub(crate) tempfile::TempDir);

impl Dirs {
    pub(crate) fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.0.path().join(relative)
    }

    /// Writes `src/<app>/cm.yaml` and returns a pipeline from it to `live/<app>`.
    pub(crate) fn app(&self, app: &str) -> Pipeline {
        let src = self.path(&format!("src/{app}"));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("cm.yaml"), CM).unwrap();
        Pipeline::new(
            LocalSource::new(&src),
            AutoRenderer::default(),
            DirTarget::new(self.path(&format!("live/{app}"))).unwrap(),
        )
    }

    pub(crate) fn applied(&self, app: &str) -> bool {
        live_cm(&self.path(&format!("live/{app}"))).is_file()
    }
}

pub(crate) fn live_cm(live: &Path) -> PathBuf {
    live.join("web/core_ConfigMap/settings.yaml")
}

/// Polls `check` every 20 ms until it holds, or panics naming `what`.
pub(crate) async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
