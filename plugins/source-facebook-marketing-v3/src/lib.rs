//! source-facebook-marketing 3.0.0, from 2.x: the migration guide of the 3.0.0 breaking change as code.
//!
//! What 3.0.0 changed (airbyte-source-facebook-marketing 2.1.9 → 3.0.0 on PyPI; spec and every
//! built-in stream are unchanged): custom insights broken down by an asset, `body_asset`,
//! `call_to_action_asset`, `description_asset`, `image_asset`, `link_url_asset`, `title_asset` or
//! `video_asset`, now emit that breakdown as the object Facebook returns (`{"text", "id"}`,
//! `{"hash", "url", "id"}`, …) instead of a string, add a string column `<breakdown>_id` holding
//! its id, and key their rows on `<breakdown>_id` instead of `<breakdown>`
//! (`base_insight_streams.py`: `object_breakdowns`, `primary_key`, `_transform_breakdown`,
//! `get_json_schema`).
//!
//! What this plugin does by code: for every configured custom insights stream with such a
//! breakdown, sets the breakdown's schema to 3.0.0's object, adds the `<breakdown>_id` property,
//! and replaces the breakdown by its id in the source-defined and the configured primary key;
//! every other stream, the config and the state are kept byte for byte. What it leaves to the
//! operator: retest the source, refresh the schema and clear those streams, as the guide asks
//! (the destination column changes type and the rows' key changes).
//! A connection that syncs no such stream comes out with only the version bump.

use cutover_plugin::discovered::Discovered;
use cutover_plugin::{
    Action, Connection, Error, Manifest, Migration, Outcome, Result, StreamDescriptor, Value,
    catalog,
};
use facebook_marketing_streams::{CONNECTOR, custom_insights};

/// The asset breakdowns whose type changes, with 3.0.0's schema of the breakdown and of its id
/// (`schemas/ads_insights_breakdowns.json` of 3.0.0).
pub const ASSET_BREAKDOWNS: &[(&str, &str, &str)] = &[
    (
        "body_asset",
        r#"{"description":"The main content or message of the ad.","type":["null","object"],"properties":{"text":{"type":["null","string"]},"id":{"type":["null","string"]}}}"#,
        r#"{"description":"The ID of the main content or message of the ad.","type":["null","string"]}"#,
    ),
    (
        "call_to_action_asset",
        r#"{"description":"The specific action encouraged by the ad.","type":["null","object"],"properties":{"name":{"type":["null","string"]},"id":{"type":["null","string"]}}}"#,
        r#"{"description":"The ID of the specific action encouraged by the ad.","type":["null","string"]}"#,
    ),
    (
        "description_asset",
        r#"{"description":"Additional descriptive text accompanying the ad content.","type":["null","object"],"properties":{"text":{"type":["null","string"]},"id":{"type":["null","string"]}}}"#,
        r#"{"description":"The ID of additional descriptive text accompanying the ad content.","type":["null","string"]}"#,
    ),
    (
        "image_asset",
        r#"{"description":"The image asset used in the ad.","type":["null","object"],"properties":{"hash":{"type":["null","string"]},"url":{"type":["null","string"]},"id":{"type":["null","string"]}}}"#,
        r#"{"description":"The ID of the image asset used in the ad.","type":["null","string"]}"#,
    ),
    (
        "link_url_asset",
        r#"{"description":"The URL linked to by the ad.","type":["null","object"],"properties":{"website_url":{"type":["null","string"]},"id":{"type":["null","string"]}}}"#,
        r#"{"description":"The ID of the URL linked to by the ad.","type":["null","string"]}"#,
    ),
    (
        "title_asset",
        r#"{"description":"The title or headline of the ad.","type":["null","object"],"properties":{"text":{"type":["null","string"]},"id":{"type":["null","string"]}}}"#,
        r#"{"description":"The ID of the title or headline of the ad.","type":["null","string"]}"#,
    ),
    (
        "video_asset",
        r#"{"description":"The video asset used in the ad.","type":["null","object"],"properties":{"video_id":{"type":["null","string"]},"url":{"type":["null","string"]},"thumbnail_url":{"type":["null","string"]},"video_name":{"type":["null","string"]},"id":{"type":["null","string"]}}}"#,
        r#"{"description":"The ID of the video asset used in the ad.","type":["null","string"]}"#,
    ),
];

pub struct FacebookMarketingV3;

impl Migration for FacebookMarketingV3 {
    fn manifest() -> Manifest {
        Manifest {
            connector: CONNECTOR.into(),
            applies_to: ">=2.0.0, <3.0.0".into(),
            produces: "3.0.0".into(),
            message: "There are breaking schema changes to Custom Insights Streams that use body_asset, call_to_action_asset, description_asset, image_asset, link_url_asset, title_asset or video_asset.  If you use any of these streams, you will need to retest source configuration, refresh the source schema and clear affected streams after upgrading.".into(),
            upgrade_deadline: Some("2024-06-14".into()),
            deadline_action: None,
            documentation_url: "https://docs.airbyte.com/integrations/sources/facebook-marketing-migrations#3.0.0".into(),
            scoped_streams: Vec::new(),
            preconditions: Vec::new(),
            guide: GUIDE.into(),
        }
    }

    /// Every built-in stream leaves as 3.0.0 discovers it; see
    /// [`facebook_marketing_streams::migrate_and_conform`].
    fn migrate_and_conform(connection: Connection) -> Result<Outcome> {
        facebook_marketing_streams::migrate_and_conform::<Self>(connection, &CATALOG)
    }

    fn migrate(connection: Connection) -> Result<Outcome> {
        let customs = custom_insights(&connection)?;
        let mut out = connection.into_outcome();
        let mut affected = Vec::new();
        for entry in catalog::streams_mut(&mut out.catalog) {
            let Some(d) = catalog::descriptor(entry) else {
                continue;
            };
            if !customs.contains(&d.name) {
                continue;
            }
            let changed = migrate_stream(entry)?;
            if !changed.is_empty() {
                out.notes.push(format!(
                    "{}: {} now objects with a string <breakdown>_id column, and the primary key uses the ids",
                    d.name,
                    changed.join(", ")
                ));
                affected.push((d.name, catalog::rewrites_table(entry)));
            }
        }
        if affected.is_empty() {
            return Ok(out);
        }
        out.action(Action::RetestSource {
            reason: "custom insights with asset breakdowns change in 3.0.0; the migration guide asks to retest the source".into(),
        });
        out.action(Action::RefreshSchema {
            reason: "asset breakdowns of custom insights become objects with a new <breakdown>_id column and primary key".into(),
        });
        for (name, rewrites) in affected {
            if rewrites {
                continue;
            }
            out.action(Action::ClearStream {
                stream: StreamDescriptor::named(&name),
                reason: "asset breakdown columns change from string to object and the primary key moves to <breakdown>_id; clear it so existing rows are re-synced in the new shape".into(),
            });
        }
        Ok(out)
    }
}

/// Patches one custom insights stream; returns the breakdowns it changed.
fn migrate_stream(entry: &mut Value) -> Result<Vec<&'static str>> {
    let Some(props) = entry
        .pointer_mut("/stream/json_schema/properties")
        .and_then(Value::as_object_mut)
    else {
        return Ok(Vec::new());
    };
    let mut changed = Vec::new();
    for (breakdown, object, _) in ASSET_BREAKDOWNS {
        let Some(old) = props.get(*breakdown) else {
            continue;
        };
        if is_object(old) {
            continue; // already 3.0.0's
        }
        props.insert((*breakdown).to_owned(), parse(object));
        changed.push(*breakdown);
    }
    // 3.0.0 adds the ids after every breakdown, in the breakdowns' order.
    let order: Vec<String> = props.keys().cloned().collect();
    for key in order {
        if let Some((b, _, id)) = ASSET_BREAKDOWNS.iter().find(|(b, _, _)| *b == key)
            && changed.contains(b)
        {
            props.insert(format!("{b}_id"), parse(id));
        }
    }
    if changed.is_empty() {
        return Ok(changed);
    }
    let stream = entry.get_mut("stream").expect("checked above");
    if let Some(pk) = stream.get_mut("source_defined_primary_key") {
        rekey(pk, &changed)?;
    }
    if let Some(pk) = entry.get_mut("primary_key") {
        rekey(pk, &changed)?;
    }
    Ok(changed)
}

/// Replaces `[breakdown]` by `[breakdown_id]` in a primary key `[[field], …]`.
fn rekey(pk: &mut Value, changed: &[&str]) -> Result<()> {
    let Some(paths) = pk.as_array_mut() else {
        return Err(Error::InvalidInput(format!(
            "primary key {pk} is not a list of field paths"
        )));
    };
    for path in paths {
        if let Some([Value::String(f)]) = path.as_array().map(Vec::as_slice)
            && changed.contains(&f.as_str())
        {
            *path = Value::Array(vec![Value::String(format!("{f}_id"))]);
        }
    }
    Ok(())
}

fn is_object(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "object"),
        _ => false,
    }
}

fn parse(s: &str) -> Value {
    serde_json::from_str(s).expect("the embedded schemas are valid JSON")
}

cutover_plugin::export!(FacebookMarketingV3);

/// The 3.0.0 catalog as an offline `discover` of the real package prints it.
const CATALOG: Discovered = Discovered::new(
    "3.0.0",
    include_str!("../../../tests/fixtures/source-facebook-marketing/3.0.0/catalog.json"),
);

const GUIDE: &str = "\
## Upgrading to 3.0.0

Custom insights reports broken down by `body_asset`, `call_to_action_asset`, \
`description_asset`, `image_asset`, `link_url_asset`, `title_asset` or `video_asset` change \
shape: each such breakdown is now an object (`{\"text\": \"Body Text\", \"id\": \"12653412653\"}`, \
`{\"hash\", \"url\", \"id\"}` for images, `{\"video_id\", \"url\", \"thumbnail_url\", \"video_name\", \"id\"}` \
for videos, …) instead of a string, a new string column `<breakdown>_id` holds its id, and the \
stream's primary key uses `<breakdown>_id`. Nothing else changes: built-in streams, the spec \
and the state format are the same as in 2.x.

cutover updates the schema and the primary key (source-defined and configured) of every \
configured custom insights stream with such a breakdown. Config and state are kept as they are. \
A connection without such a stream only changes version.

After applying:
1. Retest the source.
2. Refresh the source schema.
3. Clear each stream the plan lists (its column types and key change), unless it is synced as \
full refresh | overwrite.
";

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::json;
    use cutover_plugin::testing::{self, stream as declared};
    use facebook_marketing_streams::{INSIGHTS, OTHER_STREAMS};

    const OLD: &str =
        include_str!("../../../tests/fixtures/source-facebook-marketing/2.1.9/catalog.json");
    const NEW: &str =
        include_str!("../../../tests/fixtures/source-facebook-marketing/3.0.0/catalog.json");

    fn entry(stream: Value, mode: &str) -> Value {
        let pk = stream
            .get("source_defined_primary_key")
            .cloned()
            .unwrap_or(json!([]));
        let dest = if mode == "incremental" {
            "append_dedup"
        } else {
            "overwrite"
        };
        testing::configured(stream, mode, dest)
            .cursor(&["date_start"])
            .primary_key(pk)
            .into()
    }

    fn config() -> Value {
        json!({"account_ids": ["111111111111111"], "access_token": "t",
            "custom_insights": [{"name": "asset_report", "fields": ["ad_id", "impressions", "clicks", "spend"], "breakdowns": ["body_asset", "image_asset"]},
                                {"name": "leads", "fields": ["ad_id", "impressions", "spend", "cost_per_conversion_lead", "conversion_lead_rate"]}]})
    }

    fn connection(catalog: Value) -> Connection {
        let report_state = json!({"111111111111111": {"date_start": "2024-05-01", "slices": []}, "time_increment": 1});
        testing::connection(CONNECTOR, "2.1.9")
            .config(config())
            .build_with(
                catalog,
                vec![testing::stream_state("customasset_report", report_state)],
            )
    }

    #[test]
    fn asset_breakdowns_become_what_3_0_0_discovers() {
        let c = json!({"streams": [entry(declared(OLD, "customasset_report"), "incremental")]});
        let input = connection(c);
        let state = input.state.clone();
        let out = FacebookMarketingV3::migrate(input).unwrap();
        let e = catalog::find(&out.catalog, "customasset_report").unwrap();
        assert_eq!(
            serde_json::to_string(&e["stream"]).unwrap(),
            serde_json::to_string(&declared(NEW, "customasset_report")).unwrap()
        );
        assert_eq!(
            e["primary_key"],
            declared(NEW, "customasset_report")["source_defined_primary_key"]
        );
        assert_eq!(out.state, state);
        assert!(
            matches!(&out.actions[..], [Action::RetestSource { .. }, Action::RefreshSchema { .. }, Action::ClearStream { stream, .. }] if stream.name == "customasset_report")
        );
        // Its own output is left alone.
        let again = FacebookMarketingV3::migrate(Connection {
            catalog: out.catalog.clone(),
            ..connection(json!({}))
        })
        .unwrap();
        assert_eq!(again.catalog, out.catalog);
        assert!(again.actions.is_empty());
    }

    #[test]
    fn every_other_stream_is_declared_the_same_and_left_alone() {
        let names: Vec<&str> = INSIGHTS
            .iter()
            .chain(OTHER_STREAMS)
            .copied()
            .chain(["customleads"])
            .collect();
        for n in &names {
            assert_eq!(declared(OLD, n), declared(NEW, n), "{n}");
        }
        let c = json!({"streams": names.iter().map(|n| entry(declared(OLD, n), "incremental")).collect::<Vec<_>>()});
        let input = connection(c);
        let (config, catalog, state) = (
            input.config.clone(),
            input.catalog.clone(),
            input.state.clone(),
        );
        let out = FacebookMarketingV3::migrate(input).unwrap();
        assert_eq!(
            (out.config, out.catalog, out.state),
            (config, catalog, state)
        );
        assert!(out.actions.is_empty());
    }

    #[test]
    fn all_seven_asset_breakdowns_and_full_refresh_overwrite() {
        let mut props = serde_json::Map::new();
        for (b, _, _) in ASSET_BREAKDOWNS {
            props.insert((*b).into(), json!({"type": ["null", "string"]}));
        }
        let stream = json!({"name": "customasset_report", "json_schema": {"type": ["null", "object"], "properties": props},
            "source_defined_primary_key": [["date_start"], ["account_id"], ["ad_id"], ["video_asset"], ["title_asset"]]});
        let out = FacebookMarketingV3::migrate(connection(
            json!({"streams": [entry(stream, "full_refresh")]}),
        ))
        .unwrap();
        let e = catalog::find(&out.catalog, "customasset_report").unwrap();
        let keys: Vec<&String> = e["stream"]["json_schema"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(keys.len(), 14);
        assert_eq!(keys[7], "body_asset_id");
        assert_eq!(
            e["primary_key"],
            json!([
                ["date_start"],
                ["account_id"],
                ["ad_id"],
                ["video_asset_id"],
                ["title_asset_id"]
            ])
        );
        assert!(
            !out.actions
                .iter()
                .any(|a| matches!(a, Action::ClearStream { .. }))
        );
    }

    #[test]
    fn unknown_streams_are_refused() {
        let c = json!({"streams": [entry(json!({"name": "customgone", "json_schema": {}}), "full_refresh")]});
        assert!(matches!(
            FacebookMarketingV3::migrate(connection(c)),
            Err(Error::UnsupportedShape(_))
        ));
    }

    /// Every stream 2.1.9 discovers (the custom insights of its discover's config included)
    /// leaves as 3.0.0 discovers it.
    #[test]
    fn every_stream_leaves_as_3_0_0_discovers_it() {
        let c = testing::connection(CONNECTOR, "2.1.9")
            .config(config())
            .build();
        testing::assert_every_stream_conforms(
            FacebookMarketingV3::migrate_and_conform,
            c,
            OLD,
            NEW,
            &[],
        );
    }
}
