//! Elastic MySQL connectors, 8.7 → 8.8: the configuration changes the 8.8 known issues list
//! ("missing configuration fields must be added by hand"), found by comparing the MySQL data
//! source's `get_default_configuration()` of the two branches: `ssl_disabled` became
//! `ssl_enabled` (inverted), `database` went from a list to one database, `tables` is new.

use cutover_plugin::elastic::{
    Connector, ConnectorMigration, ConnectorOutcome, Defaults, configuration, step,
};
use cutover_plugin::{Action, Error, Manifest, Result, Value};

/// The MySQL data source's defaults in 8.7 and 8.8.
/// The mysql data source's default configurations on both sides (tests/fixtures/elastic).
pub fn defaults() -> (Defaults, Defaults) {
    cutover_plugin::defaults!("../../../tests/fixtures/elastic", "mysql", "8.7.0" => "8.8.0")
}

pub struct MysqlV8_8;

impl ConnectorMigration for MysqlV8_8 {
    fn manifest() -> Manifest {
        Manifest {
            message: "Connectors created before 8.8 are missing configuration fields in 8.8 that must be added by hand. MySQL: ssl_disabled is replaced by ssl_enabled (its opposite), database takes a single database, and the new tables field lists the tables to sync.".into(),
            documentation_url: "https://www.elastic.co/guide/en/enterprise-search/8.8/known-issues.html".into(),
            guide: include_str!("../GUIDE.md").into(),
            ..step("elastic/mysql", "8.7.0", "8.8.0")
        }
    }

    fn migrate(connector: Connector) -> Result<ConnectorOutcome> {
        let (old, new) = defaults();
        let mut out = connector.into_checked_outcome(&old)?;
        let config = out.configuration_mut();
        let databases = configuration::value(config, "database").cloned();
        configuration::invert(config, "ssl_disabled", "ssl_enabled", &new)?;
        configuration::retype(config, "database", &old, &new).map_err(|e| match (e, databases) {
            (Error::NeedsOperator(_), Some(list)) => Error::NeedsOperator(format!(
                "database lists several databases ({}); 8.8 syncs one database per connector: create a connector for each and leave one here",
                list_text(&list)
            )),
            (e, _) => e,
        })?;
        let had_tables = config.contains_key("tables");
        out.conform(&new)?;
        if !had_tables {
            out.note("tables = * syncs every table of the database, as 8.7 did");
        }
        if out.configuration()["ssl_enabled"]["value"] == Value::Bool(true)
            && configuration::is_empty(&out.configuration()["ssl_ca"]["value"])
        {
            out.action(Action::ReviewField {
                pointer: "/configuration/ssl_ca".into(),
                reason: "SSL stays enabled; 8.8 verifies the server against the certificate in ssl_ca, which is empty".into(),
            });
        }
        Ok(out)
    }
}

/// A database list as 8.7 stored it (text or a JSON list), for messages.
fn list_text(list: &Value) -> String {
    match list {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

cutover_plugin::export_connector!(MysqlV8_8);

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::elastic::testing;
    use cutover_plugin::json;

    fn migrate(values: &[(&str, Value)]) -> Result<ConnectorOutcome> {
        MysqlV8_8::migrate(testing::connector(&defaults().0, values))
    }

    #[test]
    fn carries_every_value_to_the_8_8_fields() {
        let out = migrate(&[
            ("host", json!("db.internal")),
            ("port", json!("3307")),
            ("database", json!("crm")),
            ("ssl_disabled", json!("false")),
        ])
        .unwrap();
        let c = out.configuration();
        let keys: Vec<String> = c.keys().cloned().collect();
        let want: Vec<String> = defaults().1.fields.keys().cloned().collect();
        assert_eq!(keys, want, "exactly 8.8's fields");
        assert_eq!(c["host"]["value"], "db.internal");
        assert_eq!(c["port"]["value"], 3307);
        assert_eq!(c["database"]["value"], "crm");
        assert_eq!(
            c["ssl_enabled"]["value"], true,
            "ssl_disabled false means SSL on"
        );
        assert_eq!(c["tables"]["value"], "*");
        assert!(
            matches!(&out.actions[..], [Action::ReviewField { pointer, .. }] if pointer == "/configuration/ssl_ca")
        );
    }

    #[test]
    fn refuses_several_databases_naming_them() {
        let err = migrate(&[("database", json!("crm, billing"))])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("crm, billing") && err.contains("one database per connector"),
            "{err}"
        );
        let err = migrate(&[("database", json!(["crm", "billing"]))])
            .unwrap_err()
            .to_string();
        assert!(err.contains("crm, billing"), "{err}");
    }

    #[test]
    fn refuses_a_value_of_the_wrong_type() {
        let err = migrate(&[("port", json!("three thousand"))])
            .unwrap_err()
            .to_string();
        assert!(err.contains("port"), "{err}");
    }
}
