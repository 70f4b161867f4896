//! The serde_json version of the migration: it reads the array and each message with
//! `&RawValue`s and the stream's state twice with a visitor. The scanner in the parent
//! module must match it on every input, writing the same bytes or refusing what it refuses,
//! so the tests keep it as their oracle.

use crate::{Error, Result};
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::io::Write;

/// [`super::legacy_to_per_partition`] as serde_json does it: the whole array is parsed into
/// raw messages first, then the stream's state is checked in one pass and written in another.
pub fn legacy_to_per_partition(
    state: &str,
    stream: &str,
    partition_field: &str,
    cursor_field: &str,
    out: &mut impl Write,
) -> Result<bool> {
    let invalid = |e: serde_json::Error| {
        Error::InvalidInput(format!("state is not a JSON array of state messages: {e}"))
    };
    let written =
        |e: std::io::Error| Error::UnsupportedShape(format!("writing the migrated state: {e}"));
    let messages: Vec<&RawValue> = serde_json::from_str(state).map_err(invalid)?;
    let mut target = None;
    for (i, message) in messages.iter().enumerate() {
        if let Some(found) = legacy_state_of(message, stream).map_err(invalid)? {
            if partitions(found, partition_field, cursor_field, None)
                .map_err(invalid)?
                .is_some_and(|n| n > 0)
            {
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
        let descriptor = serde_json::from_str::<Message>(message.get())
            .map_err(invalid)?
            .stream
            .expect("checked")
            .stream_descriptor;
        out.write_all(br#"{"type":"STREAM","stream":{"stream_descriptor":"#)
            .map_err(written)?;
        out.write_all(descriptor.get().as_bytes())
            .map_err(written)?;
        out.write_all(br#","stream_state":{"states":["#)
            .map_err(written)?;
        partitions(
            legacy,
            partition_field,
            cursor_field,
            Some(&mut *out as &mut dyn Write),
        )
        .map_err(invalid)?;
        out.write_all(b"]}}}").map_err(written)?;
    }
    out.write_all(b"]").map_err(written)?;
    Ok(true)
}

/// The state of `stream` if `message` is its `STREAM` message.
fn legacy_state_of<'a>(
    message: &'a RawValue,
    stream: &str,
) -> serde_json::Result<Option<&'a RawValue>> {
    let m: Message = serde_json::from_str(message.get())?;
    let Some(part) = m.stream.filter(|_| m.kind.as_deref() == Some("STREAM")) else {
        return Ok(None);
    };
    let descriptor: Descriptor = serde_json::from_str(part.stream_descriptor.get())?;
    Ok(part.stream_state.filter(|_| descriptor.name == stream))
}

/// Reads a stream state entry by entry: `None` if it is not in the legacy form, else the
/// number of partitions, each written to `out` if given.
fn partitions<'o>(
    state: &RawValue,
    partition_field: &'o str,
    cursor_field: &'o str,
    out: Option<&'o mut dyn Write>,
) -> serde_json::Result<Option<usize>> {
    let mut de = serde_json::Deserializer::from_str(state.get());
    match de::Deserializer::deserialize_any(
        &mut de,
        Partitions {
            out,
            partition_field,
            cursor_field,
        },
    ) {
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
                    let legacy =
                        key != "states" && key != "state" && is_cursor(value, self.cursor_field);
                    if !legacy {
                        // Read to the end of the object, so the document as a whole still parses.
                        while map
                            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                            .is_some()
                        {}
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
