//! Moving a fleet between homes without losing its history: a fleet can start embedded (a
//! directory and SQLite) and move to PostgreSQL when it outgrows one host, or come back.
//!
//! `cutover fleet export DIR` writes an embedded fleet: the documents (owner-only), the
//! settings (without the database), plugins and specs, and with `--ledger` every run with
//! its snapshots, ids kept, so that `history` and `rollback` work there as they did here.
//! `cutover fleet import DIR` reads an embedded fleet into this one: the history first
//! (only into a ledger with no runs), then the documents, as one recorded `import` run.

use crate::fleet::Fleet;
use crate::ledger::{NewChange, RunKind, RunStatus};
use crate::store::LedgerHome;
use crate::write;
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::path::Path;

/// What a move carried.
#[derive(Debug, Serialize)]
pub struct Moved {
    /// Whether the documents left this fleet (an export) or came into it (an import).
    pub exported: bool,
    /// Whether the history moved too.
    pub with_ledger: bool,
    pub documents: usize,
    /// Documents the destination already held with the same bytes.
    pub unchanged: usize,
    pub runs: usize,
    /// The import's own run, when it wrote documents.
    pub run: Option<i64>,
}

/// Writes `fleet` as an embedded fleet in `dir` (which must not hold documents yet).
pub fn export(fleet: &Fleet, dir: &Path, with_ledger: bool) -> Result<Moved> {
    let connections = dir.join("connections");
    if connections
        .read_dir()
        .is_ok_and(|mut entries| entries.next().is_some())
    {
        bail!(
            "{} already holds documents; export into a new directory",
            connections.display()
        );
    }
    std::fs::create_dir_all(&connections)
        .with_context(|| format!("creating {}", connections.display()))?;
    copy_settings(fleet, dir)?;
    let keys = fleet.documents().keys()?;
    for key in &keys {
        let bytes = fleet.documents().read(key)?;
        // A new file from a temporary one: owner-only, as documents hold credentials.
        crate::ground::write_atomic(&connections.join(format!("{key}.json")), &bytes)?;
    }
    let mut runs = 0;
    if with_ledger {
        let state = dir.join(".cutover");
        crate::private_files::owner_only_dir(&state)?;
        let mut target = crate::ledger::sqlite::SqliteLedger::open(&state.join("ledger.sqlite"))?;
        runs = target.import_history(&write::history_with_snapshots(&*fleet.ledger()?)?)?;
    }
    Ok(Moved {
        exported: true,
        with_ledger,
        documents: keys.len(),
        unchanged: 0,
        runs,
        run: None,
    })
}

/// The settings, plugins and specs of `fleet`, copied into `dir`, without the database.
fn copy_settings(fleet: &Fleet, dir: &Path) -> Result<()> {
    let settings = fleet.root().join("cutover.toml");
    if settings.exists() {
        let mut table: toml::Table = toml::from_str(&std::fs::read_to_string(&settings)?)
            .with_context(|| format!("reading {}", settings.display()))?;
        table.remove("store");
        std::fs::write(dir.join("cutover.toml"), toml::to_string(&table)?)?;
    }
    for sub in [fleet.settings.plugins.as_str(), "specs"] {
        let from = fleet.root().join(sub);
        if from.is_dir() {
            copy_tree(&from, &dir.join(sub))?;
        }
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Reads the embedded fleet in `dir` into `fleet`: with `with_ledger`, its history first;
/// then every document, refused as a whole if any key already holds other bytes here.
pub fn import(fleet: &Fleet, dir: &Path, with_ledger: bool) -> Result<Moved> {
    let source = Fleet::open(dir)?;
    if !matches!(source.ledger_home(), LedgerHome::Sqlite(_)) {
        bail!(
            "{} is not an embedded fleet (a directory with connections/); export it first with `cutover fleet export`",
            dir.display()
        );
    }
    if source.identity() == fleet.identity() {
        bail!("{} is this fleet itself", dir.display());
    }
    // Check everything before writing anything.
    let keys = source.documents().keys()?;
    let mut writes = Vec::new();
    let mut unchanged = 0;
    let mut conflicts = Vec::new();
    let existing: std::collections::HashSet<String> =
        fleet.documents().keys()?.into_iter().collect();
    for key in &keys {
        let bytes = source.documents().read(key)?;
        if existing.contains(key) {
            if fleet.documents().read(key)? == bytes {
                unchanged += 1;
            } else {
                conflicts.push(fleet.display_key(key));
            }
            continue;
        }
        writes.push(key.clone());
    }
    if !conflicts.is_empty() {
        bail!(
            "{} document(s) of {} exist here with other contents ({}); nothing was imported. Remove them here, or leave them out of {}",
            conflicts.len(),
            dir.display(),
            conflicts.join(", "),
            dir.display()
        );
    }
    let mut writer = write::open(fleet, "import")?;
    let runs = if with_ledger {
        let ledger_path = source.root().join(".cutover/ledger.sqlite");
        if !ledger_path.exists() {
            bail!(
                "{} has no ledger to import (.cutover/ledger.sqlite); import without --ledger",
                dir.display()
            );
        }
        let history = crate::ledger::sqlite::SqliteLedger::open(&ledger_path)?;
        if !history.pending()?.is_empty() {
            bail!(
                "the ledger of {} has writes an interrupted run left unsettled; run `cutover --fleet {} status` there first",
                dir.display(),
                dir.display()
            );
        }
        writer.import_history(&history)?
    } else {
        0
    };
    let mut run = None;
    if !writes.is_empty() {
        let detail =
            serde_json::json!({"from": dir.display().to_string(), "documents": writes.len()});
        let id = writer.begin(RunKind::Import, &detail)?;
        run = Some(id);
        for batch in writes.chunks(crate::ground::BATCH) {
            let bytes: Vec<(Vec<u8>, String)> = batch
                .iter()
                .map(|key| {
                    let bytes = source.documents().read(key)?;
                    let id = serde_json::from_slice::<serde_json::Value>(&bytes)
                        .ok()
                        .and_then(|doc| doc.get("id").and_then(|v| v.as_str()).map(str::to_owned))
                        .unwrap_or_else(|| key.clone());
                    Ok((bytes, id))
                })
                .collect::<Result<_>>()?;
            let changes: Vec<NewChange> = batch
                .iter()
                .zip(&bytes)
                .map(|(key, (after, connection_id))| NewChange {
                    connection_id,
                    key,
                    from_version: None,
                    to_version: None,
                    before: &[],
                    after,
                    steps: Vec::new(),
                    actions: &[],
                })
                .collect();
            for result in writer.write_batch(id, &changes)? {
                result.context("importing a document")?;
            }
        }
        writer.finish(id, RunStatus::Completed, &detail)?;
    }
    Ok(Moved {
        exported: false,
        with_ledger,
        documents: writes.len(),
        unchanged,
        runs,
        run,
    })
}
