//! Chains across several breaking versions of one connector, hand-written and generated
//! plugins mixed: one run plans every step, each step's output is checked against the real
//! spec and discovered catalog of the version it produces (the fleet holds them, as an
//! operator's does), the apply writes the last version, and rollback restores the bytes.

use cutover_tests::{Fleet, root};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

/// One step of a chain: the plugin that makes it.
enum Step {
    /// A crate under `plugins/` (its package name).
    HandWritten(&'static str),
    /// A table under `plugins/generated/` (its folder name).
    Generated(&'static str),
}

impl Step {
    fn fixtures(&self) -> PathBuf {
        match self {
            Step::HandWritten(package) => root().join("plugins").join(package).join("fixtures"),
            Step::Generated(dir) => root().join("plugins/generated").join(dir).join("fixtures"),
        }
    }
}

/// Builds the steps' components: hand-written ones by the test kit, generated ones by
/// `cutover plugin build`.
fn components(out: &Path, steps: &[Step]) -> Vec<PathBuf> {
    let generated: Vec<String> = steps
        .iter()
        .filter_map(|s| match s {
            Step::Generated(dir) => Some(
                root()
                    .join("plugins/generated")
                    .join(dir)
                    .display()
                    .to_string(),
            ),
            Step::HandWritten(_) => None,
        })
        .collect();
    let mut built = Vec::new();
    if !generated.is_empty() {
        let mut args = vec![
            "plugin".to_owned(),
            "build".to_owned(),
            "--out".to_owned(),
            out.display().to_string(),
        ];
        args.extend(generated);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = cutover_tests::cutover_in_workspace(BIN, &args).expect(0);
        built.extend(run.stdout.lines().map(PathBuf::from));
    }
    for step in steps {
        if let Step::HandWritten(package) = step {
            built.push(cutover_tests::plugin(package));
        }
    }
    built
}

/// Streams a version's committed catalog holds because of the config it was discovered
/// with, not because the version has them: Facebook Marketing makes a stream of each custom
/// insights report of a config, so a connection's own reports can share these names and
/// carry other fields. A fleet's catalog of a version leaves them out.
const DEFINED_BY_DISCOVER_CONFIG: &[&str] = &["customasset_report", "customleads"];

/// Puts the real spec and catalog of `version` (from `tests/fixtures/source-<name>/`) where a
/// fleet keeps them, when they are there.
fn add_real_version(fleet: &Fleet, connector: &str, version: &str) -> bool {
    let source = connector.rsplit('/').next().unwrap();
    let dir = root().join("tests/fixtures").join(source).join(version);
    let mut found = false;
    for (file, kind) in [("catalog.json", "catalogs"), ("spec.json", "specs")] {
        let from = dir.join(file);
        if from.is_file() {
            let to = fleet
                .path()
                .join(kind)
                .join(connector)
                .join(format!("{version}.json"));
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            let mut document: Value =
                serde_json::from_slice(&std::fs::read(&from).unwrap()).unwrap();
            if let Some(streams) = document.get_mut("streams").and_then(Value::as_array_mut) {
                streams.retain(|s| {
                    !DEFINED_BY_DISCOVER_CONFIG.contains(&s["name"].as_str().unwrap_or_default())
                });
            }
            std::fs::write(&to, serde_json::to_vec(&document).unwrap()).unwrap();
            found |= kind == "catalogs";
        }
    }
    found
}

/// A connection at the first step's old version (its first golden case's input), taken
/// through every step in one run: its plan and the document written.
fn chain(connector: &str, versions: &[&str], steps: &[Step]) -> (Value, Value) {
    assert_eq!(versions.len(), steps.len());
    let out = tempfile::tempdir().unwrap();
    let last = versions.last().unwrap();
    let fleet = Fleet::new(&format!(
        "[connectors.\"{connector}\"]\ntarget = \"{last}\"\n"
    ));
    for wasm in components(out.path(), steps) {
        cutover_tests::cutover(
            BIN,
            fleet.path(),
            &["plugin", "add", wasm.to_str().unwrap()],
        )
        .expect(0);
    }
    let checked: Vec<&str> = versions
        .iter()
        .copied()
        .filter(|v| add_real_version(&fleet, connector, v))
        .collect();
    assert!(
        checked.len() >= 2,
        "the real catalogs of at least two of {versions:?} are committed"
    );
    let mut cases: Vec<PathBuf> = std::fs::read_dir(steps[0].fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("input.json").is_file())
        .collect();
    cases.sort();
    let mut doc: Value =
        serde_json::from_slice(&std::fs::read(cases[0].join("input.json")).unwrap()).unwrap();
    doc["id"] = json!("chained");
    fleet.write(&doc);
    let before = fleet.documents();

    let plan = cutover_tests::cutover(BIN, fleet.path(), &["plan", "--all", "--json"])
        .expect(0)
        .json();
    let c = plan["connections"][0].clone();
    assert_eq!(c["status"], "migrate", "{c}");
    let planned: Vec<&str> = c["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s.get("plugin").is_some())
        .map(|s| s["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        planned, versions,
        "one step per breaking version, in order: {c}"
    );

    cutover_tests::cutover(BIN, fleet.path(), &["apply", "--all"]).expect(0);
    let after = fleet.read("chained");
    assert_eq!(after["version"], *last);
    // What the last version really discovers, for every stream the connection syncs.
    let source = connector.rsplit('/').next().unwrap();
    let real: Value = serde_json::from_slice(
        &std::fs::read(
            root()
                .join("tests/fixtures")
                .join(source)
                .join(last)
                .join("catalog.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for configured in after["catalog"]["streams"].as_array().unwrap() {
        let name = &configured["stream"]["name"];
        if DEFINED_BY_DISCOVER_CONFIG.contains(&name.as_str().unwrap_or_default()) {
            continue;
        }
        let discovered = real["streams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| &s["name"] == name)
            .unwrap_or_else(|| panic!("{last} discovers no stream {name}"));
        assert_eq!(
            configured["stream"]["json_schema"], discovered["json_schema"],
            "{name}: the schema {last} discovers"
        );
    }

    cutover_tests::cutover(BIN, fleet.path(), &["rollback"]).expect(0);
    assert_eq!(fleet.documents(), before, "rollback restores every byte");
    (c, after)
}

#[test]
fn amazon_ads_from_2_3_1_to_7_0_0_in_one_run() {
    let (plan, after) = chain(
        "airbyte/source-amazon-ads",
        &["3.0.0", "4.0.0", "5.0.0", "6.0.0", "7.0.0"],
        &[
            Step::Generated("source-amazon-ads-3.0.0"),
            Step::Generated("source-amazon-ads-4.0.0"),
            Step::Generated("source-amazon-ads-5.0.0"),
            Step::Generated("source-amazon-ads-6.0.0"),
            Step::Generated("source-amazon-ads-7.0.0"),
        ],
    );
    let streams: Vec<&str> = after["catalog"]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stream"]["name"].as_str().unwrap())
        .collect();
    for removed in [
        "sponsored_brands_report_stream",
        "sponsored_brands_video_report_stream",
    ] {
        assert!(
            !streams.contains(&removed),
            "6.0.0 removed {removed}: {streams:?}"
        );
    }
    // 6.0.0 asks for a clear of sponsored_display_report_stream, which 7.0.0 splits away:
    // the chain's plan keeps no clear of a stream the connection no longer syncs, and says
    // which it left out.
    let cleared: Vec<&str> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "clear-stream")
        .filter_map(|a| a["stream"]["name"].as_str())
        .collect();
    assert!(
        cleared.contains(&"sponsored_display_campaigns_report_stream"),
        "the streams split off are cleared: {cleared:?}"
    );
    for name in &cleared {
        assert!(
            streams.contains(name),
            "a clear of {name}, which 7.0.0 does not sync"
        );
    }
    let notes = plan["notes"].to_string();
    assert!(
        notes.contains("not cleared: sponsored_display_report_stream"),
        "{notes}"
    );
}

#[test]
fn facebook_marketing_from_1_x_to_5_0_0_through_hand_written_and_generated_plugins() {
    chain(
        "airbyte/source-facebook-marketing",
        &["2.0.0", "3.0.0", "3.1.0", "4.0.0", "5.0.0"],
        &[
            Step::HandWritten("source-facebook-marketing-v2"),
            Step::HandWritten("source-facebook-marketing-v3"),
            Step::HandWritten("source-facebook-marketing-v3-1"),
            Step::Generated("source-facebook-marketing-4.0.0"),
            Step::Generated("source-facebook-marketing-5.0.0"),
        ],
    );
}

#[test]
fn shopify_through_five_breaking_versions_in_one_run() {
    chain(
        "airbyte/source-shopify",
        &["2.0.0", "2.1.0", "2.2.0", "2.6.1", "3.0.0"],
        &[
            Step::Generated("source-shopify-2.0.0"),
            Step::Generated("source-shopify-2.1.0"),
            Step::Generated("source-shopify-2.2.0"),
            Step::Generated("source-shopify-2.6.1"),
            Step::Generated("source-shopify-3.0.0"),
        ],
    );
}

#[test]
fn hubspot_from_1_x_to_6_0_0_through_hand_written_plugins_and_a_manifest_only_version() {
    chain(
        "airbyte/source-hubspot",
        &["2.0.0", "3.0.0", "4.0.0", "5.0.0", "6.0.0"],
        &[
            Step::HandWritten("source-hubspot-v2"),
            Step::HandWritten("source-hubspot-v3"),
            Step::HandWritten("source-hubspot-v4"),
            Step::HandWritten("source-hubspot-v5"),
            Step::Generated("source-hubspot-6.0.0"),
        ],
    );
}

#[test]
fn recharge_through_two_generated_breaks_in_one_run() {
    let (_, after) = chain(
        "airbyte/source-recharge",
        &["2.0.0", "3.0.0"],
        &[
            Step::Generated("source-recharge-2.0.0"),
            Step::Generated("source-recharge-3.0.0"),
        ],
    );
    let streams = after["catalog"]["streams"].as_array().unwrap();
    assert!(
        !streams.iter().any(|s| s["stream"]["name"] == "products"),
        "3.0.0 removed products"
    );
    let shop = streams
        .iter()
        .find(|s| s["stream"]["name"] == "shop")
        .unwrap();
    assert_eq!(
        shop["primary_key"],
        json!([["id"]]),
        "2.0.0 keyed shop by id"
    );
}
