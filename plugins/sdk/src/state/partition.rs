//! The legacy → per-partition state migration, on the state's JSON text.
//!
//! Connectors that move a stream from one cursor per partition kept as a flat object
//! (`{"<partition id>": {"<cursor>": v}, …}`) to the CDK's per-partition cursor state
//! (`{"states": [{"partition": {…}, "cursor": {…}}, …]}`) carry states with one entry per
//! partition: millions for some accounts. A DOM of such a state costs several times its
//! size and most of the time, so this works on borrowed text: the array of state messages
//! is split without parsing the messages, the one stream's state is read entry by entry,
//! and the new state is written straight to the output. Every other message is copied
//! byte for byte.

use crate::{Error, Result};
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::io::Write;

/// Writes `state` to `out` with the state of stream `stream` (a `STREAM` message) moved from
/// the legacy flat form to the per-partition form, naming each partition by
/// `partition_field` and keeping each cursor value as it is; returns whether it moved. Each
/// partition gets `"parent_slice": {}`, which is what the CDK's runtime partitions carry (the
/// CDK's own `LegacyToPerPartitionStateMigration` omits it, airbytehq/airbyte#38028, so its
/// migrated partitions never match).
///
/// The state is written unchanged when the stream has no state or its state is not in the
/// legacy form: already per-partition, empty, or a value that is not a one-key object
/// holding `cursor_field` (the conditions of the CDK's `should_migrate`). The stream's state
/// is checked in a first pass and written in a second, so nothing of the new state is held
/// in memory: with [`StateOut`](crate::StateOut) it streams to the host as it is written.
pub fn legacy_to_per_partition(
    state: &str,
    stream: &str,
    partition_field: &str,
    cursor_field: &str,
    out: &mut impl Write,
) -> Result<bool> {
    let invalid = |e: serde_json::Error| Error::InvalidInput(format!("state is not a JSON array of state messages: {e}"));
    let written = |e: std::io::Error| Error::UnsupportedShape(format!("writing the migrated state: {e}"));
    let messages: Vec<&RawValue> = serde_json::from_str(state).map_err(invalid)?;
    let mut target = None;
    for (i, message) in messages.iter().enumerate() {
        if let Some(found) = legacy_state_of(message, stream).map_err(invalid)? {
            if partitions(found, partition_field, cursor_field, None).map_err(invalid)?.is_some_and(|n| n > 0) {
                target = Some((i, found));
            }
            break;
        }
    }
    let Some((at, legacy)) = target else {
        out.write_all(state.as_bytes()).map_err(written)?;
        return Ok(false);
    };
    out.write_all(b"[").map_err(written)?;
    for (i, message) in messages.iter().enumerate() {
        if i > 0 {
            out.write_all(b",").map_err(written)?;
        }
        if i != at {
            out.write_all(message.get().as_bytes()).map_err(written)?;
            continue;
        }
        let descriptor = serde_json::from_str::<Message>(message.get()).map_err(invalid)?.stream.expect("checked").stream_descriptor;
        out.write_all(br#"{"type":"STREAM","stream":{"stream_descriptor":"#).map_err(written)?;
        out.write_all(descriptor.get().as_bytes()).map_err(written)?;
        out.write_all(br#","stream_state":{"states":["#).map_err(written)?;
        partitions(legacy, partition_field, cursor_field, Some(&mut *out as &mut dyn Write)).map_err(invalid)?;
        out.write_all(b"]}}}").map_err(written)?;
    }
    out.write_all(b"]").map_err(written)?;
    Ok(true)
}

/// The state of `stream` if `message` is its `STREAM` message.
fn legacy_state_of<'a>(message: &'a RawValue, stream: &str) -> serde_json::Result<Option<&'a RawValue>> {
    let m: Message = serde_json::from_str(message.get())?;
    let Some(part) = m.stream.filter(|_| m.kind.as_deref() == Some("STREAM")) else { return Ok(None) };
    let descriptor: Descriptor = serde_json::from_str(part.stream_descriptor.get())?;
    Ok(part.stream_state.filter(|_| descriptor.name == stream))
}

/// Reads a stream state entry by entry: `None` if it is not in the legacy form, else the
/// number of partitions, each written to `out` if given.
fn partitions<'o>(state: &RawValue, partition_field: &'o str, cursor_field: &'o str, out: Option<&'o mut dyn Write>) -> serde_json::Result<Option<usize>> {
    let mut de = serde_json::Deserializer::from_str(state.get());
    match de::Deserializer::deserialize_any(&mut de, Partitions { out, partition_field, cursor_field }) {
        Err(e) if e.is_data() => Ok(None),
        other => other,
    }
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(rename = "type", default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    stream: Option<StreamPart<'a>>,
}

#[derive(Deserialize)]
struct StreamPart<'a> {
    #[serde(borrow)]
    stream_descriptor: &'a RawValue,
    #[serde(borrow, default)]
    stream_state: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Descriptor<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

/// Reads a legacy state object entry by entry, writing each partition as it goes; `None`
/// if the object is not in the legacy form.
struct Partitions<'o> {
    out: Option<&'o mut dyn Write>,
    partition_field: &'o str,
    cursor_field: &'o str,
}

impl<'de> Visitor<'de> for Partitions<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a legacy per-partition state object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Option<usize>, A::Error> {
        let mut count = 0;
        // One partition is built here and written at once: one write per partition.
        let mut scratch = Vec::with_capacity(128);
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let value: &'de RawValue = map.next_value()?;
            match self.out.as_deref_mut() {
                // Writing: the first pass has checked every entry.
                Some(out) => {
                    scratch.clear();
                    partition_json(&mut scratch, count > 0, self.partition_field, &key, value);
                    out.write_all(&scratch).map_err(de::Error::custom)?;
                }
                None => {
                    let legacy = key != "states" && key != "state" && is_cursor(value, self.cursor_field);
                    if !legacy {
                        // Read to the end of the object, so the document as a whole still parses.
                        while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                        return Ok(None);
                    }
                }
            }
            count += 1;
        }
        Ok(Some(count))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Option<usize>, A::Error> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Option<usize>, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Option<usize>, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Option<usize>, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<usize>, E> {
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<usize>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<usize>, E> {
        Ok(None)
    }
}

/// Appends one partition of the new state to `out`.
fn partition_json(out: &mut Vec<u8>, comma: bool, field: &str, id: &str, cursor: &RawValue) {
    if comma {
        out.push(b',');
    }
    out.extend_from_slice(br#"{"partition":{"#);
    serde_json::to_writer(&mut *out, field).expect("writing to a Vec cannot fail");
    out.push(b':');
    serde_json::to_writer(&mut *out, id).expect("writing to a Vec cannot fail");
    out.extend_from_slice(br#","parent_slice":{}},"cursor":"#);
    out.extend_from_slice(cursor.get().as_bytes());
    out.push(b'}');
}

/// Whether `value` is `{"<cursor_field>": …}`: an object with that one key.
fn is_cursor(value: &RawValue, cursor_field: &str) -> bool {
    struct OneKey<'f>(&'f str);
    impl<'de> Visitor<'de> for OneKey<'_> {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a cursor object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            let mut keys = 0;
            let mut matches = true;
            while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                map.next_value::<de::IgnoredAny>()?;
                keys += 1;
                matches &= key == self.0;
            }
            Ok(keys == 1 && matches)
        }
    }
    let mut de = serde_json::Deserializer::from_str(value.get());
    de::Deserializer::deserialize_map(&mut de, OneKey(cursor_field)).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn legacy(n: u64) -> String {
        let mut state = serde_json::Map::new();
        for i in 0..n {
            state.insert((549755885175 + i).to_string(), json!({"updated_time": 1628867244 + i}));
        }
        json!([
            {"type": "STREAM", "stream": {"stream_descriptor": {"name": "boards"}, "stream_state": {"updated_time": 5}}},
            {"type": "STREAM", "stream": {"stream_descriptor": {"name": "campaigns"}, "stream_state": state}}
        ])
        .to_string()
    }

    /// The state as written, if it was migrated.
    fn migrate(state: &str, stream: &str, cursor: &str) -> crate::Result<Option<String>> {
        let mut out = Vec::new();
        let moved = legacy_to_per_partition(state, stream, "id", cursor, &mut out)?;
        let out = String::from_utf8(out).unwrap();
        if !moved {
            assert_eq!(out, state, "an unmigrated state is written as it was");
        }
        Ok(moved.then_some(out))
    }

    #[test]
    fn migrates_every_partition_in_order_and_copies_other_messages() {
        let input = legacy(3);
        let out = migrate(&input, "campaigns", "updated_time").unwrap().unwrap();
        let out: Value = serde_json::from_str(&out).unwrap();
        let input: Value = serde_json::from_str(&input).unwrap();
        assert_eq!(out[0], input[0], "the other stream's message is untouched");
        let states = out[1]["stream"]["stream_state"]["states"].as_array().unwrap();
        assert_eq!(states.len(), 3);
        assert_eq!(states[0], json!({"partition": {"id": "549755885175", "parent_slice": {}}, "cursor": {"updated_time": 1628867244}}));
        assert_eq!(states[2]["partition"]["id"], "549755885177");
        assert_eq!(out[1]["stream"]["stream_descriptor"], json!({"name": "campaigns"}));
    }

    #[test]
    fn leaves_states_that_are_not_legacy() {
        let per_partition = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "campaigns"}, "stream_state": {"states": []}}}]).to_string();
        assert_eq!(migrate(&per_partition, "campaigns", "updated_time").unwrap(), None);
        let global_cursor = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "campaigns"}, "stream_state": {"updated_time": 7}}}]).to_string();
        assert_eq!(migrate(&global_cursor, "campaigns", "updated_time").unwrap(), None);
        let other_cursor = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "campaigns"}, "stream_state": {"1": {"DATE": "x"}}}}]).to_string();
        assert_eq!(migrate(&other_cursor, "campaigns", "updated_time").unwrap(), None);
        assert_eq!(migrate(&legacy(2), "ads", "updated_time").unwrap(), None);
        assert!(legacy_to_per_partition("{", "campaigns", "id", "updated_time", &mut Vec::new()).is_err());
    }

    #[test]
    fn escapes_partition_ids() {
        let input = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "s"}, "stream_state": {"a\"b\\n": {"c": 1}}}}]).to_string();
        let out = migrate(&input, "s", "c").unwrap().unwrap();
        let out: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(out[0]["stream"]["stream_state"]["states"][0]["partition"]["id"], "a\"b\\n");
    }
}
