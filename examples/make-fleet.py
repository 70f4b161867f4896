#!/usr/bin/env python3
"""Writes examples/fleet/connections/*.json from the real source-pinterest catalogs in
tests/fixtures (an offline discover of the 1.3.3 connector). Run it after regenerating
those fixtures; the connection documents it writes are committed.

The 0.x connection is the 1.3.3 catalog with the 1.0.0 changes undone (report streams
named advertizer_*, no airbyte_type on date-time fields): the 0.x packages are not on PyPI.
"""
import copy
import json
import pathlib

root = pathlib.Path(__file__).resolve().parent
fixtures = root.parent / "tests" / "fixtures" / "source-pinterest"
out = root / "fleet" / "connections"
catalog_133 = json.loads((fixtures / "1.3.3" / "catalog.json").read_text())["streams"]

CREDENTIALS = {"auth_method": "oauth2.0", "client_id": "1484823", "client_secret": "****", "refresh_token": "****"}
CUSTOM_REPORT = {
    "name": "vip_campaigns", "level": "CAMPAIGN", "granularity": "DAY",
    "columns": ["SPEND_IN_DOLLAR", "IMPRESSION_1", "TOTAL_CLICKTHROUGH"],
    "click_window_days": 30, "engagement_window_days": 30, "view_window_days": 30,
    "conversion_report_time": "TIME_OF_AD_ACTION", "attribution_types": ["INDIVIDUAL", "HOUSEHOLD"],
}


def configured(stream, incremental=True):
    """A ConfiguredAirbyteStream as the platform configures it: incremental where supported."""
    inc = incremental and "incremental" in stream["supported_sync_modes"]
    pk = stream.get("source_defined_primary_key", [])
    entry = {"stream": stream, "sync_mode": "incremental" if inc else "full_refresh"}
    if inc:
        entry["cursor_field"] = stream["default_cursor_field"]
    entry["destination_sync_mode"] = ("append_dedup" if pk else "append") if inc else "overwrite"
    entry["primary_key"] = pk
    return entry


def cursor_state(entry, i):
    """A plausible 1.x cursor for an incremental stream."""
    cursor = entry["cursor_field"][0]
    if cursor == "updated_time":
        value = 1714521600 + 3600 * i
    else:
        value = f"2024-05-{1 + i % 28:02d}"
    return {"type": "STREAM", "stream": {"stream_descriptor": {"name": entry["stream"]["name"]}, "stream_state": {cursor: value}}}


def states(catalog):
    return [cursor_state(e, i) for i, e in enumerate(catalog["streams"]) if e["sync_mode"] == "incremental"]


def write(doc):
    (out / f"{doc['id']}.json").write_text(json.dumps(doc, indent=2) + "\n")


def undo_1_0_0(stream):
    s = copy.deepcopy(stream)
    s["name"] = s["name"].replace("advertiser_", "advertizer_")

    def strip(node):
        if isinstance(node, dict):
            if node.get("airbyte_type") == "timestamp_without_timezone":
                del node["airbyte_type"]
            for v in node.values():
                strip(v)
        elif isinstance(node, list):
            for v in node:
                strip(v)

    strip(s["json_schema"])
    return s


by_name = {s["name"]: s for s in catalog_133}

# 1.3.3, every stream (33 with the custom report), incremental where supported, state for each.
full = {"streams": [configured(s) for s in catalog_133]}
write({
    "id": "pinterest-ads-eu", "name": "Pinterest Ads EU → warehouse",
    "connector": "airbyte/source-pinterest", "version": "1.3.3", "pin": None,
    "config": {"start_date": "2023-01-01", "status": ["ACTIVE", "PAUSED"], "credentials": CREDENTIALS, "custom_reports": [CUSTOM_REPORT]},
    "catalog": full, "state": states(full),
})

# 0.8.2: the legacy report names, no airbyte_type; custom report windows as the 0.x UI wrote them.
legacy_names = ["advertiser_report", "advertiser_targeting_report", "boards", "board_pins", "campaigns", "ad_account_analytics", "ad_accounts"]
legacy = {"streams": [configured(undo_1_0_0(by_name[n])) for n in legacy_names]}
legacy_report = dict(CUSTOM_REPORT, engagement_window_days=[30], view_window_days=[30])
write({
    "id": "pinterest-legacy-us", "name": "Pinterest US (still on 0.x)",
    "connector": "airbyte/source-pinterest", "version": "0.8.2", "pin": None,
    "config": {"start_date": "2022-06-01", "credentials": CREDENTIALS, "custom_reports": [legacy_report]},
    "catalog": legacy, "state": states(legacy),
})

# 1.2.0, pinned by its owner.
pinned = {"streams": [configured(by_name[n]) for n in ["campaigns", "ads", "ad_analytics"]]}
write({
    "id": "pinterest-brand-pinned", "name": "Pinterest brand team",
    "connector": "airbyte/source-pinterest", "version": "1.2.0",
    "pin": {"origin": "user", "reason": "quarter-end reporting freeze until 2024-07-01"},
    "config": {"start_date": "2023-06-01", "credentials": CREDENTIALS},
    "catalog": pinned, "state": states(pinned),
})

# 1.1.0, syncing none of the streams 2.0.0 scopes: a breaking upgrade that does not affect it.
organic = {"streams": [configured(by_name[n]) for n in ["boards", "board_pins", "user_account_analytics"]]}
write({
    "id": "pinterest-organic", "name": "Pinterest organic content",
    "connector": "airbyte/source-pinterest", "version": "1.1.0", "pin": None,
    "config": {"start_date": "2024-01-01", "credentials": CREDENTIALS},
    "catalog": organic, "state": states(organic),
})

# Already on 2.0.0, with per-partition state.
current = {"streams": [configured(by_name[n]) for n in ["campaigns", "ad_account_analytics"]]}
write({
    "id": "pinterest-apac", "name": "Pinterest APAC (migrated)",
    "connector": "airbyte/source-pinterest", "version": "2.0.0", "pin": None,
    "config": {"start_date": "2024-01-01", "credentials": CREDENTIALS},
    "catalog": current,
    "state": [
        {"type": "STREAM", "stream": {"stream_descriptor": {"name": "campaigns"}, "stream_state": {"states": [
            {"partition": {"id": "549755885175", "parent_slice": {}}, "cursor": {"updated_time": 1716163200}}]}}},
        {"type": "STREAM", "stream": {"stream_descriptor": {"name": "ad_account_analytics"}, "stream_state": {"states": [
            {"partition": {"id": "549755885175", "parent_slice": {}}, "cursor": {"DATE": "2024-05-20"}}]}}},
    ],
})

# A connector with no plugins: a minor upgrade, automatic.
write({
    "id": "github-platform", "name": "GitHub platform repos",
    "connector": "airbyte/source-github", "version": "1.5.7", "pin": None,
    "config": {"credentials": {"option_title": "PAT Credentials", "personal_access_token": "****"},
               "repositories": ["airbytehq/airbyte"], "start_date": "2024-01-01T00:00:00Z"},
    "catalog": {"streams": [{
        "stream": {"name": "issues", "json_schema": {"type": "object", "properties": {"id": {"type": "integer"},
                   "updated_at": {"type": ["null", "string"], "format": "date-time"}}},
                   "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": True,
                   "default_cursor_field": ["updated_at"], "source_defined_primary_key": [["id"]]},
        "sync_mode": "incremental", "cursor_field": ["updated_at"], "destination_sync_mode": "append_dedup", "primary_key": [["id"]]}]},
    "state": [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "issues"},
               "stream_state": {"airbytehq/airbyte": {"updated_at": "2024-05-20T10:00:00Z"}}}}],
})
print(f"wrote {len(list(out.glob('*.json')))} connections to {out}")
