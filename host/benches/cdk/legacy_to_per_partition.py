"""CDK side of the state benchmark.

Times airbyte-cdk's own LegacyToPerPartitionStateMigration.migrate() on a
generated legacy (pre per-partition) state of one stream, so the numbers can
be set beside the Rust/WebAssembly path fed with byte-identical input.

The migration object is built the way the CDK builds it while reading a
low-code manifest: the manifest goes through ManifestReferenceResolver and
ManifestComponentTransformer, the stream is parsed into the CDK's
DeclarativeStream model, and ModelToComponentFactory creates the
LegacyToPerPartitionStateMigration for that stream (the same call the CDK's
_migrate_state makes). The CDK code is run unmodified.

Usage: legacy_to_per_partition.py N [N ...]
Prints one line per N:
  cdk N=<N> bytes=<input bytes> ms=<median ms> cdk=<airbyte-cdk version>
"""

import json
import statistics
import sys
import time
from importlib.metadata import version

from airbyte_cdk.sources.declarative.migrations.legacy_to_per_partition_state_migration import (
    LegacyToPerPartitionStateMigration,
)
from airbyte_cdk.sources.declarative.models.declarative_component_schema import (
    DeclarativeStream as DeclarativeStreamModel,
)
from airbyte_cdk.sources.declarative.models.declarative_component_schema import (
    LegacyToPerPartitionStateMigration as LegacyToPerPartitionStateMigrationModel,
)
from airbyte_cdk.sources.declarative.parsers.manifest_component_transformer import (
    ManifestComponentTransformer,
)
from airbyte_cdk.sources.declarative.parsers.manifest_reference_resolver import (
    ManifestReferenceResolver,
)
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import (
    ModelToComponentFactory,
)

CDK_VERSION = version("airbyte-cdk")

# A minimal low-code manifest: a parent stream `ad_accounts` and a child stream
# `ads` partitioned by it (parent_key `id`, partition_field `id`), incremental
# on `updated_time` (epoch seconds) with a DatetimeBasedCursor, and a
# LegacyToPerPartitionStateMigration declared on the child stream.
MANIFEST = {
    "version": "6.0.0",
    "type": "DeclarativeSource",
    "check": {"type": "CheckStream", "stream_names": ["ad_accounts"]},
    "definitions": {
        "requester": {
            "type": "HttpRequester",
            "url_base": "https://api.example.invalid/v1",
            "http_method": "GET",
        },
        "selector": {
            "type": "RecordSelector",
            "extractor": {"type": "DpathExtractor", "field_path": ["data"]},
        },
        "schema": {
            "type": "InlineSchemaLoader",
            "schema": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "updated_time": {"type": "integer"},
                },
            },
        },
        "ad_accounts_stream": {
            "type": "DeclarativeStream",
            "name": "ad_accounts",
            "primary_key": ["id"],
            "schema_loader": {"$ref": "#/definitions/schema"},
            "retriever": {
                "type": "SimpleRetriever",
                "requester": {"$ref": "#/definitions/requester", "path": "/ad_accounts"},
                "record_selector": {"$ref": "#/definitions/selector"},
            },
        },
        "ads_stream": {
            "type": "DeclarativeStream",
            "name": "ads",
            "primary_key": ["id"],
            "schema_loader": {"$ref": "#/definitions/schema"},
            "retriever": {
                "type": "SimpleRetriever",
                "requester": {
                    "$ref": "#/definitions/requester",
                    "path": "/ad_accounts/{{ stream_partition.id }}/ads",
                },
                "record_selector": {"$ref": "#/definitions/selector"},
                "partition_router": {
                    "type": "SubstreamPartitionRouter",
                    "parent_stream_configs": [
                        {
                            "type": "ParentStreamConfig",
                            "stream": {"$ref": "#/definitions/ad_accounts_stream"},
                            "parent_key": "id",
                            "partition_field": "id",
                        }
                    ],
                },
            },
            "incremental_sync": {
                "type": "DatetimeBasedCursor",
                "cursor_field": "updated_time",
                "datetime_format": "%s",
                "cursor_datetime_formats": ["%s"],
                "start_datetime": "2021-01-01T00:00:00Z",
            },
            "state_migrations": [{"type": "LegacyToPerPartitionStateMigration"}],
        },
    },
    "streams": [
        {"$ref": "#/definitions/ad_accounts_stream"},
        {"$ref": "#/definitions/ads_stream"},
    ],
    "spec": {
        "type": "Spec",
        "connection_specification": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {},
        },
    },
}


def validate_against_cdk_schema(manifest: dict) -> None:
    """Check the manifest against the CDK's declarative component schema, as its source does."""
    try:
        from airbyte_cdk.sources.declarative.concurrent_declarative_source import (
            get_declarative_component_schema,
            validate_manifest,
        )
    except ImportError:  # other 7.x layouts: the model parse below still checks the stream
        return
    validate_manifest(manifest, get_declarative_component_schema())


def build_migration() -> LegacyToPerPartitionStateMigration:
    resolved = ManifestReferenceResolver().preprocess_manifest(json.loads(json.dumps(MANIFEST)))
    propagated = ManifestComponentTransformer().propagate_types_and_parameters("", resolved, {})
    validate_against_cdk_schema(propagated)
    ads = next(s for s in propagated["streams"] if s["name"] == "ads")
    stream_model = DeclarativeStreamModel.parse_obj(ads)
    config: dict = {}
    factory = ModelToComponentFactory()
    migrations = [
        factory._create_component_from_model(m, config, declarative_stream=stream_model)
        for m in stream_model.state_migrations
    ]
    assert len(migrations) == 1, migrations
    migration = migrations[0]
    assert isinstance(migration, LegacyToPerPartitionStateMigration), type(migration)
    return migration


def legacy_state(n: int) -> dict:
    return {str(549755885175 + i): {"updated_time": 1628867244 + i} for i in range(n)}


def bench(migration: LegacyToPerPartitionStateMigration, n: int) -> str:
    state = legacy_state(n)
    nbytes = len(json.dumps(state, separators=(",", ":")))
    assert migration.should_migrate(state), f"should_migrate is False for N={n}"
    runs = 5 if n <= 100000 else 3
    times = []
    out = None
    for _ in range(runs):
        out = None
        t0 = time.perf_counter()
        out = migration.migrate(state)
        times.append(time.perf_counter() - t0)
    states = out["states"]
    assert len(states) == n, (len(states), n)
    if n:
        first = states[0]
        assert first == {
            "partition": {"id": "549755885175"},
            "cursor": {"updated_time": 1628867244},
        }, first
    ms = statistics.median(times) * 1000.0
    # The same with the state as JSON text on both ends, as cutover's side is measured:
    # parse, migrate, serialize.
    text = json.dumps(state, separators=(",", ":"))
    json_times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        json.dumps(migration.migrate(json.loads(text)), separators=(",", ":"))
        json_times.append(time.perf_counter() - t0)
    json_ms = statistics.median(json_times) * 1000.0
    return f"cdk N={n} bytes={nbytes} ms={ms:.1f} json_ms={json_ms:.1f} cdk={CDK_VERSION}"


def main(argv: list) -> int:
    if not argv:
        print("usage: legacy_to_per_partition.py N [N ...]", file=sys.stderr)
        return 2
    counts = [int(a) for a in argv]
    migration = build_migration()
    for n in counts:
        print(bench(migration, n), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
