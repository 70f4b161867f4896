//! `cutover` against a running Airbyte: the example fleet's connections (Pinterest and
//! GitHub) loaded into the double of the Configuration API, with no workspace named, planned
//! and applied through the API with the real plugins, compared with what the directory fleet
//! makes of the same connections; the clears the plan names, each landing once; rollback
//! after clears; the process killed after every write request; every write endpoint failing
//! once; moving a definition's default version; a moved secret; a dry run; what needs no
//! token.

use cutover_doubles::airbyte::seed::{Seeded, example_fleet, example_pinterest};
use cutover_doubles::airbyte::{
    AirbyteDouble, ConnectionSeed, ConnectorSeed, Failure, Fault, Snapshot,
};
use cutover_tests::{Run, cutover_with_env};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;

const BIN: &str = env!("CARGO_BIN_EXE_cutover");
const TOKEN_VAR: &str = "CUTOVER_TEST_AIRBYTE_TOKEN";
const TOKEN: &str = "cli-test-token-77c1";

fn run(fleet: &Path, args: &[&str]) -> Run {
    cutover_with_env(BIN, fleet, args, &[(TOKEN_VAR, TOKEN)])
}

fn run_with(fleet: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all = vec![(TOKEN_VAR, TOKEN)];
    all.extend_from_slice(env);
    cutover_with_env(BIN, fleet, args, &all)
}

/// A fleet directory whose connections are the double's: settings, the Pinterest plugins
/// and the 2.0.0 spec, no `connections/`.
fn airbyte_fleet(double: &AirbyteDouble, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let example = cutover_tests::root().join("examples/fleet");
    std::fs::write(
        dir.path().join("cutover.toml"),
        format!(
            "plugins = \"plugins\"\n[platform]\nplatform = \"0.63.14\"\n[connectors.\"airbyte/source-pinterest\"]\ntarget = \"2.0.0\"\n[connectors.\"airbyte/source-github\"]\ntarget = \"1.8.1\"\n\
             [airbyte]\nurl = \"{}\"\ntoken_env = \"{TOKEN_VAR}\"\nretries = 4\nbackoff_ms = 10\ntimeout_ms = 5000\n{extra}",
            double.url()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    for p in ["source-pinterest-v1", "source-pinterest-v2"] {
        let src = cutover_tests::plugin(p);
        std::fs::copy(
            &src,
            dir.path().join("plugins").join(src.file_name().unwrap()),
        )
        .unwrap();
    }
    let spec = dir.path().join("specs/airbyte/source-pinterest");
    std::fs::create_dir_all(&spec).unwrap();
    std::fs::copy(
        example.join("specs/airbyte/source-pinterest/2.0.0.json"),
        spec.join("2.0.0.json"),
    )
    .unwrap();
    dir
}

/// The state a double shows for protocol messages: (stream, state) pairs, sorted.
fn api_streams(messages: &Value) -> Vec<(Value, Value)> {
    let mut out: Vec<(Value, Value)> = messages
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["stream"]["stream_descriptor"].clone(),
                m["stream"]["stream_state"].clone(),
            )
        })
        .collect();
    out.sort_by_key(|(d, _)| d.to_string());
    out
}

fn shown_streams(state: &Value) -> Vec<(Value, Value)> {
    let mut out: Vec<(Value, Value)> = state["streamState"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| (s["streamDescriptor"].clone(), s["streamState"].clone()))
        .collect();
    out.sort_by_key(|(d, _)| d.to_string());
    out
}

/// Whether a request writes (every endpoint cutover writes through).
fn is_write(path: &str) -> bool {
    [
        "/v1/connections/update",
        "/v1/state/create_or_update_safe",
        "/v1/state/create_or_update",
        "/v1/sources/upgrade_version",
        "/v1/sources/update",
        "/v1/sources/partial_update",
        "/v1/connections/clear/stream",
        "/v1/scoped_configuration/create",
        "/v1/scoped_configuration/delete",
    ]
    .contains(&path)
}

fn snapshots(double: &AirbyteDouble, seeded: &[Seeded]) -> BTreeMap<String, Snapshot> {
    seeded
        .iter()
        .map(|s| (s.document_id.clone(), double.snapshot(&s.connection_id)))
        .collect()
}

/// Asserts two sets of snapshots are equal, naming the connections and parts that differ.
fn assert_same(now: &BTreeMap<String, Snapshot>, want: &BTreeMap<String, Snapshot>, what: &str) {
    let differing: Vec<String> = want
        .iter()
        .filter_map(|(id, w)| {
            let parts = now
                .get(id)
                .map(|n| n.differences(w))
                .unwrap_or(vec!["missing"]);
            (!parts.is_empty()).then(|| format!("{id}: {}", parts.join(", ")))
        })
        .collect();
    assert!(differing.is_empty(), "{what}: {}", differing.join("; "));
}

/// What the directory fleet makes of the example's connections: `apply --all`.
fn directory_result() -> BTreeMap<String, Value> {
    let fleet = cutover_tests::Fleet::example();
    cutover_tests::cutover(BIN, fleet.path(), &["apply", "--all"]).expect(0);
    fleet
        .documents()
        .into_iter()
        .map(|(file, bytes)| {
            (
                file.trim_end_matches(".json").to_owned(),
                serde_json::from_slice(&bytes).unwrap(),
            )
        })
        .collect()
}

/// The streams each connection's plan says to clear, by connection id.
fn planned_clears(plan: &Value) -> BTreeMap<String, Vec<(String, Option<String>)>> {
    plan["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "migrate" || c["status"] == "upgrade")
        .map(|c| {
            let mut streams: Vec<(String, Option<String>)> = c["actions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["kind"] == "clear-stream")
                .map(|a| {
                    (
                        a["stream"]["name"].as_str().unwrap().to_owned(),
                        a["stream"]["namespace"].as_str().map(str::to_owned),
                    )
                })
                .collect();
            streams.sort();
            streams.dedup();
            (c["id"].as_str().unwrap().to_owned(), streams)
        })
        .collect()
}

fn assert_matches_directory(
    double: &AirbyteDouble,
    seeded: &[Seeded],
    directory: &BTreeMap<String, Value>,
    clears: &BTreeMap<String, Vec<(String, Option<String>)>>,
) {
    for s in seeded {
        let now = double.snapshot(&s.connection_id);
        let want = &directory[&s.document_id];
        assert_eq!(
            now.version,
            want["version"].as_str().unwrap(),
            "{}: version",
            s.document_id
        );
        assert_eq!(now.config, want["config"], "{}: config", s.document_id);
        assert_eq!(
            now.rewritten().catalog,
            cutover_doubles::airbyte::stored_catalog(&want["catalog"]),
            "{}: catalog, as the server stores it",
            s.document_id
        );
        // A clear's job deletes its streams' state: what the directory keeps of it is gone.
        let cleared = clears.get(&s.connection_id).cloned().unwrap_or_default();
        let kept: Vec<(Value, Value)> = api_streams(&want["state"])
            .into_iter()
            .filter(|(d, _)| !cleared.iter().any(|(name, _)| d["name"] == name.as_str()))
            .collect();
        assert_eq!(shown_streams(&now.state), kept, "{}: state", s.document_id);
        assert_eq!(now.status, "active", "{}: left active", s.document_id);
    }
}

/// What a rollback restores after clears: everything, the catalog as the server stores it,
/// save the cleared streams' state (`clears` has an entry for each connection written).
fn restored(
    original: &BTreeMap<String, Snapshot>,
    seeded: &[Seeded],
    clears: &BTreeMap<String, Vec<(String, Option<String>)>>,
) -> BTreeMap<String, Snapshot> {
    seeded
        .iter()
        .map(|s| {
            let cleared = clears.get(&s.connection_id).cloned().unwrap_or_default();
            let o = &original[&s.document_id];
            // A connection written and rolled back holds its catalog as the server stores it.
            let back = if clears.contains_key(&s.connection_id) {
                o.rewritten().without_state_of(&cleared)
            } else {
                o.clone()
            };
            (s.document_id.clone(), back)
        })
        .collect()
}

fn assert_clears(
    double: &AirbyteDouble,
    seeded: &[Seeded],
    planned: &BTreeMap<String, Vec<(String, Option<String>)>>,
) {
    let jobs = double.jobs();
    for s in seeded {
        let mut asked: Vec<(String, Option<String>)> = jobs
            .iter()
            .filter(|j| j.connection_id == s.connection_id)
            .flat_map(|j| j.streams.clone())
            .collect();
        asked.sort();
        let count = jobs
            .iter()
            .filter(|j| j.connection_id == s.connection_id)
            .count();
        let want = planned.get(&s.connection_id).cloned().unwrap_or_default();
        assert_eq!(
            asked, want,
            "{}: the clears the plan names, and no others",
            s.document_id
        );
        assert_eq!(
            count,
            usize::from(!want.is_empty()),
            "{}: one clear job",
            s.document_id
        );
    }
}

#[test]
fn the_example_connections_migrate_through_the_api_as_in_a_directory_and_roll_back_as_stated() {
    let directory = directory_result();
    let double = AirbyteDouble::start(TOKEN);
    let seeded = example_fleet(&double);
    let original = snapshots(&double, &seeded);
    // No `[airbyte] workspaces`: every workspace the credentials see.
    let fleet = airbyte_fleet(&double, "");

    // A self-managed deployment: GitHub's definition still defaults to 1.5.7. Moving it is a
    // step of its own, shown first and done only when asked.
    let shown = run(fleet.path(), &["airbyte-default", "airbyte/source-github"]).expect(0);
    assert!(
        shown
            .stdout
            .contains("1 connection(s) move to 1.8.1 with the default")
            && shown.stdout.contains("GitHub platform repos")
            && shown.stdout.contains("Airbyte pins 0 connection(s)"),
        "{}",
        shown.stdout
    );
    assert_eq!(
        double
            .snapshot(&seeded.last().unwrap().connection_id)
            .version,
        "1.5.7",
        "nothing moved"
    );
    run(
        fleet.path(),
        &["airbyte-default", "airbyte/source-github", "--yes"],
    )
    .expect(0);

    let status = run(fleet.path(), &["status"]).expect(0);
    assert!(status.stdout.contains("pinned"), "{}", status.stdout);
    let plan = run(fleet.path(), &["plan", "--all", "--json"])
        .expect(0)
        .json();
    let clears = planned_clears(&plan);
    assert!(
        clears.values().any(|c| !c.is_empty()),
        "the 2.0.0 migration names streams to clear"
    );
    // The cleared streams a rollback brings back without their state: those the connection
    // synced, and had a state for, before (a renamed stream comes back under its old name,
    // with its state, its old data untouched).
    let lost = |id: &str| -> Vec<String> {
        let doc = seeded.iter().find(|s| s.connection_id == id).unwrap();
        let state = shown_streams(&original[&doc.document_id].state);
        clears
            .get(id)
            .into_iter()
            .flatten()
            .filter(|(name, _)| state.iter().any(|(d, _)| d["name"] == name.as_str()))
            .map(|(name, _)| name.clone())
            .collect()
    };
    let by_id: BTreeMap<&str, &str> = seeded
        .iter()
        .map(|s| (s.connection_id.as_str(), s.document_id.as_str()))
        .collect();
    for c in plan["connections"].as_array().unwrap() {
        let doc = by_id[c["id"].as_str().unwrap()];
        let expected = match doc {
            "pinterest-brand-pinned" => "pinned",
            "pinterest-apac" | "github-platform" => "up-to-date",
            _ => "migrate",
        };
        assert_eq!(c["status"], expected, "{doc}: {c}");
        if !lost(c["id"].as_str().unwrap()).is_empty() {
            let notes = c["notes"].to_string();
            assert!(
                notes.contains("rollback: restores config, catalog, version, pin and status")
                    && notes.contains("re-sync in full"),
                "{doc}: the plan says what a rollback cannot restore: {notes}"
            );
        }
    }

    let applied = run(fleet.path(), &["apply", "--all", "--json"])
        .expect(0)
        .json();
    assert_eq!(applied["written"].as_array().unwrap().len(), 3, "{applied}");
    assert_matches_directory(&double, &seeded, &directory, &clears);
    assert_clears(&double, &seeded, &clears);
    for s in &seeded {
        let pin = double.snapshot(&s.connection_id).pin;
        match s.document_id.as_str() {
            "pinterest-brand-pinned" => assert_eq!(pin.map(|p| p.0), Some("user".to_owned())),
            _ => assert_eq!(
                pin, None,
                "{}: the breaking-change pin is resolved",
                s.document_id
            ),
        }
    }
    run(fleet.path(), &["apply", "--all"]).expect(0);
    assert!(
        double.jobs().len() == clears.values().filter(|c| !c.is_empty()).count(),
        "a second apply does nothing"
    );

    let rolled = run(fleet.path(), &["rollback"]).expect(0);
    let mut named = 0;
    for id in clears.keys() {
        let streams = lost(id);
        let line = rolled
            .stdout
            .lines()
            .find(|l| l.contains(id.as_str()) && l.contains("cannot come back"));
        match line {
            Some(line) => {
                named += 1;
                assert!(
                    streams.iter().all(|name| line.contains(name.as_str())),
                    "{id}: the rollback names the cleared streams {streams:?}: {line}"
                );
            }
            None => assert!(
                streams.is_empty(),
                "{id}: {streams:?} unnamed: {}",
                rolled.stdout
            ),
        }
    }
    assert!(named >= 2, "{}", rolled.stdout);
    let history = run(fleet.path(), &["history", "--json"]).expect(0).json();
    assert_eq!(history[0]["status"], "completed", "{history}");
    // GitHub's move was the operator's step, not a run: it stays.
    let mut want = restored(&original, &seeded, &clears);
    want.get_mut("github-platform").unwrap().version = "1.8.1".into();
    assert_same(
        &snapshots(&double, &seeded),
        &want,
        "config, catalog, version, pin and status restored, and every state but the cleared streams'",
    );
    assert_eq!(
        double
            .snapshot(&seeded.last().unwrap().connection_id)
            .version,
        "1.8.1"
    );
    assert_eq!(double.violations(), Vec::<String>::new());
}

/// The process killed after each write request of an apply: the next apply finishes what the
/// killed one started, nothing is applied twice, and rollback is exact.
#[test]
fn an_apply_killed_after_every_write_converges() {
    let reference = AirbyteDouble::start(TOKEN);
    let seeded = example_pinterest(&reference);
    let fleet = airbyte_fleet(&reference, "concurrency = 1");
    let plan = run(fleet.path(), &["plan", "--all", "--json"])
        .expect(0)
        .json();
    let clears = planned_clears(&plan);
    reference.clear_requests();
    run(fleet.path(), &["apply", "--all"]).expect(0);
    let expected = snapshots(&reference, &seeded);
    let writes = reference
        .requests()
        .iter()
        .filter(|r| is_write(&r.path))
        .count();
    assert!(writes >= 12, "{writes} write requests");
    for n in 1..=writes {
        let double = AirbyteDouble::start(TOKEN);
        let seeded = example_pinterest(&double);
        let original = snapshots(&double, &seeded);
        let fleet = airbyte_fleet(&double, "concurrency = 1");
        let killed = run_with(
            fleet.path(),
            &["apply", "--all"],
            &[("CUTOVER_FAILPOINT", &format!("airbyte-write:{n}"))],
        );
        assert_ne!(killed.code, 0, "killed after write {n}");
        run(fleet.path(), &["apply", "--all"]).expect(0);
        assert_same(
            &snapshots(&double, &seeded),
            &expected,
            &format!("killed after write {n}, then applied again"),
        );
        assert_clears(&double, &seeded, &clears);
        // The killed run's writes (finished by the next run) and the next run's are two runs.
        let mut rolled_back = 0;
        while run(fleet.path(), &["rollback"]).code == 0 {
            rolled_back += 1;
        }
        assert!(
            (1..=2).contains(&rolled_back),
            "killed after write {n}: {rolled_back} run(s) rolled back"
        );
        assert_same(
            &snapshots(&double, &seeded),
            &restored(&original, &seeded, &clears),
            &format!("killed after write {n}: rollback"),
        );
        assert_eq!(double.violations(), Vec::<String>::new());
    }
}

#[test]
fn each_write_endpoint_failing_once_still_applies_everything_once() {
    let endpoints = [
        "/v1/connections/update",
        "/v1/state/create_or_update_safe",
        "/v1/sources/upgrade_version",
        "/v1/sources/update",
        "/v1/connections/clear/stream",
    ];
    let mut expected: Option<BTreeMap<String, Snapshot>> = None;
    for endpoint in endpoints {
        for failure in [Failure::Status(500), Failure::DropAfter] {
            let double = AirbyteDouble::start(TOKEN);
            let seeded = example_pinterest(&double);
            let fleet = airbyte_fleet(
                &double,
                &format!("workspaces = [\"{}\"]", double.workspace()),
            );
            let clears = planned_clears(
                &run(fleet.path(), &["plan", "--all", "--json"])
                    .expect(0)
                    .json(),
            );
            double.inject(Fault::once(endpoint, failure.clone()));
            run(fleet.path(), &["apply", "--all"]).expect(0);
            let now = snapshots(&double, &seeded);
            match &expected {
                None => expected = Some(now),
                Some(e) => assert_same(&now, e, &format!("{endpoint} {failure:?}")),
            }
            assert_clears(&double, &seeded, &clears);
            assert!(
                double
                    .requests()
                    .iter()
                    .any(|r| r.path == endpoint && r.status != Some(200) && r.status != Some(204)),
                "{endpoint} failed once"
            );
        }
    }
}

#[test]
fn a_dry_run_reads_everything_and_writes_nothing() {
    let double = AirbyteDouble::start(TOKEN);
    let seeded = example_pinterest(&double);
    let original = snapshots(&double, &seeded);
    let fleet = airbyte_fleet(&double, "");
    let out = run(fleet.path(), &["apply", "--all", "--dry-run"]).expect(0);
    assert!(
        out.stdout.contains("sources/upgrade_version")
            && out.stdout.contains("connections/clear/stream"),
        "{}",
        out.stdout
    );
    assert_same(&snapshots(&double, &seeded), &original, "a dry run");
    assert!(
        double.requests().iter().all(|r| !is_write(&r.path)),
        "only reads"
    );
    let history = run(fleet.path(), &["history", "--json"]).expect(0).json();
    assert_eq!(
        history.as_array().unwrap().len(),
        0,
        "a dry run records no run"
    );
}

/// A connector whose 2.0.0 moves the OAuth secrets under `credentials`.
fn secret_mover(double: &AirbyteDouble) -> (String, String) {
    let secret = json!({"type": "string", "airbyte_secret": true});
    let v1 = json!({"type": "object", "properties": {"client_id": {"type": "string"}, "client_secret": secret, "access_token": secret, "account": {"type": "string"}}});
    let v2 = json!({"type": "object", "properties": {"account": {"type": "string"}, "credentials": {"type": "object", "properties": {"client_id": {"type": "string"}, "client_secret": secret, "access_token": secret}}}});
    let definition = double.define_connector(ConnectorSeed {
        repository: "test/source-secret-mover".into(),
        name: "Secret mover".into(),
        versions: vec![("1.0.0".into(), v1), ("2.0.0".into(), v2)],
        default_version: "2.0.0".into(),
        breaking: vec![],
    });
    double.add_connection(ConnectionSeed {
        name: "moves secrets".into(),
        definition_id: definition,
        version: "1.0.0".into(),
        user_pin: None,
        config: json!({"client_id": "app", "client_secret": "real-secret", "access_token": "real-token", "account": "a1"}),
        catalog: json!({"streams": []}),
        state: vec![],
        status: "active".into(),
    })
}

#[test]
fn a_moved_secret_needs_the_operator_and_nothing_is_written_until_they_supply_it() {
    let double = AirbyteDouble::start(TOKEN);
    let (connection, _) = secret_mover(&double);
    let fleet = airbyte_fleet(&double, "");
    std::fs::copy(
        cutover_tests::plugin("secret-mover-plugin"),
        fleet.path().join("plugins/secret_mover_plugin.wasm"),
    )
    .unwrap();
    let before = double.snapshot(&connection);

    let plan = run(fleet.path(), &["plan", "--all", "--json"])
        .expect(0)
        .json();
    let c = &plan["connections"][0];
    assert_eq!(c["status"], "needs-operator", "{c}");
    let reason = c["reason"].as_str().unwrap();
    assert!(
        reason.contains("/credentials/client_secret")
            && reason.contains("/credentials/access_token"),
        "{reason}"
    );
    assert!(!plan.to_string().contains("real-secret"));
    run(fleet.path(), &["apply", "--all"]);
    assert_eq!(double.snapshot(&connection), before, "nothing written");
    assert!(
        double.requests().iter().all(|r| r
            .body
            .as_ref()
            .is_none_or(|b| !b.to_string().contains("**********"))),
        "no mask sent"
    );

    let secrets = fleet.path().join("airbyte-secrets.json");
    std::fs::write(&secrets, json!({connection.clone(): {"/credentials/client_secret": "new-secret", "/credentials/access_token": "new-token"}}).to_string()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let toml = std::fs::read_to_string(fleet.path().join("cutover.toml")).unwrap();
    std::fs::write(
        fleet.path().join("cutover.toml"),
        format!("{toml}secrets = \"airbyte-secrets.json\"\n"),
    )
    .unwrap();
    let out = run(fleet.path(), &["apply", "--all"]).expect(0);
    assert!(!out.stdout.contains("new-secret") && !out.stderr.contains("new-secret"));
    let after = double.snapshot(&connection);
    assert_eq!(after.version, "2.0.0");
    assert_eq!(
        after.config,
        json!({"account": "a1", "credentials": {"client_id": "app", "client_secret": "new-secret", "access_token": "new-token"}})
    );
    let ledger = std::fs::read(fleet.path().join(".cutover/ledger.sqlite")).unwrap();
    assert!(
        !String::from_utf8_lossy(&ledger).contains("new-secret"),
        "the supplied secret is not in the ledger"
    );
}

/// The text `status` of an Airbyte fleet names connections as the operator knows them
/// (their ids stay in `--json`); `history` and `plugin list` read only the ledger and the
/// plugins, and need no token.
#[test]
fn status_shows_names_and_what_reads_no_api_needs_no_token() {
    let double = AirbyteDouble::start(TOKEN);
    let seeded = example_pinterest(&double);
    let fleet = airbyte_fleet(&double, "");
    let status = run(fleet.path(), &["status"]).expect(0);
    for s in &seeded {
        let name = s.document["name"].as_str().unwrap();
        assert!(status.stdout.contains(name), "{name}: {}", status.stdout);
        assert!(
            !status.stdout.contains(&s.connection_id),
            "no UUID in the text: {}",
            status.stdout
        );
    }
    let json = run(fleet.path(), &["status", "--json"]).expect(0).json();
    let ids: Vec<&str> = json["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(
        seeded
            .iter()
            .all(|s| ids.contains(&s.connection_id.as_str()))
    );
    run(fleet.path(), &["apply", "--all"]).expect(0);

    let no_token = |args: &[&str]| cutover_with_env(BIN, fleet.path(), args, &[]);
    let history = no_token(&["history"]).expect(0);
    assert!(history.stdout.contains("apply"), "{}", history.stdout);
    no_token(&["history", "--json"]).expect(0);
    no_token(&["plugin", "list"]).expect(0);
    let refused = no_token(&["status"]);
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains(TOKEN_VAR) && refused.stderr.contains("not set"),
        "{}",
        refused.stderr
    );
}

/// A deployment where the credentials see no workspace, or no connection, says so and
/// plans nothing (exit 2), instead of listing nothing.
#[test]
fn no_workspace_or_no_connection_is_said_and_plans_nothing() {
    let double = AirbyteDouble::start(TOKEN);
    let fleet = airbyte_fleet(&double, "");
    let empty = run(fleet.path(), &["status"]);
    assert_eq!(empty.code, 2, "{}", empty.stdout);
    assert!(
        empty.stderr.contains("holds no connection"),
        "{}",
        empty.stderr
    );
    double.edit(|m| m.workspaces.clear());
    let none = run(fleet.path(), &["plan", "--all"]);
    assert_eq!(none.code, 2, "{}", none.stdout);
    assert!(none.stderr.contains("see no workspace"), "{}", none.stderr);
}

/// A lost answer after every write endpoint, clears included, with the clear jobs still
/// pending when cutover asks again: each clear lands once.
#[test]
fn a_lost_answer_to_a_clear_clears_once() {
    for failure in [
        Failure::DropAfter,
        Failure::Slow(std::time::Duration::from_millis(6000)),
    ] {
        let double = AirbyteDouble::start(TOKEN);
        double.hold_jobs(true);
        let seeded = example_pinterest(&double);
        let fleet = airbyte_fleet(
            &double,
            &format!("concurrency = 1\nworkspaces = [\"{}\"]", double.workspace()),
        );
        let clears = planned_clears(
            &run(fleet.path(), &["plan", "--all", "--json"])
                .expect(0)
                .json(),
        );
        assert!(clears.values().any(|c| !c.is_empty()), "clears are planned");
        double.inject(Fault::always(
            "/v1/connections/clear/stream",
            failure.clone(),
        ));
        run(fleet.path(), &["apply", "--all"]).expect(0);
        assert_clears(&double, &seeded, &clears);
        assert!(
            double.jobs().iter().all(|j| j.status == "pending"),
            "no clear failed the one before it: {:?}",
            double.jobs()
        );
    }
}

/// A self-managed deployment whose Pinterest definition still defaults to 1.3.3: moving the
/// default to 2.0.0 is shown first (which connection Airbyte pins, which moves with the
/// default), done only with `--yes`, and Airbyte pins exactly what was shown; `apply` then
/// migrates the pinned connection and lifts its pin.
#[test]
fn moving_a_default_past_a_breaking_change_pins_what_it_affects_and_apply_migrates_it() {
    let double = AirbyteDouble::start(TOKEN);
    let definition = cutover_doubles::airbyte::seed::define_pinterest_at(&double, "1.3.3");
    let example = |id: &str| -> Value {
        serde_json::from_slice(
            &std::fs::read(
                cutover_tests::root().join(format!("examples/fleet/connections/{id}.json")),
            )
            .unwrap(),
        )
        .unwrap()
    };
    let affected_doc = example("pinterest-ads-eu");
    let (affected, _) = double.add_connection(cutover_doubles::airbyte::seed_from_document(
        &affected_doc,
        &definition,
    ));
    // The same connection syncing only `boards`, which 2.0.0's breaking change leaves alone.
    let mut boards_doc = affected_doc.clone();
    boards_doc["name"] = json!("Pinterest boards");
    boards_doc["catalog"]["streams"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["stream"]["name"] == "boards");
    boards_doc["state"] = json!([]);
    let (boards, _) = double.add_connection(cutover_doubles::airbyte::seed_from_document(
        &boards_doc,
        &definition,
    ));
    let fleet = airbyte_fleet(&double, "");

    let shown = run(
        fleet.path(),
        &["airbyte-default", "airbyte/source-pinterest"],
    )
    .expect(0);
    let text = &shown.stdout;
    let pins = text
        .find("Airbyte pins 1 connection(s) at 1.3.3")
        .expect(text);
    let moves = text.find("1 connection(s) move to 2.0.0").expect(text);
    let name = affected_doc["name"].as_str().unwrap();
    assert!(
        text[pins..moves].contains(name) && text[moves..].contains("Pinterest boards"),
        "{text}"
    );
    assert!(text.contains("Nothing was sent"), "{text}");
    assert_eq!(double.snapshot(&affected).pin, None, "nothing moved");
    assert_eq!(double.snapshot(&boards).version, "1.3.3", "nothing moved");

    run(
        fleet.path(),
        &["airbyte-default", "airbyte/source-pinterest", "--yes"],
    )
    .expect(0);
    let pinned = double.snapshot(&affected);
    assert_eq!(
        (pinned.version.as_str(), pinned.pin),
        (
            "1.3.3",
            Some(("breaking_change".to_owned(), "2.0.0".to_owned()))
        )
    );
    assert_eq!(double.snapshot(&boards).version, "2.0.0");

    run(fleet.path(), &["apply", "--all"]).expect(0);
    let migrated = double.snapshot(&affected);
    assert_eq!(
        (
            migrated.version.as_str(),
            migrated.pin,
            migrated.status.as_str()
        ),
        ("2.0.0", None, "active")
    );
    assert_eq!(double.violations(), Vec::<String>::new());
}
