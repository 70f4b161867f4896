//! Helpers over a connection's state: a list of `AirbyteStateMessage`s.
//!
//! A message is `STREAM` (`{"stream": {"stream_descriptor", "stream_state"}}`), `GLOBAL`
//! (`{"global": {"shared_state", "stream_states": [{"stream_descriptor", "stream_state"}]}}`)
//! or `LEGACY` (`{"data": {"<stream>": state, …}}`; a message with no `type` is legacy).
//! The helpers find a stream's state in whichever form holds it and leave every other
//! stream's state untouched, byte for byte.

use serde_json::{Map, Value};

mod partition;

pub use partition::legacy_to_per_partition;

/// The form of one state message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A per-stream message (`"type": "STREAM"`).
    Stream,
    /// One message for every stream (`"type": "GLOBAL"`).
    Global,
    /// The untyped state of older connectors (`"type": "LEGACY"` or none).
    Legacy,
}

/// The form of `message`, or `None` if its `type` is not one Airbyte defines.
pub fn kind(message: &Value) -> Option<Kind> {
    match message.get("type").and_then(Value::as_str) {
        Some("STREAM") => Some(Kind::Stream),
        Some("GLOBAL") => Some(Kind::Global),
        Some("LEGACY") | None => Some(Kind::Legacy),
        Some(_) => None,
    }
}

/// A per-stream entry: `{"stream_descriptor": {...}, "stream_state": ...}`.
fn entry_name(entry: &Value) -> Option<&str> {
    entry.get("stream_descriptor")?.get("name")?.as_str()
}

fn stream_entries_mut(message: &mut Value) -> Vec<&mut Value> {
    match kind(message) {
        Some(Kind::Stream) => message.get_mut("stream").into_iter().collect(),
        Some(Kind::Global) => message
            .get_mut("global")
            .and_then(|g| g.get_mut("stream_states"))
            .and_then(Value::as_array_mut)
            .map(|a| a.iter_mut().collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn legacy_data_mut(message: &mut Value) -> Option<&mut Map<String, Value>> {
    if kind(message) == Some(Kind::Legacy) {
        message.get_mut("data").and_then(Value::as_object_mut)
    } else {
        None
    }
}

/// The state of stream `name`, from whichever message holds it.
pub fn stream_state<'a>(state: &'a [Value], name: &str) -> Option<&'a Value> {
    for message in state {
        match kind(message) {
            Some(Kind::Stream) => {
                let s = message.get("stream")?;
                if entry_name(s) == Some(name) {
                    return s.get("stream_state");
                }
            }
            Some(Kind::Global) => {
                let entries = message.get("global")?.get("stream_states")?.as_array()?;
                if let Some(e) = entries.iter().find(|e| entry_name(e) == Some(name)) {
                    return e.get("stream_state");
                }
            }
            Some(Kind::Legacy) => {
                if let Some(v) = message.get("data").and_then(|d| d.get(name)) {
                    return Some(v);
                }
            }
            None => {}
        }
    }
    None
}

/// Renames stream `from` to `to` wherever the state names it. Returns whether any state
/// held it.
pub fn rename_stream(state: &mut [Value], from: &str, to: &str) -> bool {
    let mut found = false;
    for message in state.iter_mut() {
        for entry in stream_entries_mut(message) {
            if entry_name(entry) == Some(from) {
                entry["stream_descriptor"]["name"] = Value::String(to.to_owned());
                found = true;
            }
        }
        if let Some(data) = legacy_data_mut(message)
            && data.contains_key(from)
        {
            // Rebuild to keep the key where it was: order is part of the bytes we promise.
            *data = std::mem::take(data)
                .into_iter()
                .map(|(k, v)| {
                    if k == from {
                        (to.to_owned(), v)
                    } else {
                        (k, v)
                    }
                })
                .collect();
            found = true;
        }
    }
    found
}

/// Replaces the state of stream `name` with `new`, wherever it is held. Returns the old
/// state, or `None` (and changes nothing) if no message held it.
pub fn replace_stream_state(state: &mut [Value], name: &str, new: Value) -> Option<Value> {
    for message in state.iter_mut() {
        for entry in stream_entries_mut(message) {
            if entry_name(entry) == Some(name) {
                return Some(std::mem::replace(&mut entry["stream_state"], new));
            }
        }
        if let Some(data) = legacy_data_mut(message)
            && let Some(slot) = data.get_mut(name)
        {
            return Some(std::mem::replace(slot, new));
        }
    }
    None
}

/// Removes the state of stream `name` (dropping a `STREAM` message that held only it).
/// Returns the old state.
pub fn remove_stream(state: &mut Vec<Value>, name: &str) -> Option<Value> {
    let mut old = None;
    state.retain_mut(|message| {
        if old.is_some() {
            return true;
        }
        match kind(message) {
            Some(Kind::Stream) => {
                let s = &message["stream"];
                if entry_name(s) == Some(name) {
                    old = Some(s.get("stream_state").cloned().unwrap_or(Value::Null));
                    return false;
                }
            }
            Some(Kind::Global) => {
                if let Some(entries) = message
                    .get_mut("global")
                    .and_then(|g| g.get_mut("stream_states"))
                    .and_then(Value::as_array_mut)
                    && let Some(i) = entries.iter().position(|e| entry_name(e) == Some(name))
                {
                    old = Some(
                        entries
                            .remove(i)
                            .get("stream_state")
                            .cloned()
                            .unwrap_or(Value::Null),
                    );
                }
            }
            Some(Kind::Legacy) => {
                if let Some(data) = legacy_data_mut(message) {
                    old = data.shift_remove(name);
                }
            }
            None => {}
        }
        true
    });
    old
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state() -> Vec<Value> {
        vec![
            json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": "AdvertizerReport"}, "stream_state": {"DATE": "2023-01-01"}}}),
            json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": "campaigns"}, "stream_state": {"updated_time": 1628867244}}}),
            json!({"type": "GLOBAL", "global": {"shared_state": {"cdc": 1}, "stream_states": [
                {"stream_descriptor": {"name": "actors", "namespace": "public"}, "stream_state": {"id": "m"}}]}}),
            json!({"data": {"a": 1, "legacy_one": {"DATE": "2021-06-09"}, "z": 2}}),
        ]
    }

    #[test]
    fn finds_state_in_every_form() {
        let s = state();
        assert_eq!(
            stream_state(&s, "campaigns"),
            Some(&json!({"updated_time": 1628867244}))
        );
        assert_eq!(stream_state(&s, "actors"), Some(&json!({"id": "m"})));
        assert_eq!(
            stream_state(&s, "legacy_one"),
            Some(&json!({"DATE": "2021-06-09"}))
        );
        assert_eq!(stream_state(&s, "nope"), None);
    }

    #[test]
    fn rename_touches_only_the_named_stream_and_keeps_key_order() {
        let mut s = state();
        let before = s.clone();
        assert!(rename_stream(
            &mut s,
            "AdvertizerReport",
            "AdvertiserReport"
        ));
        assert_eq!(
            s[0]["stream"]["stream_descriptor"]["name"],
            "AdvertiserReport"
        );
        assert_eq!(s[1..3], before[1..3]);
        assert!(rename_stream(&mut s, "legacy_one", "legacy_two"));
        assert_eq!(
            serde_json::to_string(&s[3]).unwrap(),
            r#"{"data":{"a":1,"legacy_two":{"DATE":"2021-06-09"},"z":2}}"#
        );
        assert!(rename_stream(&mut s, "actors", "players"));
        assert_eq!(
            s[2]["global"]["stream_states"][0]["stream_descriptor"],
            json!({"name": "players", "namespace": "public"})
        );
        assert!(!rename_stream(&mut s, "absent", "x"));
    }

    #[test]
    fn replace_and_remove() {
        let mut s = state();
        assert_eq!(
            replace_stream_state(&mut s, "campaigns", json!({"states": []})),
            Some(json!({"updated_time": 1628867244}))
        );
        assert_eq!(stream_state(&s, "campaigns"), Some(&json!({"states": []})));
        assert_eq!(replace_stream_state(&mut s, "absent", json!(1)), None);
        assert_eq!(
            remove_stream(&mut s, "campaigns"),
            Some(json!({"states": []}))
        );
        assert_eq!(s.len(), 3);
        assert_eq!(remove_stream(&mut s, "actors"), Some(json!({"id": "m"})));
        assert_eq!(s[1]["global"]["stream_states"], json!([]));
        assert_eq!(
            remove_stream(&mut s, "legacy_one"),
            Some(json!({"DATE": "2021-06-09"}))
        );
        assert_eq!(s[2], json!({"data": {"a": 1, "z": 2}}));
    }
}
