"""The state benchmark's plugin in Python (`tests/guests/partition-state` is the Rust one):
the CDK's legacy → per-partition state migration of one stream (`campaigns`, partitioned by
ad account `id`, cursor `updated_time`).

With `"mode": "text"` in the config (the default) it uses the SDK's
`state.legacy_to_per_partition` on the state's text; with `"mode": "dom"` it does the same
on parsed documents, the way a plugin written against the parsed `Connection` would.
"""

from cutover_plugin import Manifest, Migration, RawOutcome, export, jsontext, state

STREAM = "campaigns"


class PartitionState(Migration):
    def manifest(self):
        return Manifest(
            connector="test/source-partitioned",
            applies_to=">=1.0.0, <2.0.0",
            produces="2.0.0",
            message="Incremental streams keep one cursor per partition.",
            documentation_url="https://example.invalid/partitioned-migrations#2.0.0",
            scoped_streams=[STREAM],
        )

    def migrate(self, connection):
        out = connection.into_outcome()
        old = state.stream_state(out.state, STREAM)
        if not isinstance(old, dict) or "states" in old:
            return out
        states = [{"partition": {"id": id, "parent_slice": {}}, "cursor": cursor} for id, cursor in old.items()]
        state.replace_stream_state(out.state, STREAM, {"states": states})
        return out

    def migrate_documents(self, connection, out):
        config = jsontext.loads(connection.config)
        if isinstance(config, dict) and config.get("mode") == "dom":
            return RawOutcome.write(self.migrate(connection.parse()), out)
        state.legacy_to_per_partition(connection.state, STREAM, "id", "updated_time", out)
        return RawOutcome(connection.config, connection.catalog)


WitWorld = export(PartitionState)
