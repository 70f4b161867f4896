//! A fleet that holds the target version's real discovered catalog
//! (`catalogs/<connector>/<version>.json`) holds every plugin step to it: a migrated stream
//! must carry that version's schema, sync modes, cursor and key; and the plan says which
//! synced streams the version changed although the connector's breakingChanges entry does
//! not list them.

use cutover_tests::{Fleet, Run, hostile_connection, root};
use serde_json::{Value, json};

fn cutover(fleet: &Fleet, args: &[&str]) -> Run {
    cutover_tests::cutover(env!("CARGO_BIN_EXE_cutover"), fleet.path(), args)
}

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn put_catalog(fleet: &Fleet, connector: &str, version: &str, catalog: &Value) {
    let dir = fleet.path().join("catalogs").join(connector);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(format!("{version}.json")),
        serde_json::to_vec(catalog).unwrap(),
    )
    .unwrap();
}

#[test]
fn the_plan_names_changed_streams_the_breaking_change_does_not_list() {
    let fleet = Fleet::new("[connectors.\"airbyte/source-github\"]\ntarget = \"2.0.0\"\n");
    fleet.add_plugin("source-github-v2");
    // A real 1.9.2 connection syncing issues (scoped) and issue_timeline_events (not scoped).
    let input =
        read_json(&root().join("plugins/source-github-v2/fixtures/mixed-sync-modes/input.json"));
    let synced: Vec<&str> = input["catalog"]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stream"]["name"].as_str().unwrap())
        .collect();
    assert!(
        synced.contains(&"issue_timeline_events") && synced.contains(&"issues"),
        "{synced:?}"
    );
    fleet.write(&input);

    let plan = cutover(&fleet, &["plan", "--all", "--json"])
        .expect(0)
        .json();
    let breaking = &plan["connections"][0]["steps"][0]["breaking"];
    assert!(
        breaking.get("unlisted_changes").is_none(),
        "without the 2.0.0 catalog nothing is known: {breaking}"
    );

    let target = read_json(&root().join("tests/fixtures/source-github/2.0.0/catalog.json"));
    put_catalog(&fleet, "airbyte/source-github", "2.0.0", &target);
    let plan = cutover(&fleet, &["plan", "--all", "--json"])
        .expect(0)
        .json();
    let connection = &plan["connections"][0];
    assert_eq!(connection["status"], "migrate", "{}", connection["reason"]);
    assert_eq!(
        connection["steps"][0]["breaking"]["unlisted_changes"],
        json!(["issue_timeline_events (json_schema)"])
    );
    let text = cutover(&fleet, &["plan", "--all"]).expect(0).stdout;
    assert!(
        text.contains("! also changed in 2.0.0, though the connector's breaking change does not list them: issue_timeline_events (json_schema)"),
        "{text}"
    );
    cutover(&fleet, &["apply", "--all"]).expect(0);
    let migrated = fleet.read("mixed-sync-modes");
    let timeline = migrated["catalog"]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"]["name"] == "issue_timeline_events")
        .unwrap();
    let declared = target["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "issue_timeline_events")
        .unwrap();
    assert_eq!(
        timeline["stream"], *declared,
        "the written stream is the one 2.0.0 discovers"
    );
}

#[test]
fn a_stream_that_does_not_match_the_target_catalog_fails_its_connection() {
    let settings = "[connectors.\"test/source-hostile\"]\ntarget = \"2.0.0\"\n";
    let fleet = Fleet::new(settings);
    fleet.add_plugin("hostile-plugin");
    let users = |properties: Value| {
        json!({"name": "users", "json_schema": {"type": "object", "properties": properties},
               "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": true,
               "default_cursor_field": ["updated_at"], "source_defined_primary_key": [["id"]]})
    };
    let old = users(json!({"id": {"type": "integer"}, "updated_at": {"type": "string"}}));
    let mut doc = hostile_connection("users-sync", "none");
    doc["catalog"] = json!({"streams": [{"stream": old, "sync_mode": "incremental", "cursor_field": ["updated_at"],
                                          "destination_sync_mode": "append_dedup", "primary_key": [["id"]]}]});
    fleet.write(&doc);
    let before = fleet.documents();
    cutover(&fleet, &["plan", "--all"]).expect(0);

    // 2.0.0 discovers a new field: the plugin, which leaves the catalog as it was, is wrong.
    let new = users(
        json!({"id": {"type": "integer"}, "updated_at": {"type": "string"}, "email": {"type": "string"}}),
    );
    put_catalog(
        &fleet,
        "test/source-hostile",
        "2.0.0",
        &json!({"streams": [new]}),
    );
    let plan = cutover(&fleet, &["plan", "--all", "--json"])
        .expect(1)
        .json();
    let connection = &plan["connections"][0];
    assert_eq!(connection["status"], "failed");
    let reason = connection["reason"].as_str().unwrap();
    assert!(
        reason.contains(
            "its output is not believed: stream users: json_schema differs at /properties/email"
        ),
        "{reason}"
    );
    assert!(
        reason.contains("catalogs/test/source-hostile/2.0.0.json"),
        "the error names the catalog: {reason}"
    );
    cutover(&fleet, &["apply", "--all"]).expect(1);
    assert_eq!(fleet.documents(), before, "nothing written");

    // A catalog file that is not one is refused with its path, for that connection.
    std::fs::write(
        fleet.path().join("catalogs/test/source-hostile/2.0.0.json"),
        "{\"not\": \"a catalog\"}",
    )
    .unwrap();
    let plan = cutover(&fleet, &["plan", "--all", "--json"])
        .expect(1)
        .json();
    let reason = plan["connections"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("2.0.0.json is not an Airbyte catalog"),
        "{reason}"
    );
}
