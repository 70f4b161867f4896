//! source-firebolt 1.0.0, from 0.x: the migration guide of the 1.0.0 breaking change as code.
//!
//! What 1.0.0 changed (`breakingChanges`: "Add new data type columns."; the guide: "Add new
//! data type column."), read from `convert_type` in `source_firebolt/utils.py` at the commit
//! that released it (#29771): BOOLEAN columns are declared `boolean` instead of `integer`,
//! and PGDATE, TIMESTAMPNTZ and TIMESTAMPTZ columns, which 0.2.1 did not know and declared
//! `string`, get their date and timestamp types. Array items change alike. The spec is the
//! same, streams sync full refresh only, and there is no state.
//!
//! 0.2.1 declared a BOOLEAN column exactly as an integer one and the three others exactly
//! as text, so the connection's own catalog cannot say which columns change (the SDK's
//! [`schema::bare_typed`]): the migration lists the columns that may, and asks for the
//! schema refresh that tells. It changes no document.

use cutover_plugin::{
    Action, Connection, Manifest, Migration, Outcome, Result, Value, catalog,
    catalog::StreamColumns, schema,
};

/// The bare types 0.2.1 gave columns that 1.0.0 may type otherwise: `integer` (BOOLEAN) and
/// `string` (PGDATE, TIMESTAMPNTZ, TIMESTAMPTZ).
const AMBIGUOUS: [&str; 2] = ["integer", "string"];

/// The columns of a stream's schema that 1.0.0 may retype: bare `integer` or `string`
/// columns, and arrays of them (`convert_type` types an array's items as a column), as
/// `name` or `name[]`.
fn columns_that_may_change(json_schema: &Value) -> Vec<String> {
    let properties = json_schema["properties"].as_object();
    properties
        .into_iter()
        .flatten()
        .filter_map(|(name, column)| {
            let (mut items, mut depth) = (column, 0);
            while items["type"] == "array" {
                items = &items["items"];
                depth += 1;
            }
            AMBIGUOUS
                .iter()
                .any(|t| schema::is_bare(items, t))
                .then(|| format!("{name}{}", "[]".repeat(depth)))
        })
        .collect()
}

pub struct FireboltV1;

impl Migration for FireboltV1 {
    fn manifest() -> Manifest {
        Manifest {
            connector: "airbyte/source-firebolt".into(),
            applies_to: "<1.0.0".into(),
            produces: "1.0.0".into(),
            message: "Add new data type columns.".into(),
            upgrade_deadline: Some("2023-08-23".into()),
            deadline_action: None,
            documentation_url:
                "https://docs.airbyte.com/integrations/sources/firebolt-migrations#1.0.0".into(),
            scoped_streams: Vec::new(),
            preconditions: Vec::new(),
            guide: GUIDE.into(),
        }
    }

    fn migrate(connection: Connection) -> Result<Outcome> {
        let mut out = connection.into_outcome();
        let candidates = catalog::streams_with_columns(&out.catalog, |entry| {
            columns_that_may_change(&entry["stream"]["json_schema"])
        })?;
        if candidates.is_empty() {
            return Ok(out);
        }
        let appended: Vec<String> = candidates
            .iter()
            .filter(|c| {
                c.entry.get("destination_sync_mode").and_then(Value::as_str) != Some("overwrite")
            })
            .map(|c| c.stream.to_string())
            .collect();
        out.note(format!(
            "columns 0.x declared as bare integer (a BOOLEAN may be one) or string (a PGDATE, TIMESTAMPNTZ or TIMESTAMPTZ may be one), which 1.0.0 may retype: {}",
            StreamColumns::listed(&candidates)
        ));
        if !appended.is_empty() {
            out.note(format!(
                "synced in append mode, so their earlier rows keep the old types: {}; clear each whose types the refresh changes",
                appended.join(", ")
            ));
        }
        out.action(Action::RefreshSchema {
            reason: "1.0.0 declares BOOLEAN columns boolean and PGDATE, TIMESTAMPNTZ and TIMESTAMPTZ columns with their date and timestamp types, where 0.x declared integer and string".into(),
        });
        Ok(out)
    }
}

cutover_plugin::export!(FireboltV1);

const GUIDE: &str = include_str!("../GUIDE.md");

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::{json, testing};

    fn entry(name: &str, properties: Value, dest: &str) -> Value {
        json!({
            "stream": {"name": name, "json_schema": {"type": "object", "properties": properties}, "supported_sync_modes": ["full_refresh"]},
            "sync_mode": "full_refresh", "destination_sync_mode": dest
        })
    }

    fn connection(streams: Vec<Value>) -> Connection {
        testing::connection("airbyte/source-firebolt", "0.2.1")
            .config(json!({"username": "ana@acme.io", "password": "p", "database": "analytics"}))
            .build_with(json!({"streams": streams}), vec![])
    }

    #[test]
    fn bare_columns_are_listed_and_nothing_is_changed() {
        let c = connection(vec![
            entry(
                "orders",
                json!({"id": {"type": ["null", "integer"]}, "at": {"type": "string", "format": "date-time", "airbyte_type": "timestamp_without_timezone"}, "flags": {"type": "array", "items": {"type": ["null", "integer"]}}}),
                "append",
            ),
            entry(
                "rates",
                json!({"rate": {"type": "number"}, "code": {"type": "string"}}),
                "overwrite",
            ),
        ]);
        let out = FireboltV1::migrate(c.clone()).unwrap();
        assert_eq!(
            (&out.config, &out.catalog, &out.state),
            (&c.config, &c.catalog, &c.state)
        );
        assert!(
            out.notes[0].contains("orders (id, flags[]); rates (code)"),
            "{}",
            out.notes[0]
        );
        assert!(out.notes[1].starts_with(
            "synced in append mode, so their earlier rows keep the old types: orders;"
        ));
        assert!(matches!(out.actions[..], [Action::RefreshSchema { .. }]));
    }

    #[test]
    fn typed_columns_only_are_not_affected() {
        let c = connection(vec![entry(
            "events",
            json!({"n": {"type": "number"}, "day": {"type": ["null", "string"], "format": "date"}, "ok": {"type": "boolean"}}),
            "append",
        )]);
        let out = FireboltV1::migrate(c).unwrap();
        assert!(out.actions.is_empty() && out.notes.is_empty());
    }
}
