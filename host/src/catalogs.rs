//! Connector catalogs: the streams a version really discovers.
//!
//! A fleet may hold the discovered catalog of any connector version under
//! `catalogs/<connector>/<version>.json`, beside `specs/` (for example
//! `catalogs/airbyte/source-pinterest/2.0.0.json`): the `AirbyteCatalog` a `discover` of
//! that version printed (`{"streams": [AirbyteStream, …]}`), or a configured catalog,
//! whose streams are read the same way. A plugin step that produces a version whose
//! catalog the fleet has is checked against it ([`crate::conformance`]): every migrated
//! stream the version knows must carry that version's schema, sync modes, default cursor
//! and primary key. A plugin's own test fixtures name theirs in `Cargo.toml`
//! (`target-catalog`, or the `catalog.json` beside `target-spec`).

use crate::per_version::PerVersion;
use semver::Version;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A stream as Airbyte's `StreamDescriptor` names it: name and namespace.
pub type StreamKey = (String, Option<String>);

/// The key of an `AirbyteStream` object (`name`, `namespace`), if it has a name.
pub fn stream_key(stream: &Value) -> Option<StreamKey> {
    let name = stream.get("name")?.as_str()?.to_owned();
    let namespace = stream
        .get("namespace")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Some((name, namespace))
}

/// A stream key as the operator reads it: `namespace.name` or `name`.
pub fn show(key: &StreamKey) -> String {
    match &key.1 {
        Some(ns) => format!("{ns}.{}", key.0),
        None => key.0.clone(),
    }
}

/// One version's discovered catalog, by stream.
#[derive(Debug)]
pub struct TargetCatalog {
    path: PathBuf,
    streams: BTreeMap<StreamKey, Value>,
}

impl TargetCatalog {
    /// Reads a catalog file.
    pub fn read(path: &Path) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        Self::from_value(path, &value)
    }

    /// A catalog from its JSON: `{"streams": [...]}` of discovered or configured streams.
    pub fn from_value(path: &Path, value: &Value) -> Result<Self, String> {
        let streams = value
            .get("streams")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                format!(
                    "{} is not an Airbyte catalog: it has no \"streams\" array",
                    path.display()
                )
            })?;
        let mut by_key = BTreeMap::new();
        for stream in streams {
            let stream = stream
                .get("stream")
                .filter(|s| s.is_object())
                .unwrap_or(stream);
            let key = stream_key(stream)
                .ok_or_else(|| format!("{}: a stream without a name", path.display()))?;
            by_key.insert(key, stream.clone());
        }
        Ok(Self {
            path: path.to_owned(),
            streams: by_key,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The discovered stream, if the version has it.
    pub fn stream(&self, key: &StreamKey) -> Option<&Value> {
        self.streams.get(key).or_else(|| {
            // A configured stream may carry a namespace its discovered stream leaves to the
            // destination; the name alone then identifies it.
            if key.1.is_some() {
                self.streams.get(&(key.0.clone(), None))
            } else {
                None
            }
        })
    }

    pub fn contains(&self, key: &StreamKey) -> bool {
        self.stream(key).is_some()
    }
}

/// The catalogs of a fleet, loaded on first use.
pub struct Catalogs(PerVersion<TargetCatalog>);

impl Catalogs {
    pub fn new(fleet_root: &Path) -> Self {
        Self(PerVersion::new(fleet_root.join("catalogs")))
    }

    /// Where the catalog of `connector` at `version` lives.
    pub fn path(&self, connector: &str, version: &Version) -> PathBuf {
        self.0.path(connector, version)
    }

    /// The catalog of `connector` at `version`, if the fleet has it.
    pub fn get(
        &self,
        connector: &str,
        version: &Version,
    ) -> Result<Option<Arc<TargetCatalog>>, String> {
        self.0.get(connector, version, TargetCatalog::read)
    }
}
