"""The Python side of the SDK parity tests (plugins/sdk/tests/python_parity.rs).

Reads one call per line, `{"helper": "<module>.<function>", "args": [...]}`, runs the Python
SDK's helper and writes one line with what it returned and what it left of its mutable
arguments, in the shape the Rust test builds from the Rust helper: so the two can be
compared as text. A refusal is `{"error": "<kind>"}` (and, where the Rust helper may have
changed its argument before refusing, what it left). Run by the Rust test; not a unittest.
"""

import io
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from cutover_plugin import InvalidInput, MigrationError, NeedsOperator, UnsupportedShape  # noqa: E402
from cutover_plugin import catalog, config, jsontext, naming, schema, state  # noqa: E402

ABSENT = {"absent": True}


def option(value):
    return ABSENT if value is state.ABSENT else {"value": value}


def kind_of(k):
    return None if k is None else k.value


def type_changes(changes):
    return [schema.TypeChange(c["stream"], c["pointer"], (lambda new: lambda: jsontext.loads(jsontext.dumps(new)))(c["new"]))
            for c in changes]


def legacy(text, stream, partition_field, cursor_field):
    out = io.StringIO()
    moved = state.legacy_to_per_partition(text, stream, partition_field, cursor_field, out)
    return [moved, out.getvalue()]


HELPERS = {
    "naming.camel_to_snake": lambda s: naming.camel_to_snake(s),
    "naming.config_stream_names": lambda c, key, prefix: naming.config_stream_names(c, key, prefix),
    "catalog.rename_stream": lambda c, old, new: [catalog.rename_stream(c, old, new), c],
    "catalog.refresh_stream": lambda e, declared: [catalog.refresh_stream(e, declared), e],
    "catalog.incremental_streams": lambda c: [[d.name, d.namespace] for d in catalog.incremental_streams(c)],
    "catalog.check_known": lambda c, known: catalog.check_known(c, lambda n: n in known, lambda n: f"unknown {n}"),
    "config.move_field": lambda c, a, b: [config.move_field(c, a, b), c],
    "config.set_field": lambda c, at, v: [config.set_field(c, at, v), c],
    "config.remove_field": lambda c, at: [config.remove_field(c, at), c],
    "schema.mark_date_time": lambda s, t: [schema.mark_date_time(s, t), s],
    "schema.bare_typed": lambda s, t: schema.bare_typed(s, t),
    "schema.retype": lambda s, stream, changes: [schema.retype(s, stream, type_changes(changes)), s],
    "state.kind": lambda m: kind_of(state.kind(m)),
    "state.stream_state": lambda s, name: option(state.stream_state(s, name, default=state.ABSENT)),
    "state.rename_stream": lambda s, old, new: [state.rename_stream(s, old, new), s],
    "state.replace_stream_state": lambda s, name, new: [option(state.replace_stream_state(s, name, new, default=state.ABSENT)), s],
    "state.remove_stream": lambda s, name: [option(state.remove_stream(s, name, default=state.ABSENT)), s],
    "state.legacy_to_per_partition": legacy,
    "jsontext.dumps": lambda v: jsontext.dumps(v),
}

# Arguments a helper may have changed before it refused, to compare too.
MUTABLE_ON_ERROR = {"config.move_field": 0, "config.set_field": 0, "schema.retype": 0}


def main():
    for line in sys.stdin:
        call = jsontext.loads(line)
        name, args = call["helper"], call["args"]
        try:
            result = {"ok": HELPERS[name](*args)}
        except MigrationError as e:
            kinds = {InvalidInput: "InvalidInput", UnsupportedShape: "UnsupportedShape", NeedsOperator: "NeedsOperator"}
            result = {"error": kinds[type(e)]}
            if name in MUTABLE_ON_ERROR:
                result["left"] = args[MUTABLE_ON_ERROR[name]]
        sys.stdout.write(jsontext.dumps(result) + "\n")


if __name__ == "__main__":
    main()
