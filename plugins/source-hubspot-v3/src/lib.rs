//! source-hubspot 3.0.0, from 2.x: the migration guide of the 3.0.0 breaking change as code.
//!
//! 3.0.0 (airbytehq/airbyte#34492, "Update `marketing_emails` stream schema") extends the
//! schema of `marketing_emails` and changes the type of some of its fields. Diffing the
//! stream's schema in airbyte-source-hubspot 2.0.2 (the last 2.x) and 3.0.0, property by
//! property, gives exactly these type changes ([`TYPE_CHANGES`]):
//! - `aifeatures`: string → object;
//! - `styleSettings.heading_one_font`: untyped → object;
//! - `styleSettings.heading_one_font.{bold,italic,underline}`: string → boolean.
//!
//! The rest of the diff only adds fields (`rootMicId`, `stats.qualifierStats`,
//! `styleSettings.primary_font`, …) or reshapes the nested `flexAreas` object, which a
//! schema refresh brings in without breaking anything. `marketing_emails` is full refresh
//! only, before and after, and keeps its primary key `id`.
//!
//! What this plugin does: retypes those properties in the configured catalog's
//! `marketing_emails` json_schema (properties the user deselected are left out), keeping
//! everything else, every other stream and all state byte for byte. What it leaves to the
//! operator: refresh the schema (for the added fields) and clear `marketing_emails`, whose
//! destination columns change type.

use cutover_plugin::discovered::Discovered;
use cutover_plugin::schema::{self, TypeChange};
use cutover_plugin::{
    Action, Connection, Error, Manifest, Migration, Outcome, Result, Value, catalog, json,
};

/// The stream 3.0.0 changes (its `scopedImpact`).
pub const STREAM: &str = "marketing_emails";

/// Every type change of 3.0.0, from the schemas of 2.0.2 and 3.0.0.
pub const TYPE_CHANGES: &[TypeChange] = &[
    TypeChange {
        stream: STREAM,
        pointer: "/properties/aifeatures",
        new: || json!({"type": ["null", "object"]}),
    },
    TypeChange {
        stream: STREAM,
        pointer: "/properties/styleSettings/properties/heading_one_font",
        new: || json!({"type": ["null", "object"]}),
    },
    TypeChange {
        stream: STREAM,
        pointer: "/properties/styleSettings/properties/heading_one_font/properties/bold",
        new: || json!({"type": ["null", "boolean"]}),
    },
    TypeChange {
        stream: STREAM,
        pointer: "/properties/styleSettings/properties/heading_one_font/properties/italic",
        new: || json!({"type": ["null", "boolean"]}),
    },
    TypeChange {
        stream: STREAM,
        pointer: "/properties/styleSettings/properties/heading_one_font/properties/underline",
        new: || json!({"type": ["null", "boolean"]}),
    },
];

pub struct HubspotV3;

impl Migration for HubspotV3 {
    fn manifest() -> Manifest {
        Manifest {
            connector: "airbyte/source-hubspot".into(),
            applies_to: ">=2.0.0, <3.0.0".into(),
            produces: "3.0.0".into(),
            message: "This update brings extended schema with data type changes for the Marketing Emails stream. Users will need to refresh it and reset this stream after upgrading.".into(),
            upgrade_deadline: Some("2024-02-12".into()),
            deadline_action: None,
            documentation_url: "https://docs.airbyte.com/integrations/sources/hubspot-migrations#3.0.0".into(),
            scoped_streams: vec![STREAM.into()],
            preconditions: Vec::new(),
            guide: GUIDE.into(),
        }
    }

    const TARGET_CATALOG: Option<&'static Discovered> = Some(&CATALOG);

    fn migrate(connection: Connection) -> Result<Outcome> {
        if let Some(entry) = catalog::find(&connection.catalog, STREAM)
            && entry.get("sync_mode").and_then(Value::as_str) != Some("full_refresh")
        {
            return Err(Error::InvalidInput(format!(
                "{STREAM} is configured with sync_mode {}, but it supports only full_refresh in 2.x and 3.0.0; set it to full_refresh and retry",
                entry.get("sync_mode").unwrap_or(&Value::Null)
            )));
        }
        let mut out = connection.into_outcome();
        let Some(entry) = catalog::find_mut(&mut out.catalog, STREAM) else {
            return Ok(out);
        };
        let descriptor = catalog::descriptor(entry);
        let Some(schema) = entry
            .get_mut("stream")
            .and_then(|s| s.get_mut("json_schema"))
        else {
            return Err(Error::InvalidInput(format!(
                "{STREAM} has no stream.json_schema"
            )));
        };
        let changed = schema::retype(schema, STREAM, TYPE_CHANGES)?;
        if changed.is_empty() {
            out.note(format!("{STREAM}: none of the properties whose type 3.0.0 changes is selected or they already have their 3.0.0 types; nothing to do"));
            return Ok(out);
        }
        out.note(format!("{STREAM}: retyped {}", changed.join("; ")));
        out.action(Action::RefreshSchema {
            reason: format!("3.0.0 extends the {STREAM} schema (rootMicId, stats.qualifierStats, styleSettings fonts and colours, flexAreas.main)"),
        });
        out.action(Action::ClearStream {
            stream: descriptor.unwrap_or_else(|| cutover_plugin::StreamDescriptor::named(STREAM)),
            reason: "aifeatures becomes an object and styleSettings.heading_one_font's bold/italic/underline become booleans; clear the stream so the destination columns are retyped".into(),
        });
        Ok(out)
    }
}

/// The 3.0.0 catalog as an offline `discover` of the real package prints it: every migrated
/// stream it knows gets its schema, sync modes, cursor and primary key.
const CATALOG: Discovered = Discovered::new(
    "3.0.0",
    include_str!("../../../tests/fixtures/source-hubspot/3.0.0/catalog.json"),
);

cutover_plugin::export!(HubspotV3);

const GUIDE: &str = "\
## Upgrading to 3.0.0

This change is only breaking if you sync the `marketing_emails` stream.

3.0.0 extends the `marketing_emails` schema and changes the type of some fields: `aifeatures` \
becomes an object, `styleSettings.heading_one_font` an object whose `bold`, `italic` and \
`underline` are booleans (they were strings).

cutover retypes those fields in the stream's configured schema; everything else, every other \
stream and all state are left as they were.

After applying:
1. Refresh the source schema: 3.0.0 also adds fields to `marketing_emails` (`rootMicId`, \
`stats.qualifierStats`, more `styleSettings`, `flexAreas.main`).
2. Clear `marketing_emails`, so the destination columns whose type changed are rebuilt.
";

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::testing;

    fn connection(catalog: Value) -> Connection {
        let contacts = json!({"updatedAt": "2024-01-01T00:00:00Z"});
        testing::connection("airbyte/source-hubspot", "2.0.2")
            .config(json!({"start_date": "2023-01-01T00:00:00Z", "credentials": {"credentials_title": "Private App Credentials", "access_token": "x"}}))
            .build_with(catalog, vec![testing::stream_state("contacts", contacts)])
    }

    const HUBSPOT: testing::Fixtures = testing::Fixtures(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/source-hubspot"
    ));

    fn entry(stream: Value, mode: &str) -> Value {
        testing::configured(stream, mode, "overwrite")
            .primary_key(json!([["id"]]))
            .into()
    }

    #[test]
    fn type_changes_are_the_real_schema_diff() {
        let diff = testing::type_changes(
            &HUBSPOT.stream("2.0.2", STREAM).unwrap()["json_schema"],
            &HUBSPOT.stream("3.0.0", STREAM).unwrap()["json_schema"],
        );
        let table: Vec<(String, Value)> = TYPE_CHANGES
            .iter()
            .map(|c| (c.pointer.to_owned(), (c.new)()))
            .collect();
        assert_eq!(diff, table);
        // 2.0.0 is 2.0.2 there, and 3.x after 3.0.0 changes no type of the stream.
        let later = testing::type_changes(
            &HUBSPOT.stream("3.0.0", STREAM).unwrap()["json_schema"],
            &HUBSPOT.stream("3.3.0", STREAM).unwrap()["json_schema"],
        );
        assert!(later.is_empty());
    }

    #[test]
    fn retypes_the_real_catalog_and_keeps_the_rest() {
        let other = entry(HUBSPOT.stream("2.0.2", "owners").unwrap(), "full_refresh");
        let catalog = json!({"streams": [entry(HUBSPOT.stream("2.0.2", STREAM).unwrap(), "full_refresh"), other.clone()]});
        let c = connection(catalog);
        let state = c.state.clone();
        let out = HubspotV3::migrate(c).unwrap();
        let schema = &catalog::find(&out.catalog, STREAM).unwrap()["stream"]["json_schema"];
        let left = testing::type_changes(
            schema,
            &HUBSPOT.stream("3.0.0", STREAM).unwrap()["json_schema"],
        );
        assert!(left.is_empty(), "{left:?}");
        assert_eq!(out.catalog["streams"][1], other);
        assert_eq!(out.state, state);
        assert_eq!(out.actions.len(), 2);

        let again = HubspotV3::migrate(connection(out.catalog.clone())).unwrap();
        assert_eq!(again.catalog, out.catalog);
        assert!(again.actions.is_empty());
    }

    #[test]
    fn deselected_fields_and_other_streams_need_nothing() {
        let mut stream = HUBSPOT.stream("2.0.2", STREAM).unwrap();
        let props = stream["json_schema"]["properties"].as_object_mut().unwrap();
        props.shift_remove("aifeatures");
        props.shift_remove("styleSettings");
        let out = HubspotV3::migrate(connection(
            json!({"streams": [entry(stream.clone(), "full_refresh")]}),
        ))
        .unwrap();
        assert_eq!(out.catalog["streams"][0]["stream"], stream);
        assert!(out.actions.is_empty());

        let catalog =
            json!({"streams": [entry(HUBSPOT.stream("2.0.2", "owners").unwrap(), "full_refresh")]});
        let out = HubspotV3::migrate(connection(catalog.clone())).unwrap();
        assert_eq!(out.catalog, catalog);
        assert!(out.actions.is_empty() && out.notes.is_empty());
    }

    #[test]
    fn incremental_marketing_emails_is_refused() {
        let catalog =
            json!({"streams": [entry(HUBSPOT.stream("2.0.2", STREAM).unwrap(), "incremental")]});
        assert!(matches!(
            HubspotV3::migrate(connection(catalog)),
            Err(Error::InvalidInput(_))
        ));
    }

    /// Every stream 2.0.2 discovers leaves as 3.0.0 discovers it.
    #[test]
    fn every_stream_leaves_as_3_0_0_discovers_it() {
        testing::assert_every_stream_conforms(
            HubspotV3::migrate_and_conform,
            connection(json!({})),
            include_str!("../../../tests/fixtures/source-hubspot/2.0.2/catalog.json"),
            include_str!("../../../tests/fixtures/source-hubspot/3.0.0/catalog.json"),
            &[],
        );
    }
}
