//! A config that a connector's spec accepts, made from the spec alone: what `import` runs
//! `discover` with, where no real account exists and every request is answered offline.

use serde_json::Value;

/// A config that a spec accepts, made from the spec itself: each required property from its
/// `const`, `default`, first `examples` entry, first `enum` value or a value of its type
/// and format; a `oneOf` takes its first branch. Where a pattern rejects what this makes,
/// a `config.json` beside the connector's fixtures gives the values instead.
pub fn config_from_spec(spec: &Value) -> Value {
    let schema = spec.get("connectionSpecification").unwrap_or(spec);
    value_for(schema, true)
}

fn value_for(schema: &Value, required_only: bool) -> Value {
    for key in ["const"] {
        if let Some(v) = schema.get(key) {
            return v.clone();
        }
    }
    // An example or default of another type than the property's (specs have them) would
    // be refused by the connector's own validation.
    // An empty object as the default of a `oneOf` (tiktok-marketing's credentials) is no
    // branch at all: the connector refuses it.
    let no_branch = |v: &Value| {
        v.as_object().is_some_and(|o| o.is_empty())
            && (schema.get("oneOf").is_some() || schema.get("anyOf").is_some())
    };
    let fits = |v: &Value| {
        !no_branch(v)
            && match schema.get("type") {
                Some(Value::String(t)) => type_name(v) == t || (t == "number" && v.is_number()),
                Some(Value::Array(ts)) => ts.iter().any(|t| t.as_str() == Some(type_name(v))),
                _ => true,
            }
    };
    // The default before an example: it is what a user who left the field alone runs
    // with (Stripe's `slice_range` defaults to 365 days; its first example, 1, makes an
    // offline read ask for every day since the start date).
    for candidate in [
        schema.get("default"),
        schema
            .get("examples")
            .and_then(Value::as_array)
            .and_then(|e| e.first()),
        schema
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|e| e.first()),
    ]
    .into_iter()
    .flatten()
    {
        if fits(candidate) {
            return candidate.clone();
        }
    }
    if let Some(first) = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)
        .and_then(|o| o.first())
    {
        return value_for(first, required_only);
    }
    let kind = match schema.get("type") {
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("string")
            .to_owned(),
        Some(Value::String(t)) => t.clone(),
        _ if schema.get("properties").is_some() => "object".into(),
        _ => "string".into(),
    };
    match kind.as_str() {
        "object" => {
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut out = serde_json::Map::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    if !required_only
                        || required.contains(&name.as_str())
                        || prop.get("const").is_some()
                        // A property with a default is in every config the platform's
                        // form makes, and connectors read it without a fallback.
                        || prop.get("default").is_some()
                    {
                        out.insert(name.clone(), value_for(prop, required_only));
                    }
                }
            }
            Value::Object(out)
        }
        "array" => {
            let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            let item = schema
                .get("items")
                .map(|i| value_for(i, required_only))
                .unwrap_or(Value::String("x".into()));
            Value::Array(if min > 0 { vec![item] } else { Vec::new() })
        }
        "integer" => schema.get("minimum").cloned().unwrap_or(Value::from(1)),
        "number" => schema.get("minimum").cloned().unwrap_or(Value::from(1.0)),
        "boolean" => Value::Bool(false),
        _ => Value::String(
            match schema.get("format").and_then(Value::as_str) {
                Some("date-time") => "2024-01-01T00:00:00Z",
                Some("date") => "2024-01-01",
                Some("email") => "user@example.com",
                Some("uri") => "https://example.com",
                _ => "cutover-verification",
            }
            .into(),
        ),
    }
}

/// The JSON Schema type of a value.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_empty_default_of_a_one_of_takes_its_first_branch() {
        let spec = json!({"type": "object", "required": ["credentials"], "properties": {"credentials": {
            "type": "object", "default": {}, "oneOf": [
                {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}}]}}});
        assert_eq!(
            config_from_spec(&spec),
            json!({"credentials": {"token": "cutover-verification"}})
        );
    }

    #[test]
    fn the_default_comes_before_an_example() {
        let spec = json!({"type": "object", "required": ["slice_range"], "properties": {"slice_range": {"type": "integer", "default": 365, "examples": [1, 3, 10]}}});
        assert_eq!(config_from_spec(&spec), json!({"slice_range": 365}));
    }

    #[test]
    fn an_example_of_another_type_is_not_taken() {
        let spec = json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "string", "examples": [550]}}});
        assert_eq!(
            config_from_spec(&spec),
            json!({"id": "cutover-verification"})
        );
    }

    #[test]
    fn a_config_is_made_from_the_required_properties() {
        let spec = json!({"connectionSpecification": {"type": "object", "required": ["start_date", "credentials", "n"],
            "properties": {
                "start_date": {"type": "string", "format": "date-time"},
                "optional": {"type": "string"},
                "n": {"type": "integer", "minimum": 3},
                "credentials": {"oneOf": [
                    {"type": "object", "required": ["auth_type", "api_key"], "properties": {
                        "auth_type": {"type": "string", "const": "api_key"}, "api_key": {"type": "string", "examples": ["k"]}}},
                    {"type": "object", "properties": {"auth_type": {"const": "oauth"}}}]}}}});
        assert_eq!(
            config_from_spec(&spec),
            json!({"start_date": "2024-01-01T00:00:00Z", "n": 3, "credentials": {"auth_type": "api_key", "api_key": "k"}})
        );
    }
}
