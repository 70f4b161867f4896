//! The `.elastic-connectors` index mapping (`dynamic: false`): the types Elasticsearch gives
//! a connector document's fields. The double keeps documents as the index would (fields the
//! mapping does not know stay in `_source`, untyped) and checks every document it stores or
//! returns against the mapped types, so neither side can pass a shape Elasticsearch would
//! reject or never send.

use anyhow::{Result, bail};
use serde_json::{Map, Value};

/// The mapped properties of the connector index.
pub struct Mapping {
    properties: Map<String, Value>,
}

impl Mapping {
    /// Reads the index template (its version placeholder read as a number).
    pub fn load(template: &str) -> Result<Self> {
        let text = template.replace("${xpack.application.connector.template.version}", "1");
        let doc: Value = serde_json::from_str(&text)?;
        let properties = doc["template"]["mappings"]["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        if properties.is_empty() {
            bail!("the template maps no properties");
        }
        Ok(Self { properties })
    }

    /// Checks a connector's `_source` against the mapping.
    pub fn check(&self, source: &Map<String, Value>) -> Result<()> {
        check_object("", source, &self.properties)
    }
}

fn check_object(
    at: &str,
    object: &Map<String, Value>,
    properties: &Map<String, Value>,
) -> Result<()> {
    for (key, value) in object {
        let Some(mapping) = properties.get(key) else {
            continue;
        };
        let path = format!("{at}{key}");
        check_value(&path, value, mapping)?;
    }
    Ok(())
}

fn check_value(path: &str, value: &Value, mapping: &Value) -> Result<()> {
    if value.is_null() {
        return Ok(());
    }
    if let Value::Array(items) = value {
        // Every field of Elasticsearch may hold an array of its type.
        for item in items {
            check_value(path, item, mapping)?;
        }
        return Ok(());
    }
    if let Some(properties) = mapping.get("properties").and_then(Value::as_object) {
        let Value::Object(object) = value else {
            bail!("failed to parse field [{path}]: an object is expected, found {value}")
        };
        return check_object(&format!("{path}."), object, properties);
    }
    let ok = match mapping["type"].as_str().unwrap_or("object") {
        "keyword" | "text" => value.is_string() || value.is_number() || value.is_boolean(),
        "boolean" => {
            value.is_boolean() || value.as_str().is_some_and(|s| s == "true" || s == "false")
        }
        "long" | "short" | "integer" => {
            value.is_i64()
                || value.is_u64()
                || value.as_str().is_some_and(|s| s.parse::<i64>().is_ok())
        }
        "date" => value.is_string() || value.is_i64(),
        "object" => value.is_object(),
        _ => true,
    };
    if !ok {
        bail!(
            "failed to parse field [{path}] of type [{}]: {value}",
            mapping["type"].as_str().unwrap_or("?")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checks_mapped_types_and_keeps_unmapped_fields() {
        let m = Mapping::load(super::super::MAPPING).unwrap();
        let ok = json!({"service_type": "mysql", "is_native": false, "pipeline": {"name": "p", "reduce_whitespace": true}, "pending": 1, "configuration": {"a": {}}});
        assert!(m.check(ok.as_object().unwrap()).is_ok());
        let bad = json!({"pipeline": {"reduce_whitespace": {"no": 1}}});
        assert!(
            m.check(bad.as_object().unwrap())
                .unwrap_err()
                .to_string()
                .contains("pipeline.reduce_whitespace")
        );
        assert!(
            m.check(json!({"configuration": "x"}).as_object().unwrap())
                .is_err()
        );
        assert!(
            m.check(
                json!({"last_indexed_document_count": "many"})
                    .as_object()
                    .unwrap()
            )
            .is_err()
        );
    }
}
