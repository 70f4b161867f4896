//! Files replaced whole: a reader, or a crash, sees the old file or the new one, never a mix.
//!
//! The new content is written to a temporary file beside the destination (named so that
//! the directory store recognises, and removes, one an interrupted write left), flushed,
//! renamed over the destination, and the directory flushed.

use anyhow::{Context, Result};
use std::io::Write as _;
use std::path::Path;

/// How cutover's temporary files are named: hidden, and never `*.json`.
pub const TEMP_PREFIX: &str = ".cutover-";
pub const TEMP_SUFFIX: &str = ".tmp";

/// Writes `bytes` to a new temporary file beside `path`, not yet flushed.
pub fn stage(path: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile> {
    let dir = path
        .parent()
        .context("a document path has a parent directory")?;
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    crate::private_files::keep_mode(tmp.as_file(), path)
        .with_context(|| format!("setting the mode of {}", path.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(tmp)
}

/// Writes `bytes` to `path` so that readers (and crashes) see the old file or the new one,
/// never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .context("a document path has a parent directory")?;
    let tmp = stage(path, bytes)?;
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("flushing {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("replacing {}", path.display()))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("flushing directory {}", dir.display()))?;
    Ok(())
}
