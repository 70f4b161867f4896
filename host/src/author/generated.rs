//! A breaking version's plugin made from data: a folder under `plugins/generated/` holding
//! `plugin.json` (its [`Table`]: the `breakingChanges` entry, where the two versions' real
//! catalogs and specs are, and what the catalogs cannot show) and `fixtures/` (its golden
//! cases). It has no code: building it compiles the table with the two catalogs and joins
//! the result to the generic engine, compiled once ([`super::join`]).

use super::join;
use super::package::Package;
use anyhow::{Context, Result, bail};
use cutover_plugin::breaking::{self, Compiled, Table};
use std::path::{Path, PathBuf};

/// The file that makes a folder a generated plugin.
pub const TABLE: &str = "plugin.json";

/// Reads a generated plugin's table.
pub fn read_table(dir: &Path) -> Result<Table> {
    let path = dir.join(TABLE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a breaking version's table (see cutover_plugin::breaking::Table)",
            path.display()
        )
    })
}

/// A path the table gives, relative to its folder.
pub fn resolve(dir: &Path, relative: &str) -> PathBuf {
    dir.join(relative)
}

/// The table compiled with the two versions' real catalogs.
pub fn compile(dir: &Path) -> Result<Compiled> {
    let table = read_table(dir)?;
    let read = |rel: &str| {
        let path = resolve(dir, rel);
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    };
    let old = read(&table.old.catalog)?;
    let new = read(&table.new.catalog)?;
    let name = dir.display().to_string();
    breaking::compile(table, &old, &new).map_err(|e| anyhow::anyhow!("{name}: {e}"))
}

/// The engine crate: `plugins/generated/engine` of the repository holding `dir`.
pub fn engine_dir(dir: &Path) -> Result<PathBuf> {
    let start = std::path::absolute(dir)?;
    for ancestor in start.ancestors() {
        for candidate in [
            ancestor.join("engine"),
            ancestor.join("plugins/generated/engine"),
        ] {
            if candidate.join("Cargo.toml").is_file() {
                return Ok(candidate);
            }
        }
    }
    bail!(
        "no plugins/generated/engine crate above {}; generated plugins are built from this repository",
        dir.display()
    )
}

/// Builds the plugin at `dir` into `wasm`: the engine (compiled by cargo once, a no-op
/// when up to date) with the compiled table joined to it.
pub fn build(dir: &Path, wasm: &Path) -> Result<PathBuf> {
    let compiled = compile(dir)?;
    let engine = Package::open(&engine_dir(dir)?)?.build()?;
    let engine_bytes =
        std::fs::read(&engine).with_context(|| format!("reading {}", engine.display()))?;
    let joined = join::join(&engine_bytes, &compiled.to_json())
        .with_context(|| format!("joining {} to the engine", dir.display()))?;
    if let Some(parent) = wasm.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    // Unchanged bytes are not rewritten, so a rebuild keeps the file's time; a changed
    // file is replaced whole (renamed into place), so a concurrent reader never sees half.
    if std::fs::read(wasm).ok().as_deref() != Some(&joined[..]) {
        let parent = wasm.parent().unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(parent)
            .with_context(|| format!("creating a file in {}", parent.display()))?;
        std::io::Write::write_all(&mut tmp, &joined)?;
        tmp.persist(wasm)
            .with_context(|| format!("writing {}", wasm.display()))?;
    }
    Ok(wasm.to_owned())
}
