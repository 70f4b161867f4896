"""The migration natively: `PYTHONPATH=../sdk python3 -m unittest discover -s tests`."""

import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from cutover_plugin import ClearStream, Connection, InvalidInput, NeedsOperator, UnsupportedShape, state  # noqa: E402
from source_pinterest_v2 import SCOPED, STREAMS, PinterestV2  # noqa: E402


def connection(streams, states=(), config=None):
    return Connection("c", "airbyte/source-pinterest", "1.3.3", config or {}, {"streams": streams}, list(states))


def entry(name, mode):
    return {"stream": {"name": name, "json_schema": {}}, "sync_mode": mode, "destination_sync_mode": "append"}


def stream_state(name, s):
    return {"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": s}}


class PinterestV2Test(unittest.TestCase):
    def test_scoped_state_becomes_per_partition_and_the_rest_is_kept(self):
        states = [stream_state("campaigns", {"updated_time": 1628867244}), stream_state("ad_analytics", {"DATE": "2021-06-09"}),
                  stream_state("user_account_analytics", {"date": "2023-10-01"})]
        out = PinterestV2().migrate(connection(
            [entry("campaigns", "incremental"), entry("ad_analytics", "full_refresh"), entry("user_account_analytics", "incremental")],
            states))
        self.assertEqual(state.stream_state(out.state, "campaigns"), {"states": []})
        self.assertEqual(out.state[2], stream_state("user_account_analytics", {"date": "2023-10-01"}))
        self.assertEqual([a.stream.name for a in out.actions if isinstance(a, ClearStream)], ["campaigns"])
        self.assertIn('campaigns: 1.x state {"updated_time":1628867244} holds one cursor', out.notes[1])

    def test_migrating_its_own_output_changes_nothing(self):
        once = PinterestV2().migrate(connection([entry("ads", "incremental")], [stream_state("ads", {"updated_time": 1})]))
        twice = PinterestV2().migrate(connection([entry("ads", "incremental")], once.state))
        self.assertEqual(once.state, twice.state)
        self.assertEqual(twice.notes, [])

    def test_window_days_lists_become_integers(self):
        out = PinterestV2().migrate(connection([], config={"custom_reports": [{"name": "r", "engagement_window_days": [30]}]}))
        self.assertEqual(out.config["custom_reports"][0]["engagement_window_days"], 30)
        with self.assertRaises(NeedsOperator):
            PinterestV2().migrate(connection([], config={"custom_reports": [{"name": "r", "view_window_days": [1, 7]}]}))

    def test_unknown_streams_are_refused(self):
        with self.assertRaises(UnsupportedShape):
            PinterestV2().migrate(connection([entry("pins_of_the_future", "full_refresh")]))
        with self.assertRaises(InvalidInput):
            PinterestV2().migrate(connection([entry("boards", "incremental")]))

    def test_scope_matches_the_manifest(self):
        self.assertEqual(PinterestV2().manifest().scoped_streams, list(SCOPED))
        self.assertTrue(all(STREAMS[s] for s in SCOPED))


if __name__ == "__main__":
    unittest.main()
