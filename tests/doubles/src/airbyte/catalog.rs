//! The configured catalog as the Airbyte server keeps it and shows it (`CatalogConverter`).
//!
//! The `connection.catalog` column holds the selected streams only, as a snake_case
//! `ConfiguredAirbyteCatalog`; the API shows it as a camelCase `AirbyteCatalog` whose streams
//! are split into `stream` (what the source discovered) and `config` (what the user chose),
//! and takes back a whole catalog on update, dropping the streams that are not selected.
//! Each camelCase field is kept under its snake_case name (`jsonSchema` ↔ `json_schema`,
//! `syncMode` ↔ `sync_mode`, `aliasName` ↔ `alias_name`), which is how the server's generated
//! models name the same fields on both sides.

use super::state::Descriptor;
use serde_json::{Map, Value};

/// `syncMode` → `sync_mode`.
fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `sync_mode` → `syncMode`.
fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        match (c, upper) {
            ('_', _) => upper = true,
            (c, true) => {
                out.push(c.to_ascii_uppercase());
                upper = false;
            }
            (c, false) => out.push(c),
        }
    }
    out
}

fn renamed(
    fields: Option<&Value>,
    rename: fn(&str) -> String,
    skip: &[&str],
) -> Map<String, Value> {
    fields
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| (rename(k), v.clone()))
        .collect()
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
            let mut stored = renamed(s.get("config"), snake, &["selected"]);
            stored.insert(
                "stream".into(),
                Value::Object(renamed(s.get("stream"), snake, &[])),
            );
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
            let mut config = renamed(Some(s), camel, &["stream"]);
            config.insert("selected".into(), Value::Bool(true));
            serde_json::json!({"stream": Value::Object(renamed(s.get("stream"), camel, &[])), "config": Value::Object(config)})
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
            .filter_map(|s| {
                Some((
                    Descriptor::read(s.get("stream")?)?,
                    s.get("sync_mode").cloned().unwrap_or(Value::Null),
                ))
            })
            .collect()
    };
    let old = modes(old);
    modes(new)
        .into_iter()
        .filter(|(d, mode)| old.iter().any(|(o, m)| o == d && m != mode))
        .map(|(d, _)| d)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unselected_streams_are_dropped_and_every_setting_kept() {
        let api = json!({"streams": [
            {"stream": {"name": "a", "jsonSchema": {}, "supportedSyncModes": ["incremental"]}, "config": {"syncMode": "incremental", "destinationSyncMode": "append", "cursorField": ["u"], "selected": true, "aliasName": "a_alias", "fieldSelectionEnabled": false}},
            {"stream": {"name": "b", "jsonSchema": {}}, "config": {"syncMode": "full_refresh", "destinationSyncMode": "overwrite", "selected": false}}
        ]});
        let stored = stored_from_api(&api);
        assert_eq!(stored["streams"].as_array().unwrap().len(), 1);
        assert_eq!(stored["streams"][0]["stream"]["json_schema"], json!({}));
        assert_eq!(stored["streams"][0]["sync_mode"], "incremental");
        assert_eq!(stored["streams"][0]["alias_name"], "a_alias");
        let back = api_from_stored(&stored);
        assert_eq!(back["streams"][0], api["streams"][0]);
    }

    #[test]
    fn finds_streams_whose_sync_mode_changed() {
        let old = json!({"streams": [{"stream": {"name": "a"}, "sync_mode": "incremental"}, {"stream": {"name": "b"}, "sync_mode": "incremental"}]});
        let new = json!({"streams": [{"stream": {"name": "a"}, "sync_mode": "full_refresh"}, {"stream": {"name": "b"}, "sync_mode": "incremental"}, {"stream": {"name": "c"}, "sync_mode": "full_refresh"}]});
        assert_eq!(
            sync_mode_changed(&old, &new),
            vec![Descriptor {
                name: "a".into(),
                namespace: None
            }]
        );
    }
}
