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

/// Rewrites the state of stream `stream` (a `STREAM` message) from the legacy flat form to
/// the per-partition form, naming each partition by `partition_field` and keeping each
/// cursor value as it is. Each partition gets `"parent_slice": {}`, which is what the CDK's
/// runtime partitions carry (the CDK's own `LegacyToPerPartitionStateMigration` omits it,
/// airbytehq/airbyte#38028, so its migrated partitions never match).
///
/// Returns `None`, and leaves the state as it is, when the stream has no state or its state
/// is not in the legacy form: already per-partition, empty, or a value that is not a
/// one-key object holding `cursor_field` (the conditions of the CDK's `should_migrate`).
pub fn legacy_to_per_partition(state: &str, stream: &str, partition_field: &str, cursor_field: &str) -> Result<Option<String>> {
    let invalid = |e: serde_json::Error| Error::InvalidInput(format!("state is not a JSON array of state messages: {e}"));
    let messages: Vec<&RawValue> = serde_json::from_str(state).map_err(invalid)?;
    let mut out = Vec::with_capacity(state.len() + state.len() / 2);
    out.push(b'[');
    let mut migrated = false;
    for (i, message) in messages.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mark = out.len();
        if !migrated && write_migrated(message, stream, partition_field, cursor_field, &mut out).map_err(invalid)? {
            migrated = true;
        } else {
            out.truncate(mark);
            out.extend_from_slice(message.get().as_bytes());
        }
    }
    out.push(b']');
    if !migrated {
        return Ok(None);
    }
    Ok(Some(String::from_utf8(out).expect("built from UTF-8 text and JSON escapes")))
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

/// Writes `message` migrated if it is the legacy state of `stream`; `false` (with partial
/// output the caller discards) otherwise.
fn write_migrated(message: &RawValue, stream: &str, partition_field: &str, cursor_field: &str, out: &mut Vec<u8>) -> serde_json::Result<bool> {
    let m: Message = serde_json::from_str(message.get())?;
    let Some(part) = m.stream.filter(|_| m.kind.as_deref() == Some("STREAM")) else { return Ok(false) };
    let descriptor: Descriptor = serde_json::from_str(part.stream_descriptor.get())?;
    let Some(state) = part.stream_state.filter(|_| descriptor.name == stream) else { return Ok(false) };
    out.extend_from_slice(br#"{"type":"STREAM","stream":{"stream_descriptor":"#);
    out.extend_from_slice(part.stream_descriptor.get().as_bytes());
    out.extend_from_slice(br#","stream_state":{"states":["#);
    let writer = Partitions { out: &mut *out, partition_field, cursor_field };
    let mut de = serde_json::Deserializer::from_str(state.get());
    let count = match de::Deserializer::deserialize_any(&mut de, writer) {
        Ok(Some(count)) => count,
        Ok(None) => return Ok(false),
        Err(e) if e.is_data() => return Ok(false),
        Err(e) => return Err(e),
    };
    if count == 0 {
        return Ok(false);
    }
    out.extend_from_slice(b"]}}}");
    Ok(true)
}

/// Reads a legacy state object entry by entry, writing each partition as it goes; `None`
/// if the object is not in the legacy form.
struct Partitions<'o> {
    out: &'o mut Vec<u8>,
    partition_field: &'o str,
    cursor_field: &'o str,
}

impl<'de> Visitor<'de> for Partitions<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a legacy per-partition state object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<usize>, A::Error> {
        let mut count = 0;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let value: &'de RawValue = map.next_value()?;
            let legacy = key != "states"
                && key != "state"
                && serde_json::from_str::<OneKey>(value.get()).is_ok_and(|OneKey(c)| c.len() == 1 && c[0].0 == self.cursor_field);
            if !legacy {
                // Read to the end of the object, so the document as a whole still parses.
                while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                return Ok(None);
            }
            if count > 0 {
                self.out.push(b',');
            }
            self.out.extend_from_slice(br#"{"partition":{"#);
            serde_json::to_writer(&mut *self.out, self.partition_field).map_err(de::Error::custom)?;
            self.out.push(b':');
            serde_json::to_writer(&mut *self.out, key.as_ref()).map_err(de::Error::custom)?;
            self.out.extend_from_slice(br#","parent_slice":{}},"cursor":"#);
            self.out.extend_from_slice(value.get().as_bytes());
            self.out.push(b'}');
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

/// The entries of a small object, borrowed.
struct OneKey<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for OneKey<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Vec<(Cow<'de, str>, &'de RawValue)>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<Cow<'de, str>, &'de RawValue>()? {
                    entries.push(entry);
                }
                Ok(entries)
            }
        }
        d.deserialize_map(Entries).map(OneKey)
    }
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

    #[test]
    fn migrates_every_partition_in_order_and_copies_other_messages() {
        let input = legacy(3);
        let out = legacy_to_per_partition(&input, "campaigns", "id", "updated_time").unwrap().unwrap();
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
        assert_eq!(legacy_to_per_partition(&per_partition, "campaigns", "id", "updated_time").unwrap(), None);
        let global_cursor = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "campaigns"}, "stream_state": {"updated_time": 7}}}]).to_string();
        assert_eq!(legacy_to_per_partition(&global_cursor, "campaigns", "id", "updated_time").unwrap(), None);
        let other_cursor = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "campaigns"}, "stream_state": {"1": {"DATE": "x"}}}}]).to_string();
        assert_eq!(legacy_to_per_partition(&other_cursor, "campaigns", "id", "updated_time").unwrap(), None);
        assert_eq!(legacy_to_per_partition(&legacy(2), "ads", "id", "updated_time").unwrap(), None);
        assert!(legacy_to_per_partition("{", "campaigns", "id", "updated_time").is_err());
    }

    #[test]
    fn escapes_partition_ids() {
        let input = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "s"}, "stream_state": {"a\"b\\n": {"c": 1}}}}]).to_string();
        let out = legacy_to_per_partition(&input, "s", "id", "c").unwrap().unwrap();
        let out: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(out[0]["stream"]["stream_state"]["states"][0]["partition"]["id"], "a\"b\\n");
    }
}
