//! source-hubspot 2.0.0, from 1.x: the migration guide of the 2.0.0 breaking change as code.
//!
//! 2.0.0 (airbytehq/airbyte#33266) retired the `property_history` stream. What it held, the
//! history of every *contact* property read from the v1 contacts endpoint
//! (`/contacts/v1/lists/all/contacts/all` with `propertyMode=value_and_history`, records keyed
//! by `vid`; see `PropertyHistory` in airbyte-source-hubspot 1.4.1), is now the
//! `contacts_property_history` stream, beside two new streams `companies_property_history`
//! and `deals_property_history`. The breaking change has no `scopedImpact`: it names the
//! whole connector, but only connections that sync `property_history` are affected.
//!
//! What this plugin does: replaces the configured `property_history` stream by
//! `contacts_property_history` with the AirbyteStream 2.0.0 declares (schema with the new
//! `portal-id`, `is-contact` and `canonical-vid` fields, full refresh and incremental on
//! `timestamp`, primary key `vid`), keeping the user's sync mode, destination sync mode and
//! namespace where 2.0.0 supports them; drops the `property_history` state, since the new
//! stream lands in a new destination table that must be filled from `start_date`. Every other
//! stream and its state are kept byte for byte. What it leaves to the operator: refresh the
//! source schema, clear `contacts_property_history`, and drop the old `property_history`
//! table in the destination if it is no longer wanted. The two new streams are not added:
//! syncing them is the operator's choice.

use cutover_plugin::discovered::Discovered;
use cutover_plugin::{
    Action, Connection, Error, Manifest, Migration, Outcome, Result, StreamDescriptor, Value,
    catalog, state,
};

/// The stream 2.0.0 retired.
pub const OLD: &str = "property_history";
/// The stream that carries its data in 2.0.0.
pub const NEW: &str = "contacts_property_history";

/// `contacts_property_history` as airbyte-source-hubspot 2.0.0 declares it (from
/// tests/fixtures/source-hubspot/2.0.0/catalog.json: an offline discover of 2.0.2 with the
/// primary key 2.0.0 declared, see regenerate.sh there).
const DECLARED: &str = include_str!("contacts_property_history.json");

pub struct HubspotV2;

impl Migration for HubspotV2 {
    fn manifest() -> Manifest {
        Manifest {
            connector: "airbyte/source-hubspot".into(),
            applies_to: ">=1.0.0, <2.0.0".into(),
            produces: "2.0.0".into(),
            message: "This version replaces the `Property History` stream in favor of creating 3 different streams: `Contacts`, `Companies`, and `Deals`, which can now all fetch their property history. It will affect only users who use `Property History` stream, who will need to fix schema conflicts and sync `Contacts Property History` stream instead of `Property History`.".into(),
            upgrade_deadline: Some("2024-01-15".into()),
            deadline_action: None,
            documentation_url: "https://docs.airbyte.com/integrations/sources/hubspot-migrations#2.0.0".into(),
            scoped_streams: Vec::new(),
            preconditions: Vec::new(),
            guide: GUIDE.into(),
        }
    }

    const TARGET_CATALOG: Option<&'static Discovered> = Some(&CATALOG);

    fn migrate(connection: Connection) -> Result<Outcome> {
        let mut out = connection.into_outcome();
        let has_old = catalog::find(&out.catalog, OLD).is_some();
        let has_new = catalog::find(&out.catalog, NEW).is_some();
        if has_old && has_new {
            return Err(Error::UnsupportedShape(format!(
                "the catalog configures both {OLD} and {NEW}; 1.x has no {NEW} stream and 2.0.0 no {OLD}: remove one of them and retry"
            )));
        }
        if has_old && state::stream_state(&out.state, NEW).is_some() {
            return Err(Error::UnsupportedShape(format!(
                "the state already holds {NEW}, which 1.x does not have; remove that state message and retry"
            )));
        }

        let mut dropped = Vec::new();
        while let Some(old) = state::remove_stream(&mut out.state, OLD) {
            dropped.push(old);
        }

        if has_old {
            let declared: Value =
                serde_json::from_str(DECLARED).expect("the embedded AirbyteStream is valid JSON");
            let entry = catalog::find_mut(&mut out.catalog, OLD).expect("checked above");
            let before = entry.clone();
            let changed = catalog::refresh_stream(entry, &declared);
            if entry.get("sync_mode").and_then(Value::as_str) == Some("incremental")
                && entry.get("cursor_field").is_none()
            {
                entry["cursor_field"] = declared["default_cursor_field"].clone();
            }
            let descriptor =
                catalog::descriptor(entry).unwrap_or_else(|| StreamDescriptor::named(NEW));
            let choices: Vec<String> = changed
                .into_iter()
                .map(|what| {
                    format!(
                        "{NEW}: {what} {} became {}, as 2.0.0 declares it",
                        show(before.get(what)),
                        show(entry.get(what))
                    )
                })
                .collect();
            out.note(format!(
                "{OLD} is now {NEW} (the same contact property history, from the same v1 endpoint), with the AirbyteStream 2.0.0 declares: fields portal-id, is-contact and canonical-vid added, incremental on timestamp supported"
            ));
            for note in choices {
                out.note(note);
            }
            out.action(Action::RefreshSchema {
                reason: format!("2.0.0 replaces {OLD} by {NEW} and adds companies_property_history and deals_property_history"),
            });
            out.action(Action::ClearStream {
                stream: descriptor,
                reason: format!("{NEW} is a new destination table; clear it so it is filled from start_date, and drop the old {OLD} table if it is no longer wanted"),
            });
        }
        for old in dropped {
            out.note(format!(
                "{OLD}: state {old} dropped; 2.0.0 has no such stream and {NEW} starts from start_date"
            ));
        }
        Ok(out)
    }
}

/// The 2.0.0 catalog as an offline `discover` of the real package prints it: every migrated
/// stream it knows gets its schema, sync modes, cursor and primary key.
const CATALOG: Discovered = Discovered::new(
    "2.0.0",
    include_str!("../../../tests/fixtures/source-hubspot/2.0.0/catalog.json"),
);

fn show(v: Option<&Value>) -> String {
    v.map(Value::to_string).unwrap_or_else(|| "(unset)".into())
}

cutover_plugin::export!(HubspotV2);

const GUIDE: &str = "\
## Upgrading to 2.0.0

This change is only breaking if you sync the `property_history` stream.

`property_history` held the history of contact properties. 2.0.0 renames it \
`contacts_property_history` (same endpoint, three more fields: `portal-id`, `is-contact`, \
`canonical-vid`; full refresh and incremental on `timestamp`; primary key `vid`) and adds \
`companies_property_history` and `deals_property_history`.

cutover replaces `property_history` in the configured catalog by `contacts_property_history` as \
2.0.0 declares it, keeping your sync mode, destination sync mode and namespace, and drops the \
`property_history` state: the new stream writes a new destination table, which has to be filled \
from `start_date`. Every other stream and its state are left exactly as they were.

After applying:
1. Refresh the source schema (enable `companies_property_history` or `deals_property_history` \
if you want them).
2. Clear `contacts_property_history`.
3. Drop the old `property_history` table in the destination if you no longer need it: nothing \
writes to it any more.
";

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::json;
    use cutover_plugin::testing::{self, stream_state};

    fn connection(catalog: Value, state: Vec<Value>) -> Connection {
        testing::connection("airbyte/source-hubspot", "1.4.1")
            .config(json!({"start_date": "2023-01-01T00:00:00Z", "credentials": {"credentials_title": "Private App Credentials", "access_token": "x"}}))
            .build_with(catalog, state)
    }

    fn entry(name: &str, mode: &str, dest: &str) -> Value {
        let stream = json!({"name": name, "json_schema": {"type": "object"}, "supported_sync_modes": ["full_refresh", "incremental"]});
        testing::configured(stream, mode, dest).into()
    }

    #[test]
    fn property_history_becomes_contacts_property_history() {
        let mut old = entry(OLD, "full_refresh", "append_dedup");
        old["primary_key"] = json!([["vid"]]);
        let catalog = json!({"streams": [old, entry("contacts", "incremental", "append")]});
        let states = vec![
            stream_state("contacts", json!({"updatedAt": 1700000000000u64})),
            stream_state(OLD, json!({"timestamp": 1700000000000u64})),
        ];
        let out = HubspotV2::migrate(connection(catalog.clone(), states.clone())).unwrap();
        let new = catalog::find(&out.catalog, NEW).unwrap();
        assert_eq!(
            new["stream"],
            serde_json::from_str::<Value>(DECLARED).unwrap()
        );
        assert_eq!(new["sync_mode"], "full_refresh");
        assert_eq!(new["destination_sync_mode"], "append_dedup");
        assert_eq!(new["primary_key"], json!([["vid"]]));
        assert!(catalog::find(&out.catalog, OLD).is_none());
        assert_eq!(out.catalog["streams"][1], catalog["streams"][1]);
        assert_eq!(out.state, vec![states[0].clone()]);
        assert!(matches!(out.actions[0], Action::RefreshSchema { .. }));
        assert!(
            matches!(&out.actions[1], Action::ClearStream { stream, .. } if stream.name == NEW)
        );
    }

    #[test]
    fn incremental_gets_the_declared_cursor() {
        let catalog = json!({"streams": [entry(OLD, "incremental", "append")]});
        let out = HubspotV2::migrate(connection(
            catalog,
            vec![json!({"data": {OLD: {"timestamp": 1}, "contacts": {"updatedAt": 2}}})],
        ))
        .unwrap();
        let new = catalog::find(&out.catalog, NEW).unwrap();
        assert_eq!(new["sync_mode"], "incremental");
        assert_eq!(new["cursor_field"], json!(["timestamp"]));
        assert_eq!(
            out.state,
            vec![json!({"data": {"contacts": {"updatedAt": 2}}})]
        );
    }

    #[test]
    fn other_connections_only_change_version() {
        let catalog = json!({"streams": [entry("contacts", "incremental", "append")]});
        let states = vec![stream_state("contacts", json!({"updatedAt": 1}))];
        let out = HubspotV2::migrate(connection(catalog.clone(), states.clone())).unwrap();
        assert_eq!((out.catalog, out.state), (catalog, states));
        assert!(out.actions.is_empty() && out.notes.is_empty());
    }

    #[test]
    fn migrating_its_own_output_changes_nothing() {
        let catalog = json!({"streams": [entry(OLD, "incremental", "append")]});
        let once = HubspotV2::migrate(connection(
            catalog,
            vec![stream_state(OLD, json!({"timestamp": 1}))],
        ))
        .unwrap();
        let twice =
            HubspotV2::migrate(connection(once.catalog.clone(), once.state.clone())).unwrap();
        assert_eq!((&once.catalog, &once.state), (&twice.catalog, &twice.state));
        assert!(twice.actions.is_empty());
    }

    #[test]
    fn both_streams_are_refused() {
        let catalog = json!({"streams": [entry(OLD, "full_refresh", "overwrite"), entry(NEW, "full_refresh", "overwrite")]});
        assert!(matches!(
            HubspotV2::migrate(connection(catalog, vec![])),
            Err(Error::UnsupportedShape(_))
        ));
    }

    #[test]
    fn declared_stream_is_the_fixture_one() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/source-hubspot/2.0.0/catalog.json"
        );
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let stream = fixture["streams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == NEW)
            .unwrap();
        assert_eq!(*stream, serde_json::from_str::<Value>(DECLARED).unwrap());
        // 1.x's property_history is the contacts one: same endpoint entity, same key.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/source-hubspot/1.4.1/catalog.json"
        );
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let old = fixture["streams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == OLD)
            .unwrap();
        assert_eq!(
            old["source_defined_primary_key"],
            stream["source_defined_primary_key"]
        );
        for (field, _) in old["json_schema"]["properties"].as_object().unwrap() {
            assert!(
                stream["json_schema"]["properties"].get(field).is_some(),
                "{field} is kept in {NEW}"
            );
        }
    }

    /// Every stream 1.4.1 discovers leaves as 2.0.0 discovers it.
    #[test]
    fn every_stream_leaves_as_2_0_0_discovers_it() {
        testing::assert_every_stream_conforms(
            HubspotV2::migrate_and_conform,
            connection(json!({}), vec![]),
            include_str!("../../../tests/fixtures/source-hubspot/1.4.1/catalog.json"),
            include_str!("../../../tests/fixtures/source-hubspot/2.0.0/catalog.json"),
            &[],
        );
    }
}
