//! Journaled writes: the one way cutover changes a connection document.
//!
//! Every write, whether an apply, a rollback or a pin, goes through [`Writer`]: take the
//! fleet lock, settle anything an interrupted run left, then for each document record the
//! intent with a snapshot of the old bytes (committed), replace the document atomically,
//! and mark the change written. See [`crate::ledger`] for how a crash between those steps
//! is settled.

use crate::fleet::Fleet;
use crate::ledger::{Ledger, NewChange, Recovery, RunKind};
use crate::lock::FleetLock;
use anyhow::{Context, Result, bail};

/// A mutating run on a fleet, holding its lock.
pub struct Writer<'a> {
    fleet: &'a Fleet,
    pub ledger: Ledger,
    pub recovery: Recovery,
    _lock: FleetLock,
}

impl<'a> Writer<'a> {
    /// Locks the fleet, opens the ledger and settles interrupted runs.
    pub fn open(fleet: &'a Fleet, command: &str) -> Result<Self> {
        let dir = fleet.state_dir()?;
        let lock = FleetLock::acquire(&dir, command)?;
        let ledger = Ledger::open(&dir.join("ledger.sqlite"))?;
        let recovery = ledger.recover(fleet.store()).context("settling an interrupted run")?;
        let leftovers = fleet.store().remove_leftovers().context("removing what an interrupted write left")?;
        if leftovers > 0 {
            tracing::warn!(leftovers, "removed temporary files an interrupted write left");
        }
        if recovery.completed + recovery.aborted > 0 {
            tracing::warn!(
                completed = recovery.completed,
                aborted = recovery.aborted,
                "settled writes of an interrupted run"
            );
        }
        if !recovery.conflicts.is_empty() {
            let files: Vec<&str> = recovery.conflicts.iter().map(|(_, f)| f.as_str()).collect();
            bail!(
                "an interrupted run left {} document(s) that hold neither the old nor the new bytes ({}); something else wrote them. Inspect them and `cutover history`, then restore them by hand",
                files.len(),
                files.join(", ")
            );
        }
        Ok(Self { fleet, ledger, recovery, _lock: lock })
    }

    pub fn begin(&self, kind: RunKind, detail: &serde_json::Value) -> Result<i64> {
        self.ledger.begin_run(kind, detail)
    }

    /// Writes one document: journal (with snapshot), atomic replace, mark written.
    pub fn write(&mut self, run: i64, change: &NewChange) -> Result<i64> {
        let id = self.ledger.record_intent(run, change)?;
        failpoint("after-intent");
        if let Err(e) = self.fleet.store().write(change.file, change.after) {
            self.ledger.mark(id, "aborted")?;
            return Err(e).with_context(|| format!("writing connection {}", change.connection_id));
        }
        failpoint("after-write");
        self.ledger.mark(id, "written")?;
        Ok(id)
    }

    /// Writes several documents as one batch, with the same guarantees as [`write`] for
    /// each: all intents (with snapshots) in one committed transaction, the documents
    /// replaced with shared flushes ([`crate::store::Store::write_batch`]), then all
    /// marks in one transaction. One result per change, in order.
    ///
    /// [`write`]: Self::write
    pub fn write_batch(&mut self, run: i64, changes: &[NewChange]) -> Result<Vec<Result<i64>>> {
        let ids = self.ledger.record_intents(run, changes)?;
        for _ in changes {
            failpoint("after-intent");
        }
        let docs: Vec<(&str, &[u8])> = changes.iter().map(|c| (c.file, c.after)).collect();
        let results = self.fleet.store().write_batch(&docs, &mut |_| failpoint("after-write"));
        let marks: Vec<(i64, &str)> =
            ids.iter().zip(&results).map(|(id, r)| (*id, if r.is_ok() { "written" } else { "aborted" })).collect();
        self.ledger.mark_many(&marks)?;
        Ok(ids
            .into_iter()
            .zip(results)
            .zip(changes)
            .map(|((id, r), c)| r.map(|()| id).with_context(|| format!("writing connection {}", c.connection_id)))
            .collect())
    }
}

/// The run is over: the store lets go of what it kept for the next batch.
impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.fleet.store().release_spares() {
            tracing::warn!("{e:#}; `cutover` removes it at the start of the next run");
        }
    }
}

/// Crash-test hook: with `CUTOVER_FAILPOINT=<name>:<n>`, the process kills itself
/// (`SIGKILL`, no cleanup) the `n`th time it passes failpoint `<name>`. Only the crash
/// consistency tests set it.
pub fn failpoint(name: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static HITS: AtomicUsize = AtomicUsize::new(0);
    let Ok(spec) = std::env::var("CUTOVER_FAILPOINT") else { return };
    let Some((point, n)) = spec.split_once(':') else { return };
    if point != name {
        return;
    }
    let n: usize = n.parse().unwrap_or(1);
    if HITS.fetch_add(1, Ordering::SeqCst) + 1 == n {
        let _ = std::process::Command::new("kill").args(["-9", &std::process::id().to_string()]).status();
        std::process::abort();
    }
}
