//! A plugin's output is checked before it is believed.
//!
//! The sandbox bounds what a plugin can reach; it says nothing about whether what it
//! returns is a catalog and state the new version can run with. A migrated catalog that
//! lists a stream twice, syncs a stream in a mode it does not support, names a cursor or
//! primary key the stream does not have, or a state that names streams nobody knows,
//! would be written and then fail (or silently misbehave) on the platform's next sync.
//! So every plugin step's output is checked here, and a step that fails a check fails
//! its connection, with each problem named:
//!
//! - each configured stream appears at most once (name and namespace);
//! - its sync mode is one the stream supports; an incremental stream has a cursor (the
//!   source's, when the source defines it); a deduplicating one has a primary key (the
//!   source's, when the source defines it); cursor and key fields are in the schema;
//! - state messages name streams the migrated catalog or the connector knows (a state
//!   kept for a stream the connection already did not sync is left alone);
//! - when the target version's real discovered catalog is known ([`crate::catalogs`]),
//!   every migrated stream that version has carries its schema, supported sync modes,
//!   cursor and primary key exactly.
//!
//! [`unlisted_changes`] serves the operator rather than the plugin: the streams a
//! connection syncs that the target version changed, although the connector's
//! breakingChanges entry does not list them (those lists are written by hand).

use crate::catalogs::{StreamKey, TargetCatalog, show, stream_key};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub use cutover_contract::DISCOVERED_FIELDS;

/// The most problems reported for one step; the rest are counted.
const SHOWN: usize = 8;

/// A step's documents, as the check needs them.
pub struct Documents<'a> {
    pub catalog: &'a Value,
    pub state: &'a Value,
}

/// Every way a step's output (`after`) breaks the rules above, given its input
/// (`before`) and the target version's catalog if known. Empty when it may be believed.
pub fn problems(
    before: &Documents,
    after: &Documents,
    target: Option<&TargetCatalog>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let configured = configured_streams(after.catalog, &mut problems);
    for (key, configured) in &configured {
        check_stream(key, configured, &mut problems);
        if let Some(target) = target
            && let Some(discovered) = target.stream(key)
        {
            for difference in differences(&configured["stream"], discovered) {
                problems.push(format!(
                    "stream {}: {difference} from the target catalog's ({})",
                    show(key),
                    target.path().display()
                ));
            }
        }
    }
    // Streams whose state may stay: those configured now, those the target version has,
    // and those the state already named without the input catalog syncing them.
    let synced_before: BTreeSet<StreamKey> = configured_streams(before.catalog, &mut Vec::new())
        .into_keys()
        .collect();
    let orphans_before: BTreeSet<StreamKey> = state_streams(before.state)
        .into_iter()
        .filter(|k| !synced_before.contains(k))
        .collect();
    let mut seen = BTreeSet::new();
    for key in state_streams(after.state) {
        let known = configured.contains_key(&key)
            || target.is_some_and(|t| t.contains(&key))
            || orphans_before.contains(&key);
        if !known {
            problems.push(format!(
                "the state names stream {}, which neither the migrated catalog nor the connector knows (a stream renamed in the catalog but not in the state?)",
                show(&key)
            ));
        }
        if !seen.insert(key.clone()) {
            problems.push(format!("the state holds stream {} twice", show(&key)));
        }
    }
    if problems.len() > SHOWN {
        let more = problems.len() - SHOWN;
        problems.truncate(SHOWN);
        problems.push(format!("and {more} more"));
    }
    problems
}

/// The configured streams by key, in catalog order; a stream listed twice is reported.
fn configured_streams<'a>(
    catalog: &'a Value,
    problems: &mut Vec<String>,
) -> BTreeMap<StreamKey, &'a Value> {
    let mut streams = BTreeMap::new();
    for (i, configured) in catalog
        .get("streams")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(key) = configured.get("stream").and_then(stream_key) else {
            problems.push(format!("catalog stream {i} has no stream.name"));
            continue;
        };
        if streams.insert(key.clone(), configured).is_some() {
            problems.push(format!(
                "the catalog lists stream {} more than once",
                show(&key)
            ));
        }
    }
    streams
}

/// The streams a state names, one entry per mention (`STREAM` messages and the streams
/// of `GLOBAL` ones; `LEGACY` blobs name none).
fn state_streams(state: &Value) -> Vec<StreamKey> {
    let mut keys = Vec::new();
    for message in state.as_array().into_iter().flatten() {
        match message.get("type").and_then(Value::as_str) {
            Some("STREAM") => keys.extend(
                message
                    .pointer("/stream/stream_descriptor")
                    .and_then(stream_key),
            ),
            Some("GLOBAL") => {
                let streams = message
                    .pointer("/global/stream_states")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten();
                keys.extend(
                    streams.filter_map(|s| s.get("stream_descriptor").and_then(stream_key)),
                );
            }
            _ => {}
        }
    }
    keys
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// A field path (`["a", "b"]`) and a list of them, as JSON.
fn paths(value: Option<&Value>) -> Value {
    match value {
        Some(v @ Value::Array(_)) => v.clone(),
        _ => Value::Array(Vec::new()),
    }
}

/// Whether a top-level field exists in a schema that lists its properties (a schema
/// without `properties` is not checked).
fn in_schema(schema: &Value, path: &Value) -> bool {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return true;
    };
    match path
        .as_array()
        .and_then(|p| p.first())
        .and_then(Value::as_str)
    {
        Some(first) => properties.contains_key(first),
        None => true,
    }
}

/// One configured stream's own consistency.
fn check_stream(key: &StreamKey, configured: &Value, problems: &mut Vec<String>) {
    let name = show(key);
    let stream = &configured["stream"];
    let schema = &stream["json_schema"];
    let supported = strings(stream.get("supported_sync_modes"));
    let sync_mode = configured
        .get("sync_mode")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !supported.is_empty() && !supported.contains(&sync_mode) {
        problems.push(format!(
            "stream {name}: sync mode {sync_mode:?} is not one it supports ({})",
            supported.join(", ")
        ));
    }
    if sync_mode == "incremental" {
        let cursor = paths(configured.get("cursor_field"));
        let default = paths(stream.get("default_cursor_field"));
        let source_defined =
            stream.get("source_defined_cursor").and_then(Value::as_bool) == Some(true);
        if source_defined && cursor != default && cursor != Value::Array(Vec::new()) {
            problems.push(format!(
                "stream {name}: cursor {cursor} is not the source-defined cursor {default}"
            ));
        }
        if cursor == Value::Array(Vec::new()) && default == Value::Array(Vec::new()) {
            problems.push(format!("stream {name}: incremental without a cursor field"));
        }
        if !in_schema(schema, &cursor) {
            problems.push(format!(
                "stream {name}: cursor {cursor} is not a field of its schema"
            ));
        }
    }
    let key_configured = paths(configured.get("primary_key"));
    let key_defined = paths(stream.get("source_defined_primary_key"));
    let empty = Value::Array(Vec::new());
    let dedup = matches!(
        configured
            .get("destination_sync_mode")
            .and_then(Value::as_str),
        Some("append_dedup" | "overwrite_dedup")
    );
    if dedup && key_configured == empty && key_defined == empty {
        problems.push(format!("stream {name}: deduplicated without a primary key"));
    }
    if key_defined != empty && key_configured != empty && key_configured != key_defined {
        problems.push(format!(
            "stream {name}: primary key {key_configured} is not the source-defined {key_defined}"
        ));
    }
    for field in key_configured.as_array().into_iter().flatten() {
        if !in_schema(schema, field) {
            problems.push(format!(
                "stream {name}: primary key field {field} is not a field of its schema"
            ));
        }
    }
}

/// A discovered field of a stream, with the defaults Airbyte reads a missing one as. Sync
/// modes and the fields of a composite primary key are sets: a connector may list them in
/// any order (facebook-marketing builds a custom insights stream's key from a Python set of
/// its breakdowns, so the order is the hash seed's).
fn discovered(stream: &Value, field: &str) -> Value {
    match (field, stream.get(field)) {
        ("supported_sync_modes" | "source_defined_primary_key", Some(Value::Array(items))) => {
            let mut items: Vec<&Value> = items.iter().collect();
            items.sort_by_key(|item| item.to_string());
            Value::Array(items.into_iter().cloned().collect())
        }
        ("source_defined_cursor", None) => Value::Bool(false),
        ("default_cursor_field" | "source_defined_primary_key", None) => Value::Array(Vec::new()),
        (_, Some(v)) => v.clone(),
        (_, None) => Value::Null,
    }
}

/// How a migrated stream differs from the version's discovered stream, one line per field.
pub fn differences(migrated: &Value, target: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    for field in DISCOVERED_FIELDS {
        let (ours, theirs) = (discovered(migrated, field), discovered(target, field));
        if ours == theirs {
            continue;
        }
        if field == "json_schema" {
            let patch = json_patch::diff(&theirs, &ours);
            let first = patch
                .0
                .first()
                .map(|op| op.path().to_string())
                .unwrap_or_default();
            let more = if patch.0.len() > 1 {
                format!(" and {} more place(s)", patch.0.len() - 1)
            } else {
                String::new()
            };
            lines.push(format!(
                "json_schema differs at {}{more}",
                if first.is_empty() { "/" } else { &first }
            ));
        } else {
            lines.push(format!("{field} is {ours}, not {theirs}"));
        }
    }
    lines
}

/// The streams a catalog syncs that `target` changed (in a discovered field), although
/// the breaking change's scoped streams do not list them: each as `name (fields)`. Empty
/// when the change has no scope (it then covers every stream).
pub fn unlisted_changes(catalog: &Value, target: &TargetCatalog, scoped: &[String]) -> Vec<String> {
    if scoped.is_empty() {
        return Vec::new();
    }
    let mut changed = Vec::new();
    for (key, configured) in configured_streams(catalog, &mut Vec::new()) {
        if scoped.contains(&key.0) {
            continue;
        }
        let Some(discovered_stream) = target.stream(&key) else {
            continue;
        };
        let fields: Vec<&str> = DISCOVERED_FIELDS
            .into_iter()
            .filter(|f| discovered(&configured["stream"], f) != discovered(discovered_stream, f))
            .collect();
        if !fields.is_empty() {
            changed.push(format!("{} ({})", show(&key), fields.join(", ")));
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn stream(name: &str, pk: Value) -> Value {
        json!({"stream": {"name": name, "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}, "updated_at": {"type": "string"}}},
                          "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": true,
                          "default_cursor_field": ["updated_at"], "source_defined_primary_key": pk},
               "sync_mode": "incremental", "cursor_field": ["updated_at"], "destination_sync_mode": "append_dedup", "primary_key": pk})
    }

    fn state(names: &[&str]) -> Value {
        Value::Array(names.iter().map(|n| json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": n}, "stream_state": {}}})).collect())
    }

    #[test]
    fn a_consistent_output_passes() {
        let catalog =
            json!({"streams": [stream("a", json!([["id"]])), stream("b", json!([["id"]]))]});
        let docs = Documents {
            catalog: &catalog,
            state: &state(&["a", "b"]),
        };
        assert!(
            problems(&docs, &docs, None).is_empty(),
            "{:?}",
            problems(&docs, &docs, None)
        );
    }

    #[test]
    fn duplicates_modes_cursors_keys_and_unknown_states_are_named() {
        let before =
            json!({"streams": [stream("a", json!([["id"]])), stream("old", json!([["id"]]))]});
        let mut bad_mode = stream("m", json!([["id"]]));
        bad_mode["stream"]["supported_sync_modes"] = json!(["full_refresh"]);
        let mut bad_cursor = stream("c", json!([["id"]]));
        bad_cursor["cursor_field"] = json!(["nope"]);
        let mut bad_key = stream("k", json!([["id"]]));
        bad_key["primary_key"] = json!([["missing"]]);
        let after = json!({"streams": [stream("a", json!([["id"]])), stream("a", json!([["id"]])), bad_mode, bad_cursor, bad_key]});
        let found = problems(
            &Documents {
                catalog: &before,
                state: &state(&["a", "old"]),
            },
            &Documents {
                catalog: &after,
                state: &state(&["a", "old", "a"]),
            },
            None,
        );
        let text = found.join("\n");
        assert!(text.contains("lists stream a more than once"), "{text}");
        assert!(
            text.contains("stream m: sync mode \"incremental\" is not one it supports"),
            "{text}"
        );
        assert!(
            text.contains("stream c: cursor [\"nope\"] is not the source-defined cursor"),
            "{text}"
        );
        assert!(
            text.contains("stream k: primary key [[\"missing\"]] is not the source-defined"),
            "{text}"
        );
        assert!(text.contains("the state names stream old"), "{text}");
        assert!(text.contains("the state holds stream a twice"), "{text}");
    }

    #[test]
    fn a_stream_must_match_the_target_catalog() {
        let target = TargetCatalog::from_value(
            Path::new("2.0.0.json"),
            &json!({"streams": [{"name": "a", "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}, "updated_at": {"type": "string"}, "new": {"type": "string"}}},
                                "supported_sync_modes": ["incremental", "full_refresh"], "source_defined_cursor": true,
                                "default_cursor_field": ["updated_at"], "source_defined_primary_key": [["id"]]}]}),
        )
        .unwrap();
        let catalog = json!({"streams": [stream("a", json!([["id"]]))]});
        let docs = Documents {
            catalog: &catalog,
            state: &state(&[]),
        };
        let found = problems(&docs, &docs, Some(&target));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("stream a: json_schema differs at /properties/new"),
            "{found:?}"
        );
        assert_eq!(
            unlisted_changes(&catalog, &target, &["b".into()]),
            vec!["a (json_schema)"]
        );
        assert!(unlisted_changes(&catalog, &target, &["a".into()]).is_empty());
        assert!(unlisted_changes(&catalog, &target, &[]).is_empty());
    }

    #[test]
    fn a_composite_key_in_another_order_is_the_same_key() {
        let stream = |key: Value| {
            json!({"name": "customasset_report", "supported_sync_modes": ["full_refresh", "incremental"],
                   "source_defined_primary_key": key})
        };
        let ours = stream(json!([["date_start"], ["account_id"], ["body_asset"]]));
        let theirs = stream(json!([["account_id"], ["body_asset"], ["date_start"]]));
        assert!(differences(&ours, &theirs).is_empty());
        let other = stream(json!([["account_id"], ["date_start"]]));
        assert_eq!(
            differences(&ours, &other).len(),
            1,
            "a field less is another key"
        );
    }
}
