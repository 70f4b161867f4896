//! Apply: write what a plan says, connection by connection, with a snapshot first.
//!
//! A saved plan is only applied to the inputs it was made from: every plugin digest and
//! every input document hash must still match, and each migration is run again and must
//! give the very bytes the plan promised. Anything else refuses the whole apply before
//! one byte is written. A plugin failing for one connection fails only that connection.

use crate::cores;
use crate::fleet::Fleet;
use crate::journal::Writer;
use crate::ledger::{NewChange, RunKind, Step};
use crate::plan::{ConnectionPlan, Plan, PluginRef, Status};
use crate::registry::sha256_hex;
use anyhow::{Result, bail};
use serde::Serialize;

/// What an apply did.
#[derive(Debug, Default, Serialize)]
pub struct Applied {
    /// The ledger run, if anything was written or failed.
    pub run: Option<i64>,
    pub written: Vec<String>,
    pub failed: Vec<Failure>,
    /// Connections the plan leaves alone (up to date, pinned, not opted in).
    pub unchanged: usize,
    pub recovered: usize,
}

/// A connection an apply could not migrate, and why.
#[derive(Debug, Serialize)]
pub struct Failure {
    pub id: String,
    pub error: String,
}

/// Why an apply refused to start.
pub fn refusal(plan: &Plan) -> Option<String> {
    let errors: Vec<String> = plan
        .connections
        .iter()
        .filter(|c| c.status.is_input_error())
        .map(|c| format!("  {} ({}): {}", c.id, c.status.as_str(), c.reason.as_deref().unwrap_or("")))
        .collect();
    if errors.is_empty() {
        None
    } else {
        Some(format!(
            "{} connection(s) cannot be planned; fix them (or leave them out with --only) and apply again. Nothing was written.\n{}",
            errors.len(),
            errors.join("\n")
        ))
    }
}

/// Checks a saved plan against the fleet as it is now. `replan` recomputes one
/// connection's plan from the current document.
pub fn check_saved(
    plan: &Plan,
    fleet: &Fleet,
    plugins: &[PluginRef],
    mut replan: impl FnMut(&ConnectionPlan) -> Result<ConnectionPlan>,
) -> Result<Vec<ConnectionPlan>> {
    if plan.fleet != fleet.root().display().to_string() {
        bail!("the plan was made for fleet {}, not {}; plan again", plan.fleet, fleet.root().display());
    }
    if plan.plugins != plugins {
        bail!("the fleet's plugins changed since the plan was made (added, removed or rebuilt); plan again. Nothing was written.");
    }
    let mut fresh = Vec::new();
    let mut stale = Vec::new();
    for planned in plan.connections.iter().filter(|c| c.status.writes() || c.status == Status::Failed) {
        let now = replan(planned)?;
        if now.input_sha256 != planned.input_sha256 {
            stale.push(format!("  {}: its document changed since the plan", planned.id));
        } else if now.status != planned.status || now.output_sha256 != planned.output_sha256 {
            stale.push(format!(
                "  {}: the migration no longer gives what the plan showed (was {}, now {}){}",
                planned.id,
                planned.status.as_str(),
                now.status.as_str(),
                if now.status == planned.status { "; is a plugin non-deterministic?" } else { "" }
            ));
        } else {
            // Apply migrates again when it writes; keeping every output here would make
            // memory grow with the fleet.
            fresh.push(ConnectionPlan { output: None, ..now });
        }
    }
    if !stale.is_empty() {
        bail!("the plan is stale; plan again. Nothing was written.\n{}", stale.join("\n"));
    }
    Ok(fresh)
}

/// Writes every connection the plan migrates or upgrades, and records the failures.
///
/// Plans keep hashes, not documents, so that a plan of any size fits in memory: a batch at
/// a time, `migrate` plans each connection again (with its output document) and the
/// result is written only if it is exactly what was planned (same input, status and
/// output hashes). A connection whose document changed since, or whose plugin no longer
/// gives the planned output, fails alone and is left as it is.
pub fn apply(
    fleet: &Fleet,
    plan: &Plan,
    connections: &[ConnectionPlan],
    writer: &mut Writer,
    migrate: impl Fn(&ConnectionPlan) -> Result<ConnectionPlan> + Sync,
    mut progress: impl FnMut(&ConnectionPlan),
) -> Result<Applied> {
    let mut applied = Applied {
        recovered: writer.recovery.completed + writer.recovery.aborted,
        unchanged: plan.connections.iter().filter(|c| !c.status.writes() && c.status != Status::Failed).count(),
        ..Default::default()
    };
    let to_write: Vec<&ConnectionPlan> = connections.iter().filter(|c| c.status.writes()).collect();
    let failed: Vec<&ConnectionPlan> = connections.iter().filter(|c| c.status == Status::Failed).collect();
    if to_write.is_empty() && failed.is_empty() {
        return Ok(applied);
    }
    let detail = serde_json::json!({"options": plan.options, "summary": plan.summary()});
    let run = writer.begin(RunKind::Apply, &detail)?;
    applied.run = Some(run);
    for c in failed {
        let reason = c.reason.clone().unwrap_or_default();
        writer.ledger.record_failure(run, &c.id, &c.file, &c.input_sha256, &reason)?;
        tracing::warn!(connection = %c.id, error = %reason, "connection failed");
        applied.failed.push(Failure { id: c.id.clone(), error: reason });
    }
    let batches: Vec<&[&ConnectionPlan]> = to_write.chunks(BATCH).collect();
    let migrate_batch = |batch: &[&ConnectionPlan]| cores::map(batch, |planned| migrate_again(fleet, planned, &migrate));
    // The next batch is migrated (on every core) while this one is written (mostly waiting
    // on the disk): the two overlap, and a batch is written only once it is migrated.
    std::thread::scope(|scope| -> Result<()> {
        let mut next = batches.first().map(|&batch| scope.spawn(move || migrate_batch(batch)));
        for (k, &batch) in batches.iter().enumerate() {
            let migrated = next.take().expect("each batch is migrated before it is written").join().expect("a migrating worker panicked");
            next = batches.get(k + 1).map(|&batch| scope.spawn(move || migrate_batch(batch)));
            let mut ready = Vec::with_capacity(batch.len());
            for (&planned, migrated) in batch.iter().zip(migrated) {
                match migrated {
                    Ok(now) => ready.push(now),
                    Err(e) => {
                        let error = format!("{e:#}");
                        writer.ledger.record_failure(run, &planned.id, &planned.file, &planned.input_sha256, &error)?;
                        tracing::error!(connection = %planned.id, %error, "not written");
                        applied.failed.push(Failure { id: planned.id.clone(), error });
                        progress(planned);
                    }
                }
            }
            let changes: Vec<NewChange> = ready.iter().map(|(c, before)| new_change(c, before)).collect();
            for ((c, _), result) in ready.iter().zip(writer.write_batch(run, &changes)?) {
                match result {
                    Ok(_) => {
                        tracing::info!(connection = %c.id, from = ?c.from, to = ?c.to, "written");
                        applied.written.push(c.id.clone());
                    }
                    Err(e) => {
                        tracing::error!(connection = %c.id, error = %format!("{e:#}"), "write failed");
                        applied.failed.push(Failure { id: c.id.clone(), error: format!("{e:#}") });
                    }
                }
                progress(c);
            }
        }
        Ok(())
    })?;
    let status = if applied.failed.is_empty() { "completed" } else if applied.written.is_empty() { "failed" } else { "partial" };
    let detail = serde_json::json!({
        "options": plan.options,
        "summary": plan.summary(),
        "written": applied.written.len(),
        "failed": applied.failed.len(),
    });
    writer.ledger.finish_run(run, status, &detail)?;
    Ok(applied)
}

/// Plans `planned` again with its output, and reads the document it replaces; refuses
/// unless both are exactly what was planned.
fn migrate_again(
    fleet: &Fleet,
    planned: &ConnectionPlan,
    migrate: &impl Fn(&ConnectionPlan) -> Result<ConnectionPlan>,
) -> Result<(ConnectionPlan, Vec<u8>)> {
    let now = migrate(planned)?;
    let before = fleet.store().read(&planned.file)?;
    if now.input_sha256 != planned.input_sha256 || sha256_hex(&before) != planned.input_sha256 {
        bail!("its document changed since it was planned; plan again");
    }
    if now.status != planned.status || now.output_sha256 != planned.output_sha256 || now.output.is_none() {
        bail!("its migration no longer gives the planned output (is a plugin non-deterministic?); plan again");
    }
    Ok((now, before))
}

/// How many connections are written per batch: their intents share one ledger commit and
/// their documents one flush. Large enough to amortize the flushes, small enough that an
/// interrupted run leaves little to settle and a batch's snapshots stay in memory briefly.
pub const BATCH: usize = 256;

/// The journal entry of one planned write.
fn new_change<'a>(c: &'a ConnectionPlan, before: &'a [u8]) -> NewChange<'a> {
    NewChange {
        connection_id: &c.id,
        file: &c.file,
        from_version: c.from.as_ref().map(ToString::to_string),
        to_version: c.to.as_ref().map(ToString::to_string),
        before,
        after: c.output.as_deref().expect("a writing plan carries its output"),
        steps: c
            .steps
            .iter()
            .map(|s| Step {
                from_version: s.from.to_string(),
                to_version: s.to.to_string(),
                plugin_file: s.plugin.as_ref().map(|p| p.file.clone()),
                plugin_sha256: s.plugin.as_ref().map(|p| p.sha256.clone()),
                plugin_signer: s.plugin.as_ref().and_then(|p| p.signer.clone()),
                input_sha256: s.input_sha256.clone(),
                output_sha256: s.output_sha256.clone(),
            })
            .collect(),
    }
}
