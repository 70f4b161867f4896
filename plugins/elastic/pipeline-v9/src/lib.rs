//! Elastic connectors of every data source, 8.x → 9.0: Enterprise Search and managed
//! connectors are removed, and the default ingest pipeline `ent-search-generic-ingestion`
//! becomes `search-default-ingestion` (elastic/connectors #3049, `PIPELINE_DEFAULT` of the
//! 9.0 branch; elastic/elasticsearch #118899).
//!
//! Sync rules are kept as they are: each migrated data source's 9.0 validator accepts what
//! its last 8.x one did (`connectors/sources/*.py`, 8.15 and 9.0 branches: MySQL adds an
//! optional `id_columns`, GitHub a `path` filter, SharePoint Online is unchanged, Oracle and
//! SharePoint Server have no advanced rules), and document fields did not change. Rules 9.0
//! rejects (MySQL rules still in 8.7's `{database: {table: query}}`, left by an 8.8 upgrade
//! that did not rewrite them) fail every sync, so the connector is refused naming them.

use cutover_plugin::elastic::{
    Connector, ConnectorMigration, ConnectorOutcome, advanced_rules, filtering, step,
};
use cutover_plugin::{Action, Manifest, Precondition, Result, Value};

pub const OLD_PIPELINE: &str = "ent-search-generic-ingestion";
pub const NEW_PIPELINE: &str = "search-default-ingestion";

pub struct PipelineV9;

impl ConnectorMigration for PipelineV9 {
    fn manifest() -> Manifest {
        Manifest {
            message: "Enterprise Search and managed connectors are removed in 9.0; the default ingest pipeline ent-search-generic-ingestion is replaced by search-default-ingestion.".into(),
            documentation_url: "https://www.elastic.co/guide/en/elasticsearch/reference/9.0/es-connectors-release-notes.html".into(),
            preconditions: ["elasticsearch", "kibana"].iter().map(|s| Precondition::new(s, ">=9.0.0")).collect(),
            guide: include_str!("../GUIDE.md").into(),
            ..step("elastic/*", "8.0.0", "9.0.0")
        }
    }

    fn migrate(connector: Connector) -> Result<ConnectorOutcome> {
        let mut out = connector.into_outcome();
        if let Some(check) = advanced_rules::check(out.service_type(), "9.0.0") {
            filtering::require_advanced_rules(&mut out, "9.0", check)?;
        }
        if !out.rename_pipeline(OLD_PIPELINE, NEW_PIPELINE)
            && let Some(name) = out
                .document
                .get("pipeline")
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
        {
            let note = format!(
                "pipeline {name} is kept: check it does not call {OLD_PIPELINE}, which 9.0 no longer has"
            );
            out.note(note);
        }
        if out.document.get("is_native") == Some(&Value::Bool(true)) {
            out.action(Action::ReviewField {
                pointer: "/is_native".into(),
                reason: "a managed connector is not run by Elastic on a self-managed 9.0 deployment: run it with your own connectors service".into(),
            });
        }
        Ok(out)
    }
}

cutover_plugin::export_connector!(PipelineV9);

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::elastic::testing;
    use cutover_plugin::json;

    fn connector() -> Connector {
        testing::connector(
            &cutover_plugin::defaults!("../../../tests/fixtures/elastic", "mysql", "8.8.0"),
            &[],
        )
    }

    #[test]
    fn renames_the_default_pipeline_and_keeps_its_settings() {
        let out = PipelineV9::migrate(connector()).unwrap();
        assert_eq!(
            out.document["pipeline"],
            json!({"name": NEW_PIPELINE, "extract_binary_content": true, "reduce_whitespace": true, "run_ml_inference": false})
        );
        assert_eq!(
            out.document["configuration"],
            connector().document["configuration"],
            "the configuration is untouched"
        );
    }

    #[test]
    fn keeps_a_custom_pipeline_and_flags_managed_connectors() {
        let mut c = connector();
        c.document["pipeline"]["name"] = json!("crm-enrich");
        c.document.insert("is_native".into(), json!(true));
        let out = PipelineV9::migrate(c).unwrap();
        assert_eq!(out.document["pipeline"]["name"], "crm-enrich");
        assert!(out.notes[0].contains("crm-enrich is kept"));
        assert!(
            matches!(&out.actions[..], [Action::ReviewField { pointer, .. }] if pointer == "/is_native")
        );
    }

    fn with_advanced_rules(service_type: &str, rules: Value) -> Connector {
        let mut c = connector();
        c.document["service_type"] = json!(service_type);
        let filter = json!({"advanced_snippet": {"value": rules}, "rules": [], "validation": {"errors": [], "state": "valid"}});
        c.document.insert(
            "filtering".into(),
            json!([{"domain": "DEFAULT", "active": filter, "draft": filter}]),
        );
        c
    }

    #[test]
    fn keeps_sync_rules_9_0_reads_and_refuses_those_it_rejects() {
        for (service_type, rules) in [
            (
                "mysql",
                json!([{"tables": ["orders"], "query": "SELECT * FROM orders"}]),
            ),
            (
                "github",
                json!([{"repository": "a/b", "filter": {"pr": "is:open"}}]),
            ),
            (
                "sharepoint_online",
                json!({"skipExtractingDriveItemsOlderThan": 7}),
            ),
            ("oracle", json!({"anything": "unused"})),
        ] {
            let c = with_advanced_rules(service_type, rules);
            let out = PipelineV9::migrate(c.clone()).unwrap();
            assert_eq!(
                out.document["filtering"], c.document["filtering"],
                "{service_type}"
            );
        }
        let err = PipelineV9::migrate(with_advanced_rules(
            "mysql",
            json!({"crm": {"orders": "SELECT 1"}}),
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("active and draft sync rules: they are an object, not a list")
                && err.contains("9.0 validates them before every sync"),
            "{err}"
        );
    }
}
