//! source-hubspot 5.0.0, from 4.x: the migration guide of the 5.0.0 breaking change as code.
//!
//! HubSpot retires its v1 contacts API (2025-09-30). 5.0.0 removes the three streams that
//! only that API served, `contacts_form_submissions`, `contacts_list_memberships` and
//! `contacts_merged_audit` (all read from `/contacts/v1/lists/all/contacts/all` in
//! airbyte-source-hubspot 4.12.2, absent from 5.0.0), and moves `contact_lists` from
//! `/contacts/v1/lists` to the v3 lists search (`/crm/v3/lists/search`, a low-code stream in
//! 5.0.0's manifest): its schema is the v3 one (`listId` becomes a string, `updatedAt` a
//! date-time, `metaData` and `filters` are gone, `processingType`, `objectTypeId`,
//! `additionalProperties`, … are new). Cursor `updatedAt` and primary key `listId` stay.
//! `deadlineAction: auto_upgrade`: connections left alone are upgraded on 2025-06-15.
//!
//! What this plugin does: removes the three streams from the configured catalog and their
//! state from every state message, saying in a note what each one synced and what state is
//! dropped (5.0.0 would fail on a catalog that still names them); replaces what the catalog
//! declares about `contact_lists` with the AirbyteStream 5.0.0 declares, keeping the user's
//! sync mode, cursor, primary key and destination sync mode; keeps the `contact_lists` state,
//! which 5.0.0 reads (4.x writes `{"updatedAt": <epoch ms>}`, and 5.0.0's cursor accepts
//! `%ms` among its `cursor_datetime_formats`). Every other stream and its state are kept byte
//! for byte. What it leaves to the operator: refresh the schema, clear `contact_lists`
//! (v3 list ids are not the v1 ones, so deduplicated rows would not match), drop the
//! destination tables of the removed streams if they are no longer wanted, and enable
//! `form_submissions` in place of `contacts_form_submissions` if needed.

use cutover_plugin::discovered::Discovered;
use cutover_plugin::{
    Action, Connection, DeadlineAction, Error, Manifest, Migration, Outcome, Result,
    StreamDescriptor, Value, catalog, state,
};

/// The streams 5.0.0 removes.
pub const REMOVED: &[&str] = &[
    "contacts_form_submissions",
    "contacts_list_memberships",
    "contacts_merged_audit",
];
/// The stream 5.0.0 moves to the v3 API.
pub const MOVED: &str = "contact_lists";
/// The connector's `scopedImpact` for 5.0.0.
pub const SCOPED: &[&str] = &[
    "contact_lists",
    "contacts_form_submissions",
    "contacts_list_memberships",
    "contacts_merged_audit",
];

/// `contact_lists` as airbyte-source-hubspot 5.0.0 declares it (from
/// tests/fixtures/source-hubspot/5.0.0/catalog.json, an offline discover of the package).
const DECLARED: &str = include_str!("contact_lists.json");

/// The cursor of `contact_lists`.
const CURSOR: &str = "updatedAt";

pub struct HubspotV5;

impl Migration for HubspotV5 {
    fn manifest() -> Manifest {
        Manifest {
            connector: "airbyte/source-hubspot".into(),
            applies_to: ">=4.0.0, <5.0.0".into(),
            produces: "5.0.0".into(),
            message: "This update deprecates the `contacts_form_submissions`, `contacts_list_memberships`, and `contacts_merged_audit` streams from the source because they are no longer supported in Hubspot's V3 API and the V1 API is being deprecated on 2025-09-30. Updates the `contact_lists` stream to use V3 API, which contains changes to the schema due to old fields no longer exposed by the V3 API. Users will need to refresh the source schema and clear the stream.".into(),
            upgrade_deadline: Some("2025-06-15".into()),
            deadline_action: Some(DeadlineAction::AutoUpgrade),
            documentation_url: "https://docs.airbyte.com/integrations/sources/hubspot-migrations#5.0.0".into(),
            scoped_streams: SCOPED.iter().map(|s| (*s).to_owned()).collect(),
            preconditions: Vec::new(),
            guide: GUIDE.into(),
        }
    }

    const TARGET_CATALOG: Option<&'static Discovered> = Some(&CATALOG);

    fn migrate(connection: Connection) -> Result<Outcome> {
        if let Some(s) = state::stream_state(&connection.state, MOVED) {
            check_cursor(s)?;
        }
        let mut out = connection.into_outcome();
        let mut removed_any = false;

        for name in REMOVED {
            let entry = remove_entry(&mut out.catalog, name);
            let mut dropped = Vec::new();
            while let Some(old) = state::remove_stream(&mut out.state, name) {
                dropped.push(old.to_string());
            }
            if entry.is_none() && dropped.is_empty() {
                continue;
            }
            removed_any = true;
            let mut note =
                format!("{name}: removed in 5.0.0 (HubSpot's v1 contacts API is retired)");
            if let Some(e) = &entry {
                let mode = |k: &str| {
                    e.get(k)
                        .and_then(Value::as_str)
                        .unwrap_or("unset")
                        .to_owned()
                };
                note.push_str(&format!(
                    "; taken out of the catalog, where it synced {} into {}: that destination table is no longer written",
                    mode("sync_mode"),
                    mode("destination_sync_mode")
                ));
            }
            if !dropped.is_empty() {
                note.push_str(&format!("; its state {} is dropped", dropped.join(", ")));
            }
            if *name == "contacts_form_submissions" {
                note.push_str("; the form_submissions stream carries similar data");
            }
            out.note(note);
        }
        if removed_any && catalog::streams(&out.catalog).is_empty() {
            out.note("the connection syncs no stream any more: every stream it synced was removed in 5.0.0");
        }

        let mut cleared = None;
        if let Some(entry) = catalog::find_mut(&mut out.catalog, MOVED) {
            let declared: Value =
                serde_json::from_str(DECLARED).expect("the embedded AirbyteStream is valid JSON");
            let mut wanted = declared.clone();
            if let Some(ns) = entry.get("stream").and_then(|s| s.get("namespace")) {
                wanted["namespace"] = ns.clone();
            }
            if entry.get("stream") != Some(&wanted) {
                let before = entry.clone();
                let changed = catalog::refresh_stream(entry, &declared);
                let descriptor =
                    catalog::descriptor(entry).unwrap_or_else(|| StreamDescriptor::named(MOVED));
                let notes: Vec<String> = changed
                    .into_iter()
                    .map(|what| {
                        format!(
                            "{MOVED}: {what} {} became {}, as 5.0.0 declares it",
                            show(before.get(what)),
                            show(entry.get(what))
                        )
                    })
                    .collect();
                cleared = Some((descriptor, notes));
            }
        }
        if let Some((_, notes)) = &cleared {
            out.note(format!(
                "{MOVED}: now read from HubSpot's v3 lists API, declared as 5.0.0 declares it (listId a string, updatedAt a date-time; metaData and filters gone; processingType, objectTypeId, additionalProperties and more added); its state is kept, 5.0.0 reads the epoch-millisecond cursor"
            ));
            for note in notes {
                out.note(note.clone());
            }
        }

        if removed_any || cleared.is_some() {
            out.action(Action::RefreshSchema {
                reason: "5.0.0 removes contacts_form_submissions, contacts_list_memberships and contacts_merged_audit and gives contact_lists the v3 lists schema".into(),
            });
        }
        if let Some((stream, _)) = cleared {
            out.action(Action::ClearStream {
                stream,
                reason: "contact_lists now comes from the v3 lists API, whose list ids and fields differ from v1's; clear it so the destination holds only v3 lists".into(),
            });
        }
        Ok(out)
    }
}

/// The 5.0.0 catalog as an offline `discover` of the real package prints it: every migrated
/// stream it knows gets its schema, sync modes, cursor and primary key.
const CATALOG: Discovered = Discovered::new(
    "5.0.0",
    include_str!("../../../tests/fixtures/source-hubspot/5.0.0/catalog.json"),
);

/// Removes the configured entry of `name`, returning it.
fn remove_entry(catalog: &mut Value, name: &str) -> Option<Value> {
    let streams = catalog.get_mut("streams")?.as_array_mut()?;
    let i = streams.iter().position(|e| {
        e.get("stream")
            .and_then(|s| s.get("name"))
            .and_then(Value::as_str)
            == Some(name)
    })?;
    Some(streams.remove(i))
}

/// 5.0.0 parses the `contact_lists` cursor with `%ms` (4.x writes epoch milliseconds) or one
/// of three ISO formats; an empty state starts from start_date.
fn check_cursor(s: &Value) -> Result<()> {
    let Some(cursor) = s.get(CURSOR) else {
        if s.as_object().is_some_and(|o| o.is_empty()) {
            return Ok(());
        }
        return Err(Error::NeedsOperator(format!(
            "the state of {MOVED} is {s}, with no {CURSOR:?} cursor; clear the stream's state and retry"
        )));
    };
    let iso = |t: &str| {
        let b = t.as_bytes();
        b.len() >= 19
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[4] == b'-'
            && b[7] == b'-'
            && (b[10] == b'T' || b[10] == b' ')
    };
    let ok = match cursor {
        Value::Number(n) => n.is_u64(),
        Value::String(t) => (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())) || iso(t),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::NeedsOperator(format!(
            "the state of {MOVED} has cursor {CURSOR} = {cursor}, which 5.0.0 cannot parse (it reads epoch milliseconds or an ISO date-time); clear the stream's state and retry"
        )))
    }
}

fn show(v: Option<&Value>) -> String {
    v.map(Value::to_string).unwrap_or_else(|| "(unset)".into())
}

cutover_plugin::export!(HubspotV5);

const GUIDE: &str = "\
## Upgrading to 5.0.0

This change is only breaking if you sync `contact_lists`, `contacts_form_submissions`, \
`contacts_list_memberships` or `contacts_merged_audit`. Its deadline action is auto-upgrade: \
connections not migrated by 2025-06-15 are upgraded anyway.

HubSpot retires its v1 contacts API. 5.0.0 removes `contacts_form_submissions`, \
`contacts_list_memberships` and `contacts_merged_audit`, which only that API served, and reads \
`contact_lists` from the v3 lists API, with the v3 schema (`listId` is a string, `updatedAt` a \
date-time; `metaData` and `filters` are gone).

cutover removes the three streams from the configured catalog and drops their state (the plan's \
notes list what each one synced and which state is dropped), declares `contact_lists` as 5.0.0 \
does while keeping your sync mode, cursor and primary key, and keeps its state, which 5.0.0 \
reads. Every other stream and its state are left exactly as they were.

After applying:
1. Refresh the source schema.
2. Clear `contact_lists`: v3 list ids differ from v1's.
3. Drop the destination tables of the removed streams if you no longer need them; enable \
`form_submissions` if you used `contacts_form_submissions`.
";

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::json;
    use cutover_plugin::testing::{self, stream_state};

    fn connection(catalog: Value, state: Vec<Value>) -> Connection {
        testing::connection("airbyte/source-hubspot", "4.12.2")
            .config(json!({"credentials": {"credentials_title": "Private App Credentials", "access_token": "x"}}))
            .build_with(catalog, state)
    }

    const HUBSPOT: testing::Fixtures = testing::Fixtures(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/source-hubspot"
    ));

    fn entry(name: &str, mode: &str) -> Value {
        let stream = HUBSPOT.stream("4.12.2", name).unwrap();
        let mut e = json!({"stream": stream, "sync_mode": mode, "destination_sync_mode": "append"});
        if mode == "incremental" {
            e["cursor_field"] = e["stream"]["default_cursor_field"].clone();
        }
        e
    }

    #[test]
    fn the_streams_are_the_real_ones() {
        for name in REMOVED {
            assert!(
                HUBSPOT.stream("4.12.2", name).is_some() && HUBSPOT.stream("5.0.0", name).is_none(),
                "{name}"
            );
        }
        assert_eq!(
            HUBSPOT.stream("5.0.0", MOVED).unwrap(),
            serde_json::from_str::<Value>(DECLARED).unwrap()
        );
        let old = HUBSPOT.stream("4.12.2", MOVED).unwrap();
        let new = HUBSPOT.stream("5.0.0", MOVED).unwrap();
        assert_eq!(old["default_cursor_field"], new["default_cursor_field"]);
        assert_eq!(
            old["source_defined_primary_key"],
            new["source_defined_primary_key"]
        );
        assert_eq!(SCOPED.len(), REMOVED.len() + 1);
    }

    #[test]
    fn removes_three_streams_and_redeclares_contact_lists() {
        let contacts = entry("contacts", "incremental");
        let catalog = json!({"streams": [entry("contacts_list_memberships", "incremental"), contacts.clone(), entry(MOVED, "incremental"),
                                         entry("contacts_merged_audit", "full_refresh")]});
        let states = vec![
            stream_state("contacts_list_memberships", json!({"timestamp": 1})),
            stream_state("contacts", json!({"updatedAt": "2025-05-01T00:00:00Z"})),
            json!({"data": {MOVED: {"updatedAt": 1746057600000u64}, "contacts_form_submissions": {"vid-offset": 5}}}),
        ];
        let out = HubspotV5::migrate(connection(catalog, states.clone())).unwrap();
        let names: Vec<_> = catalog::streams(&out.catalog)
            .iter()
            .map(|e| e["stream"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["contacts", MOVED]);
        assert_eq!(out.catalog["streams"][0], contacts);
        let lists = catalog::find(&out.catalog, MOVED).unwrap();
        assert_eq!(
            lists["stream"],
            serde_json::from_str::<Value>(DECLARED).unwrap()
        );
        assert_eq!(lists["sync_mode"], "incremental");
        assert_eq!(lists["cursor_field"], json!(["updatedAt"]));
        assert_eq!(
            out.state,
            vec![
                states[1].clone(),
                json!({"data": {MOVED: {"updatedAt": 1746057600000u64}}})
            ]
        );
        assert!(matches!(out.actions[0], Action::RefreshSchema { .. }));
        assert!(
            matches!(&out.actions[1], Action::ClearStream { stream, .. } if stream.name == MOVED)
        );
        assert_eq!(
            out.notes
                .iter()
                .filter(|n| n.contains("removed in 5.0.0"))
                .count(),
            3
        );

        let again = HubspotV5::migrate(connection(out.catalog.clone(), out.state.clone())).unwrap();
        assert_eq!((&again.catalog, &again.state), (&out.catalog, &out.state));
        assert!(again.actions.is_empty() && again.notes.is_empty());
    }

    #[test]
    fn other_connections_only_change_version() {
        let catalog = json!({"streams": [entry("contacts", "incremental"), entry("form_submissions", "full_refresh")]});
        let states = vec![stream_state(
            "contacts",
            json!({"updatedAt": "2025-05-01T00:00:00Z"}),
        )];
        let out = HubspotV5::migrate(connection(catalog.clone(), states.clone())).unwrap();
        assert_eq!((out.catalog, out.state), (catalog, states));
        assert!(out.actions.is_empty() && out.notes.is_empty());
    }

    #[test]
    fn contact_lists_cursors_are_checked() {
        let catalog = json!({"streams": [entry(MOVED, "incremental")]});
        for good in [
            json!({"updatedAt": 1746057600000u64}),
            json!({"updatedAt": "2025-05-01T00:00:00.000000Z"}),
            json!({}),
        ] {
            assert!(
                HubspotV5::migrate(connection(catalog.clone(), vec![stream_state(MOVED, good)]))
                    .is_ok()
            );
        }
        for bad in [json!({"updatedAt": "last week"}), json!({"timestamp": 1})] {
            assert!(matches!(
                HubspotV5::migrate(connection(catalog.clone(), vec![stream_state(MOVED, bad)])),
                Err(Error::NeedsOperator(_))
            ));
        }
    }

    /// Every stream 4.12.2 discovers leaves as 5.0.0 discovers it.
    #[test]
    fn every_stream_leaves_as_5_0_0_discovers_it() {
        testing::assert_every_stream_conforms(
            HubspotV5::migrate_and_conform,
            connection(json!({}), vec![]),
            include_str!("../../../tests/fixtures/source-hubspot/4.12.2/catalog.json"),
            include_str!("../../../tests/fixtures/source-hubspot/5.0.0/catalog.json"),
            &[],
        );
    }
}
