//! The ledger of an embedded fleet: SQLite, `.cutover/ledger.sqlite`, owner-only (it holds a
//! snapshot of every document, credentials included).
//!
//! The `changes` table is also the write-ahead journal of the directory's writes. A write
//! is recorded (with its snapshot) and committed *before* the document is replaced, as
//! `intent`, and marked `written` after. After a crash, [`crate::write::journal`] compares
//! each `intent` with the document: it holds either the old bytes (the write never
//! happened: `aborted`) or the new ones (`written`).
//!
//! The schema is versioned (`PRAGMA user_version`): each step of `MIGRATIONS` upgrades a
//! ledger one version, and a ledger newer than this binary is refused rather than misread.

use super::{Change, ChangeState, Ledger, NewChange, NewFailure, Run, RunKind, RunStatus, Step};
use crate::ground::sha256_hex;
use crate::ground::{actor, now, worker};
use anyhow::{Context, Result, bail};
use rusqlite::{Connection as Db, OptionalExtension, params};
use std::path::Path;

/// The schema, one step per version: step `i` takes a ledger from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: runs, changes (the journal, with snapshots), steps.
    "
    CREATE TABLE IF NOT EXISTS runs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL,
        actor TEXT NOT NULL,
        cutover_version TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE IF NOT EXISTS changes (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        connection_id TEXT NOT NULL,
        file TEXT NOT NULL,
        from_version TEXT,
        to_version TEXT,
        before_sha256 TEXT NOT NULL,
        after_sha256 TEXT,
        snapshot BLOB,
        state TEXT NOT NULL,
        error TEXT,
        at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS changes_by_run ON changes(run_id);
    CREATE INDEX IF NOT EXISTS changes_by_state ON changes(state);
    CREATE TABLE IF NOT EXISTS steps (
        id INTEGER PRIMARY KEY,
        change_id INTEGER NOT NULL REFERENCES changes(id),
        seq INTEGER NOT NULL,
        from_version TEXT NOT NULL,
        to_version TEXT NOT NULL,
        plugin_file TEXT,
        plugin_sha256 TEXT,
        plugin_signer TEXT,
        input_sha256 TEXT NOT NULL,
        output_sha256 TEXT NOT NULL
    );
    ",
    // 2: documents are named by key, not file name; the new bytes of a write are kept
    // while it is an intent, so a backend that writes in several requests can finish it.
    "
    ALTER TABLE changes RENAME COLUMN file TO key;
    UPDATE changes SET key = substr(key, 1, length(key) - 5) WHERE key LIKE '%.json';
    ALTER TABLE changes ADD COLUMN pending BLOB;
    ALTER TABLE changes ADD COLUMN worker TEXT;
    CREATE INDEX IF NOT EXISTS changes_by_connection ON changes(connection_id);
    ",
    // 3: with the new bytes, the operator actions a backend does as part of the write (the
    // clears of an Airbyte connection), so that finishing the write does them too.
    "
    ALTER TABLE changes ADD COLUMN pending_actions TEXT;
    ",
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub struct SqliteLedger {
    db: Db,
}

/// Reads a `runs` row selected as `id, kind, started_at, finished_at, status, actor,
/// cutover_version, detail`.
fn run_row(r: &rusqlite::Row) -> rusqlite::Result<Run> {
    Ok(Run {
        id: r.get(0)?,
        kind: r.get(1)?,
        started_at: r.get(2)?,
        finished_at: r.get(3)?,
        status: r.get(4)?,
        actor: r.get(5)?,
        cutover_version: r.get(6)?,
        detail: serde_json::from_str(&r.get::<_, String>(7)?).unwrap_or_default(),
        changes: Vec::new(),
    })
}

/// An intent the journal has not settled: the write, and the new bytes when the backend
/// kept them.
pub struct Pending {
    pub change: i64,
    pub key: String,
    pub before_sha256: String,
    pub after_sha256: Option<String>,
    pub before: Vec<u8>,
    pub after: Option<Vec<u8>>,
    /// The operator actions the backend does as part of the write.
    pub actions: Vec<crate::migration::Action>,
}

impl SqliteLedger {
    /// Opens (creating, owner-only, if needed) the ledger at `path`, upgrading its schema.
    pub fn open(path: &Path) -> Result<Self> {
        owner_only(path)?;
        let mut db =
            Db::open(path).with_context(|| format!("opening ledger {}", path.display()))?;
        db.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .with_context(|| format!("configuring ledger {}", path.display()))?;
        let version: i64 = db.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        // A ledger made before versions were recorded has the version-1 tables.
        let version = if version == 0 && has_table(&db, "runs")? {
            1
        } else {
            version
        };
        if version > SCHEMA_VERSION {
            bail!(
                "ledger {} has schema version {version}, newer than this cutover understands ({SCHEMA_VERSION}); use the cutover that wrote it, or a newer one",
                path.display()
            );
        }
        for (i, step) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = db.transaction()?;
            tx.execute_batch(step).with_context(|| {
                format!(
                    "upgrading ledger {} to schema version {}",
                    path.display(),
                    i + 1
                )
            })?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(Self { db })
    }

    /// Starts a run.
    pub fn begin_run(&self, kind: RunKind, detail: &serde_json::Value) -> Result<i64> {
        self.db.execute(
            "INSERT INTO runs (kind, started_at, status, actor, cutover_version, detail) VALUES (?1, ?2, 'running', ?3, ?4, ?5)",
            params![kind.as_str(), now(), actor(), env!("CARGO_PKG_VERSION"), detail.to_string()],
        )?;
        Ok(self.db.last_insert_rowid())
    }

    /// Ends a run with a status (`completed`, `partial`, `failed`).
    pub fn finish_run(
        &self,
        run: i64,
        status: RunStatus,
        detail: &serde_json::Value,
    ) -> Result<()> {
        self.db.execute(
            "UPDATE runs SET finished_at = ?2, status = ?3, detail = ?4 WHERE id = ?1",
            params![run, now(), status.as_str(), detail.to_string()],
        )?;
        Ok(())
    }

    /// Changes a finished run's status (a run whose writes were all rolled back).
    pub fn set_status(&self, run: i64, status: RunStatus) -> Result<()> {
        self.db.execute(
            "UPDATE runs SET status = ?2 WHERE id = ?1",
            params![run, status.as_str()],
        )?;
        Ok(())
    }

    /// Records the intents of several writes in one transaction (one flush), each with
    /// the snapshot of its old document, and its new bytes when `keep_after`.
    pub fn record_intents(
        &mut self,
        run: i64,
        changes: &[NewChange],
        keep_after: bool,
    ) -> Result<Vec<i64>> {
        let tx = self.db.transaction()?;
        let mut ids = Vec::with_capacity(changes.len());
        {
            let mut change_row = tx.prepare_cached(
                "INSERT INTO changes (run_id, connection_id, key, from_version, to_version, before_sha256, after_sha256, snapshot, pending, state, at, worker, pending_actions)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'intent', ?10, ?11, ?12)",
            )?;
            let mut step_row = tx.prepare_cached(
                "INSERT INTO steps (change_id, seq, from_version, to_version, plugin_file, plugin_sha256, plugin_signer, input_sha256, output_sha256)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            let at = now();
            let worker = worker();
            for change in changes {
                let id = change_row.insert(params![
                    run,
                    change.connection_id,
                    change.key,
                    change.from_version,
                    change.to_version,
                    sha256_hex(change.before),
                    sha256_hex(change.after),
                    change.before,
                    keep_after.then_some(change.after),
                    at,
                    worker,
                    (keep_after && !change.actions.is_empty())
                        .then(|| serde_json::to_string(change.actions).expect("actions serialize"))
                ])?;
                for (seq, s) in change.steps.iter().enumerate() {
                    step_row.execute(params![
                        id,
                        seq as i64 + 1,
                        s.from_version,
                        s.to_version,
                        s.plugin_file,
                        s.plugin_sha256,
                        s.plugin_signer,
                        s.input_sha256,
                        s.output_sha256
                    ])?;
                }
                ids.push(id);
            }
        }
        tx.commit().context("committing the journal entries")?;
        Ok(ids)
    }

    /// Sets several changes' states (`written`, `aborted`, `rolled-back`) in one
    /// transaction; a settled change no longer keeps its pending bytes.
    pub fn mark(&mut self, marks: &[(i64, ChangeState)]) -> Result<()> {
        let tx = self.db.transaction()?;
        {
            let mut stmt = tx.prepare_cached("UPDATE changes SET state = ?2, pending = NULL, pending_actions = NULL WHERE id = ?1")?;
            for (id, state) in marks {
                stmt.execute(params![id, state.as_str()])?;
            }
        }
        tx.commit().context("committing the change states")?;
        Ok(())
    }

    /// Records a connection the run could not migrate.
    pub fn record_failure(&self, run: i64, failure: &NewFailure) -> Result<()> {
        self.db.execute(
            "INSERT INTO changes (run_id, connection_id, key, before_sha256, state, error, at, worker) VALUES (?1, ?2, ?3, ?4, 'failed', ?5, ?6, ?7)",
            params![run, failure.connection_id, failure.key, failure.before_sha256, failure.error, now(), worker()],
        )?;
        Ok(())
    }

    /// Every intent an interrupted run left, oldest first.
    pub fn pending(&self) -> Result<Vec<Pending>> {
        let mut stmt = self.db.prepare(
            "SELECT id, key, before_sha256, after_sha256, snapshot, pending, pending_actions FROM changes WHERE state = 'intent' ORDER BY id",
        )?;
        let pending = stmt
            .query_map([], |r| {
                Ok(Pending {
                    change: r.get(0)?,
                    key: r.get(1)?,
                    before_sha256: r.get(2)?,
                    after_sha256: r.get(3)?,
                    before: r.get::<_, Option<Vec<u8>>>(4)?.unwrap_or_default(),
                    after: r.get(5)?,
                    actions: r
                        .get::<_, Option<String>>(6)?
                        .and_then(|a| serde_json::from_str(&a).ok())
                        .unwrap_or_default(),
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(pending)
    }

    /// Marks the runs an interrupted process left `running` as `interrupted`.
    pub fn interrupt_running(&self) -> Result<usize> {
        Ok(self.db.execute(
            "UPDATE runs SET status = 'interrupted', finished_at = ?1 WHERE status = 'running'",
            params![now()],
        )?)
    }

    /// Copies runs recorded elsewhere, keeping their ids, into a ledger with no runs.
    pub fn import_history(&mut self, runs: &[(Run, Vec<Option<Vec<u8>>>)]) -> Result<usize> {
        let tx = self.db.transaction()?;
        let existing: i64 = tx.query_row("SELECT count(*) FROM runs", [], |r| r.get(0))?;
        if existing > 0 {
            bail!(
                "this fleet's ledger already has {existing} run(s); history is imported only into a fleet with none"
            );
        }
        for (run, snapshots) in runs {
            tx.execute(
                "INSERT INTO runs (id, kind, started_at, finished_at, status, actor, cutover_version, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![run.id, run.kind, run.started_at, run.finished_at, run.status, run.actor, run.cutover_version, run.detail.to_string()],
            )?;
            for (c, snapshot) in run.changes.iter().zip(snapshots) {
                tx.execute(
                    "INSERT INTO changes (id, run_id, connection_id, key, from_version, to_version, before_sha256, after_sha256, snapshot, state, error, at, worker)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                    params![c.id, run.id, c.connection_id, c.key, c.from_version, c.to_version, c.before_sha256, c.after_sha256, snapshot, c.state, c.error, c.at, c.by],
                )?;
                for (seq, s) in c.steps.iter().enumerate() {
                    tx.execute(
                        "INSERT INTO steps (change_id, seq, from_version, to_version, plugin_file, plugin_sha256, plugin_signer, input_sha256, output_sha256)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                        params![c.id, seq as i64 + 1, s.from_version, s.to_version, s.plugin_file, s.plugin_sha256, s.plugin_signer, s.input_sha256, s.output_sha256],
                    )?;
                }
            }
        }
        tx.commit().context("committing the imported history")?;
        Ok(runs.len())
    }

    /// The changes of a run, in order.
    fn changes(&self, run: i64, connection: Option<&str>) -> Result<Vec<Change>> {
        let mut stmt = self.db.prepare(
            "SELECT id, connection_id, key, from_version, to_version, before_sha256, after_sha256, state, error, at, worker
             FROM changes WHERE run_id = ?1 AND (?2 IS NULL OR connection_id = ?2) ORDER BY id",
        )?;
        let changes: Vec<Change> = stmt
            .query_map(params![run, connection], |r| {
                Ok(Change {
                    id: r.get(0)?,
                    connection_id: r.get(1)?,
                    key: r.get(2)?,
                    from_version: r.get(3)?,
                    to_version: r.get(4)?,
                    before_sha256: r.get(5)?,
                    after_sha256: r.get(6)?,
                    state: r.get(7)?,
                    error: r.get(8)?,
                    at: r.get(9)?,
                    by: r.get(10)?,
                    steps: Vec::new(),
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut steps = self.db.prepare(
            "SELECT from_version, to_version, plugin_file, plugin_sha256, plugin_signer, input_sha256, output_sha256 FROM steps WHERE change_id = ?1 ORDER BY seq",
        )?;
        changes
            .into_iter()
            .map(|mut c| {
                c.steps = steps
                    .query_map(params![c.id], |r| {
                        Ok(Step {
                            from_version: r.get(0)?,
                            to_version: r.get(1)?,
                            plugin_file: r.get(2)?,
                            plugin_sha256: r.get(3)?,
                            plugin_signer: r.get(4)?,
                            input_sha256: r.get(5)?,
                            output_sha256: r.get(6)?,
                        })
                    })?
                    .collect::<Result<_, _>>()?;
                Ok(c)
            })
            .collect()
    }
}

impl Ledger for SqliteLedger {
    fn runs(&self, connection: Option<&str>, limit: usize) -> Result<Vec<Run>> {
        let mut stmt = self.db.prepare(
            "SELECT id, kind, started_at, finished_at, status, actor, cutover_version, detail FROM runs
             WHERE ?1 IS NULL OR id IN (SELECT run_id FROM changes WHERE connection_id = ?1)
             ORDER BY id DESC LIMIT ?2",
        )?;
        let runs: Vec<Run> = stmt
            .query_map(params![connection, limit as i64], run_row)?
            .collect::<Result<_, _>>()?;
        runs.into_iter()
            .map(|mut run| {
                run.changes = self.changes(run.id, connection)?;
                Ok(run)
            })
            .collect()
    }

    fn run(&self, id: i64) -> Result<Option<Run>> {
        let run = self
            .db
            .query_row(
                "SELECT id, kind, started_at, finished_at, status, actor, cutover_version, detail FROM runs WHERE id = ?1",
                params![id],
                run_row,
            )
            .optional()?;
        run.map(|mut run| {
            run.changes = self.changes(run.id, None)?;
            Ok(run)
        })
        .transpose()
    }

    fn snapshot(&self, change: i64) -> Result<Vec<u8>> {
        let snap: Option<Option<Vec<u8>>> = self
            .db
            .query_row(
                "SELECT snapshot FROM changes WHERE id = ?1",
                params![change],
                |r| r.get(0),
            )
            .optional()?;
        match snap {
            Some(Some(bytes)) => Ok(bytes),
            _ => bail!("change {change} has no snapshot"),
        }
    }

    fn last_rollbackable(&self) -> Result<Option<i64>> {
        Ok(self
            .db
            .query_row(
                "SELECT r.id FROM runs r WHERE r.kind IN ('apply', 'pin', 'unpin')
                 AND EXISTS (SELECT 1 FROM changes c WHERE c.run_id = r.id AND c.state = 'written')
                 ORDER BY r.id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn later_write(&self, connection_id: &str, run: i64) -> Result<Option<i64>> {
        Ok(self
            .db
            .query_row(
                "SELECT run_id FROM changes WHERE connection_id = ?1 AND run_id > ?2 AND state = 'written' ORDER BY id DESC LIMIT 1",
                params![connection_id, run],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn versions_written(&self) -> Result<Vec<(String, String, i64)>> {
        let mut statement = self.db.prepare(
            "SELECT key, to_version, run_id FROM changes WHERE state = 'written' AND to_version IS NOT NULL ORDER BY id",
        )?;
        let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

fn has_table(db: &Db, name: &str) -> Result<bool> {
    Ok(db.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        params![name],
        |r| r.get::<_, i64>(0),
    )? > 0)
}

/// Creates the ledger file readable and writable by its owner only, and takes any other
/// access away from one made before: it holds a snapshot of every document it journals.
/// SQLite's own `-wal` and `-shm` files take the database file's mode.
fn owner_only(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("creating ledger {}", path.display()))?;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(mode & 0o700))
                .with_context(|| format!("making ledger {} owner-only", path.display()))?;
        }
    }
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ledger written before its schema had versions opens, keeps its history, and names
    /// documents by key from then on.
    #[test]
    fn an_unversioned_ledger_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        {
            let db = Db::open(&path).unwrap();
            db.execute_batch(MIGRATIONS[0]).unwrap();
            db.execute("INSERT INTO runs (kind, started_at, status, actor, cutover_version) VALUES ('apply', 'x', 'completed', 'a', '0')", [])
                .unwrap();
            db.execute(
                "INSERT INTO changes (run_id, connection_id, file, before_sha256, state, at, snapshot) VALUES (1, 'c', 'c.json', 'h', 'written', 'x', x'00')",
                [],
            )
            .unwrap();
        }
        let ledger = SqliteLedger::open(&path).unwrap();
        let run = ledger.run(1).unwrap().unwrap();
        assert_eq!(run.changes[0].key, "c");
        assert_eq!(ledger.snapshot(run.changes[0].id).unwrap(), vec![0]);
        drop(ledger);
        SqliteLedger::open(&path).unwrap();
    }

    #[test]
    fn a_ledger_from_a_newer_cutover_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        drop(SqliteLedger::open(&path).unwrap());
        Db::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = SqliteLedger::open(&path).err().unwrap().to_string();
        assert!(err.contains("newer than this cutover"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn the_ledger_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(SqliteLedger::open(&path).unwrap());
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
