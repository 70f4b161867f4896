//! What changed in one stream between two versions' discovered catalogs.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A change of a stream that a discovered catalog shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Its JSON schema (other than descriptions and titles): the data must be re-read.
    Schema,
    /// Its source-defined primary key: rows were deduplicated under the old key.
    PrimaryKey,
    /// Its source-defined cursor: the state holds a value of another field.
    Cursor,
    /// The sync modes it supports.
    SyncModes,
}

impl Change {
    /// The change in the words a plan shows.
    pub fn describe(&self) -> &'static str {
        match self {
            Change::Schema => "schema",
            Change::PrimaryKey => "primary key",
            Change::Cursor => "cursor",
            Change::SyncModes => "sync modes",
        }
    }

    /// Whether the stream's data must be re-read after this change.
    pub fn rereads(&self) -> bool {
        !matches!(self, Change::SyncModes)
    }
}

/// The streams of a discovered catalog by name.
pub(super) fn streams(catalog: &str, version: &str) -> Result<BTreeMap<String, Value>> {
    let parsed: Value = serde_json::from_str(catalog)
        .map_err(|e| Error::UnsupportedShape(format!("the {version} catalog is not JSON: {e}")))?;
    let Some(list) = parsed.get("streams").and_then(Value::as_array) else {
        return Err(Error::UnsupportedShape(format!(
            "the {version} catalog is not an AirbyteCatalog (no streams)"
        )));
    };
    let mut streams = BTreeMap::new();
    for s in list {
        let Some(name) = s.get("name").and_then(Value::as_str) else {
            return Err(Error::UnsupportedShape(format!(
                "a stream of the {version} catalog has no name"
            )));
        };
        streams.insert(name.to_owned(), s.clone());
    }
    Ok(streams)
}

/// What changed between two discovered streams.
pub(super) fn changes(before: &Value, after: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    let field = |s: &Value, name: &str, missing: Value| s.get(name).cloned().unwrap_or(missing);
    if !schema_changes(
        &field(before, "json_schema", Value::Null),
        &field(after, "json_schema", Value::Null),
    )
    .is_empty()
    {
        changes.push(Change::Schema);
    }
    let empty = || Value::Array(Vec::new());
    if field(before, "source_defined_primary_key", empty())
        != field(after, "source_defined_primary_key", empty())
    {
        changes.push(Change::PrimaryKey);
    }
    if field(before, "default_cursor_field", empty())
        != field(after, "default_cursor_field", empty())
        || field(before, "source_defined_cursor", Value::Bool(false))
            != field(after, "source_defined_cursor", Value::Bool(false))
    {
        changes.push(Change::Cursor);
    }
    let modes = |s: &Value| {
        let mut m: Vec<String> = s
            .get("supported_sync_modes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        m.sort();
        m
    };
    if modes(before) != modes(after) {
        changes.push(Change::SyncModes);
    }
    changes
}

/// The fields whose data a destination holds differently under `after` than under
/// `before`: a field both declare whose type (other than `null`), `format` or
/// `airbyte_type` changed, at any depth of objects and array items, as a dotted path.
///
/// A field added or removed is not among them: the platform propagates such a change
/// without re-reading what was synced (the new column is empty in old rows, a dropped one
/// stops being filled), and neither is a field becoming nullable or a reworded description.
pub fn schema_changes(before: &Value, after: &Value) -> Vec<String> {
    let mut changed = Vec::new();
    compare("", before, after, &mut changed);
    changed
}

fn compare(path: &str, before: &Value, after: &Value, changed: &mut Vec<String>) {
    if shape(before) != shape(after) {
        changed.push(if path.is_empty() {
            "(root)".into()
        } else {
            path.to_owned()
        });
        return;
    }
    if let (Some(b), Some(a)) = (
        before.get("properties").and_then(Value::as_object),
        after.get("properties").and_then(Value::as_object),
    ) {
        for (name, was) in b {
            if let Some(is) = a.get(name) {
                let inner = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                compare(&inner, was, is, changed);
            }
        }
    }
    if let (Some(b), Some(a)) = (before.get("items"), after.get("items")) {
        compare(&format!("{path}[]"), b, a, changed);
    }
}

/// What of one field's schema decides how its data is stored.
fn shape(schema: &Value) -> (Vec<String>, Value, Value) {
    let mut types: Vec<String> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    types.retain(|t| t != "null");
    types.sort();
    types.dedup();
    let get = |k: &str| schema.get(k).cloned().unwrap_or(Value::Null);
    (types, get("format"), get("airbyte_type"))
}

/// Keywords that annotate a schema without constraining the data.
const ANNOTATIONS: [&str; 4] = ["description", "title", "examples", "$comment"];

/// A schema without its annotations and with `type` lists sorted, so that a reworded
/// description or a reordered `["string", "null"]` is not a change of the data. Property
/// *names* are kept even when they are `description` or `title`.
pub fn normalized_schema(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out = Map::new();
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for key in keys {
                if ANNOTATIONS.contains(&key.as_str()) {
                    continue;
                }
                let value = &map[key];
                let normalized = match (key.as_str(), value) {
                    (
                        "properties" | "definitions" | "$defs" | "patternProperties",
                        Value::Object(props),
                    ) => {
                        let mut names: Vec<&String> = props.keys().collect();
                        names.sort();
                        Value::Object(
                            names
                                .into_iter()
                                .map(|n| (n.clone(), normalized_schema(&props[n])))
                                .collect(),
                        )
                    }
                    ("type", Value::Array(types)) => {
                        let mut t: Vec<Value> = types.clone();
                        t.sort_by_key(|v| v.to_string());
                        t.dedup();
                        if t.len() == 1 {
                            t.remove(0)
                        } else {
                            Value::Array(t)
                        }
                    }
                    ("required", Value::Array(names)) => {
                        let mut n = names.clone();
                        n.sort_by_key(|v| v.to_string());
                        Value::Array(n)
                    }
                    _ => normalized_schema(value),
                };
                out.insert(key.clone(), normalized);
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(normalized_schema).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_field_whose_stored_form_changed_is_a_schema_change() {
        let before = json!({"type": ["null", "object"], "properties": {
            "id": {"type": ["null", "integer"]}, "gone": {"type": "string"},
            "nested": {"type": "object", "properties": {"at": {"type": "string"}}},
            "tags": {"type": "array", "items": {"type": "integer"}}}});
        let mut after = json!({"type": "object", "additionalProperties": true, "properties": {
            "id": {"type": "integer", "description": "now documented"}, "added": {"type": "string"},
            "nested": {"type": "object", "properties": {"at": {"type": "string"}}},
            "tags": {"type": "array", "items": {"type": "integer"}}}});
        assert!(
            schema_changes(&before, &after).is_empty(),
            "added, removed, nullability and docs are not"
        );
        after["properties"]["nested"]["properties"]["at"]["format"] = json!("date-time");
        after["properties"]["tags"]["items"]["type"] = json!("string");
        after["properties"]["id"]["type"] = json!("number");
        assert_eq!(
            schema_changes(&before, &after),
            ["id", "nested.at", "tags[]"]
        );
    }

    #[test]
    fn annotations_and_type_order_are_not_changes_but_property_names_are_kept() {
        let a = json!({"type": "object", "description": "x", "properties": {
            "description": {"type": ["null", "string"], "title": "D"}}});
        let b = json!({"type": "object", "properties": {
            "description": {"type": ["string", "null"]}}});
        assert_eq!(normalized_schema(&a), normalized_schema(&b));
        let c = json!({"type": "object", "properties": {"title": {"type": ["string", "null"]}}});
        assert_ne!(normalized_schema(&a), normalized_schema(&c));
    }

    #[test]
    fn each_discovered_field_is_compared() {
        let before = json!({"name": "s", "json_schema": {"properties": {"id": {"type": "integer"}}},
            "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": true,
            "default_cursor_field": ["updated_at"], "source_defined_primary_key": [["id"]]});
        assert!(changes(&before, &before).is_empty());
        let mut after = before.clone();
        after["json_schema"]["properties"]["id"]["type"] = json!("string");
        after["source_defined_primary_key"] = json!([["id"], ["date"]]);
        after["default_cursor_field"] = json!(["created_at"]);
        after["supported_sync_modes"] = json!(["incremental", "full_refresh"]);
        assert_eq!(
            changes(&before, &after),
            [Change::Schema, Change::PrimaryKey, Change::Cursor]
        );
        after["supported_sync_modes"] = json!(["full_refresh"]);
        assert!(changes(&before, &after).contains(&Change::SyncModes));
    }
}
