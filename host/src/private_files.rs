//! Files cutover creates that hold document content are readable by their owner only.
//!
//! Connection documents hold credentials. cutover copies their content into files of its
//! own: the ledger (a snapshot of every document it replaced, with its WAL and shared
//! memory files), `.cutover/` around it, and saved plans (their diffs). Those are created
//! owner-only (files `0600`, the directory `0700`) whatever the umask, and an existing
//! one with a wider mode is narrowed when cutover opens it. The documents themselves stay
//! as the operator made them: a rewritten document keeps the mode of the file it
//! replaces ([`keep_mode`]); a new one is owner-only.

use anyhow::{Context, Result};
use std::fs::{File, OpenOptions};
use std::path::Path;

/// The mode of files holding document content.
pub const FILE_MODE: u32 = 0o600;
/// The mode of cutover's own directory.
pub const DIR_MODE: u32 = 0o700;

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}

/// Creates `dir` (and its parents) if missing, and makes it owner-only.
pub fn owner_only_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    set_mode(dir, DIR_MODE).with_context(|| format!("making {} owner-only", dir.display()))
}

/// Makes an existing file owner-only; a missing one is left missing.
pub fn owner_only(path: &Path) -> Result<()> {
    match set_mode(path, FILE_MODE) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other.with_context(|| format!("making {} owner-only", path.display())),
    }
}

/// Creates (or truncates) a file that only its owner can read.
pub fn create(path: &Path) -> Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    let file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    owner_only(path)?;
    Ok(file)
}

/// Gives `file` (the new bytes of the document at `destination`) the mode of the file it
/// will replace; with nothing to replace, owner-only.
pub fn keep_mode(file: &File, destination: &Path) -> std::io::Result<()> {
    let permissions = match std::fs::metadata(destination) {
        Ok(old) => old.permissions(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::Permissions::from_mode(FILE_MODE)
            }
            #[cfg(not(unix))]
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    file.set_permissions(permissions)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_files_and_dirs_are_owner_only_and_replacements_keep_the_old_mode() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        owner_only_dir(&state).unwrap();
        assert_eq!(mode(&state), 0o700);
        let plan = dir.path().join("plan.json");
        std::fs::write(&plan, "old").unwrap();
        set_mode(&plan, 0o644).unwrap();
        drop(create(&plan).unwrap());
        assert_eq!(mode(&plan), 0o600, "an existing file is narrowed");

        let document = dir.path().join("doc.json");
        std::fs::write(&document, "{}").unwrap();
        set_mode(&document, 0o640).unwrap();
        let staged = tempfile::NamedTempFile::new_in(dir.path()).unwrap();
        keep_mode(staged.as_file(), &document).unwrap();
        assert_eq!(mode(staged.path()), 0o640);
        keep_mode(staged.as_file(), &dir.path().join("new.json")).unwrap();
        assert_eq!(mode(staged.path()), 0o600);
    }
}
