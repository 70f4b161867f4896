//! One worker of a shared run: it leases a batch at a time, commits each batch's writes
//! while it still holds the lease, renews its leases from a thread of its own, and records
//! the run's end when it commits the last batch.

use super::{Committed, Lease, Next, RunEnd, take_shared_lock};
use crate::ground::{failpoint, now};
use crate::ledger::{NewChange, NewFailure, RunStatus};
use crate::plan::{ConnectionPlan, Status};
use crate::store::postgres::PgFleet;
use crate::store::postgres::connect::{RECONNECT_FOR, Target, is_connection_lost};
use crate::write::transaction::commit;
use anyhow::{Context, Result};
use postgres::Client;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Renews a worker's leases and heartbeat every third of a lease, on its own connection,
/// until told to stop. A lost connection is opened again at the next turn.
pub(super) fn renew(stop: &AtomicBool, target: &Target, worker: &str, seconds: u64) {
    let period = Duration::from_millis(seconds * 1000 / 3).max(Duration::from_millis(100));
    let mut client: Option<Client> = None;
    let mut next = Instant::now() + period;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        if Instant::now() < next {
            continue;
        }
        next = Instant::now() + period;
        let c = match client.as_mut() {
            Some(c) if !c.is_closed() => c,
            _ => match target.connect() {
                Ok(c) => client.insert(c),
                Err(e) => {
                    tracing::warn!("renewing leases: {e:#}");
                    continue;
                }
            },
        };
        let seconds = seconds as f64;
        let renewed = c
            .execute(
                "UPDATE cutover.batches SET lease_until = now() + $2 * interval '1 second' WHERE worker = $1 AND state = 'leased'",
                &[&worker, &seconds],
            )
            .and_then(|_| c.execute("UPDATE cutover.workers SET heartbeat_at = now() WHERE id = $1", &[&worker]));
        if let Err(e) = renewed {
            tracing::warn!(
                "renewing leases: {}",
                crate::store::postgres::connect::source_chain(&e)
            );
            client = None;
        }
    }
}

/// One worker of a shared run.
pub struct Worker<'f> {
    pub(super) fleet: &'f PgFleet,
    pub(super) client: Client,
    pub(super) id: String,
    pub(super) run: i64,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) renewer: Option<std::thread::JoinHandle<()>>,
}

impl Worker<'_> {
    pub fn run(&self) -> i64 {
        self.run
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs `f` on the worker's connection; a lost connection is opened again (with the
    /// shared lock taken again) and `f` retried, for up to two minutes.
    fn retrying<T>(
        &mut self,
        what: &str,
        mut f: impl FnMut(&mut Client, &str, i64) -> Result<T>,
    ) -> Result<T> {
        let deadline = Instant::now() + RECONNECT_FOR;
        let mut wait = Duration::from_millis(200);
        loop {
            match f(&mut self.client, &self.id, self.run) {
                Ok(value) => return Ok(value),
                Err(e) if is_connection_lost(&e) && Instant::now() < deadline => {
                    self.fleet.target().lost();
                    tracing::warn!("{what}: lost the database ({e:#}); reconnecting");
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(5));
                    let reconnected = self.fleet.connect_new().and_then(|mut client| {
                        take_shared_lock(&mut client, self.fleet.summary_text())?;
                        Ok(client)
                    });
                    match reconnected {
                        Ok(client) => self.client = client,
                        Err(e) if is_connection_lost(&e) => {}
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("{what} (run {}, worker {})", self.run, self.id));
                }
            }
        }
    }

    /// The next batch to work on, besides the ones in `holding`: a pending one, one whose
    /// worker's lease expired, or one leased to this worker that it lost track of (its
    /// answer lost with a connection). Does not wait: [`Next::Wait`] while other workers
    /// hold the rest.
    pub fn next(&mut self, holding: &[i32]) -> Result<Next> {
        let seconds = self.fleet.lease_seconds() as f64;
        let next = self.retrying("leasing a batch", |client, id, run| {
            let mut tx = client.transaction()?;
            let row = tx.query_opt(
                "SELECT batch, state, worker FROM cutover.batches
                 WHERE run_id = $1 AND NOT (batch = ANY($3))
                   AND (state = 'pending' OR (state = 'leased' AND (lease_until < now() OR worker = $2)))
                 ORDER BY (worker = $2) DESC NULLS LAST, batch LIMIT 1 FOR UPDATE SKIP LOCKED",
                &[&run, &id, &holding],
            )?;
            let Some(row) = row else {
                let open: i64 = tx
                    .query_one("SELECT count(*) FROM cutover.batches WHERE run_id = $1 AND state <> 'done' AND NOT (batch = ANY($2))", &[&run, &holding])?
                    .get(0);
                tx.commit()?;
                return Ok(if open == 0 { Next::Done } else { Next::Wait });
            };
            let (batch, state, holder): (i32, String, Option<String>) = (row.get(0), row.get(1), row.get(2));
            tx.execute(
                "UPDATE cutover.batches SET state = 'leased', worker = $3, lease_until = now() + $4 * interval '1 second', attempts = attempts + 1
                 WHERE run_id = $1 AND batch = $2",
                &[&run, &batch, &id, &seconds],
            )?;
            let items = tx.query(
                "SELECT key, connection_id, status, input_sha256, output_sha256 FROM cutover.run_items WHERE run_id = $1 AND batch = $2 ORDER BY seq",
                &[&run, &batch],
            )?;
            tx.commit()?;
            let taken_over = state == "leased" && holder.as_deref() != Some(id);
            Ok(Next::Lease(Lease { batch, items: items.iter().map(item).collect::<Result<_>>()?, taken_over }))
        })?;
        if let Next::Lease(lease) = &next {
            if lease.taken_over {
                tracing::warn!(
                    batch = lease.batch,
                    "took over a batch whose worker's lease expired"
                );
            }
            failpoint("worker-leased");
        }
        Ok(next)
    }

    /// Commits a batch: its documents, snapshots, ledger rows and failures, and the batch
    /// marked done, in one transaction, only while this worker holds its lease.
    pub fn commit(
        &mut self,
        lease: &Lease,
        changes: &[NewChange],
        failures: &[NewFailure],
    ) -> Result<Committed> {
        failpoint("worker-committing");
        let result = self.retrying("committing a batch", |client, id, run| {
            let mut tx = client.transaction()?;
            let held = tx.execute(
                "UPDATE cutover.batches SET state = 'done', lease_until = NULL WHERE run_id = $1 AND batch = $2 AND worker = $3 AND state = 'leased'",
                &[&run, &lease.batch, &id],
            )?;
            if held == 0 {
                // Done by this worker already (a commit whose answer the connection lost),
                // or taken over by another.
                let done_here: bool = tx
                    .query_one("SELECT count(*) > 0 FROM cutover.batches WHERE run_id = $1 AND batch = $2 AND worker = $3 AND state = 'done'", &[&run, &lease.batch, &id])?
                    .get(0);
                return Ok(if done_here { Some(recorded(&mut tx, run, id, changes)?) } else { None });
            }
            let results = commit(&mut tx, run, id, changes, failures)?;
            let written = results.iter().filter(|r| r.is_ok()).count() as i32;
            let failed = (results.len() - written as usize + failures.len()) as i32;
            tx.execute("UPDATE cutover.batches SET written = $3, failed = $4 WHERE run_id = $1 AND batch = $2", &[&run, &lease.batch, &written, &failed])?;
            tx.execute("UPDATE cutover.workers SET written = written + $2, failed = failed + $3, heartbeat_at = now() WHERE id = $1", &[&id, &written, &failed])?;
            failpoint("worker-in-commit");
            tx.commit()?;
            Ok(Some(results))
        })?;
        failpoint("worker-committed");
        Ok(match result {
            Some(results) => Committed::Done(results),
            None => {
                tracing::warn!(
                    batch = lease.batch,
                    "lost the lease on a batch to another worker; leaving it to them"
                );
                Committed::LeaseLost
            }
        })
    }

    /// Leaves the run; the worker that finds every batch done records the run's end.
    pub fn finish(mut self) -> Result<RunEnd> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.join();
        }
        self.retrying("ending the run", |client, id, run| {
            let mut tx = client.transaction()?;
            let status: String = tx.query_one("SELECT status FROM cutover.runs WHERE id = $1 FOR UPDATE", &[&run])?.get(0);
            let open: i64 = tx.query_one("SELECT count(*) FROM cutover.batches WHERE run_id = $1 AND state <> 'done'", &[&run])?.get(0);
            let totals = tx.query_one(
                "SELECT (SELECT count(*) FROM cutover.run_items WHERE run_id = $1 AND status IN ('migrate', 'upgrade', 'failed')),
                        count(*) FILTER (WHERE state = 'written' OR state = 'rolled-back'),
                        count(*) FILTER (WHERE state = 'failed'),
                        (SELECT count(*) FROM cutover.workers WHERE run_id = $1)
                 FROM cutover.changes WHERE run_id = $1",
                &[&run],
            )?;
            let (connections, written, failed, workers): (i64, i64, i64, i64) = (totals.get(0), totals.get(1), totals.get(2), totals.get(3));
            tx.execute("UPDATE cutover.workers SET state = 'done', heartbeat_at = now() WHERE id = $1", &[&id])?;
            let mut end = RunEnd { run, ended: false, status: status.clone(), connections, written, failed, workers };
            if open == 0 && status == RunStatus::Running.as_str() {
                end.status = RunStatus::ended(written as usize, failed as usize).as_str().into();
                let detail = serde_json::json!({"shared": true, "connections": connections, "written": written, "failed": failed, "workers": workers});
                tx.execute(
                    "UPDATE cutover.runs SET status = $2, finished_at = $3, detail = detail || $4 WHERE id = $1",
                    &[&run, &end.status, &now(), &detail],
                )?;
                end.ended = true;
            }
            tx.commit()?;
            Ok(end)
        })
    }
}

impl Drop for Worker<'_> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(renewer) = self.renewer.take() {
            let _ = renewer.join();
        }
    }
}

/// A run item as the plan of its connection (what apply checks the migration against).
pub(super) fn item(row: &postgres::Row) -> Result<ConnectionPlan> {
    let status: String = row.get(2);
    let status: Status = serde_json::from_value(serde_json::Value::String(status.clone()))
        .with_context(|| format!("a run item with status {status:?}"))?;
    Ok(ConnectionPlan::of_item(
        row.get(0),
        row.get(1),
        status,
        row.get(3),
        row.get(4),
    ))
}

/// The ledger ids of a batch this worker committed, found again after its answer was lost.
fn recorded(
    tx: &mut postgres::Transaction<'_>,
    run: i64,
    worker: &str,
    changes: &[NewChange],
) -> Result<Vec<Result<i64>>> {
    let keys: Vec<&str> = changes.iter().map(|c| c.key).collect();
    let rows = tx.query(
        "SELECT key, id FROM cutover.changes WHERE run_id = $1 AND worker = $2 AND key = ANY($3) AND state = 'written'",
        &[&run, &worker, &keys],
    )?;
    let ids: std::collections::HashMap<String, i64> =
        rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    Ok(changes
        .iter()
        .map(|c| {
            ids.get(c.key).copied().with_context(|| {
                format!(
                    "connection {} was not written (its document changed since it was planned)",
                    c.connection_id
                )
            })
        })
        .collect())
}
