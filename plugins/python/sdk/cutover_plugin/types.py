"""The plain Python side of the contract: what a plugin receives, returns and describes.

These mirror the Rust SDK's types field for field, so a migration reads the same in both
languages and the component glue (`guest`) converts them to the contract's records in one
place. Documents are plain Python values (dicts keep their keys in order, as the host's do).
"""

from dataclasses import dataclass, field
from enum import Enum
from typing import List, Optional

from . import jsontext

__all__ = [
    "DeadlineAction", "Precondition", "Manifest", "Connection", "RawConnection", "Outcome", "RawOutcome",
    "StreamDescriptor", "RefreshSchema", "ClearStream", "ReviewField", "RetestSource",
    "MigrationError", "InvalidInput", "UnsupportedShape", "NeedsOperator",
]


class DeadlineAction(Enum):
    """What the platform does when the upgrade deadline passes."""
    DISABLE = "disable"
    AUTO_UPGRADE = "auto-upgrade"


@dataclass(frozen=True)
class Precondition:
    """A requirement checked by the host before the step runs, e.g. `platform` `>=0.50.0`."""
    subject: str
    requirement: str


@dataclass
class Manifest:
    """The breaking change this plugin migrates: one `breakingChanges` entry of the
    connector's metadata, plus the guide."""
    connector: str
    applies_to: str
    produces: str
    message: str
    documentation_url: str
    upgrade_deadline: Optional[str] = None
    deadline_action: Optional[DeadlineAction] = None
    scoped_streams: List[str] = field(default_factory=list)
    preconditions: List[Precondition] = field(default_factory=list)
    guide: str = ""


class MigrationError(Exception):
    """Why a migration refused a connection. Raise one of its three kinds; the host fails
    only that connection and shows the message."""
    kind = "migration error"

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __str__(self):
        return f"{self.kind}: {self.message}"

    def __eq__(self, other):
        return type(self) is type(other) and self.message == other.message

    def __hash__(self):
        return hash((type(self), self.message))


class InvalidInput(MigrationError):
    """A document is not what the version it claims says it should be."""
    kind = "invalid input"


class UnsupportedShape(MigrationError):
    """The input is valid but has a shape this plugin does not know how to migrate."""
    kind = "unsupported shape"


class NeedsOperator(MigrationError):
    """Only the operator can decide; the message says what."""
    kind = "needs the operator"


@dataclass(frozen=True, order=True)
class StreamDescriptor:
    """A stream, as Airbyte's `StreamDescriptor` names it."""
    name: str
    namespace: Optional[str] = None

    @classmethod
    def named(cls, name):
        return cls(name)

    @classmethod
    def from_json(cls, value):
        """Reads `{"name": …, "namespace": …}`; `None` unless `name` is a string."""
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            return None
        namespace = value.get("namespace")
        return cls(value["name"], namespace if isinstance(namespace, str) else None)


@dataclass(frozen=True)
class RefreshSchema:
    """Refresh the source schema in the platform."""
    reason: str


@dataclass(frozen=True)
class ClearStream:
    """Clear (reset) one stream so it syncs from scratch."""
    stream: StreamDescriptor
    reason: str


@dataclass(frozen=True)
class ReviewField:
    """Look at one config field (an RFC 6901 JSON Pointer)."""
    pointer: str
    reason: str


@dataclass(frozen=True)
class RetestSource:
    """Re-test the source configuration against the service."""
    reason: str


@dataclass
class Connection:
    """One connection, parsed: `config` (a dict), `catalog` (a `ConfiguredAirbyteCatalog`
    dict) and `state` (a list of `AirbyteStateMessage` dicts)."""
    id: str
    connector: str
    version: str
    config: dict
    catalog: dict
    state: list

    @classmethod
    def parse(cls, id, connector, version, config, catalog, state):
        """Parses the documents as the host passes them, checking the outer shapes
        (config an object, catalog an object with a `streams` array, state an array)."""
        def parse(what, text):
            try:
                return jsontext.loads(text)
            except ValueError as e:
                raise InvalidInput(f"{what} is not valid JSON: {e}") from None

        config = parse("config", config)
        if not isinstance(config, dict):
            raise InvalidInput("config must be a JSON object")
        catalog = parse("catalog", catalog)
        if not isinstance(catalog, dict) or not isinstance(catalog.get("streams"), list):
            raise InvalidInput('catalog must be a ConfiguredAirbyteCatalog: an object with a "streams" array')
        state = parse("state", state)
        if state is None:
            state = []
        elif not isinstance(state, list):
            raise InvalidInput("state must be a JSON array of AirbyteStateMessage")
        return cls(id, connector, version, config, catalog, state)

    def into_outcome(self):
        """Starts an outcome that leaves every document as it is."""
        return Outcome(self.config, self.catalog, self.state)


@dataclass
class RawConnection:
    """A connection as the host passes it: the documents still as JSON text. Plugins whose
    states can be very large override `Migration.migrate_documents` to transform the text
    without building a DOM of it."""
    id: str
    connector: str
    version: str
    config: str
    catalog: str
    state: str

    def parse(self):
        return Connection.parse(self.id, self.connector, self.version, self.config, self.catalog, self.state)


@dataclass
class Outcome:
    """The migrated connection and what is left to do."""
    config: dict
    catalog: dict
    state: list
    actions: list = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    def action(self, action):
        """Adds an action for the operator (once)."""
        if action not in self.actions:
            self.actions.append(action)

    def note(self, note):
        """Adds a remark for the plan."""
        self.notes.append(str(note))

    def documents(self):
        """The three documents as compact JSON text, in the order config, catalog, state."""
        return jsontext.dumps(self.config), jsontext.dumps(self.catalog), jsontext.dumps(self.state)


@dataclass
class RawOutcome:
    """A migrated connection with config and catalog as JSON text; its state has been
    written to the `StateOut` the migration was given."""
    config: str
    catalog: str
    actions: list = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    @classmethod
    def write(cls, outcome, state):
        """Writes a parsed outcome's state to `state` and keeps the rest as text."""
        config, catalog = jsontext.dumps(outcome.config), jsontext.dumps(outcome.catalog)
        state.write(jsontext.dumps(outcome.state))
        return cls(config, catalog, list(outcome.actions), list(outcome.notes))
