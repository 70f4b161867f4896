//! Connector documents for plugins' unit tests, built from a version's real defaults.

use super::{Connector, Defaults};
use serde_json::{Map, Value, json};

/// A connector of `defaults`' data source at `defaults`' version, as the connectors service
/// creates it (every field at its default; before 8.8, with its label and value only), with
/// the operator's `values` set.
pub fn connector(defaults: &Defaults, values: &[(&str, Value)]) -> Connector {
    let mut configuration = defaults.fields.clone();
    if semver::Version::parse(&defaults.version).is_ok_and(|v| v < semver::Version::new(8, 8, 0)) {
        for field in configuration.values_mut() {
            if let Value::Object(props) = field {
                props.retain(|k, _| k == "label" || k == "value");
            }
        }
    }
    for (key, value) in values {
        let field = configuration
            .entry((*key).to_owned())
            .or_insert_with(|| json!({}));
        field["value"] = value.clone();
    }
    let mut document = Map::new();
    document.insert("id".into(), json!("test-connector"));
    document.insert("service_type".into(), json!(defaults.service_type));
    document.insert(
        "index_name".into(),
        json!(format!("search-{}", defaults.service_type)),
    );
    document.insert("configuration".into(), Value::Object(configuration));
    document.insert("sync_cursor".into(), Value::Null);
    document.insert("pipeline".into(), json!({"name": "ent-search-generic-ingestion", "extract_binary_content": true, "reduce_whitespace": true, "run_ml_inference": false}));
    Connector {
        id: "test-connector".into(),
        version: defaults.version.clone(),
        document,
    }
}
