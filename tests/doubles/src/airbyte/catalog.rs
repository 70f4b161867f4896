//! The configured catalog as the Airbyte server keeps it and shows it (`CatalogConverter`).
//!
//! The `connection.catalog` column holds the selected streams only, as a snake_case
//! `ConfiguredAirbyteCatalog`; the API shows it as a camelCase `AirbyteCatalog` whose streams
//! are split into `stream` (what the source discovered) and `config` (what the user chose),
//! and takes back a whole catalog on update, dropping the streams that are not selected.
//! Settings the protocol has no field for (field selection, mappers, alias) are kept beside
//! each stream as the API sent them.

use super::state::Descriptor;
use serde_json::{Map, Value};

/// `AirbyteStream` fields: (API name, stored name).
const STREAM_FIELDS: &[(&str, &str)] = &[
    ("name", "name"),
    ("jsonSchema", "json_schema"),
    ("supportedSyncModes", "supported_sync_modes"),
    ("sourceDefinedCursor", "source_defined_cursor"),
    ("defaultCursorField", "default_cursor_field"),
    ("sourceDefinedPrimaryKey", "source_defined_primary_key"),
    ("namespace", "namespace"),
    ("isResumable", "is_resumable"),
    ("isFileBased", "is_file_based"),
];

/// `AirbyteStreamConfiguration` fields with a place in the stored stream.
const CONFIG_FIELDS: &[(&str, &str)] = &[
    ("syncMode", "sync_mode"),
    ("cursorField", "cursor_field"),
    ("destinationSyncMode", "destination_sync_mode"),
    ("primaryKey", "primary_key"),
    ("generationId", "generation_id"),
    ("minimumGenerationId", "minimum_generation_id"),
    ("syncId", "sync_id"),
    ("includeFiles", "include_files"),
    ("destinationObjectName", "destination_object_name"),
];

/// Where the API-only settings of a stream are kept beside it.
const API_ONLY: &str = "api_settings";

fn rename(from: &Map<String, Value>, fields: &[(&str, &str)], api_to_stored: bool) -> Map<String, Value> {
    let mut out = Map::new();
    for (api, stored) in fields {
        let (src, dst) = if api_to_stored { (api, stored) } else { (stored, api) };
        if let Some(v) = from.get(*src) {
            out.insert((*dst).to_owned(), v.clone());
        }
    }
    out
}

/// The stored catalog of an update's `syncCatalog`: its selected streams.
pub fn stored_from_api(catalog: &Value) -> Value {
    let streams: Vec<Value> = catalog
        .get("streams")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|s| s.pointer("/config/selected").and_then(Value::as_bool) == Some(true))
        .map(|s| {
            let empty = Map::new();
            let stream = s.get("stream").and_then(Value::as_object).unwrap_or(&empty);
            let config = s.get("config").and_then(Value::as_object).unwrap_or(&empty);
            let mut stored = rename(config, CONFIG_FIELDS, true);
            stored.insert("stream".into(), Value::Object(rename(stream, STREAM_FIELDS, true)));
            let known: Vec<&str> = CONFIG_FIELDS.iter().map(|(a, _)| *a).chain(["selected"]).collect();
            let extra: Map<String, Value> = config.iter().filter(|(k, _)| !known.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
            if !extra.is_empty() {
                stored.insert(API_ONLY.into(), Value::Object(extra));
            }
            Value::Object(stored)
        })
        .collect();
    serde_json::json!({ "streams": streams })
}

/// The API's `syncCatalog` for a stored catalog.
pub fn api_from_stored(stored: &Value) -> Value {
    let streams: Vec<Value> = stored
        .get("streams")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|s| {
            let empty = Map::new();
            let s = s.as_object().unwrap_or(&empty);
            let stream = s.get("stream").and_then(Value::as_object).unwrap_or(&empty);
            let mut config = rename(s, CONFIG_FIELDS, false);
            config.insert("selected".into(), Value::Bool(true));
            if let Some(Value::Object(extra)) = s.get(API_ONLY) {
                config.extend(extra.clone());
            }
            serde_json::json!({"stream": Value::Object(rename(stream, STREAM_FIELDS, false)), "config": Value::Object(config)})
        })
        .collect();
    serde_json::json!({ "streams": streams })
}

/// The stored catalog of a protocol `ConfiguredAirbyteCatalog` (how a test seeds one).
pub fn stored_from_protocol(catalog: &Value) -> Value {
    catalog.clone()
}

/// The streams whose sync mode differs between two stored catalogs (present in both).
pub fn sync_mode_changed(old: &Value, new: &Value) -> Vec<Descriptor> {
    let modes = |c: &Value| -> Vec<(Descriptor, Value)> {
        c.get("streams")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| Some((Descriptor::read(s.get("stream")?)?, s.get("sync_mode").cloned().unwrap_or(Value::Null))))
            .collect()
    };
    let old = modes(old);
    modes(new).into_iter().filter(|(d, mode)| old.iter().any(|(o, m)| o == d && m != mode)).map(|(d, _)| d).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unselected_streams_are_dropped_and_api_settings_kept() {
        let api = json!({"streams": [
            {"stream": {"name": "a", "jsonSchema": {}, "supportedSyncModes": ["incremental"]}, "config": {"syncMode": "incremental", "destinationSyncMode": "append", "cursorField": ["u"], "selected": true, "aliasName": "a_alias", "fieldSelectionEnabled": false}},
            {"stream": {"name": "b", "jsonSchema": {}}, "config": {"syncMode": "full_refresh", "destinationSyncMode": "overwrite", "selected": false}}
        ]});
        let stored = stored_from_api(&api);
        assert_eq!(stored["streams"].as_array().unwrap().len(), 1);
        assert_eq!(stored["streams"][0]["stream"]["json_schema"], json!({}));
        assert_eq!(stored["streams"][0]["sync_mode"], "incremental");
        let back = api_from_stored(&stored);
        assert_eq!(back["streams"][0], api["streams"][0]);
    }

    #[test]
    fn finds_streams_whose_sync_mode_changed() {
        let old = json!({"streams": [{"stream": {"name": "a"}, "sync_mode": "incremental"}, {"stream": {"name": "b"}, "sync_mode": "incremental"}]});
        let new = json!({"streams": [{"stream": {"name": "a"}, "sync_mode": "full_refresh"}, {"stream": {"name": "b"}, "sync_mode": "incremental"}, {"stream": {"name": "c"}, "sync_mode": "full_refresh"}]});
        assert_eq!(sync_mode_changed(&old, &new), vec![Descriptor { name: "a".into(), namespace: None }]);
    }
}
