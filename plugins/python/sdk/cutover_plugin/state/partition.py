"""The legacy → per-partition state migration, on the state's JSON text.

Connectors that move a stream from one cursor per partition kept as a flat object
(`{"<partition id>": {"<cursor>": v}, …}`) to the CDK's per-partition cursor state
(`{"states": [{"partition": {…}, "cursor": {…}}, …]}`) carry states with one entry per
partition: millions for some accounts. In an interpreter a DOM of such a state costs far
more than its text, so this reads the text. A first pass checks the whole document and
finds the stream's state; a second writes the output, copying every other message and each
cursor value as written.

A state as the host passes it (compact, as serde_json writes it) takes the fast path: the
stream's state is checked and rewritten by two regular expressions, entirely in the
interpreter's C code. Any other text (whitespace, escapes, cursors that are objects) is read
entry by entry. Either way the output, and what is refused, are the Rust SDK's
(`cutover_plugin::state::legacy_to_per_partition`): the parity tests run both on generated
states. The one difference: nesting deeper than Python's recursion limit is refused, where
the Rust scanner has no limit (a state the host passes is never nested that deep: the host
reads every document with serde_json, which stops at 128 levels).
"""

import itertools
import json
import re
from json.decoder import scanstring

from .. import jsontext
from ..types import InvalidInput, UnsupportedShape

__all__ = ["legacy_to_per_partition"]

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SURROGATE = re.compile("[\ud800-\udfff]")
_RESERVED = ("states", "state")


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


# Skipping a value accepts what serde_json accepts when it skips one: any number, even one
# beyond a double, and strings whose escapes are well formed, even a lone surrogate.
_SKIP = json.JSONDecoder(parse_constant=_refuse_constant).scan_once


def legacy_to_per_partition(state, stream, partition_field, cursor_field, out):
    """Writes `state` to `out` (anything with `write(str)`, such as the `StateOut` a
    migration is given) with the state of stream `stream` (a `STREAM` message) moved from
    the legacy flat form to the per-partition form, naming each partition by
    `partition_field` and keeping each cursor value as it is; returns whether it moved.
    Each partition gets `"parent_slice": {}`, which is what the CDK's runtime partitions
    carry (the CDK's own `LegacyToPerPartitionStateMigration` omits it,
    airbytehq/airbyte#38028, so its migrated partitions never match).

    The state is written unchanged when the stream has no state or its state is not in the
    legacy form: already per-partition, empty, or a value that is not a one-key object
    holding `cursor_field`. When it moves, the stream's message becomes
    `{"type":"STREAM","stream":{"stream_descriptor":…,"stream_state":…}}` and the other
    messages are written without the whitespace between them. The whole state is checked
    before anything is written; a state that is not a JSON array of state messages raises
    `InvalidInput`."""
    try:
        found = _find_legacy(state, stream, cursor_field)
    except RecursionError:
        raise InvalidInput("state is not a JSON array of state messages: nested too deeply") from None
    if found is None:
        out.write(state)
        return False
    spans, target = found
    try:
        out.write(_migrated(state, spans, target, partition_field, cursor_field))
    except (OSError, ValueError) as e:
        raise UnsupportedShape(f"writing the migrated state: {e}") from None
    return True


class _Scanner:
    """A position in JSON text, moved forward by reading or skipping what is there."""

    __slots__ = ("text", "pos")

    def __init__(self, text, pos=0):
        self.text = text
        self.pos = pos

    def error(self, what, at=None):
        position = self.pos if at is None else at
        return InvalidInput(f"state is not a JSON array of state messages: {what} at character {position}")

    def token_start(self):
        self.pos = _WHITESPACE.match(self.text, self.pos).end()
        return self.pos

    def eat(self, char):
        if self.text.startswith(char, self.token_start()):
            self.pos += 1
            return True
        return False

    def expect(self, char, what):
        if not self.eat(char):
            raise self.error(f"expected {what}")

    def null(self):
        if self.text.startswith("null", self.token_start()):
            self.pos += 4
            return True
        return False

    def more(self, close, first):
        """Whether another element of the open array or object follows (reading the comma
        before it), or its end (reading that)."""
        if self.eat(close):
            return False
        if not first:
            self.expect(",", f"',' or '{close}'")
        return True

    def string(self):
        """A string: its value, and whether it decodes (a lone surrogate escape does not)."""
        start = self.token_start()
        if not self.text.startswith('"', start):
            raise self.error("expected a string")
        try:
            value, self.pos = scanstring(self.text, start + 1, True)
        except json.JSONDecodeError as e:
            raise self.error(e.msg, e.pos) from None
        return value, _SURROGATE.search(value) is None

    def decoded(self):
        """A string that must decode."""
        start = self.token_start()
        value, ok = self.string()
        if not ok:
            raise self.error("a lone surrogate in a string", start)
        return value

    def key(self):
        key = self.string()
        self.expect(":", "':'")
        return key

    def skip_value(self):
        """Reads a value and returns its span (and the value)."""
        start = self.token_start()
        try:
            value, self.pos = _SKIP(self.text, start)
        except StopIteration:
            raise self.error("expected a value") from None
        except json.JSONDecodeError as e:
            raise self.error(e.msg, e.pos) from None
        except ValueError as e:
            raise self.error(str(e), start) from None
        return start, self.pos, value

    def skip_rest(self, close):
        """Skips the rest of an open array (`]`) or object (`}`), to its end."""
        while self.more(close, False):
            if close == "}":
                self.key()
            self.skip_value()

    def end(self):
        if self.token_start() != len(self.text):
            raise self.error("trailing characters")


def _read_struct(s, what, names, field):
    """Reads a struct as serde reads a derived one: an object in which each of `names` may
    appear once and other keys are skipped, or an array of the fields in order (no more than
    there are names). `field(s, i)` reads the value of `names[i]`."""
    if s.eat("{"):
        close = "}"
    elif s.eat("["):
        close = "]"
    else:
        raise s.error(f"expected a {what} (an object)")
    seen = [False] * len(names)
    first = True
    while s.more(close, first):
        if close == "}":
            key = s.decoded()
            s.expect(":", "':'")
            index = names.index(key) if key in names else None
        else:
            index = seen.index(False) if False in seen else None
            if index is None:
                raise s.error(f"a {what} given as an array has at most {len(names)} fields")
        if index is None:
            s.skip_value()
        elif seen[index]:
            raise s.error(f"duplicate field `{names[index]}` in a {what}")
        else:
            seen[index] = True
            field(s, index)
        first = False


# Shapes of a stream state.
_OTHER = "other"


class _Legacy:
    """A legacy state: where its object lies and its partitions: the pieces the fast path
    split it into (`[gap, id, value, gap, …]`), or `(id, start, end)` of each cursor."""

    __slots__ = ("start", "end", "pieces", "entries")

    def __init__(self, start, end, pieces=None, entries=None):
        self.start, self.end, self.pieces, self.entries = start, end, pieces, entries


class _Refused:
    __slots__ = ("error",)

    def __init__(self, error):
        self.error = error


class _Plain:
    """The fast path: a legacy state written compactly, every partition id and the cursor
    field unescaped and every cursor value a number, a plain string, a boolean or null.

    Such an object ends at its first `}}` (no plain value holds a quote, so a `}}` inside a
    string leaves a piece that is not an entry). Splitting its inside by the entry pattern
    gives `['', id, cursor, value, ',', id, cursor, value, …, '']`: it is legacy and plain
    exactly when every piece between entries is one comma and every cursor is the cursor
    field. Both steps, and writing the partitions, run in C; the pattern is compiled when
    the module is imported, so a plugin's component carries it compiled."""

    ENTRY = re.compile(
        r'"([^"\\\x00-\x1f]*)":\{"([^"\\\x00-\x1f]*)":'
        r'(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|"[^"\\\x00-\x1f]*"|true|false|null)\}'
    )

    @classmethod
    def match(cls, text, start, cursor_field):
        """The end of a plain legacy object at `start` and its pieces, or `None`."""
        if jsontext.string(cursor_field) != f'"{cursor_field}"':
            return None
        close = text.find("}}", start)
        if close < 0:
            return None
        end = close + 2
        pieces = cls.ENTRY.split(text[start + 1:end - 1])
        gaps = pieces[0::4]
        between = gaps[1:-1]
        if len(gaps) < 2 or gaps[0] or gaps[-1] or between.count(",") != len(between):
            return None
        cursors = pieces[2::4]
        if cursors.count(cursor_field) != len(cursors):
            return None
        ids = pieces[1::4]
        if "states" in ids or "state" in ids:
            return None
        return end, pieces


def _classify(s, cursor_field):
    """Reads a stream state and tells whether it is in the legacy form, the way the Rust
    SDK does (and serde_json's visitor did before it)."""
    start = s.token_start()
    if s.text.startswith("{", start):
        plain = _Plain.match(s.text, start, cursor_field)
        if plain is not None:
            s.pos, pieces = plain
            return _Legacy(start, s.pos, pieces)
        s.pos += 1
        return _entries(s, start, cursor_field)
    if s.eat("["):
        if not s.more("]", True):
            return _OTHER
        refused = s.error("a stream state that is a non-empty array")
        s.skip_value()
        s.skip_rest("]")
        return _Refused(refused)
    _, _, value = s.skip_value()
    if isinstance(value, str) and _SURROGATE.search(value):
        return _Refused(s.error("a lone surrogate in a string", start))
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return _Refused(s.error("number out of range", start))
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            float(value)
        except OverflowError:
            return _Refused(s.error("number out of range", start))
    return _OTHER


def _entries(s, start, cursor_field):
    """The entries of a state object whose `{` has been read, to its end."""
    first, legacy, entries = True, True, []
    while s.more("}", first):
        first = False
        key_at = s.token_start()
        key, ok = s.key()
        if not ok:
            s.skip_value()
            s.skip_rest("}")
            return _Refused(s.error("a lone surrogate in a key", key_at))
        if legacy:
            value_at = s.token_start()
            legacy = _is_cursor(s, cursor_field) and key not in _RESERVED
            entries.append((key, value_at, s.pos))
        else:
            s.skip_value()
    if legacy and not first:
        return _Legacy(start, s.pos, entries=entries)
    return _OTHER


def _is_cursor(s, cursor_field):
    """Reads a value and tells whether it is `{"<cursor_field>": …}`: an object with that one
    key. A key that does not decode is not `cursor_field`."""
    if not s.eat("{"):
        s.skip_value()
        return False
    keys, matches = 0, True
    while s.more("}", keys == 0):
        key, ok = s.key()
        matches = matches and ok and key == cursor_field
        s.skip_value()
        keys += 1
    return keys == 1 and matches


class _Target:
    __slots__ = ("index", "descriptor", "legacy")

    def __init__(self, index, descriptor, legacy):
        self.index, self.descriptor, self.legacy = index, descriptor, legacy


def _find_legacy(text, stream, cursor_field):
    """Checks the whole text and finds the legacy state to move: the state of the first
    `STREAM` message for `stream` that has one (not missing or null), if that state is in
    the legacy form. Messages up to it must be well-formed messages, those after it only
    JSON. Returns the span of every message and the target, or `None`."""
    s = _Scanner(text)
    s.expect("[", "an array of state messages")
    spans, target, searching, first = [], None, True, True
    while s.more("]", first):
        first = False
        if not searching:
            start, end, _ = s.skip_value()
            spans.append((start, end))
            continue
        start = s.token_start()
        stream_type, part = _read_message(s, cursor_field)
        spans.append((start, s.pos))
        if not stream_type or part is None:
            continue
        descriptor, shape = part
        if not _descriptor_name_is(text, descriptor[0], stream) or shape is None:
            continue
        searching = False
        if isinstance(shape, _Legacy):
            target = _Target(len(spans) - 1, descriptor, shape)
        elif isinstance(shape, _Refused):
            raise shape.error
    s.end()
    return None if target is None else (spans, target)


def _read_message(s, cursor_field):
    """A state message's `type` (whether it is `"STREAM"`) and `stream` (its descriptor's
    span and its state's shape, `None` when missing or null); other fields are skipped."""
    found = {}

    def field(s, i):
        if s.null():
            return
        if i == 0:
            found["type"] = s.decoded()
        else:
            found["stream"] = _read_stream(s, cursor_field)

    _read_struct(s, "state message", ("type", "stream"), field)
    return found.get("type") == "STREAM", found.get("stream")


def _read_stream(s, cursor_field):
    found = {}

    def field(s, i):
        if i == 0:
            found["descriptor"] = s.skip_value()[:2]
        else:
            found["state"] = None if s.null() else _classify(s, cursor_field)

    _read_struct(s, "stream", ("stream_descriptor", "stream_state"), field)
    if "descriptor" not in found:
        raise s.error("missing field `stream_descriptor` in a stream")
    return found["descriptor"], found.get("state")


def _descriptor_name_is(text, start, stream):
    """Whether the stream descriptor at `start` is a struct with string `name` `stream`."""
    s = _Scanner(text, start)
    found = {}

    def field(s, _):
        found["name"] = s.decoded()

    _read_struct(s, "stream_descriptor", ("name",), field)
    if "name" not in found:
        raise s.error("missing field `name` in a stream_descriptor")
    return found["name"] == stream


def _migrated(text, spans, target, partition_field, cursor_field):
    """The state with the target's message rewritten and every other copied as written."""
    pieces = ["["]
    for i, (start, end) in enumerate(spans):
        if i:
            pieces.append(",")
        if i != target.index:
            pieces.append(text[start:end])
            continue
        d_start, d_end = target.descriptor
        pieces.append('{"type":"STREAM","stream":{"stream_descriptor":')
        pieces.append(text[d_start:d_end])
        pieces.append(',"stream_state":{"states":[')
        pieces.append(_partitions(text, target.legacy, partition_field, cursor_field))
        pieces.append("]}}}")
    pieces.append("]")
    return "".join(pieces)


def _partitions(text, legacy, partition_field, cursor_field):
    """One partition per entry, in order, duplicates included:
    `{"partition":{"<field>":"<id>","parent_slice":{}},"cursor":<value>}`."""
    head = '{"partition":{' + jsontext.string(partition_field) + ":"
    tail = ',"parent_slice":{}},"cursor":'
    if legacy.pieces is not None:
        # [gap, id, cursor, value, gap, …, gap] becomes, joined,
        # head id tail{"cursor": value }},head id …: the gaps carry what lies between.
        pieces = legacy.pieces
        count = len(pieces) // 4
        pieces[0::4] = [head + '"'] + ["}}," + head + '"'] * (count - 1) + ["}}"]
        pieces[1::4] = map(str.__add__, pieces[1::4], itertools.repeat('"' + tail + '{"'))
        pieces[2::4] = map(str.__add__, pieces[2::4], itertools.repeat('":'))
        return "".join(pieces)
    return ",".join(
        head + jsontext.string(key) + tail + text[start:end] + "}" for key, start, end in legacy.entries
    )


def _escape(literal):
    """`literal` as a literal part of an `re.sub` template."""
    return literal.replace("\\", "\\\\")
