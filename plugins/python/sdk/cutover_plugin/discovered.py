"""The streams a connector version really discovers, carried inside the plugin (the Rust
SDK's `discovered`, with the same results).

A connector's `breakingChanges` entry is written by hand, and a plugin that only follows it
can leave a stream that did change with its old schema; the host refuses a migrated catalog
that does not match what the new version discovers. So a plugin names the real catalog of
the version it produces as its `Migration.TARGET_CATALOG`, and every configured stream is
conformed to it after `migrate`: each stream that version knows gets its schema, supported
sync modes, cursor and primary key, the user's choices are kept where they remain valid
(as `catalog.refresh_stream`), and each stream that changed is noted. Streams the version
does not discover (those a config defines) are left alone.

A component cannot read files, so the build writes the catalog of the project's
`[tool.cutover] target-catalog` (or the `catalog.json` beside its `target-spec`) into a
module beside the plugin's, which `target()` reads::

    class Mine(Migration):
        TARGET_CATALOG = discovered.target()
"""

import copy
import importlib
import importlib.util

from . import catalog as _catalog
from . import jsontext
from .types import InvalidInput, UnsupportedShape

#: The fields of a stream its connector decides, which the version's catalog sets.
DISCOVERED_FIELDS = ("json_schema", "supported_sync_modes", "source_defined_cursor", "default_cursor_field",
                     "source_defined_primary_key")

#: The module the build writes (host/src/author/python.rs, TARGET_CATALOG_MODULE).
_MODULE = "_cutover_target_catalog"


class Discovered:
    """The discovered catalog (`AirbyteCatalog` JSON text) of one connector version."""

    def __init__(self, version, text):
        self.version = version
        try:
            parsed = jsontext.loads(text)
        except ValueError as e:
            raise UnsupportedShape(f"the plugin's {version} catalog is not an AirbyteCatalog: {e}") from None
        streams = parsed.get("streams") if isinstance(parsed, dict) else None
        if not isinstance(streams, list):
            raise UnsupportedShape(f"the plugin's {version} catalog is not an AirbyteCatalog: it has no streams")
        self._streams = {}
        for stream in streams:
            name = stream.get("name") if isinstance(stream, dict) else None
            if not isinstance(name, str):
                raise UnsupportedShape(f"a stream of the plugin's {version} catalog has no name")
            self._streams[name] = stream

    def stream(self, name):
        """The discovered stream `name` (a copy), or `None` if the version has none."""
        found = self._streams.get(name)
        return copy.deepcopy(found) if found is not None else None


def target():
    """The catalog the build carried for this plugin. Natively (tests run as plain Python)
    there is none and this is `None`; in a component built without one it is an error."""
    if importlib.util.find_spec(_MODULE) is None:
        if importlib.util.find_spec("wit_world") is not None:
            raise RuntimeError(
                "this plugin names a target catalog but its build carried none: set [tool.cutover] target-catalog, "
                "or keep a catalog.json beside the target-spec"
            )
        return None
    module = importlib.import_module(_MODULE)
    return Discovered(module.VERSION, module.CATALOG)


class Conformed:
    """What conforming changed in one configured stream."""

    def __init__(self, stream, fields, choices):
        self.stream = stream
        #: The discovered fields that differed from the version's.
        self.fields = fields
        #: The user's choices that had to change (`sync_mode`, `cursor_field`, `primary_key`).
        self.choices = choices


def _field(stream, name):
    """A discovered field, with the value Airbyte reads a missing one as."""
    if isinstance(stream, dict) and name in stream:
        return stream[name]
    if name == "source_defined_cursor":
        return False
    if name in ("default_cursor_field", "source_defined_primary_key"):
        return []
    return None


def conform(catalog, target):
    """Conforms every configured stream `target` knows to it; returns what changed."""
    changed = []
    for entry in _catalog.streams(catalog):
        stream = _catalog.descriptor(entry)
        if stream is None:
            raise InvalidInput("a configured stream has no stream.name")
        declared = target.stream(stream.name)
        if declared is None:
            continue
        current = entry.get("stream")
        fields = [f for f in DISCOVERED_FIELDS if not jsontext.equal(_field(current, f), _field(declared, f))]
        before = copy.deepcopy(entry)
        choices = _catalog.refresh_stream(entry, declared)
        if fields or choices or not jsontext.equal(entry, before):
            changed.append(Conformed(stream, fields, choices))
    return changed


def conform_outcome(outcome, target):
    """Conforms an outcome's catalog to `target` and notes each stream whose discovered
    fields or the user's choices changed."""
    changed = conform(outcome.catalog, target)
    for c in changed:
        what = []
        if c.fields:
            what.append(f"{', '.join(c.fields)} set as {target.version} discovers it")
        if c.choices:
            what.append(f"the configured {', '.join(c.choices)} changed to fit")
        if what:
            outcome.note(f"{c.stream.name}: {'; '.join(what)}")
    return changed
