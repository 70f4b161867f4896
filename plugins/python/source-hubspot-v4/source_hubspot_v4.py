"""source-hubspot 4.0.0, from 3.x: the migration guide of the 4.0.0 breaking change as code.

The Python version of `plugins/source-hubspot-v4` (the same golden fixtures, and the same
bytes out on every connection the property tests generate).

4.0.0 (airbytehq/airbyte#35662) reads `deals_property_history` and
`companies_property_history` from the v3 CRM API (`/crm/v3/objects/{deals,companies}` with
`propertiesWithHistory`) instead of the v1/v2 endpoints. Diffing their schemas in
airbyte-source-hubspot 3.3.0 and 4.0.0 property by property gives exactly these type changes
(`TYPE_CHANGES`): `timestamp` from epoch milliseconds (a number) to a date-time string, and
`dealId` / `companyId` from number to string. The rest of the diff drops v1-only fields and
adds `sourceType` and `archived`; sync modes, cursor and primary key do not change.

State: both versions keep `{"timestamp": "<epoch milliseconds>"}` and parse it the same way,
so the state is kept byte for byte; a cursor 4.0.0 cannot parse is refused.

What this plugin does: retypes those properties in the configured json_schema of each of the
two streams the connection syncs; keeps every other stream and all state byte for byte. What
it leaves to the operator: refresh the schema and clear each of the two streams it syncs,
since the destination columns change type (and their primary key `timestamp` with them).
"""

from cutover_plugin import (
    ClearStream, InvalidInput, Manifest, Migration, NeedsOperator, RefreshSchema, StreamDescriptor, catalog, discovered,
    export, jsontext, state,
)
from cutover_plugin.schema import TypeChange, retype

#: The streams 4.0.0 changes (its `scopedImpact`).
SCOPED = ("deals_property_history", "companies_property_history")


def timestamp():
    return {"type": ["null", "string"], "format": "date-time", "airbyte_type": "timestamp_with_timezone"}


def string():
    return {"type": ["null", "string"]}


#: Every type change of 4.0.0, from the schemas of 3.3.0 and 4.0.0.
TYPE_CHANGES = (
    TypeChange("deals_property_history", "/properties/timestamp", timestamp),
    TypeChange("deals_property_history", "/properties/dealId", string),
    TypeChange("companies_property_history", "/properties/timestamp", timestamp),
    TypeChange("companies_property_history", "/properties/companyId", string),
)

#: The cursor of both streams.
CURSOR = "timestamp"

GUIDE = """\
## Upgrading to 4.0.0

This change is only breaking if you sync `deals_property_history` or \
`companies_property_history`.

4.0.0 reads both streams from HubSpot's v3 CRM API. Their `timestamp` becomes a date-time \
string (it was epoch milliseconds, a number) and `dealId` / `companyId` a string (it was a \
number). v1-only fields (`portalId`, `isDeleted`, `requestId`, `source`, `sourceVid`, …) are \
gone; `sourceType` and `archived` are new. Cursor and primary key stay the same.

cutover retypes `timestamp` and the id in the configured schema of each of the two streams the \
connection syncs. Their state (epoch milliseconds) is read by 4.0.0 as it is and is kept; \
every other stream and its state are left exactly as they were.

After applying:
1. Refresh the source schema.
2. Clear each of the two streams the connection syncs: their destination columns, primary key \
included, change type.
"""


class HubspotV4(Migration):
    #: 4.0.0's real catalog (the build carries tests/fixtures/source-hubspot/4.0.0/catalog.json,
    #: beside the target spec).
    TARGET_CATALOG = discovered.target()

    def manifest(self):
        return Manifest(
            connector="airbyte/source-hubspot",
            applies_to=">=3.0.0, <4.0.0",
            produces="4.0.0",
            message="This update brings extended schema with data type changes for the streams `Deals Property History` and `Companies Property History`. Users will need to refresh their schema and reset their streams after upgrading.",
            upgrade_deadline="2024-03-10",
            documentation_url="https://docs.airbyte.com/integrations/sources/hubspot-migrations#4.0.0",
            scoped_streams=list(SCOPED),
            guide=GUIDE,
        )

    def migrate(self, connection):
        for name in SCOPED:
            s = state.stream_state(connection.state, name, default=state.ABSENT)
            if s is not state.ABSENT:
                check_cursor(name, s)
        out = connection.into_outcome()
        retyped = []
        for name in SCOPED:
            entry = catalog.find(out.catalog, name)
            if entry is None:
                continue
            descriptor = catalog.descriptor(entry) or StreamDescriptor.named(name)
            stream = entry.get("stream")
            if not isinstance(stream, dict) or "json_schema" not in stream:
                raise InvalidInput(f"{name} has no stream.json_schema")
            retyped.append((descriptor, retype(stream["json_schema"], name, TYPE_CHANGES)))
        any_changed = False
        for stream, changed in retyped:
            if not changed:
                out.note(f"{stream.name}: its fields already have their 4.0.0 types; nothing to do")
                continue
            any_changed = True
            out.note(f"{stream.name}: retyped {'; '.join(changed)}")
            out.action(ClearStream(
                stream,
                f"{stream.name} now comes from the v3 CRM API: timestamp becomes a date-time string and the record id "
                "a string, so the destination columns (and the primary key) change type; clear the stream to re-sync "
                "it typed the new way",
            ))
        if any_changed:
            out.actions.insert(0, RefreshSchema(
                "4.0.0 drops the v1-only fields of deals_property_history and companies_property_history (portalId, "
                "isDeleted, sourceVid, …) and adds sourceType and archived"
            ))
        return out


def check_cursor(name, s):
    """3.x and 4.0.0 both read the cursor with pendulum's format `x`: epoch milliseconds, as
    a number or a string of digits; an empty string means "from start_date"."""
    if not isinstance(s, dict) or CURSOR not in s:
        raise NeedsOperator(
            f'the state of {name} is {jsontext.dumps(s)}, with no "{CURSOR}" cursor; clear the stream\'s state and retry'
        )
    cursor = s[CURSOR]
    if isinstance(cursor, bool):
        ok = False
    elif isinstance(cursor, int):
        ok = 0 <= cursor < 1 << 64
    elif isinstance(cursor, str):
        ok = cursor == "" or (cursor.isascii() and cursor.isdigit())
    else:
        ok = False
    if not ok:
        raise NeedsOperator(
            f"the state of {name} has cursor {CURSOR} = {jsontext.dumps(cursor)}, which is not epoch milliseconds as "
            "3.x writes and 4.0.0 reads it; clear the stream's state and retry"
        )


WitWorld = export(HubspotV4)
