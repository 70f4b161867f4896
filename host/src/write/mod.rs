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
//! - [`transaction`]: a PostgreSQL fleet ([`crate::store::postgres`]): the documents, their
//!   snapshots and the ledger rows of a batch commit in one transaction; nothing is left to
//!   settle. Several hosts share one apply through [`shared`] runs.
//!
//! [`apply`] and [`rollback`] are the runs built on it.

pub mod apply;
pub mod journal;
pub mod lock;
pub mod pin;
pub mod rollback;
pub mod shared;
pub mod transaction;

use crate::fleet::Fleet;
use crate::ledger::{ChangeState, Ledger, NewChange, NewFailure, RunKind, RunStatus};
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
    /// Ends a run with a status (completed, partial, failed).
    fn finish(&mut self, run: i64, status: RunStatus, detail: &serde_json::Value) -> Result<()>;
    /// Changes a finished run's status (one whose writes were all rolled back).
    fn set_status(&mut self, run: i64, status: RunStatus) -> Result<()>;
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
                    if c.state == ChangeState::Failed.as_str() {
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
        LedgerHome::Postgres(pg) => Ok(Box::new(transaction::PgWriter::open(pg, command)?)),
    }
}

/// Writes one document: [`Writer::write_batch`] for a batch of one.
pub fn write_one(writer: &mut dyn Writer, run: i64, change: &NewChange) -> Result<i64> {
    writer
        .write_batch(run, std::slice::from_ref(change))?
        .pop()
        .expect("one result per change")
}
