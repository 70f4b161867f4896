//! Where connection documents live, and how they are written without ever being torn.
//!
//! The default store is a directory: `connections/<id>.json`, one file per connection. A
//! write goes to a temporary file in the same directory, is flushed to disk, and renamed
//! over the old file, and then the directory itself is flushed: a crash at any moment
//! leaves either the old bytes or the new ones.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A place connection documents are read from and written to, by key.
pub trait Store: Send + Sync {
    /// The keys of every connection document, sorted.
    fn keys(&self) -> Result<Vec<String>>;
    /// The bytes of one document.
    fn read(&self, key: &str) -> Result<Vec<u8>>;
    /// Replaces one document atomically.
    fn write(&self, key: &str, bytes: &[u8]) -> Result<()>;
}

/// A directory of `*.json` documents.
pub struct DirStore {
    dir: PathBuf,
}

impl DirStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }
}

impl Store for DirStore {
    fn keys(&self) -> Result<Vec<String>> {
        let entries = std::fs::read_dir(&self.dir)
            .with_context(|| format!("reading the connections directory {}", self.dir.display()))?;
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") && !name.starts_with('.') && entry.file_type()?.is_file() {
                keys.push(name);
            }
        }
        keys.sort();
        Ok(keys)
    }

    fn read(&self, key: &str) -> Result<Vec<u8>> {
        let path = self.path(key);
        std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
    }

    fn write(&self, key: &str, bytes: &[u8]) -> Result<()> {
        write_atomic(&self.path(key), bytes)
    }
}

/// Writes `bytes` to `path` so that readers (and crashes) see the old file or the new one,
/// never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("a document path has a parent directory")?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".cutover-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    tmp.as_file().sync_all().with_context(|| format!("flushing {}", path.display()))?;
    tmp.persist(path).with_context(|| format!("replacing {}", path.display()))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("flushing directory {}", dir.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_whole_files_and_leave_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        store.write("a.json", b"{\"v\":1}").unwrap();
        store.write("a.json", b"{\"v\":2}").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        assert_eq!(store.keys().unwrap(), vec!["a.json"]);
        assert_eq!(store.read("a.json").unwrap(), b"{\"v\":2}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
