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
    /// Removes what an interrupted write may have left beside the documents (temporary
    /// files); returns how many. Called before every mutating run.
    fn remove_leftovers(&self) -> Result<usize> {
        Ok(0)
    }
    /// Replaces several documents, each atomically, calling `replaced(i)` as document `i`
    /// takes its new bytes; one result per document, in order. Stores that can share the
    /// cost of making writes durable across documents override this.
    fn write_batch(&self, docs: &[(&str, &[u8])], replaced: &mut dyn FnMut(usize)) -> Vec<Result<()>> {
        docs.iter()
            .enumerate()
            .map(|(i, (key, bytes))| {
                let result = self.write(key, bytes);
                if result.is_ok() {
                    replaced(i);
                }
                result
            })
            .collect()
    }
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

    fn remove_leftovers(&self) -> Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(&self.dir).with_context(|| format!("reading {}", self.dir.display()))? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX) && entry.file_type()?.is_file() {
                std::fs::remove_file(entry.path()).with_context(|| format!("removing {}", entry.path().display()))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Every new document goes to its temporary file first; one flush makes them all
    /// durable (`syncfs` on Linux, a flush per file elsewhere); then each is renamed over
    /// its old file and the directory is flushed once. A crash at any moment still leaves
    /// each document old or new, and the cost of the flushes is paid once per batch.
    fn write_batch(&self, docs: &[(&str, &[u8])], replaced: &mut dyn FnMut(usize)) -> Vec<Result<()>> {
        let mut staged: Vec<Result<tempfile::NamedTempFile>> = docs.iter().map(|(key, bytes)| stage(&self.path(key), bytes)).collect();
        if let Err(e) = flush_all(&self.dir, &staged) {
            let message = format!("{e:#}");
            for s in staged.iter_mut().filter(|s| s.is_ok()) {
                *s = Err(anyhow::anyhow!("{message}"));
            }
        }
        let mut results = Vec::with_capacity(docs.len());
        for (i, (staged, (key, _))) in staged.into_iter().zip(docs).enumerate() {
            let path = self.path(key);
            let result = staged.and_then(|tmp| tmp.persist(&path).map(drop).map_err(|e| e.error).with_context(|| format!("replacing {}", path.display())));
            if result.is_ok() {
                replaced(i);
            }
            results.push(result);
        }
        if let Err(e) = std::fs::File::open(&self.dir).and_then(|d| d.sync_all()) {
            let message = format!("flushing directory {}: {e}", self.dir.display());
            for r in results.iter_mut().filter(|r| r.is_ok()) {
                *r = Err(anyhow::anyhow!("{message}"));
            }
        }
        results
    }
}

/// How cutover's temporary files are named: hidden, and never `*.json`.
const TEMP_PREFIX: &str = ".cutover-";
const TEMP_SUFFIX: &str = ".tmp";

/// Writes `bytes` to a new temporary file beside `path`, not yet flushed.
fn stage(path: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile> {
    let dir = path.parent().context("a document path has a parent directory")?;
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(tmp)
}

/// Makes the staged files durable: one `syncfs` of the directory's filesystem on Linux,
/// one flush per file elsewhere.
fn flush_all(dir: &Path, staged: &[Result<tempfile::NamedTempFile>]) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let _ = staged;
        let handle = std::fs::File::open(dir).with_context(|| format!("opening {}", dir.display()))?;
        // SAFETY: syncfs only reads the descriptor, which `handle` keeps open.
        if unsafe { libc::syncfs(handle.as_raw_fd()) } != 0 {
            return Err(std::io::Error::last_os_error()).with_context(|| format!("flushing the filesystem of {}", dir.display()));
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        for tmp in staged.iter().flatten() {
            tmp.as_file().sync_all().with_context(|| format!("flushing {}", tmp.path().display()))?;
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` so that readers (and crashes) see the old file or the new one,
/// never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("a document path has a parent directory")?;
    let tmp = stage(path, bytes)?;
    tmp.as_file().sync_all().with_context(|| format!("flushing {}", path.display()))?;
    tmp.persist(path).map_err(|e| e.error).with_context(|| format!("replacing {}", path.display()))?;
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

    #[test]
    fn batches_replace_each_document_and_report_each_failure() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        store.write("a.json", b"old").unwrap();
        std::fs::create_dir(dir.path().join("d.json")).unwrap(); // cannot be replaced by a file
        let mut replaced = Vec::new();
        let results = store.write_batch(&[("a.json", b"new a"), ("d.json", b"x"), ("b.json", b"new b")], &mut |i| replaced.push(i));
        assert!(results[0].is_ok() && results[1].is_err() && results[2].is_ok());
        assert_eq!(replaced, vec![0, 2]);
        assert_eq!(store.read("a.json").unwrap(), b"new a");
        assert_eq!(store.read("b.json").unwrap(), b"new b");
        let temporaries = std::fs::read_dir(dir.path()).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp")).count();
        assert_eq!(temporaries, 0);
    }
}
