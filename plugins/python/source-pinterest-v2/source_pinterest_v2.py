"""source-pinterest 2.0.0, from 1.x: the migration guide of the 2.0.0 breaking change as code.

The Python version of `plugins/source-pinterest-v2` (the same golden fixtures, and the same
bytes out on every connection the property tests generate).

2.0.0 moved the connector from the Python CDK to a low-code manifest (airbyte-cdk 0.86.3).
Seven incremental streams are now partitioned by ad account, or by the campaign, ad group or
ad under it, and keep one cursor per partition. Their `PerPartitionCursor` reads
`stream_state["states"]`, so the 1.x flat state (`{"updated_time": 1628867244}`,
`{"DATE": "2021-06-09"}`) makes the 2.0.0 connector fail with `KeyError: 'states'`. 1.x kept
one cursor for all accounts and never recorded the account ids, so the cursor cannot be
carried over to per-account partitions.

What this plugin does: replaces the flat state of exactly those seven streams with the empty
per-partition state 2.0.0 reads (`{"states": []}`: every partition starts from
`start_date`), keeps every other stream's state byte for byte, normalizes the custom report
windows 1.x defaults wrote as `[30]` into the integers the spec requires, and checks every
configured stream exists in 2.0.0 with its sync mode. What it leaves to the operator: clear
each of the seven streams the connection syncs incrementally, so the re-synced history does
not duplicate rows in the destination.
"""

from cutover_plugin import (
    ClearStream, InvalidInput, Manifest, Migration, NeedsOperator, Precondition, StreamDescriptor,
    UnsupportedShape, catalog, export, jsontext, state,
)

#: The streams whose state format changed (the connector's `scopedImpact` for 2.0.0).
SCOPED = (
    "ad_account_analytics", "ad_analytics", "ad_group_analytics", "ad_groups", "ads", "campaign_analytics",
    "campaigns",
)

#: The streams of 2.0.0 (an offline `discover` of airbyte-source-pinterest 2.0.0) and whether
#: each supports incremental sync. Custom reports (`custom_<name>`) come on top.
STREAMS = {
    "boards": False, "catalogs": False, "catalogs_feeds": False, "catalogs_product_groups": False,
    "ad_accounts": False, "board_sections": False, "board_pins": False, "board_section_pins": False,
    "audiences": False, "keywords": False, "conversion_tags": False, "customer_lists": False,
    "campaigns": True, "ad_groups": True, "ads": True, "user_account_analytics": True,
    "ad_account_analytics": True, "campaign_analytics": True, "ad_group_analytics": True, "ad_analytics": True,
    "campaign_analytics_report": True, "campaign_targeting_report": True, "advertiser_report": True,
    "advertiser_targeting_report": True, "ad_group_report": True, "ad_group_targeting_report": True,
    "pin_promotion_report": True, "pin_promotion_targeting_report": True, "product_group_report": True,
    "product_group_targeting_report": True, "keyword_report": True, "product_item_report": True,
}

#: Custom report fields the 1.x spec defaulted to `[30]` while typing them as integers.
WINDOW_FIELDS = ("click_window_days", "engagement_window_days", "view_window_days")

GUIDE = """\
## Upgrading to 2.0.0

2.0.0 moves source-pinterest to the low-code CDK. Seven incremental streams (ad_account_analytics, \
ad_analytics, ad_group_analytics, ad_groups, ads, campaign_analytics, campaigns) are now read per \
ad account (or per campaign, ad group or ad) and keep one cursor per partition. The 1.x state of \
those streams is one cursor for everything and does not say which accounts it covered, so it \
cannot be carried over: the 2.0.0 connector fails on it (`KeyError: 'states'`).

cutover replaces the state of those seven streams with an empty per-partition state, which 2.0.0 \
reads as "start every partition from start_date", and leaves every other stream's state exactly \
as it was. Custom report windows written as `[30]` become `30`.

After applying, clear each of the seven streams the connection syncs incrementally: they re-sync \
their history, which would otherwise duplicate rows in the destination.

Requires an Airbyte platform that resets single streams (0.50 or later).

Upgrade to 2.0.2 or later rather than 2.0.0 itself: 2.0.0 fails every built-in report stream \
(`'<' not supported between instances of 'DateTime' and 'str'`) when `start_date` lies more than \
913 days before the sync, a fault of the connector fixed in 2.0.2 (airbytehq/airbyte#39367). \
This migration is the same for both.
"""


class PinterestV2(Migration):
    def manifest(self):
        return Manifest(
            connector="airbyte/source-pinterest",
            applies_to=">=1.0.0, <2.0.0",
            produces="2.0.0",
            message="This release introduces updated format of state for incremental streams. Users will need to reset affected streams after upgrading. Please see migration guide for more details.",
            upgrade_deadline="2024-06-03",
            documentation_url="https://docs.airbyte.com/integrations/sources/pinterest-migrations#2.0.0",
            scoped_streams=list(SCOPED),
            preconditions=[Precondition("platform", ">=0.50.0")],
            guide=GUIDE,
        )

    def migrate(self, connection):
        check_catalog(connection.catalog)
        out = connection.into_outcome()
        normalize_windows(out)
        for name in SCOPED:
            old = state.stream_state(out.state, name, default=state.ABSENT)
            if old is state.ABSENT:
                continue
            if isinstance(old, dict) and "states" in old:
                continue  # already per-partition
            state.replace_stream_state(out.state, name, {"states": []})
            out.note(
                f"{name}: 1.x state {jsontext.dumps(old)} holds one cursor for every ad account; 2.0.0 keeps one per "
                "partition and cannot read it, so the stream restarts from start_date"
            )
        for name in SCOPED:
            if catalog.is_incremental(out.catalog, name):
                out.action(ClearStream(
                    StreamDescriptor.named(name),
                    "its state moves to per-partition cursors and restarts from start_date; clear it so the re-synced "
                    "history does not duplicate rows",
                ))
        return out


def check_catalog(configured):
    """Every configured stream must exist in 2.0.0 and support its sync mode."""
    for entry in catalog.streams(configured):
        d = catalog.descriptor(entry)
        if d is None:
            raise InvalidInput("a configured stream has no stream.name")
        if d.name in STREAMS:
            incremental = STREAMS[d.name]
        elif d.name.startswith("custom_"):
            incremental = True
        else:
            raise UnsupportedShape(
                f"stream {d.name} does not exist in source-pinterest 1.x or 2.0.0; remove it from the catalog "
                "(refresh the schema) and retry"
            )
        if entry.get("sync_mode") == "incremental" and not incremental:
            raise InvalidInput(f"stream {d.name} is synced incrementally but supports only full_refresh")


def normalize_windows(out):
    """`custom_reports[*].{click,engagement,view}_window_days`: `[30]` becomes `30`."""
    reports = out.config.get("custom_reports")
    if not isinstance(reports, list):
        return
    changed = []
    for i, report in enumerate(reports):
        for field in WINDOW_FIELDS:
            items = report.get(field) if isinstance(report, dict) else None
            if not isinstance(items, list):
                continue
            if len(items) == 1 and isinstance(items[0], int) and not isinstance(items[0], bool):
                report[field] = items[0]
                changed.append(f"/custom_reports/{i}/{field}")
            else:
                raise NeedsOperator(
                    f"/custom_reports/{i}/{field} is {jsontext.dumps(items)}, and 2.0.0 needs one of 0, 1, 7, 14, 30: "
                    "set it and retry"
                )
    if changed:
        out.note(f"config: {', '.join(changed)} from [n] to n, as the spec types them")


WitWorld = export(PinterestV2)
