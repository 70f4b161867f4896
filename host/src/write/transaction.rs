//! Writes to a PostgreSQL fleet: each batch of documents commits in one transaction with
//! its snapshots and ledger rows.
//!
//! A [`PgWriter`] holds a session-level advisory lock for as long as it lives: shared for
//! apply workers (any number of them, on any hosts, work on one run together), exclusive
//! for a rollback, a pin or an import, which must see no other writer. The server frees the
//! lock when the session ends, so a killed process never leaves the fleet locked.

use super::Writer;
use crate::ground::failpoint;
use crate::ground::sha256_hex;
use crate::ground::{actor, now};
use crate::ledger::{Ledger, NewChange, NewFailure, RunKind, RunStatus};
use crate::store::Write;
use crate::store::postgres::connect::explain;
use crate::store::postgres::documents::replace;
use crate::store::postgres::{PgFleet, PgLedger};
use anyhow::{Context, Result, bail};
use postgres::{Client, GenericClient};
use std::collections::HashMap;

/// Names the fleet's writer lock among advisory locks.
pub(super) const WRITER_LOCK: i64 = 0x6375_746f_7665_7202;

/// The write path of one run on a PostgreSQL fleet.
pub struct PgWriter {
    client: Client,
    ledger: PgLedger,
    /// Who writes, as the ledger records it: `user@host pid N`.
    worker: String,
    summary: String,
}

impl PgWriter {
    /// Connects and takes the writer lock: shared for `apply`, exclusive otherwise. A
    /// refusal names who holds it. An exclusive writer also marks runs whose processes
    /// died as interrupted (none of them can still be running, or it would hold the lock).
    pub fn open(fleet: &PgFleet, command: &str) -> Result<Self> {
        let summary = fleet.summary_text().to_owned();
        let mut client = fleet.connect_new()?;
        let shared = command == "apply";
        let taken: bool = if shared {
            client.query_one("SELECT pg_try_advisory_lock_shared($1)", &[&WRITER_LOCK])
        } else {
            client.query_one("SELECT pg_try_advisory_lock($1)", &[&WRITER_LOCK])
        }
        .map_err(|e| explain(e, &summary))?
        .get(0);
        if !taken {
            let holders = lock_holders(&mut client)?;
            bail!(
                "the fleet {summary} is locked by {}: `cutover {command}` must wait for {}; the lock frees itself when its holders end",
                if holders.is_empty() {
                    "another cutover run".to_owned()
                } else {
                    holders.join(", ")
                },
                if shared {
                    "it to finish"
                } else {
                    "every other run to finish"
                }
            );
        }
        if !shared {
            client.execute(
                "UPDATE cutover.runs SET status = 'interrupted', finished_at = $1 WHERE status = 'running'",
                &[&now()],
            )?;
        }
        let ledger = fleet.ledger()?;
        Ok(Self {
            client,
            ledger,
            worker: worker_name(),
            summary,
        })
    }
}

pub(super) use crate::ground::worker as worker_name;

/// The sessions holding the writer lock, as their application names say.
fn lock_holders(client: &mut Client) -> Result<Vec<String>> {
    let rows = client.query(
        "SELECT DISTINCT coalesce(nullif(a.application_name, ''), 'pid ' || a.pid::text)
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted
           AND ((l.classid::bigint << 32) | l.objid::bigint) = $1",
        &[&WRITER_LOCK],
    )?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
}

impl Writer for PgWriter {
    fn ledger(&self) -> &dyn Ledger {
        &self.ledger
    }

    fn settled(&self) -> usize {
        0
    }

    fn begin(&mut self, kind: RunKind, detail: &serde_json::Value) -> Result<i64> {
        begin_run(&mut self.client, kind, detail, None)
    }

    fn write_batch(&mut self, run: i64, changes: &[NewChange]) -> Result<Vec<Result<i64>>> {
        let worker = self.worker.clone();
        let mut tx = self.client.transaction()?;
        let results = commit(&mut tx, run, &worker, changes, &[])?;
        for _ in changes {
            failpoint("after-intent");
        }
        tx.commit()
            .map_err(|e| explain(e, &self.summary))
            .context("committing a batch of writes")?;
        for _ in results.iter().filter(|r| r.is_ok()) {
            failpoint("after-write");
        }
        Ok(results)
    }

    fn record_failure(&mut self, run: i64, failure: &NewFailure) -> Result<()> {
        let worker = self.worker.clone();
        record_failures(
            &mut self.client,
            run,
            &worker,
            std::slice::from_ref(failure),
        )
    }

    fn mark_rolled_back(&mut self, changes: &[i64]) -> Result<()> {
        self.client.execute(
            "UPDATE cutover.changes SET state = 'rolled-back' WHERE id = ANY($1)",
            &[&changes],
        )?;
        Ok(())
    }

    fn finish(&mut self, run: i64, status: RunStatus, detail: &serde_json::Value) -> Result<()> {
        self.client.execute(
            "UPDATE cutover.runs SET finished_at = $2, status = $3, detail = $4 WHERE id = $1",
            &[&run, &now(), &status.as_str(), detail],
        )?;
        Ok(())
    }

    fn set_status(&mut self, run: i64, status: RunStatus) -> Result<()> {
        self.client.execute(
            "UPDATE cutover.runs SET status = $2 WHERE id = $1",
            &[&run, &status.as_str()],
        )?;
        Ok(())
    }

    fn import_history(&mut self, source: &dyn Ledger) -> Result<usize> {
        let runs = super::history_with_snapshots(source)?;
        let mut tx = self.client.transaction()?;
        let existing: i64 = tx
            .query_one("SELECT count(*) FROM cutover.runs", &[])?
            .get(0);
        if existing > 0 {
            bail!(
                "the ledger of {} already has {existing} run(s); history is imported only into a fleet with none",
                self.summary
            );
        }
        for (run, snapshots) in &runs {
            tx.execute(
                "INSERT INTO cutover.runs (id, kind, started_at, finished_at, status, actor, cutover_version, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[&run.id, &run.kind, &run.started_at, &run.finished_at, &run.status, &run.actor, &run.cutover_version, &run.detail],
            )?;
            for (c, snapshot) in run.changes.iter().zip(snapshots) {
                tx.execute(
                    "INSERT INTO cutover.changes (id, run_id, connection_id, key, from_version, to_version, before_sha256, after_sha256, snapshot, state, error, at, worker)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                    &[&c.id, &run.id, &c.connection_id, &c.key, &c.from_version, &c.to_version, &c.before_sha256, &c.after_sha256, snapshot, &c.state, &c.error, &c.at, &c.by],
                )?;
                for (seq, s) in c.steps.iter().enumerate() {
                    tx.execute(
                        "INSERT INTO cutover.steps (change_id, seq, from_version, to_version, plugin_file, plugin_sha256, plugin_signer, input_sha256, output_sha256)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        &[&c.id, &(seq as i32 + 1), &s.from_version, &s.to_version, &s.plugin_file, &s.plugin_sha256, &s.plugin_signer, &s.input_sha256, &s.output_sha256],
                    )?;
                }
            }
        }
        tx.batch_execute(
            "SELECT setval(pg_get_serial_sequence('cutover.runs', 'id'), greatest((SELECT max(id) FROM cutover.runs), 1));
             SELECT setval(pg_get_serial_sequence('cutover.changes', 'id'), greatest((SELECT max(id) FROM cutover.changes), 1));",
        )?;
        tx.commit()
            .map_err(|e| explain(e, &self.summary))
            .context("committing the imported history")?;
        Ok(runs.len())
    }
}

/// Starts a run; a shared apply run also records the plan it carries out.
pub(super) fn begin_run(
    client: &mut impl GenericClient,
    kind: RunKind,
    detail: &serde_json::Value,
    plan: Option<(&str, &serde_json::Value, &serde_json::Value)>,
) -> Result<i64> {
    let (plan_sha256, options, plugins) = match plan {
        Some((sha, options, plugins)) => (Some(sha), Some(options), Some(plugins)),
        None => (None, None, None),
    };
    let row = client.query_one(
        "INSERT INTO cutover.runs (kind, started_at, status, actor, cutover_version, detail, plan_sha256, options, plugins)
         VALUES ($1, $2, 'running', $3, $4, $5, $6, $7, $8) RETURNING id",
        &[&kind.as_str(), &now(), &actor(), &env!("CARGO_PKG_VERSION"), detail, &plan_sha256, &options, &plugins],
    )?;
    Ok(row.get(0))
}

/// Writes a batch inside the caller's transaction: the documents ([`replace`]), each
/// written one with its change row, snapshot and steps, and the failures given. A change
/// whose document someone else changed since it was read is not written, and is recorded
/// as a failure like the others, so that the run's totals (and `history --connection`)
/// count it. One result per change.
pub(super) fn commit(
    tx: &mut impl GenericClient,
    run: i64,
    worker: &str,
    changes: &[NewChange],
    failures: &[NewFailure],
) -> Result<Vec<Result<i64>>> {
    let writes: Vec<Write> = changes
        .iter()
        .map(|c| Write {
            key: c.key,
            before: c.before,
            after: c.after,
            actions: c.actions,
        })
        .collect();
    let replaced: Vec<Result<()>> = replace(tx, &writes)?
        .into_iter()
        .zip(changes)
        .map(|(r, c)| r.with_context(|| format!("writing connection {}", c.connection_id)))
        .collect();
    let written: Vec<&NewChange> = changes
        .iter()
        .zip(&replaced)
        .filter(|(_, r)| r.is_ok())
        .map(|(c, _)| c)
        .collect();
    let ids = insert_changes(tx, run, worker, &written)?;
    let conflicts: Vec<(String, String)> = changes
        .iter()
        .zip(&replaced)
        .filter_map(|(c, r)| {
            r.as_ref()
                .err()
                .map(|e| (sha256_hex(c.before), format!("{e:#}")))
        })
        .collect();
    let conflicted = changes
        .iter()
        .zip(&replaced)
        .filter(|(_, r)| r.is_err())
        .zip(&conflicts)
        .map(|((c, _), (before, error))| NewFailure {
            connection_id: c.connection_id,
            key: c.key,
            before_sha256: before,
            error,
        });
    let all_failures: Vec<NewFailure> = failures
        .iter()
        .map(|f| NewFailure { ..*f })
        .chain(conflicted)
        .collect();
    record_failures(tx, run, worker, &all_failures)?;
    Ok(changes
        .iter()
        .zip(replaced)
        .map(|(c, r)| r.map(|()| ids[c.key]))
        .collect())
}

/// The change rows (with snapshots) and step rows of written changes; their ids by key.
fn insert_changes(
    tx: &mut impl GenericClient,
    run: i64,
    worker: &str,
    written: &[&NewChange],
) -> Result<HashMap<String, i64>> {
    if written.is_empty() {
        return Ok(HashMap::new());
    }
    let at = now();
    let connection: Vec<&str> = written.iter().map(|c| c.connection_id).collect();
    let keys: Vec<&str> = written.iter().map(|c| c.key).collect();
    let from: Vec<Option<&str>> = written.iter().map(|c| c.from_version.as_deref()).collect();
    let to: Vec<Option<&str>> = written.iter().map(|c| c.to_version.as_deref()).collect();
    let before_sha: Vec<String> = written.iter().map(|c| sha256_hex(c.before)).collect();
    let after_sha: Vec<String> = written.iter().map(|c| sha256_hex(c.after)).collect();
    let snapshot: Vec<&[u8]> = written.iter().map(|c| c.before).collect();
    let rows = tx
        .query(
            "INSERT INTO cutover.changes (run_id, connection_id, key, from_version, to_version, before_sha256, after_sha256, snapshot, state, at, worker)
             SELECT $1, u.* , 'written', $9, $10
             FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[])
               AS u(connection_id, key, from_version, to_version, before_sha256, after_sha256, snapshot)
             RETURNING id, key",
            &[&run, &connection, &keys, &from, &to, &before_sha, &after_sha, &snapshot, &at, &worker],
        )
        .context("recording the writes in the ledger")?;
    let ids: HashMap<String, i64> = rows.iter().map(|r| (r.get(1), r.get(0))).collect();
    let mut step_change = Vec::new();
    let mut step_seq = Vec::new();
    let (
        mut step_from,
        mut step_to,
        mut step_file,
        mut step_sha,
        mut step_signer,
        mut step_in,
        mut step_out,
    ) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    for c in written {
        for (seq, s) in c.steps.iter().enumerate() {
            step_change.push(ids[c.key]);
            step_seq.push(seq as i32 + 1);
            step_from.push(s.from_version.as_str());
            step_to.push(s.to_version.as_str());
            step_file.push(s.plugin_file.as_deref());
            step_sha.push(s.plugin_sha256.as_deref());
            step_signer.push(s.plugin_signer.as_deref());
            step_in.push(s.input_sha256.as_str());
            step_out.push(s.output_sha256.as_str());
        }
    }
    if !step_change.is_empty() {
        tx.execute(
            "INSERT INTO cutover.steps (change_id, seq, from_version, to_version, plugin_file, plugin_sha256, plugin_signer, input_sha256, output_sha256)
             SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])",
            &[&step_change, &step_seq, &step_from, &step_to, &step_file, &step_sha, &step_signer, &step_in, &step_out],
        )
        .context("recording the migration steps in the ledger")?;
    }
    Ok(ids)
}

/// Failure rows: connections a run could not migrate.
pub(super) fn record_failures(
    tx: &mut impl GenericClient,
    run: i64,
    worker: &str,
    failures: &[NewFailure],
) -> Result<()> {
    if failures.is_empty() {
        return Ok(());
    }
    let connection: Vec<&str> = failures.iter().map(|f| f.connection_id).collect();
    let keys: Vec<&str> = failures.iter().map(|f| f.key).collect();
    let before: Vec<&str> = failures.iter().map(|f| f.before_sha256).collect();
    let error: Vec<&str> = failures.iter().map(|f| f.error).collect();
    tx.execute(
        "INSERT INTO cutover.changes (run_id, connection_id, key, before_sha256, state, error, at, worker)
         SELECT $1, u.connection_id, u.key, u.before_sha256, 'failed', u.error, $6, $7
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(connection_id, key, before_sha256, error)",
        &[&run, &connection, &keys, &before, &error, &now(), &worker],
    )
    .context("recording failures in the ledger")?;
    Ok(())
}
