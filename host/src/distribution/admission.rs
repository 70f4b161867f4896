//! The one way plugins enter a fleet, whether from a file (`cutover plugin add`) or from a
//! registry (`cutover plugin install`): everything a plugin must pass to run is checked
//! first (signature against `[trust]`, imports, manifest, no clash with a plugin already
//! there or admitted with it), and only when every plugin of the command passed are the
//! components and their signatures copied into the plugins directory and their sha256
//! pinned in `plugins.lock`. A refused plugin leaves the directory as it was.

use crate::fleet::Fleet;
use crate::ground::write_atomic;
use crate::registry::{Plugin, Registry};
use crate::sandbox::Sandbox;
use crate::trust::{LOCK_FILE, Lock, Locked, signature_path};
use crate::write::lock::FleetLock;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// Plugins being admitted into a fleet, which stays locked until they are committed.
pub struct Admission {
    sandbox: Sandbox,
    dir: PathBuf,
    lock: Lock,
    /// The fleet's plugins: (file, connector, produced version).
    existing: Vec<(String, String, semver::Version)>,
    checked: Vec<Checked>,
    _fleet_lock: FleetLock,
}

/// One plugin that passed every check.
struct Checked {
    plugin: Plugin,
    bytes: Vec<u8>,
    signature: Option<Vec<u8>>,
}

/// A plugin admitted into a fleet.
#[derive(Debug, serde::Serialize)]
pub struct Admitted {
    pub file: String,
    pub sha256: String,
    pub connector: String,
    pub applies_to: String,
    pub produces: semver::Version,
    pub signer: Option<String>,
    /// The lock that pins it.
    pub lock: PathBuf,
}

impl Admission {
    /// Locks the fleet (`command` names the holder) and loads its current plugins, which
    /// must load: a new plugin is not added to a fleet that cannot run.
    pub fn open(fleet: &Fleet, command: &str) -> Result<Self> {
        let fleet_lock = FleetLock::acquire(&fleet.state_dir()?, command)?;
        let sandbox = Sandbox::new(fleet.settings.limits.clone())?;
        let dir = fleet.plugins_dir();
        let existing = Registry::load(&dir, &sandbox, &fleet.settings.trust, None)
            .context("the fleet's current plugins do not load; fix them first")?;
        // The first admission creates the lock, pinning the plugins already there as well.
        let lock = Lock::read(&dir)?.unwrap_or_else(|| Lock {
            plugins: existing.all().iter().map(locked).collect(),
        });
        let existing = existing
            .all()
            .iter()
            .map(|p| {
                (
                    p.file.clone(),
                    p.manifest.connector.clone(),
                    p.produces.clone(),
                )
            })
            .collect();
        Ok(Self {
            sandbox,
            dir,
            lock,
            existing,
            checked: Vec::new(),
            _fleet_lock: fleet_lock,
        })
    }

    /// Checks the plugin at `file` (and the `FILE.minisig` beside it) against the fleet's
    /// trust policy and plugins, writing nothing; returns it as loaded.
    pub fn check(&mut self, file: &Path, trust: &crate::trust::Trust) -> Result<&Plugin> {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let plugin = Registry::load_one(file, &self.sandbox, trust, None, None)?;
        if plugin.sha256 != crate::ground::sha256_hex(&bytes) {
            bail!("{} changed while it was being checked", file.display());
        }
        let signature = match signature_path(file) {
            sig if sig.exists() => {
                Some(std::fs::read(&sig).with_context(|| format!("reading {}", sig.display()))?)
            }
            _ => None,
        };
        let others =
            self.existing
                .iter()
                .map(|(f, c, v)| (f, c, v))
                .chain(self.checked.iter().map(|c| {
                    (
                        &c.plugin.file,
                        &c.plugin.manifest.connector,
                        &c.plugin.produces,
                    )
                }));
        for (other, connector, produces) in others {
            if *other != plugin.file
                && *connector == plugin.manifest.connector
                && *produces == plugin.produces
            {
                bail!(
                    "{other} already migrates {connector} to {produces}; remove it (and its {LOCK_FILE} entry) first if {} replaces it",
                    plugin.file
                );
            }
        }
        self.checked.push(Checked {
            plugin,
            bytes,
            signature,
        });
        Ok(&self.checked.last().expect("just pushed").plugin)
    }

    /// Copies the checked plugins (and their signatures) into the plugins directory and
    /// pins them.
    pub fn commit(mut self) -> Result<Vec<Admitted>> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let mut admitted = Vec::new();
        for checked in &self.checked {
            let target = self.dir.join(&checked.plugin.file);
            write_atomic(&target, &checked.bytes)?;
            let signature = signature_path(&target);
            match &checked.signature {
                Some(text) => write_atomic(&signature, text)?,
                // A signature left from an earlier build of the same file would not match.
                None if signature.exists() => std::fs::remove_file(&signature)
                    .with_context(|| format!("removing the stale {}", signature.display()))?,
                None => {}
            }
            self.lock.upsert(locked(&checked.plugin));
            let p = &checked.plugin;
            admitted.push(Admitted {
                file: p.file.clone(),
                sha256: p.sha256.clone(),
                connector: p.manifest.connector.clone(),
                applies_to: p.manifest.applies_to.clone(),
                produces: p.produces.clone(),
                signer: p.signer.clone(),
                lock: self.dir.join(LOCK_FILE),
            });
        }
        self.lock.write(&self.dir)?;
        Ok(admitted)
    }
}

fn locked(p: &Plugin) -> Locked {
    Locked {
        file: p.file.clone(),
        sha256: p.sha256.clone(),
        connector: p.manifest.connector.clone(),
        produces: p.produces.to_string(),
        signer: p.signer.clone(),
    }
}
