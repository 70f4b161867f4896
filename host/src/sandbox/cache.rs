//! The compile cache: precompiled plugin code, so a run does not pay Cranelift again for a
//! plugin an earlier run already compiled.
//!
//! An entry is keyed by the plugin's sha256 and the engine's compatibility hash (wasmtime
//! version and compilation settings), so a changed plugin or a new cutover never picks up
//! stale code. Loading precompiled code skips validation, so an entry is only loaded after
//! its own sha256 matches the digest recorded when it was written; anything else is
//! recompiled and rewritten. The cache lives inside the fleet (`.cutover/cache`): whoever can
//! write there can also write the plugins and the ledger, so it is protected like them.

use crate::ground::sha256_hex;
use anyhow::{Context, Result};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

pub struct CompileCache {
    dir: PathBuf,
}

impl CompileCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn engine_hash(engine: &Engine) -> String {
        let mut h = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        format!("{:016x}", h.finish())
    }

    fn paths(&self, engine: &Engine, plugin_sha256: &str) -> (PathBuf, PathBuf) {
        let stem = format!("{plugin_sha256}-{}", Self::engine_hash(engine));
        (
            self.dir.join(format!("{stem}.cwasm")),
            self.dir.join(format!("{stem}.cwasm.sha256")),
        )
    }

    /// The compiled component for `bytes` (whose sha256 is `plugin_sha256`), from the
    /// cache when a checked entry exists, else compiled and stored.
    pub fn component(
        &self,
        engine: &Engine,
        bytes: &[u8],
        plugin_sha256: &str,
    ) -> Result<Component> {
        let (code_path, digest_path) = self.paths(engine, plugin_sha256);
        if let Some(component) = Self::load_checked(engine, &code_path, &digest_path) {
            tracing::debug!(plugin = plugin_sha256, "compile cache hit");
            return Ok(component);
        }
        let component = Component::new(engine, bytes)
            .map_err(anyhow::Error::from)
            .context("it is not a valid WebAssembly component")?;
        if let Err(e) = self.store(&component, &code_path, &digest_path) {
            tracing::warn!(error = %format!("{e:#}"), "could not write the compile cache; continuing without it");
        }
        Ok(component)
    }

    fn load_checked(engine: &Engine, code_path: &Path, digest_path: &Path) -> Option<Component> {
        let code = std::fs::read(code_path).ok()?;
        let digest = std::fs::read_to_string(digest_path).ok()?;
        if sha256_hex(&code) != digest.trim() {
            tracing::warn!(path = %code_path.display(), "compile cache entry does not match its digest; recompiling");
            return None;
        }
        drop(code);
        // Mapped from the file rather than copied from `code`: the pages come from the page
        // cache instead of being allocated and filled.
        // SAFETY: the file holds what this process's engine configuration serialized (the
        // key holds the engine's compatibility hash) and its digest was checked above;
        // wasmtime also checks the header matches this engine before using it. (Whoever could
        // replace the file between the check and the mapping could write the plugins too.)
        match unsafe { Component::deserialize_file(engine, code_path) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "compile cache entry unusable; recompiling");
                None
            }
        }
    }

    fn store(&self, component: &Component, code_path: &Path, digest_path: &Path) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let code = component.serialize().map_err(anyhow::Error::from)?;
        crate::ground::write_atomic(code_path, &code)?;
        crate::ground::write_atomic(digest_path, sha256_hex(&code).as_bytes())
    }
}
