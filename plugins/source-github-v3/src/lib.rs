//! source-github 3.0.0, from 2.x: the migration guide of the 3.0.0 breaking change as code.
//!
//! What 3.0.0 changed (the connector's `breakingChanges` entry, quoted in the manifest): the
//! primary key of `workflow_runs` goes from `[id]` to `[id, run_attempt]`, because a re-run of a
//! workflow keeps its `id` and only increments `run_attempt`. Nothing else is listed: the
//! stream keeps its schema (`run_attempt`, `["null", "integer"]`, is already declared in 2.x),
//! its cursor `updated_at` and its state, so the state is kept byte for byte whatever form the
//! 2.x release wrote it in (per-repository `{"<owner/repo>": {"updated_at": …}}` from the Python
//! releases, per-partition `{"states": [...]}` from the low-code ones).
//!
//! What this plugin does by itself: sets the `source_defined_primary_key` of `workflow_runs`
//! and the connection's configured `primary_key` to `[["id"], ["run_attempt"]]`, and adds
//! `run_attempt` to the configured schema if field selection left it out (a primary key field
//! must be selected). What it leaves to the operator: refresh the source schema, and clear
//! `workflow_runs` where the old key shaped what the destination holds: an incremental sync
//! (rows deduplicated or appended under `[id]`) or a deduplicating destination mode. A
//! full-refresh overwrite is rewritten by its next sync and needs no clear.
//!
//! 3.0.0 is not on PyPI; the target spec and catalog under `tests/fixtures/source-github/3.0.0`
//! are the last 2.x release's (2.7.1) with this one key changed, as that fixture's README
//! explains.

use cutover_plugin::discovered::Discovered;
use cutover_plugin::{
    Action, Connection, Error, Manifest, Migration, Outcome, Result, Value, catalog, json,
};

/// The stream whose primary key changed (the connector's `scopedImpact` for 3.0.0).
pub const SCOPED: &[&str] = &["workflow_runs"];

const STREAM: &str = "workflow_runs";

/// `run_attempt` as 2.x and 3.0.0 declare it.
fn run_attempt() -> Value {
    json!({"description": "Specifies the attempt number of the workflow run.", "type": ["null", "integer"]})
}

fn old_key() -> Value {
    json!([["id"]])
}

fn new_key() -> Value {
    json!([["id"], ["run_attempt"]])
}

pub struct GithubV3;

impl Migration for GithubV3 {
    fn manifest() -> Manifest {
        Manifest {
            connector: "airbyte/source-github".into(),
            applies_to: ">=2.0.0, <3.0.0".into(),
            produces: "3.0.0".into(),
            message: "This release changes the primary key for the workflow_runs stream from [id] to [id, run_attempt] to correctly preserve all workflow run attempts. Users should reset the workflow_runs stream after upgrading to capture all historical attempts.".into(),
            upgrade_deadline: Some("2026-02-02".into()),
            deadline_action: None,
            documentation_url: "https://docs.airbyte.com/integrations/sources/github-migrations#3.0.0".into(),
            scoped_streams: SCOPED.iter().map(|s| (*s).to_owned()).collect(),
            preconditions: Vec::new(),
            guide: GUIDE.into(),
        }
    }

    const TARGET_CATALOG: Option<&'static Discovered> = Some(&CATALOG);

    fn migrate(connection: Connection) -> Result<Outcome> {
        let mut out = connection.into_outcome();
        for entry in catalog::streams(&out.catalog) {
            if catalog::descriptor(entry).is_none() {
                return Err(Error::InvalidInput(
                    "a configured stream has no stream.name".into(),
                ));
            }
        }
        let Some(entry) = catalog::find_mut(&mut out.catalog, STREAM) else {
            return Ok(out);
        };
        let descriptor = catalog::descriptor(entry).expect("checked above");
        let mut changes = Vec::new();

        let stream = entry
            .get_mut("stream")
            .and_then(Value::as_object_mut)
            .expect("descriptor found a stream object");
        match stream.get("source_defined_primary_key") {
            Some(k) if *k == new_key() => {}
            None => {
                stream.insert("source_defined_primary_key".into(), new_key());
                changes.push(
                    "source_defined_primary_key set to [[\"id\"], [\"run_attempt\"]]".to_owned(),
                );
            }
            Some(k) if *k == old_key() => {
                stream.insert("source_defined_primary_key".into(), new_key());
                changes.push(
                    "source_defined_primary_key [[\"id\"]] -> [[\"id\"], [\"run_attempt\"]]"
                        .to_owned(),
                );
            }
            Some(k) => {
                return Err(Error::UnsupportedShape(format!(
                    "{STREAM} declares primary key {k}, which is neither 2.x's [[\"id\"]] nor 3.0.0's; refresh the source schema on 2.x and retry"
                )));
            }
        }
        let properties = catalog::properties_mut(&mut entry["stream"], &STREAM, "2.x")?;
        if !properties.contains_key("run_attempt") {
            properties.insert("run_attempt".into(), run_attempt());
            changes.push(
                "run_attempt added to its schema (a primary key field is always selected)"
                    .to_owned(),
            );
        }

        match entry.get("primary_key") {
            Some(k) if *k == new_key() => {}
            None => {}
            Some(k) => {
                let was = k.to_string();
                entry["primary_key"] = new_key();
                changes.push(format!(
                    "primary_key {was} -> [[\"id\"], [\"run_attempt\"]]"
                ));
            }
        }

        if changes.is_empty() {
            return Ok(out);
        }
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
        out.note(format!(
            "{STREAM}: {}; its cursor (updated_at) and state are kept",
            changes.join("; ")
        ));
        out.action(Action::RefreshSchema {
            reason: "3.0.0 declares the primary key of workflow_runs as [id, run_attempt]".into(),
        });
        if mode == "incremental" || dest == "append_dedup" {
            out.action(Action::ClearStream {
                stream: descriptor,
                reason: format!(
                    "the destination holds workflow runs keyed by [id] ({mode}, {dest}); clear the stream so they are re-synced under [id, run_attempt]"
                ),
            });
        }
        Ok(out)
    }
}

/// The 3.0.0 catalog as an offline `discover` of the real package prints it: every migrated
/// stream it knows gets its schema, sync modes, cursor and primary key.
const CATALOG: Discovered = Discovered::new(
    "3.0.0",
    include_str!("../../../tests/fixtures/source-github/3.0.0/catalog.json"),
);

cutover_plugin::export!(GithubV3);

const GUIDE: &str = include_str!("../GUIDE.md");

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::StreamDescriptor;
    use cutover_plugin::testing::{self, cleared};

    fn declared(version: &str, name: &str) -> Value {
        testing::stream(
            match version {
                "2.0.0" => include_str!("../../../tests/fixtures/source-github/2.0.0/catalog.json"),
                "3.0.0" => include_str!("../../../tests/fixtures/source-github/3.0.0/catalog.json"),
                _ => unreachable!(),
            },
            name,
        )
    }

    fn entry(name: &str, mode: &str, dest: &str) -> Value {
        testing::configured(declared("2.0.0", name), mode, dest)
            .cursor(&["updated_at"])
            .primary_key(json!([["id"]]))
            .into()
    }

    fn connection(catalog: Value, state: Vec<Value>) -> Connection {
        testing::connection("airbyte/source-github", "2.0.0")
            .config(json!({"credentials": {"option_title": "PAT Credentials", "personal_access_token": "x"}, "repositories": ["a/b"]}))
            .build_with(catalog, state)
    }

    fn runs_state() -> Value {
        testing::stream_state(
            "workflow_runs",
            json!({"a/b": {"updated_at": "2025-12-01T00:00:00Z"}}),
        )
    }

    #[test]
    fn sets_the_new_key_keeps_state_and_asks_for_a_clear() {
        let catalog = json!({"streams": [entry("workflow_runs", "incremental", "append_dedup"), entry("workflows", "incremental", "append_dedup")]});
        let state = vec![runs_state()];
        let out = GithubV3::migrate(connection(catalog.clone(), state.clone())).unwrap();
        let runs = catalog::find(&out.catalog, "workflow_runs").unwrap();
        assert_eq!(runs["primary_key"], new_key());
        // What 3.0.0 declares, but for the CDK's `is_file_based: false` the 2.7.1 discover adds.
        let mut expected = declared("3.0.0", "workflow_runs");
        expected
            .as_object_mut()
            .unwrap()
            .shift_remove("is_file_based");
        assert_eq!(runs["stream"], expected);
        assert_eq!(runs["cursor_field"], json!(["updated_at"]));
        assert_eq!(
            catalog::find(&out.catalog, "workflows"),
            catalog::find(&catalog, "workflows")
        );
        assert_eq!(out.state, state);
        assert!(matches!(out.actions[0], Action::RefreshSchema { .. }));
        assert_eq!(cleared(&out), ["workflow_runs"]);
    }

    #[test]
    fn full_refresh_overwrite_needs_no_clear() {
        let catalog = json!({"streams": [entry("workflow_runs", "full_refresh", "overwrite")]});
        let out = GithubV3::migrate(connection(catalog, vec![])).unwrap();
        assert_eq!(
            catalog::find(&out.catalog, "workflow_runs").unwrap()["primary_key"],
            new_key()
        );
        assert_eq!(out.actions.len(), 1);
        assert!(cleared(&out).is_empty());
    }

    #[test]
    fn a_deselected_run_attempt_is_selected_again() {
        let mut e = entry("workflow_runs", "incremental", "append");
        e["stream"]["json_schema"]["properties"]
            .as_object_mut()
            .unwrap()
            .shift_remove("run_attempt");
        let out = GithubV3::migrate(connection(json!({"streams": [e]}), vec![])).unwrap();
        assert_eq!(
            catalog::find(&out.catalog, "workflow_runs").unwrap()["stream"]["json_schema"]["properties"]
                ["run_attempt"],
            run_attempt()
        );
    }

    #[test]
    fn migrating_its_own_output_changes_nothing() {
        let catalog = json!({"streams": [entry("workflow_runs", "incremental", "append_dedup")]});
        let once = GithubV3::migrate(connection(catalog, vec![runs_state()])).unwrap();
        let twice =
            GithubV3::migrate(connection(once.catalog.clone(), once.state.clone())).unwrap();
        assert_eq!(once.catalog, twice.catalog);
        assert!(twice.actions.is_empty() && twice.notes.is_empty());
    }

    #[test]
    fn no_scoped_stream_means_only_the_version_bump() {
        let catalog = json!({"streams": [entry("workflows", "incremental", "append_dedup")]});
        let out = GithubV3::migrate(connection(catalog.clone(), vec![])).unwrap();
        assert_eq!(out.catalog, catalog);
        assert!(out.actions.is_empty() && out.notes.is_empty());
    }

    #[test]
    fn foreign_keys_and_missing_schemas_are_refused() {
        let mut e = entry("workflow_runs", "incremental", "append_dedup");
        e["stream"]["source_defined_primary_key"] = json!([["node_id"]]);
        assert!(matches!(
            GithubV3::migrate(connection(json!({"streams": [e]}), vec![])),
            Err(Error::UnsupportedShape(_))
        ));
        let e = json!({"stream": {"name": "workflow_runs", "source_defined_primary_key": [["id"]]}, "sync_mode": "incremental"});
        assert!(matches!(
            GithubV3::migrate(connection(json!({"streams": [e]}), vec![])),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn namespaces_are_kept_in_actions() {
        let mut e = entry("workflow_runs", "incremental", "append");
        e["stream"]["namespace"] = json!("gh");
        let out = GithubV3::migrate(connection(json!({"streams": [e]}), vec![])).unwrap();
        assert!(out.actions.iter().any(|a| matches!(a, Action::ClearStream { stream, .. } if *stream == StreamDescriptor { name: "workflow_runs".into(), namespace: Some("gh".into()) })));
    }

    #[test]
    fn manifest_matches_the_metadata() {
        let m = GithubV3::manifest();
        assert_eq!(m.scoped_streams, SCOPED);
        assert_eq!(m.upgrade_deadline.as_deref(), Some("2026-02-02"));
        assert!(m.message.contains("[id, run_attempt]"));
    }

    /// Every stream 2.7.1 discovers leaves as 3.0.0 discovers it.
    #[test]
    fn every_stream_leaves_as_3_0_0_discovers_it() {
        testing::assert_every_stream_conforms(
            GithubV3::migrate_and_conform,
            connection(json!({}), vec![]),
            include_str!("../../../tests/fixtures/source-github/2.7.1/catalog.json"),
            include_str!("../../../tests/fixtures/source-github/3.0.0/catalog.json"),
            &[],
        );
    }
}
