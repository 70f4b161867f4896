//! Whether a plugin file may run: the fleet's `plugins.lock` and minisign signatures.
//!
//! - `plugins/plugins.lock` pins the sha256 of every plugin the fleet runs (written by
//!   `cutover plugin add`). When it exists, a plugin file that is not in it, or whose bytes
//!   no longer match, is refused before it is compiled.
//! - `<plugin>.wasm.minisig` is a minisign signature of the plugin. When one is present, it
//!   must verify against one of the fleet's trusted keys (`[trust.keys]` in cutover.toml),
//!   and the key's name is recorded with every step the plugin runs. With
//!   `[trust] require_signed = true`, an unsigned plugin is refused.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The trust policy of a fleet (`[trust]` in cutover.toml).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trust {
    /// Refuse plugins without a valid signature from a trusted key.
    #[serde(default)]
    pub require_signed: bool,
    /// Trusted minisign public keys, by name: `airbyte = "RWQ…"`.
    #[serde(default)]
    pub keys: BTreeMap<String, String>,
}

/// The file name of the lock, inside the plugins directory.
pub const LOCK_FILE: &str = "plugins.lock";

/// One plugin pinned by the lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Locked {
    pub file: String,
    pub sha256: String,
    pub connector: String,
    pub produces: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

/// `plugins.lock`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    #[serde(default, rename = "plugin")]
    pub plugins: Vec<Locked>,
}

impl Lock {
    /// Reads the lock of a plugins directory, if it has one.
    pub fn read(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(LOCK_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let lock: Lock = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid plugins lock", path.display()))?;
        Ok(Some(lock))
    }

    /// Writes the lock, sorted by file name.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let mut sorted = self.clone();
        sorted.plugins.sort_by(|a, b| a.file.cmp(&b.file));
        let text = format!(
            "# The sha256 of every plugin this fleet runs, written by `cutover plugin add`.\n# A plugin file that is not listed here, or no longer matches, is refused.\n\n{}",
            toml::to_string(&sorted)?
        );
        crate::ground::write_atomic(&dir.join(LOCK_FILE), text.as_bytes())
    }

    pub fn get(&self, file: &str) -> Option<&Locked> {
        self.plugins.iter().find(|p| p.file == file)
    }

    /// Adds or replaces an entry.
    pub fn upsert(&mut self, entry: Locked) {
        self.plugins.retain(|p| p.file != entry.file);
        self.plugins.push(entry);
    }

    /// Refuses a plugin the lock does not pin to these bytes.
    pub fn check(&self, file: &str, sha256: &str) -> Result<()> {
        match self.get(file) {
            None => bail!(
                "it is not in {LOCK_FILE}; if it is meant to run, add it with `cutover plugin add {file}`"
            ),
            Some(l) if l.sha256 != sha256 => bail!(
                "its sha256 is {sha256}, but {LOCK_FILE} pins {}: the file changed after it was added. If the new build is intended, add it again with `cutover plugin add`",
                l.sha256
            ),
            Some(_) => Ok(()),
        }
    }
}

/// Checks a plugin's signature (`<path>.minisig`) against the trusted keys. Returns the
/// name of the key that signed it, or `None` for an unsigned plugin the policy allows.
pub fn verify_signature(trust: &Trust, path: &Path, bytes: &[u8]) -> Result<Option<String>> {
    let sig_path = signature_path(path);
    if !sig_path.exists() {
        if trust.require_signed {
            bail!(
                "it is unsigned, and the fleet requires signed plugins ([trust] require_signed); ask its author for {}",
                sig_path.file_name().unwrap_or_default().to_string_lossy()
            );
        }
        return Ok(None);
    }
    let text = std::fs::read_to_string(&sig_path)
        .with_context(|| format!("reading {}", sig_path.display()))?;
    let signature = minisign_verify::Signature::decode(&text)
        .map_err(|e| anyhow::anyhow!("{} is not a minisign signature: {e}", sig_path.display()))?;
    let mut wrong_key = true;
    for (name, key) in &trust.keys {
        let key = minisign_verify::PublicKey::from_base64(key).map_err(|e| {
            anyhow::anyhow!("[trust.keys] {name} is not a minisign public key: {e}")
        })?;
        match key.verify(bytes, &signature, false) {
            Ok(()) => return Ok(Some(name.clone())),
            Err(minisign_verify::Error::UnexpectedKeyId) => {}
            Err(_) => wrong_key = false,
        }
    }
    if wrong_key {
        bail!(
            "it is signed by a key that is not among the fleet's trusted keys ([trust.keys] in cutover.toml); add the author's public key if you trust it"
        )
    }
    bail!(
        "its signature does not match its bytes: the file was modified after it was signed. Do not run it; get it again from its author"
    )
}

/// Where a plugin's signature lives: `<file>.minisig`.
pub fn signature_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".minisig");
    path.with_file_name(name)
}
