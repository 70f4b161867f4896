//! Elastic Oracle connectors, 8.14 → 8.15: connections by service name
//! (elastic/connectors #2429). By comparing `get_default_configuration()` of the two branches:
//! `database` (used as the SID in the connection's DSN) → `connection_source` (`sid` or
//! `service_name`) with `sid` and `service_name`.
//!
//! Sync rules are kept as they are (`connectors/sources/oracle.py`, 8.14 and 8.15): neither
//! version has advanced rules (no `advanced_rules_validators`, `get_docs` ignores them), and
//! documents keep their fields: 8.15's `self.database` is the SID, as 8.14's `database` was,
//! so `_id` (`<database>_<table>_<keys>`), `Database` and the column names do not change.

use cutover_plugin::elastic::{
    Connector, ConnectorMigration, ConnectorOutcome, Defaults, configuration, step,
};
use cutover_plugin::{Manifest, Result, Value};

/// The oracle data source's default configurations on both sides (tests/fixtures/elastic).
pub fn defaults() -> (Defaults, Defaults) {
    cutover_plugin::defaults!("../../../tests/fixtures/elastic", "oracle", "8.14.0" => "8.15.0")
}

pub struct OracleV8_15;

impl ConnectorMigration for OracleV8_15 {
    fn manifest() -> Manifest {
        Manifest {
            message: "The Oracle connector connects by SID or by service name: the database field is replaced by connection_source with sid and service_name.".into(),
            documentation_url: "https://www.elastic.co/guide/en/elasticsearch/reference/8.15/es-connectors-oracle.html".into(),
            guide: include_str!("../GUIDE.md").into(),
            ..step("elastic/oracle", "8.14.0", "8.15.0")
        }
    }

    fn migrate(connector: Connector) -> Result<ConnectorOutcome> {
        let (old, new) = defaults();
        let mut out = connector.into_checked_outcome(&old)?;
        let config = out.configuration_mut();
        if configuration::rename(config, "database", "sid", &new)? {
            configuration::set(
                config,
                "connection_source",
                Value::String("sid".into()),
                &new,
            )?;
        }
        out.conform(&new)?;
        Ok(out)
    }
}

cutover_plugin::export_connector!(OracleV8_15);

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::elastic::testing;
    use cutover_plugin::json;

    #[test]
    fn the_database_becomes_the_sid() {
        let c = testing::connector(
            &defaults().0,
            &[
                ("host", json!("ora.internal")),
                ("port", json!(1521)),
                ("database", json!("ORCLCDB")),
            ],
        );
        let out = OracleV8_15::migrate(c).unwrap();
        let cfg = out.configuration();
        assert_eq!(
            cfg.keys().cloned().collect::<Vec<_>>(),
            defaults().1.fields.keys().cloned().collect::<Vec<_>>()
        );
        assert_eq!(cfg["sid"]["value"], "ORCLCDB");
        assert_eq!(cfg["connection_source"]["value"], "sid");
        assert_eq!(cfg["port"]["value"], 1521);
        assert_eq!(cfg["service_name"]["value"], "");
    }

    #[test]
    fn sync_rules_are_kept_byte_for_byte() {
        let mut c = testing::connector(&defaults().0, &[("database", json!("ORCLCDB"))]);
        let filter = json!({"advanced_snippet": {"value": {"any": "unused"}},
            "rules": [{"id": "r1", "field": "ORCLCDB_EMP_SALARY", "policy": "exclude", "rule": ">", "value": "1000", "order": 0},
                      {"id": "DEFAULT", "field": "_", "policy": "include", "rule": "regex", "value": ".*", "order": 1}],
            "validation": {"errors": [], "state": "valid"}});
        c.document.insert(
            "filtering".into(),
            json!([{"domain": "DEFAULT", "active": filter, "draft": filter}]),
        );
        let out = OracleV8_15::migrate(c.clone()).unwrap();
        assert_eq!(out.document["filtering"], c.document["filtering"]);
        assert!(
            out.actions.is_empty() && !out.notes.iter().any(|n| n.contains("sync rules")),
            "{:?} {:?}",
            out.actions,
            out.notes
        );
    }
}
