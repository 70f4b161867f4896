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
    /// Removes the spare files batch writes keep for reuse (see [`DirStore`]); called when
    /// a mutating run ends.
    fn release_spares(&self) -> Result<()> {
        Ok(())
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
///
/// On Linux a batch swaps each new document in with `renameat2(RENAME_EXCHANGE)` instead of
/// renaming over the old file: the temporary name then holds the old file, which the next
/// batch overwrites in place as its own temporary file. Creating a file and freeing the
/// replaced one (its inode, and on a disk mounted with `discard` its blocks) was most of a
/// durable apply's time; reusing them costs a write (BENCHMARKS.md, "Fleets"). The spares
/// hold old documents (which the ledger's snapshots hold too) until the run ends.
pub struct DirStore {
    dir: PathBuf,
    spares: std::sync::Mutex<Vec<PathBuf>>,
}

impl DirStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into(), spares: std::sync::Mutex::new(Vec::new()) }
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

    fn release_spares(&self) -> Result<()> {
        for spare in std::mem::take(&mut *self.spares.lock().expect("spares lock poisoned")) {
            std::fs::remove_file(&spare).with_context(|| format!("removing {}", spare.display()))?;
        }
        Ok(())
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

    /// Every new document goes to a temporary file first (a spare from the batch before,
    /// or a new one); one flush makes them all durable (`syncfs` on Linux, a flush per file
    /// elsewhere); then each takes its old file's place (swapped with it on Linux, which
    /// keeps the old file as a spare; renamed over it elsewhere) and the directory is
    /// flushed once. A crash at any moment still leaves each document old or new, and the
    /// cost of the flushes is paid once per batch.
    fn write_batch(&self, docs: &[(&str, &[u8])], replaced: &mut dyn FnMut(usize)) -> Vec<Result<()>> {
        let mut spares = std::mem::take(&mut *self.spares.lock().expect("spares lock poisoned"));
        let mut staged: Vec<Result<Staged>> = docs
            .iter()
            .map(|(key, bytes)| match spares.pop() {
                Some(spare) => restage(spare, &self.path(key), bytes),
                None => stage(&self.path(key), bytes).map(Staged::New),
            })
            .collect();
        spares.iter().for_each(|spare| drop(std::fs::remove_file(spare)));
        let mut kept = Vec::new();
        if let Err(e) = flush_all(&self.dir, &staged) {
            let message = format!("{e:#}");
            for s in staged.iter_mut().filter(|s| s.is_ok()) {
                if let Ok(Staged::Spare(spare)) = std::mem::replace(s, Err(anyhow::anyhow!("{message}"))) {
                    kept.push(spare);
                }
            }
        }
        let mut results = Vec::with_capacity(docs.len());
        for (i, (staged, (key, _))) in staged.into_iter().zip(docs).enumerate() {
            let path = self.path(key);
            let result = staged.and_then(|staged| {
                let (result, spare) = staged.replace(&path);
                kept.extend(spare);
                result.with_context(|| format!("replacing {}", path.display()))
            });
            if result.is_ok() {
                replaced(i);
            }
            results.push(result);
        }
        *self.spares.lock().expect("spares lock poisoned") = kept;
        if let Err(e) = std::fs::File::open(&self.dir).and_then(|d| d.sync_all()) {
            let message = format!("flushing directory {}: {e}", self.dir.display());
            for r in results.iter_mut().filter(|r| r.is_ok()) {
                *r = Err(anyhow::anyhow!("{message}"));
            }
        }
        results
    }
}

impl Drop for DirStore {
    fn drop(&mut self) {
        let _ = self.release_spares();
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
    crate::private_files::keep_mode(tmp.as_file(), path).with_context(|| format!("setting the mode of {}", path.display()))?;
    tmp.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(tmp)
}

/// A new document written beside its destination, not yet flushed.
enum Staged {
    /// In a temporary file created for it.
    New(tempfile::NamedTempFile),
    /// In a spare: a temporary name holding a file an earlier batch replaced.
    Spare(PathBuf),
}

/// Writes `bytes` over the spare at `path` in place (no new file, no blocks freed while the
/// new document is no longer than the old one).
/// A spare that cannot be written is removed.
fn restage(path: PathBuf, destination: &Path, bytes: &[u8]) -> Result<Staged> {
    let written = std::fs::OpenOptions::new().write(true).open(&path).and_then(|mut file| {
        crate::private_files::keep_mode(&file, destination)?;
        file.write_all(bytes).and_then(|()| file.set_len(bytes.len() as u64))
    });
    match written {
        Ok(()) => Ok(Staged::Spare(path)),
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            Err(e).with_context(|| format!("writing {}", path.display()))
        }
    }
}

impl Staged {
    /// Puts the new document at `path` atomically. Returns the temporary name, now holding
    /// the old file (or, after a failure, the new one), when there is one to reuse.
    fn replace(self, path: &Path) -> (Result<()>, Option<PathBuf>) {
        let swappable = cfg!(target_os = "linux") && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
        if !swappable {
            // A new document, or something that is not a file (which the rename refuses).
            return match self {
                Staged::New(tmp) => (tmp.persist(path).map(drop).map_err(|e| e.error.into()), None),
                Staged::Spare(spare) => match std::fs::rename(&spare, path) {
                    Ok(()) => (Ok(()), None),
                    Err(e) => (Err(e.into()), Some(spare)),
                },
            };
        }
        match self.keep() {
            Ok(temp) => (exchange(&temp, path), Some(temp)),
            Err(e) => (Err(e), None),
        }
    }

    /// The staged file as a plain path that outlives this value.
    fn keep(self) -> Result<PathBuf> {
        match self {
            Staged::New(tmp) => Ok(tmp.into_temp_path().keep().map_err(|e| e.error)?),
            Staged::Spare(path) => Ok(path),
        }
    }
}

/// Swaps the files at `a` and `b` in one atomic step.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).context("a path with a NUL byte");
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both are NUL-terminated paths that live across the call.
    if unsafe { libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), libc::RENAME_EXCHANGE) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> Result<()> {
    unreachable!("only called on Linux")
}

/// Makes the staged files durable: one `syncfs` of the directory's filesystem on Linux,
/// one flush per file elsewhere.
fn flush_all(dir: &Path, staged: &[Result<Staged>]) -> Result<()> {
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
        for staged in staged.iter().flatten() {
            match staged {
                Staged::New(tmp) => tmp.as_file().sync_all().with_context(|| format!("flushing {}", tmp.path().display()))?,
                Staged::Spare(path) => std::fs::File::open(path).and_then(|f| f.sync_all()).with_context(|| format!("flushing {}", path.display()))?,
            }
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
        store.release_spares().unwrap();
        assert_eq!(temporaries(dir.path()), 0);
    }

    fn temporaries(dir: &Path) -> usize {
        std::fs::read_dir(dir).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(TEMP_SUFFIX)).count()
    }

    /// Batch after batch, the files a batch replaced are written again as the next batch's
    /// temporaries: each document ends with exactly its new bytes (shorter or longer than
    /// what the reused file held), and only the spares are left until they are released.
    #[test]
    fn later_batches_reuse_the_replaced_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::new(dir.path());
        let keys = ["a.json", "b.json", "c.json"];
        for key in keys {
            store.write(key, b"a long first version of the document").unwrap();
        }
        for round in 0..4 {
            let bytes: Vec<Vec<u8>> = keys.iter().map(|k| format!("{k} round {round}{}", "!".repeat(round * 7 % 5)).into_bytes()).collect();
            let docs: Vec<(&str, &[u8])> = keys.iter().zip(&bytes).map(|(k, b)| (*k, b.as_slice())).collect();
            let results = store.write_batch(&docs, &mut |_| {});
            assert!(results.iter().all(Result::is_ok), "{results:?}");
            for (key, expected) in keys.iter().zip(&bytes) {
                assert_eq!(store.read(key).unwrap(), *expected, "{key} in round {round}");
            }
            assert_eq!(store.keys().unwrap(), keys);
            if cfg!(target_os = "linux") {
                assert_eq!(temporaries(dir.path()), keys.len(), "each replaced file is kept as a spare");
            }
        }
        drop(store);
        assert_eq!(temporaries(dir.path()), 0, "dropping the store releases its spares");
    }
}
