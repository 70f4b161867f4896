//! source-snowflake 1.0.0, from 0.x: the migration guide of the 1.0.0 breaking change as code.
//!
//! What 1.0.0 changed (the `breakingChanges` entry and the guide): the community connector is
//! replaced by Airbyte's certified one, built on the Bulk CDK. Full refresh is unchanged; an
//! incremental stream's state "will not be compatible", so its next sync is a one-time full
//! refresh that writes a new state. The guide calls the config "backwards compatible", and for
//! the fields it is: the same names, plus optional new ones (`cursor`, `concurrency`,
//! `checkpoint_target_interval_seconds`, `check_privileges`). 1.0.0's code
//! (`SnowflakeSourceConfigurationFactory`) accepts two credentials forms only, though:
//! "Key Pair Authentication" and "username/password". The community connector also read a
//! hidden OAuth form and, with no `credentials` object, a top-level `username`/`password`.
//!
//! Why every per-stream state goes, not only the incremental streams': 0.x (Java CDK 0.20.4)
//! writes a cursor state (`{"cursor_field": [...], "cursor": ..., ...}`) and reads it only for
//! incremental streams, so a full refresh stream's state is a leftover of an earlier
//! incremental period that 0.x ignores. 1.0.0's Bulk CDK reads every stream's state as
//! `{"primary_key": {...}, "cursors": {...}}`; an old state has neither, and for a full refresh
//! stream that reads as "snapshot complete" (`DefaultJdbcPartitionFactory.create`): the
//! stream would sync no rows, and an overwrite would empty its table. For an incremental
//! stream it reads as a cold start, the one-time full refresh the guide describes.
//!
//! What this plugin does: drops the old state of every stream (and a legacy whole-connection
//! state), and asks for each stream synced incrementally to be cleared (its re-read then
//! replaces the destination's rows instead of appending them a second time); full refresh
//! streams need no clear and keep their sync as it is. A top-level `username`/`password`
//! moves into `credentials`. An OAuth config is refused (`needs-operator`): only the operator
//! has the password or key pair 1.0.0 needs.

use cutover_plugin::{
    Action, Connection, Error, Manifest, Migration, Outcome, Result, StreamDescriptor, Value,
    catalog, json, state,
};

/// 1.0.0's two credentials forms (`auth_type`, the Jackson type id of each).
const KEY_PAIR: &str = "Key Pair Authentication";
const USERNAME_PASSWORD: &str = "username/password";

pub struct SnowflakeV1;

impl Migration for SnowflakeV1 {
    fn manifest() -> Manifest {
        Manifest {
            connector: "airbyte/source-snowflake".into(),
            applies_to: ">=0.1.0, <1.0.0".into(),
            produces: "1.0.0".into(),
            message: "**Important: This version introduces Airbyte certified source connector to replace community supported connector.**\n**What to expect when upgrading:**\n1. The certified connector configuration spec should be compatible with community version. 2. Full refresh sync mode should remain the same. 3. For incremental sync mode, a full refresh will be triggered for next sync because the connection state will not be compatible. New state will be populated after full refresh is completed.".into(),
            upgrade_deadline: Some("2025-09-30".into()),
            deadline_action: None,
            documentation_url: "https://docs.airbyte.com/integrations/sources/snowflake-migrations#1.0.0".into(),
            scoped_streams: Vec::new(),
            preconditions: Vec::new(),
            guide: GUIDE.into(),
        }
    }

    fn migrate(connection: Connection) -> Result<Outcome> {
        let mut out = connection.into_outcome();
        if migrate_credentials(&mut out.config)? {
            out.note("username and password moved from the config's top level into credentials (auth_type username/password): 1.0.0 reads credentials only");
            out.action(Action::RetestSource {
                reason: "the credentials moved into the credentials object".into(),
            });
        }

        let mut incremental = Vec::new();
        for entry in catalog::streams(&out.catalog) {
            let Some(descriptor) = catalog::descriptor(entry) else {
                return Err(Error::InvalidInput(
                    "a configured stream has no stream.name".into(),
                ));
            };
            if entry.get("sync_mode").and_then(Value::as_str) == Some("incremental") {
                incremental.push(descriptor);
            }
        }
        let dropped = drop_states(&mut out.state)?;
        if dropped.legacy {
            out.note("the legacy (whole-connection) state is dropped: 1.0.0 reads per-stream states only");
        }
        if !dropped.streams.is_empty() {
            out.note(format!(
                "state dropped for {}: 1.0.0 cannot read the community connector's cursor states (a full refresh stream's would read as a finished snapshot)",
                dropped.streams.join(", ")
            ));
        }
        for stream in incremental {
            out.action(Action::ClearStream {
                stream,
                reason: "its state is incompatible with the certified connector and is dropped: the next sync reads the whole table again, so clear the stream for that read to replace what the destination holds".into(),
            });
        }
        Ok(out)
    }
}

/// Brings the credentials to one of 1.0.0's two forms. Returns whether the config changed.
fn migrate_credentials(config: &mut Value) -> Result<bool> {
    let Some(config) = config.as_object_mut() else {
        return Err(Error::InvalidInput("the config is not an object".into()));
    };
    if let Some(credentials) = config.get("credentials") {
        return match credentials.get("auth_type").and_then(Value::as_str) {
            Some(KEY_PAIR | USERNAME_PASSWORD) => Ok(false),
            Some("OAuth") => Err(Error::NeedsOperator(
                "the source signs in with OAuth, which 1.0.0 no longer offers; give it a username and password or a key pair (credentials) on 0.x first".into(),
            )),
            other => Err(Error::InvalidInput(format!(
                "credentials.auth_type is {}, which neither 0.x nor 1.0.0 accepts",
                other.map_or("missing".to_owned(), |t| format!("{t:?}"))
            ))),
        };
    }
    // The community connector's form from before `credentials`: `populateUsernamePasswordConfig`
    // on the top-level config.
    let (Some(Value::String(_)), Some(Value::String(_))) =
        (config.get("username"), config.get("password"))
    else {
        return Err(Error::NeedsOperator(
            "the config has no credentials and no top-level username and password: give the source a username and password or a key pair".into(),
        ));
    };
    let username = config.shift_remove("username").expect("checked above");
    let password = config.shift_remove("password").expect("checked above");
    // In front, where 1.0.0's spec orders it.
    let rest = std::mem::take(config);
    config.insert(
        "credentials".into(),
        json!({"auth_type": USERNAME_PASSWORD, "username": username, "password": password}),
    );
    config.extend(rest);
    Ok(true)
}

/// What [`drop_states`] removed.
struct Dropped {
    /// The streams whose per-stream state was dropped, as `namespace.name`.
    streams: Vec<String>,
    /// Whether a legacy whole-connection state was dropped.
    legacy: bool,
}

/// Drops every per-stream state and any legacy state: the community connector's cursor
/// states, which 1.0.0 cannot read (see the module's documentation).
fn drop_states(states: &mut Vec<Value>) -> Result<Dropped> {
    let mut dropped = Dropped {
        streams: Vec::new(),
        legacy: false,
    };
    for message in states.iter() {
        match state::kind(message) {
            Some(state::Kind::Stream) => {
                let d = &message["stream"]["stream_descriptor"];
                let descriptor = StreamDescriptor {
                    name: d["name"].as_str().unwrap_or_default().to_owned(),
                    namespace: d
                        .get("namespace")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                };
                dropped.streams.push(descriptor.to_string());
            }
            Some(state::Kind::Legacy) => dropped.legacy = true,
            Some(state::Kind::Global) | None => {
                return Err(Error::UnsupportedShape(format!(
                    "a state message of type {}: the community Snowflake connector writes per-stream (or legacy) states only",
                    message.get("type").unwrap_or(&Value::Null)
                )));
            }
        }
    }
    states.clear();
    Ok(dropped)
}

cutover_plugin::export!(SnowflakeV1);

const GUIDE: &str = include_str!("../GUIDE.md");

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::testing::{self, cleared};

    fn entry(name: &str, namespace: &str, mode: &str) -> Value {
        let mut e = json!({
            "stream": {"name": name, "namespace": namespace, "json_schema": {"type": "object", "properties": {"ID": {"type": "number"}, "UPDATED_AT": {"type": "string", "format": "date-time"}}}, "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_primary_key": [["ID"]]},
            "sync_mode": mode,
            "destination_sync_mode": if mode == "incremental" { "append_dedup" } else { "overwrite" },
            "primary_key": [["ID"]]
        });
        if mode == "incremental" {
            e["cursor_field"] = json!(["UPDATED_AT"]);
        }
        e
    }

    fn stream_state(name: &str, namespace: &str) -> Value {
        json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": name, "namespace": namespace}, "stream_state": {"stream_name": name, "stream_namespace": namespace, "cursor_field": ["UPDATED_AT"], "cursor": "2025-06-01T00:00:00.000000Z", "cursor_record_count": 1}}})
    }

    fn credentials() -> Value {
        json!({"auth_type": USERNAME_PASSWORD, "username": "AIRBYTE_USER", "password": "p"})
    }

    fn connection(config: Value, streams: Vec<Value>, states: Vec<Value>) -> Connection {
        testing::connection("airbyte/source-snowflake", "0.3.6")
            .config(config)
            .build_with(json!({"streams": streams}), states)
    }

    fn config(credentials: Value) -> Value {
        json!({"credentials": credentials, "host": "acme.us-east-2.aws.snowflakecomputing.com", "role": "AIRBYTE_ROLE", "warehouse": "AIRBYTE_WAREHOUSE", "database": "AIRBYTE_DATABASE"})
    }

    #[test]
    fn every_old_state_is_dropped_and_incremental_streams_cleared() {
        let streams = vec![
            entry("ORDERS", "SALES", "incremental"),
            entry("ORDERS", "ARCHIVE", "full_refresh"),
        ];
        let states = vec![
            stream_state("ORDERS", "SALES"),
            stream_state("ORDERS", "ARCHIVE"),
        ];
        let out = SnowflakeV1::migrate(connection(config(credentials()), streams.clone(), states))
            .unwrap();
        assert!(out.state.is_empty());
        assert_eq!(out.catalog, json!({"streams": streams}));
        assert_eq!(out.config, config(credentials()));
        assert_eq!(cleared(&out), ["ORDERS"]);
        assert!(
            matches!(&out.actions[0], Action::ClearStream { stream, .. } if stream.namespace.as_deref() == Some("SALES"))
        );
    }

    #[test]
    fn full_refresh_only_is_kept_as_it_is() {
        let streams = vec![entry("RATES", "PUBLIC", "full_refresh")];
        let c = connection(config(credentials()), streams, vec![]);
        let out = SnowflakeV1::migrate(c.clone()).unwrap();
        assert_eq!(
            (out.config, out.catalog, out.state),
            (c.config, c.catalog, c.state)
        );
        assert!(out.actions.is_empty() && out.notes.is_empty());
    }

    #[test]
    fn top_level_username_and_password_move_into_credentials() {
        let mut c = config(Value::Null);
        let o = c.as_object_mut().unwrap();
        o.shift_remove("credentials");
        o.insert("username".into(), json!("AIRBYTE_USER"));
        o.insert("password".into(), json!("p"));
        let out = SnowflakeV1::migrate(connection(c, vec![], vec![])).unwrap();
        assert_eq!(out.config, config(credentials()));
        assert!(matches!(out.actions[..], [Action::RetestSource { .. }]));
    }

    #[test]
    fn a_legacy_state_is_dropped() {
        let legacy = json!({"type": "LEGACY", "data": {"cdc": false, "streams": [{"stream_name": "ORDERS", "stream_namespace": "SALES", "cursor_field": ["UPDATED_AT"], "cursor": "2025-06-01"}]}});
        let out = SnowflakeV1::migrate(connection(
            config(credentials()),
            vec![entry("ORDERS", "SALES", "incremental")],
            vec![legacy],
        ))
        .unwrap();
        assert!(out.state.is_empty());
        assert_eq!(cleared(&out), ["ORDERS"]);
    }

    #[test]
    fn oauth_needs_the_operator_and_unknown_forms_are_refused() {
        let oauth = json!({"auth_type": "OAuth", "client_id": "i", "client_secret": "s", "refresh_token": "r"});
        assert!(matches!(
            SnowflakeV1::migrate(connection(config(oauth), vec![], vec![])),
            Err(Error::NeedsOperator(m)) if m.contains("OAuth")
        ));
        let no_type = json!({"username": "u", "private_key": "k"});
        assert!(matches!(
            SnowflakeV1::migrate(connection(config(no_type), vec![], vec![])),
            Err(Error::InvalidInput(_))
        ));
        let global = json!({"type": "GLOBAL", "global": {"stream_states": []}});
        assert!(matches!(
            SnowflakeV1::migrate(connection(config(credentials()), vec![], vec![global])),
            Err(Error::UnsupportedShape(_))
        ));
    }

    #[test]
    fn migrating_its_own_output_changes_nothing_more() {
        let streams = vec![entry("ORDERS", "SALES", "incremental")];
        let once = SnowflakeV1::migrate(connection(
            config(credentials()),
            streams.clone(),
            vec![stream_state("ORDERS", "SALES")],
        ))
        .unwrap();
        let twice =
            SnowflakeV1::migrate(connection(once.config.clone(), streams, once.state.clone()))
                .unwrap();
        assert_eq!((once.config, once.state), (twice.config, twice.state));
    }
}
