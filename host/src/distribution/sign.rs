//! Signing a plugin as it is published: `cutover plugin publish --key FILE` signs each
//! component with the author's minisign secret key and writes `<component>.minisig` beside
//! it, the same file `minisign -Sm` writes, which fleets verify against `[trust.keys]`.

use crate::trust::signature_path;
use anyhow::{Context, Result, anyhow};
use std::path::{Path, PathBuf};

/// The environment variable holding the password of an encrypted secret key (a key made
/// with `minisign -G -W` has none).
pub const PASSWORD_ENV: &str = "CUTOVER_SIGNING_KEY_PASSWORD";

/// Signs `wasm` with the secret key in `key_file`; returns the signature's path.
pub fn sign(wasm: &Path, key_file: &Path) -> Result<PathBuf> {
    let text = std::fs::read_to_string(key_file)
        .with_context(|| format!("reading the secret key {}", key_file.display()))?;
    let boxed = minisign::SecretKeyBox::from_string(&text)
        .map_err(|e| anyhow!("{} is not a minisign secret key: {e}", key_file.display()))?;
    let key = match std::env::var(PASSWORD_ENV) {
        Ok(password) => boxed.into_secret_key(Some(password)),
        Err(_) => boxed.into_unencrypted_secret_key(),
    }
    .map_err(|e| {
        anyhow!(
            "cannot open the secret key {} ({e}); an encrypted key needs its password in ${PASSWORD_ENV}",
            key_file.display()
        )
    })?;
    let bytes = std::fs::read(wasm).with_context(|| format!("reading {}", wasm.display()))?;
    let signature = minisign::sign(None, &key, std::io::Cursor::new(&bytes), None, None)
        .map_err(|e| anyhow!("signing {}: {e}", wasm.display()))?;
    let path = signature_path(wasm);
    std::fs::write(&path, signature.to_string())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
