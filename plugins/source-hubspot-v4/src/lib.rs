//! source-hubspot 4.0.0, from 3.x: the migration guide of the 4.0.0 breaking change as code.
//!
//! 4.0.0 (airbytehq/airbyte#35662) reads `deals_property_history` and
//! `companies_property_history` from the v3 CRM API (`/crm/v3/objects/{deals,companies}` with
//! `propertiesWithHistory`) instead of the v1/v2 endpoints. Diffing their schemas in
//! airbyte-source-hubspot 3.3.0 (the last 3.x; 3.0.0 differs only by one added field) and
//! 4.0.0 property by property gives exactly these type changes ([`TYPE_CHANGES`]):
//! - `timestamp`: number (epoch milliseconds) → string, `format: date-time`,
//!   `airbyte_type: timestamp_with_timezone`;
//! - `dealId` / `companyId`: number → string.
//!
//! The rest of the diff drops v1-only fields (`portalId`, `isDeleted`, `requestId`, `source`,
//! `sourceVid`, `persistenceTimestamp`, …) and adds `sourceType` and `archived`. Sync modes,
//! cursor (`timestamp`) and primary key (`[entity id, property, timestamp]`) do not change.
//!
//! State: both versions keep `{"timestamp": "<epoch milliseconds>"}` and parse it with the
//! same pendulum format `x` (`PropertyHistory.cursor_field_datetime_format`, unchanged in
//! 4.0.0), so the state is kept byte for byte; a cursor 4.0.0 cannot parse is refused.
//!
//! What this plugin does: retypes those properties in the configured json_schema of each of
//! the two streams the connection syncs; keeps every other stream and all state byte for
//! byte. What it leaves to the operator: refresh the schema (dropped and added fields) and
//! clear each of the two streams it syncs, since the destination columns change type (and
//! their primary key `timestamp` with them).

use cutover_plugin::discovered::Discovered;
use cutover_plugin::schema::{self, TypeChange};
use cutover_plugin::{
    Action, Connection, Error, Manifest, Migration, Outcome, Result, StreamDescriptor, Value,
    catalog, json, state,
};

/// The streams 4.0.0 changes (its `scopedImpact`).
pub const SCOPED: &[&str] = &["deals_property_history", "companies_property_history"];

fn timestamp() -> Value {
    json!({"type": ["null", "string"], "format": "date-time", "airbyte_type": "timestamp_with_timezone"})
}

fn string() -> Value {
    json!({"type": ["null", "string"]})
}

/// Every type change of 4.0.0, from the schemas of 3.3.0 and 4.0.0.
pub const TYPE_CHANGES: &[TypeChange] = &[
    TypeChange {
        stream: "deals_property_history",
        pointer: "/properties/timestamp",
        new: timestamp,
    },
    TypeChange {
        stream: "deals_property_history",
        pointer: "/properties/dealId",
        new: string,
    },
    TypeChange {
        stream: "companies_property_history",
        pointer: "/properties/timestamp",
        new: timestamp,
    },
    TypeChange {
        stream: "companies_property_history",
        pointer: "/properties/companyId",
        new: string,
    },
];

/// The cursor of both streams.
const CURSOR: &str = "timestamp";

pub struct HubspotV4;

impl Migration for HubspotV4 {
    fn manifest() -> Manifest {
        Manifest {
            connector: "airbyte/source-hubspot".into(),
            applies_to: ">=3.0.0, <4.0.0".into(),
            produces: "4.0.0".into(),
            message: "This update brings extended schema with data type changes for the streams `Deals Property History` and `Companies Property History`. Users will need to refresh their schema and reset their streams after upgrading.".into(),
            upgrade_deadline: Some("2024-03-10".into()),
            deadline_action: None,
            documentation_url: "https://docs.airbyte.com/integrations/sources/hubspot-migrations#4.0.0".into(),
            scoped_streams: SCOPED.iter().map(|s| (*s).to_owned()).collect(),
            preconditions: Vec::new(),
            guide: GUIDE.into(),
        }
    }

    const TARGET_CATALOG: Option<&'static Discovered> = Some(&CATALOG);

    fn migrate(connection: Connection) -> Result<Outcome> {
        for name in SCOPED {
            if let Some(s) = state::stream_state(&connection.state, name) {
                check_cursor(name, s)?;
            }
        }
        let mut out = connection.into_outcome();
        let mut retyped: Vec<(StreamDescriptor, Vec<String>)> = Vec::new();
        for name in SCOPED {
            let Some(entry) = catalog::find_mut(&mut out.catalog, name) else {
                continue;
            };
            let descriptor =
                catalog::descriptor(entry).unwrap_or_else(|| StreamDescriptor::named(name));
            let Some(schema) = entry
                .get_mut("stream")
                .and_then(|s| s.get_mut("json_schema"))
            else {
                return Err(Error::InvalidInput(format!(
                    "{name} has no stream.json_schema"
                )));
            };
            retyped.push((descriptor, schema::retype(schema, name, TYPE_CHANGES)?));
        }
        let mut any = false;
        for (stream, changed) in retyped {
            if changed.is_empty() {
                out.note(format!(
                    "{}: its fields already have their 4.0.0 types; nothing to do",
                    stream.name
                ));
                continue;
            }
            any = true;
            out.note(format!("{}: retyped {}", stream.name, changed.join("; ")));
            out.action(Action::ClearStream {
                reason: format!(
                    "{} now comes from the v3 CRM API: timestamp becomes a date-time string and the record id a string, so the destination columns (and the primary key) change type; clear the stream to re-sync it typed the new way",
                    stream.name
                ),
                stream,
            });
        }
        if any {
            out.actions.insert(
                0,
                Action::RefreshSchema {
                    reason: "4.0.0 drops the v1-only fields of deals_property_history and companies_property_history (portalId, isDeleted, sourceVid, …) and adds sourceType and archived".into(),
                },
            );
        }
        Ok(out)
    }
}

/// The 4.0.0 catalog as an offline `discover` of the real package prints it: every migrated
/// stream it knows gets its schema, sync modes, cursor and primary key.
const CATALOG: Discovered = Discovered::new(
    "4.0.0",
    include_str!("../../../tests/fixtures/source-hubspot/4.0.0/catalog.json"),
);

/// 3.x and 4.0.0 both read the cursor with pendulum's format `x`: epoch milliseconds, as a
/// number or a string of digits; an empty string means "from start_date".
fn check_cursor(name: &str, s: &Value) -> Result<()> {
    let Some(cursor) = s.get(CURSOR) else {
        return Err(Error::NeedsOperator(format!(
            "the state of {name} is {s}, with no {CURSOR:?} cursor; clear the stream's state and retry"
        )));
    };
    let ok = match cursor {
        Value::Number(n) => n.is_u64(),
        Value::String(t) => t.is_empty() || t.bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::NeedsOperator(format!(
            "the state of {name} has cursor {CURSOR} = {cursor}, which is not epoch milliseconds as 3.x writes and 4.0.0 reads it; clear the stream's state and retry"
        )))
    }
}

cutover_plugin::export!(HubspotV4);

const GUIDE: &str = "\
## Upgrading to 4.0.0

This change is only breaking if you sync `deals_property_history` or \
`companies_property_history`.

4.0.0 reads both streams from HubSpot's v3 CRM API. Their `timestamp` becomes a date-time \
string (it was epoch milliseconds, a number) and `dealId` / `companyId` a string (it was a \
number). v1-only fields (`portalId`, `isDeleted`, `requestId`, `source`, `sourceVid`, …) are \
gone; `sourceType` and `archived` are new. Cursor and primary key stay the same.

cutover retypes `timestamp` and the id in the configured schema of each of the two streams the \
connection syncs. Their state (epoch milliseconds) is read by 4.0.0 as it is and is kept; \
every other stream and its state are left exactly as they were.

After applying:
1. Refresh the source schema.
2. Clear each of the two streams the connection syncs: their destination columns, primary key \
included, change type.
";

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::testing::{self, stream_state};

    fn connection(catalog: Value, state: Vec<Value>) -> Connection {
        testing::connection("airbyte/source-hubspot", "3.3.0")
            .config(json!({"credentials": {"credentials_title": "Private App Credentials", "access_token": "x"}}))
            .build_with(catalog, state)
    }

    const HUBSPOT: testing::Fixtures = testing::Fixtures(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/source-hubspot"
    ));

    fn entry(stream: Value, mode: &str) -> Value {
        let pk = stream["source_defined_primary_key"].clone();
        testing::configured(stream, mode, "append_dedup")
            .cursor(&["timestamp"])
            .primary_key(pk)
            .into()
    }

    #[test]
    fn type_changes_are_the_real_schema_diff() {
        for from in ["3.0.0", "3.3.0"] {
            for name in SCOPED {
                let diff = testing::type_changes(
                    &HUBSPOT.stream(from, name).unwrap()["json_schema"],
                    &HUBSPOT.stream("4.0.0", name).unwrap()["json_schema"],
                );
                let table: Vec<(String, Value)> = TYPE_CHANGES
                    .iter()
                    .filter(|c| c.stream == *name)
                    .map(|c| (c.pointer.to_owned(), (c.new)()))
                    .collect();
                assert_eq!(diff, table, "{from} {name}");
                let (old, new) = (
                    HUBSPOT.stream(from, name).unwrap(),
                    HUBSPOT.stream("4.0.0", name).unwrap(),
                );
                for key in [
                    "supported_sync_modes",
                    "default_cursor_field",
                    "source_defined_primary_key",
                ] {
                    assert_eq!(old[key], new[key], "{name} {key}");
                }
            }
        }
    }

    #[test]
    fn retypes_both_streams_and_keeps_state() {
        let other = entry(
            HUBSPOT
                .stream("3.3.0", "contacts_property_history")
                .unwrap(),
            "incremental",
        );
        let catalog = json!({"streams": [entry(HUBSPOT.stream("3.3.0", "deals_property_history").unwrap(), "incremental"), other.clone(),
                                         entry(HUBSPOT.stream("3.3.0", "companies_property_history").unwrap(), "full_refresh")]});
        let states = vec![
            stream_state(
                "deals_property_history",
                json!({"timestamp": "1709251200000"}),
            ),
            stream_state(
                "contacts_property_history",
                json!({"timestamp": 1709251200000u64}),
            ),
        ];
        let out = HubspotV4::migrate(connection(catalog, states.clone())).unwrap();
        for name in SCOPED {
            let left = testing::type_changes(
                &catalog::find(&out.catalog, name).unwrap()["stream"]["json_schema"],
                &HUBSPOT.stream("4.0.0", name).unwrap()["json_schema"],
            );
            assert!(left.is_empty(), "{name}: {left:?}");
        }
        assert_eq!(out.catalog["streams"][1], other);
        assert_eq!(out.state, states);
        assert!(matches!(out.actions[0], Action::RefreshSchema { .. }));
        let cleared = testing::cleared(&out);
        assert_eq!(cleared, SCOPED);

        let again = HubspotV4::migrate(connection(out.catalog.clone(), out.state.clone())).unwrap();
        assert_eq!(again.catalog, out.catalog);
        assert!(again.actions.is_empty());
    }

    #[test]
    fn connections_without_the_streams_only_change_version() {
        let catalog = json!({"streams": [entry(HUBSPOT.stream("3.3.0", "contacts_property_history").unwrap(), "incremental")]});
        let states = vec![stream_state(
            "contacts_property_history",
            json!({"timestamp": 1}),
        )];
        let out = HubspotV4::migrate(connection(catalog.clone(), states.clone())).unwrap();
        assert_eq!((out.catalog, out.state), (catalog, states));
        assert!(out.actions.is_empty() && out.notes.is_empty());
    }

    #[test]
    fn unreadable_cursors_are_refused() {
        let catalog = json!({"streams": [entry(HUBSPOT.stream("3.3.0", "deals_property_history").unwrap(), "incremental")]});
        for bad in [
            json!({"timestamp": "2024-03-01T00:00:00Z"}),
            json!({"updatedAt": 1}),
            json!({"timestamp": -5}),
        ] {
            let r = HubspotV4::migrate(connection(
                catalog.clone(),
                vec![stream_state("deals_property_history", bad)],
            ));
            assert!(matches!(r, Err(Error::NeedsOperator(_))));
        }
        for good in [
            json!({"timestamp": ""}),
            json!({"timestamp": 1709251200000u64}),
        ] {
            assert!(
                HubspotV4::migrate(connection(
                    catalog.clone(),
                    vec![stream_state("deals_property_history", good)]
                ))
                .is_ok()
            );
        }
    }

    /// Every stream 3.3.0 discovers leaves as 4.0.0 discovers it.
    #[test]
    fn every_stream_leaves_as_4_0_0_discovers_it() {
        testing::assert_every_stream_conforms(
            HubspotV4::migrate_and_conform,
            connection(json!({}), vec![]),
            include_str!("../../../tests/fixtures/source-hubspot/3.3.0/catalog.json"),
            include_str!("../../../tests/fixtures/source-hubspot/4.0.0/catalog.json"),
            &[],
        );
    }
}
