//! source-firebolt 2.0.0, from 1.x: the migration guide of the 2.0.0 breaking change as code.
//!
//! What 2.0.0 changed (the `breakingChanges` entry, "Use new firebolt-sdk version", and the
//! guide, "use `Service Account Id` and `Service Account Password` credentials"), read from
//! the two specs and the code at the commits that released 1.0.0 and 2.0.0: the spec's
//! required `username`/`password` become `client_id`/`client_secret`, and `account` and
//! `engine` become required too. The airbyte-cdk entrypoint checks the config against the
//! spec before every check, discover and read, so a 1.0.0 config fails on 2.0.0 with
//! "'client_id' is a required property" (the real 2.0.0 package from PyPI says exactly that).
//! `host` and `database` are unchanged. Discover and read are unchanged (full refresh of each
//! table, no state): the catalog and state are kept as they are.
//!
//! A service account's id and secret exist only in Firebolt, so a connection without them
//! is refused (`needs-operator`, nothing written) naming each missing field and what to do.
//! Once the operator has added them to the source's config, the migration drops the user
//! credentials they replace: 2.0.0's `parse_config` reads `client_id`/`client_secret` before
//! any `username`/`password`, and its spec no longer lists them.

use cutover_plugin::breaking::{Requirement, refuse_unmet};
use cutover_plugin::{Action, Connection, Error, Manifest, Migration, Outcome, Result};

const CONNECTOR: &str = "airbyte/source-firebolt";
const PRODUCES: &str = "2.0.0";

/// 1.0.0's user credentials, which the service account replaces.
const USER_CREDENTIALS: [&str; 2] = ["username", "password"];

/// What 2.0.0 requires and only the operator has: its spec's required fields that 1.0.0's
/// spec did not require (`database`, required by both, carries over).
fn requirements() -> Vec<Requirement> {
    let require = Requirement::always;
    vec![
        require(
            "/client_id",
            "2.0.0 signs in with a Firebolt service account, not a user's email and password: create a service account in Firebolt with access to the database and engine, and add its id to the source's config as client_id (1.0.0 ignores fields it does not know)",
        ),
        require(
            "/client_secret",
            "add the service account's secret to the source's config as client_secret",
        ),
        require(
            "/account",
            "2.0.0 requires the Firebolt account name: add it to the source's config as account",
        ),
        require(
            "/engine",
            "2.0.0 requires the engine to connect to: add its name to the source's config as engine",
        ),
    ]
}

pub struct FireboltV2;

impl Migration for FireboltV2 {
    fn manifest() -> Manifest {
        Manifest {
            connector: CONNECTOR.into(),
            applies_to: ">=1.0.0, <2.0.0".into(),
            produces: PRODUCES.into(),
            message: "Use new firebolt-sdk version.".into(),
            upgrade_deadline: Some("2024-06-01".into()),
            deadline_action: None,
            documentation_url:
                "https://docs.airbyte.com/integrations/sources/firebolt-migrations#2.0.0".into(),
            scoped_streams: Vec::new(),
            preconditions: Vec::new(),
            guide: GUIDE.into(),
        }
    }

    fn migrate(connection: Connection) -> Result<Outcome> {
        refuse_unmet(CONNECTOR, PRODUCES, &requirements(), &connection.config)?;
        let mut out = connection.into_outcome();
        let Some(config) = out.config.as_object_mut() else {
            return Err(Error::InvalidInput("the config is not an object".into()));
        };
        let dropped: Vec<&str> = USER_CREDENTIALS
            .into_iter()
            .filter(|key| config.shift_remove(*key).is_some())
            .collect();
        if dropped.is_empty() {
            return Ok(out);
        }
        out.note(format!(
            "{} dropped: the service account (client_id, client_secret) replaces the user's sign-in, and 2.0.0 reads it instead",
            dropped.join(" and ")
        ));
        out.action(Action::RetestSource {
            reason: "the source signs in with the service account now".into(),
        });
        Ok(out)
    }
}

cutover_plugin::export!(FireboltV2);

const GUIDE: &str = include_str!("../GUIDE.md");

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::{Value, json, testing};

    fn config() -> Value {
        json!({"username": "ana@acme.io", "password": "p", "account": "acme", "host": "api.app.firebolt.io", "database": "analytics", "engine": "analytics_reader"})
    }

    fn catalog() -> Value {
        json!({"streams": [{
            "stream": {"name": "orders", "json_schema": {"type": "object", "properties": {"id": {"type": ["null", "integer"]}}}, "supported_sync_modes": ["full_refresh"]},
            "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"
        }]})
    }

    fn connection(config: Value) -> Connection {
        testing::connection(CONNECTOR, "1.0.0")
            .config(config)
            .build_with(catalog(), vec![])
    }

    fn with_service_account(mut config: Value) -> Value {
        config["client_id"] = json!("bbl9qth066hmxkwyb0hy2iwk8ktez9dz");
        config["client_secret"] = json!("s");
        config
    }

    #[test]
    fn a_user_sign_in_needs_the_operator_and_names_the_service_account_fields() {
        match FireboltV2::migrate(connection(config())) {
            Err(Error::NeedsOperator(m)) => {
                assert!(m.contains("/client_id: 2.0.0 signs in with a Firebolt service account"));
                assert!(m.contains("/client_secret: add the service account's secret"));
                assert!(!m.contains("/account") && !m.contains("/engine"), "{m}");
                assert!(!m.contains("ana@acme.io"), "no config value in the message");
            }
            other => panic!("expected needs-operator, got {other:?}"),
        }
    }

    #[test]
    fn missing_account_and_engine_are_named_too() {
        let mut c = with_service_account(config());
        let o = c.as_object_mut().unwrap();
        o.shift_remove("account");
        o.shift_remove("engine");
        assert!(matches!(
            FireboltV2::migrate(connection(c)),
            Err(Error::NeedsOperator(m)) if m.contains("/account: ") && m.contains("/engine: ") && !m.contains("/client_id")
        ));
    }

    #[test]
    fn with_the_service_account_supplied_the_user_credentials_go() {
        let out = FireboltV2::migrate(connection(with_service_account(config()))).unwrap();
        let keys: Vec<&str> = out
            .config
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "account",
                "host",
                "database",
                "engine",
                "client_id",
                "client_secret"
            ]
        );
        assert_eq!(out.catalog, catalog());
        assert!(out.state.is_empty());
        assert!(matches!(out.actions[..], [Action::RetestSource { .. }]));
    }

    #[test]
    fn migrating_its_own_output_changes_nothing() {
        let once = FireboltV2::migrate(connection(with_service_account(config()))).unwrap();
        let twice = FireboltV2::migrate(connection(once.config.clone())).unwrap();
        assert_eq!(once.config, twice.config);
        assert!(twice.actions.is_empty() && twice.notes.is_empty());
    }
}
