//! source-mssql 2.0.0, from 1.x: the migration guide of the 2.0.0 breaking change as code.
//!
//! What 2.0.0 changed (`breakingChanges`: "Add default cursor for cdc"; the guide: "CDC syncs
//! now has default cursor field called `_ab_cdc_cursor`"), read from the connector's code at
//! the commit that released it (`MssqlSource.discover`, `setDefaultCursorFieldForCdc`,
//! `addCdcMetadataColumns`): the change mysql 3.0.0 made, which the SDK's
//! [`cdc::adopt_default_cursor`] applies to a CDC connection's own catalog. The spec is the
//! same on both sides, and so is the state (its LSN stays valid): it is kept.
//!
//! What is MSSQL's own is how its config says CDC (`MssqlCdcHelper.isCdc`): the object or
//! legacy string form of `replication_method`, or the older `replication.replication_type`.

use cutover_plugin::{Connection, Error, Manifest, Migration, Outcome, Result, Value, cdc};

/// Whether the config reads changes with CDC, as `MssqlCdcHelper.isCdc` decides; none of its
/// forms means standard.
fn is_cdc(config: &Value) -> Result<bool> {
    let present = |key: &str| config.get(key).filter(|v| !v.is_null());
    let (field, method) = if let Some(m) = present("replication_method") {
        let method = if m.is_object() {
            m.get("method")
        } else {
            Some(m)
        };
        ("replication_method", method)
    } else if let Some(r) = present("replication") {
        ("replication", r.get("replication_type"))
    } else {
        return Ok(false);
    };
    match method.and_then(Value::as_str) {
        Some("CDC") => Ok(true),
        Some("STANDARD") => Ok(false),
        _ => Err(Error::InvalidInput(format!(
            "{field} is {}, neither CDC nor STANDARD (1.x rejects it too); set the update method on 1.x and retry",
            config[field]
        ))),
    }
}

pub struct MssqlV2;

impl Migration for MssqlV2 {
    fn manifest() -> Manifest {
        Manifest {
            connector: "airbyte/source-mssql".into(),
            applies_to: ">=1.0.0, <2.0.0".into(),
            produces: "2.0.0".into(),
            message: "Add default cursor for cdc".into(),
            upgrade_deadline: Some("2023-08-23".into()),
            deadline_action: None,
            documentation_url:
                "https://docs.airbyte.com/integrations/sources/mssql-migrations#2.0.0".into(),
            scoped_streams: Vec::new(),
            preconditions: Vec::new(),
            guide: GUIDE.into(),
        }
    }

    fn migrate(connection: Connection) -> Result<Outcome> {
        let mut out = connection.into_outcome();
        if is_cdc(&out.config)? {
            cdc::adopt_default_cursor(&mut out, "1.x", "2.0.0")?;
        }
        Ok(out)
    }
}

cutover_plugin::export!(MssqlV2);

const GUIDE: &str = include_str!("../GUIDE.md");

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::testing::{self, cleared};
    use cutover_plugin::{Action, catalog, json};

    fn entry() -> Value {
        json!({
            "stream": {
                "name": "orders", "namespace": "dbo",
                "json_schema": {"type": "object", "properties": {
                    "id": {"type": "number", "airbyte_type": "integer"},
                    "_ab_cdc_lsn": {"type": "string"}, "_ab_cdc_event_serial_no": {"type": "string"},
                    "_ab_cdc_updated_at": {"type": "string"}, "_ab_cdc_deleted_at": {"type": "string"}
                }},
                "supported_sync_modes": ["full_refresh", "incremental"],
                "source_defined_cursor": true, "default_cursor_field": [], "source_defined_primary_key": [["id"]]
            },
            "sync_mode": "incremental", "cursor_field": [], "destination_sync_mode": "append_dedup", "primary_key": [["id"]]
        })
    }

    fn state() -> Vec<Value> {
        vec![json!({"type": "GLOBAL", "global": {
            "shared_state": {"state": {"mssql_cdc_offset": {"[\"shop\",{\"server\":\"shop\",\"database\":\"shop\"}]": "{\"commit_lsn\":\"00000027:00000758:0003\",\"change_lsn\":\"00000027:00000758:0002\"}"}}},
            "stream_states": [{"stream_descriptor": {"name": "orders", "namespace": "dbo"}, "stream_state": {"stream_name": "orders", "stream_namespace": "dbo", "cursor_field": []}}]
        }})]
    }

    fn connection(replication: Value) -> Connection {
        let mut config = json!({"host": "db", "port": 1433, "database": "shop", "username": "u"});
        config
            .as_object_mut()
            .unwrap()
            .extend(replication.as_object().unwrap().clone());
        testing::connection("airbyte/source-mssql", "1.1.1")
            .config(config)
            .build_with(json!({"streams": [entry()]}), state())
    }

    #[test]
    fn every_form_of_cdc_gets_the_default_cursor_and_keeps_its_state() {
        for replication in [
            json!({"replication_method": {"method": "CDC", "data_to_sync": "Existing and New"}}),
            json!({"replication_method": "CDC"}),
            json!({"replication": {"replication_type": "CDC"}}),
        ] {
            let out = MssqlV2::migrate(connection(replication)).unwrap();
            let e = catalog::find(&out.catalog, "orders").unwrap();
            assert_eq!(
                e["stream"]["json_schema"]["properties"][cdc::DEFAULT_CURSOR],
                cdc::default_cursor_type()
            );
            assert_eq!(e["cursor_field"], json!([cdc::DEFAULT_CURSOR]));
            assert_eq!(out.state, state());
            assert!(
                matches!(&out.actions[0], Action::RefreshSchema { reason } if reason.starts_with("2.0.0 declares"))
            );
            assert_eq!(cleared(&out), ["orders"]);
        }
    }

    #[test]
    fn standard_mode_is_not_touched() {
        for replication in [
            json!({"replication_method": {"method": "STANDARD"}}),
            json!({"replication_method": "STANDARD"}),
            json!({"replication": {"replication_type": "STANDARD"}}),
            json!({}),
        ] {
            let c = connection(replication);
            let out = MssqlV2::migrate(c.clone()).unwrap();
            assert_eq!((out.catalog, out.state), (c.catalog, c.state));
            assert!(out.actions.is_empty() && out.notes.is_empty());
        }
    }

    #[test]
    fn an_unknown_method_is_refused() {
        for replication in [
            json!({"replication_method": {"method": "XMIN"}}),
            json!({"replication": {"replication_type": 1}}),
        ] {
            assert!(matches!(
                MssqlV2::migrate(connection(replication)),
                Err(Error::InvalidInput(_))
            ));
        }
    }
}
