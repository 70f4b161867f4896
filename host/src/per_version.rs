//! Files a fleet keeps per connector version, `<dir>/<connector>/<version>.json` (specs,
//! discovered catalogs), each read once, on first use, by whichever worker needs it first.

use semver::Version;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The files under one directory, read as `T`; a missing file is remembered as `None`.
pub struct PerVersion<T> {
    root: PathBuf,
    loaded: Mutex<HashMap<(String, Version), Option<Arc<T>>>>,
}

impl<T> PerVersion<T> {
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// Where the file of `connector` at `version` lives.
    pub fn path(&self, connector: &str, version: &Version) -> PathBuf {
        self.root.join(connector).join(format!("{version}.json"))
    }

    /// The file of `connector` at `version`, read with `read` the first time, if it exists.
    pub fn get(
        &self,
        connector: &str,
        version: &Version,
        read: impl FnOnce(&Path) -> Result<T, String>,
    ) -> Result<Option<Arc<T>>, String> {
        let key = (connector.to_owned(), version.clone());
        if let Some(v) = self
            .loaded
            .lock()
            .expect("per-version cache poisoned")
            .get(&key)
        {
            return Ok(v.clone());
        }
        let path = self.path(connector, version);
        let value = if path.exists() {
            Some(Arc::new(read(&path)?))
        } else {
            None
        };
        self.loaded
            .lock()
            .expect("per-version cache poisoned")
            .insert(key, value.clone());
        Ok(value)
    }
}
