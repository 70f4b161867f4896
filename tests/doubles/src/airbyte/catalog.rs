//! The configured catalog as the Airbyte server keeps it and shows it (`CatalogConverter`).
//!
//! The `connection.catalog` column holds the selected streams only, as a snake_case
//! `ConfiguredAirbyteCatalog`; the API shows it as a camelCase `AirbyteCatalog` whose streams
//! are split into `stream` (what the source discovered) and `config` (what the user chose),
//! and takes back a whole catalog on update, dropping the streams that are not selected.
//!
//! What the server keeps of an update is what `CatalogConverter.toConfiguredInternal` builds:
//! the stream, its sync modes, cursor, primary key, destination object name, mappers (the
//! `hashedFields` turned into hashing mappers when no mapper is sent) and `includeFiles`.
//! Everything else of a stream's `config` is not stored but derived when the catalog is
//! shown (`CatalogConverter.toApi`): `aliasName` is the stream's name made alphanumeric
//! (`Names.toAlphanumericAndUnderscore`), whatever alias was sent; `selected` is true and
//! `suggested` false; `fieldSelectionEnabled` comes from the connection's field selection
//! data, and `selectedFields` are then the stored schema's top-level properties (the schema
//! having been cut to the selected fields on update), else empty; `hashedFields` are the
//! hashing mappers' fields. An absent primary key is stored empty, and an absent
//! `sourceDefinedCursor` is shown false.

use super::state::Descriptor;
use serde_json::{Map, Value, json};

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

fn renamed(fields: Option<&Value>, rename: fn(&str) -> String) -> Map<String, Value> {
    fields
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| (rename(k), v.clone()))
        .collect()
}

/// `Names.toAlphanumericAndUnderscore`: accents dropped (NFKD, combining marks removed),
/// whitespace runs and every other character outside `[A-Za-z0-9_]` made `_` (Java's
/// `\p{Alnum}` and `\s` are ASCII classes).
pub fn alphanumeric_and_underscore(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    let stripped: String = name.nfkd().filter(|c| !is_combining_mark(*c)).collect();
    let mut out = String::with_capacity(stripped.len());
    let mut in_space = false;
    for c in stripped.chars() {
        let space = matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r');
        if space {
            if !in_space {
                out.push('_');
            }
        } else if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else {
            out.push('_');
        }
        in_space = space;
    }
    out
}

/// The config fields `toConfiguredInternal` stores (API name).
const STORED_CONFIG: &[&str] = &[
    "syncMode",
    "destinationSyncMode",
    "cursorField",
    "primaryKey",
    "destinationObjectName",
    "includeFiles",
];

/// What an update's `syncCatalog` leaves stored: the selected streams' catalog, and the
/// streams with field selection enabled (the connection's `field_selection_data`).
pub fn stored_from_api(catalog: &Value) -> (Value, Vec<Descriptor>) {
    let mut field_selection = Vec::new();
    let streams: Vec<Value> = catalog
        .get("streams")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|s| s.pointer("/config/selected").and_then(Value::as_bool) == Some(true))
        .map(|s| {
            let config = s.get("config").cloned().unwrap_or_else(|| json!({}));
            let mut stream = renamed(s.get("stream"), snake);
            let selecting = config.get("fieldSelectionEnabled").and_then(Value::as_bool) == Some(true);
            if selecting {
                if let Some(d) = Descriptor::read(&Value::Object(stream.clone())) {
                    field_selection.push(d);
                }
                let keep: Vec<String> = config
                    .get("selectedFields")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f.pointer("/fieldPath/0").and_then(Value::as_str).map(str::to_owned))
                    .collect();
                if let Some(Value::Object(properties)) = stream
                    .get_mut("json_schema")
                    .and_then(|s| s.get_mut("properties"))
                {
                    properties.retain(|k, _| keep.contains(k));
                }
            }
            // toConfiguredProtocol: an absent source-defined primary key is stored empty.
            stream
                .entry("source_defined_primary_key")
                .or_insert_with(|| json!([]));
            let mut stored = Map::new();
            stored.insert("stream".into(), Value::Object(stream));
            for key in STORED_CONFIG {
                if let Some(v) = config.get(*key).filter(|v| !v.is_null()) {
                    stored.insert(snake(key), v.clone());
                }
            }
            stored
                .entry("primary_key")
                .or_insert_with(|| json!([]));
            let mappers = match config.get("mappers").and_then(Value::as_array) {
                Some(m) if !m.is_empty() => m.clone(),
                _ => config
                    .get("hashedFields")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f.pointer("/fieldPath/0").and_then(Value::as_str))
                    .map(|field| json!({"type": "hashing", "mapperConfiguration": {"targetField": field, "method": "SHA-256", "fieldNameSuffix": "_hashed"}}))
                    .collect(),
            };
            if !mappers.is_empty() {
                stored.insert("mappers".into(), Value::Array(mappers));
            }
            Value::Object(stored)
        })
        .collect();
    (json!({ "streams": streams }), field_selection)
}

/// The API's `syncCatalog` for a stored catalog (`CatalogConverter.toApi`).
pub fn api_from_stored(stored: &Value, field_selection: &[Descriptor]) -> Value {
    let streams: Vec<Value> = stored
        .get("streams")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|s| {
            let stream = s.get("stream").cloned().unwrap_or_else(|| json!({}));
            let name = stream
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let mut config = Map::new();
            for key in STORED_CONFIG {
                if let Some(v) = s.get(snake(key)).filter(|v| !v.is_null()) {
                    config.insert((*key).to_owned(), v.clone());
                }
            }
            // Kept by a sync, not by an update: shown as stored.
            for key in ["generation_id", "minimum_generation_id", "sync_id"] {
                if let Some(v) = s.get(key).filter(|v| !v.is_null()) {
                    config.insert(camel(key), v.clone());
                }
            }
            config.insert("aliasName".into(), alphanumeric_and_underscore(name).into());
            config.insert("selected".into(), Value::Bool(true));
            config.insert("suggested".into(), Value::Bool(false));
            let selecting = Descriptor::read(&stream).is_some_and(|d| field_selection.contains(&d));
            config.insert("fieldSelectionEnabled".into(), Value::Bool(selecting));
            let selected_fields: Vec<Value> = if selecting {
                stream
                    .pointer("/json_schema/properties")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| json!({"fieldPath": [k]}))
                    .collect()
            } else {
                Vec::new()
            };
            config.insert("selectedFields".into(), Value::Array(selected_fields));
            let mappers: Vec<Value> = s
                .get("mappers")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let hashed: Vec<Value> = mappers
                .iter()
                .filter(|m| m.get("type").and_then(Value::as_str) == Some("hashing"))
                .filter_map(|m| m.pointer("/mapperConfiguration/targetField").cloned())
                .map(|field| json!({"fieldPath": [field]}))
                .collect();
            config.insert("hashedFields".into(), Value::Array(hashed));
            config.insert("mappers".into(), Value::Array(mappers));
            let mut shown = renamed(Some(&stream), camel);
            // toApi(AirbyteStream): an unknown source-defined cursor is shown as false.
            shown
                .entry("sourceDefinedCursor")
                .or_insert(Value::Bool(false));
            json!({"stream": Value::Object(shown), "config": Value::Object(config)})
        })
        .collect();
    json!({ "streams": streams })
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

    #[test]
    fn unselected_streams_are_dropped_and_derived_settings_are_not_stored() {
        let api = json!({"streams": [
            {"stream": {"name": "a", "jsonSchema": {}, "supportedSyncModes": ["incremental"], "sourceDefinedPrimaryKey": [["id"]]}, "config": {"syncMode": "incremental", "destinationSyncMode": "append", "cursorField": ["u"], "primaryKey": [["id"]], "selected": true, "aliasName": "a_alias", "suggested": true, "fieldSelectionEnabled": false, "selectedFields": [], "hashedFields": [], "mappers": []}},
            {"stream": {"name": "b", "jsonSchema": {}}, "config": {"syncMode": "full_refresh", "destinationSyncMode": "overwrite", "selected": false}}
        ]});
        let (stored, selecting) = stored_from_api(&api);
        assert!(selecting.is_empty());
        assert_eq!(stored["streams"].as_array().unwrap().len(), 1);
        assert_eq!(stored["streams"][0]["stream"]["json_schema"], json!({}));
        assert_eq!(stored["streams"][0]["sync_mode"], "incremental");
        assert!(
            stored["streams"][0].get("alias_name").is_none(),
            "an alias is not stored"
        );
        let back = api_from_stored(&stored, &selecting);
        let mut want = api["streams"][0].clone();
        want["stream"]["sourceDefinedCursor"] = json!(false);
        want["config"]["aliasName"] = json!("a");
        want["config"]["suggested"] = json!(false);
        assert_eq!(
            back["streams"][0], want,
            "the alias is derived from the name"
        );
    }

    /// `CatalogConverter.toApi` derives the alias from the stream's name, whatever was sent:
    /// a renamed stream shows its new name's alias.
    #[test]
    fn a_renamed_streams_alias_follows_its_new_name() {
        let api = json!({"streams": [{"stream": {"name": "advertiser report", "jsonSchema": {}}, "config": {"syncMode": "full_refresh", "destinationSyncMode": "overwrite", "selected": true, "aliasName": "advertizer_report"}}]});
        let (stored, selecting) = stored_from_api(&api);
        assert_eq!(
            api_from_stored(&stored, &selecting)["streams"][0]["config"]["aliasName"],
            "advertiser_report"
        );
        assert_eq!(
            alphanumeric_and_underscore("Café-Ümsatz  x"),
            "Cafe_Umsatz_x"
        );
    }

    #[test]
    fn field_selection_cuts_the_schema_and_is_shown_from_it() {
        let api = json!({"streams": [{"stream": {"name": "a", "jsonSchema": {"properties": {"id": {}, "secret": {}}}}, "config": {"syncMode": "full_refresh", "destinationSyncMode": "overwrite", "selected": true, "fieldSelectionEnabled": true, "selectedFields": [{"fieldPath": ["id"]}]}}]});
        let (stored, selecting) = stored_from_api(&api);
        assert_eq!(
            stored["streams"][0]["stream"]["json_schema"],
            json!({"properties": {"id": {}}})
        );
        let shown = api_from_stored(&stored, &selecting);
        assert_eq!(shown["streams"][0]["config"]["fieldSelectionEnabled"], true);
        assert_eq!(
            shown["streams"][0]["config"]["selectedFields"],
            json!([{"fieldPath": ["id"]}])
        );
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
