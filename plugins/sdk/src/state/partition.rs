//! The legacy → per-partition state migration, on the state's JSON text.
//!
//! Connectors that move a stream from one cursor per partition kept as a flat object
//! (`{"<partition id>": {"<cursor>": v}, …}`) to the CDK's per-partition cursor state
//! (`{"states": [{"partition": {…}, "cursor": {…}}, …]}`) carry states with one entry per
//! partition: millions for some accounts. A DOM of such a state costs several times its
//! size and most of the time, so this scans the borrowed text instead. A first pass checks
//! the whole document, finds the stream's state and records where each of its entries'
//! key and cursor lie (two bytes an entry); a second writes the output from that record,
//! copying each other message with one write and each cursor value as it is. Nothing is
//! held but positions in the text.
//!
//! What counts as a state message, a legacy state or an error is what serde_json made of it
//! when this read the messages with `#[derive(Deserialize)]` structs: the tests compare the
//! two on generated states.

mod scan;

use crate::{Error, Result};
use scan::{Scanner, Span, Str};
use std::io::{BufWriter, Write};

/// Writes `state` to `out` with the state of stream `stream` (a `STREAM` message) moved from
/// the legacy flat form to the per-partition form, naming each partition by
/// `partition_field` and keeping each cursor value as it is; returns whether it moved. Each
/// partition gets `"parent_slice": {}`, which is what the CDK's runtime partitions carry (the
/// CDK's own `LegacyToPerPartitionStateMigration` omits it, airbytehq/airbyte#38028, so its
/// migrated partitions never match).
///
/// The state is written unchanged when the stream has no state or its state is not in the
/// legacy form: already per-partition, empty, or a value that is not a one-key object
/// holding `cursor_field` (the conditions of the CDK's `should_migrate`). When it moves, the
/// stream's message becomes `{"type":"STREAM","stream":{"stream_descriptor":…,"stream_state":…}}`
/// and the other messages are written without the whitespace between them.
///
/// The whole state is checked before anything is written, and the new state is written from
/// the old one's text, so nothing of it is held in memory: with
/// [`StateOut`](crate::StateOut) it streams to the host as it is written.
pub fn legacy_to_per_partition(
    state: &str,
    stream: &str,
    partition_field: &str,
    cursor_field: &str,
    out: &mut impl Write,
) -> Result<bool> {
    let cursor = Cursor::new(cursor_field);
    let Some(target) = find_legacy(state, stream, &cursor)? else {
        put(out, state.as_bytes())?;
        return Ok(false);
    };
    write_migrated(state, &target, partition_field, out)?;
    Ok(true)
}

/// The cursor field, with the form its key takes when written plainly, for
/// [`Scanner::plain_entry`].
struct Cursor<'f> {
    field: &'f str,
    /// `"<field>":`, when the field needs no escape.
    plain_key: Option<Vec<u8>>,
}

impl<'f> Cursor<'f> {
    fn new(field: &'f str) -> Self {
        let mut key = json_string(field);
        let plain = key.len() == field.len() + 2;
        key.push(b':');
        Self {
            field,
            plain_key: plain.then_some(key),
        }
    }

    /// The next entry of a state object, `"<id>":{"<field>":<value>}`, if it is written
    /// plainly: its id and the span of its cursor object.
    #[inline]
    fn plain_entry(&self, s: &mut Scanner) -> Option<(Str, Span)> {
        s.plain_entry(self.plain_key.as_deref()?)
    }
}

/// Where the legacy state to move lies in the text.
struct Target {
    /// The whole `STREAM` message, which is rewritten.
    message: Span,
    /// Its `stream_descriptor`, which is kept.
    descriptor: Span,
    /// Where its `stream_state` starts: an object of at least one partition.
    state: usize,
    /// Where the entries of that object lie.
    layout: Layout,
}

/// Where the key and the cursor object of each entry of a legacy state lie, recorded as the
/// state is checked so that writing it need not scan it again: the lengths of both for an
/// entry [`Scanner::plain_entry`] read, when each is under 256 bytes, and zeros for any
/// other, which is read again. Two bytes an entry.
#[derive(Default)]
struct Layout(Vec<[u8; 2]>);

impl Layout {
    /// Records the next entry: `plain` is what [`Scanner::plain_entry`] read of it, if it did.
    #[inline]
    fn record(&mut self, plain: Option<&(Str, Span)>) {
        let lengths = plain.and_then(|(key, object)| {
            Some([
                u8::try_from(key.span.len()).ok()?,
                u8::try_from(object.len()).ok()?,
            ])
        });
        self.0.push(lengths.unwrap_or_default());
    }
}

/// Checks the whole text and finds the legacy state to move: the state of the first
/// `STREAM` message for `stream` that has one (not missing or null), if that state is in
/// the legacy form. The messages before it (and it) must be well-formed messages, the ones
/// after it only JSON.
fn find_legacy(text: &str, stream: &str, cursor: &Cursor) -> Result<Option<Target>> {
    let mut s = Scanner::at(text, 0);
    s.expect(b'[', "an array of state messages")?;
    let mut target = None;
    let mut searching = true;
    let mut first = true;
    while s.more(b']', first)? {
        first = false;
        if !searching {
            s.skip_value()?;
            continue;
        }
        let start = s.token_start();
        let message = Message::read(&mut s, cursor)?;
        let Some((descriptor, state)) = message.state_of(text, stream)? else {
            continue;
        };
        searching = false;
        match state.shape {
            Shape::Legacy(layout) => {
                target = Some(Target {
                    message: start..s.pos(),
                    descriptor,
                    state: state.start,
                    layout,
                })
            }
            Shape::Other => {}
            Shape::Refused(e) => return Err(e),
        }
    }
    s.end()?;
    Ok(target)
}

/// Writes the state with the target's message rewritten: every other message is copied as
/// it is, without the whitespace around it.
///
/// A partition is written in five pieces, so they are gathered in a buffer: a write to
/// `out` costs more than a copy.
fn write_migrated(
    text: &str,
    target: &Target,
    partition_field: &str,
    out: &mut impl Write,
) -> Result<()> {
    let mut out = BufWriter::with_capacity(1 << 14, out);
    write_messages(text, target, partition_field, &mut out)?;
    out.flush().map_err(write_error)
}

/// Writes the array of messages, in order.
fn write_messages(
    text: &str,
    target: &Target,
    partition_field: &str,
    out: &mut impl Write,
) -> Result<()> {
    let mut s = Scanner::at(text, 0);
    s.expect(b'[', "an array of state messages")?;
    put(out, b"[")?;
    let mut first = true;
    while s.more(b']', first)? {
        if !first {
            put(out, b",")?;
        }
        first = false;
        if s.token_start() == target.message.start {
            write_message(text, target, partition_field, out)?;
            s.seek(target.message.end);
        } else {
            let message = s.skip_value()?;
            put(out, text[message].as_bytes())?;
        }
    }
    put(out, b"]")
}

/// Writes the target's message with its state in the per-partition form.
fn write_message(
    text: &str,
    target: &Target,
    partition_field: &str,
    out: &mut impl Write,
) -> Result<()> {
    put(out, br#"{"type":"STREAM","stream":{"stream_descriptor":"#)?;
    put(out, text[target.descriptor.clone()].as_bytes())?;
    put(out, br#","stream_state":{"states":["#)?;
    write_partitions(text, target, partition_field, out)?;
    put(out, b"]}}}")
}

/// Writes one partition per entry of the target's legacy state, in order, duplicates
/// included: `{"partition":{"<field>":"<id>","parent_slice":{}},"cursor":<value>}`. The
/// entries the layout does not place are read again.
fn write_partitions(
    text: &str,
    target: &Target,
    partition_field: &str,
    out: &mut impl Write,
) -> Result<()> {
    // Everything before the id is the same for each partition (a comma apart).
    let mut head = br#",{"partition":{"#.to_vec();
    head.extend_from_slice(&json_string(partition_field));
    head.push(b':');
    let mut s = Scanner::at(text, target.state);
    s.expect(b'{', "a legacy state object")?;
    let mut layout = target.layout.0.iter();
    let mut first = true;
    while s.more(b'}', first)? {
        let (id, value) = match layout.next() {
            Some(&[key, object]) if key > 0 => s.plain_entry_again(key.into(), object.into()),
            _ => (s.key()?, s.skip_value()?),
        };
        // The first partition has no comma before it.
        put(out, &head[usize::from(first)..])?;
        first = false;
        if id.escaped {
            put(out, &json_string(&s.decode(&id)?))?;
        } else {
            // Unescaped, the key as written is already the string serde_json would write.
            put(out, text[id.span].as_bytes())?;
        }
        put(out, br#","parent_slice":{}},"cursor":"#)?;
        put(out, text[value].as_bytes())?;
        put(out, b"}")?;
    }
    Ok(())
}

/// `s` as a JSON string, escaped as serde_json escapes it.
fn json_string(s: &str) -> Vec<u8> {
    serde_json::to_vec(s).expect("a string always serializes")
}

#[inline]
fn put(out: &mut impl Write, bytes: &[u8]) -> Result<()> {
    out.write_all(bytes).map_err(write_error)
}

#[cold]
fn write_error(e: std::io::Error) -> Error {
    Error::UnsupportedShape(format!("writing the migrated state: {e}"))
}

/// What a state message says about where a stream's state is: `type` (null or a string)
/// and `stream` (null or a [`StreamPart`]); other fields are skipped.
struct Message {
    /// `type` is `"STREAM"`.
    stream_type: bool,
    stream: Option<StreamPart>,
}

/// A message's `stream`: `stream_descriptor` (any value, required) and `stream_state`.
struct StreamPart {
    descriptor: Span,
    /// `None` when missing or null.
    state: Option<State>,
}

/// A stream state: where it starts and whether it is in the legacy form.
struct State {
    start: usize,
    shape: Shape,
}

enum Shape {
    /// An object of one or more partitions, each `{"<cursor_field>": v}`.
    Legacy(Layout),
    /// Anything else: left as it is.
    Other,
    /// An error if this is the state to migrate; see [`classify`].
    Refused(Error),
}

impl Message {
    /// Reads a message (the whole of it), with the state of each stream it names classified.
    fn read(s: &mut Scanner, cursor: &Cursor) -> Result<Self> {
        let (mut kind, mut stream) = (None, None);
        read_struct(s, "state message", ["type", "stream"], |s, field| {
            let null = s.null()?;
            match field {
                0 if !null => kind = Some(s.string()?),
                1 if !null => stream = Some(StreamPart::read(s, cursor)?),
                _ => {}
            }
            Ok(())
        })?;
        let stream_type = match kind {
            Some(kind) => s.decode(&kind)? == "STREAM",
            None => false,
        };
        Ok(Self {
            stream_type,
            stream,
        })
    }

    /// The descriptor and state of `stream` if this is its `STREAM` message with a state.
    fn state_of(self, text: &str, stream: &str) -> Result<Option<(Span, State)>> {
        let Some(part) = self.stream.filter(|_| self.stream_type) else {
            return Ok(None);
        };
        let named = descriptor_name_is(text, &part.descriptor, stream)?;
        Ok(part
            .state
            .filter(|_| named)
            .map(|state| (part.descriptor, state)))
    }
}

impl StreamPart {
    fn read(s: &mut Scanner, cursor: &Cursor) -> Result<Self> {
        let (mut descriptor, mut state) = (None, None);
        read_struct(
            s,
            "stream",
            ["stream_descriptor", "stream_state"],
            |s, field| {
                match field {
                    0 => descriptor = Some(s.skip_value()?),
                    _ => {
                        state = if s.null()? {
                            None
                        } else {
                            Some(classify(s, cursor)?)
                        }
                    }
                }
                Ok(())
            },
        )?;
        let descriptor =
            descriptor.ok_or_else(|| s.error("missing field `stream_descriptor` in a stream"))?;
        Ok(Self { descriptor, state })
    }
}

/// Whether the stream descriptor at `span` is named `stream`: it must be a struct with a
/// string `name`; other fields (`namespace`) are not looked at.
fn descriptor_name_is(text: &str, span: &Span, stream: &str) -> Result<bool> {
    let mut s = Scanner::at(text, span.start);
    let mut name = None;
    read_struct(&mut s, "stream_descriptor", ["name"], |s, _| {
        name = Some(s.string()?);
        Ok(())
    })?;
    let name = name.ok_or_else(|| s.error("missing field `name` in a stream_descriptor"))?;
    Ok(s.decode(&name)? == stream)
}

/// Reads a struct as serde reads a derived one: either an object, in which each of `names`
/// may appear once and other keys are skipped, or an array of the fields in order, of which
/// there may be fewer than `names` but not more. `field(s, i)` reads the value of
/// `names[i]`. Keys are decoded to be compared, so they must decode.
fn read_struct<const N: usize>(
    s: &mut Scanner,
    what: &str,
    names: [&str; N],
    mut field: impl FnMut(&mut Scanner, usize) -> Result<()>,
) -> Result<()> {
    let close = if s.eat(b'{') {
        b'}'
    } else if s.eat(b'[') {
        b']'
    } else {
        return Err(s.error(format_args!("expected a {what} (an object)")));
    };
    let mut seen = [false; N];
    let mut first = true;
    while s.more(close, first)? {
        let index = if close == b'}' {
            let key = s.key()?;
            let key = s.decode(&key)?;
            names.iter().position(|name| *name == key)
        } else {
            // In an array the fields come in order: this is the first one not read yet.
            let next = seen.iter().position(|seen| !seen);
            if next.is_none() {
                return Err(s.error(format_args!(
                    "a {what} given as an array has at most {N} fields"
                )));
            }
            next
        };
        match index {
            Some(i) if seen[i] => {
                return Err(s.error(format_args!("duplicate field `{}` in a {what}", names[i])));
            }
            Some(i) => {
                seen[i] = true;
                field(s, i)?;
            }
            None => {
                s.skip_value()?;
            }
        }
        first = false;
    }
    Ok(())
}

/// Reads a stream state and tells whether it is in the legacy form, the way the
/// `Deserialize` visitor that decided it did:
/// - an object is legacy if it has at least one entry and each holds a one-key object
///   `{"<cursor_field>": v}` under a key that is neither `states` nor `state`. Every key
///   must decode, or the state is refused.
/// - an empty array is not legacy; a non-empty one is refused (serde_json's
///   `deserialize_any` found the array's elements where it expected its end).
/// - a scalar is not legacy, but it is refused if serde_json cannot read it as a value: a
///   string that does not decode, a number beyond an `f64`.
fn classify(s: &mut Scanner, cursor: &Cursor) -> Result<State> {
    let start = s.token_start();
    let shape = if s.eat(b'{') {
        entries(s, cursor)?
    } else if s.eat(b'[') {
        if !s.more(b']', true)? {
            return Ok(State {
                start,
                shape: Shape::Other,
            });
        }
        let refused = s.error("a stream state that is a non-empty array");
        s.skip_value()?;
        s.skip_rest(b']')?;
        Shape::Refused(refused)
    } else {
        let scalar = s.skip_value()?;
        match serde_json::from_str::<serde_json::Value>(s.slice(scalar)) {
            Ok(_) => Shape::Other,
            Err(e) => Shape::Refused(scan::invalid_at(start, scan::reason(&e))),
        }
    };
    Ok(State { start, shape })
}

/// The entries of a state object whose `{` has been read, to its end: see [`classify`].
/// Once an entry is not legacy, the values of the rest are only skipped.
fn entries(s: &mut Scanner, cursor: &Cursor) -> Result<Shape> {
    let (mut first, mut legacy) = (true, true);
    let mut layout = Layout::default();
    while s.more(b'}', first)? {
        first = false;
        let plain = cursor.plain_entry(s);
        if legacy {
            layout.record(plain.as_ref());
        }
        if let Some((id, _)) = plain {
            legacy &= !is_reserved(&s.decode(&id)?);
            continue;
        }
        let key = s.key()?;
        let id = match s.decode(&key) {
            Ok(id) => id,
            Err(e) => {
                s.skip_value()?;
                s.skip_rest(b'}')?;
                return Ok(Shape::Refused(e));
            }
        };
        if legacy {
            legacy = is_cursor(s, cursor.field)? && !is_reserved(&id);
        } else {
            s.skip_value()?;
        }
    }
    Ok(if legacy && !first {
        Shape::Legacy(layout)
    } else {
        Shape::Other
    })
}

/// Whether a partition id is one of the per-partition form's keys, so that the state is
/// not in the legacy form.
fn is_reserved(id: &str) -> bool {
    id == "states" || id == "state"
}

/// Reads a value and tells whether it is `{"<cursor_field>": …}`: an object with that one
/// key. A key that does not decode is not `cursor_field`.
fn is_cursor(s: &mut Scanner, cursor_field: &str) -> Result<bool> {
    if !s.eat(b'{') {
        s.skip_value()?;
        return Ok(false);
    }
    let (mut keys, mut matches) = (0, true);
    while s.more(b'}', keys == 0)? {
        let key = s.key()?;
        matches &= decodes_to(s, &key, cursor_field);
        s.skip_value()?;
        keys += 1;
    }
    Ok(keys == 1 && matches)
}

/// Whether string `key` is `value`; it is not if it does not decode.
fn decodes_to(s: &Scanner, key: &Str, value: &str) -> bool {
    s.decode(key).is_ok_and(|key| key == value)
}

#[cfg(test)]
mod reference;

#[cfg(test)]
mod tests;
