//! source-facebook-marketing 2.0.0, from 1.x: the migration guide of the 2.0.0 breaking change as code.
//!
//! What 2.0.0 changed (airbyte-source-facebook-marketing 1.4.2 → 2.0.0 on PyPI; the Python code
//! is the same, the package moved to facebook-business 19.0.0, Graph API v19):
//! - `schemas/ads_insights.json`, the schema of every `ads_insights*` stream and the base of every
//!   custom insights stream, drops `age_targeting`, `gender_targeting`, `labels`, `location`,
//!   `estimated_ad_recall_rate`, `estimated_ad_recall_rate_lower_bound`,
//!   `estimated_ad_recall_rate_upper_bound`, `estimated_ad_recallers_lower_bound` and
//!   `estimated_ad_recallers_upper_bound`, and gains `conversion_lead_rate` and
//!   `cost_per_conversion_lead`;
//! - the custom insights `fields` enum (AdsInsights.Field) loses `quality_score_ectr`,
//!   `quality_score_ecvr` and `quality_score_organic`, so a config naming them no longer
//!   validates;
//! - Facebook serves insights for the last 37 months only: a stream cleared now re-reads at most
//!   that far back (the connector moves an older `start_date` forward with a warning).
//!
//! The config migrations the connector ships in 1.x minors run here too, as its
//! `config_migrations.py` does them, so that a config last saved by an older 1.x validates
//! against the 2.0.0 spec: `account_id` (1.3.0) becomes `account_ids: [account_id]`, and
//! `include_deleted: true` (1.4.0) becomes `ad_statuses`/`adset_statuses`/`campaign_statuses`
//! holding every status. Like the connector, the old keys stay where they are (the spec allows
//! additional properties and 2.0.0 ignores them).
//!
//! What this plugin does by code: those config migrations; removes the three `quality_score_*`
//! fields from custom insights; patches the `json_schema` of every configured insights stream
//! (built-in and custom) to what 2.0.0 discovers; keeps every state message byte for byte.
//! What it leaves to the operator: retest the source, refresh the schema, clear the scoped
//! streams the connection syncs into an existing table, review custom insights fields 2.0.0 no
//! longer declares, and (where provable from the state) review a `start_date` older than the
//! 37 months a cleared stream can get back.

use cutover_plugin::discovered::Discovered;
use cutover_plugin::{
    Action, Connection, Error, Manifest, Migration, Outcome, Result, StreamDescriptor, Value,
    catalog, json, state,
};
use facebook_marketing_streams::{CONNECTOR, INSIGHTS, custom_insights};

/// The streams the connector's `scopedImpact` lists for 2.0.0.
pub const SCOPED: &[&str] = &[
    "ads_insights",
    "ads_insights_age_and_gender",
    "ads_insights_action_type",
    "ads_insights_country",
    "ads_insights_platform_and_device",
    "ads_insights_region",
    "ads_insights_dma",
    "ads_insights_action_product_id",
];

/// Properties `ads_insights.json` loses in 2.0.0.
pub const REMOVED_PROPERTIES: &[&str] = &[
    "age_targeting",
    "estimated_ad_recall_rate",
    "estimated_ad_recall_rate_lower_bound",
    "estimated_ad_recall_rate_upper_bound",
    "estimated_ad_recallers_lower_bound",
    "estimated_ad_recallers_upper_bound",
    "gender_targeting",
    "labels",
    "location",
];

/// Properties `ads_insights.json` gains in 2.0.0, each with the property 2.0.0 puts it after.
/// A custom insights stream gets them only if its `fields` ask for them, which 1.x refused.
pub const ADDED_PROPERTIES: &[(&str, &str)] = &[
    ("conversion_lead_rate", "clicks"),
    ("cost_per_conversion_lead", "cost_per_conversion"),
];

/// Custom insights fields the 2.0.0 spec no longer accepts.
pub const REFUSED_FIELDS: &[&str] = &[
    "quality_score_ectr",
    "quality_score_ecvr",
    "quality_score_organic",
];

/// Every value of the 2.0.0 spec's status filter enums (facebook-business 19.0.0), which is what
/// `MigrateIncludeDeletedToStatusFilters` writes for `include_deleted: true`.
pub const AD_STATUSES: &[&str] = &[
    "ACTIVE",
    "ADSET_PAUSED",
    "ARCHIVED",
    "CAMPAIGN_PAUSED",
    "DELETED",
    "DISAPPROVED",
    "IN_PROCESS",
    "PAUSED",
    "PENDING_BILLING_INFO",
    "PENDING_REVIEW",
    "PREAPPROVED",
    "WITH_ISSUES",
];
pub const ADSET_STATUSES: &[&str] = &[
    "ACTIVE",
    "ARCHIVED",
    "CAMPAIGN_PAUSED",
    "DELETED",
    "IN_PROCESS",
    "PAUSED",
    "WITH_ISSUES",
];
pub const CAMPAIGN_STATUSES: &[&str] = &[
    "ACTIVE",
    "ARCHIVED",
    "DELETED",
    "IN_PROCESS",
    "PAUSED",
    "WITH_ISSUES",
];

/// Facebook's insights retention, in months (`DATA_RETENTION_PERIOD` in the connector's utils.py).
const RETENTION_MONTHS: i64 = 37;

pub struct FacebookMarketingV2;

impl Migration for FacebookMarketingV2 {
    fn manifest() -> Manifest {
        Manifest {
            connector: CONNECTOR.into(),
            applies_to: ">=1.0.0, <2.0.0".into(),
            produces: "2.0.0".into(),
            message: "All Ads-Insights-* streams now have updated schemas. Users will need to retest source configuration, refresh the source schema and reset affected streams after upgrading. Please pay attention that data older than 37 months will become unavailable due to FaceBook limitations. For more information [visit](https://docs.airbyte.com/integrations/sources/facebook-marketing-migrations)".into(),
            upgrade_deadline: Some("2024-03-17".into()),
            deadline_action: None,
            documentation_url: "https://docs.airbyte.com/integrations/sources/facebook-marketing-migrations#2.0.0".into(),
            scoped_streams: SCOPED.iter().map(|s| (*s).to_owned()).collect(),
            preconditions: Vec::new(),
            guide: GUIDE.into(),
        }
    }

    /// Every built-in stream leaves as 2.0.0 discovers it; see
    /// [`facebook_marketing_streams::migrate_and_conform`].
    fn migrate_and_conform(connection: Connection) -> Result<Outcome> {
        facebook_marketing_streams::migrate_and_conform::<Self>(connection, &CATALOG)
    }

    fn migrate(connection: Connection) -> Result<Outcome> {
        let customs = custom_insights(&connection)?;
        let mut out = connection.into_outcome();
        let config_changed = migrate_config(&mut out)?;

        let mut patched = Vec::new();
        for entry in catalog::streams_mut(&mut out.catalog) {
            let Some(d) = catalog::descriptor(entry) else {
                continue;
            };
            let builtin = INSIGHTS.contains(&d.name.as_str());
            if !builtin && !customs.contains(&d.name) {
                continue;
            }
            let Some(props) = entry
                .pointer_mut("/stream/json_schema/properties")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            let mut changed = false;
            for p in REMOVED_PROPERTIES {
                changed |= props.shift_remove(*p).is_some();
            }
            if builtin {
                for (p, after) in ADDED_PROPERTIES {
                    if props.contains_key(*p) {
                        continue;
                    }
                    let at = props
                        .keys()
                        .position(|k| k == after)
                        .map_or(props.len(), |i| i + 1);
                    props.shift_insert(at, (*p).to_owned(), json!({"type": ["null", "number"]}));
                    changed = true;
                }
            }
            if changed {
                patched.push(d.name);
            }
        }
        if !patched.is_empty() {
            out.note(format!(
                "json_schema of {} patched to 2.0.0's ads_insights.json: {} removed, conversion_lead_rate and cost_per_conversion_lead added to the built-in streams",
                patched.join(", "),
                REMOVED_PROPERTIES.join(", ")
            ));
        }

        let synced_scoped: Vec<&str> = SCOPED
            .iter()
            .copied()
            .filter(|s| catalog::find(&out.catalog, s).is_some())
            .collect();
        if config_changed || !synced_scoped.is_empty() {
            out.action(Action::RetestSource {
                reason: if config_changed {
                    "the config was migrated to the 2.0.0 spec; test it against Facebook (Graph API v19) before the first sync".into()
                } else {
                    "2.0.0 moves to Graph API v19; the migration guide asks to retest the source before syncing".into()
                },
            });
        }
        if !patched.is_empty() {
            out.action(Action::RefreshSchema {
                reason: "2.0.0 changes the insights schema: nine fields removed, conversion_lead_rate and cost_per_conversion_lead added".into(),
            });
        }
        let mut cleared = Vec::new();
        for name in &synced_scoped {
            let entry = catalog::find(&out.catalog, name).expect("listed above");
            if catalog::rewrites_table(entry) {
                continue;
            }
            cleared.push(*name);
            out.action(Action::ClearStream {
                stream: StreamDescriptor::named(name),
                reason: "its insights schema changed in 2.0.0 and the migration guide asks to reset it; back up its destination table first, since Facebook returns only the last 37 months".into(),
            });
        }
        if !cleared.is_empty() {
            retention_review(&mut out, &cleared);
        }
        Ok(out)
    }
}

/// The config migrations of `config_migrations.py` plus the custom insights fields 2.0.0 refuses.
/// Returns whether the config changed.
fn migrate_config(out: &mut Outcome) -> Result<bool> {
    let mut changed = false;
    let config = out
        .config
        .as_object_mut()
        .expect("Connection::parse checks the config is an object");

    // MigrateAccountIdToArray (1.3.0): `account_id` in config and `account_ids` not.
    if let Some(id) = config.get("account_id").cloned()
        && !config.contains_key("account_ids")
    {
        let Value::String(id) = id else {
            return Err(Error::InvalidInput(format!(
                "/account_id is {id}, not the ad account id string 1.x stored"
            )));
        };
        config.insert("account_ids".into(), json!([id]));
        out.notes.push(format!("config: account_id {id:?} copied to account_ids, as the connector's MigrateAccountIdToArray does"));
        changed = true;
    }
    if config
        .get("account_ids")
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty())
    {
        return Err(Error::InvalidInput("config has no account_ids (nor an account_id to migrate); 2.0.0 requires at least one ad account id".into()));
    }

    // MigrateIncludeDeletedToStatusFilters (1.4.0): unless ad_statuses is set, a truthy
    // include_deleted becomes the three status filters, each holding every status.
    let statuses_set = config.get("ad_statuses").is_some_and(truthy);
    if !statuses_set && config.get("include_deleted").is_some_and(truthy) {
        for (key, all) in [
            ("ad_statuses", AD_STATUSES),
            ("adset_statuses", ADSET_STATUSES),
            ("campaign_statuses", CAMPAIGN_STATUSES),
        ] {
            config.insert(key.into(), json!(all));
        }
        out.notes.push("config: include_deleted: true became ad_statuses, adset_statuses and campaign_statuses with every status, as the connector's MigrateIncludeDeletedToStatusFilters does".into());
        changed = true;
    }

    // Custom insights fields.
    if let Some(insights) = config
        .get_mut("custom_insights")
        .and_then(Value::as_array_mut)
    {
        for (i, insight) in insights.iter_mut().enumerate() {
            let Some(fields) = insight.get_mut("fields").and_then(Value::as_array_mut) else {
                continue;
            };
            let before = fields.len();
            let dropped: Vec<String> = fields
                .iter()
                .filter_map(Value::as_str)
                .filter(|f| REFUSED_FIELDS.contains(f))
                .map(str::to_owned)
                .collect();
            fields.retain(|f| !f.as_str().is_some_and(|f| REFUSED_FIELDS.contains(&f)));
            let pointer = format!("/custom_insights/{i}/fields");
            if fields.is_empty() && before > 0 {
                return Err(Error::NeedsOperator(format!(
                    "{pointer} holds only {}, which 2.0.0 no longer accepts, and an empty list would fetch every field: choose the fields this report needs and retry",
                    dropped.join(", ")
                )));
            }
            if !dropped.is_empty() {
                changed = true;
                out.actions.push(Action::ReviewField {
                    pointer: pointer.clone(),
                    reason: format!(
                        "removed {}, which the 2.0.0 spec (Graph API v19) no longer accepts",
                        dropped.join(", ")
                    ),
                });
            }
            let gone: Vec<&str> = fields
                .iter()
                .filter_map(Value::as_str)
                .filter(|f| REMOVED_PROPERTIES.contains(f))
                .collect();
            if !gone.is_empty() {
                out.actions.push(Action::ReviewField {
                    pointer,
                    reason: format!(
                        "not in 2.0.0's insights schema any more: {}; the report will not have these columns, and the migration guide asks to remove unsupported fields",
                        gone.join(", ")
                    ),
                });
            }
        }
    }
    Ok(changed)
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// When a cleared stream's state proves the connection synced data more than 37 months older
/// than its newest cursor, asks the operator to review `start_date`: that history cannot come back.
fn retention_review(out: &mut Outcome, cleared: &[&str]) {
    let Some(start) = out
        .config
        .get("start_date")
        .and_then(Value::as_str)
        .and_then(parse_date)
    else {
        return;
    };
    let newest = cleared
        .iter()
        .filter_map(|s| state::stream_state(&out.state, s))
        .flat_map(cursor_dates)
        .max();
    let Some(newest) = newest else {
        out.note("the cleared insights streams re-read at most the last 37 months (Facebook's limit): back up their tables first if they hold older rows");
        return;
    };
    let bound = months_before(newest, RETENTION_MONTHS);
    if start < bound {
        let (y, m, d) = newest;
        out.action(Action::ReviewField {
            pointer: "/start_date".into(),
            reason: format!(
                "start_date is more than 37 months before the last synced insights date ({y:04}-{m:02}-{d:02}); after the clear Facebook returns only the last 37 months, so older rows in the destination are lost: back up those tables first"
            ),
        });
    }
}

type Date = (i64, i64, i64);

fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    Some((n(0..4)?, n(5..7)?, n(8..10)?))
}

/// `date` minus `months`, the day kept as is (compared as a tuple, it need not exist).
fn months_before((y, m, d): Date, months: i64) -> Date {
    let index = y * 12 + (m - 1) - months;
    (index.div_euclid(12), index.rem_euclid(12) + 1, d)
}

/// The `date_start` cursors of an insights state: `{"<account>": {"date_start": …}, …}`, or the
/// one-account form of older 1.x, `{"date_start": …}`.
fn cursor_dates(s: &Value) -> Vec<Date> {
    let mut dates = Vec::new();
    if let Some(d) = s
        .get("date_start")
        .and_then(Value::as_str)
        .and_then(parse_date)
    {
        dates.push(d);
    }
    if let Some(o) = s.as_object() {
        for v in o.values() {
            if let Some(d) = v
                .get("date_start")
                .and_then(Value::as_str)
                .and_then(parse_date)
            {
                dates.push(d);
            }
        }
    }
    dates
}

cutover_plugin::export!(FacebookMarketingV2);

/// The 2.0.0 catalog as an offline `discover` of the real package prints it.
const CATALOG: Discovered = Discovered::new(
    "2.0.0",
    include_str!("../../../tests/fixtures/source-facebook-marketing/2.0.0/catalog.json"),
);

const GUIDE: &str = "\
## Upgrading to 2.0.0

2.0.0 moves source-facebook-marketing to Graph API v19. The schema every Ads-Insights stream \
shares (`ads_insights.json`) loses `age_targeting`, `gender_targeting`, `labels`, `location`, \
`estimated_ad_recall_rate` (and its lower and upper bounds) and \
`estimated_ad_recallers_lower_bound`/`_upper_bound`, and gains `conversion_lead_rate` and \
`cost_per_conversion_lead`. Custom insights can no longer ask for `quality_score_ectr`, \
`quality_score_ecvr` or `quality_score_organic`. Facebook keeps insights for 37 months only: \
data older than that cannot be synced again.

cutover:
- migrates the config as the connector's own config migrations do: `account_id` becomes \
`account_ids: [account_id]`; `include_deleted: true` becomes `ad_statuses`, `adset_statuses` \
and `campaign_statuses` with every status;
- removes the three `quality_score_*` fields from custom insights (a report left with no field \
is refused: choose its fields first);
- updates the schema of every configured insights stream, built-in or custom, to what 2.0.0 \
discovers; state is kept as it is.

After applying:
1. Retest the source (Sources → Facebook Marketing → Retest saved source), and review any \
custom insights field the plan lists.
2. Refresh the source schema.
3. Back up the destination tables of the streams the plan clears if they hold rows older than \
37 months, then clear them (reset affected streams).
";

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::testing::{self, stream as declared};
    use facebook_marketing_streams::OTHER_STREAMS;

    const OLD: &str =
        include_str!("../../../tests/fixtures/source-facebook-marketing/1.4.2/catalog.json");
    const NEW: &str =
        include_str!("../../../tests/fixtures/source-facebook-marketing/2.0.0/catalog.json");
    const SPEC: &str =
        include_str!("../../../tests/fixtures/source-facebook-marketing/2.0.0/spec.json");

    fn entry(stream: Value, mode: &str) -> Value {
        let dest = if mode == "incremental" {
            "append_dedup"
        } else {
            "overwrite"
        };
        testing::configured(stream, mode, dest).into()
    }

    fn connection(config: Value, catalog: Value, state: Vec<Value>) -> Connection {
        testing::connection(CONNECTOR, "1.4.2")
            .config(config)
            .build_with(catalog, state)
    }

    fn config() -> Value {
        json!({"account_ids": ["111111111111111"], "access_token": "t", "start_date": "2023-01-01T00:00:00Z",
               "custom_insights": [{"name": "asset_report", "fields": ["ad_id", "impressions", "clicks", "spend"], "breakdowns": ["body_asset", "image_asset"]},
                                   {"name": "leads", "fields": ["ad_id", "impressions", "spend"]}]})
    }

    #[test]
    fn every_insights_schema_becomes_what_2_0_0_discovers() {
        let names: Vec<&str> = INSIGHTS
            .iter()
            .copied()
            .chain(["customasset_report"])
            .collect();
        let streams: Vec<Value> = names
            .iter()
            .map(|n| entry(declared(OLD, n), "incremental"))
            .collect();
        let out =
            FacebookMarketingV2::migrate(connection(config(), json!({"streams": streams}), vec![]))
                .unwrap();
        for n in &names {
            let got = &catalog::find(&out.catalog, n).unwrap()["stream"];
            // Same bytes: property order included.
            assert_eq!(
                serde_json::to_string(got).unwrap(),
                serde_json::to_string(&declared(NEW, n)).unwrap(),
                "{n}"
            );
        }
    }

    #[test]
    fn other_streams_are_declared_the_same_in_both_versions() {
        for n in OTHER_STREAMS {
            assert_eq!(declared(OLD, n), declared(NEW, n), "{n}");
        }
        let old: Value = serde_json::from_str(OLD).unwrap();
        assert_eq!(
            catalog::streams(&old).len(),
            INSIGHTS.len() + OTHER_STREAMS.len() + 2
        );
    }

    #[test]
    fn config_migrations_of_the_connector() {
        let c = json!({"account_id": "123", "access_token": "t", "include_deleted": true});
        let out =
            FacebookMarketingV2::migrate(connection(c, json!({"streams": []}), vec![])).unwrap();
        assert_eq!(out.config["account_ids"], json!(["123"]));
        assert_eq!(out.config["account_id"], "123");
        assert_eq!(
            out.config["ad_statuses"].as_array().unwrap().len(),
            AD_STATUSES.len()
        );
        assert!(matches!(out.actions[..], [Action::RetestSource { .. }]));
        // include_deleted false, or statuses already chosen: nothing to do.
        let c = json!({"account_ids": ["1"], "access_token": "t", "include_deleted": false});
        let out =
            FacebookMarketingV2::migrate(connection(c.clone(), json!({"streams": []}), vec![]))
                .unwrap();
        assert_eq!(out.config, c);
        assert!(out.actions.is_empty());
        let c = json!({"account_ids": ["1"], "access_token": "t", "include_deleted": true, "ad_statuses": ["ACTIVE"]});
        assert_eq!(
            FacebookMarketingV2::migrate(connection(c.clone(), json!({"streams": []}), vec![]))
                .unwrap()
                .config,
            c
        );
        let c = json!({"access_token": "t"});
        assert!(matches!(
            FacebookMarketingV2::migrate(connection(c, json!({"streams": []}), vec![])),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn statuses_are_the_2_0_0_spec_enums() {
        let spec: Value = serde_json::from_str(SPEC).unwrap();
        let props = &spec["connectionSpecification"]["properties"];
        for (k, all) in [
            ("ad_statuses", AD_STATUSES),
            ("adset_statuses", ADSET_STATUSES),
            ("campaign_statuses", CAMPAIGN_STATUSES),
        ] {
            assert_eq!(props[k]["items"]["enum"], json!(all), "{k}");
        }
        let fields = props["custom_insights"]["items"]["properties"]["fields"]["items"]["enum"]
            .as_array()
            .unwrap();
        assert!(REFUSED_FIELDS.iter().all(|f| !fields.contains(&json!(f))));
    }

    #[test]
    fn refused_custom_fields_are_removed_or_the_report_refused() {
        let mut c = config();
        c["custom_insights"][1]["fields"] = json!(["ad_id", "quality_score_ectr", "labels"]);
        let out =
            FacebookMarketingV2::migrate(connection(c.clone(), json!({"streams": []}), vec![]))
                .unwrap();
        assert_eq!(
            out.config["custom_insights"][1]["fields"],
            json!(["ad_id", "labels"])
        );
        let reviewed: Vec<_> = out
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::ReviewField { pointer, .. } => Some(pointer.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            reviewed,
            vec!["/custom_insights/1/fields", "/custom_insights/1/fields"]
        );
        c["custom_insights"][1]["fields"] = json!(["quality_score_organic"]);
        assert!(matches!(
            FacebookMarketingV2::migrate(connection(c, json!({"streams": []}), vec![])),
            Err(Error::NeedsOperator(_))
        ));
    }

    #[test]
    fn clears_scoped_streams_only_and_keeps_state() {
        let streams = json!([
            entry(declared(OLD, "ads_insights"), "incremental"),
            entry(declared(OLD, "ads_insights_country"), "full_refresh"),
            entry(declared(OLD, "ads_insights_delivery_device"), "incremental"),
            entry(declared(OLD, "campaigns"), "incremental")
        ]);
        let state = vec![
            json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": "ads_insights"}, "stream_state": {"111111111111111": {"date_start": "2024-02-20", "slices": []}, "time_increment": 1}}}),
            json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": "campaigns"}, "stream_state": {"111111111111111": {"updated_time": "2024-02-20T10:00:00+0000"}, "filter_statuses": []}}}),
        ];
        let mut c = config();
        c["start_date"] = json!("2020-06-01T00:00:00Z");
        let out =
            FacebookMarketingV2::migrate(connection(c, json!({"streams": streams}), state.clone()))
                .unwrap();
        assert_eq!(out.state, state);
        let cleared = testing::cleared(&out);
        assert_eq!(cleared, vec!["ads_insights"]);
        assert!(
            out.actions.iter().any(
                |a| matches!(a, Action::ReviewField { pointer, .. } if pointer == "/start_date")
            )
        );
        assert_eq!(
            catalog::find(&out.catalog, "campaigns").unwrap()["stream"],
            declared(OLD, "campaigns")
        );
        // A start_date within 37 months of the newest cursor needs no review.
        assert_eq!(months_before((2024, 2, 20), 37), (2021, 1, 20));
    }

    #[test]
    fn unscoped_connection_only_changes_version_and_output_is_stable() {
        let cat = json!({"streams": [entry(declared(OLD, "campaigns"), "incremental"), entry(declared(OLD, "ads"), "full_refresh")]});
        let out = FacebookMarketingV2::migrate(connection(config(), cat.clone(), vec![])).unwrap();
        assert_eq!((out.config.clone(), out.catalog.clone()), (config(), cat));
        assert!(out.actions.is_empty());
        let cat = json!({"streams": [entry(declared(OLD, "ads_insights"), "incremental")]});
        let once = FacebookMarketingV2::migrate(connection(config(), cat, vec![])).unwrap();
        let twice = FacebookMarketingV2::migrate(connection(
            once.config.clone(),
            once.catalog.clone(),
            vec![],
        ))
        .unwrap();
        assert_eq!((once.config, once.catalog), (twice.config, twice.catalog));
    }

    #[test]
    fn unknown_streams_are_refused() {
        let cat = json!({"streams": [entry(json!({"name": "customother", "json_schema": {}}), "full_refresh")]});
        assert!(matches!(
            FacebookMarketingV2::migrate(connection(config(), cat, vec![])),
            Err(Error::UnsupportedShape(_))
        ));
    }

    /// Every stream 1.4.2 discovers (the custom insights of its discover's config included)
    /// leaves as 2.0.0 discovers it. But `customleads`: 2.0.0's discover asked for the lead
    /// fields 1.4.2 refused, so its schema has two properties no migrated config asks for.
    #[test]
    fn every_stream_leaves_as_2_0_0_discovers_it() {
        let c = testing::connection(CONNECTOR, "1.4.2")
            .config(config())
            .build();
        testing::assert_every_stream_conforms(
            FacebookMarketingV2::migrate_and_conform,
            c,
            OLD,
            NEW,
            &["customleads"],
        );
    }
}
