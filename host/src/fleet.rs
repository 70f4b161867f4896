//! A fleet: a directory holding the operator's connections, plugins, settings and ledger.
//!
//! ```text
//! fleet/
//!   cutover.toml            settings: plugins directory, platform versions, targets, limits
//!   plugins/*.wasm          migration plugins
//!   connections/<id>.json   one document per connection
//!   specs/<connector>/<version>.json   connector specs migrated configs are checked against
//!   catalogs/<connector>/<version>.json   discovered catalogs migrated streams must match
//!   .cutover/               ledger.sqlite (history, snapshots, journal) and the run lock
//! ```

use crate::catalogs::Catalogs;
use crate::connection::Connection;
use crate::registry::sha256_hex;
use crate::settings::Settings;
use crate::specs::Specs;
use crate::store::{DirStore, Store};
use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub struct Fleet {
    root: PathBuf,
    pub settings: Settings,
    store: DirStore,
    specs: Specs,
    catalogs: Catalogs,
}

/// One connection document as read, before and after parsing.
pub struct Entry {
    /// The document's key in the store (its file name in `connections/`).
    pub key: String,
    pub bytes: Vec<u8>,
    pub sha256: String,
    /// The parsed document, or why it could not be parsed.
    pub parsed: Result<Connection, String>,
}

impl Fleet {
    /// Opens the fleet at `root`, which must have a `connections/` directory.
    pub fn open(root: &Path) -> Result<Self> {
        let root = root.canonicalize().with_context(|| {
            format!("fleet directory {} does not exist; pass --fleet DIR (or set CUTOVER_FLEET)", root.display())
        })?;
        let connections = root.join("connections");
        if !connections.is_dir() {
            bail!(
                "{} is not a cutover fleet: it has no connections/ directory (one <id>.json per connection)",
                root.display()
            );
        }
        let settings = Settings::load(&root.join("cutover.toml"))?;
        Ok(Self { store: DirStore::new(connections), settings, specs: Specs::new(&root), catalogs: Catalogs::new(&root), root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn plugins_dir(&self) -> PathBuf {
        self.root.join(&self.settings.plugins)
    }

    /// Where cutover keeps its own data: the ledger and the lock.
    pub fn state_dir(&self) -> Result<PathBuf> {
        let dir = self.root.join(".cutover");
        crate::private_files::owner_only_dir(&dir)?;
        Ok(dir)
    }

    pub fn store(&self) -> &dyn Store {
        &self.store
    }

    /// The connector specs the fleet holds (`specs/`).
    pub fn specs(&self) -> &Specs {
        &self.specs
    }

    /// The discovered catalogs the fleet holds (`catalogs/`).
    pub fn catalogs(&self) -> &Catalogs {
        &self.catalogs
    }

    /// The path of a document, for messages.
    pub fn display_key(&self, key: &str) -> String {
        format!("connections/{key}")
    }

    /// Reads one document.
    pub fn read(&self, key: &str) -> Result<Entry> {
        let bytes = self.store.read(key)?;
        let parsed = Connection::parse(&bytes).map_err(|e| format!("{e:#}"));
        Ok(Entry { key: key.to_owned(), sha256: sha256_hex(&bytes), bytes, parsed })
    }

    /// Reads every document. Two documents with the same id make both invalid.
    pub fn entries(&self) -> Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for key in self.store.keys()? {
            entries.push(self.read(&key)?);
        }
        let ids = entries.iter().enumerate().filter_map(|(i, e)| e.parsed.as_ref().ok().map(|c| (i, c.id.clone())));
        for (i, problem) in self.duplicate_ids(ids, |i| entries[i].key.clone()) {
            entries[i].parsed = Err(problem);
        }
        Ok(entries)
    }

    /// The documents that share an id with another, each with the problem to report:
    /// every one of them is invalid until each connection has its own id. `ids` are
    /// (index, id) pairs; `key` gives an index's document key.
    pub fn duplicate_ids(&self, ids: impl IntoIterator<Item = (usize, String)>, key: impl Fn(usize) -> String) -> Vec<(usize, String)> {
        let mut seen: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, id) in ids {
            seen.entry(id).or_default().push(i);
        }
        let mut problems = Vec::new();
        for (id, at) in seen.into_iter().filter(|(_, at)| at.len() > 1) {
            let files: Vec<String> = at.iter().map(|&i| self.display_key(&key(i))).collect();
            for &i in &at {
                problems.push((i, format!("id {id:?} is used by {} documents ({}); give each connection its own id", at.len(), files.join(", "))));
            }
        }
        problems
    }

    /// Finds the document of a connection by id (or by file name).
    pub fn find(&self, id: &str) -> Result<Entry> {
        for e in self.entries()? {
            let matches = match &e.parsed {
                Ok(c) => c.id == id,
                Err(_) => false,
            } || e.key == id
                || e.key.strip_suffix(".json") == Some(id);
            if matches {
                return Ok(e);
            }
        }
        bail!("no connection {id:?} in fleet {}; `cutover status` lists them", self.root.display())
    }
}
