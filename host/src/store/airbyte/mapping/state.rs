//! A connection's state between the API's `ConnectionState` (a `stateType` with one of
//! `state`, `streamState` or `globalState`) and the protocol's list of `AirbyteStateMessage`s,
//! both ways, and which streams a state or a catalog names.

use anyhow::{Result, bail};
use serde_json::{Map, Value, json};

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

#[cfg(test)]
mod tests {
    use super::*;

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
