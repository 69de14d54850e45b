//! A Kustomize-compatible renderer: builds a kustomization directory into the same
//! objects, in the same order, as `kubectl kustomize` (Kustomize v5).
//!
//! Supported: resources (files, directories, nested kustomizations, legacy `bases`),
//! `components` (a Component also builds on its own), `namespace`,
//! `namePrefix`/`nameSuffix` with name references rewritten,
//! `labels`/`commonLabels`/`commonAnnotations`, `images` (and legacy `imageTags`),
//! `replicas`, `patches` (strategic merge and JSON 6902, with target selectors), legacy
//! `patchesStrategicMerge`/`patchesJson6902`, `configMapGenerator` and
//! `secretGenerator` with Kustomize's hash suffix, `replacements`, `vars`,
//! `configurations`, `crds` (OpenAPI definitions adding field specs), built-in
//! transformer and generator configs in `transformers` and `generators` (the
//! `NamespaceTransformer` with `unsetOnly` and `setRoleBindingSubjects`), `sortOptions`
//! and `buildMetadata: [managedByLabel, originAnnotations]`. Remote resources, Helm
//! charts, plugins and `buildMetadata: [transformerAnnotations]` are refused with an
//! error naming the kustomization file, and so is anything else not supported: never
//! a silently different object.
//!
//! Field names are matched as Kustomize's Go decoder matches them: in any letter case
//! (`Resources:` is `resources:`); unknown fields are errors in a kustomization and
//! ignored in built-in transformer and generator configs, as in Kustomize. Objects
//! keep their version in their identity during a build, so two versions of one custom
//! resource both render ([`KustomizeRenderer::build`]); an [`ObjectSet`], which holds
//! one version of each object, refuses them ([`Error::TwoVersions`]).
//!
//! Load rules are Kustomize's: a kustomization reads files only below its own folder,
//! and uses kustomization folders anywhere in the tree it is built in
//! ([`KustomizeRenderer::build_within`], `Snapshot::tree`). Env file lines without `=`
//! are refused: the renderer never reads the process environment.
//!
//! ```no_run
//! use driftless_render::kustomize::KustomizeRenderer;
//!
//! let objects = KustomizeRenderer::new().build(
//!     std::path::Path::new("/srv/repo"),
//!     std::path::Path::new("overlays/prod"),
//! )?;
//! for object in &objects {
//!     println!("{}", object["metadata"]["name"]);
//! }
//! # Ok::<(), driftless_render::kustomize::Error>(())
//! ```

mod crds;
mod error;
mod fieldspec;
mod fold;
mod generators;
mod images;
mod kustomization;
mod labels;
mod names;
mod namespace;
mod origin;
mod patch_json6902;
mod patch_sm;
mod replacements;
mod replicas;
mod resource;
mod resources;
mod selector;
mod sort;
mod vars;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use driftless_core::file::read_capped;
use driftless_core::{Object, ObjectSet, RenderError, Renderer, Snapshot};
use serde_json::Value;

pub use error::{Error, Result};

use crate::Decoder;

use fieldspec::{FieldSpec, RawConfig, TransformerConfig};
use generators::GenKind;
use kustomization::{Kustomization, PatchSpec, Selector, StringMap};
use resource::{ResMap, Resource, id_key};
use resources::{Loader, parse_docs, parse_objects, parse_patches, parse_resources};

/// Whether `dir` holds a kustomization file (`kustomization.yaml`, `.yml` or
/// `Kustomization`).
pub fn is_kustomization_dir(dir: &Path) -> bool {
    kustomization::FILE_NAMES
        .iter()
        .any(|name| dir.join(name).is_file())
}

/// Which files a kustomization may read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadRestrictor {
    /// Only files inside the kustomization's own directory (Kustomize's default).
    #[default]
    RootOnly,
    /// Any file inside the snapshot.
    None,
}

/// Options of the Kustomize renderer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KustomizeOptions {
    /// Which files a kustomization may read.
    pub load_restrictor: LoadRestrictor,
    /// The largest file read, in bytes. Default: 64 MiB.
    pub max_file_bytes: u64,
}

impl Default for KustomizeOptions {
    fn default() -> Self {
        Self {
            load_restrictor: LoadRestrictor::default(),
            max_file_bytes: crate::DEFAULT_MAX_FILE_BYTES,
        }
    }
}

impl KustomizeOptions {
    /// Sets [`max_file_bytes`](Self::max_file_bytes).
    #[must_use]
    pub fn max_file_bytes(mut self, bytes: u64) -> Self {
        self.max_file_bytes = bytes;
        self
    }

    /// Sets [`load_restrictor`](Self::load_restrictor).
    #[must_use]
    pub fn load_restrictor(mut self, restrictor: LoadRestrictor) -> Self {
        self.load_restrictor = restrictor;
        self
    }
}

/// Renders a kustomization directory like `kubectl kustomize`.
#[derive(Debug, Clone, Default)]
pub struct KustomizeRenderer {
    options: KustomizeOptions,
    decoder: Option<Arc<dyn Decoder>>,
}

impl KustomizeRenderer {
    /// A renderer with default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// A renderer with the given options.
    pub fn with_options(options: KustomizeOptions) -> Self {
        Self {
            options,
            decoder: None,
        }
    }

    /// Decodes every file read as a resource, a patch or a generator input with
    /// `decoder` before parsing it.
    #[must_use]
    pub fn with_decoder(mut self, decoder: Arc<dyn Decoder>) -> Self {
        self.decoder = Some(decoder);
        self
    }

    /// Builds the kustomization at `path` (relative to `root`, or absolute inside it)
    /// into objects, in output order. Nothing outside `root` is read.
    pub fn build(&self, root: &Path, path: &Path) -> Result<Vec<Value>> {
        self.build_within(root, root, path)
    }

    /// Builds the kustomization at `path` (relative to `root`) where `root` is a folder
    /// of the larger `tree` (the repository): as Kustomize, the kustomization and the
    /// kustomizations it uses may read files only inside their own directories, but may
    /// use other kustomization directories anywhere inside `tree`. Errors name paths
    /// relative to `root`.
    pub fn build_within(&self, tree: &Path, root: &Path, path: &Path) -> Result<Vec<Value>> {
        let canonical = |p: &Path| {
            p.canonicalize().map_err(|source| Error::Read {
                path: p.to_path_buf(),
                source,
            })
        };
        let canonical_tree = canonical(tree)?;
        let canonical_root = canonical(root)?;
        let dir = canonical(&canonical_root.join(path))?;
        if !dir.starts_with(&canonical_root) || !canonical_root.starts_with(&canonical_tree) {
            return Err(Error::OutsideRoot {
                file: dir.clone(),
                path: dir,
                root: canonical_root,
            });
        }
        let mut build = Build {
            loader: Loader {
                root: canonical_tree,
                unrestricted: self.options.load_restrictor == LoadRestrictor::None,
                decoder: self.decoder.clone(),
                max_file_bytes: self.options.max_file_bytes,
            },
            stack: Vec::new(),
            origins: false,
            origin_dir: String::new(),
        };
        build.top(&dir).map_err(|e| e.relative_to(&canonical_root))
    }

    /// Builds like [`build`](Self::build), into an [`ObjectSet`] (same order).
    pub fn build_set(&self, root: &Path, path: &Path) -> Result<ObjectSet> {
        self.build_set_within(root, root, path)
    }

    /// Builds like [`build_within`](Self::build_within), into an [`ObjectSet`].
    pub fn build_set_within(&self, tree: &Path, root: &Path, path: &Path) -> Result<ObjectSet> {
        let values = self.build_within(tree, root, path)?;
        let mut set = ObjectSet::new();
        for value in values {
            let output_error = |source| Error::Output {
                dir: path.to_path_buf(),
                source: Box::new(source),
            };
            let object = Object::new(value).map_err(output_error)?;
            if let Some(earlier) = set.get(&object.id())
                && earlier.api_version() != object.api_version()
            {
                return Err(Error::TwoVersions {
                    dir: path.to_path_buf(),
                    object: object.id().to_string(),
                    first: earlier.api_version().to_owned(),
                    second: object.api_version().to_owned(),
                });
            }
            set.insert(object).map_err(output_error)?;
        }
        Ok(set)
    }
}

impl Renderer for KustomizeRenderer {
    fn render(&self, snapshot: &Snapshot, path: &Path) -> Result<ObjectSet, RenderError> {
        self.build_set_within(snapshot.tree(), snapshot.root(), path)
            .map_err(RenderError::other)
    }
}

fn builtin_config() -> &'static TransformerConfig {
    static CONFIG: OnceLock<TransformerConfig> = OnceLock::new();
    CONFIG.get_or_init(TransformerConfig::builtin)
}

/// Resources accumulated by one kustomization, and the field specs its
/// `configurations` (and those of its bases) add.
#[derive(Debug, Default)]
struct Acc {
    map: ResMap,
    custom: Option<TransformerConfig>,
    /// Every id (current and previous) to positions, for patches found by id; dropped
    /// whenever ids or positions may have changed.
    id_index: Option<std::collections::HashMap<(resource::Gvk, String, String), Vec<usize>>>,
    /// The `vars` declared so far, by name.
    vars: std::collections::BTreeMap<String, vars::Var>,
}

impl Acc {
    fn merge_custom(&mut self, more: &TransformerConfig) {
        match &mut self.custom {
            Some(c) => c.merge(more),
            None => self.custom = Some(more.clone()),
        }
    }

    fn config(&self) -> Cow<'static, TransformerConfig> {
        match &self.custom {
            None => Cow::Borrowed(builtin_config()),
            Some(custom) => {
                let mut c = builtin_config().clone();
                c.merge(custom);
                Cow::Owned(c)
            }
        }
    }
}

struct Build {
    loader: Loader,
    /// Directories being built, outermost first.
    stack: Vec<PathBuf>,
    /// Whether objects are annotated with their origin while building (any
    /// `buildMetadata` of the kustomization built asks for it, as in Kustomize).
    origins: bool,
    /// The directory being built, relative to the one the build started in, as origin
    /// annotations name it (`../base`; empty at the top).
    origin_dir: String,
}

/// Wraps a transformer's message with the kustomization file.
fn at<T>(kfile: &Path, r: std::result::Result<T, String>) -> Result<T> {
    r.map_err(|message| Error::at(kfile, message))
}

impl Build {
    fn top(&mut self, dir: &Path) -> Result<Vec<Value>> {
        // A Component built on its own builds like a Kustomization, as in Kustomize.
        let (kfile, k) = self.load(dir)?;
        check_build_metadata(&kfile, &k.build_metadata)?;
        self.origins = !k.build_metadata.is_empty();
        let mut acc = self.target(dir, &kfile, &k, Acc::default())?;
        generators::add_hash_suffixes(&mut acc.map);
        let config = acc.config();
        acc.id_index = None;
        at(
            &kfile,
            names::fix_references(&mut acc.map, &config.name_reference),
        )?;
        at(
            &kfile,
            vars::resolve(&mut acc.map, &acc.vars, &config.var_reference),
        )?;
        acc.map.resources.retain(|r| {
            r.value
                .get("metadata")
                .and_then(|m| m.get("annotations"))
                .and_then(|a| a.get("config.kubernetes.io/local-config"))
                .and_then(Value::as_str)
                != Some("true")
        });
        let keep_origin = k.build_metadata.iter().any(|o| o == "originAnnotations");
        for r in &mut acc.map.resources {
            origin::remove(r, keep_origin);
            drop_empty_annotations(&mut r.value);
        }
        if k.build_metadata.iter().any(|o| o == "managedByLabel") {
            for r in &mut acc.map.resources {
                let mut labels = r.labels();
                // The version kubectl's embedded Kustomize reports (it is built without
                // a release version), so the output is kubectl kustomize's.
                labels.insert(
                    "app.kubernetes.io/managed-by".into(),
                    Value::String("kustomize-(devel)".into()),
                );
                r.set_meta_map("labels", labels);
            }
        }
        let mut resources = acc.map.resources;
        match &k.sort_options {
            Some(opts) if opts.order == "fifo" => {
                if opts.legacy_sort_options.is_some() {
                    return Err(Error::at(
                        &kfile,
                        "sortOptions: legacySortOptions is only allowed with order: legacy",
                    ));
                }
            }
            Some(opts) if opts.order == "legacy" => {
                let (first, last) = match &opts.legacy_sort_options {
                    Some(l) => (l.order_first.clone(), l.order_last.clone()),
                    None => default_order(),
                };
                sort::legacy(&mut resources, &first, &last);
            }
            Some(opts) => {
                return Err(Error::InvalidKustomization {
                    file: kfile.clone(),
                    message: format!("sortOptions.order {:?}: use legacy or fifo", opts.order),
                });
            }
            None => {
                let (first, last) = default_order();
                sort::legacy(&mut resources, &first, &last);
            }
        }
        Ok(resources.into_iter().map(|r| r.value).collect())
    }

    fn load(&self, dir: &Path) -> Result<(PathBuf, Kustomization)> {
        let kfile = kustomization::find_file(dir)?.ok_or_else(|| Error::MissingKustomization {
            dir: dir.to_path_buf(),
        })?;
        let bytes =
            read_capped(&kfile, self.loader.max_file_bytes).map_err(|source| Error::File {
                path: kfile.clone(),
                source,
            })?;
        let text = String::from_utf8(bytes).map_err(|e| Error::Read {
            path: kfile.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        let k = Kustomization::parse(&kfile, &text)?;
        check_supported(&kfile, &k)?;
        Ok((kfile, k))
    }

    /// Resolves a directory a kustomization refers to, refusing cycles.
    fn enter_dir(&self, kfile: &Path, path: &Path) -> Result<()> {
        if let Some(visited) = self.stack.iter().find(|v| v.starts_with(path)) {
            return Err(Error::Cycle {
                file: kfile.to_path_buf(),
                path: path.to_path_buf(),
                visited: visited.clone(),
            });
        }
        Ok(())
    }

    /// Moves the origin directory into `entry` (a directory a kustomization uses);
    /// returns the one to restore afterwards.
    fn enter_origin(&mut self, entry: &str) -> String {
        let inner = origin::join(&self.origin_dir, entry);
        std::mem::replace(&mut self.origin_dir, inner)
    }

    /// Where origin annotations say a kustomization file's generators are configured.
    fn configured_in(&self, kfile: &Path) -> String {
        let name = kfile.file_name().unwrap_or_default().to_string_lossy();
        origin::join(&self.origin_dir, &name)
    }

    /// Annotates a generated object with its origin, unless it has one.
    fn mark_generated(&self, res: &mut Resource, configured_in: &str, by: &origin::ConfiguredBy) {
        if self.origins && origin::get(res).is_none() {
            origin::set(res, &origin::of_generator(configured_in, by));
        }
    }

    fn target(&mut self, dir: &Path, kfile: &Path, k: &Kustomization, mut acc: Acc) -> Result<Acc> {
        self.stack.push(dir.to_path_buf());
        let mut ids = acc.map.cur_id_set();
        for entry in &k.resources {
            self.resource(&mut acc, &mut ids, kfile, dir, entry)?;
        }
        for entry in &k.configurations {
            let (file, text) = self.loader.read_text(kfile, dir, entry)?;
            let mut docs = parse_docs(&file, &text)?;
            let doc = docs.pop().unwrap_or(Value::Object(serde_json::Map::new()));
            let raw: RawConfig = fold::from_value(doc, fold::Mode::Strict).map_err(|e| {
                Error::InvalidKustomization {
                    file: file.clone(),
                    message: e.to_string(),
                }
            })?;
            acc.merge_custom(&TransformerConfig::from_raw(&raw));
        }
        for entry in &k.crds {
            let (file, text) = self.loader.read_text(kfile, dir, entry)?;
            acc.merge_custom(&crds::load(&file, &text)?);
        }
        self.run_generators(&mut acc, kfile, dir, k)?;
        for entry in &k.components {
            let path = self.loader.resolve(kfile, dir, entry)?;
            if !path.is_dir() {
                return Err(Error::at(
                    kfile,
                    format!("component {entry:?} must be a directory"),
                ));
            }
            self.enter_dir(kfile, &path)?;
            let (ckfile, ck) = self.load(&path)?;
            if !ck.is_component() {
                return Err(Error::at(
                    kfile,
                    format!(
                        "{entry:?} is used as a component but {} is not of kind Component",
                        ckfile.display()
                    ),
                ));
            }
            let outer = self.enter_origin(entry);
            let built = self.target(&path, &ckfile, &ck, acc);
            self.origin_dir = outer;
            acc = built?;
        }
        self.run_transformers(&mut acc, kfile, dir, k)?;
        let declared = k
            .vars
            .iter()
            .map(vars::Var::parse)
            .collect::<std::result::Result<Vec<_>, _>>();
        let declared = at(kfile, declared)?;
        at(kfile, vars::merge(&mut acc.map, &mut acc.vars, &declared))?;
        self.stack.pop();
        Ok(acc)
    }

    fn resource(
        &mut self,
        acc: &mut Acc,
        ids: &mut std::collections::HashSet<(resource::Gvk, String, String)>,
        kfile: &Path,
        dir: &Path,
        entry: &str,
    ) -> Result<()> {
        let path = self.loader.resolve(kfile, dir, entry)?;
        if path.is_dir() {
            self.enter_dir(kfile, &path)?;
            let (sub_kfile, sub) = self.load(&path)?;
            if sub.is_component() {
                return Err(Error::at(
                    kfile,
                    format!("{entry:?} is a Component; list it under components, not resources"),
                ));
            }
            let outer = self.enter_origin(entry);
            let sub_acc = self.target(&path, &sub_kfile, &sub, Acc::default());
            self.origin_dir = outer;
            let sub_acc = sub_acc?;
            at(kfile, acc.map.append_all(ids, sub_acc.map.resources))?;
            if let Some(custom) = &sub_acc.custom {
                acc.merge_custom(custom);
            }
            for var in sub_acc.vars.into_values() {
                at(kfile, vars::absorb(&mut acc.vars, var))?;
            }
        } else {
            let (file, text) = self.loader.read_text(kfile, dir, entry)?;
            let mut resources = parse_resources(&file, &text)?;
            if self.origins {
                let from = origin::of_file(&origin::join(&self.origin_dir, entry));
                for r in &mut resources {
                    origin::set(r, &from);
                }
            }
            at(kfile, acc.map.append_all(ids, resources))?;
        }
        Ok(())
    }

    fn run_generators(
        &mut self,
        acc: &mut Acc,
        kfile: &Path,
        dir: &Path,
        k: &Kustomization,
    ) -> Result<()> {
        let global = k.generator_options.as_ref();
        let configured_in = self.configured_in(kfile);
        let mut generated = Vec::new();
        let entries = k
            .config_map_generator
            .iter()
            .map(|args| (GenKind::ConfigMap, args))
            .chain(
                k.secret_generator
                    .iter()
                    .map(|args| (GenKind::Secret, args)),
            );
        for (gen_kind, args) in entries {
            let mut res = generators::generate(&self.loader, kfile, dir, gen_kind, args, global)?;
            let by = origin::ConfiguredBy::builtin(gen_kind.generator());
            self.mark_generated(&mut res, &configured_in, &by);
            generated.push(res);
        }
        generators::absorb(kfile, &mut acc.map, generated)?;
        for entry in &k.generators {
            for (config, config_in) in self.plugin_configs(kfile, dir, entry)? {
                let kind = config.get("kind").and_then(Value::as_str).unwrap_or("");
                let gen_kind = match kind {
                    "ConfigMapGenerator" => GenKind::ConfigMap,
                    "SecretGenerator" => GenKind::Secret,
                    _ => return Err(unsupported_plugin(kfile, "generators", kind)),
                };
                let mut args_value = config.clone();
                if let Value::Object(m) = &mut args_value {
                    m.shift_remove("apiVersion");
                    m.shift_remove("kind");
                    let meta = m.shift_remove("metadata").unwrap_or(Value::Null);
                    for key in ["name", "namespace"] {
                        if let Some(v) = meta.get(key) {
                            m.insert(key.into(), v.clone());
                        }
                    }
                }
                let args: kustomization::GeneratorArgs =
                    fold::from_value(args_value, fold::Mode::Lenient).map_err(|e| {
                        Error::InvalidKustomization {
                            file: kfile.to_path_buf(),
                            message: format!("generators: {kind}: {e}"),
                        }
                    })?;
                let mut res =
                    generators::generate(&self.loader, kfile, dir, gen_kind, &args, None)?;
                let by = origin::ConfiguredBy::of_config(&config);
                self.mark_generated(&mut res, &config_in, &by);
                generators::absorb(kfile, &mut acc.map, vec![res])?;
            }
        }
        Ok(())
    }

    /// The configs a `transformers`/`generators` entry holds: inline YAML, a file, or
    /// a kustomization directory whose resources are configs; each with the file it is
    /// configured in, as origin annotations name it.
    fn plugin_configs(
        &mut self,
        kfile: &Path,
        dir: &Path,
        entry: &str,
    ) -> Result<Vec<(Value, String)>> {
        if entry.contains('\n') || entry.trim_start().starts_with("apiVersion") {
            let configured_in = self.configured_in(kfile);
            let docs = parse_objects(kfile, entry)?;
            return Ok(docs
                .into_iter()
                .map(|d| (d, configured_in.clone()))
                .collect());
        }
        let path = self.loader.resolve(kfile, dir, entry)?;
        if path.is_dir() {
            self.enter_dir(kfile, &path)?;
            let (sub_kfile, sub) = self.load(&path)?;
            let outer = self.enter_origin(entry);
            let sub_acc = self.target(&path, &sub_kfile, &sub, Acc::default());
            self.origin_dir = outer;
            // Each config is configured in the file it was read from.
            let configs = sub_acc?.map.resources.into_iter().map(|r| {
                let file = origin::get(&r).and_then(|o| origin::file_path(&o));
                (r.value, file.unwrap_or_default())
            });
            return Ok(configs.collect());
        }
        let configured_in = origin::join(&self.origin_dir, entry);
        let (file, text) = self.loader.read_text(kfile, dir, entry)?;
        let docs = parse_objects(&file, &text)?;
        Ok(docs
            .into_iter()
            .map(|d| (d, configured_in.clone()))
            .collect())
    }

    fn run_transformers(
        &mut self,
        acc: &mut Acc,
        kfile: &Path,
        dir: &Path,
        k: &Kustomization,
    ) -> Result<()> {
        let config = acc.config();
        // patchesStrategicMerge
        for entry in &k.patches_strategic_merge {
            let docs = self.patch_docs(kfile, dir, entry)?;
            for doc in docs {
                Self::apply_sm_by_id(acc, kfile, &doc, false, false)?;
            }
        }
        // patches
        for p in &k.patches {
            self.apply_patch(acc, kfile, dir, p)?;
        }
        if !k.namespace.is_empty() {
            at(
                kfile,
                namespace::transform(
                    &mut acc.map,
                    &k.namespace,
                    &config.namespace,
                    namespace::Options::default(),
                ),
            )?;
        }
        if !k.name_prefix.is_empty() {
            at(
                kfile,
                names::add_affix(
                    &mut acc.map,
                    &k.name_prefix,
                    names::End::Prefix,
                    &config.name_prefix,
                ),
            )?;
        }
        if !k.name_suffix.is_empty() {
            at(
                kfile,
                names::add_affix(
                    &mut acc.map,
                    &k.name_suffix,
                    names::End::Suffix,
                    &config.name_suffix,
                ),
            )?;
        }
        run_labels(acc, kfile, k, &config)?;
        for p in &k.patches_json6902 {
            let Some(target) = &p.target else {
                return Err(Error::at(
                    kfile,
                    "patchesJson6902: every entry needs a target",
                ));
            };
            let text = self.patch_text(kfile, dir, p)?;
            let docs = parse_docs(kfile, &text)?;
            let Some(ops) = docs.into_iter().next() else {
                return Err(Error::at(kfile, "patchesJson6902: empty patch"));
            };
            let patch = at(kfile, patch_json6902::JsonPatch::from_value(ops))?;
            apply_json(acc, kfile, target, &patch)?;
        }
        at(
            kfile,
            replicas::transform(&mut acc.map, &k.replicas, &config.replicas),
        )?;
        let updates = k
            .images
            .iter()
            .map(images::ImageUpdate::new)
            .collect::<std::result::Result<Vec<_>, _>>();
        let updates = at(kfile, updates)?;
        at(
            kfile,
            images::transform(&mut acc.map, &updates, &config.images),
        )?;
        if !k.replacements.is_empty() {
            let list = replacements::load(
                &self.loader,
                kfile,
                dir,
                &k.replacements,
                fold::Mode::Strict,
            )?;
            at(kfile, replacements::transform(&mut acc.map, &list))?;
        }
        for entry in &k.transformers {
            for (plugin, _) in self.plugin_configs(kfile, dir, entry)? {
                self.run_plugin(acc, kfile, dir, &plugin, &config)?;
            }
        }
        Ok(())
    }

    /// Runs one built-in transformer given by its config object.
    fn run_plugin(
        &mut self,
        acc: &mut Acc,
        kfile: &Path,
        dir: &Path,
        plugin: &Value,
        config: &TransformerConfig,
    ) -> Result<()> {
        acc.id_index = None;
        let kind = plugin.get("kind").and_then(Value::as_str).unwrap_or("");
        let bad = |e: String| Error::InvalidKustomization {
            file: kfile.to_path_buf(),
            message: format!("transformers: {kind}: {e}"),
        };
        // Kustomize reads these configs leniently, field names in any case, except
        // the prefix/suffix one, which it reads with exact names.
        let mode = match kind {
            "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
                fold::Mode::ExactLenient
            }
            _ => fold::Mode::Lenient,
        };
        let c: PluginConfig =
            fold::from_value(plugin.clone(), mode).map_err(|e| bad(e.to_string()))?;
        let specs = |default: &[FieldSpec]| match &c.field_specs {
            None => default.to_vec(),
            Some(raw) => raw.iter().map(FieldSpec::from).collect(),
        };
        match kind {
            "NamespaceTransformer" => {
                let options = namespace::Options {
                    unset_only: c.unset_only,
                    subjects: namespace::Subjects::parse(&c.set_role_binding_subjects)
                        .map_err(bad)?,
                };
                let ns = plugin
                    .get("metadata")
                    .and_then(|m| m.get("namespace"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if !ns.is_empty() {
                    let specs = specs(&config.namespace);
                    at(
                        kfile,
                        namespace::transform(&mut acc.map, ns, &specs, options),
                    )?;
                }
            }
            "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
                let specs = specs(&config.name_prefix);
                if !c.prefix.is_empty() {
                    at(
                        kfile,
                        names::add_affix(&mut acc.map, &c.prefix, names::End::Prefix, &specs),
                    )?;
                }
                if !c.suffix.is_empty() {
                    at(
                        kfile,
                        names::add_affix(&mut acc.map, &c.suffix, names::End::Suffix, &specs),
                    )?;
                }
            }
            "LabelTransformer" => {
                let specs = specs(&config.common_labels);
                let pairs = c.labels.unwrap_or_default();
                at(kfile, labels::add_pairs(&mut acc.map, &pairs, &specs))?;
            }
            "AnnotationsTransformer" => {
                let specs = specs(&config.common_annotations);
                let pairs = c.annotations.unwrap_or_default();
                at(kfile, labels::add_pairs(&mut acc.map, &pairs, &specs))?;
            }
            "PatchTransformer" => {
                let spec = PatchSpec {
                    path: c.path,
                    patch: c.patch,
                    target: c.target,
                    options: c.options,
                };
                self.apply_patch(acc, kfile, dir, &spec)?;
            }
            "ImageTagTransformer" => {
                let specs = specs(&config.images);
                let image = c.image_tag.unwrap_or_default();
                let update = at(kfile, images::ImageUpdate::new(&image))?;
                at(kfile, images::transform(&mut acc.map, &[update], &specs))?;
            }
            "ReplicaCountTransformer" => {
                let specs = specs(&config.replicas);
                let replica = c.replica.unwrap_or_default();
                at(
                    kfile,
                    replicas::transform(&mut acc.map, std::slice::from_ref(&replica), &specs),
                )?;
            }
            "ReplacementTransformer" => {
                let list = replacements::load(
                    &self.loader,
                    kfile,
                    dir,
                    &c.replacements,
                    fold::Mode::Lenient,
                )?;
                at(kfile, replacements::transform(&mut acc.map, &list))?;
            }
            other => return Err(unsupported_plugin(kfile, "transformers", other)),
        }
        Ok(())
    }

    fn patch_text(&self, kfile: &Path, dir: &Path, p: &PatchSpec) -> Result<String> {
        match (&p.path, &p.patch) {
            (Some(_), Some(_)) => Err(Error::at(
                kfile,
                "a patch entry sets both path and patch; keep one",
            )),
            (None, None) => Err(Error::at(kfile, "a patch entry must set path or patch")),
            (Some(path), None) => Ok(self.loader.read_text(kfile, dir, path)?.1),
            (None, Some(text)) => Ok(text.clone()),
        }
    }

    fn patch_docs(&self, kfile: &Path, dir: &Path, entry: &str) -> Result<Vec<Value>> {
        let looks_inline = entry.contains('\n') || entry.contains(": ");
        // Kustomize loads these patches as resources: a null annotation becomes its text.
        if looks_inline {
            return parse_objects(kfile, entry);
        }
        let (file, text) = self.loader.read_text(kfile, dir, entry)?;
        parse_objects(&file, &text)
    }

    fn apply_patch(&self, acc: &mut Acc, kfile: &Path, dir: &Path, p: &PatchSpec) -> Result<()> {
        let text = self.patch_text(kfile, dir, p)?;
        // Kustomize reads a JSON 6902 patch with `sigs.k8s.io/yaml` (`value: yes` is
        // `true`) and a strategic merge patch with kyaml, like resources.
        let mut docs = parse_docs(kfile, &text)?;
        let is_json = docs.len() == 1 && docs[0].is_array();
        if !is_json {
            docs = parse_patches(kfile, &text)?;
        }
        let allow_name = p.options.get("allowNameChange").copied().unwrap_or(false);
        let allow_kind = p.options.get("allowKindChange").copied().unwrap_or(false);
        if is_json {
            let Some(target) = &p.target else {
                return Err(Error::at(kfile, "a JSON 6902 patch needs a target"));
            };
            let ops = docs.into_iter().next().unwrap_or(Value::Null);
            let patch = at(kfile, patch_json6902::JsonPatch::from_value(ops))?;
            acc.id_index = None;
            return apply_json(acc, kfile, target, &patch);
        }
        if docs.iter().any(|d| !d.is_object()) {
            return Err(Error::at(
                kfile,
                "a patch must be a strategic merge patch (mappings) or a JSON 6902 patch (a list of operations)",
            ));
        }
        if let Some(target) = &p.target {
            {
                if docs.len() > 1 {
                    return Err(Error::at(
                        kfile,
                        "a patch with a target may hold only one strategic merge patch",
                    ));
                }
                let Some(patch) = docs.first() else {
                    return Ok(());
                };
                let selector = at(kfile, selector::Compiled::new(target))?;
                let selected: Vec<usize> = acc
                    .map
                    .resources
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| selector.matches(r))
                    .map(|(i, _)| i)
                    .collect();
                acc.id_index = None;
                apply_sm(acc, kfile, &selected, patch, allow_name, allow_kind)
            }
        } else {
            for doc in &docs {
                Self::apply_sm_by_id(acc, kfile, doc, allow_name, allow_kind)?;
            }
            Ok(())
        }
    }

    /// Applies a strategic merge patch to the one resource with the patch's id.
    fn apply_sm_by_id(
        acc: &mut Acc,
        kfile: &Path,
        patch: &Value,
        allow_name: bool,
        allow_kind: bool,
    ) -> Result<()> {
        let probe = Resource::new(patch.clone());
        let id = probe.cur_id();
        let key = id_key(&id);
        let map = &acc.map;
        let hits: Vec<usize> = acc
            .id_index
            .get_or_insert_with(|| map.any_id_index())
            .get(&key)
            .cloned()
            .unwrap_or_default();
        match hits.len() {
            0 => Err(Error::at(
                kfile,
                format!("no resource matches strategic merge patch {id}"),
            )),
            1 => {
                let (before, count) =
                    (acc.map.resources[hits[0]].cur_id(), acc.map.resources.len());
                apply_sm(acc, kfile, &hits, patch, allow_name, allow_kind)?;
                let unchanged = acc.map.resources.len() == count
                    && acc.map.resources[hits[0]].cur_id() == before;
                if !unchanged {
                    acc.id_index = None;
                }
                Ok(())
            }
            _ => Err(Error::at(
                kfile,
                format!("more than one resource matches strategic merge patch {id}"),
            )),
        }
    }
}

/// `labels`, `commonLabels` and `commonAnnotations`.
fn run_labels(
    acc: &mut Acc,
    kfile: &Path,
    k: &Kustomization,
    config: &TransformerConfig,
) -> Result<()> {
    for label in &k.labels {
        let own: Vec<FieldSpec> = label.fields.iter().map(FieldSpec::from).collect();
        let specs = if label.include_selectors {
            labels::merged_specs(&own, &config.common_labels)
        } else {
            let mut base = own;
            if label.include_templates {
                base = labels::merged_specs(&base, &config.template_labels);
            }
            labels::merged_specs(
                &base,
                &[FieldSpec::new("", "", "", "metadata/labels", true)],
            )
        };
        at(kfile, labels::add_pairs(&mut acc.map, &label.pairs, &specs))?;
    }
    at(
        kfile,
        labels::add_pairs(&mut acc.map, &k.common_labels, &config.common_labels),
    )?;
    at(
        kfile,
        labels::add_pairs(
            &mut acc.map,
            &k.common_annotations,
            &config.common_annotations,
        ),
    )?;
    Ok(())
}

/// Kustomize rewrites every object's annotations while building, and writes none when
/// there are none: `annotations: null` and `annotations: {}` disappear.
fn drop_empty_annotations(value: &mut Value) {
    if let Some(Value::Object(metadata)) = value.get_mut("metadata") {
        let empty = metadata
            .get("annotations")
            .is_some_and(|a| a.is_null() || a.as_object().is_some_and(serde_json::Map::is_empty));
        if empty {
            metadata.shift_remove("annotations");
        }
    }
}

fn default_order() -> (Vec<String>, Vec<String>) {
    (
        sort::DEFAULT_ORDER_FIRST
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        sort::DEFAULT_ORDER_LAST
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
    )
}

fn apply_sm(
    acc: &mut Acc,
    kfile: &Path,
    selected: &[usize],
    patch: &Value,
    allow_name: bool,
    allow_kind: bool,
) -> Result<()> {
    let mut deleted = Vec::new();
    for &i in selected {
        let res = &mut acc.map.resources[i];
        let (name, ns, kind, api_version) = (
            res.name().to_owned(),
            res.namespace().to_owned(),
            res.kind().to_owned(),
            res.api_version().to_owned(),
        );
        if allow_name || allow_kind {
            res.store_previous_id();
        }
        res.drop_empty_values();
        let group = res.gvk().group;
        if patch_sm::apply(&mut res.value, patch, &group, &kind) == patch_sm::Outcome::Deleted {
            deleted.push(i);
            continue;
        }
        // The target keeps its own apiVersion and kind, whatever the patch says.
        if !allow_kind {
            res.value["kind"] = Value::String(kind);
            res.value["apiVersion"] = Value::String(api_version);
        }
        if !allow_name {
            res.set_name(&name);
        }
        res.set_namespace(&ns);
    }
    if !deleted.is_empty() {
        let mut index = 0usize;
        acc.map.resources.retain(|_| {
            let keep = !deleted.contains(&index);
            index += 1;
            keep
        });
    }
    at(kfile, acc.map.check_unique())
}

fn apply_json(
    acc: &mut Acc,
    kfile: &Path,
    target: &Selector,
    patch: &patch_json6902::JsonPatch,
) -> Result<()> {
    let selector = at(kfile, selector::Compiled::new(target))?;
    for res in &mut acc.map.resources {
        if !selector.matches(res) {
            continue;
        }
        res.store_previous_id();
        let id = res.cur_id();
        patch
            .apply(&mut res.value)
            .map_err(|e| Error::at(kfile, format!("JSON 6902 patch on {id}: {e}")))?;
    }
    Ok(())
}

/// The fields of the built-in transformer configs (each kind reads its own).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PluginConfig {
    #[serde(default)]
    field_specs: Option<Vec<fieldspec::RawFieldSpec>>,
    #[serde(default)]
    unset_only: bool,
    #[serde(default)]
    set_role_binding_subjects: String,
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    suffix: String,
    #[serde(default)]
    labels: Option<StringMap>,
    #[serde(default)]
    annotations: Option<StringMap>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    patch: Option<String>,
    #[serde(default)]
    target: Option<Selector>,
    #[serde(default)]
    options: indexmap::IndexMap<String, bool>,
    #[serde(default)]
    image_tag: Option<kustomization::ImageSpec>,
    #[serde(default)]
    replica: Option<kustomization::ReplicaSpec>,
    #[serde(default)]
    replacements: Vec<Value>,
}

/// Checks `buildMetadata`: origins and `managedByLabel` are written; the list of
/// transformations is not.
fn check_build_metadata(kfile: &Path, options: &[String]) -> Result<()> {
    for option in options {
        match option.as_str() {
            "managedByLabel" | "originAnnotations" => {}
            "transformerAnnotations" => {
                return Err(Error::Unsupported {
                    file: kfile.to_path_buf(),
                    feature: "buildMetadata: transformerAnnotations".into(),
                    hint: "remove it; driftless does not record which transformers ran (originAnnotations is supported)".into(),
                });
            }
            other => {
                return Err(Error::InvalidKustomization {
                    file: kfile.to_path_buf(),
                    message: format!("buildMetadata: unknown option {other:?}"),
                });
            }
        }
    }
    Ok(())
}

fn unsupported_plugin(kfile: &Path, field: &str, kind: &str) -> Error {
    Error::Unsupported {
        file: kfile.to_path_buf(),
        feature: format!("{field}: {kind:?}"),
        hint: "only Kustomize's built-in transformers and generators run; exec and container functions are not supported".into(),
    }
}

/// Refuses what driftless does not render.
fn check_supported(kfile: &Path, k: &Kustomization) -> Result<()> {
    let refuse = |feature: &str, hint: &str| {
        Err(Error::Unsupported {
            file: kfile.to_path_buf(),
            feature: feature.to_owned(),
            hint: hint.to_owned(),
        })
    };
    if !k.helm_charts.is_empty()
        || k.helm_globals.is_some()
        || !k.helm_chart_inflation_generator.is_empty()
    {
        return refuse(
            "helmCharts",
            "Helm chart inflation is not supported; render the chart into manifests in the repository",
        );
    }
    if !k.validators.is_empty() {
        return refuse("validators", "validator plugins are not run");
    }
    if k.openapi.is_some() {
        return refuse("openapi", "custom OpenAPI schemas are not supported");
    }
    Ok(())
}
