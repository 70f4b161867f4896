//! source-mongodb-v2 2.0.0, from 1.x: the migration guide of the 2.0.0 breaking change as code.
//!
//! What 2.0.0 changed (the `breakingChanges` entry and the guide): one connection can sync
//! several databases, so the config's `database_config.database` (a string) becomes
//! `database_config.databases` (an array of strings) in both cluster types' forms. 2.0.0's
//! `MongoDbSourceConfig.getDatabaseNames` reads only `databases`, and the spec's
//! `additionalProperties: true` lets a 1.x config through validation unchanged, so a config
//! that is not moved fails at the first check or sync.
//!
//! Nothing else changes: stream names and namespaces (a collection's database) are the same,
//! and 2.0.0 reads the CDC resume token 1.x saved (`MongoDbDebeziumStateUtil` falls back to the
//! old offset key, the database name). So the catalog and state are kept byte for byte.
//!
//! What this plugin does: moves the database into the one-element array. What it leaves to the
//! operator: re-test the source, add further databases if wanted, and, for CDC connections, the
//! guide's advice to try the upgrade in staging first. A config naming no database is refused
//! (`needs-operator`): only the operator can say which databases to sync.

use cutover_plugin::{
    Action, Connection, Error, Manifest, Migration, Outcome, Result, Value, catalog, json,
};

/// Where 1.x and 2.0.0 keep the database settings.
const DATABASE_CONFIG: &str = "database_config";

pub struct MongodbV2;

impl Migration for MongodbV2 {
    fn manifest() -> Manifest {
        Manifest {
            connector: "airbyte/source-mongodb-v2".into(),
            applies_to: ">=1.0.0, <2.0.0".into(),
            produces: "2.0.0".into(),
            message: "**Important: This version introduces multiple database support for MongoDB v2 source connector.**\nThis update changes the configuration schema from a single `database` field to a `databases` array field, allowing you to sync data from multiple MongoDB databases in a single connection.\n**What to expect when upgrading:**\n1. You will need to reconfigure your MongoDB source connector to use the new `databases` array field 2. If you're using CDC incremental sync mode, we recommend testing this upgrade in a staging environment first\n**Migration steps:**\n1. After upgrading, edit your MongoDB source configuration 2. Add your existing database to the new `databases` array field 3. Add any additional databases you want to sync 4. Save the configuration and run a sync\nFor more information, please refer to the [MongoDB v2 documentation](https://docs.airbyte.com/integrations/sources/mongodb-v2) and the [migration guide](https://docs.airbyte.com/integrations/sources/mongodb-v2-migrations).".into(),
            upgrade_deadline: Some("2025-08-31".into()),
            deadline_action: None,
            documentation_url: "https://docs.airbyte.com/integrations/sources/mongodb-v2-migrations#2.0.0".into(),
            scoped_streams: Vec::new(),
            preconditions: Vec::new(),
            guide: GUIDE.into(),
        }
    }

    fn migrate(connection: Connection) -> Result<Outcome> {
        let mut out = connection.into_outcome();
        let Some(database_config) = out
            .config
            .get_mut(DATABASE_CONFIG)
            .and_then(Value::as_object_mut)
        else {
            return Err(Error::InvalidInput(
                "the config has no database_config object (1.x requires one)".into(),
            ));
        };
        let database = database_config.get("database").cloned();
        let databases = database_config.get("databases").cloned();
        let name = match (&database, &databases) {
            // Already in 2.0.0's form.
            (None, Some(Value::Array(list))) if !list.is_empty() => return Ok(out),
            (Some(Value::String(name)), None) if !name.trim().is_empty() => name.clone(),
            (Some(Value::String(name)), Some(Value::Array(list)))
                if list.iter().any(|d| d == name.as_str()) =>
            {
                // `databases` already names it: only the leftover key goes.
                database_config.shift_remove("database");
                out.note(format!(
                    "database_config.database removed: databases already lists {name:?}"
                ));
                return Ok(out);
            }
            (Some(d), Some(list)) => {
                return Err(Error::NeedsOperator(format!(
                    "database_config names database {d} and databases {list}, which does not list it; 2.0.0 reads only databases: say which databases to sync"
                )));
            }
            (d, _) => {
                return Err(Error::NeedsOperator(format!(
                    "database_config.database is {}, which names no database; set the database(s) to sync in database_config.databases",
                    d.as_ref().map_or("missing".to_owned(), Value::to_string)
                )));
            }
        };

        // Rebuild to keep `databases` where `database` was: the key order is part of the bytes.
        *database_config = std::mem::take(database_config)
            .into_iter()
            .map(|(k, v)| {
                if k == "database" {
                    ("databases".to_owned(), json!([name]))
                } else {
                    (k, v)
                }
            })
            .collect();
        out.note(format!(
            "database_config.database {name:?} -> database_config.databases [{name:?}]; add other databases there to sync them too"
        ));
        out.action(Action::RetestSource {
            reason: "the config's database is now the databases array".into(),
        });
        if !catalog::incremental_streams(&out.catalog).is_empty() {
            out.note("the connection syncs incrementally (CDC): its state is kept, and the guide recommends trying this upgrade in a staging environment first");
        }
        Ok(out)
    }
}

cutover_plugin::export!(MongodbV2);

const GUIDE: &str = include_str!("../GUIDE.md");

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::testing;

    fn config(database: Value) -> Value {
        json!({"database_config": {
            "cluster_type": "ATLAS_REPLICA_SET",
            "connection_string": "mongodb+srv://cluster0.abcd1.mongodb.net/",
            "database": database,
            "username": "u",
            "password": "p",
            "auth_source": "admin"
        }, "discover_sample_size": 10000})
    }

    fn catalog() -> Value {
        json!({"streams": [{
            "stream": {"name": "orders", "namespace": "shop", "json_schema": {"type": "object", "properties": {"_id": {"type": "string"}}}, "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": true, "default_cursor_field": ["_ab_cdc_cursor"], "source_defined_primary_key": [["_id"]]},
            "sync_mode": "incremental", "cursor_field": ["_ab_cdc_cursor"], "destination_sync_mode": "append_dedup", "primary_key": [["_id"]]
        }]})
    }

    fn state() -> Vec<Value> {
        vec![json!({"type": "GLOBAL", "global": {
            "shared_state": {"state": {"[\"shop\",{\"server_id\":\"shop\"}]": "{\"sec\":1720000000,\"ord\":1,\"resume_token\":\"8266\"}"}},
            "stream_states": [{"stream_descriptor": {"name": "orders", "namespace": "shop"}, "stream_state": {"id": "65a", "status": "complete"}}]
        }})]
    }

    fn connection(config: Value) -> Connection {
        testing::connection("airbyte/source-mongodb-v2", "1.5.19")
            .config(config)
            .build_with(catalog(), state())
    }

    #[test]
    fn the_database_becomes_the_databases_array_in_place() {
        let out = MongodbV2::migrate(connection(config(json!("shop")))).unwrap();
        let dc = out.config[DATABASE_CONFIG].as_object().unwrap();
        assert_eq!(dc["databases"], json!(["shop"]));
        assert!(!dc.contains_key("database"));
        let keys: Vec<&str> = dc.keys().map(String::as_str).collect();
        assert_eq!(keys[2], "databases");
        assert_eq!(out.catalog, catalog());
        assert_eq!(out.state, state());
        assert!(matches!(out.actions[..], [Action::RetestSource { .. }]));
        assert_eq!(out.notes.len(), 2);
    }

    #[test]
    fn migrating_its_own_output_changes_nothing() {
        let once = MongodbV2::migrate(connection(config(json!("shop")))).unwrap();
        let twice = MongodbV2::migrate(connection(once.config.clone())).unwrap();
        assert_eq!(once.config, twice.config);
        assert!(twice.actions.is_empty() && twice.notes.is_empty());
    }

    #[test]
    fn a_leftover_database_already_listed_is_dropped() {
        let mut c = config(json!("shop"));
        c[DATABASE_CONFIG]["databases"] = json!(["shop", "crm"]);
        let out = MongodbV2::migrate(connection(c)).unwrap();
        assert_eq!(
            out.config[DATABASE_CONFIG]["databases"],
            json!(["shop", "crm"])
        );
        assert!(out.config[DATABASE_CONFIG].get("database").is_none());
    }

    #[test]
    fn no_database_or_a_conflict_needs_the_operator() {
        for database in [json!(""), json!("  "), Value::Null, json!(42)] {
            assert!(matches!(
                MongodbV2::migrate(connection(config(database))),
                Err(Error::NeedsOperator(_))
            ));
        }
        let mut c = config(json!("shop"));
        c[DATABASE_CONFIG]["databases"] = json!(["crm"]);
        assert!(matches!(
            MongodbV2::migrate(connection(c)),
            Err(Error::NeedsOperator(_))
        ));
        assert!(matches!(
            MongodbV2::migrate(connection(json!({}))),
            Err(Error::InvalidInput(_))
        ));
    }
}
