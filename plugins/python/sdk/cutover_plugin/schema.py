"""Helpers over a stream's JSON Schema, behaving as the Rust SDK's."""

from dataclasses import dataclass
from typing import Callable

from . import jsontext
from .config import pointer
from .types import UnsupportedShape

__all__ = ["mark_date_time", "bare_typed", "is_bare", "TypeChange", "retype"]

_MISSING = object()


def mark_date_time(schema, airbyte_type):
    """Sets `airbyte_type` on every date-time field of `schema` (a string with
    `format: date-time`, nested objects and array items included) that does not already
    carry it. Returns how many fields changed."""
    if not isinstance(schema, dict):
        return 0
    changed = 0
    if _is_date_time(schema) and schema.get("airbyte_type") != airbyte_type:
        schema["airbyte_type"] = airbyte_type
        changed += 1
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for child in properties.values():
            changed += mark_date_time(child, airbyte_type)
    if "items" in schema:
        changed += mark_date_time(schema["items"], airbyte_type)
    for key in ("anyOf", "oneOf", "allOf"):
        alternatives = schema.get(key)
        if isinstance(alternatives, list):
            for alternative in alternatives:
                changed += mark_date_time(alternative, airbyte_type)
    return changed


def _is_date_time(schema):
    kind = schema.get("type")
    stringy = kind == "string" or (isinstance(kind, list) and "string" in kind)
    return stringy and schema.get("format") == "date-time"


def bare_typed(schema, type_name):
    """The top-level properties of `schema` (a stream's json_schema) declared by `type`
    alone, `type_name` or `["null", type_name]`, with no `format`, `airbyte_type` or other
    keyword: columns a database source may declare alike for different database types."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return []
    return [name for name, p in properties.items() if is_bare(p, type_name)]


def is_bare(schema, type_name):
    """Whether `schema` is declared by `type` alone, `type_name` or `["null", type_name]`
    (see `bare_typed`)."""
    return isinstance(schema, dict) and len(schema) == 1 and schema.get("type") in (type_name, ["null", type_name])


@dataclass(frozen=True)
class TypeChange:
    """A property whose type changes in a new connector version: the stream, the property's
    JSON Pointer in the stream's json_schema, and the schema keywords the new version gives
    it (merged over the old ones). `new` makes a fresh dict each time."""
    stream: str
    pointer: str
    new: Callable[[], dict]


def retype(schema, stream, changes):
    """Applies the type changes of `stream` to its json_schema; returns each change made, as
    `<pointer> from <old type> to <new type>`. A property already of the new type, or absent
    (not selected), is left alone, so a second run changes nothing."""
    made = []
    for change in changes:
        if change.stream != stream:
            continue
        node = pointer(schema, change.pointer, _MISSING)
        if node is _MISSING:
            continue
        if not isinstance(node, dict):
            raise UnsupportedShape(f"{stream} json_schema{change.pointer} is not a schema object")
        new = change.new()
        if all(k in node and jsontext.equal(node[k], v) for k, v in new.items()):
            continue
        old = jsontext.dumps(node["type"]) if "type" in node else "untyped"
        node.update(new)
        if "format" in new:
            target = f"{jsontext.dumps(new['type'])} ({jsontext.dumps(new['format'])})"
        else:
            target = jsontext.dumps(new.get("type"))
        made.append(f"{change.pointer} from {old} to {target}")
    return made
