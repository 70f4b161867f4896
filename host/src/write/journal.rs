//! Journaled writes, for stores that share no transaction with the ledger: the directory
//! (and a platform's API).
//!
//! For each batch: record every intent with the snapshot of its old document and commit
//! (one ledger transaction); replace the documents through the store's writer; mark each
//! intent written or aborted (one more transaction). A crash between the two commits
//! leaves intents that the next run settles by reading each document: it holds the old
//! bytes (`aborted`), the new ones (`written`), or, for a store whose one write takes
//! several requests, something in between that the store's writer finishes
//! ([`DocumentWriter::settle`]). Anything else was written by someone else and stops the
//! run before it writes.

use super::{Writer, lock::FleetLock};
use crate::fleet::Fleet;
use crate::ground::failpoint;
use crate::ground::sha256_hex;
use crate::ledger::sqlite::SqliteLedger;
use crate::ledger::{ChangeState, Ledger, NewChange, NewFailure, RunKind, RunStatus};
use crate::store::{DocumentWriter, Settled, StoreError, Write};
use anyhow::{Context, Result, bail};
use std::path::Path;

/// A run's writes through the journal, holding the fleet lock.
pub struct Journaled<'a> {
    ledger: SqliteLedger,
    documents: Box<dyn DocumentWriter + 'a>,
    settled: usize,
    _lock: FleetLock,
}

impl<'a> Journaled<'a> {
    /// Locks the fleet, opens the ledger at `path` and settles interrupted runs.
    pub fn open(fleet: &'a Fleet, path: &Path, command: &str) -> Result<Self> {
        let dir = path.parent().context("the ledger is inside a directory")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let lock = FleetLock::acquire(dir, command)?;
        let ledger = SqliteLedger::open(path)?;
        let documents = fleet.documents().writer()?;
        let mut journal = Self {
            ledger,
            documents,
            settled: 0,
            _lock: lock,
        };
        journal
            .settle(fleet)
            .context("settling an interrupted run")?;
        Ok(journal)
    }

    /// Settles every intent an interrupted run left against its document, and marks
    /// interrupted runs. Refuses to go on when a document holds neither side of its write.
    fn settle(&mut self, fleet: &Fleet) -> Result<()> {
        let mut marks = Vec::new();
        let mut conflicts = Vec::new();
        for p in self.ledger.pending()? {
            let current = fleet.documents().read(&p.key).map(|b| sha256_hex(&b)).ok();
            let state = if current.is_some() && current == p.after_sha256 {
                Settled::Written
            } else if current.as_deref() == Some(p.before_sha256.as_str())
                || (current.is_none() && p.before.is_empty())
            {
                // The old bytes, or no document where the write was to create one.
                Settled::Aborted
            } else {
                let after = p.after.as_deref().unwrap_or_default();
                match p.after {
                    Some(_) => self.documents.settle(&Write {
                        key: &p.key,
                        before: &p.before,
                        after,
                        actions: &p.actions,
                    })?,
                    None => Settled::Conflict,
                }
            };
            match state {
                Settled::Written => marks.push((p.change, ChangeState::Written)),
                Settled::Aborted => marks.push((p.change, ChangeState::Aborted)),
                Settled::Conflict => conflicts.push(fleet.documents().display_key(&p.key)),
            }
        }
        self.ledger.mark(&marks)?;
        self.settled = marks.len();
        self.ledger.interrupt_running()?;
        if self.settled > 0 {
            tracing::warn!(
                settled = self.settled,
                "settled writes of an interrupted run"
            );
        }
        if !conflicts.is_empty() {
            bail!(
                "an interrupted run left {} document(s) that hold neither the old nor the new bytes ({}); something else wrote them. Inspect them and `cutover history`, then restore them by hand",
                conflicts.len(),
                conflicts.join(", ")
            );
        }
        Ok(())
    }
}

impl Writer for Journaled<'_> {
    fn ledger(&self) -> &dyn Ledger {
        &self.ledger
    }

    fn settled(&self) -> usize {
        self.settled
    }

    fn begin(&mut self, kind: RunKind, detail: &serde_json::Value) -> Result<i64> {
        self.ledger.begin_run(kind, detail)
    }

    /// All intents (with snapshots) in one committed transaction, the documents replaced
    /// together ([`DocumentWriter::write_batch`]), then all marks in one transaction.
    fn write_batch(&mut self, run: i64, changes: &[NewChange]) -> Result<Vec<Result<i64>>> {
        let ids =
            self.ledger
                .record_intents(run, changes, self.documents.settles_partial_writes())?;
        for _ in changes {
            failpoint("after-intent");
        }
        let writes: Vec<Write> = changes
            .iter()
            .map(|c| Write {
                key: c.key,
                before: c.before,
                after: c.after,
                actions: c.actions,
            })
            .collect();
        let results = self
            .documents
            .write_batch(&writes, &mut |_| failpoint("after-write"));
        // A write cut part-way keeps its intent, for the next run to finish.
        let partial = |r: &Result<()>| {
            r.as_ref().err().is_some_and(|e| {
                matches!(
                    e.downcast_ref::<StoreError>(),
                    Some(StoreError::Partial { .. })
                )
            })
        };
        let marks: Vec<(i64, ChangeState)> = ids
            .iter()
            .zip(&results)
            .filter(|(_, r)| !partial(r))
            .map(|(id, r)| {
                let state = if r.is_ok() {
                    ChangeState::Written
                } else {
                    ChangeState::Aborted
                };
                (*id, state)
            })
            .collect();
        self.ledger.mark(&marks)?;
        Ok(ids
            .into_iter()
            .zip(results)
            .zip(changes)
            .map(|((id, r), c)| {
                r.map(|()| id)
                    .with_context(|| format!("writing connection {}", c.connection_id))
            })
            .collect())
    }

    fn record_failure(&mut self, run: i64, failure: &NewFailure) -> Result<()> {
        self.ledger.record_failure(run, failure)
    }

    fn mark_rolled_back(&mut self, changes: &[i64]) -> Result<()> {
        let marks: Vec<(i64, ChangeState)> = changes
            .iter()
            .map(|&c| (c, ChangeState::RolledBack))
            .collect();
        self.ledger.mark(&marks)
    }

    fn finish(&mut self, run: i64, status: RunStatus, detail: &serde_json::Value) -> Result<()> {
        self.ledger.finish_run(run, status, detail)
    }

    fn set_status(&mut self, run: i64, status: RunStatus) -> Result<()> {
        self.ledger.set_status(run, status)
    }

    fn import_history(&mut self, source: &dyn Ledger) -> Result<usize> {
        self.ledger
            .import_history(&super::history_with_snapshots(source)?)
    }
}
