"""Helpers over a `ConfiguredAirbyteCatalog`: `{"streams": [ConfiguredAirbyteStream, …]}`,
where each entry is `{"stream": AirbyteStream, "sync_mode", "cursor_field",
"destination_sync_mode", "primary_key"}`.

Every helper changes only what it names and keeps the user's choices (sync mode, cursor,
primary key, destination sync mode) as they were. Each behaves as the Rust SDK's helper of
the same name (the parity tests run both on the same catalogs).
"""

import copy

from .jsontext import equal
from .types import InvalidInput, StreamDescriptor, UnsupportedShape

__all__ = [
    "streams", "descriptor", "find", "is_incremental", "incremental_streams", "rename_stream",
    "refresh_stream", "for_each_schema", "check_known",
]


def streams(catalog):
    """The configured streams, or an empty list when the catalog has none."""
    entries = catalog.get("streams") if isinstance(catalog, dict) else None
    return entries if isinstance(entries, list) else []


def descriptor(entry):
    """The descriptor of a configured stream entry, or `None`."""
    return StreamDescriptor.from_json(entry.get("stream")) if isinstance(entry, dict) else None


def _name(entry):
    stream = entry.get("stream") if isinstance(entry, dict) else None
    name = stream.get("name") if isinstance(stream, dict) else None
    return name if isinstance(name, str) else None


def find(catalog, name):
    """The configured entry for `name` (the dict itself, to change in place), if the
    connection syncs it."""
    for entry in streams(catalog):
        if _name(entry) == name:
            return entry
    return None


def is_incremental(catalog, name):
    """Whether the connection syncs `name` incrementally."""
    entry = find(catalog, name)
    return entry is not None and entry.get("sync_mode") == "incremental"


def incremental_streams(catalog):
    """The descriptors of every stream synced incrementally."""
    found = []
    for entry in streams(catalog):
        if isinstance(entry, dict) and entry.get("sync_mode") == "incremental":
            d = descriptor(entry)
            if d is not None:
                found.append(d)
    return found


def rename_stream(catalog, old, new):
    """Renames a stream in the catalog, keeping the user's sync mode, cursor and primary
    key. Returns whether the connection syncs the stream."""
    entry = find(catalog, old)
    if entry is None:
        return False
    entry["stream"]["name"] = new
    return True


def refresh_stream(entry, declared):
    """Replaces what the source declares about a stream (its `AirbyteStream`) with
    `declared`, the new version's, keeping the user's configuration of it. A sync mode the
    new version no longer supports falls back to `full_refresh`; the user's cursor or
    primary key yields to a source-defined one, as the platform does on a schema refresh.
    Returns the names of the user's choices that had to change."""
    changed = []
    stream = copy.deepcopy(declared)
    old = entry.get("stream")
    if isinstance(old, dict) and "namespace" in old and isinstance(stream, dict):
        stream["namespace"] = copy.deepcopy(old["namespace"])
    declared_modes = stream.get("supported_sync_modes") if isinstance(stream, dict) else None
    supported = [m for m in declared_modes if isinstance(m, str)] if isinstance(declared_modes, list) else []
    mode = entry.get("sync_mode")
    if isinstance(mode, str) and supported and mode not in supported:
        entry["sync_mode"] = "full_refresh"
        changed.append("sync_mode")
    if isinstance(stream, dict):
        default = stream.get("default_cursor_field")
        if stream.get("source_defined_cursor") is True and "default_cursor_field" in stream \
                and "cursor_field" in entry and not equal(entry["cursor_field"], default):
            entry["cursor_field"] = copy.deepcopy(default)
            changed.append("cursor_field")
        if "source_defined_primary_key" in stream and "primary_key" in entry \
                and not equal(entry["primary_key"], stream["source_defined_primary_key"]):
            entry["primary_key"] = copy.deepcopy(stream["source_defined_primary_key"])
            changed.append("primary_key")
    entry["stream"] = stream
    return changed


def for_each_schema(catalog, f):
    """Calls `f(name, json_schema)` for every configured stream that has a schema."""
    for entry in streams(catalog):
        stream = entry.get("stream") if isinstance(entry, dict) else None
        if not isinstance(stream, dict):
            continue
        name = stream.get("name")
        if "json_schema" in stream:
            f(name if isinstance(name, str) else "", stream["json_schema"])


def check_known(catalog, known, unknown):
    """Refuses a catalog with a stream the target version does not have (`known(name)` says
    which it has), with the message `unknown(name)` gives for that stream."""
    for entry in streams(catalog):
        d = descriptor(entry)
        if d is None:
            raise InvalidInput("a configured stream has no stream.name")
        if not known(d.name):
            raise UnsupportedShape(unknown(d.name))
