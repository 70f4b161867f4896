//! Where a fleet's connection documents live: one small interface, one module per backend.
//!
//! The planner and the sandbox do not care where documents come from; the write path does.
//! A backend answers two questions: which documents are there and what do they hold
//! ([`Documents`]), and how one run replaces some of them ([`DocumentWriter`]). What a write
//! must also leave behind (the snapshot of the old bytes, the ledger rows, the settling of a
//! crash) is the write path's job ([`crate::write`]), not the backend's, so that each
//! backend only says what it alone knows:
//!
//! - [`directory`]: `connections/<key>.json` files, each swapped in atomically; the embedded
//!   default, with the ledger in SQLite beside it and a journal to settle crashes.
//! - [`postgres`]: documents, ledger, snapshots and the work queue of runs shared by several
//!   hosts, in one database, where a batch of writes and its ledger rows commit in one
//!   transaction, so there is nothing to settle after a crash.
//! - [`elastic`]: the connectors of an Elasticsearch cluster, through its Connector API, each
//!   write several requests guarded by the index's `_seq_no`; the ledger in SQLite beside the
//!   settings, journaled like the directory's, and a write cut part-way finished at the next
//!   run.
//! - [`airbyte`]: the connections of a running Airbyte, through its Configuration API; one
//!   write is several requests in the order the server's rules require, the ledger in SQLite
//!   beside the settings, and a write cut part-way finished at the next run.

pub mod airbyte;
pub mod directory;
pub mod elastic;
pub mod postgres;

use crate::migration::Action;
use anyhow::Result;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a fleet's connection documents live.
pub trait Documents: Send + Sync {
    /// Where the documents live, for messages ("directory /srv/fleet/connections",
    /// "PostgreSQL cutover@db:5432/fleet"). Never contains a secret.
    fn summary(&self) -> String;
    /// What identifies this fleet across hosts and over time, for plans: a plan made from
    /// one fleet is never applied to another.
    fn identity(&self) -> String;
    /// The key of every document, sorted. A key is what [`read`](Self::read) takes.
    fn keys(&self) -> Result<Vec<String>>;
    /// One document's bytes: the JSON text cutover plans from. The same stored document
    /// always gives the same bytes (plans and the ledger compare their sha256).
    fn read(&self, key: &str) -> Result<Vec<u8>>;
    /// Several documents' bytes, one result per key, in order. Backends that can fetch
    /// many documents in one request (a query) do so: apply reads a batch at a time.
    fn read_many(&self, keys: &[&str]) -> Vec<Result<Vec<u8>>> {
        keys.iter().map(|key| self.read(key)).collect()
    }
    /// How messages name a document (`connections/a.json`).
    fn display_key(&self, key: &str) -> String;
    /// Starts the document writes of one mutating run.
    fn writer(&self) -> Result<Box<dyn DocumentWriter + '_>>;
    /// The id of the connection whose document `key` names, when the key alone says it (the
    /// planner then need not read every document twice).
    fn id_of(&self, key: &str) -> Option<String> {
        let _ = key;
        None
    }
    /// The bytes the store will hold once `after` is written over `before` (a store that
    /// cannot keep a document's exact bytes, such as an API, gives them in its canonical
    /// form), or why the store cannot take that write at all and what the operator must do.
    /// Plans hash these bytes, so that apply, the ledger and rollback compare what is stored.
    ///
    /// `actions` are the plan's operator actions: those the store performs
    /// ([`performs`](Self::performs)) may change what it holds (a clear deletes the cleared
    /// streams' state).
    fn as_written(
        &self,
        key: &str,
        before: &[u8],
        after: Vec<u8>,
        actions: &[Action],
    ) -> std::result::Result<Vec<u8>, String> {
        let _ = (key, before, actions);
        Ok(after)
    }
    /// What a rollback of this write will not be able to restore, for the plan to say
    /// (a clear deletes data that no document holds). Nothing, by default.
    fn rollback_limits(&self, before: &[u8], after: &[u8], actions: &[Action]) -> Vec<String> {
        let _ = (before, after, actions);
        Vec::new()
    }
    /// What a rollback writes to restore `snapshot` (the bytes before a write made at
    /// `written_at`, RFC 3339) over `current`: the snapshot itself, unless part of it cannot
    /// come back (the state of streams a clear emptied), with a note for each such part.
    fn restorable(
        &self,
        key: &str,
        current: &[u8],
        snapshot: Vec<u8>,
        written_at: &str,
    ) -> Result<Restorable> {
        let _ = (key, current, written_at);
        Ok(Restorable {
            bytes: snapshot,
            notes: Vec::new(),
        })
    }
    /// Whether the store does this operator action itself as part of a write
    /// ([`Write::actions`]); the others stay with the operator.
    fn performs(&self, action: &Action) -> bool {
        let _ = action;
        false
    }
    /// What writing `write` would send, from the store as it is now, writing nothing
    /// (`apply --dry-run`).
    fn preview(&self, write: &Write<'_>) -> Result<Vec<String>> {
        Ok(vec![format!("replace {}", self.display_key(write.key))])
    }
}

/// The document writes of one run. The write path has already recorded each write's intent,
/// with the snapshot of `before`, and records each result.
pub trait DocumentWriter: Send {
    /// Replaces each document with `after`, only where it still holds `before`; otherwise
    /// that write fails as a [`StoreError::Conflict`]. One result per write, in order, each
    /// final (`Ok` means the document now holds `after`); `replaced(i)` is called as write
    /// `i` takes effect.
    fn write_batch(
        &mut self,
        writes: &[Write<'_>],
        replaced: &mut dyn FnMut(usize),
    ) -> Vec<Result<()>>;

    /// After a crash: a write whose intent was recorded but never settled, and whose
    /// document holds neither `before` nor `after`. A backend whose one write takes several
    /// requests finishes it here; by default someone else wrote the document.
    fn settle(&mut self, write: &Write<'_>) -> Result<Settled> {
        let _ = write;
        Ok(Settled::Conflict)
    }

    /// Whether [`settle`](Self::settle) finishes writes cut part-way, and so needs their
    /// new bytes: the journal then keeps them until each write is settled.
    fn settles_partial_writes(&self) -> bool {
        false
    }
}

/// One document write: the bytes it replaces, the new ones, and the operator actions of its
/// plan (which a store may do itself, see [`Documents::performs`]).
#[derive(Clone, Copy, Debug)]
pub struct Write<'a> {
    pub key: &'a str,
    pub before: &'a [u8],
    pub after: &'a [u8],
    pub actions: &'a [Action],
}

/// What a rollback writes back ([`Documents::restorable`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Restorable {
    pub bytes: Vec<u8>,
    /// What of the snapshot cannot come back, and what that means for the connection.
    pub notes: Vec<String>,
}

/// How [`DocumentWriter::settle`] left an interrupted write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// The document now holds the new bytes.
    Written,
    /// The document holds the old bytes again.
    Aborted,
    /// The document holds something else, which someone else wrote.
    Conflict,
}

/// Failures a backend reports in terms the write path can act on (wrapped in
/// [`anyhow::Error`]; find them with `downcast_ref`).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{key}: no such document")]
    NotFound { key: String },
    #[error("{key} changed since it was read: {detail}")]
    Conflict { key: String, detail: String },
    #[error("the fleet's store is unavailable: {detail}")]
    Unavailable { detail: String },
    /// The write stopped part-way and the document holds part of the new one: its intent
    /// stays, and the next run finishes it ([`DocumentWriter::settle`]).
    #[error("{key} was written only in part ({detail}); the next run finishes it")]
    Partial { key: String, detail: String },
}

/// A fleet's backend: where its documents live and where its ledger is kept, which
/// decides how a run writes ([`crate::write`]).
pub struct Backend {
    pub documents: Arc<dyn Documents>,
    pub ledger: LedgerHome,
}

/// Where a fleet's ledger lives.
#[derive(Clone)]
pub enum LedgerHome {
    /// A SQLite file on this host (`.cutover/ledger.sqlite`); writes are journaled in it.
    Sqlite(PathBuf),
    /// The same PostgreSQL database as the documents; writes are transactions.
    Postgres(Arc<postgres::PgFleet>),
}
