//! Rollback: put documents back, byte for byte, as they were before a run.
//!
//! The bytes come from the snapshots the run took, save what a store says cannot come back
//! ([`crate::store::Documents::restorable`]: the state of streams a clear emptied, whose data
//! is gone), which the rollback reports. A document that changed again since
//! that run is not overwritten: the rollback refuses, names it and the later run, and
//! writes nothing. The rollback is itself a journaled run with snapshots, so it can be
//! rolled back too, and rerunning an interrupted rollback finishes it.

use super::Writer;
use crate::fleet::Fleet;
use crate::ground::sha256_hex;
use crate::ledger::{ChangeState, NewChange, RunKind, RunStatus};
use anyhow::{Result, bail};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct RolledBack {
    /// The run that was rolled back.
    pub of_run: i64,
    /// The rollback's own run.
    pub run: i64,
    pub restored: Vec<String>,
    /// What could not be restored, by connection (the state of streams a clear emptied).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Rolls back `run` (default: the newest run with writes still in force), for every
/// connection it wrote or only `connection`.
pub fn rollback(
    fleet: &Fleet,
    writer: &mut dyn Writer,
    run: Option<i64>,
    connection: Option<&str>,
) -> Result<RolledBack> {
    let of_run = match run {
        Some(r) => r,
        None => match writer.ledger().last_rollbackable()? {
            Some(r) => r,
            None => bail!(
                "nothing to roll back: no run has writes still in force (`cutover history` lists runs)"
            ),
        },
    };
    let Some(record) = writer.ledger().run(of_run)? else {
        bail!("there is no run {of_run}; `cutover history` lists runs");
    };
    let changes: Vec<_> = record
        .changes
        .into_iter()
        .filter(|c| c.state == ChangeState::Written.as_str())
        .filter(|c| connection.is_none_or(|id| c.connection_id == id))
        .collect();
    if changes.is_empty() {
        bail!(
            "run {of_run} has no writes in force{} (already rolled back?); `cutover history` shows it",
            connection
                .map(|c| format!(" for connection {c}"))
                .unwrap_or_default()
        );
    }
    // Check everything before writing anything. Documents and snapshots are read again a
    // batch at a time when they are written, so that memory does not grow with the run.
    let mut conflicts = Vec::new();
    let mut restores = Vec::new();
    let mut already = Vec::new();
    for c in changes {
        let current = fleet.documents().read(&c.key)?;
        let current_sha = sha256_hex(&current);
        if current_sha == c.before_sha256 {
            // Restored by an earlier rollback that was interrupted before it could say so.
            already.push(c);
            continue;
        }
        if Some(&current_sha) != c.after_sha256.as_ref()
            && fleet
                .documents()
                .restorable(&c.key, &current, writer.ledger().snapshot(c.id)?, &c.at)?
                .bytes
                == current
        {
            // The same, for a restore that leaves out what cannot come back.
            already.push(c);
            continue;
        }
        if Some(current_sha) != c.after_sha256 {
            let by = writer.ledger().later_write(&c.connection_id, of_run)?;
            conflicts.push(format!(
                "  {}: changed since run {of_run}{}",
                c.connection_id,
                by.map(|r| format!(" (by run {r}: roll that back first)"))
                    .unwrap_or_else(|| " by hand".into())
            ));
            continue;
        }
        restores.push(c);
    }
    if !conflicts.is_empty() {
        bail!(
            "cannot roll back run {of_run}; nothing was written.\n{}",
            conflicts.join("\n")
        );
    }
    writer.mark_rolled_back(&already.iter().map(|c| c.id).collect::<Vec<_>>())?;
    let rollback_run = writer.begin(
        RunKind::Rollback,
        &serde_json::json!({"of_run": of_run, "connection": connection}),
    )?;
    let mut restored: Vec<String> = already.iter().map(|c| c.connection_id.clone()).collect();
    let mut failed = Vec::new();
    let mut notes = Vec::new();
    for batch in restores.chunks(crate::ground::BATCH) {
        let mut bytes = Vec::with_capacity(batch.len());
        for c in batch {
            let current = fleet.documents().read(&c.key)?;
            let restorable = fleet.documents().restorable(
                &c.key,
                &current,
                writer.ledger().snapshot(c.id)?,
                &c.at,
            )?;
            notes.extend(
                restorable
                    .notes
                    .into_iter()
                    .map(|n| format!("{}: {n}", c.connection_id)),
            );
            bytes.push((current, restorable.bytes));
        }
        let changes: Vec<NewChange> = batch
            .iter()
            .zip(&bytes)
            .map(|(c, (current, snapshot))| NewChange {
                connection_id: &c.connection_id,
                key: &c.key,
                from_version: c.to_version.clone(),
                to_version: c.from_version.clone(),
                before: current,
                after: snapshot,
                steps: Vec::new(),
                actions: &[],
            })
            .collect();
        let mut done = Vec::new();
        for (c, result) in batch
            .iter()
            .zip(writer.write_batch(rollback_run, &changes)?)
        {
            match result {
                Ok(_) => {
                    done.push(c.id);
                    restored.push(c.connection_id.clone());
                }
                Err(e) => failed.push(format!("  {}: {e:#}", c.connection_id)),
            }
        }
        writer.mark_rolled_back(&done)?;
    }
    let status = if failed.is_empty() {
        RunStatus::Completed
    } else {
        RunStatus::Partial
    };
    writer.finish(
        rollback_run,
        status,
        &serde_json::json!({"of_run": of_run, "restored": restored.len(), "failed": failed.len()}),
    )?;
    if writer.ledger().run(of_run)?.is_some_and(|r| {
        r.changes
            .iter()
            .all(|c| c.state != ChangeState::Written.as_str())
    }) {
        writer.set_status(of_run, RunStatus::RolledBack)?;
    }
    if !failed.is_empty() {
        bail!(
            "rolled back {} connection(s) of run {of_run} (recorded as run {rollback_run}), but {} could not be restored; `cutover rollback --run {of_run}` again once they are fixed:\n{}",
            restored.len(),
            failed.len(),
            failed.join("\n")
        );
    }
    Ok(RolledBack {
        of_run,
        run: rollback_run,
        restored,
        notes,
    })
}
