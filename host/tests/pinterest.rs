//! The real source-pinterest migrations through the real sandbox and binary, checked
//! against the real 2.0.0 spec and catalog (tests/fixtures, from the PyPI packages).

use cutover_tests::{Fleet, Run, root};
use serde_json::Value;
use std::collections::BTreeSet;

const SCOPED: [&str; 7] = [
    "ad_account_analytics",
    "ad_analytics",
    "ad_group_analytics",
    "ad_groups",
    "ads",
    "campaign_analytics",
    "campaigns",
];

fn cutover(fleet: &Fleet, args: &[&str]) -> Run {
    cutover_tests::cutover(env!("CARGO_BIN_EXE_cutover"), fleet.path(), args)
}

fn fixture(path: &str) -> Value {
    let path = root().join("tests/fixtures/source-pinterest").join(path);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// A fleet holding only the given example connections.
fn fleet_with(ids: &[&str]) -> Fleet {
    let fleet = Fleet::example();
    for (file, _) in fleet.documents() {
        if !ids.iter().any(|id| file == format!("{id}.json")) {
            std::fs::remove_file(fleet.path().join("connections").join(file)).unwrap();
        }
    }
    fleet
}

fn assert_valid_against_2_0_0_spec(config: &Value) {
    let spec = fixture("2.0.0/spec.json");
    let validator = jsonschema::validator_for(&spec).expect("the 2.0.0 spec is a JSON Schema");
    let errors: Vec<String> = validator
        .iter_errors(config)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "config invalid against the 2.0.0 spec: {errors:#?}"
    );
}

fn stream_name(message: &Value) -> &str {
    message["stream"]["stream_descriptor"]["name"]
        .as_str()
        .unwrap()
}

fn clear_actions(plan_connection: &Value) -> BTreeSet<String> {
    plan_connection["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "clear-stream")
        .map(|a| a["stream"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn full_1_3_3_connection_migrates_to_2_0_0() {
    let fleet = fleet_with(&["pinterest-ads-eu"]);
    let before = fleet.read("pinterest-ads-eu");
    let streams = before["catalog"]["streams"].as_array().unwrap();
    assert_eq!(
        streams.len(),
        33,
        "every stream of 1.3.3 (with one custom report)"
    );
    let incremental: BTreeSet<&str> = streams
        .iter()
        .filter(|s| s["sync_mode"] == "incremental")
        .map(|s| s["stream"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(incremental.len(), 21);
    let with_state: BTreeSet<&str> = before["state"]
        .as_array()
        .unwrap()
        .iter()
        .map(stream_name)
        .collect();
    assert_eq!(
        with_state, incremental,
        "state for every incremental stream"
    );

    let plan = cutover(&fleet, &["plan", "--all", "--json"])
        .expect(0)
        .json();
    let planned = &plan["connections"][0];
    assert_eq!(planned["status"], "migrate");
    assert_eq!(
        clear_actions(planned),
        SCOPED.iter().map(|s| s.to_string()).collect()
    );

    cutover(&fleet, &["apply", "--all"]).expect(0);
    let after = fleet.read("pinterest-ads-eu");
    assert_eq!(after["version"], "2.0.0");
    assert_valid_against_2_0_0_spec(&after["config"]);
    assert_eq!(
        after["config"], before["config"],
        "the 1.3.3 config is already valid for 2.0.0"
    );

    // No stream dropped, the user's choices kept, every stream one 2.0.0 has.
    let catalog_2 = fixture("2.0.0/catalog.json");
    let names_2: BTreeSet<&str> = catalog_2["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let after_streams = after["catalog"]["streams"].as_array().unwrap();
    assert_eq!(after_streams.len(), streams.len());
    for (old, new) in streams.iter().zip(after_streams) {
        let name = old["stream"]["name"].as_str().unwrap();
        assert_eq!(new["stream"]["name"], name);
        assert!(names_2.contains(name), "{name} is not a 2.0.0 stream");
        for key in [
            "sync_mode",
            "cursor_field",
            "primary_key",
            "destination_sync_mode",
        ] {
            assert_eq!(new.get(key), old.get(key), "{name}.{key}");
        }
    }

    // Scoped streams: the per-partition state 2.0.0 reads; every other stream: byte-identical.
    let old_state = before["state"].as_array().unwrap();
    let new_state = after["state"].as_array().unwrap();
    assert_eq!(new_state.len(), old_state.len());
    for (old, new) in old_state.iter().zip(new_state) {
        let name = stream_name(old);
        assert_eq!(stream_name(new), name);
        if SCOPED.contains(&name) {
            assert_eq!(
                new["stream"]["stream_state"],
                serde_json::json!({"states": []}),
                "{name}"
            );
        } else {
            assert_eq!(
                serde_json::to_string(new).unwrap(),
                serde_json::to_string(old).unwrap(),
                "{name} state must be untouched"
            );
        }
    }
}

#[test]
fn only_scoped_streams_synced_incrementally_need_clearing() {
    let fleet = fleet_with(&["pinterest-ads-eu"]);
    let mut doc = fleet.read("pinterest-ads-eu");
    for s in doc["catalog"]["streams"].as_array_mut().unwrap() {
        if s["stream"]["name"] == "campaigns" || s["stream"]["name"] == "ad_analytics" {
            s["sync_mode"] = "full_refresh".into();
            s.as_object_mut().unwrap().remove("cursor_field");
            s["destination_sync_mode"] = "overwrite".into();
        }
    }
    fleet.write(&doc);
    let plan = cutover(&fleet, &["plan", "--all", "--json"])
        .expect(0)
        .json();
    let expected: BTreeSet<String> = SCOPED
        .iter()
        .filter(|s| !["campaigns", "ad_analytics"].contains(s))
        .map(|s| s.to_string())
        .collect();
    assert_eq!(clear_actions(&plan["connections"][0]), expected);
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    let one = fleet_with(&["pinterest-ads-eu", "pinterest-legacy-us"]);
    let two = fleet_with(&["pinterest-ads-eu", "pinterest-legacy-us"]);
    let plan_a = cutover(&one, &["plan", "--all", "--json"]).expect(0).json();
    let plan_b = cutover(&one, &["plan", "--all", "--json"]).expect(0).json();
    assert_eq!(plan_a["connections"], plan_b["connections"]);
    cutover(&one, &["apply", "--all"]).expect(0);
    cutover(&two, &["apply", "--all"]).expect(0);
    assert_eq!(one.documents(), two.documents());
    for c in plan_a["connections"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        assert_eq!(
            cutover_tests::sha256(&one.read_raw(id)),
            c["output_sha256"].as_str().unwrap()
        );
    }
}

#[test]
fn a_0_x_connection_chains_through_1_0_0_to_2_0_0() {
    let fleet = fleet_with(&["pinterest-legacy-us"]);
    let before = fleet.read("pinterest-legacy-us");
    let plan = cutover(
        &fleet,
        &["plan", "--opt-in", "pinterest-legacy-us", "--json"],
    )
    .expect(0)
    .json();
    let steps = plan["connections"][0]["steps"].as_array().unwrap();
    let chain: Vec<(&str, &str)> = steps
        .iter()
        .map(|s| (s["from"].as_str().unwrap(), s["to"].as_str().unwrap()))
        .collect();
    assert_eq!(chain, [("0.8.2", "1.0.0"), ("1.0.0", "2.0.0")]);
    cutover(&fleet, &["apply", "--opt-in", "pinterest-legacy-us"]).expect(0);
    let after = fleet.read("pinterest-legacy-us");
    assert_eq!(after["version"], "2.0.0");
    assert_valid_against_2_0_0_spec(&after["config"]);

    let names: Vec<&str> = after["catalog"]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stream"]["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"advertiser_report") && !names.iter().any(|n| n.starts_with("advertizer")),
        "{names:?}"
    );
    let boards = after["catalog"]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"]["name"] == "boards")
        .unwrap();
    assert_eq!(
        boards["stream"]["json_schema"]["properties"]["created_at"]["airbyte_type"],
        "timestamp_without_timezone"
    );
    // The renamed stream keeps its progress; the scoped ones restart per partition.
    let state_of = |doc: &Value, name: &str| {
        doc["state"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| stream_name(m) == name)
            .map(|m| m["stream"]["stream_state"].clone())
    };
    assert_eq!(
        state_of(&after, "advertiser_report"),
        state_of(&before, "advertizer_report")
    );
    assert_eq!(
        state_of(&after, "campaigns"),
        Some(serde_json::json!({"states": []}))
    );
}

#[test]
fn a_missing_precondition_blocks_the_step_and_names_it() {
    let fleet = fleet_with(&["pinterest-ads-eu"]);
    let settings = std::fs::read_to_string(fleet.path().join("cutover.toml")).unwrap();
    std::fs::write(
        fleet.path().join("cutover.toml"),
        settings.replace("platform = \"0.63.14\"", "platform = \"0.44.0\""),
    )
    .unwrap();
    let before = fleet.documents();
    let out = cutover(&fleet, &["plan", "--all"]).expect(1).stdout;
    assert!(
        out.contains("platform >=0.50.0 is required, the fleet has 0.44.0"),
        "{out}"
    );
    let err = cutover(&fleet, &["apply", "--all"]).expect(2).stderr;
    assert!(
        err.contains("pinterest-ads-eu (blocked)") && err.contains("Nothing was written"),
        "{err}"
    );
    assert_eq!(fleet.documents(), before);
}

#[test]
fn a_config_the_target_spec_rejects_fails_with_its_pointer() {
    let fleet = fleet_with(&["pinterest-ads-eu", "pinterest-organic"]);
    let mut doc = fleet.read("pinterest-ads-eu");
    doc["config"]["start_date"] = "2023/01/01".into();
    doc["config"]["status"] = serde_json::json!(["ACTIVE", "DELETED"]);
    fleet.write(&doc);
    let before = fleet.read_raw("pinterest-ads-eu");
    let plan = cutover(&fleet, &["plan", "--all", "--json"])
        .expect(1)
        .json();
    let failed = &plan["connections"][0];
    assert_eq!(failed["status"], "failed");
    let reason = failed["reason"].as_str().unwrap();
    assert!(
        reason.contains("does not conform to the airbyte/source-pinterest 2.0.0 spec"),
        "{reason}"
    );
    assert!(
        reason.contains("/start_date: ") && reason.contains("/status/1: "),
        "each problem with its pointer: {reason}"
    );
    cutover(&fleet, &["apply", "--all"]).expect(1);
    assert_eq!(
        fleet.read_raw("pinterest-ads-eu"),
        before,
        "nothing written for it"
    );
    assert_eq!(
        fleet.read("pinterest-organic")["version"],
        "2.0.0",
        "the others are applied"
    );
}
