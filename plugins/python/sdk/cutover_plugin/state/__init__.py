"""Helpers over a connection's state: a list of `AirbyteStateMessage`s.

A message is `STREAM` (`{"stream": {"stream_descriptor", "stream_state"}}`), `GLOBAL`
(`{"global": {"shared_state", "stream_states": [{"stream_descriptor", "stream_state"}]}}`)
or `LEGACY` (`{"data": {"<stream>": state, …}}`; a message with no `type` is legacy).
The helpers find a stream's state in whichever form holds it and leave every other
stream's state untouched, byte for byte, exactly as the Rust SDK's helpers do (the parity
tests run both on the same states). A helper that finds nothing returns its `default`,
`None` unless given: pass `default=ABSENT` to tell a missing state from a JSON `null` one.
"""

from enum import Enum

from .partition import legacy_to_per_partition

__all__ = ["ABSENT", "Kind", "kind", "stream_state", "rename_stream", "replace_stream_state", "remove_stream", "legacy_to_per_partition"]


class _Absent:
    def __repr__(self):
        return "ABSENT"


#: What a helper returns, when asked to, for a stream no message holds.
ABSENT = _Absent()


class Kind(Enum):
    """The form of one state message."""
    STREAM = "STREAM"
    GLOBAL = "GLOBAL"
    LEGACY = "LEGACY"


def kind(message):
    """The form of `message`, or `None` if its `type` is a string Airbyte does not define.
    A missing (or non-string) `type` is legacy."""
    t = message.get("type") if isinstance(message, dict) else None
    if not isinstance(t, str) or t == "LEGACY":
        return Kind.LEGACY
    if t == "STREAM":
        return Kind.STREAM
    if t == "GLOBAL":
        return Kind.GLOBAL
    return None


def _entry_name(entry):
    descriptor = entry.get("stream_descriptor") if isinstance(entry, dict) else None
    name = descriptor.get("name") if isinstance(descriptor, dict) else None
    return name if isinstance(name, str) else None


def _stream_entries(message):
    k = kind(message)
    if k is Kind.STREAM:
        return [message["stream"]] if "stream" in message else []
    if k is Kind.GLOBAL:
        g = message.get("global")
        entries = g.get("stream_states") if isinstance(g, dict) else None
        return entries if isinstance(entries, list) else []
    return []


def _legacy_data(message):
    if kind(message) is Kind.LEGACY and isinstance(message, dict) and isinstance(message.get("data"), dict):
        return message["data"]
    return None


def stream_state(state, name, default=None):
    """The state of stream `name`, from whichever message holds it, or `default`."""
    for message in state:
        k = kind(message)
        if k is Kind.STREAM:
            if "stream" not in message:
                return default  # as the Rust helper: a STREAM message without `stream` ends the search
            s = message["stream"]
            if _entry_name(s) == name:
                return s.get("stream_state", default) if isinstance(s, dict) else default
        elif k is Kind.GLOBAL:
            g = message.get("global")
            entries = g.get("stream_states") if isinstance(g, dict) else None
            if not isinstance(entries, list):
                return default  # as the Rust helper: a GLOBAL message without stream_states ends the search
            for e in entries:
                if _entry_name(e) == name:
                    return e.get("stream_state", default) if isinstance(e, dict) else default
        elif k is Kind.LEGACY:
            data = message.get("data") if isinstance(message, dict) else None
            if isinstance(data, dict) and name in data:
                return data[name]
    return default


def rename_stream(state, old, new):
    """Renames stream `old` to `new` wherever the state names it. Returns whether any state
    held it."""
    found = False
    for message in state:
        for entry in _stream_entries(message):
            if _entry_name(entry) == old:
                entry["stream_descriptor"]["name"] = new
                found = True
        data = _legacy_data(message)
        if data is not None and old in data:
            # Rebuilt to keep the key where it was: order is part of the bytes promised.
            renamed = {}
            for k, v in data.items():
                renamed[new if k == old else k] = v
            data.clear()
            data.update(renamed)
            found = True
    return found


def replace_stream_state(state, name, new, default=None):
    """Replaces the state of stream `name` with `new`, wherever it is held. Returns the old
    state, or `default` (and changes nothing) if no message held it."""
    for message in state:
        for entry in _stream_entries(message):
            if _entry_name(entry) == name:
                old = entry.get("stream_state")
                entry["stream_state"] = new
                return old
        data = _legacy_data(message)
        if data is not None and name in data:
            old = data[name]
            data[name] = new
            return old
    return default


def remove_stream(state, name, default=None):
    """Removes the state of stream `name` (dropping a `STREAM` message that held only it).
    Returns the old state, or `default` if no message held it."""
    for i, message in enumerate(state):
        k = kind(message)
        if k is Kind.STREAM:
            s = message.get("stream")
            if _entry_name(s) == name:
                del state[i]
                return s.get("stream_state")
        elif k is Kind.GLOBAL:
            g = message.get("global")
            entries = g.get("stream_states") if isinstance(g, dict) else None
            if isinstance(entries, list):
                for j, e in enumerate(entries):
                    if _entry_name(e) == name:
                        del entries[j]
                        return e.get("stream_state")
        elif k is Kind.LEGACY:
            data = _legacy_data(message)
            if data is not None and name in data:
                return data.pop(name)
    return default
