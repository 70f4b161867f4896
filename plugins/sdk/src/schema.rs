//! Helpers over a stream's JSON Schema.

use crate::{Error, Result};
use serde_json::Value;

/// Sets `airbyte_type` to `airbyte_type` on every date-time field of `schema` (a string
/// with `format: date-time`, nested objects and array items included) that does not
/// already carry it. Returns how many fields changed.
pub fn mark_date_time(schema: &mut Value, airbyte_type: &str) -> usize {
    let mut changed = 0;
    if is_date_time(schema)
        && schema.get("airbyte_type").and_then(Value::as_str) != Some(airbyte_type)
    {
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

/// The top-level properties of `schema` (a stream's json_schema) declared by `type` alone,
/// `type_name` or `["null", type_name]`, with no `format`, `airbyte_type` or other keyword.
///
/// A database source may declare columns of different database types alike this way (mssql
/// 2.x its text and its date and time columns as `string`; firebolt 0.x its integer and
/// boolean columns as `integer`). When a new version tells them apart, these are the columns
/// that may change, and the connection's own catalog cannot say which of them do.
pub fn bare_typed<'a>(schema: &'a Value, type_name: &str) -> Vec<&'a str> {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .filter(|(_, p)| is_bare(p, type_name))
        .map(|(name, _)| name.as_str())
        .collect()
}

/// Whether `schema` is declared by `type` alone, `type_name` or `["null", type_name]` (see
/// [`bare_typed`]).
pub fn is_bare(schema: &Value, type_name: &str) -> bool {
    schema.as_object().is_some_and(|o| o.len() == 1)
        && (schema["type"] == type_name || schema["type"] == serde_json::json!(["null", type_name]))
}

/// A property whose type changes in a new connector version: the stream, the property's
/// JSON Pointer in the stream's json_schema, and the schema keywords the new version gives
/// it (merged over the old ones).
pub struct TypeChange {
    /// The stream.
    pub stream: &'static str,
    /// The property's JSON Pointer within the stream's `json_schema`.
    pub pointer: &'static str,
    /// The schema keywords the new version gives the property.
    pub new: fn() -> Value,
}

/// Applies the type changes of `stream` to its json_schema; returns each change made, as
/// `<pointer> from <old type> to <new type>`. A property already of the new type, or absent
/// (not selected), is left alone, so a second run changes nothing.
pub fn retype(schema: &mut Value, stream: &str, changes: &[TypeChange]) -> Result<Vec<String>> {
    let mut changed = Vec::new();
    for change in changes.iter().filter(|c| c.stream == stream) {
        let Some(node) = schema.pointer_mut(change.pointer) else {
            continue;
        };
        let Some(node) = node.as_object_mut() else {
            return Err(Error::UnsupportedShape(format!(
                "{stream} json_schema{} is not a schema object",
                change.pointer
            )));
        };
        let new = (change.new)();
        let new = new.as_object().expect("type changes are objects");
        if new.iter().all(|(k, v)| node.get(k) == Some(v)) {
            continue;
        }
        let old = node
            .get("type")
            .map(Value::to_string)
            .unwrap_or_else(|| "untyped".into());
        for (k, v) in new {
            node.insert(k.clone(), v.clone());
        }
        let to = if new.contains_key("format") {
            format!("{} ({})", new["type"], new["format"])
        } else {
            new["type"].to_string()
        };
        changed.push(format!("{} from {old} to {to}", change.pointer));
    }
    Ok(changed)
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
        assert_eq!(
            s["properties"]["created_at"]["airbyte_type"],
            "timestamp_without_timezone"
        );
        assert!(s["properties"]["day"].get("airbyte_type").is_none());
        assert_eq!(
            s["properties"]["media"]["properties"]["images"]["items"]["properties"]["at"]["airbyte_type"],
            "timestamp_without_timezone"
        );
        assert_eq!(mark_date_time(&mut s, "timestamp_without_timezone"), 0);
    }

    #[test]
    fn retypes_listed_properties_once() {
        const CHANGES: &[TypeChange] = &[
            TypeChange {
                stream: "deals",
                pointer: "/properties/id",
                new: || serde_json::json!({"type": ["null", "string"]}),
            },
            TypeChange {
                stream: "other",
                pointer: "/properties/id",
                new: || serde_json::json!({"type": "boolean"}),
            },
        ];
        let mut schema = serde_json::json!({"properties": {"id": {"type": ["null", "integer"]}}});
        let changed = retype(&mut schema, "deals", CHANGES).unwrap();
        assert_eq!(
            changed,
            vec![r#"/properties/id from ["null","integer"] to ["null","string"]"#]
        );
        assert_eq!(
            schema["properties"]["id"]["type"],
            serde_json::json!(["null", "string"])
        );
        assert!(
            retype(&mut schema, "deals", CHANGES).unwrap().is_empty(),
            "a second run changes nothing"
        );
        let mut odd = serde_json::json!({"properties": {"id": 3}});
        assert!(retype(&mut odd, "deals", CHANGES).is_err());
    }

    #[test]
    fn bare_typed_finds_only_columns_nothing_else_tells_apart() {
        let schema = serde_json::json!({"type": "object", "properties": {
            "name": {"type": "string"},
            "born": {"type": ["null", "string"]},
            "day": {"type": "string", "format": "date"},
            "n": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}}
        }});
        assert_eq!(bare_typed(&schema, "string"), ["name", "born"]);
        assert_eq!(bare_typed(&schema, "integer"), ["n"]);
        assert!(bare_typed(&serde_json::json!({}), "string").is_empty());
    }
}
