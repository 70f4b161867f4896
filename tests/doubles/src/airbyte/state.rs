//! Connection state as the Airbyte server keeps it (`StatePersistence`): rows of the `state`
//! table, one per stream (plus one without a stream for a global shared state or a legacy
//! blob), each with the connection's state type, in no particular order.
//!
//! Writes follow the server's rules: streams sent are upserted and the others kept; a stream
//! sent without a state is deleted; the state type may change only from LEGACY (whose row is
//! then cleared), any other change is refused as needing a reset.

use serde_json::{Map, Value, json};

/// `STREAM`, `GLOBAL` or `LEGACY`, as the `state_type` column holds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateType {
    Stream,
    Global,
    Legacy,
}

impl StateType {
    fn api(self) -> &'static str {
        match self {
            StateType::Stream => "stream",
            StateType::Global => "global",
            StateType::Legacy => "legacy",
        }
    }
}

/// A stream, as a state row names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Descriptor {
    pub name: String,
    pub namespace: Option<String>,
}

impl Descriptor {
    /// Reads `{name, namespace}` (the API's and the protocol's shape alike).
    pub fn read(value: &Value) -> Option<Self> {
        Some(Self {
            name: value.get("name")?.as_str()?.to_owned(),
            namespace: value
                .get("namespace")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }

    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("name".into(), self.name.clone().into());
        if let Some(ns) = &self.namespace {
            map.insert("namespace".into(), ns.clone().into());
        }
        Value::Object(map)
    }
}

/// One row of the `state` table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// `None` for a global shared state or a legacy blob.
    pub stream: Option<Descriptor>,
    pub kind: StateType,
    pub blob: Value,
}

/// A connection's rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows(pub Vec<Row>);

impl Rows {
    fn kind(&self) -> Option<StateType> {
        self.0.first().map(|r| r.kind)
    }

    /// The state as `state/get` returns it (`ConnectionState`).
    pub fn to_api(&self, connection_id: &str) -> Value {
        let streams = |rows: &[Row]| -> Vec<Value> {
            rows.iter()
                .filter_map(|r| {
                    r.stream
                        .as_ref()
                        .map(|d| json!({"streamDescriptor": d.to_json(), "streamState": r.blob}))
                })
                .collect()
        };
        match self.kind() {
            None => json!({"connectionId": connection_id, "stateType": "not_set"}),
            Some(StateType::Legacy) => {
                json!({"connectionId": connection_id, "stateType": "legacy", "state": self.0[0].blob})
            }
            Some(StateType::Stream) => {
                json!({"connectionId": connection_id, "stateType": "stream", "streamState": streams(&self.0)})
            }
            Some(StateType::Global) => {
                let mut global = Map::new();
                if let Some(shared) = self.0.iter().find(|r| r.stream.is_none()) {
                    global.insert("shared_state".into(), shared.blob.clone());
                }
                global.insert("streamStates".into(), Value::Array(streams(&self.0)));
                json!({"connectionId": connection_id, "stateType": "global", "globalState": global})
            }
        }
    }

    /// Applies `state/create_or_update`'s `connectionState`; on a refusal, the server's message.
    pub fn update(&mut self, state: &Value) -> Result<(), String> {
        let kind = match state.get("stateType").and_then(Value::as_str) {
            Some("stream") => Some(StateType::Stream),
            Some("global") => Some(StateType::Global),
            Some("legacy") => Some(StateType::Legacy),
            _ => None,
        };
        let previous = self.kind();
        let migration =
            previous == Some(StateType::Legacy) && kind.is_some_and(|k| k != StateType::Legacy);
        if let Some(previous) = previous
            && !migration
            && Some(previous) != kind
        {
            return Err(format!(
                "Unexpected type migration from '{}' to '{}'. Migration of StateType need to go through an explicit reset.",
                previous.api().to_uppercase(),
                kind.map_or("NOT_SET".to_owned(), |k| k.api().to_uppercase())
            ));
        }
        if migration {
            self.0.clear();
        }
        let Some(kind) = kind else { return Ok(()) };
        let stream_entries = |list: Option<&Value>| -> Vec<(Descriptor, Option<Value>)> {
            list.and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|s| {
                    Some((
                        Descriptor::read(s.get("streamDescriptor")?)?,
                        s.get("streamState").filter(|v| !v.is_null()).cloned(),
                    ))
                })
                .collect()
        };
        match kind {
            StateType::Legacy => self.write(
                None,
                kind,
                state.get("state").filter(|v| !v.is_null()).cloned(),
            ),
            StateType::Stream => {
                for (d, blob) in stream_entries(state.get("streamState")) {
                    self.write(Some(d), kind, blob);
                }
            }
            StateType::Global => {
                let global = state.get("globalState");
                self.write(
                    None,
                    kind,
                    global
                        .and_then(|g| g.get("shared_state"))
                        .filter(|v| !v.is_null())
                        .cloned(),
                );
                for (d, blob) in stream_entries(global.and_then(|g| g.get("streamStates"))) {
                    self.write(Some(d), kind, blob);
                }
            }
        }
        Ok(())
    }

    /// Upserts one row, or deletes it when there is no state.
    fn write(&mut self, stream: Option<Descriptor>, kind: StateType, blob: Option<Value>) {
        let at = self.0.iter().position(|r| r.stream == stream);
        match (at, blob) {
            (Some(i), Some(blob)) => self.0[i].blob = blob,
            (None, Some(blob)) => self.0.push(Row { stream, kind, blob }),
            (Some(i), None) => {
                self.0.remove(i);
            }
            (None, None) => {}
        }
    }

    /// Deletes the rows of these streams (`bulkDelete`): all rows when they are all the
    /// streams in the state.
    pub fn delete_streams(&mut self, streams: &[Descriptor]) {
        let in_state: Vec<&Descriptor> = self.0.iter().filter_map(|r| r.stream.as_ref()).collect();
        if !in_state.is_empty()
            && in_state.iter().all(|d| streams.contains(d))
            && streams.iter().all(|d| in_state.contains(&d))
        {
            self.0.clear();
        } else {
            self.0
                .retain(|r| r.stream.as_ref().is_none_or(|d| !streams.contains(d)));
        }
    }

    /// The rows a list of protocol `AirbyteStateMessage`s leaves (what a sync's state
    /// messages make): how a test seeds a connection's state.
    pub fn from_protocol(messages: &[Value]) -> Result<Self, String> {
        let mut rows = Rows::default();
        for m in messages {
            let kind = m.get("type").and_then(Value::as_str).unwrap_or("LEGACY");
            match kind {
                "STREAM" => {
                    let s = m.get("stream").ok_or("a STREAM message without stream")?;
                    let d =
                        Descriptor::read(s.get("stream_descriptor").ok_or("no stream_descriptor")?)
                            .ok_or("bad stream_descriptor")?;
                    rows.write(
                        Some(d),
                        StateType::Stream,
                        s.get("stream_state").filter(|v| !v.is_null()).cloned(),
                    );
                }
                "GLOBAL" => {
                    let g = m.get("global").ok_or("a GLOBAL message without global")?;
                    rows.write(
                        None,
                        StateType::Global,
                        g.get("shared_state").filter(|v| !v.is_null()).cloned(),
                    );
                    for s in g
                        .get("stream_states")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let d = Descriptor::read(
                            s.get("stream_descriptor").ok_or("no stream_descriptor")?,
                        )
                        .ok_or("bad stream_descriptor")?;
                        rows.write(
                            Some(d),
                            StateType::Global,
                            s.get("stream_state").filter(|v| !v.is_null()).cloned(),
                        );
                    }
                }
                "LEGACY" => rows.write(None, StateType::Legacy, m.get("data").cloned()),
                other => return Err(format!("unknown state type {other}")),
            }
        }
        let kinds: std::collections::HashSet<_> = rows.0.iter().map(|r| r.kind as u8).collect();
        if kinds.len() > 1 {
            return Err("state messages of several types".into());
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(name: &str, v: i64) -> Value {
        json!({"streamDescriptor": {"name": name}, "streamState": {"cursor": v}})
    }

    #[test]
    fn upserts_keeps_others_and_deletes_streams_sent_without_state() {
        let mut rows = Rows::default();
        rows.update(
            &json!({"stateType": "stream", "streamState": [stream("a", 1), stream("b", 2)]}),
        )
        .unwrap();
        rows.update(&json!({"stateType": "stream", "streamState": [stream("a", 3), {"streamDescriptor": {"name": "b"}}, stream("c", 4)]})).unwrap();
        assert_eq!(
            rows.to_api("x")["streamState"],
            json!([stream("a", 3), stream("c", 4)])
        );
    }

    #[test]
    fn refuses_type_changes_except_from_legacy() {
        let mut rows = Rows::default();
        rows.update(&json!({"stateType": "legacy", "state": {"a": {"cursor": 1}}}))
            .unwrap();
        rows.update(&json!({"stateType": "stream", "streamState": [stream("a", 1)]}))
            .unwrap();
        assert_eq!(rows.to_api("x")["stateType"], "stream");
        let err = rows
            .update(&json!({"stateType": "global", "globalState": {"streamStates": []}}))
            .unwrap_err();
        assert!(err.contains("explicit reset"), "{err}");
        assert!(
            rows.update(&json!({"stateType": "legacy", "state": {}}))
                .is_err()
        );
        assert!(rows.update(&json!({"stateType": "not_set"})).is_err());
    }

    #[test]
    fn global_state_keeps_its_shared_part() {
        let rows = Rows::from_protocol(&[json!({"type": "GLOBAL", "global": {"shared_state": {"lsn": 7}, "stream_states": [{"stream_descriptor": {"name": "a", "namespace": "public"}, "stream_state": {"id": 1}}]}})]).unwrap();
        assert_eq!(
            rows.to_api("x"),
            json!({"connectionId": "x", "stateType": "global", "globalState": {"shared_state": {"lsn": 7}, "streamStates": [{"streamDescriptor": {"name": "a", "namespace": "public"}, "streamState": {"id": 1}}]}})
        );
    }
}
