//! Plugins that misbehave, built from source (tests/guests) and run in the real sandbox:
//! each failure stays with its connection, the fleet is unchanged for it, and the run
//! completes the others.

use cutover_tests::{Fleet, Run, hostile_connection};
use serde_json::Value;

fn cutover(fleet: &Fleet, args: &[&str]) -> Run {
    cutover_tests::cutover(env!("CARGO_BIN_EXE_cutover"), fleet.path(), args)
}

const LIMITS: &str = "
[connectors.\"test/source-hostile\"]
target = \"2.0.0\"

[limits]
memory_bytes = 67108864
timeout_ms = 1000
output_bytes = 8388608
log_lines = 100
log_line_bytes = 256
";

fn hostile_fleet(modes: &[&str]) -> Fleet {
    let fleet = Fleet::new(LIMITS);
    fleet.add_plugin("hostile-plugin");
    for mode in modes {
        fleet.write(&hostile_connection(mode, mode));
    }
    fleet
}

fn by_id<'a>(plan: &'a Value, id: &str) -> &'a Value {
    plan["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()
}

#[test]
fn every_failure_stays_with_its_connection() {
    let modes = [
        "none",
        "trap",
        "loop",
        "memory",
        "recursion",
        "panic",
        "giant-output",
        "refuse",
        "invalid-json",
        "wrong-shape",
        "invalid-utf8",
    ];
    let fleet = hostile_fleet(&modes);
    fleet.write(&hostile_connection("also-fine", "none"));
    let before = fleet.documents();

    let started = std::time::Instant::now();
    let plan = cutover(&fleet, &["plan", "--all", "--json"])
        .expect(1)
        .json();
    let reason = |id: &str| by_id(&plan, id)["reason"].as_str().unwrap_or("").to_owned();
    assert_eq!(by_id(&plan, "none")["status"], "migrate");
    assert_eq!(by_id(&plan, "also-fine")["status"], "migrate");
    for mode in &modes[1..] {
        // A plugin's own needs-operator refusal plans as such; every other one fails.
        let expected = if *mode == "refuse" {
            "needs-operator"
        } else {
            "failed"
        };
        assert_eq!(by_id(&plan, mode)["status"], expected, "{mode}");
        assert!(
            reason(mode).contains("hostile_plugin.wasm"),
            "the error names the plugin: {}",
            reason(mode)
        );
    }
    assert!(
        reason("loop").contains("ran past its 1000 ms deadline"),
        "{}",
        reason("loop")
    );
    assert!(
        reason("memory").contains("over the 67108864-byte limit"),
        "{}",
        reason("memory")
    );
    assert!(reason("trap").contains("crashed"), "{}", reason("trap"));
    assert!(
        reason("recursion").contains("crashed"),
        "{}",
        reason("recursion")
    );
    assert!(
        reason("panic").contains("hostile plugin panicked on purpose"),
        "{}",
        reason("panic")
    );
    assert!(
        reason("giant-output").contains("output limit")
            || reason("giant-output").contains("memory"),
        "{}",
        reason("giant-output")
    );
    assert!(
        reason("refuse").contains("needs the operator: hostile plugin wants a human"),
        "{}",
        reason("refuse")
    );
    assert!(
        reason("invalid-json").contains("returned config that is not valid JSON"),
        "{}",
        reason("invalid-json")
    );
    assert!(
        reason("wrong-shape").contains("returned a state that is not an array"),
        "{}",
        reason("wrong-shape")
    );
    assert!(
        reason("invalid-utf8").contains("utf-8"),
        "{}",
        reason("invalid-utf8")
    );

    let out = cutover(&fleet, &["apply", "--all"]).expect(1).stdout;
    assert!(
        out.contains("2 connection(s) written, 9 failed, 1 left alone"),
        "the refusal that needs the operator is left alone: {out}"
    );
    let after = fleet.documents();
    for mode in &modes[1..] {
        let file = format!("{mode}.json");
        assert_eq!(after[&file], before[&file], "{mode} must be unchanged");
    }
    assert_eq!(fleet.read("none")["config"]["migrated"], true);
    assert_eq!(fleet.read("also-fine")["version"], "2.0.0");
    let history = cutover(&fleet, &["history", "--json"]).expect(0).json();
    assert_eq!(history[0]["status"], "partial");
    let failed = history[0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] == "failed")
        .count();
    assert_eq!(failed, 9);
    // Two runs of the whole hostile fleet, each bounded by the 1 s deadline per call.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn plugins_observe_nothing_real_and_run_deterministically() {
    let fleet = hostile_fleet(&["probe"]);
    let first = cutover(&fleet, &["plan", "--all", "--json"])
        .expect(0)
        .json();
    let second = cutover(&fleet, &["plan", "--all", "--json"])
        .expect(0)
        .json();
    assert_eq!(first["connections"], second["connections"]);
    cutover(&fleet, &["apply", "--all"]).expect(0);
    let probe = &fleet.read("probe")["config"]["probe"];
    assert_eq!(
        probe["wall_clock_secs"], 0,
        "the wall clock is frozen at the epoch: {probe}"
    );
    assert_eq!(probe["monotonic_elapsed_nanos"], 0, "{probe}");
    assert_eq!(probe["env"], 0, "{probe}");
    assert_eq!(probe["args"], 0, "{probe}");
    let again = hostile_fleet(&["probe"]);
    cutover(&again, &["apply", "--all"]).expect(0);
    assert_eq!(
        again.read("probe")["config"]["probe"],
        *probe,
        "randomness is seeded: same hash every run"
    );
}

/// Many calls in one process reuse the pool's instance slots; a slot is reset between
/// calls (by copy where the kernel lists the written pages), so no call sees another's
/// writes to its data segment or zero-initialized memory.
#[test]
fn no_call_sees_what_an_earlier_one_wrote() {
    let fleet = Fleet::new(LIMITS);
    fleet.add_plugin("hostile-plugin");
    let ids: Vec<String> = (0..24).map(|i| format!("remember-{i:02}")).collect();
    for id in &ids {
        fleet.write(&hostile_connection(id, "remember"));
    }
    // Plan, then apply (which migrates each connection again): 48 calls in one process.
    cutover(&fleet, &["apply", "--all"]).expect(0);
    for id in &ids {
        let seen = &fleet.read(id)["config"]["remembered"];
        assert_eq!(
            *seen,
            serde_json::json!({"calls": 0, "dirty_bytes": 0}),
            "{id} saw an earlier call's memory"
        );
    }
}

#[test]
fn log_volume_is_bounded() {
    let fleet = hostile_fleet(&["log-spam"]);
    let plan = cutover(&fleet, &["plan", "--all", "--json"])
        .expect(0)
        .json();
    let step = &plan["connections"][0]["steps"][0];
    let log = step["log"].as_array().unwrap();
    assert_eq!(log.len(), 100);
    assert!(
        log.iter()
            .all(|l| l["message"].as_str().unwrap().len() <= 256 + '…'.len_utf8())
    );
    assert_eq!(step["log_dropped"], 20_000 - 100);
}

#[test]
fn a_plugin_importing_the_filesystem_is_refused_at_load() {
    let fleet = hostile_fleet(&["none"]);
    fleet.add_plugin("forbidden-plugin");
    let before = fleet.documents();
    let err = cutover(&fleet, &["plan", "--all"]).expect(2).stderr;
    assert!(err.contains("forbidden_plugin.wasm refused"), "{err}");
    assert!(
        err.contains("wasi:filesystem/"),
        "the error names the import: {err}"
    );
    let err = cutover(&fleet, &["apply", "--all"]).expect(2).stderr;
    assert!(err.contains("forbidden_plugin.wasm refused"), "{err}");
    assert_eq!(fleet.documents(), before);
}

#[test]
fn a_file_that_is_not_a_component_is_refused() {
    let fleet = hostile_fleet(&["none"]);
    std::fs::write(
        fleet.path().join("plugins/broken.wasm"),
        b"\0asm not really",
    )
    .unwrap();
    let err = cutover(&fleet, &["plan"]).expect(2).stderr;
    assert!(
        err.contains("broken.wasm refused") && err.contains("not a valid WebAssembly component"),
        "{err}"
    );
}
