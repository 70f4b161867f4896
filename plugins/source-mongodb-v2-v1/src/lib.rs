//! source-mongodb-v2 1.0.0, from 0.x: the migration guide of the 1.0.0 breaking change as code.
//!
//! What 1.0.0 changed (the `breakingChanges` entry: "reconfigure the source, then run a full
//! reset on all of your connections"; the guide: replica sets only, CDC, checkpointing,
//! sampled discovery), read from the two specs and the code at the commit that released it
//! and the one before:
//! - the config: 0.2.5's `instance_type` (standalone, replica or atlas) with top-level
//!   `database`, `user`, `password` and `auth_source` becomes `database_config` with a
//!   `cluster_type` (`ATLAS_REPLICA_SET` or `SELF_MANAGED_REPLICA_SET`), a
//!   `connection_string`, and the same four values under new keys. 0.2.5 built its URL as
//!   `mongodb+srv://<cluster_url>/…` (Atlas) or `mongodb://<server_addresses>/…` (replica
//!   set); 1.0.0 takes the URL without options and appends its own
//!   (`MongoDbDebeziumPropertiesManager.buildConnectionString`), so the URL is rebuilt
//!   without them and `replica_set`, which 0.2.5 passed as an option, cannot be carried.
//!   A standalone instance has no 1.0.0 form: it must become a replica set (needs-operator).
//! - the state: 0.2.5's cursor states are not 1.0.0's (a CDC resume token and per-collection
//!   `_id` snapshot states): every state is dropped and every stream cleared, the full reset
//!   the entry asks for.
//! - the catalog: 1.0.0 names each stream by its collection with its database as namespace
//!   (0.2.5 gave none), `_id` as primary key, the CDC columns and sampled fields. The
//!   namespace is set here so the schema refresh keeps the user's selections; the refresh
//!   brings the rest.

use cutover_plugin::{
    Action, Connection, Error, Manifest, Migration, Outcome, Result, Value, catalog, json,
};

/// 0.2.5's top-level fields that move into `database_config`, with their 1.0.0 keys.
const MOVED: [(&str, &str); 4] = [
    ("database", "database"),
    ("user", "username"),
    ("password", "password"),
    ("auth_source", "auth_source"),
];

/// 0.2.5's default authentication source (its spec's `default`; 1.0.0's too).
const DEFAULT_AUTH_SOURCE: &str = "admin";

pub struct MongodbV1;

impl Migration for MongodbV1 {
    fn manifest() -> Manifest {
        Manifest {
            connector: "airbyte/source-mongodb-v2".into(),
            applies_to: "<1.0.0".into(),
            produces: "1.0.0".into(),
            message: "**We advise against upgrading until you have run a test upgrade as outlined [here](https://docs.airbyte.com/integrations/sources/mongodb-v2-migrations).**  This version brings a host of updates to the MongoDB source connector, significantly increasing its scalability and reliability, especially for large collections. As of this version with checkpointing, [CDC incremental updates](https://docs.airbyte.com/understanding-airbyte/cdc) and improved schema discovery, this connector is also now [certified](https://docs.airbyte.com/integrations/). Selecting `Upgrade` will upgrade **all** connections using this source, require you to reconfigure the source, then run a full reset on **all** of your connections.".into(),
            upgrade_deadline: Some("2023-12-01".into()),
            deadline_action: None,
            documentation_url:
                "https://docs.airbyte.com/integrations/sources/mongodb-v2-migrations#1.0.0".into(),
            scoped_streams: Vec::new(),
            preconditions: Vec::new(),
            guide: GUIDE.into(),
        }
    }

    fn migrate(connection: Connection) -> Result<Outcome> {
        let mut out = connection.into_outcome();
        let Some(database) = migrate_config(&mut out)? else {
            // Already 1.0.0's config: nothing of 0.2.5's is left to move.
            return Ok(out);
        };
        let mut named = Vec::new();
        for entry in catalog::streams_mut(&mut out.catalog) {
            let Some(stream) = entry.get_mut("stream").filter(|s| s["name"].is_string()) else {
                return Err(Error::InvalidInput(
                    "a configured stream has no stream.name".into(),
                ));
            };
            if stream.get("namespace").is_none_or(Value::is_null) {
                stream["namespace"] = json!(database);
                named.push(stream["name"].as_str().unwrap_or_default().to_owned());
            }
        }
        if !named.is_empty() {
            out.note(format!(
                "namespace {database:?} given to {}: 1.0.0 discovers each collection under its database",
                named.join(", ")
            ));
        }
        if !out.state.is_empty() {
            out.note("every state dropped: 1.0.0 cannot read 0.x's cursor states");
            out.state.clear();
        }
        out.action(Action::RefreshSchema {
            reason: "1.0.0 discovers _id as each collection's primary key, the CDC columns and the sampled fields; incremental streams sync by the CDC cursor".into(),
        });
        let streams: Vec<_> = catalog::streams(&out.catalog)
            .iter()
            .filter_map(catalog::descriptor)
            .collect();
        for stream in streams {
            out.action(Action::ClearStream {
                stream,
                reason: "1.0.0 asks for a full reset of every connection: its reads, state and schemas are new".into(),
            });
        }
        Ok(out)
    }
}

/// Moves a 0.2.5 config into 1.0.0's `database_config`. Returns the database, or `None`
/// when the config is already in 1.0.0's form.
fn migrate_config(out: &mut Outcome) -> Result<Option<String>> {
    let Some(config) = out.config.as_object_mut() else {
        return Err(Error::InvalidInput("the config is not an object".into()));
    };
    if config.contains_key("database_config") && !config.contains_key("instance_type") {
        return Ok(None);
    }
    let database = match config.get("database") {
        Some(Value::String(d)) if !d.trim().is_empty() => d.clone(),
        _ => {
            return Err(Error::InvalidInput(
                "the config has no database (0.x requires one)".into(),
            ));
        }
    };
    let instance = config.get("instance_type").cloned().unwrap_or(Value::Null);
    let text = |key: &str| {
        instance
            .get(key)
            .and_then(Value::as_str)
            .map(|s| s.trim().trim_end_matches('/'))
            .filter(|s| !s.is_empty())
    };
    let (cluster_type, connection_string) = match instance.get("instance").and_then(Value::as_str) {
        Some("atlas") => {
            let Some(url) = text("cluster_url") else {
                return Err(Error::InvalidInput(
                    "instance_type.cluster_url is missing".into(),
                ));
            };
            let signed_in = ["user", "password"].iter().all(|k| {
                config
                    .get(*k)
                    .and_then(Value::as_str)
                    .is_some_and(|v| !v.is_empty())
            });
            if !signed_in {
                return Err(Error::NeedsOperator(
                    "1.0.0 requires a username and password for an Atlas cluster: set user and password on 0.x (a database user with read access), then plan again".into(),
                ));
            }
            ("ATLAS_REPLICA_SET", format!("mongodb+srv://{url}/"))
        }
        Some("replica") => {
            let Some(members) = text("server_addresses") else {
                return Err(Error::InvalidInput(
                    "instance_type.server_addresses is missing".into(),
                ));
            };
            if let Some(set) = text("replica_set") {
                out.notes.push(format!(
                    "instance_type.replica_set {set:?} dropped: 1.0.0 appends its own options to the connection string, and the driver finds the set from its members"
                ));
            }
            ("SELF_MANAGED_REPLICA_SET", format!("mongodb://{members}/"))
        }
        Some("standalone") => {
            return Err(Error::NeedsOperator(
                "1.0.0 reads replica sets only (it syncs by change streams), and this source is a standalone instance: convert it to a replica set (a single member is enough), set it on 0.x as a replica set (instance_type replica, server_addresses), then plan again".into(),
            ));
        }
        other => {
            return Err(Error::InvalidInput(format!(
                "instance_type.instance is {}, none of standalone, replica or atlas",
                other.map_or("missing".to_owned(), |i| format!("{i:?}"))
            )));
        }
    };

    let mut database_config = serde_json::Map::new();
    database_config.insert("cluster_type".into(), json!(cluster_type));
    database_config.insert("connection_string".into(), json!(connection_string));
    for (from, to) in MOVED {
        if let Some(value) = config.shift_remove(from) {
            database_config.insert(to.into(), value);
        }
    }
    database_config
        .entry("auth_source")
        .or_insert(json!(DEFAULT_AUTH_SOURCE));
    config.shift_remove("instance_type");
    // In front, where 1.0.0's spec orders it.
    let rest = std::mem::take(config);
    config.insert("database_config".into(), Value::Object(database_config));
    config.extend(rest);
    out.note(format!(
        "config moved into database_config: cluster_type {cluster_type}, connection_string {connection_string}, and database, user (as username), password and auth_source"
    ));
    out.action(Action::RetestSource {
        reason: "the config moved into database_config with a connection string".into(),
    });
    Ok(Some(database))
}

cutover_plugin::export!(MongodbV1);

const GUIDE: &str = include_str!("../GUIDE.md");

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::testing::{self, cleared};

    fn config(instance: Value) -> Value {
        json!({"instance_type": instance, "database": "shop", "user": "reader", "password": "p", "auth_source": "admin"})
    }

    fn atlas() -> Value {
        json!({"instance": "atlas", "cluster_url": "cluster0.abcd1.mongodb.net"})
    }

    fn catalog() -> Value {
        json!({"streams": [{
            "stream": {"name": "orders", "json_schema": {"type": "object", "properties": {"_id": {"type": "string"}, "total": {"type": "number"}}}, "supported_sync_modes": ["full_refresh", "incremental"]},
            "sync_mode": "incremental", "cursor_field": ["_id"], "destination_sync_mode": "append"
        }]})
    }

    fn state() -> Vec<Value> {
        vec![
            json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": "orders"}, "stream_state": {"stream_name": "orders", "cursor_field": ["_id"], "cursor": "64f0c2a1e4b0a1b2c3d4e5f6"}}}),
        ]
    }

    fn connection(config: Value) -> Connection {
        testing::connection("airbyte/source-mongodb-v2", "0.2.5")
            .config(config)
            .build_with(catalog(), state())
    }

    #[test]
    fn an_atlas_config_moves_and_every_stream_is_reset() {
        let out = MongodbV1::migrate(connection(config(atlas()))).unwrap();
        assert_eq!(
            out.config,
            json!({"database_config": {"cluster_type": "ATLAS_REPLICA_SET", "connection_string": "mongodb+srv://cluster0.abcd1.mongodb.net/", "database": "shop", "username": "reader", "password": "p", "auth_source": "admin"}})
        );
        assert!(out.state.is_empty());
        assert_eq!(
            catalog::streams(&out.catalog)[0]["stream"]["namespace"],
            "shop"
        );
        assert_eq!(cleared(&out), ["orders"]);
        assert!(matches!(
            out.actions[..2],
            [Action::RetestSource { .. }, Action::RefreshSchema { .. }]
        ));
    }

    #[test]
    fn a_replica_set_loses_its_set_name_and_keeps_its_members() {
        let mut c = config(
            json!({"instance": "replica", "server_addresses": "h1:27017,h2:27017", "replica_set": "rs0"}),
        );
        c.as_object_mut().unwrap().shift_remove("auth_source");
        let out = MongodbV1::migrate(connection(c)).unwrap();
        let dc = &out.config["database_config"];
        assert_eq!(dc["cluster_type"], "SELF_MANAGED_REPLICA_SET");
        assert_eq!(dc["connection_string"], "mongodb://h1:27017,h2:27017/");
        assert_eq!(dc["auth_source"], DEFAULT_AUTH_SOURCE);
        assert!(
            out.notes
                .iter()
                .any(|n| n.contains("replica_set \"rs0\" dropped"))
        );
    }

    #[test]
    fn standalone_and_anonymous_atlas_need_the_operator() {
        let standalone = config(json!({"instance": "standalone", "host": "db", "port": 27017}));
        assert!(matches!(
            MongodbV1::migrate(connection(standalone)),
            Err(Error::NeedsOperator(m)) if m.contains("replica sets only")
        ));
        let mut anonymous = config(atlas());
        anonymous.as_object_mut().unwrap().shift_remove("password");
        assert!(matches!(
            MongodbV1::migrate(connection(anonymous)),
            Err(Error::NeedsOperator(m)) if m.contains("username and password")
        ));
        let mut no_database = config(atlas());
        no_database["database"] = json!("");
        assert!(matches!(
            MongodbV1::migrate(connection(no_database)),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn a_config_already_in_1_0_0_form_is_left_alone() {
        let once = MongodbV1::migrate(connection(config(atlas()))).unwrap();
        let twice = MongodbV1::migrate(
            testing::connection("airbyte/source-mongodb-v2", "0.2.5")
                .config(once.config.clone())
                .build_with(once.catalog.clone(), vec![]),
        )
        .unwrap();
        assert_eq!(
            (&twice.config, &twice.catalog),
            (&once.config, &once.catalog)
        );
        assert!(twice.actions.is_empty() && twice.notes.is_empty());
    }
}
