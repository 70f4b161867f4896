//! Plugins written in Python, end to end with the real binary, componentize-py and sandbox:
//! - `plugin new --lang python` scaffolds a project that builds, passes its golden case and
//!   its native unit test; a changed migration fails with a diff, `--bless` records it;
//! - the Python plugins pass their Rust versions' golden fixtures through `plugin test`,
//!   render the same guide, and match the connectors' metadata in `import-metadata`;
//! - a Python plugin in a fleet beside Rust plugins plans and applies, writing exactly the
//!   documents the all-Rust fleet writes (a chain crosses from a Rust step to a Python one);
//! - a hostile Python plugin fails only its own connections: loops, memory, recursion,
//!   exceptions, refusals, bad output, and every reach for the clock, entropy or files
//!   (which its stubbed WASI turns into traps); its environment is empty;
//! - the Python SDK's own unit tests pass natively.

use cutover_tests::{
    Fleet, Run, cutover_in_workspace, cutover_in_workspace_with_env, hostile_connection, root,
};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

fn cutover(fleet: &Fleet, args: &[&str]) -> Run {
    cutover_tests::cutover(BIN, fleet.path(), args)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn by_id<'a>(plan: &'a Value, id: &str) -> &'a Value {
    plan["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no connection {id}"))
}

/// `python3 -m unittest` in `dir`, with `path` on PYTHONPATH.
fn unittest(dir: &Path, path: &Path) -> std::process::Output {
    Command::new(std::env::var("CUTOVER_PYTHON").unwrap_or_else(|_| "python3".into()))
        .current_dir(dir)
        .args(["-m", "unittest", "discover", "-s", "tests"])
        .env("PYTHONPATH", path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("running python3")
}

#[test]
fn new_python_plugin_builds_passes_its_tests_and_blesses_a_changed_migration() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().to_str().unwrap();
    // Outside the checkout the project builds with the installed Python SDK (the wheel).
    let (sdk_bin, _) = cutover_tests::installed_python_sdk();
    let python = sdk_bin.join("python3");
    let with_sdk = [("CUTOVER_PYTHON", python.to_str().unwrap())];
    let run = cutover_in_workspace(
        BIN,
        &[
            "plugin",
            "new",
            "airbyte/source-example",
            "2.0.0",
            "--lang",
            "python",
            "--dir",
            dir,
        ],
    )
    .expect(0);
    assert!(
        run.stdout.contains("source_example_v2.py"),
        "{}",
        run.stdout
    );
    let project = work.path().join("source-example-v2");
    let path = project.to_str().unwrap();
    assert!(
        project.join("pyproject.toml").is_file()
            && project.join("fixtures/basic/input.json").is_file()
    );

    let run = cutover_in_workspace_with_env(BIN, &["plugin", "test", path], &with_sdk).expect(0);
    assert!(
        run.stdout.contains("1 case(s): 1 passed, 0 failed"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stdout.contains("source_example_v2.wasm"),
        "{}",
        run.stdout
    );

    // Its own unit test passes natively, importing the installed SDK.
    let native = Command::new(&python)
        .current_dir(&project)
        .args(["-m", "unittest", "discover", "-s", "tests"])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(
        native.status.success(),
        "{}",
        String::from_utf8_lossy(&native.stderr)
    );

    // The author changes the migration: the fixture no longer matches, and the diff says where.
    let module = project.join("source_example_v2.py");
    let source = std::fs::read_to_string(&module).unwrap().replace(
        "        return out\n",
        "        config.set_field(out.config, \"/lookback_days\", 7)\n        out.action(RetestSource(\"lookback_days is new\"))\n        return out\n",
    );
    let source = source.replace(
        "from cutover_plugin import ",
        "from cutover_plugin import RetestSource, config, ",
    );
    std::fs::write(&module, source).unwrap();
    let run = cutover_in_workspace_with_env(BIN, &["plugin", "test", path], &with_sdk).expect(1);
    assert!(
        run.stdout.contains("FAILED   basic"),
        "{}{}",
        run.stdout,
        run.stderr
    );
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

    cutover_in_workspace_with_env(BIN, &["plugin", "test", path, "--bless"], &with_sdk).expect(0);
    cutover_in_workspace_with_env(BIN, &["plugin", "test", path], &with_sdk).expect(0);
    let expected = read_json(&project.join("fixtures/basic/expected.json"));
    assert_eq!(expected["config"]["lookback_days"], 7);
    assert_eq!(expected["version"], "2.0.0");
    assert_eq!(
        read_json(&project.join("fixtures/basic/actions.json"))[0]["kind"],
        "retest-source"
    );

    // A plugin that raises instead of refusing is a crash, and the exception is named.
    let broken = std::fs::read_to_string(&module)
        .unwrap()
        .replace("        return out\n", "        return out.nothing\n");
    std::fs::write(&module, broken).unwrap();
    let run = cutover_in_workspace_with_env(BIN, &["plugin", "test", path], &with_sdk);
    assert_ne!(run.code, 0);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains("crashed") && said.contains("AttributeError") && said.contains("nothing"),
        "{said}"
    );

    // A module that does not import is refused when it is built, naming the module.
    std::fs::write(&module, "import no_such_module\n").unwrap();
    let run = cutover_in_workspace_with_env(BIN, &["plugin", "test", path], &with_sdk).expect(2);
    assert!(
        run.stderr
            .contains("componentize-py could not build source-example-v2")
            && run.stderr.contains("no_such_module"),
        "{}",
        run.stderr
    );
}

#[test]
fn python_plugins_pass_their_rust_versions_fixtures_and_render_the_same_guides() {
    for name in ["source-pinterest-v2", "source-hubspot-v4"] {
        let python = root().join("plugins/python").join(name);
        let rust = root().join("plugins").join(name);
        let cases = std::fs::read_dir(rust.join("fixtures"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().join("input.json").is_file())
            .count();
        let run =
            cutover_in_workspace(BIN, &["plugin", "test", python.to_str().unwrap()]).expect(0);
        assert!(
            run.stdout
                .contains(&format!("{cases} case(s): {cases} passed, 0 failed")),
            "{name}: {}{}",
            run.stdout,
            run.stderr
        );
        assert!(
            run.stdout.contains("migrated configs checked against"),
            "{name}: {}",
            run.stdout
        );
        let from_python = cutover_in_workspace(BIN, &["plugin", "guide", python.to_str().unwrap()])
            .expect(0)
            .stdout;
        let from_rust = cutover_in_workspace(BIN, &["plugin", "guide", rust.to_str().unwrap()])
            .expect(0)
            .stdout;
        assert_eq!(
            from_python, from_rust,
            "{name}: the guide rendered from each language's plugin"
        );
    }
}

#[test]
fn import_metadata_matches_python_plugins_and_prints_python_manifests() {
    let built = tempfile::tempdir().unwrap();
    for name in ["source-pinterest-v2", "source-hubspot-v4"] {
        let wasm = cutover_tests::python_plugin(name);
        std::fs::copy(&wasm, built.path().join(wasm.file_name().unwrap())).unwrap();
    }
    let plugins = built.path().to_str().unwrap();
    for (connector, file) in [
        ("source-pinterest", "source_pinterest_v2.wasm"),
        ("source-hubspot", "source_hubspot_v4.wasm"),
    ] {
        let metadata = root()
            .join("tests/fixtures")
            .join(connector)
            .join("metadata.yaml");
        let run = cutover_in_workspace(
            BIN,
            &[
                "plugin",
                "import-metadata",
                metadata.to_str().unwrap(),
                "--plugins",
                plugins,
                "--lang",
                "python",
            ],
        )
        .expect(0);
        assert!(
            run.stdout.contains(&format!("plugin {file}")) && !run.stdout.contains("DIFFERS"),
            "{}",
            run.stdout
        );
        assert!(
            run.stdout.contains("# airbyte/")
                && run.stdout.contains("Manifest(\n    connector=\"airbyte/"),
            "{}",
            run.stdout
        );
    }
}

/// The example fleet with its Pinterest 2.0.0 plugin in Python instead of Rust (the 0.8.2
/// connection chains a Rust step into a Python one), and a HubSpot connection migrated by
/// the Python 4.0.0 plugin.
fn mixed_fleet(python: bool) -> Fleet {
    let fleet = Fleet::example();
    let settings = fleet.path().join("cutover.toml");
    let mut toml = std::fs::read_to_string(&settings).unwrap();
    toml.push_str("\n[connectors.\"airbyte/source-hubspot\"]\ntarget = \"4.0.0\"\n");
    std::fs::write(settings, toml).unwrap();
    if python {
        fleet.add_python_plugin("source-pinterest-v2");
        fleet.add_python_plugin("source-hubspot-v4");
    } else {
        fleet.add_plugin("source-hubspot-v4");
    }
    let mut hubspot = read_json(
        &root().join("plugins/source-hubspot-v4/fixtures/property-history-streams/input.json"),
    );
    hubspot["id"] = json!("hubspot-crm");
    fleet.write(&hubspot);
    fleet
}

#[test]
fn python_plugins_in_a_fleet_beside_rust_plugins_plan_and_apply_as_the_rust_ones_do() {
    let python = mixed_fleet(true);
    let rust = mixed_fleet(false);
    let plan = cutover(&python, &["plan", "--all", "--json"])
        .expect(0)
        .json();
    let chained = by_id(&plan, "pinterest-legacy-us");
    let steps: Vec<&str> = chained["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["plugin"]["file"].as_str())
        .collect();
    assert_eq!(
        steps,
        ["source_pinterest_v1.wasm", "source_pinterest_v2.wasm"],
        "{chained}"
    );
    let python_digest = cutover_tests::sha256(
        &std::fs::read(cutover_tests::python_plugin("source-pinterest-v2")).unwrap(),
    );
    assert_eq!(
        chained["steps"][1]["plugin"]["sha256"],
        json!(python_digest),
        "the Python plugin ran"
    );
    assert_eq!(by_id(&plan, "hubspot-crm")["status"], "migrate");

    let rust_plan = cutover(&rust, &["plan", "--all", "--json"])
        .expect(0)
        .json();
    for c in plan["connections"].as_array().unwrap() {
        let twin = by_id(&rust_plan, c["id"].as_str().unwrap());
        let same = ["status", "changes", "actions", "notes", "output_sha256"];
        for key in same {
            assert_eq!(c[key], twin[key], "{}: {key}", c["id"]);
        }
    }

    let out = cutover(&python, &["apply", "--all"]).expect(0).stdout;
    assert!(out.contains("connection(s) written, 0 failed"), "{out}");
    cutover(&rust, &["apply", "--all"]).expect(0);
    assert_eq!(
        python.documents(),
        rust.documents(),
        "both fleets are written byte for byte alike"
    );
    assert_eq!(python.read("hubspot-crm")["version"], "4.0.0");
    assert_eq!(python.read("pinterest-legacy-us")["version"], "2.0.0");
    // Rolled back like any other run.
    cutover(&python, &["rollback"]).expect(0);
    assert_eq!(python.read("hubspot-crm")["version"], "3.3.0");
}

const HOSTILE_LIMITS: &str = "
[connectors.\"test/source-hostile\"]
target = \"2.0.0\"
[connectors.\"test/source-hostile-python\"]
target = \"2.0.0\"

[limits]
memory_bytes = 134217728
timeout_ms = 2000
output_bytes = 8388608
log_lines = 100
log_line_bytes = 256
";

fn python_hostile(id: &str, mode: &str) -> Value {
    let mut doc = hostile_connection(id, mode);
    doc["connector"] = json!("test/source-hostile-python");
    doc
}

#[test]
fn a_hostile_python_plugin_fails_only_its_own_connections() {
    let fleet = Fleet::new(HOSTILE_LIMITS);
    fleet.add_python_plugin("hostile-python");
    fleet.add_plugin("hostile-plugin");
    let failing = [
        "loop",
        "memory",
        "recursion",
        "python-recursion",
        "exception",
        "refuse",
        "invalid-json",
        "wrong-shape",
        "giant-output",
        "clock",
        "entropy",
        "file",
    ];
    for mode in ["none", "random", "remember", "environment"]
        .iter()
        .chain(&failing)
    {
        fleet.write(&python_hostile(mode, mode));
    }
    fleet.write(&hostile_connection("rust-neighbour", "none"));
    let before = fleet.documents();

    let plan = cutover(&fleet, &["plan", "--all", "--json"])
        .expect(1)
        .json();
    let reason = |id: &str| by_id(&plan, id)["reason"].as_str().unwrap_or("").to_owned();
    for ok in [
        "none",
        "random",
        "remember",
        "environment",
        "rust-neighbour",
    ] {
        assert_eq!(
            by_id(&plan, ok)["status"],
            "migrate",
            "{ok}: {}",
            reason(ok)
        );
    }
    for mode in failing {
        // A plugin's own needs-operator refusal plans as such; every other one fails.
        let expected = if mode == "refuse" {
            "needs-operator"
        } else {
            "failed"
        };
        assert_eq!(by_id(&plan, mode)["status"], expected, "{mode}");
        assert!(
            reason(mode).contains("hostile_python.wasm"),
            "the error names the plugin: {}",
            reason(mode)
        );
    }
    assert!(
        reason("loop").contains("ran past its 2000 ms deadline"),
        "{}",
        reason("loop")
    );
    assert!(
        reason("memory").contains("over the 134217728-byte limit"),
        "{}",
        reason("memory")
    );
    // CPython keeps its frames on the heap: recursion without a limit runs into the memory
    // limit (or, through C, the wasm stack's), either of which stops only this call.
    let recursion = reason("recursion");
    assert!(
        recursion.contains("crashed") || recursion.contains("over the 134217728-byte limit"),
        "{recursion}"
    );
    assert!(
        reason("python-recursion").contains("RecursionError"),
        "{}",
        reason("python-recursion")
    );
    assert!(
        reason("exception").contains("RuntimeError: hostile plugin raised on purpose"),
        "{}",
        reason("exception")
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
    let giant = reason("giant-output");
    assert!(
        giant.contains("output limit") || giant.contains("byte limit"),
        "{giant}"
    );
    // Nothing real is reachable, and the reason names what the plugin reached for.
    for (reach, capability, call) in [
        ("clock", "the clock", "`wall_clock_now`"),
        ("entropy", "entropy", "`random_get_random_bytes`"),
        ("file", "files", "`filesystem_"),
    ] {
        let reason = reason(reach);
        assert!(
            reason.contains(&format!(
                "tried to use {capability} (it called WASI's {call}"
            )) && reason.contains("which the sandbox does not grant"),
            "{reach}: {reason}"
        );
    }

    let out = cutover(&fleet, &["apply", "--all"]).expect(1).stdout;
    // The refusal that needs the operator is left alone, not failed.
    assert!(
        out.contains(&format!(
            "5 connection(s) written, {} failed, 1 left alone",
            failing.len() - 1
        )),
        "{out}"
    );
    let after = fleet.documents();
    for mode in failing {
        let file = format!("{mode}.json");
        assert_eq!(after[&file], before[&file], "{mode} must be unchanged");
    }
    assert_eq!(fleet.read("none")["config"]["migrated"], true);
    assert_eq!(fleet.read("rust-neighbour")["version"], "2.0.0");
    // Every call starts from the build's snapshot: no call sees an earlier one's memory
    // (plan and apply each called it), and `random` is the same each time.
    assert_eq!(
        fleet.read("remember")["config"]["remembered"],
        json!({"calls": 0, "dirty_bytes": 0})
    );
    // The environment the interpreter was built in is not the host's: it sees none.
    assert_eq!(
        fleet.read("environment")["config"]["environment"],
        json!({})
    );
    let random = fleet.read("random")["config"]["random"].clone();
    assert!(random.is_f64(), "{random}");
    let again = Fleet::new(HOSTILE_LIMITS);
    again.add_python_plugin("hostile-python");
    again.write(&python_hostile("random", "random"));
    cutover(&again, &["apply", "--all"]).expect(0);
    assert_eq!(
        again.read("random")["config"]["random"],
        random,
        "the interpreter's random is seeded: same value every run"
    );
}

#[test]
fn the_python_sdk_passes_its_unit_tests_natively() {
    let sdk = root().join("plugins/python/sdk");
    let run = unittest(&sdk, &sdk);
    assert!(
        run.status.success(),
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(
        said.contains("OK") && !said.contains("Ran 0 tests"),
        "{said}"
    );
    // The plugins' own unit tests, with the SDK on the path.
    for name in ["source-pinterest-v2", "source-hubspot-v4"] {
        let dir = root().join("plugins/python").join(name);
        let run = unittest(&dir, &sdk);
        assert!(
            run.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
}
