//! Rollback: put documents back, byte for byte, as they were before a run.
//!
//! The bytes come from the snapshots the run took. A document that changed again since
//! that run is not overwritten: the rollback refuses, names it and the later run, and
//! writes nothing. The rollback is itself a journaled run with snapshots, so it can be
//! rolled back too, and rerunning an interrupted rollback finishes it.

use crate::fleet::Fleet;
use crate::journal::Writer;
use crate::ledger::{NewChange, RunKind};
use crate::registry::sha256_hex;
use anyhow::{Result, bail};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct RolledBack {
    /// The run that was rolled back.
    pub of_run: i64,
    /// The rollback's own run.
    pub run: i64,
    pub restored: Vec<String>,
}

/// Rolls back `run` (default: the newest run with writes still in force), for every
/// connection it wrote or only `connection`.
pub fn rollback(fleet: &Fleet, writer: &mut Writer, run: Option<i64>, connection: Option<&str>) -> Result<RolledBack> {
    let of_run = match run {
        Some(r) => r,
        None => match writer.ledger.last_rollbackable()? {
            Some(r) => r,
            None => bail!("nothing to roll back: no run has writes still in force (`cutover history` lists runs)"),
        },
    };
    let Some(record) = writer.ledger.run(of_run)? else {
        bail!("there is no run {of_run}; `cutover history` lists runs");
    };
    let changes: Vec<_> = record
        .changes
        .into_iter()
        .filter(|c| c.state == "written")
        .filter(|c| connection.is_none_or(|id| c.connection_id == id))
        .collect();
    if changes.is_empty() {
        bail!(
            "run {of_run} has no writes in force{} (already rolled back?); `cutover history` shows it",
            connection.map(|c| format!(" for connection {c}")).unwrap_or_default()
        );
    }
    // Check everything before writing anything.
    let mut conflicts = Vec::new();
    let mut restores = Vec::new();
    let mut already = Vec::new();
    for c in changes {
        let current = fleet.store().read(&c.file)?;
        let current_sha = sha256_hex(&current);
        if current_sha == c.before_sha256 {
            // Restored by an earlier rollback that was interrupted before it could say so.
            already.push(c);
            continue;
        }
        if Some(current_sha) != c.after_sha256 {
            let by = writer.ledger.later_write(&c.connection_id, of_run)?;
            conflicts.push(format!(
                "  {}: changed since run {of_run}{}",
                c.connection_id,
                by.map(|r| format!(" (by run {r}: roll that back first)")).unwrap_or_else(|| " by hand".into())
            ));
            continue;
        }
        let snapshot = writer.ledger.snapshot(c.id)?;
        restores.push((c, current, snapshot));
    }
    if !conflicts.is_empty() {
        bail!("cannot roll back run {of_run}; nothing was written.\n{}", conflicts.join("\n"));
    }
    for c in &already {
        writer.ledger.mark(c.id, "rolled-back")?;
    }
    let rollback_run = writer.begin(RunKind::Rollback, &serde_json::json!({"of_run": of_run, "connection": connection}))?;
    let mut restored: Vec<String> = already.iter().map(|c| c.connection_id.clone()).collect();
    for (c, current, snapshot) in &restores {
        let change = NewChange {
            connection_id: &c.connection_id,
            file: &c.file,
            from_version: c.to_version.clone(),
            to_version: c.from_version.clone(),
            before: current,
            after: snapshot,
            steps: Vec::new(),
        };
        writer.write(rollback_run, &change)?;
        writer.ledger.mark(c.id, "rolled-back")?;
        restored.push(c.connection_id.clone());
    }
    writer.ledger.finish_run(rollback_run, "completed", &serde_json::json!({"of_run": of_run, "restored": restored.len()}))?;
    if writer.ledger.run(of_run)?.is_some_and(|r| r.changes.iter().all(|c| c.state != "written")) {
        writer.ledger.set_status(of_run, "rolled-back")?;
    }
    Ok(RolledBack { of_run, run: rollback_run, restored })
}
