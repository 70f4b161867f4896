//! The compile cache: precompiled plugin code, so a run does not pay Cranelift again for a
//! plugin an earlier run already compiled, and what each plugin's manifest said, so a run
//! does not compile, link and instantiate a plugin it will not call just to learn what it
//! migrates ([`Description`]).
//!
//! An entry is keyed by the plugin's sha256 and the engine's compatibility hash (wasmtime
//! version and compilation settings), so a changed plugin or a new cutover never picks up
//! stale code. Loading precompiled code skips validation, so an entry is only loaded after
//! its own sha256 matches the digest recorded when it was written; anything else is
//! recompiled and rewritten. A description is keyed the same way and also records the
//! cutover version that wrote it, since the checks a full load makes (imports, manifest
//! rules) belong to the host. Both are keyed by the digest of the plugin's bytes, never by
//! the file's name, size or time: those can be made to match other bytes, a digest cannot.
//!
//! The cache lives inside the fleet (`.cutover/cache`): whoever can write there can also
//! write the plugins and the ledger, so it is protected like them (owner-only). A missing,
//! unreadable or corrupt entry is never an error: the plugin is loaded in full instead.

use super::wit::ContractVersion;
use crate::ground::sha256_hex;
use crate::manifest::Manifest;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

#[derive(Clone, Debug)]
pub struct CompileCache {
    dir: PathBuf,
}

/// What a full load of a plugin learned that does not need its code again: the manifest it
/// returned and the contract it was built against. Written only after the plugin passed
/// every check of a full load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    pub manifest: Manifest,
    pub contract: ContractVersion,
}

/// A description as stored.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredDescription {
    /// The cutover version that made the checks.
    cutover: String,
    /// The plugin's sha256, again: an entry renamed or copied to another key is not used.
    plugin: String,
    contract: String,
    manifest: Manifest,
}

impl CompileCache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder the entries are kept in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn engine_hash(engine: &Engine) -> String {
        let mut h = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        format!("{:016x}", h.finish())
    }

    fn stem(engine: &Engine, plugin_sha256: &str) -> String {
        format!("{plugin_sha256}-{}", Self::engine_hash(engine))
    }

    fn paths(&self, engine: &Engine, plugin_sha256: &str) -> (PathBuf, PathBuf) {
        let stem = Self::stem(engine, plugin_sha256);
        (
            self.dir.join(format!("{stem}.cwasm")),
            self.dir.join(format!("{stem}.cwasm.sha256")),
        )
    }

    fn description_path(&self, engine: &Engine, plugin_sha256: &str) -> PathBuf {
        self.dir.join(format!(
            "{}.manifest.json",
            Self::stem(engine, plugin_sha256)
        ))
    }

    /// The compiled component of the plugin whose sha256 is `plugin_sha256`, from the cache
    /// when a checked entry exists, else compiled from `bytes()` and stored. `bytes` is only
    /// called on a miss, and must return bytes of that digest.
    pub fn component<'b>(
        &self,
        engine: &Engine,
        plugin_sha256: &str,
        bytes: impl FnOnce() -> Result<Cow<'b, [u8]>>,
    ) -> Result<Component> {
        let (code_path, digest_path) = self.paths(engine, plugin_sha256);
        if let Some(component) = Self::load_checked(engine, &code_path, &digest_path) {
            tracing::debug!(plugin = plugin_sha256, "compile cache hit");
            return Ok(component);
        }
        let bytes = bytes()?;
        let component = Component::new(engine, &bytes)
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
        crate::private_files::owner_only_dir(&self.dir)?;
        let code = component.serialize().map_err(anyhow::Error::from)?;
        crate::ground::write_atomic(code_path, &code)?;
        crate::ground::write_atomic(digest_path, sha256_hex(&code).as_bytes())
    }
}

impl CompileCache {
    /// The description of the plugin whose sha256 is `plugin_sha256`, if this cutover wrote
    /// one. Anything unreadable or unexpected is a miss (logged), never an error.
    pub fn description(&self, engine: &Engine, plugin_sha256: &str) -> Option<Description> {
        let path = self.description_path(engine, plugin_sha256);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "plugin description unreadable; loading the plugin in full");
                return None;
            }
        };
        let stored: StoredDescription = match serde_json::from_str(&text) {
            Ok(stored) => stored,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "plugin description corrupt; loading the plugin in full");
                return None;
            }
        };
        let contract = ContractVersion::parse(&stored.contract).filter(|_| {
            stored.cutover == env!("CARGO_PKG_VERSION") && stored.plugin == plugin_sha256
        });
        if contract.is_none() {
            tracing::debug!(path = %path.display(), "plugin description from another cutover or plugin; loading the plugin in full");
        }
        Some(Description {
            manifest: stored.manifest,
            contract: contract?,
        })
    }

    /// Stores the description of a plugin that passed a full load.
    pub fn describe(
        &self,
        engine: &Engine,
        plugin_sha256: &str,
        description: &Description,
    ) -> Result<()> {
        crate::private_files::owner_only_dir(&self.dir)?;
        let stored = StoredDescription {
            cutover: env!("CARGO_PKG_VERSION").to_owned(),
            plugin: plugin_sha256.to_owned(),
            contract: description.contract.as_str().to_owned(),
            manifest: description.manifest.clone(),
        };
        crate::ground::write_atomic(
            &self.description_path(engine, plugin_sha256),
            &serde_json::to_vec(&stored)?,
        )
    }
}
