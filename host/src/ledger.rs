//! The ledger: every run, every document write with the snapshot taken before it, and
//! every migration step with its plugin digest and hashes. SQLite, inside the fleet
//! (`.cutover/ledger.sqlite`).
//!
//! The `changes` table is also the write-ahead journal. A write is recorded (with its
//! snapshot) and committed *before* the document is replaced, as `intent`, and marked
//! `written` after. After a crash, [`Ledger::recover`] compares each `intent` with the file
//! on disk: it holds either the old bytes (the write never happened: `aborted`) or the new
//! ones (`written`). A third answer means someone else wrote the file, and is reported.

use crate::registry::sha256_hex;
use crate::store::Store;
use anyhow::{Context, Result, bail};
use rusqlite::{Connection as Db, OptionalExtension, params};
use serde::Serialize;
use std::path::Path;

const SCHEMA: &str = "
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
";

/// The kinds of run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunKind {
    Apply,
    Rollback,
    Pin,
    Unpin,
}

impl RunKind {
    fn as_str(self) -> &'static str {
        match self {
            RunKind::Apply => "apply",
            RunKind::Rollback => "rollback",
            RunKind::Pin => "pin",
            RunKind::Unpin => "unpin",
        }
    }
}

/// A document write to record: what it replaces, with what, through which steps.
pub struct NewChange<'a> {
    pub connection_id: &'a str,
    pub file: &'a str,
    pub from_version: Option<String>,
    pub to_version: Option<String>,
    pub before: &'a [u8],
    pub after: &'a [u8],
    pub steps: Vec<Step>,
}

/// A run, as history shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    pub id: i64,
    pub kind: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    pub actor: String,
    pub cutover_version: String,
    pub detail: serde_json::Value,
    pub changes: Vec<Change>,
}

/// A recorded write (or failure), as history shows it.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    pub id: i64,
    pub connection_id: String,
    pub file: String,
    pub from_version: Option<String>,
    pub to_version: Option<String>,
    pub before_sha256: String,
    pub after_sha256: Option<String>,
    pub state: String,
    pub error: Option<String>,
    pub at: String,
    pub steps: Vec<Step>,
}

/// One migration step of a change, in chain order.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub from_version: String,
    pub to_version: String,
    pub plugin_file: Option<String>,
    pub plugin_sha256: Option<String>,
    pub plugin_signer: Option<String>,
    pub input_sha256: String,
    pub output_sha256: String,
}

/// What recovery found.
#[derive(Debug, Default)]
pub struct Recovery {
    pub completed: usize,
    pub aborted: usize,
    /// Changes whose file holds neither the old nor the new bytes: (change id, file).
    pub conflicts: Vec<(i64, String)>,
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

pub struct Ledger {
    db: Db,
}

/// Now, as RFC 3339 UTC.
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formatting the current time")
}

/// Who is running cutover: `user@host`.
pub fn actor() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    format!("{user}@{host}")
}

impl Ledger {
    /// Opens (creating if needed) the ledger at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let db = Db::open(path).with_context(|| format!("opening ledger {}", path.display()))?;
        db.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .context("configuring the ledger")?;
        // Snapshots hold every document's credentials: owner-only, with the WAL beside it.
        for suffix in ["", "-wal", "-shm"] {
            crate::private_files::owner_only(&std::path::PathBuf::from(format!("{}{suffix}", path.display())))?;
        }
        db.execute_batch(SCHEMA).context("creating the ledger tables")?;
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
    pub fn finish_run(&self, run: i64, status: &str, detail: &serde_json::Value) -> Result<()> {
        self.db.execute(
            "UPDATE runs SET finished_at = ?2, status = ?3, detail = ?4 WHERE id = ?1",
            params![run, now(), status, detail.to_string()],
        )?;
        Ok(())
    }

    /// Changes a finished run's status (a run whose writes were all rolled back).
    pub fn set_status(&self, run: i64, status: &str) -> Result<()> {
        self.db.execute("UPDATE runs SET status = ?2 WHERE id = ?1", params![run, status])?;
        Ok(())
    }

    /// Records the intent to write, with the snapshot of the old document, durably.
    pub fn record_intent(&mut self, run: i64, change: &NewChange) -> Result<i64> {
        Ok(self.record_intents(run, std::slice::from_ref(change))?[0])
    }

    /// Records the intents of several writes in one transaction (one flush), each with
    /// the snapshot of its old document.
    pub fn record_intents(&mut self, run: i64, changes: &[NewChange]) -> Result<Vec<i64>> {
        let tx = self.db.transaction()?;
        let mut ids = Vec::with_capacity(changes.len());
        {
            let mut change_row = tx.prepare_cached(
                "INSERT INTO changes (run_id, connection_id, file, from_version, to_version, before_sha256, after_sha256, snapshot, state, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'intent', ?9)",
            )?;
            let mut step_row = tx.prepare_cached(
                "INSERT INTO steps (change_id, seq, from_version, to_version, plugin_file, plugin_sha256, plugin_signer, input_sha256, output_sha256)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            let at = now();
            for change in changes {
                let id = change_row.insert(params![
                    run,
                    change.connection_id,
                    change.file,
                    change.from_version,
                    change.to_version,
                    sha256_hex(change.before),
                    sha256_hex(change.after),
                    change.before,
                    at
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

    /// Marks a change's state (`written`, `aborted`, `rolled-back`).
    pub fn mark(&self, change: i64, state: &str) -> Result<()> {
        self.db.execute("UPDATE changes SET state = ?2 WHERE id = ?1", params![change, state])?;
        Ok(())
    }

    /// Marks several changes in one transaction.
    pub fn mark_many(&mut self, marks: &[(i64, &str)]) -> Result<()> {
        let tx = self.db.transaction()?;
        {
            let mut stmt = tx.prepare_cached("UPDATE changes SET state = ?2 WHERE id = ?1")?;
            for (id, state) in marks {
                stmt.execute(params![id, state])?;
            }
        }
        tx.commit().context("committing the change states")?;
        Ok(())
    }

    /// Records a connection the run could not migrate.
    pub fn record_failure(&self, run: i64, connection_id: &str, file: &str, before_sha256: &str, error: &str) -> Result<()> {
        self.db.execute(
            "INSERT INTO changes (run_id, connection_id, file, before_sha256, state, error, at) VALUES (?1, ?2, ?3, ?4, 'failed', ?5, ?6)",
            params![run, connection_id, file, before_sha256, error, now()],
        )?;
        Ok(())
    }

    /// Settles every `intent` left by an interrupted run against what is on disk, and
    /// marks interrupted runs.
    pub fn recover(&self, store: &dyn Store) -> Result<Recovery> {
        let mut stmt = self.db.prepare("SELECT id, file, before_sha256, after_sha256 FROM changes WHERE state = 'intent'")?;
        let pending: Vec<(i64, String, String, Option<String>)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<Result<_, _>>()?;
        let mut recovery = Recovery::default();
        for (id, file, before, after) in pending {
            let current = store.read(&file).map(|b| sha256_hex(&b)).ok();
            if current.is_some() && current == after {
                self.mark(id, "written")?;
                recovery.completed += 1;
            } else if current.as_deref() == Some(before.as_str()) {
                self.mark(id, "aborted")?;
                recovery.aborted += 1;
            } else {
                recovery.conflicts.push((id, file));
            }
        }
        self.db.execute(
            "UPDATE runs SET status = 'interrupted', finished_at = ?1 WHERE status = 'running'",
            params![now()],
        )?;
        Ok(recovery)
    }

    /// The runs, newest first, optionally only those touching one connection.
    pub fn runs(&self, connection: Option<&str>, limit: usize) -> Result<Vec<Run>> {
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

    /// One run.
    pub fn run(&self, id: i64) -> Result<Option<Run>> {
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

    /// The changes of a run, in order.
    pub fn changes(&self, run: i64, connection: Option<&str>) -> Result<Vec<Change>> {
        let mut stmt = self.db.prepare(
            "SELECT id, connection_id, file, from_version, to_version, before_sha256, after_sha256, state, error, at
             FROM changes WHERE run_id = ?1 AND (?2 IS NULL OR connection_id = ?2) ORDER BY id",
        )?;
        let changes: Vec<Change> = stmt
            .query_map(params![run, connection], |r| {
                Ok(Change {
                    id: r.get(0)?,
                    connection_id: r.get(1)?,
                    file: r.get(2)?,
                    from_version: r.get(3)?,
                    to_version: r.get(4)?,
                    before_sha256: r.get(5)?,
                    after_sha256: r.get(6)?,
                    state: r.get(7)?,
                    error: r.get(8)?,
                    at: r.get(9)?,
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

    /// The snapshot (the bytes before the write) of a change.
    pub fn snapshot(&self, change: i64) -> Result<Vec<u8>> {
        let snap: Option<Option<Vec<u8>>> = self
            .db
            .query_row("SELECT snapshot FROM changes WHERE id = ?1", params![change], |r| r.get(0))
            .optional()?;
        match snap {
            Some(Some(bytes)) => Ok(bytes),
            _ => bail!("change {change} has no snapshot"),
        }
    }

    /// The newest apply run that still has written changes, if any.
    pub fn last_rollbackable(&self) -> Result<Option<i64>> {
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

    /// The newest change to `connection`'s document that is still in force after `run`.
    pub fn later_write(&self, connection_id: &str, run: i64) -> Result<Option<i64>> {
        Ok(self
            .db
            .query_row(
                "SELECT run_id FROM changes WHERE connection_id = ?1 AND run_id > ?2 AND state = 'written' ORDER BY id DESC LIMIT 1",
                params![connection_id, run],
                |r| r.get(0),
            )
            .optional()?)
    }
}
