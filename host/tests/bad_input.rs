//! Bad input of every kind: a clear error naming the connection and the fix, a non-zero
//! exit, and nothing written.

use cutover_tests::{Fleet, Run};

fn cutover(fleet: &Fleet, args: &[&str]) -> Run {
    cutover_tests::cutover(env!("CARGO_BIN_EXE_cutover"), fleet.path(), args)
}

/// Plans (exit 1, the error in the plan), then applies (exit 2, refused), and checks that
/// nothing was written and no run was recorded.
fn refused(fleet: &Fleet, expected: &[&str]) {
    let before = fleet.documents();
    let plan = cutover(fleet, &["plan", "--all"]).expect(1).stdout;
    for e in expected {
        assert!(plan.contains(e), "plan output lacks {e:?}:\n{plan}");
    }
    let err = cutover(fleet, &["apply", "--all"]).expect(2).stderr;
    for e in expected {
        assert!(err.contains(e), "apply error lacks {e:?}:\n{err}");
    }
    assert!(err.contains("Nothing was written"), "{err}");
    assert_eq!(fleet.documents(), before);
    let history = cutover(fleet, &["history"]).expect(0).stdout;
    assert!(history.contains("No runs yet."), "{history}");
}

#[test]
fn malformed_json() {
    let fleet = Fleet::example();
    fleet.write_raw("broken.json", b"{\"id\": \"broken\", \"connector\": ");
    refused(
        &fleet,
        &["connections/broken.json: it is not valid JSON: EOF while parsing"],
    );
}

#[test]
fn bad_semver() {
    let fleet = Fleet::example();
    let mut doc = fleet.read("pinterest-ads-eu");
    doc["version"] = "1.3".into();
    fleet.write(&doc);
    refused(
        &fleet,
        &[
            "connections/pinterest-ads-eu.json: version \"1.3\" is not a semver version such as 1.3.3",
        ],
    );
}

#[test]
fn unknown_connector() {
    let fleet = Fleet::example();
    let mut doc = fleet.read("github-platform");
    doc["id"] = "mystery".into();
    doc["connector"] = "airbyte/source-mystery".into();
    fleet.write(&doc);
    refused(
        &fleet,
        &[
            "unknown connector \"airbyte/source-mystery\"",
            "[connectors.\"airbyte/source-mystery\"] target",
        ],
    );
    let err = cutover(&fleet, &["apply", "--all"]).expect(2).stderr;
    assert!(
        err.contains("mystery (blocked)"),
        "the refusal names the connection: {err}"
    );
}

#[test]
fn missing_plugin_for_a_major() {
    let fleet = Fleet::example();
    std::fs::remove_file(fleet.path().join("plugins/source_pinterest_v2.wasm")).unwrap();
    let settings = std::fs::read_to_string(fleet.path().join("cutover.toml")).unwrap();
    assert!(settings.contains("target = \"2.0.0\""));
    refused(
        &fleet,
        &[
            "no migration plugin for airbyte/source-pinterest from 1.3.3 toward 2.0.0",
            "add the plugin",
        ],
    );
}

#[test]
fn documents_that_break_the_shape() {
    let fleet = Fleet::example();
    let mut doc = fleet.read("pinterest-organic");
    doc["state"] = serde_json::json!({"campaigns": {}});
    fleet.write(&doc);
    let mut twin = fleet.read("github-platform");
    twin["name"] = "a copy with the same id".into();
    fleet.write_raw("github-copy.json", &serde_json::to_vec(&twin).unwrap());
    refused(
        &fleet,
        &[
            "\"state\" must be a JSON array of AirbyteStateMessage",
            "id \"github-platform\" is used by 2 documents",
        ],
    );
}

#[test]
fn bad_settings_and_arguments() {
    let fleet = Fleet::example();
    std::fs::write(fleet.path().join("cutover.toml"), "[limits]\nmemory = 5\n").unwrap();
    let err = cutover(&fleet, &["plan"]).expect(2).stderr;
    assert!(
        err.contains("cutover.toml is not valid fleet settings")
            && err.contains("unknown field `memory`"),
        "{err}"
    );

    let fleet = Fleet::example();
    let err = cutover(
        &fleet,
        &["plan", "--target", "airbyte/source-pinterest=two"],
    )
    .expect(2)
    .stderr;
    assert!(err.contains("\"two\" is not a semver version"), "{err}");
    let err = cutover(&fleet, &["plan", "--only", "nobody"])
        .expect(2)
        .stderr;
    assert!(err.contains("no connection \"nobody\""), "{err}");
    let err = cutover(&fleet, &["apply", "/nonexistent/plan.json"])
        .expect(2)
        .stderr;
    assert!(err.contains("reading plan /nonexistent/plan.json"), "{err}");
    std::fs::write(fleet.path().join("plan.json"), "{}").unwrap();
    let err = cutover(
        &fleet,
        &["apply", fleet.path().join("plan.json").to_str().unwrap()],
    )
    .expect(2)
    .stderr;
    assert!(err.contains("is not a cutover plan"), "{err}");
    let err = cutover_tests::cutover(
        env!("CARGO_BIN_EXE_cutover"),
        &fleet.path().join("nope"),
        &["status"],
    )
    .expect(2)
    .stderr;
    assert!(err.contains("does not exist"), "{err}");
    let err = cutover(&fleet, &["pin", "nobody"]).expect(2).stderr;
    assert!(err.contains("no connection \"nobody\""), "{err}");
}
