//! The `cutover` binary on the bundled example fleet: plan, apply, apply again, history,
//! rollback, saved plans, pins, plugins.

use cutover_tests::{Fleet, Run};
use serde_json::Value;

fn cutover(fleet: &Fleet, args: &[&str]) -> Run {
    cutover_tests::cutover(env!("CARGO_BIN_EXE_cutover"), fleet.path(), args)
}

fn statuses(plan: &Value) -> Vec<(String, String)> {
    plan["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn plan_reads_like_a_plan_and_writes_nothing() {
    let fleet = Fleet::example();
    let before = fleet.documents();
    let out = cutover(&fleet, &["plan"]).expect(0).stdout;
    // Per connection: the chain, the breaking message, the deadline, the diff, the actions.
    assert!(out.contains("? pinterest-legacy-us"), "{out}");
    assert!(
        out.contains("step 0.8.2 → 1.0.0: plugin source_pinterest_v1.wasm"),
        "{out}"
    );
    assert!(
        out.contains("step 1.0.0 → 2.0.0: plugin source_pinterest_v2.wasm"),
        "{out}"
    );
    assert!(
        out.contains("This release introduces updated format of state for incremental streams"),
        "{out}"
    );
    assert!(out.contains("deadline 2024-06-03"), "{out}");
    assert!(out.contains("~ /streams[advertizer_report]/stream/name: \"advertizer_report\" → \"advertiser_report\""), "{out}");
    assert!(out.contains("clear stream campaigns"), "{out}");
    assert!(out.contains("refresh the source schema"), "{out}");
    assert!(out.contains("# pinterest-brand-pinned"), "{out}");
    assert!(
        out.contains("pinned by user at 1.2.0: quarter-end reporting freeze"),
        "{out}"
    );
    assert!(
        out.contains("(this connection syncs none of them)"),
        "{out}"
    );
    assert!(out.contains("+ github-platform"), "{out}");
    assert!(out.contains("Plan: 6 connection(s): 0 to migrate, 1 to upgrade, 3 awaiting opt-in, 1 pinned, 1 up to date."), "{out}");
    assert_eq!(fleet.documents(), before, "plan must not write");
    assert!(
        !fleet.path().join(".cutover/ledger.sqlite").exists(),
        "plan must not create a ledger"
    );
}

#[test]
fn plan_json_has_statuses_hashes_patches_and_actions() {
    let fleet = Fleet::example();
    let plan = cutover(&fleet, &["plan", "--opt-in", "pinterest-ads-eu", "--json"])
        .expect(0)
        .json();
    assert_eq!(
        statuses(&plan),
        [
            ("github-platform", "upgrade"),
            ("pinterest-ads-eu", "migrate"),
            ("pinterest-apac", "up-to-date"),
            ("pinterest-brand-pinned", "pinned"),
            ("pinterest-legacy-us", "needs-opt-in"),
            ("pinterest-organic", "needs-opt-in"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let eu = &plan["connections"][1];
    assert_eq!(eu["input_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(eu["output_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(eu["steps"][0]["plugin"]["file"], "source_pinterest_v2.wasm");
    assert_eq!(eu["steps"][0]["breaking"]["upgrade_deadline"], "2024-06-03");
    assert_eq!(eu["changes"]["config"], serde_json::json!([]));
    assert!(eu["changes"]["state"].as_array().unwrap().iter().all(|op| {
        op["path"]
            .as_str()
            .unwrap()
            .contains("/stream/stream_state")
    }));
    assert_eq!(eu["actions"].as_array().unwrap().len(), 7);
    assert_eq!(eu["actions"][0]["kind"], "clear-stream");
    assert_eq!(plan["plugins"].as_array().unwrap().len(), 2);
}

#[test]
fn apply_then_apply_again_then_rollback_restores_every_byte() {
    let fleet = Fleet::example();
    let original = fleet.documents();

    let out = cutover(&fleet, &["apply", "--all"]).expect(0).stdout;
    assert!(
        out.contains("Applied run 1: 4 connection(s) written, 0 failed, 2 left alone"),
        "{out}"
    );
    // Each action once, with the connections it concerns.
    assert!(
        out.contains("\n  pinterest-ads-eu, pinterest-legacy-us: clear stream campaigns: "),
        "{out}"
    );
    let migrated = fleet.documents();
    assert_eq!(fleet.read("pinterest-legacy-us")["version"], "2.0.0");
    assert_eq!(fleet.read("github-platform")["version"], "1.8.1");
    assert_eq!(
        migrated["pinterest-brand-pinned.json"],
        original["pinterest-brand-pinned.json"]
    );
    assert_eq!(
        migrated["pinterest-apac.json"],
        original["pinterest-apac.json"]
    );

    // A second apply finds nothing to do and records nothing.
    let out = cutover(&fleet, &["apply", "--all"]).expect(0).stdout;
    assert!(out.contains("No changes"), "{out}");
    assert_eq!(fleet.documents(), migrated);

    // History lists every step with its plugin digest.
    let history = cutover(&fleet, &["history", "--json"]).expect(0).json();
    let runs = history.as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let changes = runs[0]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 4);
    let legacy = changes
        .iter()
        .find(|c| c["connection_id"] == "pinterest-legacy-us")
        .unwrap();
    let steps = legacy["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["plugin_file"], "source_pinterest_v1.wasm");
    assert_eq!(steps[1]["from_version"], "1.0.0");
    assert_eq!(steps[1]["plugin_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(steps[0]["output_sha256"], steps[1]["input_sha256"]);
    let text = cutover(&fleet, &["history"]).expect(0).stdout;
    assert!(
        text.contains("step 2 1.0.0 → 2.0.0 via source_pinterest_v2.wasm"),
        "{text}"
    );

    let out = cutover(&fleet, &["rollback"]).expect(0).stdout;
    assert!(
        out.contains("Rolled back run 1: restored 4 connection(s)"),
        "{out}"
    );
    assert_eq!(fleet.documents(), original, "rollback restores every byte");

    // The rollback is in the history, and the rolled-back run says so.
    let history = cutover(&fleet, &["history", "--json"]).expect(0).json();
    assert_eq!(history[0]["kind"], "rollback");
    assert_eq!(history[1]["status"], "rolled-back");
    let err = cutover(&fleet, &["rollback"]).expect(2).stderr;
    assert!(err.contains("nothing to roll back"), "{err}");
}

#[test]
fn a_saved_plan_applies_only_to_the_inputs_it_saw() {
    let fleet = Fleet::example();
    let plan_file = fleet.path().join("plan.json");
    let plan_arg = plan_file.to_str().unwrap();
    cutover(
        &fleet,
        &["plan", "--opt-in", "pinterest-ads-eu", "--out", plan_arg],
    )
    .expect(0);

    // Someone edits a planned connection: the whole apply is refused, nothing written.
    let mut doc = fleet.read("pinterest-ads-eu");
    doc["config"]["start_date"] = "2023-02-01".into();
    fleet.write(&doc);
    let before = fleet.documents();
    let err = cutover(&fleet, &["apply", plan_arg]).expect(2).stderr;
    assert!(
        err.contains("the plan is stale") && err.contains("pinterest-ads-eu: its document changed"),
        "{err}"
    );
    assert_eq!(fleet.documents(), before);

    // Plan again, then the saved plan applies exactly what it showed.
    let planned = cutover(
        &fleet,
        &[
            "plan",
            "--opt-in",
            "pinterest-ads-eu",
            "--out",
            plan_arg,
            "--json",
        ],
    )
    .expect(0)
    .json();
    cutover(&fleet, &["apply", plan_arg]).expect(0);
    let expected = planned["connections"][1]["output_sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let written = cutover_tests::sha256(&fleet.read_raw("pinterest-ads-eu"));
    assert_eq!(written, expected);
    assert_eq!(
        fleet.read("pinterest-legacy-us")["version"],
        "0.8.2",
        "not opted in: left alone"
    );

    // A rebuilt or removed plugin makes an old plan stale too.
    cutover(&fleet, &["rollback"]).expect(0);
    std::fs::remove_file(fleet.path().join("plugins/source_pinterest_v1.wasm")).unwrap();
    let err = cutover(&fleet, &["apply", plan_arg]).expect(2).stderr;
    assert!(err.contains("plugins changed since the plan"), "{err}");
}

#[test]
fn pins_hold_a_connection_and_are_recorded() {
    let fleet = Fleet::example();
    cutover(
        &fleet,
        &[
            "pin",
            "pinterest-ads-eu",
            "--reason",
            "waiting for the warehouse team",
        ],
    )
    .expect(0);
    let plan = cutover(&fleet, &["plan", "--all", "--json"])
        .expect(0)
        .json();
    assert!(statuses(&plan).contains(&("pinterest-ads-eu".into(), "pinned".into())));
    cutover(&fleet, &["apply", "--all"]).expect(0);
    assert_eq!(fleet.read("pinterest-ads-eu")["version"], "1.3.3");
    assert_eq!(
        fleet.read("pinterest-ads-eu")["pin"]["reason"],
        "waiting for the warehouse team"
    );

    cutover(&fleet, &["unpin", "pinterest-ads-eu"]).expect(0);
    assert_eq!(fleet.read("pinterest-ads-eu")["pin"], Value::Null);
    let history = cutover(
        &fleet,
        &["history", "--connection", "pinterest-ads-eu", "--json"],
    )
    .expect(0)
    .json();
    let kinds: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["unpin", "pin"]);
}

#[test]
fn status_and_plugins_commands() {
    let fleet = Fleet::example();
    let status = cutover(&fleet, &["status", "--json"]).expect(0).json();
    let legacy = status["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "pinterest-legacy-us")
        .unwrap();
    assert_eq!(legacy["chain"].as_array().unwrap().len(), 2);
    assert_eq!(legacy["breaking"], true);
    let text = cutover(&fleet, &["status"]).expect(0).stdout;
    assert!(
        text.contains("pinterest-legacy-us")
            && text.contains("source_pinterest_v1.wasm → source_pinterest_v2.wasm"),
        "{text}"
    );

    let list = cutover(&fleet, &["plugins", "list", "--json"])
        .expect(0)
        .json();
    assert_eq!(list[1]["manifest"]["produces"], "2.0.0");
    assert_eq!(
        list[1]["contract"],
        cutover::sandbox::wit::latest::VERSION,
        "plugins built with the SDK use the newest contract"
    );
    let inspect = cutover(&fleet, &["plugins", "inspect", "source_pinterest_v2"])
        .expect(0)
        .stdout;
    assert!(
        inspect.contains("scoped to:     ad_account_analytics, ad_analytics"),
        "{inspect}"
    );
    assert!(
        inspect.contains("precondition:  platform >=0.50.0"),
        "{inspect}"
    );
    assert!(inspect.contains("## Upgrading to 2.0.0"), "{inspect}");
    let err = cutover(&fleet, &["plugins", "inspect", "nope"])
        .expect(2)
        .stderr;
    assert!(err.contains("no plugin \"nope\""), "{err}");
}
