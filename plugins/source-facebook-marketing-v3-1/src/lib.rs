//! source-facebook-marketing 3.1.0, from 3.0.x: the breaking change of a minor version as code.
//!
//! The connector declares 3.1.0 breaking (a minor: cutover treats it as breaking because the
//! connector's `breakingChanges` lists it). What 3.1.0 changed (airbyte-source-facebook-marketing
//! 3.0.0, the only 3.0.x on PyPI, → 3.1.0; airbytehq/airbyte#38860): Meta answers
//! `Tried accessing nonexisting field` for `conversion_lead_rate` and `cost_per_conversion_lead`,
//! so
//! - `schemas/ads_insights.json` (every insights stream, built-in or custom) drops both;
//! - the custom insights `fields` enum drops both, so a config naming them no longer validates;
//! - `schemas/shared/ads_action_stats.json` (the items of `actions`, `action_values`,
//!   `conversions`, `cost_per_action_type`, … in the insights streams) gains a number `lead`.
//!
//! What this plugin does by code: removes both fields from every custom insights `fields` list
//! (refusing a report that would be left with none, since an empty list fetches every field);
//! patches the `json_schema` of every configured insights stream to what 3.1.0 discovers;
//! keeps every state message byte for byte. What it leaves to the operator: retest the source
//! when its config changed, review the custom insights that lost fields, and refresh the schema.
//! No stream needs a clear: columns are only removed or added, no type or key changes (the
//! migration guide has no 3.1.0 section and the breaking change asks for nothing else).
//!
//! Config: besides the custom insights fields, nothing moves. The connector's next config
//! migration, `MigrateSecretsPathInConnector` (root `client_id`/`client_secret`/`access_token`
//! under `credentials`; its docstring says 2.2.0, a version never published), first ships in
//! 3.2.0, a non-breaking minor whose connector applies it itself at startup; the 3.1.0 spec still
//! requires a root `access_token`, so no plugin up to 3.1.0 may move it.

use cutover_plugin::discovered::Discovered;
use cutover_plugin::{
    Action, Connection, Error, Manifest, Migration, Outcome, Result, Value, catalog, json,
};
use facebook_marketing_streams::{CONNECTOR, INSIGHTS, custom_insights};

/// The fields 3.1.0 removes (`_REMOVED_FIELDS` in its spec.py).
pub const REMOVED: &[&str] = &["conversion_lead_rate", "cost_per_conversion_lead"];

/// The properties of `ads_action_stats.json` in 3.0.0; 3.1.0 appends `lead`.
pub const ACTION_STATS: &[&str] = &[
    "1d_click",
    "7d_click",
    "28d_click",
    "1d_view",
    "7d_view",
    "28d_view",
    "action_destination",
    "action_target_id",
    "action_type",
    "value",
];

pub struct FacebookMarketingV31;

impl Migration for FacebookMarketingV31 {
    fn manifest() -> Manifest {
        Manifest {
            connector: CONNECTOR.into(),
            applies_to: ">=3.0.0, <3.1.0".into(),
            produces: "3.1.0".into(),
            message: "The `AdsInsights` Reports now don't have the possibility to fetch the root level properties `cost_per_conversion_lead` and `conversion_lead_rate`. These will therefore be removed.".into(),
            upgrade_deadline: Some("2024-06-14".into()),
            deadline_action: None,
            documentation_url: "https://docs.airbyte.com/integrations/sources/facebook-marketing-migrations#3.1.0".into(),
            scoped_streams: Vec::new(),
            preconditions: Vec::new(),
            guide: GUIDE.into(),
        }
    }

    /// Every built-in stream leaves as 3.1.0 discovers it; see
    /// [`facebook_marketing_streams::migrate_and_conform`].
    fn migrate_and_conform(connection: Connection) -> Result<Outcome> {
        facebook_marketing_streams::migrate_and_conform::<Self>(connection, &CATALOG)
    }

    fn migrate(connection: Connection) -> Result<Outcome> {
        let customs = custom_insights(&connection)?;
        let mut out = connection.into_outcome();

        let config_changed = migrate_custom_fields(&mut out)?;

        let mut removed_from = Vec::new();
        let mut lead_added = Vec::new();
        for entry in catalog::streams_mut(&mut out.catalog) {
            let Some(d) = catalog::descriptor(entry) else {
                continue;
            };
            if !INSIGHTS.contains(&d.name.as_str()) && !customs.contains(&d.name) {
                continue;
            }
            let Some(props) = entry
                .pointer_mut("/stream/json_schema/properties")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            // Every removed field goes, so no short-circuit.
            let removed = REMOVED
                .iter()
                .filter(|p| props.shift_remove(**p).is_some())
                .count();
            if removed > 0 {
                removed_from.push(d.name.clone());
            }
            let mut added = false;
            for p in props.values_mut() {
                added |= add_lead(p);
            }
            if added {
                lead_added.push(d.name);
            }
        }
        if !removed_from.is_empty() {
            out.note(format!(
                "{}: conversion_lead_rate and cost_per_conversion_lead removed from the schema",
                removed_from.join(", ")
            ));
        }
        if !lead_added.is_empty() {
            out.note(format!(
                "{}: action stats items gain the number field lead, as 3.1.0 declares",
                lead_added.join(", ")
            ));
        }

        if config_changed {
            out.action(Action::RetestSource {
                reason: "custom insights fields were removed from the config; test it before the first 3.1.0 sync".into(),
            });
        }
        if !removed_from.is_empty() || !lead_added.is_empty() {
            out.action(Action::RefreshSchema {
                reason: "3.1.0 removes conversion_lead_rate and cost_per_conversion_lead from the insights streams and adds lead to their action stats".into(),
            });
        }
        Ok(out)
    }
}

/// Appends `lead` to an array of `ads_action_stats` items that lacks it. Returns whether it did.
fn add_lead(property: &mut Value) -> bool {
    let Some(items) = property
        .pointer_mut("/items/properties")
        .and_then(Value::as_object_mut)
    else {
        return false;
    };
    if items.len() != ACTION_STATS.len() || !items.keys().zip(ACTION_STATS).all(|(k, e)| k == e) {
        return false;
    }
    items.insert("lead".into(), json!({"type": ["null", "number"]}));
    true
}

/// Removes the two fields from `custom_insights[*].fields`. Returns whether the config changed.
fn migrate_custom_fields(out: &mut Outcome) -> Result<bool> {
    let mut changed = false;
    let Some(insights) = out
        .config
        .get_mut("custom_insights")
        .and_then(Value::as_array_mut)
    else {
        return Ok(false);
    };
    for (i, insight) in insights.iter_mut().enumerate() {
        let Some(fields) = insight.get_mut("fields").and_then(Value::as_array_mut) else {
            continue;
        };
        let before = fields.len();
        fields.retain(|f| !f.as_str().is_some_and(|f| REMOVED.contains(&f)));
        if fields.len() == before {
            continue;
        }
        let pointer = format!("/custom_insights/{i}/fields");
        if fields.is_empty() {
            return Err(Error::NeedsOperator(format!(
                "{pointer} holds only conversion_lead_rate or cost_per_conversion_lead, which 3.1.0 removes, and an empty list would fetch every field: choose the fields this report needs (conversion_leads, cost_per_action_type, …) and retry"
            )));
        }
        changed = true;
        out.actions.push(Action::ReviewField {
            pointer,
            reason: "conversion_lead_rate and cost_per_conversion_lead removed: Meta no longer serves them and the 3.1.0 spec refuses them; the report loses those columns".into(),
        });
    }
    Ok(changed)
}

cutover_plugin::export!(FacebookMarketingV31);

/// The 3.1.0 catalog as an offline `discover` of the real package prints it.
const CATALOG: Discovered = Discovered::new(
    "3.1.0",
    include_str!("../../../tests/fixtures/source-facebook-marketing/3.1.0/catalog.json"),
);

const GUIDE: &str = "\
## Upgrading to 3.1.0

3.1.0 is a minor version the connector declares breaking. Meta no longer serves the root level \
insights fields `cost_per_conversion_lead` and `conversion_lead_rate` (requests for them fail \
with `Tried accessing nonexisting field`), so 3.1.0 removes them from every Ads-Insights \
stream and no longer accepts them in a custom insights report's fields. It also adds a number \
`lead` to the action stats (`actions`, `action_values`, `conversions`, …) of those streams.

cutover removes both fields from every custom insights `fields` list (a report left with no \
field is refused: an empty list would fetch every field, so choose its fields first), and \
updates the schema of every configured insights stream to what 3.1.0 discovers. State is kept \
as it is; no stream needs a clear (columns are only removed or added).

After applying:
1. Review the custom insights reports the plan lists, and retest the source if its config changed.
2. Refresh the source schema.
";

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::testing::{self, stream as declared};
    use facebook_marketing_streams::OTHER_STREAMS;

    const OLD: &str =
        include_str!("../../../tests/fixtures/source-facebook-marketing/3.0.0/catalog.json");
    const NEW: &str =
        include_str!("../../../tests/fixtures/source-facebook-marketing/3.1.0/catalog.json");
    const OLD_SPEC: &str =
        include_str!("../../../tests/fixtures/source-facebook-marketing/3.0.0/spec.json");
    const NEW_SPEC: &str =
        include_str!("../../../tests/fixtures/source-facebook-marketing/3.1.0/spec.json");

    fn entry(stream: Value) -> Value {
        testing::configured(stream, "incremental", "append")
            .cursor(&["date_start"])
            .into()
    }

    fn config() -> Value {
        json!({"account_ids": ["111111111111111"], "access_token": "t",
            "custom_insights": [{"name": "asset_report", "fields": ["ad_id", "impressions", "clicks", "spend"], "breakdowns": ["body_asset", "image_asset"]},
                                {"name": "leads", "fields": ["ad_id", "impressions", "spend", "cost_per_conversion_lead", "conversion_lead_rate"]}]})
    }

    fn connection(config: Value, catalog: Value) -> Connection {
        testing::connection(CONNECTOR, "3.0.0")
            .config(config)
            .catalog(catalog)
            .build()
    }

    #[test]
    fn every_stream_becomes_what_3_1_0_discovers() {
        let old: Value = serde_json::from_str(OLD).unwrap();
        let names: Vec<String> = catalog::streams(&old)
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names.len(), INSIGHTS.len() + OTHER_STREAMS.len() + 2);
        let c =
            json!({"streams": names.iter().map(|n| entry(declared(OLD, n))).collect::<Vec<_>>()});
        let out = FacebookMarketingV31::migrate(connection(config(), c)).unwrap();
        for n in &names {
            let got = &catalog::find(&out.catalog, n).unwrap()["stream"];
            assert_eq!(
                serde_json::to_string(got).unwrap(),
                serde_json::to_string(&declared(NEW, n)).unwrap(),
                "{n}"
            );
        }
        assert_eq!(
            out.config["custom_insights"][1]["fields"],
            json!(["ad_id", "impressions", "spend"])
        );
        assert!(
            matches!(&out.actions[..], [Action::ReviewField { pointer, .. }, Action::RetestSource { .. }, Action::RefreshSchema { .. }] if pointer == "/custom_insights/1/fields")
        );
        // Its own output is left alone.
        let again =
            FacebookMarketingV31::migrate(connection(out.config.clone(), out.catalog.clone()))
                .unwrap();
        assert_eq!((again.config, again.catalog), (out.config, out.catalog));
        assert!(again.actions.is_empty());
    }

    #[test]
    fn removed_fields_are_the_spec_difference() {
        let enum_of = |s: &str| -> Vec<Value> {
            let v: Value = serde_json::from_str(s).unwrap();
            v["connectionSpecification"]["properties"]["custom_insights"]["items"]["properties"]["fields"]["items"]["enum"].as_array().unwrap().clone()
        };
        let (old, new) = (enum_of(OLD_SPEC), enum_of(NEW_SPEC));
        let gone: Vec<&str> = old
            .iter()
            .filter(|f| !new.contains(f))
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            gone,
            vec!["conversion_lead_rate", "cost_per_conversion_lead"]
        );
        assert!(new.iter().all(|f| old.contains(f)));
    }

    #[test]
    fn a_report_of_only_lead_fields_is_refused() {
        let mut c = config();
        c["custom_insights"][1]["fields"] = json!(["conversion_lead_rate"]);
        let err = FacebookMarketingV31::migrate(connection(c, json!({"streams": []}))).unwrap_err();
        assert!(matches!(err, Error::NeedsOperator(m) if m.contains("/custom_insights/1/fields")));
    }

    #[test]
    fn connections_without_insights_only_change_version() {
        let mut c = config();
        c["custom_insights"] = json!([]);
        let cat =
            json!({"streams": [entry(declared(OLD, "campaigns")), entry(declared(OLD, "ads"))]});
        let out = FacebookMarketingV31::migrate(connection(c.clone(), cat.clone())).unwrap();
        assert_eq!((out.config, out.catalog), (c, cat));
        assert!(out.actions.is_empty() && out.notes.is_empty());
    }

    #[test]
    fn unknown_streams_are_refused() {
        let cat = json!({"streams": [entry(json!({"name": "customother", "json_schema": {}}))]});
        assert!(matches!(
            FacebookMarketingV31::migrate(connection(config(), cat)),
            Err(Error::UnsupportedShape(_))
        ));
    }

    /// Every stream 3.0.0 discovers (the custom insights of its discover's config included)
    /// leaves as 3.1.0 discovers it.
    #[test]
    fn every_stream_leaves_as_3_1_0_discovers_it() {
        let c = testing::connection(CONNECTOR, "3.0.0")
            .config(config())
            .build();
        testing::assert_every_stream_conforms(
            FacebookMarketingV31::migrate_and_conform,
            c,
            OLD,
            NEW,
            &[],
        );
    }
}
