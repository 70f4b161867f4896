//! A plugin crate as its author works on it: where it is, what it says about itself in
//! `[package.metadata.cutover]`, and its WebAssembly component, built with cargo.
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

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The component target plugins are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// A plugin crate found by its directory.
#[derive(Clone, Debug)]
pub struct Package {
    pub name: String,
    pub dir: PathBuf,
    /// Where cargo puts plugin builds: `<target dir>/plugins`, apart from native builds.
    pub target_dir: PathBuf,
    pub target_spec: Option<PathBuf>,
    pub source_spec: Option<PathBuf>,
    pub target_catalog: Option<PathBuf>,
}

impl Package {
    /// Reads the crate at `dir` through `cargo metadata`, so workspaces, `CARGO_TARGET_DIR`
    /// and inherited fields resolve as cargo resolves them.
    pub fn open(dir: &Path) -> Result<Self> {
        let manifest = dir.join("Cargo.toml");
        if !manifest.is_file() {
            bail!("{} is not a plugin crate (no Cargo.toml); pass a crate directory or a .wasm file", dir.display());
        }
        let output = Command::new(cargo())
            .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"])
            .arg(&manifest)
            .output()
            .context("running cargo metadata (is cargo on PATH?)")?;
        if !output.status.success() {
            bail!("cargo metadata failed for {}: {}", manifest.display(), String::from_utf8_lossy(&output.stderr).trim());
        }
        let meta: Value = serde_json::from_slice(&output.stdout).context("reading cargo metadata's output")?;
        let wanted = std::fs::canonicalize(&manifest)?;
        let package = meta["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["manifest_path"].as_str().and_then(|m| std::fs::canonicalize(m).ok()).as_deref() == Some(&*wanted))
            .with_context(|| format!("cargo metadata does not list the package of {}", manifest.display()))?;
        let name = package["name"].as_str().context("the package has no name")?.to_owned();
        let target_dir = PathBuf::from(meta["target_directory"].as_str().context("cargo metadata gave no target directory")?)
            .join("plugins");
        let spec = |key: &str| package["metadata"]["cutover"][key].as_str().map(|rel| dir.join(rel));
        let target_spec = spec("target-spec");
        let beside_spec = target_spec.as_ref().map(|s| s.with_file_name("catalog.json")).filter(|c| c.is_file());
        let target_catalog = spec("target-catalog").or(beside_spec);
        Ok(Self { name, dir: dir.to_owned(), target_spec, source_spec: spec("source-spec"), target_catalog, target_dir })
    }

    /// The component cargo builds.
    pub fn wasm(&self) -> PathBuf {
        self.target_dir.join(TARGET).join("release").join(format!("{}.wasm", self.name.replace('-', "_")))
    }

    pub fn fixtures(&self) -> PathBuf {
        self.dir.join("fixtures")
    }

    /// Builds the component (release, `wasm32-wasip2`) and returns its path.
    pub fn build(&self) -> Result<PathBuf> {
        tracing::info!(package = %self.name, "building the plugin for {TARGET}");
        // From the crate's directory, so its cargo settings for plugins apply
        // (`.cargo/config.toml` of the crate or of its workspace).
        let status = Command::new(cargo())
            .current_dir(&self.dir)
            .args(["build", "--quiet", "--release", "--target", TARGET, "--target-dir"])
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
            bail!("cargo built {} but {} is missing; is its crate-type [\"cdylib\", \"rlib\"]?", self.name, wasm.display());
        }
        Ok(wasm)
    }
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}
