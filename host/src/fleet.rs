//! A fleet: the operator's connections, plugins, settings and ledger.
//!
//! The embedded default is one directory:
//!
//! ```text
//! fleet/
//!   cutover.toml            settings: plugins directory, platform versions, targets, limits
//!   plugins/*.wasm          migration plugins
//!   connections/<id>.json   one document per connection
//!   specs/<connector>/<version>.json   connector specs migrated configs are checked against
//!   catalogs/<connector>/<version>.json   discovered catalogs migrated streams must match
//!   .cutover/               ledger.sqlite (history, snapshots, journal), the run lock, the compile cache (owner-only)
//! ```
//!
//! With `[store] url = "postgres://…"` in cutover.toml (or `--fleet postgres://…`, with
//! the settings and plugins of the current directory), the documents and the ledger live in
//! PostgreSQL instead, shared by every host that runs cutover against it
//! ([`crate::store::postgres`]).

use crate::catalogs::Catalogs;
use crate::document::Document;
use crate::elastic::spec::ElasticSpecs;
use crate::elastic::versions::Versions;
use crate::ground::sha256_hex;
use crate::settings::Settings;
use crate::specs::Specs;
use crate::store::{self, Backend, Documents, LedgerHome};
use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct Fleet {
    root: PathBuf,
    pub settings: Settings,
    documents: Arc<dyn Documents>,
    ledger: LedgerHome,
    specs: Specs,
    elastic_specs: ElasticSpecs,
    /// The versions of the Elastic documents, read from the ledger on first use.
    elastic_versions: std::sync::OnceLock<Result<Versions, String>>,
    catalogs: Catalogs,
}

/// One connection document as read, before and after parsing.
pub struct Entry {
    /// The document's key in the store (for a directory, its file name without `.json`).
    pub key: String,
    pub bytes: Vec<u8>,
    pub sha256: String,
    /// The parsed document, or why it could not be parsed.
    pub parsed: Result<Document, String>,
}

impl Entry {
    /// A document as read: its hash, and the parsed document or why it does not parse.
    pub fn new(key: &str, bytes: Vec<u8>) -> Self {
        let parsed = Document::parse(&bytes).map_err(|e| format!("{e:#}"));
        Entry {
            key: key.to_owned(),
            sha256: sha256_hex(&bytes),
            bytes,
            parsed,
        }
    }
}

/// Whether `--fleet` names a database rather than a directory.
pub fn is_database_url(fleet: &str) -> bool {
    fleet.starts_with("postgres://") || fleet.starts_with("postgresql://")
}

impl Fleet {
    /// Opens the fleet `--fleet` names: a directory (which must have a `connections/`
    /// directory unless its cutover.toml names a database), or a `postgres://` URL, whose
    /// settings and plugins are those of the current directory.
    pub fn open(fleet: &Path) -> Result<Self> {
        let text = fleet.to_string_lossy();
        if is_database_url(&text) {
            let root = std::env::current_dir().context("reading the current directory")?;
            let mut settings = Settings::load(&root.join("cutover.toml"))?;
            settings.store.url = Some(text.into_owned());
            return Self::with_settings(root, settings);
        }
        let root = fleet.canonicalize().with_context(|| {
            format!(
                "fleet directory {} does not exist; pass --fleet DIR (or set CUTOVER_FLEET)",
                fleet.display()
            )
        })?;
        let settings = Settings::load(&root.join("cutover.toml"))?;
        Self::with_settings(root, settings)
    }

    fn with_settings(root: PathBuf, mut settings: Settings) -> Result<Self> {
        if let Some(ca_file) = &mut settings.store.ca_file {
            *ca_file = root.join(&*ca_file);
        }
        let backend = open_backend(&root, &root.join(".cutover"), &settings)?;
        Ok(Self {
            documents: backend.documents,
            ledger: backend.ledger,
            settings,
            specs: Specs::new(&root),
            elastic_specs: ElasticSpecs::new(root.join("specs")),
            elastic_versions: std::sync::OnceLock::new(),
            catalogs: Catalogs::new(&root),
            root,
        })
    }

    /// The directory holding the settings, plugins and specs (and, for an embedded fleet,
    /// the documents and the ledger).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// What identifies the fleet in plans: its directory, or its database.
    pub fn identity(&self) -> String {
        self.documents.identity()
    }

    pub fn plugins_dir(&self) -> PathBuf {
        self.root.join(&self.settings.plugins)
    }

    /// Where cutover keeps its own data on this host: the compile cache, and for an
    /// embedded fleet the ledger and the lock.
    pub fn state_dir(&self) -> Result<PathBuf> {
        let dir = self.root.join(".cutover");
        crate::private_files::owner_only_dir(&dir)?;
        Ok(dir)
    }

    /// The fleet with its documents seen through `wrap` (a test counts the reads).
    #[cfg(test)]
    pub(crate) fn wrap_documents(
        &mut self,
        wrap: impl FnOnce(Arc<dyn Documents>) -> Arc<dyn Documents>,
    ) {
        self.documents = wrap(self.documents.clone());
    }

    /// Where the documents live.
    pub fn documents(&self) -> &dyn Documents {
        &*self.documents
    }

    /// Where the ledger lives.
    pub fn ledger_home(&self) -> &LedgerHome {
        &self.ledger
    }

    /// The ledger, for reading history.
    pub fn ledger(&self) -> Result<Box<dyn crate::ledger::Ledger>> {
        match &self.ledger {
            LedgerHome::Sqlite(path) => {
                self.state_dir()?;
                Ok(Box::new(crate::ledger::sqlite::SqliteLedger::open(path)?))
            }
            LedgerHome::Postgres(pg) => Ok(Box::new(pg.ledger()?)),
        }
    }

    /// The connector specs the fleet holds (`specs/`).
    pub fn specs(&self) -> &Specs {
        &self.specs
    }

    /// The Elastic data sources' default configurations and service types the fleet holds
    /// (`specs/elastic/`).
    pub fn elastic_specs(&self) -> &ElasticSpecs {
        &self.elastic_specs
    }

    /// Which version each Elastic document is valid for: the declared connectors service
    /// version and the ledger's record (see [`crate::elastic::versions`]).
    pub fn elastic_versions(&self) -> Result<&Versions, String> {
        self.elastic_versions
            .get_or_init(|| {
                let ledger = self
                    .ledger()
                    .map_err(|e| format!("opening the ledger: {e:#}"))?;
                Versions::load(self.settings.elastic.connectors_service.clone(), &*ledger)
                    .map_err(|e| format!("reading the ledger: {e:#}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The discovered catalogs the fleet holds (`catalogs/`).
    pub fn catalogs(&self) -> &Catalogs {
        &self.catalogs
    }

    /// How messages name a document.
    pub fn display_key(&self, key: &str) -> String {
        self.documents.display_key(key)
    }

    /// Reads one document.
    pub fn read(&self, key: &str) -> Result<Entry> {
        Ok(Entry::new(key, self.documents.read(key)?))
    }

    /// Reads every document. Two documents with the same id make both invalid.
    pub fn entries(&self) -> Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for key in self.documents.keys()? {
            entries.push(self.read(&key)?);
        }
        let ids = entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.parsed.as_ref().ok().map(|c| (i, c.id().to_owned())));
        for (i, problem) in self.duplicate_ids(ids, |i| entries[i].key.clone()) {
            entries[i].parsed = Err(problem);
        }
        Ok(entries)
    }

    /// The documents that share an id with another, each with the problem to report:
    /// every one of them is invalid until each connection has its own id. `ids` are
    /// (index, id) pairs; `key` gives an index's document key.
    pub fn duplicate_ids(
        &self,
        ids: impl IntoIterator<Item = (usize, String)>,
        key: impl Fn(usize) -> String,
    ) -> Vec<(usize, String)> {
        let mut seen: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, id) in ids {
            seen.entry(id).or_default().push(i);
        }
        let mut problems = Vec::new();
        for (id, at) in seen.into_iter().filter(|(_, at)| at.len() > 1) {
            let files: Vec<String> = at.iter().map(|&i| self.display_key(&key(i))).collect();
            for &i in &at {
                problems.push((
                    i,
                    format!(
                        "id {id:?} is used by {} documents ({}); give each connection its own id",
                        at.len(),
                        files.join(", ")
                    ),
                ));
            }
        }
        problems
    }

    /// Finds the document of a connection by id (or by file name).
    pub fn find(&self, id: &str) -> Result<Entry> {
        for e in self.entries()? {
            let matches = match &e.parsed {
                Ok(c) => c.id() == id,
                Err(_) => false,
            } || e.key == id;
            if matches {
                return Ok(e);
            }
        }
        bail!(
            "no connection {id:?} in fleet {}; `cutover status` lists them",
            self.documents.summary()
        )
    }
}

/// The backend a fleet's settings choose: PostgreSQL when `[store] url` (or `--fleet
/// postgres://…`) names a database, an Elasticsearch cluster when `[elastic] url` does, an
/// Airbyte deployment when `[airbyte]` names one, else the `connections/` directory under
/// `root`, with the ledger in `state_dir`.
fn open_backend(root: &Path, state_dir: &Path, settings: &Settings) -> Result<Backend> {
    if let Some(airbyte) = &settings.airbyte {
        if settings.store.url.is_some() || settings.elastic.url.is_some() {
            anyhow::bail!(
                "cutover.toml names [airbyte] and also [store] url or [elastic] url; a fleet's documents live in one place"
            );
        }
        return Ok(Backend {
            documents: Arc::new(store::airbyte::AirbyteDocuments::open(root, airbyte)?),
            ledger: LedgerHome::Sqlite(state_dir.join("ledger.sqlite")),
        });
    }
    match (&settings.store.url, &settings.elastic.url) {
        (Some(_), Some(_)) => anyhow::bail!(
            "cutover.toml names both a database ([store] url) and a cluster ([elastic] url); a fleet's documents live in one place"
        ),
        (Some(url), None) => {
            let fleet = Arc::new(store::postgres::PgFleet::connect(url, &settings.store)?);
            Ok(Backend {
                documents: fleet.clone(),
                ledger: LedgerHome::Postgres(fleet),
            })
        }
        (None, Some(_)) => Ok(Backend {
            documents: Arc::new(store::elastic::ElasticDocuments::open(&settings.elastic)?),
            ledger: LedgerHome::Sqlite(state_dir.join("ledger.sqlite")),
        }),
        (None, None) => Ok(Backend {
            documents: Arc::new(store::directory::DirDocuments::open(
                &root.join("connections"),
            )?),
            ledger: LedgerHome::Sqlite(state_dir.join("ledger.sqlite")),
        }),
    }
}
