//! source-mssql 3.0.0, from 2.x: the migration guide of the 3.0.0 breaking change as code.
//!
//! What 3.0.0 changed (the `breakingChanges` entry and the guide's table), read from the
//! connector's code at the commits that released 2.0.4 and 3.0.0: columns of type date,
//! datetime, datetime2, datetimeoffset, smalldatetime and time get their Airbyte types
//! (`MssqlSourceOperations.getAirbyteType`, new in 3.0.0: date, time, timestamp without and
//! with time zone). 2.x declared every one of them as `{"type": "string"}`, exactly as it
//! declares char and varchar columns (the Java CDK 0.4.1's `getAirbyteType` maps DATE, TIME
//! and TIMESTAMP to STRING; datetimeoffset, a type JDBC does not know, was read as VARCHAR).
//! So a connection's catalog cannot say which of its plain string columns are dates: only a
//! schema refresh on 3.0.0 can. A stream with no plain string column (the CDC metadata
//! columns `_ab_cdc_*` aside) is not affected.
//!
//! The guide: refresh the schema but do *not* reset; the platform propagates the type change
//! to the destination at the next sync; if that sync fails, reset. What fails, in the code: a
//! datetimeoffset column used as an incremental cursor. 2.x saved its cursor as SQL Server's
//! text (`2023-11-01 10:00:00.0000000 +01:00`, read as VARCHAR); 3.0.0 binds a timestamp
//! with time zone cursor with `OffsetDateTime.parse`, which that text fails. Such a stream's
//! state is dropped and a clear asked for, the reset the guide prescribes for it, before the
//! sync fails instead of after. Every other state is kept (datetime, date and time columns
//! keep their JDBC types, so their cursors keep their format).

use cutover_plugin::{
    Action, Connection, Manifest, Migration, Outcome, Result, StreamDescriptor, Value, catalog,
    catalog::StreamColumns, schema, state,
};

/// The columns of a configured stream that may be date or time columns 3.0.0 retypes: how
/// 2.x declared every one of them, and every text column (the CDC metadata columns aside).
fn plain_string_columns(entry: &Value) -> Vec<&str> {
    schema::bare_typed(&entry["stream"]["json_schema"], "string")
        .into_iter()
        .filter(|name| !name.starts_with("_ab_cdc_"))
        .collect()
}

/// Whether `value` is SQL Server's text of a datetimeoffset (`yyyy-MM-dd HH:mm:ss[.f…]
/// ±hh:mm`), which 2.x saved as the cursor of a datetimeoffset column.
fn is_datetimeoffset_text(value: &str) -> bool {
    let digits = |s: &str, shape: &str| {
        s.len() == shape.len()
            && s.chars()
                .zip(shape.chars())
                .all(|(c, p)| if p == 'd' { c.is_ascii_digit() } else { c == p })
    };
    let parts: Vec<&str> = value.split(' ').collect();
    let [date, time, offset] = parts[..] else {
        return false;
    };
    let (seconds, fraction) = time.split_once('.').unwrap_or((time, "0"));
    digits(date, "dddd-dd-dd")
        && digits(seconds, "dd:dd:dd")
        && !fraction.is_empty()
        && fraction.chars().all(|c| c.is_ascii_digit())
        && offset.len() == 6
        && matches!(&offset[..1], "+" | "-")
        && digits(&offset[1..], "dd:dd")
}

/// The descriptor of a `STREAM` state message whose cursor 3.0.0 cannot read.
fn offset_cursor_stream(message: &Value) -> Option<StreamDescriptor> {
    if state::kind(message) != Some(state::Kind::Stream) {
        return None;
    }
    let stream = &message["stream"];
    let cursor = stream["stream_state"].get("cursor")?.as_str()?;
    if !is_datetimeoffset_text(cursor) {
        return None;
    }
    StreamDescriptor::from_json(&stream["stream_descriptor"])
}

pub struct MssqlV3;

impl Migration for MssqlV3 {
    fn manifest() -> Manifest {
        Manifest {
            connector: "airbyte/source-mssql".into(),
            applies_to: ">=2.0.0, <3.0.0".into(),
            produces: "3.0.0".into(),
            message: "Remapped columns of types: date, datetime, datetime2, datetimeoffset, smalldatetime, and time from `String` to their appropriate Airbyte types. Customers whose streams have columns with the affected data types must take action with their connections.".into(),
            upgrade_deadline: Some("2023-12-07".into()),
            deadline_action: None,
            documentation_url:
                "https://docs.airbyte.com/integrations/sources/mssql-migrations#3.0.0".into(),
            scoped_streams: Vec::new(),
            preconditions: Vec::new(),
            guide: GUIDE.into(),
        }
    }

    fn migrate(connection: Connection) -> Result<Outcome> {
        let mut out = connection.into_outcome();
        let candidates = StreamColumns::listed(&catalog::streams_with_columns(
            &out.catalog,
            plain_string_columns,
        )?);
        let unreadable: Vec<StreamDescriptor> =
            out.state.iter().filter_map(offset_cursor_stream).collect();
        out.state
            .retain(|message| offset_cursor_stream(message).is_none());
        for stream in unreadable {
            out.note(format!(
                "{stream}: state dropped, its cursor is a datetimeoffset saved as SQL Server's text, which 3.0.0 reads as an ISO timestamp with time zone and cannot parse"
            ));
            out.action(Action::ClearStream {
                stream,
                reason: "its datetimeoffset cursor saved by 2.x cannot be read by 3.0.0 (the sync would fail, and the guide then asks for a reset): clear it so it is read again with the new types".into(),
            });
        }
        if candidates.is_empty() {
            return Ok(out);
        }
        out.note(format!(
            "columns 2.x declared as plain strings, any of which may be a date, datetime, datetime2, datetimeoffset, smalldatetime or time column that 3.0.0 retypes: {candidates}"
        ));
        out.action(Action::RefreshSchema {
            reason: "3.0.0 declares date and time columns with their Airbyte types (date, time, timestamp with or without time zone) where 2.x declared strings; refresh, skip the reset the refresh offers, and let the next sync propagate the types. If that sync fails, clear the streams it names (the guide)".into(),
        });
        Ok(out)
    }
}

cutover_plugin::export!(MssqlV3);

const GUIDE: &str = include_str!("../GUIDE.md");

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::json;
    use cutover_plugin::testing::{self, cleared};

    fn entry(name: &str, properties: Value, cursor: &[&str]) -> Value {
        json!({
            "stream": {"name": name, "namespace": "dbo", "json_schema": {"type": "object", "properties": properties}, "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_primary_key": [["id"]]},
            "sync_mode": if cursor.is_empty() { "full_refresh" } else { "incremental" },
            "cursor_field": cursor, "destination_sync_mode": "append_dedup", "primary_key": [["id"]]
        })
    }

    fn stream_state(name: &str, cursor: &str) -> Value {
        json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": name, "namespace": "dbo"}, "stream_state": {"stream_name": name, "stream_namespace": "dbo", "cursor_field": ["changed_at"], "cursor": cursor, "cursor_record_count": 1}}})
    }

    fn connection(streams: Vec<Value>, states: Vec<Value>) -> Connection {
        testing::connection("airbyte/source-mssql", "2.0.4")
            .config(json!({"host": "db", "port": 1433, "database": "shop", "username": "u", "replication_method": {"method": "STANDARD"}}))
            .build_with(json!({"streams": streams}), states)
    }

    #[test]
    fn a_datetimeoffset_cursor_is_dropped_and_cleared_and_others_kept() {
        let string = json!({"type": "string"});
        let int = json!({"type": "number", "airbyte_type": "integer"});
        let streams = vec![
            entry(
                "orders",
                json!({"id": int, "changed_at": string}),
                &["changed_at"],
            ),
            entry("events", json!({"id": int, "at": string}), &["at"]),
        ];
        let kept = stream_state("events", "2023-11-01 10:00:00.0000000");
        let states = vec![
            stream_state("orders", "2023-11-01 10:00:00.1234567 +01:00"),
            kept.clone(),
        ];
        let out = MssqlV3::migrate(connection(streams.clone(), states)).unwrap();
        assert_eq!(out.state, vec![kept]);
        assert_eq!(cleared(&out), ["orders"]);
        assert!(matches!(
            out.actions.last(),
            Some(Action::RefreshSchema { .. })
        ));
        assert_eq!(out.catalog, json!({"streams": streams}));
        assert!(out.notes[1].contains("dbo.orders (changed_at); dbo.events (at)"));
    }

    #[test]
    fn streams_without_plain_string_columns_are_not_affected() {
        let streams = vec![entry(
            "rates",
            json!({"id": {"type": "number", "airbyte_type": "integer"}, "day": {"type": "string", "format": "date"}, "_ab_cdc_lsn": {"type": "string"}}),
            &[],
        )];
        let c = connection(streams, vec![]);
        let out = MssqlV3::migrate(c.clone()).unwrap();
        assert_eq!((out.catalog, out.state), (c.catalog, c.state));
        assert!(out.actions.is_empty() && out.notes.is_empty());
    }

    #[test]
    fn only_sql_servers_offset_text_counts_as_a_datetimeoffset() {
        for yes in [
            "2023-11-01 10:00:00 +01:00",
            "2023-11-01 10:00:00.0000000 -05:30",
        ] {
            assert!(is_datetimeoffset_text(yes), "{yes}");
        }
        for no in [
            "2023-11-01T10:00:00+01:00",
            "2023-11-01 10:00:00.0000000",
            "2023-11-01 10:00:00. +01:00",
            "acme 10:00:00 +01:00",
            "2023-11-01 10:00:00 +0100",
        ] {
            assert!(!is_datetimeoffset_text(no), "{no}");
        }
    }
}
