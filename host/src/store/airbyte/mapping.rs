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
//! write does not name).

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

/// The protocol state messages of the API's `ConnectionState`, ordered by stream.
pub fn state_from_api(state: &Value) -> Result<Vec<Value>> {
    let streams = |list: Option<&Value>| -> Result<Vec<Value>> {
        let mut out: Vec<Value> = list
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|s| {
                let descriptor = s
                    .get("streamDescriptor")
                    .ok_or_else(|| anyhow::anyhow!("a stream state without streamDescriptor"))?;
                let mut entry = Map::new();
                entry.insert("stream_descriptor".into(), descriptor.clone());
                if let Some(blob) = s.get("streamState").filter(|v| !v.is_null()) {
                    entry.insert("stream_state".into(), blob.clone());
                }
                Ok(Value::Object(entry))
            })
            .collect::<Result<_>>()?;
        out.sort_by_key(|e| descriptor_key(&e["stream_descriptor"]));
        Ok(out)
    };
    match state.get("stateType").and_then(Value::as_str) {
        Some("not_set") | None => Ok(Vec::new()),
        Some("legacy") => Ok(vec![
            json!({"type": "LEGACY", "data": state.get("state").cloned().unwrap_or_else(|| json!({}))}),
        ]),
        Some("stream") => Ok(streams(state.get("streamState"))?
            .into_iter()
            .map(|entry| json!({"type": "STREAM", "stream": entry}))
            .collect()),
        Some("global") => {
            let global = state
                .get("globalState")
                .cloned()
                .unwrap_or_else(|| json!({}));
            let mut out = Map::new();
            if let Some(shared) = global.get("shared_state").filter(|v| !v.is_null()) {
                out.insert("shared_state".into(), shared.clone());
            }
            out.insert(
                "stream_states".into(),
                Value::Array(streams(global.get("streamStates"))?),
            );
            Ok(vec![
                json!({"type": "GLOBAL", "global": Value::Object(out)}),
            ])
        }
        Some(other) => bail!("the API gave a state of unknown type {other:?}"),
    }
}

/// The descriptor a protocol `stream_descriptor` names.
fn descriptor(value: &Value) -> Option<crate::migration::StreamDescriptor> {
    Some(crate::migration::StreamDescriptor {
        name: value.get("name")?.as_str()?.to_owned(),
        namespace: value
            .get("namespace")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// The streams of a protocol `ConfiguredAirbyteCatalog`.
pub fn streams_of(catalog: &Value) -> Vec<crate::migration::StreamDescriptor> {
    catalog
        .get("streams")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| descriptor(s.get("stream")?))
        .collect()
}

/// The streams protocol state messages hold a state for (a legacy blob names none).
pub fn streams_with_state(messages: &[Value]) -> Vec<crate::migration::StreamDescriptor> {
    let mut out: Vec<_> = messages
        .iter()
        .flat_map(|m| {
            let per_stream: Vec<&Value> = match m.get("type").and_then(Value::as_str) {
                Some("STREAM") => m.get("stream").into_iter().collect(),
                Some("GLOBAL") => m
                    .pointer("/global/stream_states")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .collect(),
                _ => Vec::new(),
            };
            per_stream
                .into_iter()
                .filter(|s| s.get("stream_state").is_some_and(|v| !v.is_null()))
                .filter_map(|s| descriptor(s.get("stream_descriptor")?))
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Protocol state messages without the state of `streams` (what a clear's job leaves: it
/// deletes their rows; a global state's shared part stays).
pub fn without_streams(
    messages: &[Value],
    streams: &[crate::migration::StreamDescriptor],
) -> Vec<Value> {
    if streams.is_empty() {
        return messages.to_vec();
    }
    let named = |s: &Value| {
        s.get("stream_descriptor")
            .and_then(descriptor)
            .is_some_and(|d| streams.contains(&d))
    };
    messages
        .iter()
        .filter_map(|m| match m.get("type").and_then(Value::as_str) {
            Some("STREAM") => (!m.get("stream").is_some_and(named)).then(|| m.clone()),
            Some("GLOBAL") => {
                let mut m = m.clone();
                if let Some(Value::Array(list)) = m.pointer_mut("/global/stream_states") {
                    list.retain(|s| !named(s));
                }
                Some(m)
            }
            _ => Some(m.clone()),
        })
        .collect()
}

/// The state type a list of protocol messages has (`None` for no state).
pub fn state_type(messages: &[Value]) -> Result<Option<&'static str>> {
    let mut found = None;
    for m in messages {
        let kind = match m.get("type").and_then(Value::as_str).unwrap_or("LEGACY") {
            "STREAM" => "stream",
            "GLOBAL" => "global",
            "LEGACY" => "legacy",
            other => bail!("a state message of unknown type {other:?}"),
        };
        if found.is_some_and(|f| f != kind) {
            bail!(
                "state messages of two types ({} and {kind}); Airbyte keeps one state type per connection",
                found.unwrap_or_default()
            );
        }
        found = Some(kind);
    }
    Ok(found)
}

/// The `connectionState` that turns the API state `current` into `target` (protocol
/// messages): the target's streams, and every stream of `current` it drops, sent without a
/// state so that the server deletes it. `None` when there is nothing to send.
pub fn state_to_api(
    connection_id: &str,
    target: &[Value],
    current: &Value,
) -> Result<Option<Value>> {
    let current_type = current
        .get("stateType")
        .and_then(Value::as_str)
        .unwrap_or("not_set");
    let target_type = state_type(target)?;
    let current_streams: Vec<Value> = match current_type {
        "stream" => current
            .get("streamState")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        "global" => current
            .pointer("/globalState/streamStates")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter_map(|s| s.get("streamDescriptor").cloned())
    .collect();
    let kind = target_type.unwrap_or(current_type);
    let sent_streams = |list: Vec<(Value, Option<Value>)>| -> Vec<Value> {
        let named: Vec<Value> = list.iter().map(|(d, _)| d.clone()).collect();
        let mut out: Vec<Value> = list
            .into_iter()
            .map(|(d, blob)| match blob {
                Some(blob) => json!({"streamDescriptor": d, "streamState": blob}),
                None => json!({"streamDescriptor": d}),
            })
            .collect();
        // A stream kept only when the type stays: a LEGACY state is cleared whole.
        if kind == current_type {
            out.extend(
                current_streams
                    .iter()
                    .filter(|d| !named.contains(d))
                    .map(|d| json!({"streamDescriptor": d})),
            );
        }
        out
    };
    let entries = |list: Option<&Value>| -> Vec<(Value, Option<Value>)> {
        list.and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| {
                Some((
                    s.get("stream_descriptor")?.clone(),
                    s.get("stream_state").filter(|v| !v.is_null()).cloned(),
                ))
            })
            .collect()
    };
    let body = match kind {
        "not_set" => return Ok(None),
        "legacy" => match target.last() {
            Some(m) => {
                json!({"connectionId": connection_id, "stateType": "legacy", "state": m.get("data").cloned().unwrap_or_else(|| json!({}))})
            }
            None => json!({"connectionId": connection_id, "stateType": "legacy"}),
        },
        "stream" => {
            let list: Vec<(Value, Option<Value>)> = target
                .iter()
                .filter_map(|m| {
                    let s = m.get("stream")?;
                    Some((
                        s.get("stream_descriptor")?.clone(),
                        s.get("stream_state").filter(|v| !v.is_null()).cloned(),
                    ))
                })
                .collect();
            json!({"connectionId": connection_id, "stateType": "stream", "streamState": sent_streams(list)})
        }
        "global" => {
            let global = target
                .last()
                .and_then(|m| m.get("global"))
                .cloned()
                .unwrap_or_else(|| json!({}));
            let mut out = Map::new();
            if let Some(shared) = global.get("shared_state").filter(|v| !v.is_null()) {
                out.insert("shared_state".into(), shared.clone());
            }
            out.insert(
                "streamStates".into(),
                Value::Array(sent_streams(entries(global.get("stream_states")))),
            );
            json!({"connectionId": connection_id, "stateType": "global", "globalState": Value::Object(out)})
        }
        other => bail!("state type {other:?}"),
    };
    Ok(Some(body))
}

/// Why the server would refuse to turn a state of `current_type` into `target_type`, if it
/// would: the type may change only from LEGACY (or from no state at all).
pub fn state_type_change_refused(current_type: &str, target_type: Option<&str>) -> Option<String> {
    let target = target_type?;
    if current_type == target || current_type == "not_set" || current_type == "legacy" {
        return None;
    }
    Some(format!(
        "the state type changes from {current_type} to {target}, which Airbyte allows only through a reset of the connection (clear it in Airbyte, then apply again)"
    ))
}

/// How state messages are ordered: by namespace, then name.
fn descriptor_key(descriptor: &Value) -> (String, String) {
    let text = |k: &str| {
        descriptor
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (text("namespace"), text("name"))
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

    /// One real sample of each state type: Pinterest's per-stream state, a Postgres CDC
    /// global state (shared LSN and per-table cursors), a legacy blob, and no state.
    #[test]
    fn each_state_type_goes_to_the_protocol_and_back() {
        let samples = [
            json!({"connectionId": "c", "stateType": "stream", "streamState": [
                {"streamDescriptor": {"name": "campaigns"}, "streamState": {"updated_time": 1628867244}},
                {"streamDescriptor": {"name": "ad_account_analytics"}, "streamState": {"DATE": "2021-06-09"}}]}),
            json!({"connectionId": "c", "stateType": "global", "globalState": {
                "shared_state": {"state": {"mysql_cdc_offset": {"binlog": "mysql-bin.000002", "pos": 4}}},
                "streamStates": [{"streamDescriptor": {"name": "actors", "namespace": "public"}, "streamState": {"id": "mando_michael"}}]}}),
            json!({"connectionId": "c", "stateType": "legacy", "state": {"campaigns": {"updated_time": 1628867244}, "ad_account_analytics": {"DATE": "2021-06-09"}}}),
            json!({"connectionId": "c", "stateType": "not_set"}),
        ];
        for sample in samples {
            let messages = state_from_api(&sample).unwrap();
            let back = state_to_api(
                "c",
                &messages,
                &json!({"connectionId": "c", "stateType": "not_set"}),
            )
            .unwrap();
            match back {
                None => assert_eq!(sample["stateType"], "not_set"),
                Some(back) => assert_eq!(state_from_api(&back).unwrap(), messages, "{sample}"),
            }
        }
        let stream = state_from_api(&json!({"stateType": "stream", "streamState": [
            {"streamDescriptor": {"name": "b"}, "streamState": {"x": 1}}, {"streamDescriptor": {"name": "a"}, "streamState": {"x": 2}}]})).unwrap();
        assert_eq!(
            stream[0]["stream"]["stream_descriptor"]["name"], "a",
            "ordered by stream"
        );
    }

    #[test]
    fn a_write_deletes_the_streams_the_target_drops() {
        let current = json!({"connectionId": "c", "stateType": "stream", "streamState": [
            {"streamDescriptor": {"name": "advertizer_report"}, "streamState": {"DATE": "2023-01-01"}}]});
        let target = vec![
            json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": "advertiser_report"}, "stream_state": {"DATE": "2023-01-01"}}}),
        ];
        let body = state_to_api("c", &target, &current).unwrap().unwrap();
        assert_eq!(
            body["streamState"],
            json!([
                {"streamDescriptor": {"name": "advertiser_report"}, "streamState": {"DATE": "2023-01-01"}},
                {"streamDescriptor": {"name": "advertizer_report"}}
            ])
        );
        let cleared = state_to_api("c", &[], &current).unwrap().unwrap();
        assert_eq!(
            cleared["streamState"],
            json!([{"streamDescriptor": {"name": "advertizer_report"}}])
        );
    }

    #[test]
    fn only_a_legacy_state_may_change_type() {
        assert!(state_type_change_refused("legacy", Some("stream")).is_none());
        assert!(state_type_change_refused("not_set", Some("global")).is_none());
        assert!(state_type_change_refused("stream", Some("stream")).is_none());
        assert!(state_type_change_refused("stream", None).is_none());
        assert!(
            state_type_change_refused("stream", Some("legacy"))
                .unwrap()
                .contains("reset")
        );
        assert!(state_type_change_refused("global", Some("stream")).is_some());
    }
}
