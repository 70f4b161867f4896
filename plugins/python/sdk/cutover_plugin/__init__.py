"""The SDK for writing cutover migration plugins in Python.

A plugin is one connector's migration guide for one breaking version, built into a
WebAssembly component with componentize-py (`cutover plugin build`). This package hides the
contract's bindings: a plugin subclasses `Migration`, works on plain dicts and lists, and
ends with `WitWorld = export(MyMigration)`; the transforms real guides need (rename a stream
in catalog *and* state, mark date-time fields, move a config field, move a state to
per-partition cursors) are helpers in `catalog`, `state`, `schema`, `config` and `naming`.
They behave exactly as the Rust SDK's helpers of the same names, and a migration written
with them returns the same bytes as its Rust version.

Everything except the component glue (`guest`) runs on any Python 3.11+, so a plugin's
logic is unit tested natively with `python -m unittest`, then through the real sandbox by
`cutover plugin test`.

    from cutover_plugin import Manifest, Migration, export, state

    class Mine(Migration):
        def manifest(self):
            return Manifest(connector="airbyte/source-example", applies_to=">=1.0.0, <2.0.0",
                            produces="2.0.0", message="…", documentation_url="https://…")

        def migrate(self, connection):
            out = connection.into_outcome()
            state.rename_stream(out.state, "old_name", "new_name")
            return out

    WitWorld = export(Mine)
"""

import importlib.util

from . import catalog, config, discovered, jsontext, naming, schema, state
from .log import debug, info, warn
from .stateout import StateOut
from .types import (
    ClearStream, Connection, DeadlineAction, InvalidInput, Manifest, MigrationError, NeedsOperator, Outcome,
    Precondition, RawConnection, RawOutcome, RefreshSchema, RetestSource, ReviewField, StreamDescriptor,
    UnsupportedShape,
)

__all__ = [
    "Migration", "export", "catalog", "config", "jsontext", "naming", "schema", "state", "debug", "info", "warn",
    "StateOut", "ClearStream", "Connection", "DeadlineAction", "InvalidInput", "Manifest", "MigrationError",
    "NeedsOperator", "Outcome", "Precondition", "RawConnection", "RawOutcome", "RefreshSchema", "RetestSource",
    "ReviewField", "StreamDescriptor", "UnsupportedShape",
]


class Migration:
    """A migration for one breaking version of one connector. Subclass it and override
    `manifest` and `migrate` (or, for states too large for a DOM, `migrate_documents`)."""

    #: The real discovered catalog of the version the plugin produces (a
    #: `discovered.Discovered`, usually `discovered.target()`), if it has one: the migrated
    #: catalog is then conformed to it after `migrate`, so every stream that version knows
    #: leaves with its schema, sync modes, cursor and key.
    TARGET_CATALOG = None

    def manifest(self):
        """Describes the breaking change (a `Manifest`). Called whenever the host loads the plugin."""
        raise NotImplementedError("a Migration must define manifest()")

    def migrate(self, connection):
        """Migrates one parsed `Connection` into an `Outcome`, or raises `InvalidInput`,
        `UnsupportedShape` or `NeedsOperator`. Must be deterministic: same input, same bytes out."""
        raise NotImplementedError("a Migration must define migrate() or migrate_documents()")

    def migrate_documents(self, connection, state):
        """Migrates one connection given as JSON text (a `RawConnection`), writing the new
        state to `state` (a `StateOut`) and returning a `RawOutcome`. The default parses the
        documents and calls `migrate`. A plugin whose states can be very large overrides it
        and transforms the state text without a DOM, as `state.legacy_to_per_partition` does;
        it conforms the catalog itself, if it has a `TARGET_CATALOG`."""
        return RawOutcome.write(self.migrate_and_conform(connection.parse()), state)

    def migrate_and_conform(self, connection):
        """`migrate`, then the conforming to `TARGET_CATALOG`."""
        out = self.migrate(connection)
        if self.TARGET_CATALOG is not None:
            discovered.conform_outcome(out, self.TARGET_CATALOG)
        return out


def export(migration):
    """The component interface for `migration` (a `Migration` subclass): assign it to
    `WitWorld` at the end of the plugin's module, which is what componentize-py exports.
    Natively, where there are no component bindings, it is `None` and the module imports
    as plain Python for tests."""
    if importlib.util.find_spec("wit_world") is None:
        return None
    from .guest import component
    return component(migration)
