//! A plugin as its author works on it: where it is, what it says about itself, and its
//! WebAssembly component. A Rust plugin is a crate, built with cargo, that says it in
//! `[package.metadata.cutover]`; a Python plugin is a project with a `pyproject.toml`, built
//! with componentize-py ([`super::python`]), that says it in `[tool.cutover]`.
//!
//! ```toml
//! [package.metadata.cutover]
//! # The real spec of the version the plugin produces; migrated fixture configs must conform.
//! target-spec = "../../tests/fixtures/source-pinterest/2.0.0/spec.json"
//! # Optional: the spec of the versions it migrates from; fixture inputs must conform.
//! source-spec = "../../tests/fixtures/source-pinterest/1.3.3/spec.json"
//! # Optional: the real discovered catalog of the produced version (default: the
//! # catalog.json beside target-spec, if there is one); migrated streams must match it.
//! target-catalog = "../../tests/fixtures/source-pinterest/2.0.0/catalog.json"
//! ```

use super::python;
use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The component target plugins are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// A plugin found by its directory.
#[derive(Clone, Debug)]
pub struct Package {
    pub name: String,
    pub dir: PathBuf,
    /// Where plugin builds go: `<target dir>/plugins`, apart from native builds.
    pub target_dir: PathBuf,
    pub target_spec: Option<PathBuf>,
    pub source_spec: Option<PathBuf>,
    pub fixtures: PathBuf,
    /// The Python project, for a Python plugin.
    pub python: Option<python::Project>,
    pub target_catalog: Option<PathBuf>,
    /// For a breaking version made from data ([`super::generated`]): no code of its own,
    /// built by joining its table to the generic engine.
    pub generated: bool,
}

/// The discovered catalog (`catalog.json`) beside a target spec, where fixtures keep both.
fn catalog_beside(target_spec: Option<&Path>) -> Option<PathBuf> {
    target_spec
        .map(|s| s.with_file_name("catalog.json"))
        .filter(|c| c.is_file())
}

impl Package {
    /// Opens the plugin at `dir`: a crate (`Cargo.toml`) or a Python project (`pyproject.toml`).
    pub fn open(dir: &Path) -> Result<Self> {
        if dir.join(super::generated::TABLE).is_file() {
            return Self::open_generated(dir);
        }
        if dir.join("Cargo.toml").is_file() {
            return Self::open_crate(dir);
        }
        match python::Project::read(dir)? {
            Some(project) => Ok(Self {
                name: project.name.clone(),
                dir: dir.to_owned(),
                target_dir: python_target_dir(dir)?.join("plugins"),
                target_spec: project.target_spec.clone(),
                source_spec: project.source_spec.clone(),
                target_catalog: project.target_catalog.clone(),
                fixtures: project.fixtures.clone(),
                python: Some(project),
                generated: false,
            }),
            None => bail!(
                "{} is not a plugin (no Cargo.toml or pyproject.toml); pass a plugin crate, a Python plugin project or a .wasm file",
                dir.display()
            ),
        }
    }

    /// Reads the crate at `dir` through `cargo metadata`, so workspaces, `CARGO_TARGET_DIR`
    /// and inherited fields resolve as cargo resolves them.
    fn open_crate(dir: &Path) -> Result<Self> {
        let manifest = dir.join("Cargo.toml");
        let output = Command::new(cargo())
            .args([
                "metadata",
                "--no-deps",
                "--format-version",
                "1",
                "--manifest-path",
            ])
            .arg(&manifest)
            .output()
            .context("running cargo metadata (is cargo on PATH?)")?;
        if !output.status.success() {
            bail!(
                "cargo metadata failed for {}: {}",
                manifest.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let meta: Value =
            serde_json::from_slice(&output.stdout).context("reading cargo metadata's output")?;
        let wanted = std::fs::canonicalize(&manifest)?;
        let package = meta["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| {
                p["manifest_path"]
                    .as_str()
                    .and_then(|m| std::fs::canonicalize(m).ok())
                    .as_deref()
                    == Some(&*wanted)
            })
            .with_context(|| {
                format!(
                    "cargo metadata does not list the package of {}",
                    manifest.display()
                )
            })?;
        let name = package["name"]
            .as_str()
            .context("the package has no name")?
            .to_owned();
        let target_dir = PathBuf::from(
            meta["target_directory"]
                .as_str()
                .context("cargo metadata gave no target directory")?,
        )
        .join("plugins");
        let spec = |key: &str| {
            package["metadata"]["cutover"][key]
                .as_str()
                .map(|rel| dir.join(rel))
        };
        let target_spec = spec("target-spec");
        let target_catalog =
            spec("target-catalog").or_else(|| catalog_beside(target_spec.as_deref()));
        Ok(Self {
            name,
            dir: dir.to_owned(),
            target_spec,
            source_spec: spec("source-spec"),
            target_catalog,
            target_dir,
            fixtures: dir.join("fixtures"),
            python: None,
            generated: false,
        })
    }

    /// Opens a breaking version made from data: its specs and catalog are those its table
    /// names, its name the folder's.
    fn open_generated(dir: &Path) -> Result<Self> {
        let table = super::generated::read_table(dir)?;
        let name = std::path::absolute(dir)?
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .context("a generated plugin's folder has no name")?;
        let resolve = |rel: &str| Some(super::generated::resolve(dir, rel));
        Ok(Self {
            name,
            dir: dir.to_owned(),
            target_dir: python_target_dir(dir)?.join("plugins"),
            target_spec: resolve(&table.new.spec),
            source_spec: resolve(&table.old.spec),
            target_catalog: resolve(&table.new.catalog),
            fixtures: dir.join("fixtures"),
            python: None,
            generated: true,
        })
    }

    /// The component the build writes.
    pub fn wasm(&self) -> PathBuf {
        if self.generated {
            return self
                .target_dir
                .join("generated")
                .join(format!("{}.wasm", self.name));
        }
        match &self.python {
            Some(project) => self.python_dir().join(project.wasm_name()),
            None => self
                .target_dir
                .join(TARGET)
                .join("release")
                .join(format!("{}.wasm", self.name.replace('-', "_"))),
        }
    }

    pub fn fixtures(&self) -> PathBuf {
        self.fixtures.clone()
    }

    /// Where compiled plugin code is cached between runs of the author's toolkit.
    pub fn compile_cache(&self) -> PathBuf {
        self.target_dir.join("cache")
    }

    /// Where Python plugins and the componentize-py environment go.
    fn python_dir(&self) -> PathBuf {
        self.target_dir.join("python")
    }

    /// Builds the component and returns its path: a crate with cargo (release,
    /// `wasm32-wasip2`), a Python project with componentize-py.
    pub fn build(&self) -> Result<PathBuf> {
        if let Some(project) = &self.python {
            let dir = self.python_dir();
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            return project.build(&dir, &dir);
        }
        if self.generated {
            return super::generated::build(&self.dir, &self.wasm());
        }
        tracing::info!(package = %self.name, "building the plugin for {TARGET}");
        // From the crate's directory, so its cargo settings for plugins apply
        // (`.cargo/config.toml` of the crate or of its workspace).
        let status = Command::new(cargo())
            .current_dir(&self.dir)
            .args([
                "build",
                "--quiet",
                "--release",
                "--target",
                TARGET,
                "--target-dir",
            ])
            .arg(&self.target_dir)
            .args(["--manifest-path", "Cargo.toml"])
            .status()
            .context("running cargo build")?;
        if !status.success() {
            bail!(
                "building {} for {TARGET} failed (see cargo's messages above); if the target is missing: rustup target add {TARGET}",
                self.name
            );
        }
        let wasm = self.wasm();
        if !wasm.is_file() {
            bail!(
                "cargo built {} but {} is missing; is its crate-type [\"cdylib\", \"rlib\"]?",
                self.name,
                wasm.display()
            );
        }
        Ok(wasm)
    }
}

/// The target directory a Python plugin builds into: `CARGO_TARGET_DIR`, else the `target`
/// folder of the nearest enclosing cargo workspace (this repository's, for the plugins in
/// it), else the project's own `target` folder.
fn python_target_dir(dir: &Path) -> Result<PathBuf> {
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Ok(PathBuf::from(target));
    }
    let start = std::path::absolute(dir)?;
    for ancestor in start.ancestors() {
        let manifest = ancestor.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest)
            && text
                .parse::<toml::Table>()
                .is_ok_and(|doc| doc.contains_key("workspace"))
        {
            return Ok(ancestor.join("target"));
        }
    }
    Ok(start.join("target"))
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}
