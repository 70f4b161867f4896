//! The plugin author's toolkit end to end, with the real binary, cargo and sandbox:
//! `plugin new` → `plugin test` → `--bless`, every real plugin's golden fixtures, the guide
//! rendered from the Pinterest 2.0.0 plugin, and manifests checked against the connectors'
//! own metadata.yaml.

use cutover_tests::{
    Run, cutover_in_workspace, golden_failures, plugin, plugin_crates, plugin_target_dir, root,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

/// Runs `cutover` from the workspace root (see [`cutover_in_workspace`]).
fn cutover(args: &[&str]) -> Run {
    cutover_in_workspace(BIN, args)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn every_plugin_passes_its_golden_fixtures_against_the_real_target_spec_and_catalog() {
    plugin("source-pinterest-v2"); // builds every plugin once, up front
    let crates = plugin_crates();
    assert!(crates.len() >= 2, "plugins/ holds the real migrations");
    let failures = golden_failures(
        BIN,
        &crates,
        "migrated configs checked against",
        |name, run| {
            if !run.stdout.contains("migrated streams checked against")
                && !per_connection_catalog(name)
            {
                return Some(format!(
                    "{name}: no target catalog (catalog.json beside the target spec, or target-catalog)"
                ));
            }
            // 2.0.0 also changed a stream the connector's breakingChanges entry does not list.
            let note = "changed in 2.0.0 but not in the scoped streams: issue_timeline_events (json_schema)";
            (name == "source-github-v2" && !run.stdout.contains(note)).then(|| {
                format!(
                    "{name}: the author is not told of the unlisted change:\n{}",
                    run.stdout
                )
            })
        },
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Whether plugin crate `name` declares `catalog = "per-connection"`: a database source's
/// catalog is each connection's own tables, so no discovered catalog of the version exists to
/// check its migrated streams against.
fn per_connection_catalog(name: &str) -> bool {
    let manifest = root().join("plugins").join(name).join("Cargo.toml");
    std::fs::read_to_string(&manifest)
        .unwrap_or_else(|e| panic!("reading {}: {e}", manifest.display()))
        .lines()
        .any(|l| l.trim() == r#"catalog = "per-connection""#)
}

/// The scoped streams and the clear actions the guide states are those of the plugin's
/// manifest and of what it emits on its fixture.
#[test]
fn pinterest_guide_states_the_scoped_streams_and_actions_the_plugin_emits() {
    let dir = root().join("plugins/source-pinterest-v2");
    let run = cutover(&["plugin", "guide", dir.to_str().unwrap()]).expect(0);
    let guide = run.stdout;
    let scoped: BTreeSet<&str> = source_pinterest_v2::SCOPED.iter().copied().collect();

    let affected = guide
        .lines()
        .find(|l| l.starts_with("| Affected streams |"))
        .expect("an affected streams row");
    let stated: BTreeSet<&str> = affected.split('`').skip(1).step_by(2).collect();
    assert_eq!(stated, scoped);

    let case = root().join("plugins/source-pinterest-v2/fixtures/all-streams");
    let section = guide
        .split("### all-streams")
        .nth(1)
        .expect("a section for the all-streams case");
    let section = section.split("\n### ").next().unwrap();
    let cleared_in_guide: BTreeSet<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("- clear stream "))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    let emitted: BTreeSet<String> = read_json(&case.join("actions.json"))
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "clear-stream")
        .map(|a| a["stream"]["name"].as_str().unwrap().to_owned())
        .collect();
    let emitted: BTreeSet<&str> = emitted.iter().map(String::as_str).collect();
    assert_eq!(
        cleared_in_guide, emitted,
        "the guide lists the clear actions the plugin emits"
    );
    // The fixture syncs every scoped stream incrementally, so each one must be cleared.
    assert_eq!(emitted, scoped);
    assert!(
        section.contains("ad_account_analytics: 1.x state"),
        "the plugin's notes are in the guide"
    );

    let refused = guide
        .split("### unknown-stream")
        .nth(1)
        .expect("a section for the refused case");
    assert!(refused.contains("cutover refuses it") && refused.contains("pin_trends"));
}

#[test]
fn new_plugin_builds_passes_its_tests_and_blesses_a_changed_migration() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().to_str().unwrap();
    let run = cutover(&[
        "plugin",
        "new",
        "airbyte/source-example",
        "2.0.0",
        "--dir",
        dir,
    ])
    .expect(0);
    assert!(run.stdout.contains("source-example-v2"), "{}", run.stdout);
    let crate_dir = work.path().join("source-example-v2");
    // It depends on the SDK by version: the packaged SDK stands in for the published one.
    cutover_tests::use_packaged_sdk(&crate_dir);
    // The same dependency versions as this workspace, so nothing new is fetched or built.
    std::fs::copy(root().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    let krate = crate_dir.to_str().unwrap();
    // A crate outside the workspace carries the workspace's settings for plugins.
    let settings = std::fs::read_to_string(crate_dir.join(".cargo/config.toml")).unwrap();
    assert_eq!(
        settings,
        std::fs::read_to_string(root().join(".cargo/config.toml")).unwrap()
    );

    let run = cutover(&["plugin", "test", krate]).expect(0);
    assert!(
        run.stdout.contains("1 case(s): 1 passed, 0 failed"),
        "{}",
        run.stdout
    );

    // Its own unit test passes natively too.
    let native = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["test", "--quiet", "--manifest-path"])
        .arg(crate_dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(plugin_target_dir().with_file_name("scaffold"))
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        native.status.success(),
        "{}",
        String::from_utf8_lossy(&native.stderr)
    );

    // The author changes the migration: the fixture no longer matches, and the diff says where.
    let lib = crate_dir.join("src/lib.rs");
    let source = std::fs::read_to_string(&lib).unwrap().replace(
        "        Ok(out)\n",
        "        let mut out = out;\n        cutover_plugin::config::set_field(&mut out.config, \"/lookback_days\", cutover_plugin::json!(7))?;\n        out.action(cutover_plugin::Action::RetestSource { reason: \"lookback_days is new\".into() });\n        Ok(out)\n",
    );
    std::fs::write(&lib, source).unwrap();
    let run = cutover(&["plugin", "test", krate]).expect(1);
    assert!(run.stdout.contains("FAILED   basic"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("/config/lookback_days: expected nothing, got 7"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("unexpected action: re-test the source: lookback_days is new"),
        "{}",
        run.stdout
    );

    cutover(&["plugin", "test", krate, "--bless"]).expect(0);
    cutover(&["plugin", "test", krate]).expect(0);
    let expected = read_json(&crate_dir.join("fixtures/basic/expected.json"));
    assert_eq!(expected["config"]["lookback_days"], 7);
    assert_eq!(expected["version"], "2.0.0");
    assert_eq!(
        read_json(&crate_dir.join("fixtures/basic/actions.json"))[0]["kind"],
        "retest-source"
    );

    // A second scaffold into the same place is refused, leaving the first alone.
    let run = cutover(&[
        "plugin",
        "new",
        "airbyte/source-example",
        "2.0.0",
        "--dir",
        dir,
    ])
    .expect(2);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert_eq!(
        read_json(&crate_dir.join("fixtures/basic/expected.json"))["config"]["lookback_days"],
        7
    );
}

/// Every breaking version in a connector's metadata.yaml that has a plugin, has one whose
/// manifest says what the metadata says.
#[test]
fn plugin_manifests_match_the_connectors_metadata() {
    let built = tempfile::tempdir().unwrap();
    for dir in plugin_crates() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let wasm = plugin(&name);
        std::fs::copy(&wasm, built.path().join(wasm.file_name().unwrap())).unwrap();
    }
    let plugins = built.path().to_str().unwrap();
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("tests/fixtures")).unwrap() {
        let metadata = entry.unwrap().path().join("metadata.yaml");
        if !metadata.is_file() {
            continue;
        }
        let run = cutover(&[
            "plugin",
            "import-metadata",
            metadata.to_str().unwrap(),
            "--plugins",
            plugins,
        ])
        .expect(0);
        assert!(
            !run.stdout.contains("DIFFERS"),
            "{}:\n{}",
            metadata.display(),
            run.stdout
        );
        checked += run
            .stdout
            .lines()
            .filter(|l| l.contains(" plugin "))
            .count();
    }
    let pinterest = root().join("tests/fixtures/source-pinterest/metadata.yaml");
    let run = cutover(&[
        "plugin",
        "import-metadata",
        pinterest.to_str().unwrap(),
        "--plugins",
        plugins,
    ])
    .expect(0);
    assert!(
        run.stdout.contains("plugin source_pinterest_v1.wasm")
            && run.stdout.contains("plugin source_pinterest_v2.wasm"),
        "{}",
        run.stdout
    );
    assert!(checked >= 2);

    // A plugin whose manifest drifts from the metadata is called out.
    let drifted = built.path().join("metadata.yaml");
    std::fs::write(
        &drifted,
        std::fs::read_to_string(&pinterest)
            .unwrap()
            .replace("              - ads\n", ""),
    )
    .unwrap();
    let run = cutover(&[
        "plugin",
        "import-metadata",
        drifted.to_str().unwrap(),
        "--plugins",
        plugins,
    ])
    .expect(0);
    assert!(
        run.stdout
            .contains("source_pinterest_v2.wasm DIFFERS: scoped streams"),
        "{}",
        run.stdout
    );
    // Without plugins: the manifests to paste, nothing loaded.
    let run = cutover(&[
        "plugin",
        "import-metadata",
        pinterest.to_str().unwrap(),
        "--json",
    ])
    .expect(0);
    let rows: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(rows[1]["manifest"]["produces"], "2.0.0");
    assert_eq!(rows[1]["manifest"]["applies_to"], ">=1.0.0, <2.0.0");
}
