//! A fleet in PostgreSQL: documents, ledger, snapshots and the work queue of shared runs in
//! one database (schema `cutover`), so that several hosts can plan, apply and roll back the
//! same fleet and see each other's runs.
//!
//! Why it needs no journal: a batch's new documents, their snapshots and their ledger rows
//! commit in one transaction ([`crate::write::transaction`]), so a crash leaves each batch wholly done or not
//! begun. Why several hosts can share an apply: a run's connections are rows of the
//! database, leased a batch at a time with `SELECT … FOR UPDATE SKIP LOCKED`; a worker
//! renews its lease while it works, a lease whose worker died expires and is taken over,
//! and a batch's writes commit only while its worker still holds the lease ([`crate::write::shared`]).
//! This module connects, keeps the schema, reads documents and history, and writes
//! documents inside a transaction; the write path owns the runs.
//! Writers that must be alone (a rollback, a pin, an import) take an advisory lock that
//! apply workers hold shared; the server frees it when its holder's session ends, however
//! it ends.

pub(crate) mod connect;
pub(crate) mod documents;
mod ledger;
mod schema;
pub mod settings;

pub use connect::is_connection_lost;
pub use ledger::PgLedger;

use super::{DocumentWriter, Documents, StoreError};
use anyhow::{Context, Result};
use connect::Target;
use postgres::Client;
use settings::StoreSettings;
use std::sync::Mutex;

/// A fleet whose documents and ledger live in PostgreSQL.
pub struct PgFleet {
    target: Target,
    identity: String,
    lease_seconds: u64,
    batch: usize,
    /// Idle connections for reads, taken by whichever thread reads next.
    idle: Mutex<Vec<Client>>,
}

impl PgFleet {
    /// Connects, creates or upgrades the schema, and reads the fleet's identity. Refuses a
    /// database whose schema is newer than this binary. A server restarting meanwhile is
    /// waited for: each step is safe to repeat.
    pub fn connect(url: &str, settings: &StoreSettings) -> Result<Self> {
        let target = Target::new(url, settings)?;
        let id: String = target.with_new("opening the fleet", |client| {
            crate::ground::failpoint("fleet-connected");
            schema::ensure(client, &target.summary)?;
            Ok(client
                .query_one("SELECT id FROM cutover.fleet", &[])
                .with_context(|| format!("reading the fleet's identity in {}", target.summary))?
                .get(0))
        })?;
        Ok(Self {
            identity: format!("postgres fleet {id}"),
            lease_seconds: settings.lease_seconds.max(1),
            batch: settings.batch.max(1),
            target,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// `user@host:port/database`.
    pub fn summary_text(&self) -> &str {
        &self.target.summary
    }

    /// How long a lease lasts unless renewed.
    pub fn lease_seconds(&self) -> u64 {
        self.lease_seconds
    }

    /// How many connections a worker of a shared run leases at once.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// A new connection of its own, for a writer or a worker.
    pub fn connect_new(&self) -> Result<Client> {
        self.target.connect()
    }

    /// Runs a read on an idle connection (a new one if none is idle), which goes back to
    /// the idle ones unless it broke. A read that lost its connection (a database
    /// restart) is tried again on a new one, for up to two minutes.
    fn with_client<T>(&self, f: impl Fn(&mut Client) -> Result<T>) -> Result<T> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let mut wait = std::time::Duration::from_millis(100);
        loop {
            let taken = self
                .idle
                .lock()
                .expect("idle connections lock poisoned")
                .pop();
            let result = match taken {
                Some(c) if !c.is_closed() => Ok(c),
                _ => self.target.connect(),
            }
            .and_then(|mut client| {
                let result = f(&mut client);
                if !client.is_closed() {
                    self.idle
                        .lock()
                        .expect("idle connections lock poisoned")
                        .push(client);
                }
                result
            });
            match result {
                Err(e) if is_connection_lost(&e) && std::time::Instant::now() < deadline => {
                    self.target.lost();
                    tracing::warn!("reading the fleet: lost the database ({e:#}); trying again");
                    self.idle
                        .lock()
                        .expect("idle connections lock poisoned")
                        .clear();
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(std::time::Duration::from_secs(5));
                }
                result => return result,
            }
        }
    }

    /// The ledger, for reading history (on a connection of its own).
    pub fn ledger(&self) -> Result<PgLedger> {
        Ok(PgLedger::new(
            self.connect_new()?,
            self.target.summary.clone(),
        ))
    }

    /// Where the database is, for the write path's own connections.
    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    /// Runs `f` on a new connection, again on another if a restart cuts it
    /// ([`connect::Target::with_new`]).
    pub(crate) fn with_new<T>(
        &self,
        what: &str,
        f: impl FnMut(&mut Client) -> Result<T>,
    ) -> Result<T> {
        self.target.with_new(what, f)
    }
}

impl Documents for PgFleet {
    fn summary(&self) -> String {
        format!("PostgreSQL {}", self.target.summary)
    }

    fn identity(&self) -> String {
        self.identity.clone()
    }

    fn keys(&self) -> Result<Vec<String>> {
        self.with_client(|c| {
            let rows = c
                .query("SELECT key FROM cutover.documents ORDER BY key", &[])
                .map_err(|e| connect::explain(e, &self.target.summary))?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn read(&self, key: &str) -> Result<Vec<u8>> {
        let row = self.with_client(|c| {
            c.query_opt("SELECT body FROM cutover.documents WHERE key = $1", &[&key])
                .map_err(|e| connect::explain(e, &self.target.summary))
        })?;
        match row {
            Some(row) => Ok(row.get(0)),
            None => Err(StoreError::NotFound {
                key: key.to_owned(),
            })
            .with_context(|| format!("reading {}", self.display_key(key))),
        }
    }

    fn read_many(&self, keys: &[&str]) -> Vec<Result<Vec<u8>>> {
        let rows = self.with_client(|c| {
            c.query(
                "SELECT key, body FROM cutover.documents WHERE key = ANY($1)",
                &[&keys],
            )
            .map_err(|e| connect::explain(e, &self.target.summary))
        });
        match rows {
            Ok(rows) => {
                let mut found: std::collections::HashMap<String, Vec<u8>> =
                    rows.into_iter().map(|r| (r.get(0), r.get(1))).collect();
                keys.iter()
                    .map(|key| match found.remove(*key) {
                        Some(body) => Ok(body),
                        None => Err(StoreError::NotFound {
                            key: (*key).to_owned(),
                        })
                        .with_context(|| format!("reading {}", self.display_key(key))),
                    })
                    .collect()
            }
            Err(e) => keys.iter().map(|_| Err(anyhow::anyhow!("{e:#}"))).collect(),
        }
    }

    fn display_key(&self, key: &str) -> String {
        format!("document {key:?} in {}", self.target.summary)
    }

    /// Document writes alone, each batch one transaction. A PostgreSQL fleet's own runs do
    /// not use it: [`crate::write::transaction::PgWriter`] commits the ledger rows in the same transaction.
    fn writer(&self) -> Result<Box<dyn DocumentWriter + '_>> {
        Ok(Box::new(DocumentsOnly {
            client: self.connect_new()?,
            summary: self.target.summary.clone(),
        }))
    }
}

/// Conditional writes of documents, without ledger rows.
struct DocumentsOnly {
    client: Client,
    summary: String,
}

impl DocumentWriter for DocumentsOnly {
    fn write_batch(
        &mut self,
        writes: &[super::Write<'_>],
        replaced: &mut dyn FnMut(usize),
    ) -> Vec<Result<()>> {
        let committed = (|| -> Result<Vec<Result<()>>> {
            let mut tx = self.client.transaction()?;
            let results = documents::replace(&mut tx, writes)?;
            tx.commit()
                .map_err(|e| connect::explain(e, &self.summary))?;
            Ok(results)
        })();
        match committed {
            Ok(results) => {
                results
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.is_ok())
                    .for_each(|(i, _)| replaced(i));
                results
            }
            Err(e) => writes
                .iter()
                .map(|_| Err(anyhow::anyhow!("{e:#}")))
                .collect(),
        }
    }
}
