//! source-github 2.0.0, from 1.x: the migration guide of the 2.0.0 breaking change as code.
//!
//! What 2.0.0 changed (the connector's `breakingChanges` entry, quoted in the manifest): the
//! GitHub API names two reaction counters `+1` and `-1`, which some destinations cannot store,
//! so 2.0.0 renames them `plus_one` and `minus_one`. In the records, `GithubStream.transform`
//! renames the keys of a record's top-level `reactions`; in the declared schemas, the shared
//! `reactions` definition (and the timeline event schemas that inline it) now declare
//! `plus_one`/`minus_one`. The scoped streams are comments, commit_comments, issue_events,
//! issues, releases and review_comments. An offline discover of 1.9.2 and 2.0.0
//! (`tests/fixtures/source-github/`) differs in nothing else: no spec, cursor, primary key or
//! sync mode changed, so the state of every stream (`{"<owner/repo>": {"<cursor>": …}}`, keyed
//! by `updated_at` or `created_at`) stays valid and is kept byte for byte.
//!
//! What this plugin does by itself: in the configured schema of each scoped stream, renames the
//! `+1`/`-1` properties of every `reactions` object to `plus_one`/`minus_one`, in place (same
//! position, same definition), which is exactly what 2.0.0 declares. What it leaves to the
//! operator: refresh the source schema, and clear each changed stream that is synced
//! incrementally, since its existing rows keep the old keys (the guide: "reset affected
//! streams"). A full-refresh stream is rewritten by its next sync and is not cleared; one that
//! appends keeps its older snapshots with the old keys, which a clear would destroy, so that is
//! a note rather than an action.
//!
//! `issue_timeline_events` is not in scope, but 2.0.0 declares `plus_one`/`minus_one` in its
//! nested event schemas too: the real 2.0.0 catalog differs from 1.9.2's in it. The plugin
//! does not rename its records' keys (they still carry `+1`/`-1`, which is why the connector
//! does not list it), but its catalog entry is conformed to 2.0.0's like every stream's
//! ([`Discovered`]), and the plan says that the breaking change does not list it.

use cutover_plugin::discovered::Discovered;
use cutover_plugin::{
    Action, Connection, Error, Manifest, Migration, Outcome, Result, Value, catalog,
};
use serde_json::Map;

/// The streams whose schema changed (the connector's `scopedImpact` for 2.0.0).
pub const SCOPED: &[&str] = &[
    "comments",
    "commit_comments",
    "issue_events",
    "issues",
    "releases",
    "review_comments",
];

/// The reaction counters 2.0.0 renames: old key, new key.
pub const RENAMES: &[(&str, &str)] = &[("+1", "plus_one"), ("-1", "minus_one")];

pub struct GithubV2;

impl Migration for GithubV2 {
    fn manifest() -> Manifest {
        Manifest {
            connector: "airbyte/source-github".into(),
            applies_to: ">=1.0.0, <2.0.0".into(),
            produces: "2.0.0".into(),
            message: "This release renames reaction fields for compatibility across all destinations. The +1 and -1 fields have been renamed to plus_one and minus_one in streams containing reactions (comments, commit_comments, issue_events, issues, releases, review_comments). Users should refresh their source schema and reset affected streams after upgrading.".into(),
            upgrade_deadline: Some("2025-11-21".into()),
            deadline_action: None,
            documentation_url: "https://docs.airbyte.com/integrations/sources/github-migrations#2.0.0".into(),
            scoped_streams: SCOPED.iter().map(|s| (*s).to_owned()).collect(),
            preconditions: Vec::new(),
            guide: GUIDE.into(),
        }
    }

    const TARGET_CATALOG: Option<&'static Discovered> = Some(&CATALOG);

    fn migrate(connection: Connection) -> Result<Outcome> {
        let mut out = connection.into_outcome();
        let mut changed = Vec::new();
        for entry in catalog::streams_mut(&mut out.catalog) {
            let Some(d) = catalog::descriptor(entry) else {
                return Err(Error::InvalidInput(
                    "a configured stream has no stream.name".into(),
                ));
            };
            if !SCOPED.contains(&d.name.as_str()) {
                continue;
            }
            let Some(schema) = entry
                .get_mut("stream")
                .and_then(|s| s.get_mut("json_schema"))
                .filter(|s| s.is_object())
            else {
                return Err(Error::InvalidInput(format!(
                    "stream {} has no json_schema object; refresh the source schema on 1.x and retry",
                    d.name
                )));
            };
            let mut renamed = 0;
            rename_reactions(schema, &d.name, "", &mut renamed)?;
            let mode = entry
                .get("sync_mode")
                .and_then(Value::as_str)
                .unwrap_or("full_refresh")
                .to_owned();
            let dest = entry
                .get("destination_sync_mode")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if renamed == 0 {
                out.notes.push(format!(
                    "{}: its configured schema has no reactions.+1/-1 (not selected, or already renamed); nothing to change",
                    d.name
                ));
                continue;
            }
            out.notes.push(format!("{}: {renamed} reaction field(s) renamed +1/-1 to plus_one/minus_one; its state is kept", d.name));
            changed.push((d, mode, dest));
        }

        if changed.is_empty() {
            return Ok(out);
        }
        out.action(Action::RefreshSchema {
            reason: "2.0.0 renames the reaction fields +1/-1 to plus_one/minus_one in comments, commit_comments, issue_events, issues, releases and review_comments".into(),
        });
        for (d, mode, dest) in changed {
            if mode == "incremental" {
                out.action(Action::ClearStream {
                    reason: format!(
                        "rows already in the destination keep reactions +1/-1; clear the stream so its history is re-synced with plus_one/minus_one (incremental, {dest})"
                    ),
                    stream: d,
                });
            } else if dest.starts_with("append") {
                out.notes.push(format!(
                    "{}: full refresh appending to the destination: snapshots written before the upgrade keep +1/-1; clearing would delete them, so it is left to the operator",
                    d.name
                ));
            }
        }
        Ok(out)
    }
}

/// The 2.0.0 catalog as an offline `discover` of the real package prints it: every migrated
/// stream it knows gets its schema, sync modes, cursor and primary key.
const CATALOG: Discovered = Discovered::new(
    "2.0.0",
    include_str!("../../../tests/fixtures/source-github/2.0.0/catalog.json"),
);

/// Renames `+1`/`-1` inside the `properties` of every `reactions` object of `schema`, keeping
/// each key's position and definition. Counts the renamed keys into `renamed`.
fn rename_reactions(
    schema: &mut Value,
    stream: &str,
    path: &str,
    renamed: &mut usize,
) -> Result<()> {
    match schema {
        Value::Object(map) => {
            if let Some(props) = map
                .get_mut("reactions")
                .and_then(|r| r.get_mut("properties"))
                .and_then(Value::as_object_mut)
            {
                *renamed += rename_keys(props, stream, &format!("{path}/reactions"))?;
            }
            for (key, child) in map.iter_mut() {
                rename_reactions(child, stream, &format!("{path}/{key}"), renamed)?;
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                rename_reactions(child, stream, &format!("{path}/{i}"), renamed)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn rename_keys(props: &mut Map<String, Value>, stream: &str, path: &str) -> Result<usize> {
    let mut n = 0;
    for (from, to) in RENAMES {
        let Some(old) = props.get(*from) else {
            continue;
        };
        if let Some(new) = props.get(*to) {
            if new != old {
                return Err(Error::NeedsOperator(format!(
                    "{stream}: {path}/properties declares both {from:?} and {to:?}, differently; refresh the source schema and retry"
                )));
            }
            props.shift_remove(*from);
        } else {
            // Rebuild to keep the key where it was: order is part of the bytes we promise.
            *props = std::mem::take(props)
                .into_iter()
                .map(|(k, v)| {
                    if k == *from {
                        ((*to).to_owned(), v)
                    } else {
                        (k, v)
                    }
                })
                .collect();
        }
        n += 1;
    }
    Ok(n)
}

cutover_plugin::export!(GithubV2);

const GUIDE: &str = include_str!("../GUIDE.md");

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::testing::{self, cleared};
    use cutover_plugin::{StreamDescriptor, json, state};

    /// How many `+1`/`-1` reaction properties `schema` still declares.
    fn count_old_keys(schema: &Value) -> usize {
        match schema {
            Value::Object(map) => {
                let here = map
                    .get("reactions")
                    .and_then(|r| r.get("properties"))
                    .and_then(Value::as_object)
                    .map_or(0, |p| {
                        RENAMES
                            .iter()
                            .filter(|(from, _)| p.contains_key(*from))
                            .count()
                    });
                here + map.values().map(count_old_keys).sum::<usize>()
            }
            Value::Array(items) => items.iter().map(count_old_keys).sum(),
            _ => 0,
        }
    }

    fn reactions() -> Value {
        json!({"type": ["null", "object"], "properties": {
            "url": {"type": ["null", "string"]}, "total_count": {"type": ["null", "integer"]},
            "+1": {"type": ["null", "integer"]}, "-1": {"type": ["null", "integer"]}, "laugh": {"type": ["null", "integer"]}}})
    }

    fn entry(name: &str, mode: &str, dest: &str, schema: Value) -> Value {
        let stream = json!({"name": name, "json_schema": schema, "supported_sync_modes": ["full_refresh", "incremental"],
                            "source_defined_cursor": true, "default_cursor_field": ["updated_at"], "source_defined_primary_key": [["id"]]});
        testing::configured(stream, mode, dest)
            .declared_cursor_and_key()
            .into()
    }

    fn top(r: Value) -> Value {
        json!({"type": "object", "properties": {"id": {"type": ["null", "integer"]}, "reactions": r, "updated_at": {"type": "string"}}})
    }

    fn connection(catalog: Value, state: Vec<Value>) -> Connection {
        testing::connection("airbyte/source-github", "1.9.2")
            .config(json!({"credentials": {"option_title": "PAT Credentials", "personal_access_token": "x"}, "repositories": ["a/b"]}))
            .build_with(catalog, state)
    }

    fn stream_state(name: &str) -> Value {
        testing::stream_state(name, json!({"a/b": {"updated_at": "2025-10-01T00:00:00Z"}}))
    }

    #[test]
    fn renames_in_place_and_keeps_state() {
        let catalog = json!({"streams": [
            entry("issues", "incremental", "append_dedup", top(reactions())),
            entry("issue_events", "incremental", "append", json!({"type": "object", "properties": {"issue": {"type": "object", "properties": {"reactions": reactions()}}}})),
            entry("releases", "full_refresh", "overwrite", top(reactions())),
            entry("pull_requests", "incremental", "append_dedup", top(reactions())),
        ]});
        let states = vec![stream_state("issues"), stream_state("pull_requests")];
        let out = GithubV2::migrate(connection(catalog.clone(), states.clone())).unwrap();
        let keys: Vec<_> = catalog::find(&out.catalog, "issues").unwrap()["stream"]["json_schema"]
            ["properties"]["reactions"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(
            keys,
            ["url", "total_count", "plus_one", "minus_one", "laugh"]
        );
        let nested = &catalog::find(&out.catalog, "issue_events").unwrap()["stream"]["json_schema"]
            ["properties"]["issue"]["properties"]["reactions"]["properties"];
        assert!(nested.get("plus_one").is_some() && nested.get("+1").is_none());
        // Out of scope: byte for byte.
        assert_eq!(
            catalog::find(&out.catalog, "pull_requests"),
            catalog::find(&catalog, "pull_requests")
        );
        assert_eq!(out.state, states);
        assert_eq!(
            state::stream_state(&out.state, "issues"),
            state::stream_state(&states, "issues")
        );
        assert!(matches!(out.actions[0], Action::RefreshSchema { .. }));
        assert_eq!(cleared(&out), ["issues", "issue_events"]);
        // User choices kept.
        assert_eq!(
            catalog::find(&out.catalog, "issues").unwrap()["destination_sync_mode"],
            "append_dedup"
        );
    }

    #[test]
    fn migrating_its_own_output_changes_nothing() {
        let catalog =
            json!({"streams": [entry("comments", "incremental", "append", top(reactions()))]});
        let once = GithubV2::migrate(connection(catalog, vec![stream_state("comments")])).unwrap();
        let twice =
            GithubV2::migrate(connection(once.catalog.clone(), once.state.clone())).unwrap();
        assert_eq!(once.catalog, twice.catalog);
        assert!(twice.actions.is_empty());
    }

    #[test]
    fn no_scoped_stream_means_only_the_version_bump() {
        let catalog = json!({"streams": [entry("workflow_runs", "incremental", "append_dedup", top(json!({"type": "object"})))]});
        let out = GithubV2::migrate(connection(
            catalog.clone(),
            vec![stream_state("workflow_runs")],
        ))
        .unwrap();
        assert_eq!(out.catalog, catalog);
        assert!(out.actions.is_empty() && out.notes.is_empty());
    }

    #[test]
    fn timeline_events_are_left_to_the_target_catalog() {
        let schema = json!({"type": "object", "properties": {"commented": {"type": "object", "properties": {"reactions": reactions()}}}});
        let catalog = json!({"streams": [entry("issue_timeline_events", "full_refresh", "overwrite", schema)]});
        let out = GithubV2::migrate(connection(catalog.clone(), vec![])).unwrap();
        assert_eq!(out.catalog, catalog, "the guide does not touch it");
        assert!(out.actions.is_empty() && out.notes.is_empty());
        let out = GithubV2::migrate_and_conform(connection(catalog, vec![])).unwrap();
        let conformed = &out.catalog["streams"][0]["stream"];
        assert_eq!(
            *conformed,
            CATALOG.stream("issue_timeline_events").unwrap().unwrap(),
            "2.0.0's own declaration"
        );
        assert_eq!(count_old_keys(conformed), 0);
        assert!(
            out.notes[0].starts_with("issue_timeline_events: json_schema"),
            "{:?}",
            out.notes
        );
    }

    #[test]
    fn full_refresh_append_is_a_note_not_a_clear() {
        let catalog = json!({"streams": [entry("review_comments", "full_refresh", "append", top(reactions()))]});
        let out = GithubV2::migrate(connection(catalog, vec![])).unwrap();
        assert_eq!(out.actions.len(), 1);
        assert!(out.notes.iter().any(|n| n.contains("snapshots")));
    }

    #[test]
    fn conflicting_definitions_and_missing_schemas_are_refused() {
        let mut r = reactions();
        r["properties"]["plus_one"] = json!({"type": "string"});
        let catalog = json!({"streams": [entry("issues", "incremental", "append", top(r))]});
        assert!(matches!(
            GithubV2::migrate(connection(catalog, vec![])),
            Err(Error::NeedsOperator(_))
        ));
        let catalog =
            json!({"streams": [{"stream": {"name": "issues"}, "sync_mode": "incremental"}]});
        assert!(matches!(
            GithubV2::migrate(connection(catalog, vec![])),
            Err(Error::InvalidInput(_))
        ));
        let catalog = json!({"streams": [{"stream": {}, "sync_mode": "incremental"}]});
        assert!(matches!(
            GithubV2::migrate(connection(catalog, vec![])),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn namespaces_are_kept_in_actions() {
        let mut e = entry("comments", "incremental", "append", top(reactions()));
        e["stream"]["namespace"] = json!("gh");
        let out = GithubV2::migrate(connection(json!({"streams": [e]}), vec![])).unwrap();
        assert!(out.actions.iter().any(|a| matches!(a, Action::ClearStream { stream, .. } if *stream == StreamDescriptor { name: "comments".into(), namespace: Some("gh".into()) })));
    }

    /// The real 1.9.2 catalog, migrated, declares exactly the 2.0.0 schemas of the scoped streams.
    #[test]
    fn real_1_9_2_schemas_become_the_2_0_0_schemas() {
        let old = include_str!("../../../tests/fixtures/source-github/1.9.2/catalog.json");
        let new = include_str!("../../../tests/fixtures/source-github/2.0.0/catalog.json");
        let declared = testing::stream;
        let names = SCOPED
            .iter()
            .chain([&"issue_timeline_events", &"pull_requests"]);
        let streams: Vec<Value> = names.clone().map(|n| json!({"stream": declared(old, n), "sync_mode": "incremental", "destination_sync_mode": "append"})).collect();
        let out = GithubV2::migrate(connection(json!({"streams": streams}), vec![])).unwrap();
        for name in SCOPED {
            let got = &catalog::find(&out.catalog, name).unwrap()["stream"];
            assert_eq!(
                serde_json::to_string(got).unwrap(),
                serde_json::to_string(&declared(new, name)).unwrap(),
                "{name}"
            );
        }
        assert_eq!(
            catalog::find(&out.catalog, "pull_requests").unwrap()["stream"],
            declared(old, "pull_requests")
        );
        assert_eq!(
            catalog::find(&out.catalog, "issue_timeline_events").unwrap()["stream"],
            declared(old, "issue_timeline_events")
        );
        assert_eq!(cleared(&out), SCOPED);
        // Conformed to the real 2.0.0 catalog, every stream is as 2.0.0 declares it.
        let mut out = out;
        out.conform_to(&CATALOG).unwrap();
        for name in names {
            assert_eq!(
                catalog::find(&out.catalog, name).unwrap()["stream"],
                declared(new, name),
                "{name}"
            );
        }
    }

    #[test]
    fn manifest_matches_the_metadata() {
        let m = GithubV2::manifest();
        assert_eq!(m.scoped_streams, SCOPED);
        assert!(m.message.contains("plus_one and minus_one"));
        assert_eq!(m.upgrade_deadline.as_deref(), Some("2025-11-21"));
    }

    /// Every stream 1.9.2 discovers leaves as 2.0.0 discovers it.
    #[test]
    fn every_stream_leaves_as_2_0_0_discovers_it() {
        testing::assert_every_stream_conforms(
            GithubV2::migrate_and_conform,
            connection(json!({}), vec![]),
            include_str!("../../../tests/fixtures/source-github/1.9.2/catalog.json"),
            include_str!("../../../tests/fixtures/source-github/2.0.0/catalog.json"),
            &[],
        );
    }
}
