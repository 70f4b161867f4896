//! Builders for an Airbyte plugin's unit tests: the connection a test migrates, its
//! configured streams and state messages, streams read from a version's real discovered
//! catalog, and what an outcome asks for. Every plugin's tests need the same documents in
//! the same shapes, so they are written once here (compiled where tests run, natively; not
//! in a plugin's component).
//!
//! ```
//! use cutover_plugin::testing::{self, configured, connection, stream_state};
//! use cutover_plugin::json;
//!
//! let users = json!({"name": "users", "json_schema": {}, "supported_sync_modes": ["full_refresh"]});
//! let c = connection("airbyte/source-example", "1.4.0")
//!     .config(json!({"api_key": "k"}))
//!     .streams(vec![configured(users, "full_refresh", "overwrite").into()])
//!     .state(vec![stream_state("users", json!({"updated_at": "2024-01-01"}))])
//!     .build();
//! assert_eq!(c.catalog["streams"][0]["stream"]["name"], "users");
//! assert!(testing::cleared(&c.into_outcome()).is_empty());
//! ```

use crate::{Action, Connection, Outcome};
use serde_json::{Map, Value, json};
use std::path::Path;

/// A [`Connection`] being built for a test; [`connection`] starts one.
#[derive(Clone, Debug)]
pub struct ConnectionBuilder {
    connection: Connection,
}

/// A connection of `connector` (`airbyte/source-…`) at `version`, with id `c`, an empty
/// config, no streams and no state until they are set.
pub fn connection(connector: &str, version: &str) -> ConnectionBuilder {
    ConnectionBuilder {
        connection: Connection {
            id: "c".into(),
            connector: connector.into(),
            version: version.into(),
            config: json!({}),
            catalog: json!({"streams": []}),
            state: Vec::new(),
        },
    }
}

impl ConnectionBuilder {
    /// The source config.
    pub fn config(mut self, config: Value) -> Self {
        self.connection.config = config;
        self
    }

    /// The whole `ConfiguredAirbyteCatalog`.
    pub fn catalog(mut self, catalog: Value) -> Self {
        self.connection.catalog = catalog;
        self
    }

    /// A catalog of these configured streams (see [`configured`]).
    pub fn streams(self, streams: Vec<Value>) -> Self {
        self.catalog(json!({ "streams": streams }))
    }

    /// The state messages (see [`stream_state`]).
    pub fn state(mut self, state: Vec<Value>) -> Self {
        self.connection.state = state;
        self
    }

    /// The connection.
    pub fn build(self) -> Connection {
        self.connection
    }

    /// The connection with this whole catalog and these state messages: what a plugin's
    /// tests vary most.
    pub fn build_with(self, catalog: Value, state: Vec<Value>) -> Connection {
        self.catalog(catalog).state(state).build()
    }
}

impl From<ConnectionBuilder> for Connection {
    fn from(builder: ConnectionBuilder) -> Self {
        builder.build()
    }
}

/// A `ConfiguredAirbyteStream` being built; [`configured`] starts one and `.into()` (or
/// [`Configured::build`]) gives its JSON.
#[derive(Clone, Debug)]
pub struct Configured {
    entry: Map<String, Value>,
}

/// `stream` (an `AirbyteStream`) configured with `sync_mode` and `destination_sync_mode`,
/// and no cursor or primary key until they are set.
pub fn configured(stream: Value, sync_mode: &str, destination_sync_mode: &str) -> Configured {
    let mut entry = Map::new();
    entry.insert("stream".into(), stream);
    entry.insert("sync_mode".into(), sync_mode.into());
    entry.insert("destination_sync_mode".into(), destination_sync_mode.into());
    Configured { entry }
}

impl Configured {
    /// The cursor field, as a path (`["updated_at"]`).
    pub fn cursor(mut self, path: &[&str]) -> Self {
        self.entry.insert("cursor_field".into(), json!(path));
        self
    }

    /// The primary key, as a list of paths (`[["id"]]`).
    pub fn primary_key(mut self, key: Value) -> Self {
        self.entry.insert("primary_key".into(), key);
        self
    }

    /// The cursor and primary key the stream declares (`default_cursor_field`,
    /// `source_defined_primary_key`), those of them it declares.
    pub fn declared_cursor_and_key(mut self) -> Self {
        for (from, to) in [
            ("default_cursor_field", "cursor_field"),
            ("source_defined_primary_key", "primary_key"),
        ] {
            if let Some(value) = self.entry["stream"].get(from).cloned() {
                self.entry.insert(to.into(), value);
            }
        }
        self
    }

    /// The entry's JSON.
    pub fn build(self) -> Value {
        Value::Object(self.entry)
    }
}

impl From<Configured> for Value {
    fn from(configured: Configured) -> Self {
        configured.build()
    }
}

/// A per-stream state message (`"type": "STREAM"`) for the stream `name`.
pub fn stream_state(name: &str, stream_state: Value) -> Value {
    json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": stream_state}})
}

/// The stream `name` of an `AirbyteCatalog` given as JSON text (a version's discovered
/// catalog, `include_str!`-ed), if it has one.
///
/// # Panics
/// If `catalog` is not a catalog: the test's fixture is broken.
pub fn find_stream(catalog: &str, name: &str) -> Option<Value> {
    let catalog: Value = serde_json::from_str(catalog).expect("a catalog is JSON");
    catalog["streams"]
        .as_array()
        .expect("a catalog has a \"streams\" array")
        .iter()
        .find(|s| s["name"] == name)
        .cloned()
}

/// The stream `name` of an `AirbyteCatalog` given as JSON text.
///
/// # Panics
/// If the catalog does not have it.
pub fn stream(catalog: &str, name: &str) -> Value {
    find_stream(catalog, name).unwrap_or_else(|| panic!("the catalog has no stream {name:?}"))
}

/// The text of a fixture file, such as a version's `catalog.json`.
///
/// # Panics
/// If it cannot be read, naming it.
pub fn fixture(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The stream `name` of the `AirbyteCatalog` in the file at `catalog` (a version's
/// discovered catalog among a plugin's fixtures), if it has one.
///
/// # Panics
/// If the file cannot be read or is not a catalog.
pub fn catalog_stream(catalog: impl AsRef<Path>, name: &str) -> Option<Value> {
    find_stream(&fixture(catalog), name)
}

/// A connector's fixtures folder (`tests/fixtures/source-<name>` in this repository),
/// holding each imported version's real `catalog.json` and `spec.json` in a folder named
/// after the version.
#[derive(Clone, Copy, Debug)]
pub struct Fixtures(pub &'static str);

impl Fixtures {
    /// The text of `version`'s discovered catalog.
    ///
    /// # Panics
    /// If it cannot be read.
    pub fn catalog(self, version: &str) -> String {
        fixture(format!("{}/{version}/catalog.json", self.0))
    }

    /// The stream `name` of `version`'s discovered catalog, if that version has it.
    pub fn stream(self, version: &str, name: &str) -> Option<Value> {
        find_stream(&self.catalog(version), name)
    }
}

/// The names of the streams an outcome asks the operator to clear, in order.
pub fn cleared(outcome: &Outcome) -> Vec<String> {
    outcome
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::ClearStream { stream, .. } => Some(stream.name.clone()),
            _ => None,
        })
        .collect()
}

/// Every stream of an `AirbyteCatalog` given as JSON text (a version's real discovered
/// catalog), configured as a user would: incrementally with its declared cursor and key where
/// it supports that and declares a cursor, else as a full refresh that overwrites.
pub fn every_stream(catalog: &str) -> Vec<Value> {
    let catalog: Value = serde_json::from_str(catalog).expect("a catalog is JSON");
    catalog["streams"]
        .as_array()
        .expect("a catalog has a \"streams\" array")
        .iter()
        .map(|stream| {
            let incremental = stream["supported_sync_modes"]
                .as_array()
                .is_some_and(|m| m.iter().any(|m| m == "incremental"))
                && stream.get("default_cursor_field").is_some();
            if incremental {
                configured(stream.clone(), "incremental", "append_dedup")
                    .declared_cursor_and_key()
                    .into()
            } else {
                configured(stream.clone(), "full_refresh", "overwrite").into()
            }
        })
        .collect()
}

/// Where a migrated catalog departs from the target version's real discovered catalog
/// (`target`, JSON text): each configured stream the target has whose discovered fields
/// ([`DISCOVERED_FIELDS`](crate::discovered::DISCOVERED_FIELDS): schema, sync modes, cursor,
/// primary key) differ, with those fields. Empty when the plugin produces what the version
/// discovers; a test asserting that fails as soon as a plugin or a fixture drifts.
pub fn catalog_drift(migrated: &Value, target: &str) -> Vec<(String, Vec<&'static str>)> {
    let mut drift = Vec::new();
    for entry in crate::catalog::streams(migrated) {
        let stream = &entry["stream"];
        let Some(name) = stream["name"].as_str() else {
            continue;
        };
        let Some(discovered) = find_stream(target, name) else {
            continue;
        };
        let fields: Vec<&'static str> = crate::discovered::DISCOVERED_FIELDS
            .into_iter()
            .filter(|f| stream.get(*f) != discovered.get(*f))
            .collect();
        if !fields.is_empty() {
            drift.push((name.to_owned(), fields));
        }
    }
    drift
}

/// Migrates `connection` (its config and version; its catalog and state are replaced)
/// syncing [`every_stream`] of `old` (the version migrated from, its
/// real discovered catalog as JSON text) with `migrate` (a plugin's
/// [`Migration::migrate_and_conform`](crate::Migration::migrate_and_conform), what its
/// component runs) and checks the result against `new`, the produced version's real
/// catalog: every stream `new` has must leave as `new` declares it, but those named in
/// `unlike` (a custom report whose two discovers were configured differently, because the
/// old version refused what the new one's config asks for: say so at the call).
///
/// # Panics
/// If the migration refuses, or naming each stream and field that drifted ([`catalog_drift`]).
pub fn assert_every_stream_conforms(
    migrate: impl Fn(Connection) -> crate::Result<Outcome>,
    connection: Connection,
    old: &str,
    new: &str,
    unlike: &[&str],
) {
    let connection = Connection {
        catalog: json!({ "streams": every_stream(old) }),
        state: Vec::new(),
        ..connection
    };
    let out = migrate(connection)
        .unwrap_or_else(|e| panic!("migrating every stream of the old catalog: {e}"));
    let mut drift = catalog_drift(&out.catalog, new);
    drift.retain(|(stream, _)| !unlike.contains(&stream.as_str()));
    assert!(
        drift.is_empty(),
        "streams that leave unlike the target version's catalog (stream, fields): {drift:?}"
    );
}

/// Where two JSON schemas type a field differently: for each field of `old` that `new`
/// has too (under `properties` and `items`, recursively), whose `type`, `format` or
/// `airbyte_type` differ, its JSON pointer within the schema and those keywords as `new`
/// has them. What a table of type changes is checked against.
pub fn type_changes(old: &Value, new: &Value) -> Vec<(String, Value)> {
    let mut changes = Vec::new();
    collect_type_changes(old, new, String::new(), &mut changes);
    changes
}

fn collect_type_changes(old: &Value, new: &Value, at: String, out: &mut Vec<(String, Value)>) {
    let keys = ["type", "format", "airbyte_type"];
    if keys.iter().any(|k| old.get(k) != new.get(k)) {
        let picked: Map<String, Value> = keys
            .iter()
            .filter_map(|k| new.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect();
        out.push((at.clone(), Value::Object(picked)));
    }
    if let (Some(a), Some(b)) = (
        old.get("properties").and_then(Value::as_object),
        new.get("properties").and_then(Value::as_object),
    ) {
        for (name, child) in a {
            if let Some(other) = b.get(name) {
                collect_type_changes(child, other, format!("{at}/properties/{name}"), out);
            }
        }
    }
    if let (Some(a), Some(b)) = (old.get("items"), new.get("items")) {
        collect_type_changes(a, b, format!("{at}/items"), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_changes_name_each_retyped_field_by_pointer() {
        let old = json!({"type": "object", "properties": {
            "id": {"type": "string"},
            "at": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "integer"}},
            "gone": {"type": "string"}}});
        let new = json!({"type": "object", "properties": {
            "id": {"type": "string"},
            "at": {"type": "string", "format": "date-time"},
            "tags": {"type": "array", "items": {"type": "number"}}}});
        assert_eq!(
            type_changes(&old, &new),
            [
                (
                    "/properties/at".to_owned(),
                    json!({"type": "string", "format": "date-time"})
                ),
                (
                    "/properties/tags/items".to_owned(),
                    json!({"type": "number"})
                ),
            ]
        );
        assert!(type_changes(&new, &new).is_empty());
    }

    #[test]
    fn drift_names_each_stream_and_field_that_departs_from_the_target() {
        let target = r#"{"streams": [
            {"name": "a", "json_schema": {"type": "object"}, "supported_sync_modes": ["full_refresh"]},
            {"name": "b", "json_schema": {"type": "object"}, "supported_sync_modes": ["full_refresh", "incremental"],
             "source_defined_cursor": true, "default_cursor_field": ["at"]}]}"#;
        let mut streams = every_stream(target);
        assert_eq!(streams[1]["sync_mode"], "incremental");
        assert_eq!(streams[1]["cursor_field"], json!(["at"]));
        assert!(catalog_drift(&json!({ "streams": streams.clone() }), target).is_empty());
        streams[1]["stream"]["default_cursor_field"] = json!(["updated"]);
        streams.push(configured(json!({"name": "custom"}), "full_refresh", "overwrite").into());
        assert_eq!(
            catalog_drift(&json!({ "streams": streams }), target),
            [("b".to_owned(), vec!["default_cursor_field"])]
        );
    }

    #[test]
    fn declared_cursor_and_key_come_from_the_stream() {
        let stream = json!({"name": "s", "default_cursor_field": ["at"], "source_defined_primary_key": [["id"]]});
        let entry: Value = configured(stream.clone(), "incremental", "append_dedup")
            .declared_cursor_and_key()
            .into();
        assert_eq!(entry["cursor_field"], json!(["at"]));
        assert_eq!(entry["primary_key"], json!([["id"]]));
        let bare: Value = configured(json!({"name": "s"}), "full_refresh", "overwrite")
            .declared_cursor_and_key()
            .into();
        assert!(bare.get("cursor_field").is_none() && bare.get("primary_key").is_none());
    }
}
