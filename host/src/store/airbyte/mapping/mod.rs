//! Between the Configuration API's shapes and the Airbyte protocol's, both ways.
//!
//! Plugins see a connection as the protocol has it: a `ConfiguredAirbyteCatalog` (snake_case,
//! the selected streams, the sync choices beside each stream) and a list of
//! `AirbyteStateMessage`s. The API shows the same data in its own shapes: an `AirbyteCatalog`
//! whose streams split into `stream` and `config` (camelCase, with `selected`), and a
//! `ConnectionState` with a `stateType` and one of `state`, `streamState` or `globalState`.
//!
//! Nothing the server keeps is lost either way. Stream settings the protocol has no field for
//! (field selection, mappers, a destination object name) stay on the configured stream under
//! their API names, so a plugin that renames a stream carries them along; streams that are not
//! selected stay beside the catalog ([`Catalog::unselected`]). What the server does not keep
//! but derives each time it shows a catalog (`CatalogConverter.toApi`: the `aliasName` made from
//! the stream's name, `suggested`, the `selectedFields` and `hashedFields` that follow from the
//! schema and the mappers) is left out of the document: a renamed stream carries no stale
//! alias, and [`as_shown`] says what the server will show for a catalog sent, which is what a
//! write is checked against. State messages are ordered by stream (the server keeps no
//! order), and a write states the streams to delete explicitly (the server keeps streams a
//! write does not name). The state's half is in `state`.

mod state;

pub use state::{
    state_from_api, state_to_api, state_type, state_type_change_refused, streams_of,
    streams_with_state, without_streams,
};

use anyhow::{Result, bail};
use serde_json::{Map, Value, json};

/// `AirbyteStream` fields: (API name, protocol name).
const STREAM_FIELDS: &[(&str, &str)] = &[
    ("name", "name"),
    ("namespace", "namespace"),
    ("jsonSchema", "json_schema"),
    ("supportedSyncModes", "supported_sync_modes"),
    ("sourceDefinedCursor", "source_defined_cursor"),
    ("defaultCursorField", "default_cursor_field"),
    ("sourceDefinedPrimaryKey", "source_defined_primary_key"),
    ("isResumable", "is_resumable"),
    ("isFileBased", "is_file_based"),
];

/// `AirbyteStreamConfiguration` fields with a protocol counterpart on the configured stream.
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

/// `AirbyteStreamConfiguration` fields with no protocol counterpart, kept on the configured
/// stream under these names.
const API_ONLY_CONFIG: &[&str] = &[
    "aliasName",
    "suggested",
    "fieldSelectionEnabled",
    "selectedFields",
    "hashedFields",
    "mappers",
    "namespace",
];

/// A connection's catalog in the protocol's shape, with what the protocol has no place for.
#[derive(Clone, Debug, PartialEq)]
pub struct Catalog {
    /// The `ConfiguredAirbyteCatalog` plugins see: `{"streams": [...]}`.
    pub configured: Value,
    /// API stream entries that are not selected, as the API gave them.
    pub unselected: Vec<Value>,
}

/// The protocol catalog of the API's `syncCatalog`.
pub fn catalog_from_api(sync_catalog: &Value) -> Result<Catalog> {
    let mut configured = Vec::new();
    let mut unselected = Vec::new();
    for entry in sync_catalog
        .get("streams")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if entry.pointer("/config/selected").and_then(Value::as_bool) == Some(false) {
            unselected.push(entry.clone());
            continue;
        }
        let stream = object(entry.get("stream"), "a syncCatalog stream's `stream`")?;
        let config = object(entry.get("config"), "a syncCatalog stream's `config`")?;
        let mut out = Map::new();
        out.insert(
            "stream".into(),
            Value::Object(rename(
                stream,
                STREAM_FIELDS,
                Direction::ToProtocol,
                "stream",
            )?),
        );
        out.extend(rename_known(config, CONFIG_FIELDS, Direction::ToProtocol));
        for (k, v) in config {
            if derived(stream, config, k, v) {
                continue;
            }
            if API_ONLY_CONFIG.contains(&k.as_str()) {
                out.insert(k.clone(), v.clone());
            } else if k != "selected" && !CONFIG_FIELDS.iter().any(|(api, _)| api == k) {
                bail!("the API's stream config has a field cutover does not know: {k:?}");
            }
        }
        configured.push(Value::Object(out));
    }
    Ok(Catalog {
        configured: json!({ "streams": configured }),
        unselected,
    })
}

/// Whether a stream config field is one the server derives when it shows a catalog
/// (`CatalogConverter.toApi`) and holds this derived value: such a field says nothing the
/// rest of the stream does not.
fn derived(
    stream: &Map<String, Value>,
    config: &Map<String, Value>,
    key: &str,
    value: &Value,
) -> bool {
    let name = stream
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let selecting = config.get("fieldSelectionEnabled").and_then(Value::as_bool) == Some(true);
    match key {
        "aliasName" => value.as_str() == Some(alphanumeric_and_underscore(name).as_str()),
        "suggested" | "fieldSelectionEnabled" => value == &Value::Bool(false),
        "selectedFields" => *value == selected_fields(stream.get("jsonSchema"), selecting),
        "hashedFields" => *value == hashed_fields(config.get("mappers")),
        "mappers" => value.as_array().is_some_and(Vec::is_empty),
        _ => false,
    }
}

/// `Names.toAlphanumericAndUnderscore`, how the server derives a stream's alias from its
/// name: accents dropped (NFKD, combining marks removed), each run of whitespace and every
/// other character outside `[A-Za-z0-9_]` made `_` (Java's `\s` and `\p{Alnum}` are ASCII).
pub fn alphanumeric_and_underscore(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    let mut out = String::with_capacity(name.len());
    let mut in_space = false;
    for c in name.nfkd().filter(|c| !is_combining_mark(*c)) {
        let space = matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r');
        if !(space && in_space) {
            out.push(if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            });
        }
        in_space = space;
    }
    out
}

/// The `selectedFields` the server shows: the (stored, already cut) schema's top-level
/// properties when field selection is on, else none.
fn selected_fields(json_schema: Option<&Value>, selecting: bool) -> Value {
    if !selecting {
        return json!([]);
    }
    Value::Array(
        json_schema
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, _)| json!({"fieldPath": [k]}))
            .collect(),
    )
}

/// The `hashedFields` the server shows: the target fields of the hashing mappers.
fn hashed_fields(mappers: Option<&Value>) -> Value {
    Value::Array(
        mappers
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|m| m.get("type").and_then(Value::as_str) == Some("hashing"))
            .filter_map(|m| m.pointer("/mapperConfiguration/targetField").cloned())
            .map(|field| json!({"fieldPath": [field]}))
            .collect(),
    )
}

/// The stream config fields the server stores from an update (`toConfiguredInternal`); the
/// others of a sent config are derived when shown, or dropped.
const STORED_CONFIG: &[&str] = &[
    "syncMode",
    "destinationSyncMode",
    "cursorField",
    "primaryKey",
    "destinationObjectName",
    "includeFiles",
    "mappers",
];

/// The `syncCatalog` the server shows once `sent` is written (`connections/update`): what
/// `CatalogConverter.toConfiguredInternal` keeps of it (the selected streams; their schema cut
/// to the selected fields; an absent primary key stored empty; hashing mappers made of
/// `hashedFields` when no mapper is sent), shown by `CatalogConverter.toApi` (the alias made
/// from the name, `suggested` false, an unknown source-defined cursor false, the derived
/// `selectedFields` and `hashedFields`). A write is checked against this, not against what
/// it sent.
pub fn as_shown(sent: &Value) -> Value {
    let streams: Vec<Value> = sent
        .get("streams")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|s| s.pointer("/config/selected").and_then(Value::as_bool) == Some(true))
        .map(|s| {
            let empty = Map::new();
            let mut stream = s.get("stream").and_then(Value::as_object).cloned().unwrap_or_default();
            let config = s.get("config").and_then(Value::as_object).unwrap_or(&empty);
            let selecting = config.get("fieldSelectionEnabled").and_then(Value::as_bool) == Some(true);
            if selecting {
                let keep: Vec<&str> = config
                    .get("selectedFields")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f.pointer("/fieldPath/0").and_then(Value::as_str))
                    .collect();
                if let Some(Value::Object(properties)) =
                    stream.get_mut("jsonSchema").and_then(|s| s.get_mut("properties"))
                {
                    properties.retain(|k, _| keep.contains(&k.as_str()));
                }
            }
            stream.entry("sourceDefinedPrimaryKey").or_insert_with(|| json!([]));
            stream.entry("sourceDefinedCursor").or_insert(Value::Bool(false));
            let mut shown = Map::new();
            for key in STORED_CONFIG {
                if let Some(v) = config.get(*key).filter(|v| !v.is_null()) {
                    shown.insert((*key).to_owned(), v.clone());
                }
            }
            shown.entry("primaryKey").or_insert_with(|| json!([]));
            if shown.get("mappers").and_then(Value::as_array).is_none_or(Vec::is_empty) {
                let from_hashed: Vec<Value> = config
                    .get("hashedFields")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f.pointer("/fieldPath/0").cloned())
                    .map(|field| json!({"type": "hashing", "mapperConfiguration": {"targetField": field, "method": "SHA-256", "fieldNameSuffix": "_hashed"}}))
                    .collect();
                shown.insert("mappers".into(), Value::Array(from_hashed));
            }
            let name = stream.get("name").and_then(Value::as_str).unwrap_or_default();
            shown.insert("aliasName".into(), alphanumeric_and_underscore(name).into());
            shown.insert("selected".into(), Value::Bool(true));
            shown.insert("suggested".into(), Value::Bool(false));
            shown.insert("fieldSelectionEnabled".into(), Value::Bool(selecting));
            shown.insert("selectedFields".into(), selected_fields(stream.get("jsonSchema"), selecting));
            shown.insert("hashedFields".into(), hashed_fields(shown.get("mappers")));
            json!({"stream": Value::Object(stream), "config": Value::Object(shown)})
        })
        .collect();
    json!({ "streams": streams })
}

/// The API's `syncCatalog` for a protocol catalog: its streams selected, then the unselected
/// ones as they were. What the server derives and the document leaves out is filled in:
/// with field selection on, the server needs the `selectedFields`.
pub fn catalog_to_api(catalog: &Catalog) -> Result<Value> {
    let mut streams = Vec::new();
    for configured in catalog
        .configured
        .get("streams")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let configured = object(Some(configured), "a configured stream")?;
        let stream = object(configured.get("stream"), "a configured stream's `stream`")?;
        let mut config = Map::new();
        for (k, v) in configured {
            if k == "stream" {
                continue;
            }
            match CONFIG_FIELDS.iter().find(|(_, protocol)| protocol == k) {
                Some((api, _)) => {
                    config.insert((*api).to_owned(), v.clone());
                }
                None if API_ONLY_CONFIG.contains(&k.as_str()) => {
                    config.insert(k.clone(), v.clone());
                }
                None => bail!(
                    "stream {:?} has a field the Airbyte API cannot store: {k:?}",
                    stream.get("name").and_then(Value::as_str).unwrap_or("?")
                ),
            }
        }
        config.insert("selected".into(), Value::Bool(true));
        let selecting = config.get("fieldSelectionEnabled").and_then(Value::as_bool) == Some(true);
        if selecting && !config.contains_key("selectedFields") {
            config.insert(
                "selectedFields".into(),
                selected_fields(stream.get("json_schema"), true),
            );
        }
        streams.push(json!({"stream": Value::Object(rename(stream, STREAM_FIELDS, Direction::ToApi, "stream")?), "config": Value::Object(config)}));
    }
    streams.extend(catalog.unselected.iter().cloned());
    Ok(json!({ "streams": streams }))
}

#[derive(Clone, Copy)]
enum Direction {
    ToProtocol,
    ToApi,
}

fn object<'a>(value: Option<&'a Value>, what: &str) -> Result<&'a Map<String, Value>> {
    match value {
        Some(Value::Object(m)) => Ok(m),
        _ => bail!("{what} is not a JSON object"),
    }
}

/// The known fields of `from` under their names in the other shape.
fn rename_known(
    from: &Map<String, Value>,
    fields: &[(&str, &str)],
    direction: Direction,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (api, protocol) in fields {
        let (src, dst) = match direction {
            Direction::ToProtocol => (api, protocol),
            Direction::ToApi => (protocol, api),
        };
        if let Some(v) = from.get(*src) {
            out.insert((*dst).to_owned(), v.clone());
        }
    }
    out
}

/// Every field of `from` under its name in the other shape; a field with no counterpart is
/// an error (it would be lost).
fn rename(
    from: &Map<String, Value>,
    fields: &[(&str, &str)],
    direction: Direction,
    what: &str,
) -> Result<Map<String, Value>> {
    for k in from.keys() {
        let known = fields.iter().any(|(api, protocol)| match direction {
            Direction::ToProtocol => api == k,
            Direction::ToApi => protocol == k,
        });
        if !known {
            bail!("a {what} field with no counterpart in the other shape: {k:?}");
        }
    }
    Ok(rename_known(from, fields, direction))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_stream(name: &str, selected: bool) -> Value {
        json!({"stream": {"name": name, "namespace": "public", "jsonSchema": {"type": "object"}, "supportedSyncModes": ["full_refresh", "incremental"],
                          "sourceDefinedCursor": true, "defaultCursorField": ["updated_at"], "sourceDefinedPrimaryKey": [["id"]], "isResumable": true},
               "config": {"syncMode": "incremental", "cursorField": ["updated_at"], "destinationSyncMode": "append_dedup", "primaryKey": [["id"]],
                          "selected": selected, "aliasName": name, "fieldSelectionEnabled": true, "selectedFields": [{"fieldPath": ["id"]}],
                          "mappers": [], "generationId": 3, "minimumGenerationId": 0, "syncId": 9}})
    }

    #[test]
    fn a_catalog_goes_to_the_protocol_and_back_whole() {
        let api = json!({"streams": [api_stream("users", true), api_stream("orders", false)]});
        let catalog = catalog_from_api(&api).unwrap();
        let users = &catalog.configured["streams"][0];
        assert_eq!(users["stream"]["json_schema"], json!({"type": "object"}));
        assert_eq!(users["sync_mode"], "incremental");
        assert_eq!(users["generation_id"], 3);
        assert_eq!(
            users["selectedFields"],
            json!([{"fieldPath": ["id"]}]),
            "API-only settings travel with the stream"
        );
        assert_eq!(catalog.configured["streams"].as_array().unwrap().len(), 1);
        assert_eq!(catalog.unselected, vec![api_stream("orders", false)]);
        // What the server derives (the alias from the name, no mappers) is not kept.
        assert!(users.get("aliasName").is_none() && users.get("mappers").is_none());
        let mut back = api.clone();
        let config = back["streams"][0]["config"].as_object_mut().unwrap();
        config.remove("aliasName");
        config.remove("mappers");
        assert_eq!(catalog_to_api(&catalog).unwrap(), back);
    }

    /// `CatalogConverter.toApi` makes the alias of the stream's name, whatever was sent, and
    /// `toConfiguredInternal` stores an empty primary key where none was sent.
    #[test]
    fn the_server_shows_a_renamed_streams_alias_made_of_its_new_name() {
        let sent = json!({"streams": [{"stream": {"name": "advertiser report", "jsonSchema": {}}, "config": {"syncMode": "full_refresh", "destinationSyncMode": "overwrite", "selected": true, "aliasName": "advertizer_report"}}]});
        let shown = as_shown(&sent);
        assert_eq!(
            shown["streams"][0]["config"]["aliasName"],
            "advertiser_report"
        );
        assert_eq!(shown["streams"][0]["config"]["primaryKey"], json!([]));
        assert_eq!(
            shown["streams"][0]["stream"]["sourceDefinedPrimaryKey"],
            json!([])
        );
        let read = catalog_from_api(&shown).unwrap();
        assert!(read.configured["streams"][0].get("aliasName").is_none());
        assert_eq!(
            alphanumeric_and_underscore("Café-Ümsatz  x\u{e9}"),
            "Cafe_Umsatz_xe"
        );
    }

    #[test]
    fn a_protocol_field_the_api_cannot_store_is_an_error() {
        let catalog = Catalog {
            configured: json!({"streams": [{"stream": {"name": "a", "json_schema": {}}, "sync_mode": "full_refresh", "future_field": 1}]}),
            unselected: vec![],
        };
        assert!(format!("{:#}", catalog_to_api(&catalog).unwrap_err()).contains("future_field"));
    }
}
