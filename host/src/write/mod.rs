//! The write path: the one way cutover changes a connection document, whatever the store.
//!
//! Every mutating run (an apply, a rollback, a pin, an import) opens a [`Writer`], which
//! excludes other writers, settles what an interrupted run left, and then records the run,
//! each write with the snapshot of what it replaces, each failure, and the run's end. How
//! a write is made safe depends on what the store can do, and only the writer knows:
//!
//! - [`journal`]: stores without transactions shared with the ledger (the directory, a
//!   platform's API). The intent and the snapshot are committed to the ledger first, the
//!   documents replaced, then the intent marked; a crash in between is settled at the next
//!   run by comparing each document with both sides of its intent.
//! - PostgreSQL ([`crate::store::postgres`]): the documents, their snapshots and the ledger
//!   rows of a batch commit in one transaction; nothing is left to settle.
//!
//! [`apply`] and [`rollback`] are the runs built on it.

pub mod apply;
pub mod journal;
pub mod lock;
pub mod pin;
pub mod rollback;

use crate::fleet::Fleet;
use crate::ledger::{Ledger, NewChange, NewFailure, RunKind};
use crate::store::LedgerHome;
use anyhow::Result;

/// A mutating run's access to the fleet, held for the run's length.
pub trait Writer {
    /// The ledger, as the run sees it (for rollback's checks).
    fn ledger(&self) -> &dyn Ledger;
    /// How many writes of interrupted runs opening the writer settled.
    fn settled(&self) -> usize;
    /// Starts a run.
    fn begin(&mut self, kind: RunKind, detail: &serde_json::Value) -> Result<i64>;
    /// Writes several documents, each only if it still holds what its change replaces,
    /// each with its snapshot and ledger rows. One result per change, in order (the
    /// change's ledger id, or why that document was not written); an error for the whole
    /// batch means the ledger itself could not be written, and nothing of the batch was.
    fn write_batch(&mut self, run: i64, changes: &[NewChange]) -> Result<Vec<Result<i64>>>;
    /// Records a connection the run could not migrate.
    fn record_failure(&mut self, run: i64, failure: &NewFailure) -> Result<()>;
    /// Marks changes of an earlier run as rolled back.
    fn mark_rolled_back(&mut self, changes: &[i64]) -> Result<()>;
    /// Ends a run with a status (`completed`, `partial`, `failed`).
    fn finish(&mut self, run: i64, status: &str, detail: &serde_json::Value) -> Result<()>;
    /// Changes a finished run's status (one whose writes were all rolled back).
    fn set_status(&mut self, run: i64, status: &str) -> Result<()>;
    /// Copies every run of another fleet's ledger, with its changes, snapshots and steps,
    /// keeping their ids; refused unless this ledger has no runs yet. Returns how many.
    fn import_history(&mut self, source: &dyn Ledger) -> Result<usize>;
}

/// Every run of a ledger, oldest first, each change with its snapshot (none for a failure).
pub fn history_with_snapshots(
    source: &dyn Ledger,
) -> Result<Vec<(crate::ledger::Run, Vec<Option<Vec<u8>>>)>> {
    let mut runs = source.runs(None, usize::MAX)?;
    runs.reverse();
    runs.into_iter()
        .map(|run| {
            let snapshots = run
                .changes
                .iter()
                .map(|c| {
                    if c.state == "failed" {
                        Ok(None)
                    } else {
                        source.snapshot(c.id).map(Some)
                    }
                })
                .collect::<Result<_>>()?;
            Ok((run, snapshots))
        })
        .collect()
}

/// Opens the write path of `fleet` for one run of `command` (for the lock holder's name).
pub fn open<'a>(fleet: &'a Fleet, command: &str) -> Result<Box<dyn Writer + 'a>> {
    match fleet.ledger_home() {
        LedgerHome::Sqlite(path) => Ok(Box::new(journal::Journaled::open(fleet, path, command)?)),
        LedgerHome::Postgres(pg) => Ok(Box::new(pg.writer(command)?)),
    }
}

/// Writes one document: [`Writer::write_batch`] for a batch of one.
pub fn write_one(writer: &mut dyn Writer, run: i64, change: &NewChange) -> Result<i64> {
    writer
        .write_batch(run, std::slice::from_ref(change))?
        .pop()
        .expect("one result per change")
}

/// Crash-test hooks: with `CUTOVER_FAILPOINT=<name>:<n>`, the process kills itself
/// (`SIGKILL`, no cleanup) the `n`th time it passes failpoint `<name>`; with
/// `CUTOVER_PAUSE=<name>:<ms>[,<name>:<ms>…]` it sleeps there each time (so that tests
/// can have several workers overlap); with `CUTOVER_GATE=<name>:<path>[,…]` it creates
/// `<path>.reached` there and waits until `<path>` exists (so that a test can act at that
/// very moment: change a document, restart the server, let a run end). Only the crash
/// consistency tests set them.
pub fn failpoint(name: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static HITS: AtomicUsize = AtomicUsize::new(0);
    if let Ok(specs) = std::env::var("CUTOVER_GATE") {
        for (point, path) in specs.split(',').filter_map(|spec| spec.split_once(':')) {
            if point == name {
                let gate = std::path::Path::new(path);
                let _ = std::fs::write(gate.with_extension("reached"), b"");
                while !gate.exists() {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
        }
    }
    if let Ok(specs) = std::env::var("CUTOVER_PAUSE") {
        for (point, ms) in specs.split(',').filter_map(|spec| spec.split_once(':')) {
            if point == name {
                std::thread::sleep(std::time::Duration::from_millis(ms.parse().unwrap_or(0)));
            }
        }
    }
    let Ok(spec) = std::env::var("CUTOVER_FAILPOINT") else {
        return;
    };
    let Some((point, n)) = spec.split_once(':') else {
        return;
    };
    if point != name {
        return;
    }
    let n: usize = n.parse().unwrap_or(1);
    if HITS.fetch_add(1, Ordering::SeqCst) + 1 == n {
        let _ = std::process::Command::new("kill")
            .args(["-9", &std::process::id().to_string()])
            .status();
        std::process::abort();
    }
}
