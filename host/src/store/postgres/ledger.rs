//! The ledger of a PostgreSQL fleet, as history and rollback read it. A shared apply run
//! that is still going shows its progress and its workers, whichever host asks.

use crate::ledger::{Change, Ledger, Run, RunStatus, Step};
use anyhow::{Result, bail};
use postgres::Client;
use std::cell::RefCell;
use std::collections::HashMap;

pub struct PgLedger {
    client: RefCell<Client>,
    summary: String,
}

impl PgLedger {
    pub(super) fn new(client: Client, summary: String) -> Self {
        Self {
            client: RefCell::new(client),
            summary,
        }
    }

    fn runs_where(
        &self,
        filter: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
        connection: Option<&str>,
    ) -> Result<Vec<Run>> {
        let mut client = self.client.borrow_mut();
        let rows = client.query(
            &format!(
                "SELECT id, kind, started_at, finished_at, status, actor, cutover_version, detail FROM cutover.runs {filter}"
            ),
            params,
        )?;
        let mut runs: Vec<Run> = rows
            .iter()
            .map(|r| Run {
                id: r.get(0),
                kind: r.get(1),
                started_at: r.get(2),
                finished_at: r.get(3),
                status: r.get(4),
                actor: r.get(5),
                cutover_version: r.get(6),
                detail: r.get(7),
                changes: Vec::new(),
            })
            .collect();
        if runs.is_empty() {
            return Ok(runs);
        }
        let ids: Vec<i64> = runs.iter().map(|r| r.id).collect();
        let rows = client.query(
            "SELECT id, run_id, connection_id, key, from_version, to_version, before_sha256, after_sha256, state, error, at, worker
             FROM cutover.changes WHERE run_id = ANY($1) AND ($2::text IS NULL OR connection_id = $2) ORDER BY id",
            &[&ids, &connection],
        )?;
        let mut changes: HashMap<i64, Vec<Change>> = HashMap::new();
        let mut change_ids = Vec::with_capacity(rows.len());
        for r in &rows {
            change_ids.push(r.get::<_, i64>(0));
            changes.entry(r.get(1)).or_default().push(Change {
                id: r.get(0),
                connection_id: r.get(2),
                key: r.get(3),
                from_version: r.get(4),
                to_version: r.get(5),
                before_sha256: r.get(6),
                after_sha256: r.get(7),
                state: r.get(8),
                error: r.get(9),
                at: r.get(10),
                by: r.get(11),
                steps: Vec::new(),
            });
        }
        let mut steps: HashMap<i64, Vec<Step>> = HashMap::new();
        for r in client.query(
            "SELECT change_id, from_version, to_version, plugin_file, plugin_sha256, plugin_signer, input_sha256, output_sha256
             FROM cutover.steps WHERE change_id = ANY($1) ORDER BY change_id, seq",
            &[&change_ids],
        )? {
            steps.entry(r.get(0)).or_default().push(Step {
                from_version: r.get(1),
                to_version: r.get(2),
                plugin_file: r.get(3),
                plugin_sha256: r.get(4),
                plugin_signer: r.get(5),
                input_sha256: r.get(6),
                output_sha256: r.get(7),
            });
        }
        drop(client);
        for run in &mut runs {
            run.changes = changes.remove(&run.id).unwrap_or_default();
            for c in &mut run.changes {
                c.steps = steps.remove(&c.id).unwrap_or_default();
            }
            if run.kind == "apply"
                && run.status == RunStatus::Running.as_str()
                && let Some(live) = self.live(run.id)?
                && let serde_json::Value::Object(detail) = &mut run.detail
            {
                detail.insert("live".into(), live);
            }
        }
        Ok(runs)
    }

    /// A shared run's progress and workers, or `None` for a run that is not shared.
    pub fn live(&self, run: i64) -> Result<Option<serde_json::Value>> {
        let mut client = self.client.borrow_mut();
        let batches = client.query(
            "SELECT state, count(*)::bigint, coalesce(sum(written), 0)::bigint, coalesce(sum(failed), 0)::bigint
             FROM cutover.batches WHERE run_id = $1 GROUP BY state",
            &[&run],
        )?;
        if batches.is_empty() {
            return Ok(None);
        }
        let mut by_state = serde_json::Map::new();
        let (mut written, mut failed) = (0i64, 0i64);
        for r in &batches {
            by_state.insert(r.get::<_, String>(0), r.get::<_, i64>(1).into());
            written += r.get::<_, i64>(2);
            failed += r.get::<_, i64>(3);
        }
        let items: i64 = client
            .query_one(
                "SELECT count(*) FROM cutover.run_items WHERE run_id = $1 AND batch >= 0",
                &[&run],
            )?
            .get(0);
        // A working worker is live while it renews its heartbeat within its own lease
        // length; one that stopped (killed, cut off) is shown as gone, as refusals see it.
        let workers = client.query(
            "SELECT w.id,
                    CASE WHEN w.state = 'working' AND w.heartbeat_at <= now() - w.lease_seconds * interval '1 second'
                         THEN 'gone' ELSE w.state END,
                    w.written, w.failed,
                    to_char(w.heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
                    (SELECT array_agg(b.batch ORDER BY b.batch) FROM cutover.batches b
                      WHERE b.run_id = w.run_id AND b.worker = w.id AND b.state = 'leased' AND b.lease_until > now()) AS leases,
                    w.lease_seconds
             FROM cutover.workers w WHERE w.run_id = $1 ORDER BY w.started_at",
            &[&run],
        )?;
        let workers: Vec<serde_json::Value> = workers
            .iter()
            .map(|w| {
                serde_json::json!({
                    "worker": w.get::<_, String>(0),
                    "state": w.get::<_, String>(1),
                    "written": w.get::<_, i32>(2),
                    "failed": w.get::<_, i32>(3),
                    "heartbeat_at": w.get::<_, String>(4),
                    "leases": w.get::<_, Option<Vec<i32>>>(5).unwrap_or_default(),
                    "lease_seconds": w.get::<_, i32>(6),
                })
            })
            .collect();
        Ok(Some(serde_json::json!({
            "connections": items,
            "written": written,
            "failed": failed,
            "batches": by_state,
            "workers": workers,
        })))
    }
}

impl Ledger for PgLedger {
    fn runs(&self, connection: Option<&str>, limit: usize) -> Result<Vec<Run>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let connection = connection.map(str::to_owned);
        self.runs_where(
            "WHERE ($1::text IS NULL OR id IN (SELECT run_id FROM cutover.changes WHERE connection_id = $1)) ORDER BY id DESC LIMIT $2",
            &[&connection, &limit],
            connection.as_deref(),
        )
    }

    fn run(&self, id: i64) -> Result<Option<Run>> {
        Ok(self.runs_where("WHERE id = $1", &[&id], None)?.pop())
    }

    fn snapshot(&self, change: i64) -> Result<Vec<u8>> {
        let row = self.client.borrow_mut().query_opt(
            "SELECT snapshot FROM cutover.changes WHERE id = $1",
            &[&change],
        )?;
        match row.and_then(|r| r.get::<_, Option<Vec<u8>>>(0)) {
            Some(bytes) => Ok(bytes),
            None => bail!("change {change} has no snapshot in {}", self.summary),
        }
    }

    fn last_rollbackable(&self) -> Result<Option<i64>> {
        Ok(self
            .client
            .borrow_mut()
            .query_opt(
                "SELECT r.id FROM cutover.runs r WHERE r.kind IN ('apply', 'pin', 'unpin')
                 AND EXISTS (SELECT 1 FROM cutover.changes c WHERE c.run_id = r.id AND c.state = 'written')
                 ORDER BY r.id DESC LIMIT 1",
                &[],
            )?
            .map(|r| r.get(0)))
    }

    fn later_write(&self, connection_id: &str, run: i64) -> Result<Option<i64>> {
        Ok(self
            .client
            .borrow_mut()
            .query_opt(
                "SELECT run_id FROM cutover.changes WHERE connection_id = $1 AND run_id > $2 AND state = 'written' ORDER BY id DESC LIMIT 1",
                &[&connection_id, &run],
            )?
            .map(|r| r.get(0)))
    }

    fn versions_written(&self) -> Result<Vec<(String, String, i64)>> {
        let rows = self.client.borrow_mut().query(
            "SELECT key, to_version, run_id FROM cutover.changes WHERE state = 'written' AND to_version IS NOT NULL ORDER BY id",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }
}
