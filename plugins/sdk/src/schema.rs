//! Helpers over a stream's JSON Schema.

use serde_json::Value;

/// Sets `airbyte_type` to `airbyte_type` on every date-time field of `schema` (a string
/// with `format: date-time`, nested objects and array items included) that does not
/// already carry it. Returns how many fields changed.
pub fn mark_date_time(schema: &mut Value, airbyte_type: &str) -> usize {
    let mut changed = 0;
    if is_date_time(schema) && schema.get("airbyte_type").and_then(Value::as_str) != Some(airbyte_type) {
        schema["airbyte_type"] = Value::String(airbyte_type.to_owned());
        changed += 1;
    }
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for child in props.values_mut() {
            changed += mark_date_time(child, airbyte_type);
        }
    }
    if let Some(items) = schema.get_mut("items") {
        changed += mark_date_time(items, airbyte_type);
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(alts) = schema.get_mut(key).and_then(Value::as_array_mut) {
            for alt in alts {
                changed += mark_date_time(alt, airbyte_type);
            }
        }
    }
    changed
}

fn is_date_time(schema: &Value) -> bool {
    let stringy = match schema.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
        _ => false,
    };
    stringy && schema.get("format").and_then(Value::as_str) == Some("date-time")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn marks_nested_date_times_once() {
        let mut s = json!({"type": "object", "properties": {
            "created_at": {"type": ["null", "string"], "format": "date-time"},
            "day": {"type": ["null", "string"], "format": "date"},
            "media": {"type": "object", "properties": {"images": {"type": "array", "items": {"type": "object",
                "properties": {"at": {"type": "string", "format": "date-time"}}}}}}
        }});
        assert_eq!(mark_date_time(&mut s, "timestamp_without_timezone"), 2);
        assert_eq!(s["properties"]["created_at"]["airbyte_type"], "timestamp_without_timezone");
        assert!(s["properties"]["day"].get("airbyte_type").is_none());
        assert_eq!(s["properties"]["media"]["properties"]["images"]["items"]["properties"]["at"]["airbyte_type"], "timestamp_without_timezone");
        assert_eq!(mark_date_time(&mut s, "timestamp_without_timezone"), 0);
    }
}
