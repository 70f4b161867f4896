//! The default CDC cursor Airbyte's Java database sources adopted for Destinations v2.
//!
//! mysql 3.0.0 and mssql 2.0.0 made the same breaking change ("Add default cursor for cdc"):
//! in CDC mode, discover declares `_ab_cdc_cursor` (`{"type": "number", "airbyte_type":
//! "integer"}`) beside the other CDC metadata columns of every stream, makes it the
//! `default_cursor_field` of every stream that supports incremental sync, and CDC records
//! carry it (the sync's start time in units of 10 ns plus a counter). Nothing else changes:
//! the spec is the same and the CDC state (the log position) stays valid.
//!
//! A database source's catalog is the connection's own tables, so [`adopt_default_cursor`]
//! brings that catalog to what a schema refresh on the new version shows, and keeps the
//! state. Each connector decides for itself whether a config is in CDC mode (their configs
//! differ), and calls it only then.

use crate::{Action, Error, Outcome, Result, catalog};
use serde_json::{Value, json};

/// The cursor the new versions give CDC streams (`CDC_DEFAULT_CURSOR` in their code).
pub const DEFAULT_CURSOR: &str = "_ab_cdc_cursor";

/// How the new versions declare [`DEFAULT_CURSOR`] in a stream's schema.
pub fn default_cursor_type() -> Value {
    json!({"type": "number", "airbyte_type": "integer"})
}

fn default_cursor_field() -> Value {
    json!([DEFAULT_CURSOR])
}

/// Gives a CDC connection's streams the default cursor as `produces` discovers it: the
/// column in every schema, `default_cursor_field` on every stream that supports incremental
/// sync, and the configured cursor of every stream synced incrementally. The state is kept.
///
/// When anything changed it notes what, per stream, and asks for a schema refresh without
/// the reset, and for a clear of each stream deduplicated in the destination (normalization
/// must rebuild its tables with the new cursor; the guides offer dropping the SCD tables
/// instead). Refuses (`needs-operator`) a table with a column of its own named
/// `_ab_cdc_cursor`, which the new version would overwrite; `old` names the versions
/// migrated from (e.g. `2.x`) in the refusals.
pub fn adopt_default_cursor(out: &mut Outcome, old: &str, produces: &str) -> Result<()> {
    let mut changed = Vec::new();
    let mut rebuild = Vec::new();
    for entry in catalog::streams_mut(&mut out.catalog) {
        let Some(descriptor) = catalog::descriptor(entry) else {
            return Err(Error::InvalidInput(
                "a configured stream has no stream.name".into(),
            ));
        };
        let mut changes = Vec::new();
        let stream = &mut entry["stream"];
        let properties = catalog::properties_mut(stream, &descriptor, old)?;
        match properties.get(DEFAULT_CURSOR) {
            None => {
                properties.insert(DEFAULT_CURSOR.into(), default_cursor_type());
                changes.push("schema +_ab_cdc_cursor");
            }
            Some(t) if *t == default_cursor_type() => {}
            // The new version would declare its own type over the column and write the
            // cursor into it: the table's own values would be lost.
            Some(t) => {
                return Err(Error::NeedsOperator(format!(
                    "{descriptor} has a column of its own named _ab_cdc_cursor ({t}); {produces} overwrites it with the CDC cursor. Rename the column in the database or stop syncing the stream with CDC, then retry"
                )));
            }
        }
        let supports_incremental = stream
            .get("supported_sync_modes")
            .and_then(Value::as_array)
            .is_some_and(|m| m.iter().any(|m| m == "incremental"));
        if supports_incremental
            && stream.get("default_cursor_field") != Some(&default_cursor_field())
        {
            stream["default_cursor_field"] = default_cursor_field();
            changes.push("default_cursor_field [_ab_cdc_cursor]");
        }
        let incremental = entry.get("sync_mode").and_then(Value::as_str) == Some("incremental");
        if incremental && entry.get("cursor_field") != Some(&default_cursor_field()) {
            entry["cursor_field"] = default_cursor_field();
            changes.push("cursor_field [_ab_cdc_cursor]");
        }
        if changes.is_empty() {
            continue;
        }
        changed.push(format!("{descriptor}: {}", changes.join(", ")));
        if incremental
            && entry.get("destination_sync_mode").and_then(Value::as_str) == Some("append_dedup")
        {
            rebuild.push(descriptor);
        }
    }
    if changed.is_empty() {
        return Ok(());
    }
    out.note(format!(
        "CDC mode: {}; the CDC state (its log position) is kept",
        changed.join("; ")
    ));
    out.action(Action::RefreshSchema {
        reason: format!("{produces} declares _ab_cdc_cursor on CDC streams and makes it their default cursor; skip the reset the refresh offers"),
    });
    for stream in rebuild {
        out.action(Action::ClearStream {
            stream,
            reason: "normalization must rebuild its deduplicated tables with the new cursor _ab_cdc_cursor: clear the stream, or instead drop its SCD tables in the destination and sync".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, cleared};

    fn entry(name: &str, mode: &str, dest: &str) -> Value {
        json!({
            "stream": {
                "name": name, "namespace": "dbo",
                "json_schema": {"type": "object", "properties": {"id": {"type": "number", "airbyte_type": "integer"}, "_ab_cdc_lsn": {"type": "string"}}},
                "supported_sync_modes": ["full_refresh", "incremental"],
                "source_defined_cursor": true, "default_cursor_field": [], "source_defined_primary_key": [["id"]]
            },
            "sync_mode": mode, "cursor_field": [], "destination_sync_mode": dest, "primary_key": [["id"]]
        })
    }

    fn outcome(streams: Vec<Value>) -> Outcome {
        let state = vec![
            json!({"type": "GLOBAL", "global": {"shared_state": {"state": {"lsn": "00000027:00000758:0003"}}, "stream_states": []}}),
        ];
        testing::connection("airbyte/source-example", "1.0.0")
            .build_with(json!({"streams": streams}), state)
            .into_outcome()
    }

    #[test]
    fn every_stream_gets_the_column_and_incremental_ones_the_cursor() {
        let mut out = outcome(vec![
            entry("orders", "incremental", "append_dedup"),
            entry("rates", "full_refresh", "overwrite"),
        ]);
        let state = out.state.clone();
        adopt_default_cursor(&mut out, "1.x", "2.0.0").unwrap();
        for name in ["orders", "rates"] {
            let e = catalog::find(&out.catalog, name).unwrap();
            assert_eq!(
                e["stream"]["json_schema"]["properties"][DEFAULT_CURSOR],
                default_cursor_type()
            );
            assert_eq!(e["stream"]["default_cursor_field"], json!([DEFAULT_CURSOR]));
        }
        assert_eq!(
            catalog::find(&out.catalog, "orders").unwrap()["cursor_field"],
            json!([DEFAULT_CURSOR])
        );
        assert_eq!(
            catalog::find(&out.catalog, "rates").unwrap()["cursor_field"],
            json!([])
        );
        assert_eq!(out.state, state);
        assert!(
            matches!(&out.actions[0], Action::RefreshSchema { reason } if reason.starts_with("2.0.0 declares"))
        );
        assert_eq!(cleared(&out), ["orders"]);
    }

    #[test]
    fn a_second_run_changes_nothing_and_an_own_column_is_refused() {
        let mut out = outcome(vec![entry("orders", "incremental", "append")]);
        adopt_default_cursor(&mut out, "1.x", "2.0.0").unwrap();
        let mut again = outcome(catalog::streams(&out.catalog).to_vec());
        adopt_default_cursor(&mut again, "1.x", "2.0.0").unwrap();
        assert_eq!(again.catalog, out.catalog);
        assert!(again.actions.is_empty() && again.notes.is_empty());

        let mut e = entry("orders", "incremental", "append");
        e["stream"]["json_schema"]["properties"][DEFAULT_CURSOR] = json!({"type": "string"});
        assert!(matches!(
            adopt_default_cursor(&mut outcome(vec![e]), "1.x", "2.0.0"),
            Err(Error::NeedsOperator(m)) if m.contains("2.0.0 overwrites it")
        ));
    }
}
