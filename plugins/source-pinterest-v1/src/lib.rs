//! source-pinterest 1.0.0, from 0.x: the migration guide of the 1.0.0 breaking change as code.
//!
//! What 1.0.0 changed (the connector's `breakingChanges` entry, quoted in the manifest):
//! - date-time fields are typed `airbyte_type: timestamp_without_timezone`;
//! - the report streams `AdvertizerReport` and `AdvertizerTargetingReport` (stream names
//!   `advertizer_report`, `advertizer_targeting_report`: Python CDK streams are named after
//!   their class in snake case) became `advertiser_report` and `advertiser_targeting_report`.
//!
//! What this plugin does by itself: renames both streams in the catalog and in the state,
//! keeping the user's sync mode, cursor and primary key and the sync progress; marks every
//! date-time field of every configured stream. What it leaves to the operator: refresh the
//! schema, and clear each stream whose destination columns or table name change.

use cutover_plugin::{Action, Connection, Manifest, Migration, Outcome, Result, StreamDescriptor};
use cutover_plugin::{catalog, schema, state};

/// Stream renames of 1.0.0: old name, new name.
pub const RENAMES: &[(&str, &str)] = &[
    ("advertizer_report", "advertiser_report"),
    ("advertizer_targeting_report", "advertiser_targeting_report"),
];

const TIMESTAMP: &str = "timestamp_without_timezone";

pub struct PinterestV1;

impl Migration for PinterestV1 {
    fn manifest() -> Manifest {
        Manifest {
            connector: "airbyte/source-pinterest".into(),
            applies_to: ">=0.1.0, <1.0.0".into(),
            produces: "1.0.0".into(),
            message: "This release updates the date-time fields to use the Airbyte format `timestamp_without_timezone`. This change affects all streams where date-time fields are present, ensuring more accurate and standardized time representations: BoardPins, BoardSectionPins, Boards, Catalogs, and CatalogFeeds. Additionally, the stream names AdvertizerReport and AdvertizerTargetingReport have been renamed to AdvertiserReport and AdvertiserTargetingReport, respectively. Users will need to refresh the source schema and reset affected streams after upgrading.".into(),
            upgrade_deadline: Some("2023-12-14".into()),
            deadline_action: None,
            documentation_url: "https://docs.airbyte.com/integrations/sources/pinterest-migrations#1.0.0".into(),
            scoped_streams: Vec::new(),
            preconditions: Vec::new(),
            guide: GUIDE.into(),
        }
    }

    fn migrate(connection: Connection) -> Result<Outcome> {
        let mut out = connection.into_outcome();
        let mut affected: Vec<String> = Vec::new();

        for (from, to) in RENAMES {
            let in_catalog = catalog::rename_stream(&mut out.catalog, from, to);
            let in_state = state::rename_stream(&mut out.state, from, to);
            if in_catalog || in_state {
                out.note(format!("renamed stream {from} to {to} (catalog: {in_catalog}, state: {in_state}); its sync progress is kept"));
                affected.push((*to).to_owned());
            }
        }

        let mut marked = Vec::new();
        catalog::for_each_schema(&mut out.catalog, |name, s| {
            let n = schema::mark_date_time(s, TIMESTAMP);
            if n > 0 {
                marked.push((name.to_owned(), n));
            }
        });
        for (name, n) in &marked {
            out.note(format!(
                "{name}: {n} date-time field(s) now typed {TIMESTAMP}"
            ));
            if !affected.contains(name) {
                affected.push(name.clone());
            }
        }

        if !affected.is_empty() {
            out.action(Action::RefreshSchema {
                reason: "1.0.0 types date-time fields as timestamp_without_timezone and renames two report streams".into(),
            });
        }
        for name in affected {
            let reason = if RENAMES.iter().any(|(_, to)| *to == name) {
                "the stream was renamed, so the destination writes a new table; clear it to backfill that table"
            } else {
                "date-time columns change type in the destination; clear the stream so existing rows are re-typed"
            };
            out.action(Action::ClearStream {
                stream: StreamDescriptor::named(&name),
                reason: reason.into(),
            });
        }
        Ok(out)
    }
}

cutover_plugin::export!(PinterestV1);

const GUIDE: &str = "\
## Upgrading to 1.0.0

Date-time fields now carry `airbyte_type: timestamp_without_timezone`, in every stream that \
has them (BoardPins, BoardSectionPins, Boards, Catalogs, CatalogFeeds among others). The report \
streams `AdvertizerReport` and `AdvertizerTargetingReport` are renamed `AdvertiserReport` and \
`AdvertiserTargetingReport`.

cutover renames both streams in the configured catalog and in the state (sync mode, cursor, \
primary key and progress are kept) and marks the date-time fields in the catalog.

After applying:
1. Refresh the source schema.
2. Clear each stream the plan lists: renamed streams land in a new destination table, and \
streams with date-time fields change column types.
";

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::testing;
    use cutover_plugin::{Value, json};

    fn connection(catalog: Value, state: Vec<Value>) -> Connection {
        testing::connection("airbyte/source-pinterest", "0.8.2")
            .config(json!({"start_date": "2023-01-01"}))
            .build_with(catalog, state)
    }

    #[test]
    fn renames_report_streams_and_marks_timestamps() {
        let catalog = json!({"streams": [
            {"stream": {"name": "advertizer_report", "json_schema": {"type": "object", "properties": {"DATE": {"type": "string", "format": "date"}}},
                        "supported_sync_modes": ["full_refresh", "incremental"]},
             "sync_mode": "incremental", "cursor_field": ["DATE"], "destination_sync_mode": "append"},
            {"stream": {"name": "boards", "json_schema": {"type": "object", "properties": {"created_at": {"type": ["null", "string"], "format": "date-time"}}},
                        "supported_sync_modes": ["full_refresh"]},
             "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"},
            {"stream": {"name": "ad_accounts", "json_schema": {"type": "object", "properties": {"id": {"type": "string"}}},
                        "supported_sync_modes": ["full_refresh"]},
             "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
        ]});
        let state = vec![
            json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": "advertizer_report"}, "stream_state": {"DATE": "2023-05-01"}}}),
        ];
        let out = PinterestV1::migrate(connection(catalog, state)).unwrap();
        let report = catalog::find(&out.catalog, "advertiser_report").unwrap();
        assert_eq!(report["sync_mode"], "incremental");
        assert_eq!(report["cursor_field"], json!(["DATE"]));
        assert_eq!(
            state::stream_state(&out.state, "advertiser_report"),
            Some(&json!({"DATE": "2023-05-01"}))
        );
        assert_eq!(
            catalog::find(&out.catalog, "boards").unwrap()["stream"]["json_schema"]["properties"]["created_at"]
                ["airbyte_type"],
            TIMESTAMP
        );
        let cleared = testing::cleared(&out);
        assert_eq!(cleared, vec!["advertiser_report", "boards"]);
        assert!(matches!(out.actions[0], Action::RefreshSchema { .. }));
    }

    #[test]
    fn already_migrated_documents_are_left_alone() {
        let catalog = json!({"streams": [{"stream": {"name": "ad_accounts", "json_schema": {}}, "sync_mode": "full_refresh"}]});
        let c = connection(catalog.clone(), vec![]);
        let out = PinterestV1::migrate(c).unwrap();
        assert_eq!(out.catalog, catalog);
        assert!(out.actions.is_empty());
    }

    #[test]
    fn manifest_is_consistent() {
        let m = PinterestV1::manifest();
        assert_eq!(m.produces, "1.0.0");
        assert!(m.message.contains("AdvertizerReport"));
    }
}
