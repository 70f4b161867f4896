"""The migration natively: `PYTHONPATH=../sdk python3 -m unittest discover -s tests`."""

import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from cutover_plugin import ClearStream, Connection, NeedsOperator, RefreshSchema  # noqa: E402
from source_hubspot_v4 import HubspotV4  # noqa: E402


def connection(streams, states=()):
    return Connection("c", "airbyte/source-hubspot", "3.3.0", {}, {"streams": streams}, list(states))


def entry(name):
    schema = {"properties": {"timestamp": {"type": ["null", "number"]}, "dealId": {"type": ["null", "number"]}}}
    return {"stream": {"name": name, "json_schema": schema}, "sync_mode": "incremental", "destination_sync_mode": "append"}


def cursor(name, value):
    return {"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": {"timestamp": value}}}


class HubspotV4Test(unittest.TestCase):
    def test_retypes_and_asks_for_a_refresh_and_a_clear(self):
        out = HubspotV4().migrate(connection([entry("deals_property_history")], [cursor("deals_property_history", "1700000000000")]))
        props = out.catalog["streams"][0]["stream"]["json_schema"]["properties"]
        self.assertEqual(props["timestamp"]["format"], "date-time")
        self.assertEqual(props["dealId"], {"type": ["null", "string"]})
        self.assertIsInstance(out.actions[0], RefreshSchema)
        self.assertIsInstance(out.actions[1], ClearStream)
        again = HubspotV4().migrate(connection(out.catalog["streams"]))
        self.assertEqual(again.actions, [])

    def test_refuses_a_cursor_4_0_0_cannot_read(self):
        for bad in ["2024-01-01", 1.5, -1, None]:
            with self.assertRaises(NeedsOperator, msg=repr(bad)):
                HubspotV4().migrate(connection([], [cursor("companies_property_history", bad)]))


if __name__ == "__main__":
    unittest.main()
