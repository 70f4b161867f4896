//! The embedded default: a directory of documents, `connections/<key>.json`, one file per
//! connection.
//!
//! A write goes to a temporary file in the same directory, is flushed to disk, and takes
//! the old file's place in one rename (or exchange), and then the directory itself is
//! flushed: a crash at any moment leaves either the old bytes or the new ones. What a crash
//! cannot settle here (which of the two a document holds, and why) the journal in the
//! ledger settles ([`crate::write`]).

use super::{DocumentWriter, Documents, StoreError, Write};
use crate::ground::atomic::{TEMP_PREFIX, TEMP_SUFFIX, stage};
use crate::ground::sha256_hex;
use anyhow::{Context, Result, bail};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// A directory of `<key>.json` documents.
pub struct DirDocuments {
    dir: PathBuf,
}

impl DirDocuments {
    /// The documents in `dir`, which must exist.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            bail!(
                "{} is not a cutover fleet: it has no connections/ directory (one <id>.json per connection)",
                dir.parent().unwrap_or(dir).display()
            );
        }
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.json"))
    }
}

impl Documents for DirDocuments {
    fn summary(&self) -> String {
        format!("directory {}", self.dir.display())
    }

    fn identity(&self) -> String {
        self.dir.parent().unwrap_or(&self.dir).display().to_string()
    }

    fn keys(&self) -> Result<Vec<String>> {
        let entries = std::fs::read_dir(&self.dir)
            .with_context(|| format!("reading the connections directory {}", self.dir.display()))?;
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(key) = name.strip_suffix(".json")
                && !name.starts_with('.')
                && entry.file_type()?.is_file()
            {
                keys.push(key.to_owned());
            }
        }
        keys.sort();
        Ok(keys)
    }

    fn read(&self, key: &str) -> Result<Vec<u8>> {
        let path = self.path(key);
        std::fs::read(&path).map_err(|e| {
            let error = anyhow::Error::from(e).context(format!("reading {}", path.display()));
            if path.exists() {
                error
            } else {
                error.context(StoreError::NotFound {
                    key: key.to_owned(),
                })
            }
        })
    }

    fn display_key(&self, key: &str) -> String {
        format!("connections/{key}.json")
    }

    fn writer(&self) -> Result<Box<dyn DocumentWriter + '_>> {
        let removed = remove_leftovers(&self.dir)?;
        if removed > 0 {
            tracing::warn!(removed, "removed temporary files an interrupted write left");
        }
        Ok(Box::new(DirWriter {
            docs: self,
            spares: Vec::new(),
        }))
    }
}

/// The writes of one run into a directory.
///
/// On Linux a batch swaps each new document in with `renameat2(RENAME_EXCHANGE)` instead of
/// renaming over the old file: the temporary name then holds the old file, which the next
/// batch overwrites in place as its own temporary file. Creating a file and freeing the
/// replaced one (its inode, and on a disk mounted with `discard` its blocks) was most of a
/// durable apply's time; reusing them costs a write (BENCHMARKS.md, "Fleets"). The spares
/// hold old documents (which the ledger's snapshots hold too) until the run ends, when the
/// writer is dropped; a killed run leaves them for the next run's writer to remove.
pub struct DirWriter<'a> {
    docs: &'a DirDocuments,
    spares: Vec<PathBuf>,
}

impl DocumentWriter for DirWriter<'_> {
    /// Every new document goes to a temporary file first (a spare from the batch before,
    /// or a new one); one flush makes them all durable (`syncfs` on Linux, a flush per file
    /// elsewhere); then each takes its old file's place (swapped with it on Linux, which
    /// keeps the old file as a spare; renamed over it elsewhere) and the directory is
    /// flushed once. A crash at any moment still leaves each document old or new, and the
    /// cost of the flushes is paid once per batch.
    ///
    /// A document that no longer holds `before` is a conflict, left as it is. The check
    /// and the swap are not one step: the fleet lock is what keeps other cutover runs out
    /// between them.
    fn write_batch(
        &mut self,
        writes: &[Write<'_>],
        replaced: &mut dyn FnMut(usize),
    ) -> Vec<Result<()>> {
        let dir = &self.docs.dir;
        let mut spares = std::mem::take(&mut self.spares);
        let mut staged: Vec<Result<Staged>> = writes
            .iter()
            .map(|w| {
                unchanged(self.docs, w)?;
                match spares.pop() {
                    Some(spare) => restage(spare, &self.docs.path(w.key), w.after),
                    None => stage(&self.docs.path(w.key), w.after).map(Staged::New),
                }
            })
            .collect();
        spares
            .iter()
            .for_each(|spare| drop(std::fs::remove_file(spare)));
        let mut kept = Vec::new();
        if let Err(e) = flush_all(dir, &staged) {
            let message = format!("{e:#}");
            for s in staged.iter_mut().filter(|s| s.is_ok()) {
                if let Ok(Staged::Spare(spare)) =
                    std::mem::replace(s, Err(anyhow::anyhow!("{message}")))
                {
                    kept.push(spare);
                }
            }
        }
        let mut results = Vec::with_capacity(writes.len());
        for (i, (staged, w)) in staged.into_iter().zip(writes).enumerate() {
            let path = self.docs.path(w.key);
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
        self.spares = kept;
        if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
            let message = format!("flushing directory {}: {e}", dir.display());
            for r in results.iter_mut().filter(|r| r.is_ok()) {
                *r = Err(anyhow::anyhow!("{message}"));
            }
        }
        results
    }
}

/// Refuses a write whose document no longer holds the bytes it replaces.
fn unchanged(docs: &DirDocuments, w: &Write<'_>) -> Result<()> {
    let current = match std::fs::read(docs.path(w.key)) {
        Ok(bytes) => bytes,
        // A new document: nothing to compare.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && w.before.is_empty() => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", docs.path(w.key).display())),
    };
    if current != w.before {
        return Err(StoreError::Conflict {
            key: w.key.to_owned(),
            detail: format!(
                "it holds sha256 {}, not the bytes the write replaces",
                &sha256_hex(&current)[..12]
            ),
        }
        .into());
    }
    Ok(())
}

/// The run is over: the spares go.
impl Drop for DirWriter<'_> {
    fn drop(&mut self) {
        for spare in std::mem::take(&mut self.spares) {
            if let Err(e) = std::fs::remove_file(&spare) {
                tracing::warn!("removing {}: {e}; the next run removes it", spare.display());
            }
        }
    }
}

/// Removes what an interrupted write left beside the documents (temporary files); returns
/// how many.
fn remove_leftovers(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(TEMP_PREFIX)
            && name.ends_with(TEMP_SUFFIX)
            && entry.file_type()?.is_file()
        {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("removing {}", entry.path().display()))?;
            removed += 1;
        }
    }
    Ok(removed)
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
    let written = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut file| {
            crate::private_files::keep_mode(&file, destination)?;
            file.write_all(bytes)
                .and_then(|()| file.set_len(bytes.len() as u64))
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
        let swappable = cfg!(target_os = "linux")
            && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
        if !swappable {
            // A new document, or something that is not a file (which the rename refuses).
            return match self {
                Staged::New(tmp) => (
                    tmp.persist(path).map(drop).map_err(|e| e.error.into()),
                    None,
                ),
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
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes()).context("a path with a NUL byte")
    };
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both are NUL-terminated paths that live across the call.
    if unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    } != 0
    {
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
        let handle =
            std::fs::File::open(dir).with_context(|| format!("opening {}", dir.display()))?;
        // SAFETY: syncfs only reads the descriptor, which `handle` keeps open.
        if unsafe { libc::syncfs(handle.as_raw_fd()) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("flushing the filesystem of {}", dir.display()));
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        for staged in staged.iter().flatten() {
            match staged {
                Staged::New(tmp) => tmp
                    .as_file()
                    .sync_all()
                    .with_context(|| format!("flushing {}", tmp.path().display()))?,
                Staged::Spare(path) => std::fs::File::open(path)
                    .and_then(|f| f.sync_all())
                    .with_context(|| format!("flushing {}", path.display()))?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(docs: &DirDocuments, key: &str, before: &[u8], after: &[u8]) -> Result<()> {
        let mut writer = docs.writer()?;
        writer
            .write_batch(
                &[Write {
                    key,
                    before,
                    after,
                    actions: &[],
                }],
                &mut |_| {},
            )
            .pop()
            .unwrap()
    }

    #[test]
    fn writes_replace_whole_files_and_leave_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let docs = DirDocuments::open(dir.path()).unwrap();
        write(&docs, "a", b"", b"{\"v\":1}").unwrap();
        write(&docs, "a", b"{\"v\":1}", b"{\"v\":2}").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        assert_eq!(docs.keys().unwrap(), vec!["a"]);
        assert_eq!(docs.read("a").unwrap(), b"{\"v\":2}");
        assert_eq!(docs.display_key("a"), "connections/a.json");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_document_that_changed_underneath_is_a_conflict_and_stays_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let docs = DirDocuments::open(dir.path()).unwrap();
        write(&docs, "a", b"", b"mine").unwrap();
        let err = write(&docs, "a", b"what I read", b"new").unwrap_err();
        assert!(
            matches!(err.downcast_ref::<StoreError>(), Some(StoreError::Conflict { key, .. }) if key == "a"),
            "{err:#}"
        );
        assert_eq!(docs.read("a").unwrap(), b"mine");
        let missing = docs.read("nope").unwrap_err();
        assert!(
            matches!(
                missing.downcast_ref::<StoreError>(),
                Some(StoreError::NotFound { .. })
            ),
            "{missing:#}"
        );
    }

    #[test]
    fn batches_replace_each_document_and_report_each_failure() {
        let dir = tempfile::tempdir().unwrap();
        let docs = DirDocuments::open(dir.path()).unwrap();
        write(&docs, "a", b"", b"old").unwrap();
        std::fs::create_dir(dir.path().join("d.json")).unwrap(); // cannot be replaced by a file
        let mut replaced = Vec::new();
        let mut writer = docs.writer().unwrap();
        let batch = [
            Write {
                key: "a",
                before: b"old",
                after: b"new a",
                actions: &[],
            },
            Write {
                key: "d",
                before: b"",
                after: b"x",
                actions: &[],
            },
            Write {
                key: "b",
                before: b"",
                after: b"new b",
                actions: &[],
            },
        ];
        let results = writer.write_batch(&batch, &mut |i| replaced.push(i));
        assert!(
            results[0].is_ok() && results[1].is_err() && results[2].is_ok(),
            "{results:?}"
        );
        assert_eq!(replaced, vec![0, 2]);
        assert_eq!(docs.read("a").unwrap(), b"new a");
        assert_eq!(docs.read("b").unwrap(), b"new b");
        drop(writer);
        assert_eq!(temporaries(dir.path()), 0);
    }

    fn temporaries(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(TEMP_SUFFIX)
            })
            .count()
    }

    /// Batch after batch, the files a batch replaced are written again as the next batch's
    /// temporaries: each document ends with exactly its new bytes (shorter or longer than
    /// what the reused file held), and only the spares are left until the run ends.
    #[test]
    fn later_batches_reuse_the_replaced_files() {
        let dir = tempfile::tempdir().unwrap();
        let docs = DirDocuments::open(dir.path()).unwrap();
        let keys = ["a", "b", "c"];
        let mut current: Vec<Vec<u8>> = Vec::new();
        for key in keys {
            write(&docs, key, b"", b"a long first version of the document").unwrap();
            current.push(b"a long first version of the document".to_vec());
        }
        let mut writer = docs.writer().unwrap();
        for round in 0..4 {
            let bytes: Vec<Vec<u8>> = keys
                .iter()
                .map(|k| format!("{k} round {round}{}", "!".repeat(round * 7 % 5)).into_bytes())
                .collect();
            let batch: Vec<Write> = keys
                .iter()
                .zip(&current)
                .zip(&bytes)
                .map(|((key, before), after)| Write {
                    key,
                    before,
                    after,
                    actions: &[],
                })
                .collect();
            let results = writer.write_batch(&batch, &mut |_| {});
            assert!(results.iter().all(Result::is_ok), "{results:?}");
            for (key, expected) in keys.iter().zip(&bytes) {
                assert_eq!(docs.read(key).unwrap(), *expected, "{key} in round {round}");
            }
            assert_eq!(docs.keys().unwrap(), keys);
            if cfg!(target_os = "linux") {
                assert_eq!(
                    temporaries(dir.path()),
                    keys.len(),
                    "each replaced file is kept as a spare"
                );
            }
            current = bytes;
        }
        drop(writer);
        assert_eq!(
            temporaries(dir.path()),
            0,
            "the end of the run releases the spares"
        );
    }

    /// A killed run's temporaries are removed by the next run's writer.
    #[test]
    fn the_next_writer_removes_what_a_killed_run_left() {
        let dir = tempfile::tempdir().unwrap();
        let docs = DirDocuments::open(dir.path()).unwrap();
        std::fs::write(
            dir.path().join(format!("{TEMP_PREFIX}x{TEMP_SUFFIX}")),
            "half",
        )
        .unwrap();
        assert!(docs.keys().unwrap().is_empty());
        drop(docs.writer().unwrap());
        assert_eq!(temporaries(dir.path()), 0);
    }
}
