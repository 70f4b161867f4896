//! Helpers over a `ConfiguredAirbyteCatalog`: `{"streams": [ConfiguredAirbyteStream, …]}`,
//! where each entry is `{"stream": AirbyteStream, "sync_mode", "cursor_field",
//! "destination_sync_mode", "primary_key"}`.
//!
//! Every helper changes only what it names and keeps the user's choices (sync mode, cursor,
//! primary key, destination sync mode) as they were.

use crate::{Error, Result, StreamDescriptor};
use serde_json::Value;

/// The configured streams, or an empty slice when the catalog has none.
pub fn streams(catalog: &Value) -> &[Value] {
    catalog
        .get("streams")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The configured streams, mutably.
pub fn streams_mut(catalog: &mut Value) -> &mut [Value] {
    match catalog.get_mut("streams").and_then(Value::as_array_mut) {
        Some(streams) => streams.as_mut_slice(),
        None => &mut [],
    }
}

/// The descriptor of a configured stream entry.
pub fn descriptor(entry: &Value) -> Option<StreamDescriptor> {
    StreamDescriptor::from_json(entry.get("stream")?)
}

/// A configured stream and the columns of it that a migration names.
///
/// A database source's catalog is the connection's own, and its types often cannot say
/// which columns a new version retypes (a `string` may be a date the old version did not
/// know): such a migration lists each stream with the columns that *may* change, for the
/// operator to check after the schema refresh.
pub struct StreamColumns<'a> {
    /// The stream, by name and namespace.
    pub stream: StreamDescriptor,
    /// The configured entry (its sync modes tell whether earlier rows keep the old types).
    pub entry: &'a Value,
    /// The columns named, in the order the migration found them.
    pub columns: Vec<String>,
}

impl std::fmt::Display for StreamColumns<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.stream, self.columns.join(", "))
    }
}

impl StreamColumns<'_> {
    /// `a (x, y); b (z)`: the list a note shows.
    pub fn listed(streams: &[Self]) -> String {
        streams
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Every configured stream for which `columns` names at least one column, in catalog
/// order. A stream without a name is refused: the plan could not say which it meant.
pub fn streams_with_columns<'a, C: Into<String>>(
    catalog: &'a Value,
    mut columns: impl FnMut(&'a Value) -> Vec<C>,
) -> Result<Vec<StreamColumns<'a>>> {
    let mut found = Vec::new();
    for entry in streams(catalog) {
        let stream = descriptor(entry)
            .ok_or_else(|| Error::InvalidInput("a configured stream has no stream.name".into()))?;
        let columns: Vec<String> = columns(entry).into_iter().map(Into::into).collect();
        if !columns.is_empty() {
            found.push(StreamColumns {
                stream,
                entry,
                columns,
            });
        }
    }
    Ok(found)
}

/// The configured entry for `name`, if the connection syncs it.
pub fn find<'a>(catalog: &'a Value, name: &str) -> Option<&'a Value> {
    streams(catalog)
        .iter()
        .find(|e| stream_name(e) == Some(name))
}

/// The configured entry for `name`, mutably.
pub fn find_mut<'a>(catalog: &'a mut Value, name: &str) -> Option<&'a mut Value> {
    streams_mut(catalog)
        .iter_mut()
        .find(|e| stream_name(e) == Some(name))
}

fn stream_name(entry: &Value) -> Option<&str> {
    entry.get("stream")?.get("name")?.as_str()
}

/// Whether the connection syncs `name` incrementally.
pub fn is_incremental(catalog: &Value, name: &str) -> bool {
    find(catalog, name)
        .and_then(|e| e.get("sync_mode"))
        .and_then(Value::as_str)
        == Some("incremental")
}

/// The descriptors of every stream synced incrementally.
pub fn incremental_streams(catalog: &Value) -> Vec<StreamDescriptor> {
    streams(catalog)
        .iter()
        .filter(|e| e.get("sync_mode").and_then(Value::as_str) == Some("incremental"))
        .filter_map(descriptor)
        .collect()
}

/// Renames a stream in the catalog, keeping the user's sync mode, cursor and primary key.
/// Returns whether the connection syncs the stream.
pub fn rename_stream(catalog: &mut Value, from: &str, to: &str) -> bool {
    match find_mut(catalog, from).and_then(|e| e.get_mut("stream")) {
        Some(stream) => {
            stream["name"] = Value::String(to.to_owned());
            true
        }
        None => false,
    }
}

/// Replaces what the source declares about a stream (its `AirbyteStream`: schema,
/// supported sync modes, default cursor, source-defined primary key) with `declared`, the
/// new version's, while keeping the user's configuration of it. A user's sync mode the
/// new version no longer supports falls back to `full_refresh`, and the user's cursor or
/// primary key yields to a source-defined one, as the platform does on a schema refresh.
/// Returns the names of the user's choices that had to change.
pub fn refresh_stream(entry: &mut Value, declared: &Value) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let namespace = entry
        .get("stream")
        .and_then(|s| s.get("namespace"))
        .cloned();
    let mut stream = declared.clone();
    if let (Some(ns), Some(obj)) = (namespace, stream.as_object_mut()) {
        obj.insert("namespace".into(), ns);
    }
    let supported: Vec<&str> = stream
        .get("supported_sync_modes")
        .and_then(Value::as_array)
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(mode) = entry.get("sync_mode").and_then(Value::as_str)
        && !supported.is_empty()
        && !supported.contains(&mode)
    {
        entry["sync_mode"] = Value::String("full_refresh".into());
        changed.push("sync_mode");
    }
    if stream.get("source_defined_cursor").and_then(Value::as_bool) == Some(true)
        && let Some(default) = stream.get("default_cursor_field")
        && entry.get("cursor_field").is_some_and(|c| c != default)
    {
        entry["cursor_field"] = default.clone();
        changed.push("cursor_field");
    }
    if let Some(pk) = stream.get("source_defined_primary_key")
        && entry.get("primary_key").is_some_and(|p| p != pk)
    {
        entry["primary_key"] = pk.clone();
        changed.push("primary_key");
    }
    entry["stream"] = stream;
    changed
}

/// The declared columns (`json_schema.properties`) of a configured stream's `stream`, to add
/// or retype one. A stream without them was not discovered by a version that declares its
/// columns, so the error asks for its schema to be refreshed on `refresh_on` (the version
/// the connection runs) first.
pub fn properties_mut<'a>(
    stream: &'a mut Value,
    name: &dyn std::fmt::Display,
    refresh_on: &str,
) -> Result<&'a mut serde_json::Map<String, Value>> {
    stream
        .get_mut("json_schema")
        .and_then(|s| s.get_mut("properties"))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "{name} has no json_schema.properties; refresh the source schema on {refresh_on} and retry"
            ))
        })
}

/// Applies `f` to the `json_schema` of every configured stream.
pub fn for_each_schema(catalog: &mut Value, mut f: impl FnMut(&str, &mut Value)) {
    for entry in streams_mut(catalog) {
        let Some(stream) = entry.get_mut("stream") else {
            continue;
        };
        let name = stream
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if let Some(schema) = stream.get_mut("json_schema") {
            f(&name, schema);
        }
    }
}

/// Refuses a catalog with a stream the target version does not have (`known` says which
/// it has), with the message `unknown` gives for that stream name.
pub fn check_known(
    catalog: &Value,
    known: impl Fn(&str) -> bool,
    unknown: impl Fn(&str) -> String,
) -> Result<()> {
    for entry in streams(catalog) {
        let Some(d) = descriptor(entry) else {
            return Err(Error::InvalidInput(
                "a configured stream has no stream.name".into(),
            ));
        };
        if !known(&d.name) {
            return Err(Error::UnsupportedShape(unknown(&d.name)));
        }
    }
    Ok(())
}

/// A connector's streams: those it always has, and the reports its config defines as a
/// list under a key (custom insights, custom reports), each a stream of its own.
#[derive(Clone, Copy, Debug)]
pub struct KnownStreams<'a> {
    /// The connector's name in messages, such as `source-facebook-marketing`.
    pub connector: &'a str,
    /// Whether a stream is one every connection of the version can have.
    pub builtin: fn(&str) -> bool,
    /// The config key listing the custom reports, such as `custom_insights`.
    pub reports_key: &'a str,
    /// The class-name prefix the connector gives a report's stream (see
    /// [`naming::config_stream_names`](crate::naming::config_stream_names)), such as `Custom`.
    pub report_class_prefix: &'a str,
}

impl KnownStreams<'_> {
    /// The stream names of the reports `config` defines.
    pub fn reports(&self, config: &Value) -> Result<Vec<String>> {
        crate::naming::config_stream_names(config, self.reports_key, self.report_class_prefix)
    }

    /// Refuses a catalog that configures a stream that is neither built in nor one of the
    /// reports `config` defines, naming it and what to do; returns the reports' stream names.
    pub fn check(&self, config: &Value, catalog: &Value) -> Result<Vec<String>> {
        let reports = self.reports(config)?;
        check_known(
            catalog,
            |name| (self.builtin)(name) || reports.iter().any(|r| r == name),
            |name| {
                format!(
                    "stream {name} is neither a {} stream nor one of the config's {}; remove it from the catalog (refresh the schema) and retry",
                    self.connector, self.reports_key
                )
            },
        )?;
        Ok(reports)
    }
}

/// Whether a sync of this configured stream replaces its destination table anyway (full
/// refresh into an `overwrite` mode): such a stream needs no clear when its shape changes.
pub fn rewrites_table(entry: &Value) -> bool {
    entry.get("sync_mode").and_then(Value::as_str) == Some("full_refresh")
        && entry
            .get("destination_sync_mode")
            .and_then(Value::as_str)
            .is_some_and(|m| m.starts_with("overwrite"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalog() -> Value {
        json!({"streams": [
            {"stream": {"name": "AdvertizerReport", "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"],
                        "source_defined_cursor": true, "default_cursor_field": ["DATE"]},
             "sync_mode": "incremental", "cursor_field": ["DATE"], "destination_sync_mode": "append_dedup", "primary_key": [["id"]]},
            {"stream": {"name": "boards", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
             "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
        ]})
    }

    #[test]
    fn properties_are_found_or_a_refresh_is_asked_for() {
        let mut stream = json!({"name": "users", "json_schema": {"properties": {"id": {}}}});
        properties_mut(&mut stream, &"users", "2.x")
            .unwrap()
            .insert("run_attempt".into(), json!({"type": "integer"}));
        assert_eq!(
            stream["json_schema"]["properties"]["run_attempt"]["type"],
            "integer"
        );
        let mut bare = json!({"name": "users", "json_schema": {}});
        let err = properties_mut(&mut bare, &"users", "2.x").unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput(m) if m.contains("users") && m.contains("refresh the source schema on 2.x")),
            "{err:?}"
        );
    }

    #[test]
    fn rename_keeps_user_choices() {
        let mut c = catalog();
        assert!(rename_stream(
            &mut c,
            "AdvertizerReport",
            "AdvertiserReport"
        ));
        let e = find(&c, "AdvertiserReport").unwrap();
        assert_eq!(e["sync_mode"], "incremental");
        assert_eq!(e["cursor_field"], json!(["DATE"]));
        assert_eq!(e["primary_key"], json!([["id"]]));
        assert_eq!(e["destination_sync_mode"], "append_dedup");
        assert!(find(&c, "AdvertizerReport").is_none());
        assert!(!rename_stream(&mut c, "missing", "x"));
    }

    #[test]
    fn incremental_streams_are_listed() {
        assert_eq!(
            incremental_streams(&catalog()),
            vec![StreamDescriptor::named("AdvertizerReport")]
        );
        assert!(is_incremental(&catalog(), "AdvertizerReport"));
        assert!(!is_incremental(&catalog(), "boards"));
    }

    #[test]
    fn refresh_keeps_supported_mode_and_drops_unsupported() {
        let mut c = catalog();
        let e = find_mut(&mut c, "AdvertizerReport").unwrap();
        let declared = json!({"name": "AdvertizerReport", "json_schema": {"type": "object"},
            "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": true,
            "default_cursor_field": ["DATE"]});
        assert!(refresh_stream(e, &declared).is_empty());
        assert_eq!(e["sync_mode"], "incremental");
        assert_eq!(e["stream"]["json_schema"], json!({"type": "object"}));

        let declared = json!({"name": "AdvertizerReport", "json_schema": {},
            "supported_sync_modes": ["full_refresh"], "source_defined_primary_key": [["id"], ["date"]]});
        assert_eq!(
            refresh_stream(e, &declared),
            vec!["sync_mode", "primary_key"]
        );
        assert_eq!(e["sync_mode"], "full_refresh");
        assert_eq!(e["primary_key"], json!([["id"], ["date"]]));
    }
}
