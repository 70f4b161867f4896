//! What `cutover plugin new elastic/<service type> X.Y.Z` writes: an Elastic connector
//! migration (`ConnectorMigration`) that builds, passes its unit test and its golden fixture
//! (a connector document it leaves as it is) from the first minute.

use crate::manifest::{Manifest, Precondition};
use semver::Version;
use serde_json::{Value, json};

/// The service type a plugin's fixture uses: its own, or MySQL's for a plugin of every data
/// source.
fn service_type(connector: &str) -> &str {
    match connector.rsplit('/').next() {
        Some("*") | None => "mysql",
        Some(name) => name,
    }
}

/// The manifest a new Elastic plugin starts from.
pub fn manifest(connector: &str, version: &Version, previous: &Version) -> Manifest {
    Manifest {
        connector: connector.to_owned(),
        applies_to: format!(">={previous}, <{version}"),
        produces: version.to_string(),
        message: format!("Describe what changes for {connector} connectors in {version}."),
        upgrade_deadline: None,
        deadline_action: None,
        documentation_url: format!(
            "https://www.elastic.co/guide/en/elasticsearch/reference/{}.{}/es-connectors-release-notes.html",
            version.major, version.minor
        ),
        scoped_streams: Vec::new(),
        preconditions: ["elasticsearch", "enterprise_search", "kibana"]
            .iter()
            .map(|s| Precondition {
                subject: (*s).to_owned(),
                requirement: format!(">={version}"),
            })
            .collect(),
        guide: String::new(),
    }
}

/// The golden fixture: a connector document the new plugin leaves as it is.
pub fn fixture(connector: &str) -> Value {
    json!({
        "id": "example",
        "name": "An example connector",
        "service_type": service_type(connector),
        "index_name": "search-example",
        "configuration": {"host": {"label": "Host", "type": "str", "value": "db.example"}},
        "pipeline": {"extract_binary_content": true, "name": "search-default-ingestion", "reduce_whitespace": true, "run_ml_inference": false},
        "status": "connected",
        "sync_cursor": null
    })
}

/// `src/lib.rs` of a new Elastic plugin.
pub fn lib_rs(m: &Manifest) -> String {
    format!(
        r##"//! {connector} {produces}: the connectors framework's migration guide for this version, as code.
//!
//! Say here what changed in {produces} (compare the data source's
//! `get_default_configuration()` of the two versions), what this plugin does to each
//! connector document, and what it leaves to the operator (the actions it returns).

use cutover_plugin::elastic::{{Connector, ConnectorMigration, ConnectorOutcome, upgrade_order}};
use cutover_plugin::{{Manifest, Result}};

/// The guide shown by `cutover plugin guide` and in plans: what changes and what to do.
const GUIDE: &str = "Describe what the migration changes and what the operator must still do.";

pub struct Plugin;

impl ConnectorMigration for Plugin {{
    fn manifest() -> Manifest {{
        Manifest {{
            connector: {connector:?}.into(),
            applies_to: {applies_to:?}.into(),
            produces: {produces:?}.into(),
            message: {message:?}.into(),
            documentation_url: {url:?}.into(),
            preconditions: upgrade_order({produces:?}),
            guide: GUIDE.into(),
            ..Default::default()
        }}
    }}

    fn migrate(connector: Connector) -> Result<ConnectorOutcome> {{
        let out = connector.into_outcome();
        // With both versions' default configurations (cutover_plugin::defaults!), rename,
        // invert, retype or remove fields with cutover_plugin::elastic::configuration, then
        // give the configuration exactly the new version's fields with out.conform(&new).
        // Add what is left to the operator with out.action(…), and say what was done with
        // out.note(…).
        Ok(out)
    }}
}}

cutover_plugin::export_connector!(Plugin);

#[cfg(test)]
mod tests {{
    use super::*;
    use cutover_plugin::elastic::{{Defaults, testing}};
    use cutover_plugin::json;

    #[test]
    fn keeps_a_connector_it_has_nothing_to_change_in() {{
        let defaults = Defaults::parse("{service_type}", {produces:?}, r#"{{"host": {{"label": "Host", "type": "str", "value": ""}}}}"#).unwrap();
        let connector = testing::connector(&defaults, &[("host", json!("db.example"))]);
        let out = Plugin::migrate(connector.clone()).unwrap();
        assert_eq!(out.document, connector.document);
        assert!(out.actions.is_empty());
        assert_eq!(Plugin::manifest().produces, {produces:?});
    }}
}}
"##,
        connector = m.connector,
        applies_to = m.applies_to,
        produces = m.produces,
        message = m.message,
        url = m.documentation_url,
        service_type = service_type(&m.connector),
    )
}
