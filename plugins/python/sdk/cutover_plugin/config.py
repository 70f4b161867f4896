"""Helpers over a source config, addressed by RFC 6901 JSON Pointers (`/credentials/client_id`).

Each behaves as the Rust SDK's helper of the same name, refusals included.
"""

import copy

from .jsontext import equal
from .types import NeedsOperator, UnsupportedShape

__all__ = ["pointer", "move_field", "remove_field", "set_field"]

_MISSING = object()


def _unescape(token):
    return token.replace("~1", "/").replace("~0", "~")


def pointer(document, at, default=None):
    """The value at JSON Pointer `at` (as serde_json's `Value::pointer` finds it), or `default`."""
    if at == "":
        return document
    if not at.startswith("/"):
        return default
    node = document
    for token in at.split("/")[1:]:
        token = _unescape(token)
        if isinstance(node, dict):
            if token not in node:
                return default
            node = node[token]
        elif isinstance(node, list):
            if not _is_index(token) or int(token) >= len(node):
                return default
            node = node[int(token)]
        else:
            return default
    return node


def _is_index(token):
    return token.isdigit() and token.isascii() and (token == "0" or not token.startswith("0"))


def move_field(config, source, target):
    """Moves the value at `source` to `target`, creating the objects on the way. Returns
    whether there was anything to move. Refuses (and changes nothing) when `target` is
    already set to something else, since only the operator can say which value wins."""
    value = pointer(config, source, _MISSING)
    if value is _MISSING:
        return False
    value = copy.deepcopy(value)
    existing = pointer(config, target, _MISSING)
    if existing is not _MISSING and not equal(existing, value):
        raise NeedsOperator(f"config has both {source} and {target} with different values; keep one and retry")
    remove_field(config, source)
    set_field(config, target, value)
    return True


def remove_field(config, at):
    """Removes the value at `at`, returning it (or `None`)."""
    i = at.rfind("/")
    if i < 0:
        return None
    parent = pointer(config, at[:i], _MISSING)
    key = _unescape(at[i + 1:])
    if isinstance(parent, dict) and key in parent:
        return parent.pop(key)
    return None


def set_field(config, at, value):
    """Sets the value at `at`, creating missing objects on the way."""
    tokens = [_unescape(t) for t in at.split("/")[1:]]
    if not tokens:
        raise UnsupportedShape(f"cannot set the whole config through pointer {_debug(at)}")
    node = config
    for token in tokens[:-1]:
        if not isinstance(node, dict):
            raise UnsupportedShape(f"{at}: {_debug(token)} is inside a non-object")
        node = node.setdefault(token, {})
    if not isinstance(node, dict):
        raise UnsupportedShape(f"{at}: parent is not an object")
    node[tokens[-1]] = value


def _debug(text):
    """A string quoted as Rust's `{:?}` quotes it (for the plain strings pointers are)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return f'"{escaped}"'
