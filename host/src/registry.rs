//! The plugins a fleet can use: every `*.wasm` in its plugins directory, checked, and
//! described by its own manifest.
//!
//! A plugin is identified by the sha256 of its file. That digest goes into every plan and
//! every ledger entry, so a plan made with one build of a plugin is never applied with
//! another.
//!
//! Loading a fleet's registry reads and checks every plugin's bytes (digest, lock,
//! signature) but compiles only what it must: a plugin the compile cache already describes
//! (its manifest, learned by an earlier full load of the same bytes) is compiled, linked and
//! instantiated only when a connection first needs it ([`Plugin::code`]). A fleet that
//! needs few plugins of a large catalogue pays for the catalogue's digests, not its code
//! (BENCHMARKS.md, "The whole catalogue loaded").

use crate::cores;
use crate::ground::sha256_hex;
use crate::manifest::Manifest;
use crate::policy::Candidate;
use crate::sandbox::wit::ContractVersion;
use crate::sandbox::{CompileCache, Description, LoadedPlugin, Sandbox};
use crate::trust::{Lock, Trust};
use anyhow::{Context, Result, anyhow, bail};
use semver::{Version, VersionReq};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One plugin, checked and described.
pub struct Plugin {
    /// The file name inside the plugins directory.
    pub file: String,
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    pub manifest: Manifest,
    pub applies_to: VersionReq,
    pub produces: Version,
    /// The name of the trusted key that signed it, if it is signed.
    pub signer: Option<String>,
    contract: ContractVersion,
    /// Where its compiled code is kept, for a compile on first use.
    cache: Option<CompileCache>,
    /// Its code, compiled and linked once, by whichever call needs it first; a failure is
    /// kept too, so every connection of the plugin reports it without trying again.
    code: OnceLock<Result<LoadedPlugin, String>>,
}

impl Plugin {
    pub fn contract(&self) -> ContractVersion {
        self.contract
    }

    /// `file (sha256 prefix)`, for messages.
    pub fn label(&self) -> String {
        format!("{} (sha256 {})", self.file, &self.sha256[..12])
    }

    /// The plugin's code, compiled and linked for `sandbox` (the one the registry was
    /// loaded with), ready to call.
    ///
    /// The code run is always that of the bytes checked when the registry was loaded: it
    /// comes from the compile cache by their digest, or from the file, which is hashed
    /// again first. A file that changed since is refused, never compiled.
    pub fn code(&self, sandbox: &Sandbox) -> Result<&LoadedPlugin> {
        self.code
            .get_or_init(|| {
                tracing::debug!(plugin = %self.label(), "compiling plugin on first use");
                self.compile(sandbox).map_err(|e| format!("{e:#}"))
            })
            .as_ref()
            .map_err(|e| anyhow!("its code could not be loaded: {e}"))
    }

    fn compile(&self, sandbox: &Sandbox) -> Result<LoadedPlugin> {
        sandbox.load_with(&self.sha256, self.cache.as_ref(), || {
            let bytes = std::fs::read(&self.path)
                .with_context(|| format!("reading {}", self.path.display()))?;
            let now = sha256_hex(&bytes);
            if now != self.sha256 {
                bail!(
                    "{} changed after it was checked: it was sha256 {} and is now {now}; nothing of it ran. Run the command again to check the new bytes (if the fleet has a {}, add an intended new build with `cutover plugin add`)",
                    self.path.display(),
                    self.sha256,
                    crate::trust::LOCK_FILE
                );
            }
            Ok(Cow::Owned(bytes))
        })
    }
}

impl Candidate for &Plugin {
    fn applies_to(&self) -> &VersionReq {
        &self.applies_to
    }
    fn produces(&self) -> &Version {
        &self.produces
    }
}

/// Every plugin of a fleet.
pub struct Registry {
    dir: PathBuf,
    plugins: Vec<Plugin>,
}

impl Registry {
    /// Loads every `*.wasm` in `dir`, in file-name order. Any plugin that cannot be used
    /// (not pinned by the lock, a bad signature, not a component, over-privileged, a bad
    /// manifest, a clash with another plugin) stops the load with an error naming the
    /// file: running a fleet with some of its plugins silently missing would be worse.
    /// With `cache`, a plugin an earlier load already checked in full is only hashed and
    /// checked against the lock and its signature here, and compiled on first use.
    pub fn load(
        dir: &Path,
        sandbox: &Sandbox,
        trust: &Trust,
        cache: Option<&CompileCache>,
    ) -> Result<Self> {
        let lock = Lock::read(dir)?;
        let mut files = Vec::new();
        if dir.exists() {
            for entry in std::fs::read_dir(dir)
                .with_context(|| format!("reading plugins directory {}", dir.display()))?
            {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "wasm") {
                    files.push(path);
                }
            }
        }
        files.sort();
        if let Some(lock) = &lock {
            for locked in &lock.plugins {
                if !files.iter().any(|f| {
                    f.file_name()
                        .is_some_and(|n| n.to_string_lossy() == locked.file)
                }) {
                    bail!(
                        "{} pins {} (sha256 {}), which is missing from {}; restore it, or remove its entry from the lock",
                        crate::trust::LOCK_FILE,
                        locked.file,
                        locked.sha256,
                        dir.display()
                    );
                }
            }
        }
        let mut plugins: Vec<Plugin> = Vec::new();
        // Each plugin is checked and described independently: on every core, then taken in
        // file-name order.
        let loaded = cores::map(&files, |path| {
            Self::load_one(path, sandbox, trust, lock.as_ref(), cache)
                .with_context(|| format!("plugin {} refused", path.display()))
        });
        for plugin in loaded {
            let plugin = plugin?;
            if let Some(other) = plugins.iter().find(|o| {
                o.manifest.connector == plugin.manifest.connector && o.produces == plugin.produces
            }) {
                bail!(
                    "plugins {} and {} both migrate {} to {}; remove one of them from {}",
                    other.file,
                    plugin.file,
                    plugin.manifest.connector,
                    plugin.produces,
                    dir.display()
                );
            }
            tracing::debug!(plugin = %plugin.label(), connector = %plugin.manifest.connector, produces = %plugin.produces, "loaded plugin");
            plugins.push(plugin);
        }
        Ok(Self {
            dir: dir.to_owned(),
            plugins,
        })
    }

    /// Loads one plugin file: integrity first (lock, signature), then its description,
    /// from the compile cache when an earlier full load of the same bytes left one, else by
    /// compiling it, checking its imports and calling its manifest. Nothing of a plugin runs
    /// before its bytes are known to be trusted.
    pub fn load_one(
        path: &Path,
        sandbox: &Sandbox,
        trust: &Trust,
        lock: Option<&Lock>,
        cache: Option<&CompileCache>,
    ) -> Result<Plugin> {
        let bytes = std::fs::read(path).context("reading it")?;
        let sha256 = sha256_hex(&bytes);
        let file = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if let Some(lock) = lock {
            lock.check(&file, &sha256)?;
        }
        let signer = crate::trust::verify_signature(trust, path, &bytes)?;
        let described = cache
            .and_then(|c| c.description(sandbox.engine(), &sha256))
            .and_then(|d| d.manifest.check().ok().map(|checked| (d, checked)));
        let (description, checked, code, fresh) = match described {
            Some((description, checked)) => (description, checked, OnceLock::new(), false),
            None => {
                let loaded = sandbox.load(&bytes, &sha256, cache)?;
                let manifest = sandbox
                    .manifest(&loaded)
                    .context("its manifest() failed")?
                    .value;
                let checked = manifest.check().context("its manifest is invalid")?;
                let description = Description {
                    manifest,
                    contract: loaded.contract(),
                };
                (description, checked, OnceLock::from(Ok(loaded)), true)
            }
        };
        let Description { manifest, contract } = description;
        if crate::platform::Platform::is_elastic(&manifest.connector)
            && !contract.carries_connectors()
        {
            bail!(
                "it migrates {} but was built against cutover:migration@{}, which cannot carry Elastic connector documents; rebuild it with the cutover-plugin SDK (1.2.0 or later)",
                manifest.connector,
                contract.as_str()
            );
        }
        if let Some(cache) = cache.filter(|_| fresh) {
            let description = Description {
                manifest: manifest.clone(),
                contract,
            };
            if let Err(e) = cache.describe(sandbox.engine(), &sha256, &description) {
                tracing::warn!(error = %format!("{e:#}"), "could not write the plugin's description to the compile cache; continuing without it");
            }
        }
        Ok(Plugin {
            file,
            path: path.to_owned(),
            sha256,
            size: bytes.len() as u64,
            manifest,
            applies_to: checked.applies_to,
            produces: checked.produces,
            signer,
            contract,
            cache: cache.cloned(),
            code,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn all(&self) -> &[Plugin] {
        &self.plugins
    }

    /// The plugins of one connector, in file-name order.
    pub fn for_connector(&self, connector: &str) -> Vec<&Plugin> {
        self.plugins
            .iter()
            .filter(|p| p.manifest.connector == connector)
            .collect()
    }

    /// Finds a plugin by file name, file stem or sha256 prefix (at least 8 characters).
    pub fn find(&self, key: &str) -> Option<&Plugin> {
        self.plugins.iter().find(|p| {
            p.file == key
                || p.file.strip_suffix(".wasm") == Some(key)
                || (key.len() >= 8 && p.sha256.starts_with(key))
        })
    }
}
