//! Between the Configuration API's shapes and the Airbyte protocol's, both ways.
//!
//! Plugins see a connection as the protocol has it: a `ConfiguredAirbyteCatalog` (snake_case,
//! the selected streams, the sync choices beside each stream) and a list of
//! `AirbyteStateMessage`s. The API shows the same data in its own shapes: an `AirbyteCatalog`
//! whose streams split into `stream` and `config` (camelCase, with `selected`), and a
//! `ConnectionState` with a `stateType` and one of `state`, `streamState` or `globalState`.
//!
//! Nothing is lost either way. Stream settings the protocol has no field for (`aliasName`,
//! field selection, mappers, `suggested`) stay on the configured stream under their API names,
//! so a plugin that renames a stream carries them along; streams that are not selected stay
//! beside the catalog ([`Catalog::unselected`]). State messages are ordered by stream
//! (the server keeps no order), and a write states the streams to delete explicitly (the
//! server keeps streams a write does not name).

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

/// The API's `syncCatalog` for a protocol catalog: its streams selected, then the unselected
/// ones as they were.
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
        assert_eq!(catalog_to_api(&catalog).unwrap(), api);
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
