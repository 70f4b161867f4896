//! source-mysql 3.0.0, from 2.x: the migration guide of the 3.0.0 breaking change as code.
//!
//! What 3.0.0 changed (`breakingChanges`: "Add default cursor for cdc"; the guide: "CDC syncs
//! now has default cursor field called `_ab_cdc_cursor`"), read from the connector's code at the
//! commit that released it (`MySqlSource.discover`): when the config is in CDC mode, every
//! discovered stream gets the property `_ab_cdc_cursor` (`{"type": "number", "airbyte_type":
//! "integer"}`) beside the other CDC metadata columns, and every stream that supports
//! incremental sync gets `default_cursor_field: ["_ab_cdc_cursor"]` (its cursor is already
//! source defined). CDC records carry the new field; standard (cursor) mode is unchanged, and
//! so is the spec. The state is not touched by the release: its binlog position stays valid.
//!
//! So a CDC connection's own catalog is brought to what a schema refresh on 3.0.0 shows, with
//! the incremental streams' configured cursor set to `_ab_cdc_cursor`, and its state is kept.
//! What the guide leaves to the operator: refresh the schema without the reset, and have
//! normalization rebuild the deduplicated tables (drop the SCD tables, or reset the stream).
//! mssql 2.0.0 made the same change, so the catalog work is the SDK's
//! [`cdc::adopt_default_cursor`]; what is MySQL's own is how its config says CDC.

use cutover_plugin::{Connection, Error, Manifest, Migration, Outcome, Result, Value, cdc};

/// Whether the config reads changes with CDC, as `MySqlSource.isCdc` decides: the legacy
/// string form or the object form of `replication_method`; absent means standard.
fn is_cdc(config: &Value) -> Result<bool> {
    let method = match config.get("replication_method") {
        None | Some(Value::Null) => return Ok(false),
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Object(o)) => o.get("method").and_then(Value::as_str),
        Some(_) => None,
    };
    match method {
        Some("CDC") => Ok(true),
        Some("STANDARD") => Ok(false),
        _ => Err(Error::InvalidInput(format!(
            "replication_method is {}, neither CDC nor STANDARD (2.x rejects it too); set the update method on 2.x and retry",
            config["replication_method"]
        ))),
    }
}

pub struct MysqlV3;

impl Migration for MysqlV3 {
    fn manifest() -> Manifest {
        Manifest {
            connector: "airbyte/source-mysql".into(),
            applies_to: ">=2.0.0, <3.0.0".into(),
            produces: "3.0.0".into(),
            message: "Add default cursor for cdc".into(),
            upgrade_deadline: Some("2023-08-17".into()),
            deadline_action: None,
            documentation_url:
                "https://docs.airbyte.com/integrations/sources/mysql-migrations#3.0.0".into(),
            scoped_streams: Vec::new(),
            preconditions: Vec::new(),
            guide: GUIDE.into(),
        }
    }

    fn migrate(connection: Connection) -> Result<Outcome> {
        let mut out = connection.into_outcome();
        if !is_cdc(&out.config)? {
            return Ok(out);
        }
        cdc::adopt_default_cursor(&mut out, "2.x", "3.0.0")?;
        Ok(out)
    }
}

cutover_plugin::export!(MysqlV3);

const GUIDE: &str = include_str!("../GUIDE.md");

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::cdc::{
        DEFAULT_CURSOR as CDC_CURSOR, default_cursor_type as cdc_cursor_type,
    };
    use cutover_plugin::testing::{self, cleared};
    use cutover_plugin::{Action, catalog, json};

    fn cdc_cursor_field() -> Value {
        json!([CDC_CURSOR])
    }

    fn stream(name: &str, modes: &[&str]) -> Value {
        json!({
            "name": name,
            "namespace": "shop",
            "json_schema": {"type": "object", "properties": {
                "id": {"type": "number", "airbyte_type": "integer"},
                "_ab_cdc_log_file": {"type": "string"},
                "_ab_cdc_log_pos": {"type": "number"},
                "_ab_cdc_updated_at": {"type": "string"},
                "_ab_cdc_deleted_at": {"type": "string"}
            }},
            "supported_sync_modes": modes,
            "source_defined_cursor": true,
            "default_cursor_field": [],
            "source_defined_primary_key": [["id"]]
        })
    }

    fn entry(name: &str, mode: &str, dest: &str) -> Value {
        json!({
            "stream": stream(name, &["full_refresh", "incremental"]),
            "sync_mode": mode,
            "cursor_field": [],
            "destination_sync_mode": dest,
            "primary_key": [["id"]]
        })
    }

    fn connection(method: Value, catalog: Value, state: Vec<Value>) -> Connection {
        testing::connection("airbyte/source-mysql", "2.1.2")
            .config(json!({"host": "db", "port": 3306, "database": "shop", "username": "u", "replication_method": method}))
            .build_with(catalog, state)
    }

    fn cdc() -> Value {
        json!({"method": "CDC"})
    }

    fn global_state() -> Vec<Value> {
        vec![json!({"type": "GLOBAL", "global": {
            "shared_state": {"state": {"mysql_cdc_offset": {"[\"shop\",{\"server\":\"shop\"}]": "{\"file\":\"binlog.000002\",\"pos\":4417}"}}},
            "stream_states": [{"stream_descriptor": {"name": "orders", "namespace": "shop"}, "stream_state": {}}]
        }})]
    }

    #[test]
    fn cdc_streams_get_the_default_cursor_and_keep_their_state() {
        let catalog = json!({"streams": [entry("orders", "incremental", "append_dedup"), entry("events", "incremental", "append"), entry("rates", "full_refresh", "overwrite")]});
        let out = MysqlV3::migrate(connection(cdc(), catalog, global_state())).unwrap();
        for name in ["orders", "events", "rates"] {
            let e = catalog::find(&out.catalog, name).unwrap();
            assert_eq!(
                e["stream"]["json_schema"]["properties"][CDC_CURSOR],
                cdc_cursor_type()
            );
            assert_eq!(e["stream"]["default_cursor_field"], cdc_cursor_field());
        }
        assert_eq!(
            catalog::find(&out.catalog, "orders").unwrap()["cursor_field"],
            cdc_cursor_field()
        );
        assert_eq!(
            catalog::find(&out.catalog, "rates").unwrap()["cursor_field"],
            json!([])
        );
        assert_eq!(out.state, global_state());
        assert!(matches!(out.actions[0], Action::RefreshSchema { .. }));
        assert_eq!(cleared(&out), ["orders"]);
    }

    #[test]
    fn a_stream_without_incremental_gets_the_column_but_no_cursor() {
        let mut e = entry("logs", "full_refresh", "overwrite");
        e["stream"] = stream("logs", &["full_refresh"]);
        let out = MysqlV3::migrate(connection(cdc(), json!({"streams": [e]}), vec![])).unwrap();
        let e = catalog::find(&out.catalog, "logs").unwrap();
        assert_eq!(
            e["stream"]["json_schema"]["properties"][CDC_CURSOR],
            cdc_cursor_type()
        );
        assert_eq!(e["stream"]["default_cursor_field"], json!([]));
        assert!(cleared(&out).is_empty());
    }

    #[test]
    fn standard_mode_is_not_touched() {
        let catalog = json!({"streams": [entry("orders", "incremental", "append_dedup")]});
        for method in [
            json!({"method": "STANDARD"}),
            json!("STANDARD"),
            Value::Null,
        ] {
            let out = MysqlV3::migrate(connection(method, catalog.clone(), vec![])).unwrap();
            assert_eq!(out.catalog, catalog);
            assert!(out.actions.is_empty() && out.notes.is_empty());
        }
    }

    #[test]
    fn the_legacy_string_form_of_cdc_counts() {
        let catalog = json!({"streams": [entry("orders", "incremental", "append")]});
        let out = MysqlV3::migrate(connection(json!("CDC"), catalog, vec![])).unwrap();
        assert_eq!(
            catalog::find(&out.catalog, "orders").unwrap()["cursor_field"],
            cdc_cursor_field()
        );
    }

    #[test]
    fn migrating_its_own_output_changes_nothing() {
        let catalog = json!({"streams": [entry("orders", "incremental", "append_dedup")]});
        let once = MysqlV3::migrate(connection(cdc(), catalog, global_state())).unwrap();
        let twice =
            MysqlV3::migrate(connection(cdc(), once.catalog.clone(), once.state.clone())).unwrap();
        assert_eq!(once.catalog, twice.catalog);
        assert!(twice.actions.is_empty() && twice.notes.is_empty());
    }

    #[test]
    fn a_table_column_named_like_the_cursor_needs_the_operator() {
        let mut e = entry("orders", "incremental", "append");
        e["stream"]["json_schema"]["properties"][CDC_CURSOR] = json!({"type": "string"});
        assert!(matches!(
            MysqlV3::migrate(connection(cdc(), json!({"streams": [e]}), vec![])),
            Err(Error::NeedsOperator(m)) if m.contains("shop.orders") || m.contains("orders")
        ));
    }

    #[test]
    fn unknown_methods_and_schemaless_streams_are_refused() {
        let catalog = json!({"streams": [entry("orders", "incremental", "append")]});
        assert!(matches!(
            MysqlV3::migrate(connection(json!({"method": "XMIN"}), catalog, vec![])),
            Err(Error::InvalidInput(_))
        ));
        let e = json!({"stream": {"name": "orders"}, "sync_mode": "incremental"});
        assert!(matches!(
            MysqlV3::migrate(connection(cdc(), json!({"streams": [e]}), vec![])),
            Err(Error::InvalidInput(_))
        ));
    }
}
