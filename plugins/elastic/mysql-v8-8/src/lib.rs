//! Elastic MySQL connectors, 8.7 → 8.8: the configuration changes the 8.8 known issues list
//! ("missing configuration fields must be added by hand"), found by comparing the MySQL data
//! source's `get_default_configuration()` of the two branches: `ssl_disabled` became
//! `ssl_enabled` (inverted), `database` went from a list to one database, `tables` is new.
//!
//! The data source's sync rules changed with it (`connectors/sources/mysql.py`, 8.7 and 8.8
//! branches), and the service validates the active ones before every sync:
//! - advanced rules were `{database: {table: query}}` (8.7 `MySQLAdvancedRulesValidator`
//!   checks the databases are configured, `get_docs` runs each table's query, formatted with
//!   `str.format(database=…, table=…)`); 8.8's validator requires a list of
//!   `{"tables": [..], "query": ".."}` and runs each query as it is. The `rules` module rewrites them.
//! - documents were built with fields `<database>_<table>_<column>`, `Database`, `Table` and an
//!   `_id` of `<database>_<table>_<keys>`; 8.8's `row2doc` names them by column alone, with
//!   `Table` and an `_id` of `<table>_<keys>`. A basic rule on any field but `Table` and
//!   `_timestamp` would match other documents than it does now, so the connector is refused
//!   naming it.

mod rules;

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
            message: "Connectors created before 8.8 are missing configuration fields in 8.8 that must be added by hand. MySQL: ssl_disabled is replaced by ssl_enabled (its opposite), database takes a single database, and the new tables field lists the tables to sync. Advanced sync rules become a list of {tables, query}, and documents name their fields by column.".into(),
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
        rules::migrate(&mut out)?;
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

    /// An 8.7 connector of database crm with `filtering` as Kibana 8.7 stores it.
    fn with_rules(active: Value, draft: Value, basic: Value) -> Connector {
        let mut c = testing::connector(&defaults().0, &[("database", json!("crm"))]);
        let filter = |advanced: Value| {
            json!({"advanced_snippet": {"created_at": "2023-05-02T09:12:44.113Z", "updated_at": "2023-05-02T09:12:44.113Z", "value": advanced},
                   "rules": basic, "validation": {"errors": [], "state": "valid"}})
        };
        c.document.insert(
            "filtering".into(),
            json!([{"domain": "DEFAULT", "active": filter(active), "draft": filter(draft)}]),
        );
        c
    }

    fn default_rule() -> Value {
        json!([{"id": "DEFAULT", "field": "_", "policy": "include", "rule": "regex", "value": ".*", "order": 0,
                "created_at": "2023-05-02T09:12:44.113Z", "updated_at": "2023-05-02T09:12:44.113Z"}])
    }

    #[test]
    fn advanced_rules_become_8_8_list_in_active_and_draft_alike() {
        let rules = json!({"crm": {"orders": "SELECT * FROM {database}.{table} WHERE total > 100", "customers": "SELECT * FROM customers WHERE active = 1"}});
        let out = MysqlV8_8::migrate(with_rules(rules.clone(), rules, default_rule())).unwrap();
        let want = json!([
            {"tables": ["orders"], "query": "SELECT * FROM crm.orders WHERE total > 100"},
            {"tables": ["customers"], "query": "SELECT * FROM customers WHERE active = 1"}
        ]);
        for state in ["active", "draft"] {
            let snippet = &out.document["filtering"][0][state]["advanced_snippet"];
            assert_eq!(snippet["value"], want, "{state}");
            assert_eq!(
                snippet["created_at"], "2023-05-02T09:12:44.113Z",
                "the rest is kept"
            );
        }
        assert!(
            out.notes.iter().any(|n| n
                .contains("advanced sync rules (active and draft) rewritten into 8.8's list")
                && n.contains("(orders, customers)")
                && n.contains("filled in")),
            "{:?}",
            out.notes
        );
    }

    #[test]
    fn a_draft_that_differs_is_rewritten_on_its_own() {
        let active = json!({"crm": {"orders": "SELECT * FROM orders"}});
        let draft = json!({"crm": {"orders": "SELECT * FROM orders WHERE id > 5"}});
        let out = MysqlV8_8::migrate(with_rules(active, draft, default_rule())).unwrap();
        assert_eq!(
            out.document["filtering"][0]["draft"]["advanced_snippet"]["value"],
            json!([{"tables": ["orders"], "query": "SELECT * FROM orders WHERE id > 5"}])
        );
        assert_eq!(
            out.notes
                .iter()
                .filter(|n| n.contains("advanced sync rules"))
                .count(),
            2
        );
        assert!(
            out.notes.iter().all(|n| !n.contains("filled in")),
            "nothing to fill in: {:?}",
            out.notes
        );
    }

    #[test]
    fn rules_of_another_database_are_refused_naming_it_and_where() {
        let active = json!({"crm": {"orders": "SELECT 1"}});
        let draft = json!({"crm": {"orders": "SELECT 1"}, "billing": {"invoices": "SELECT 2"}});
        let err = MysqlV8_8::migrate(with_rules(active, draft, default_rule()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("connector test-connector (mysql)")
                && err.contains("draft sync rules")
                && err.contains("database billing")
                && !err.contains("active sync rules"),
            "{err}"
        );
    }

    #[test]
    fn basic_rules_on_fields_8_8_renames_are_refused_and_others_kept() {
        let mut rules = json!([
            {"id": "keep", "field": "Table", "policy": "exclude", "rule": "equals", "value": "audit_log", "order": 0},
            {"id": "DEFAULT", "field": "_", "policy": "include", "rule": "regex", "value": ".*", "order": 1}
        ]);
        let out = MysqlV8_8::migrate(with_rules(json!({}), json!({}), rules.clone())).unwrap();
        assert_eq!(out.document["filtering"][0]["active"]["rules"], rules);
        rules.as_array_mut().unwrap().insert(
            0,
            json!({"id": "mail", "field": "crm_customers_email", "policy": "exclude", "rule": "ends_with", "value": "@internal", "order": 0}),
        );
        let err = MysqlV8_8::migrate(with_rules(json!({}), json!({}), rules))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("rule mail (exclude crm_customers_email ends_with \"@internal\")")
                && err.contains("by the column alone")
                && !err.contains("rule keep"),
            "{err}"
        );
    }
}
