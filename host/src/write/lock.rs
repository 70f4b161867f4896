//! The fleet lock: one mutating run at a time per fleet.
//!
//! The lock is an OS file lock on `.cutover/lock`, so it is released the moment its holder
//! exits, however it exits (a `SIGKILL` included): no stale lock files to clean up. The
//! holder writes who it is into the file, so a refused run can say who holds it.

use anyhow::{Context, Result, bail};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

pub struct FleetLock {
    _file: File,
}

impl FleetLock {
    /// Takes the lock or says who has it.
    pub fn acquire(dir: &Path, command: &str) -> Result<Self> {
        let path = dir.join("lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                bail!(
                    "the fleet is locked by another cutover run ({}); wait for it to finish (the lock frees itself if that process dies)",
                    if holder.is_empty() {
                        "holder unknown"
                    } else {
                        holder
                    }
                );
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("locking {}", path.display()));
            }
        }
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        writeln!(
            file,
            "pid {} · {} · `cutover {command}` · since {}",
            std::process::id(),
            crate::ground::actor(),
            crate::ground::now()
        )?;
        file.flush()?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_name() {
        let dir = tempfile::tempdir().unwrap();
        let first = FleetLock::acquire(dir.path(), "apply").unwrap();
        let err = FleetLock::acquire(dir.path(), "apply")
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(first);
        FleetLock::acquire(dir.path(), "apply").unwrap();
    }
}
