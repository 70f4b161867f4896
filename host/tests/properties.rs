//! Properties every real plugin must have, on connections generated from its golden inputs
//! (which are built from the connectors' real catalogs): any subset of the streams, any sync
//! and destination mode each stream supports, with or without its state.
//!
//! - the plugin migrates it (no refusal, no trap) in the real sandbox;
//! - the migrated config conforms to the real spec of the produced version, every stream
//!   exists in the produced version's catalog with a sync mode it supports, and every
//!   clear-stream action names a stream the connection syncs;
//! - the output passes the checks a fleet makes of every plugin step (each stream once,
//!   consistent modes, cursors and keys, known state streams), and every stream the
//!   produced version discovers matches its real catalog;
//! - migrating twice is refused by the host (the produced version is outside the plugin's
//!   range) and, forced through the plugin anyway, changes nothing more;
//! - for each connector, one plan takes a connection from the oldest version a plugin
//!   migrates to the newest, through every plugin, and apply writes it there.
//!
//! The Python plugins (`plugins/python/`) are subjects too, on their Rust versions' golden
//! inputs, and on every generated connection they must return exactly the bytes their Rust
//! version returns: documents, actions, notes and refusals.

use cutover::author::package::Package;
use cutover::catalogs::TargetCatalog;
use cutover::conformance;
use cutover::migration::{Action, Input};
use cutover::plan::read_outcome;
use cutover::registry::{Plugin, Registry};
use cutover::sandbox::{CompileCache, Limits, Sandbox, SandboxError};
use cutover::specs::Spec;
use cutover::trust::Trust;
use cutover_tests::{
    Fleet, compile_cache_dir, cutover, plugin, plugin_crates, python_plugin, python_plugin_projects,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

/// A plugin with what its properties are checked against.
struct Subject {
    name: String,
    dir: PathBuf,
    plugin: Plugin,
    target_spec: Option<Spec>,
    /// Stream name → supported sync modes, in the produced version's real catalog.
    target_streams: Option<BTreeMap<String, Vec<String>>>,
    target_catalog: Option<TargetCatalog>,
    /// The golden inputs the plugin migrates (refusal cases left out).
    bases: Vec<Value>,
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The Rust plugins.
fn subjects(sandbox: &Sandbox) -> Vec<Subject> {
    plugin_crates()
        .into_iter()
        .map(|dir| subject(sandbox, &dir, None))
        .collect()
}

/// The Python plugins, named `python/<project>`, compiled once for all tests.
fn python_subjects(sandbox: &Sandbox) -> Vec<Subject> {
    let cache = CompileCache::new(compile_cache_dir());
    python_plugin_projects()
        .iter()
        .map(|dir| subject(sandbox, dir, Some(&cache)))
        .collect()
}

fn subject(sandbox: &Sandbox, dir: &Path, cache: Option<&CompileCache>) -> Subject {
    let package = Package::open(dir).unwrap();
    let (name, wasm) = match cache {
        Some(_) => (
            format!("python/{}", package.name),
            python_plugin(&package.name),
        ),
        None => (package.name.clone(), plugin(&package.name)),
    };
    let dir = dir.to_owned();
    let plugin = Registry::load_one(&wasm, sandbox, &Trust::default(), None, cache).unwrap();
    let target_spec = package
        .target_spec
        .as_deref()
        .map(|p| Spec::read(p).unwrap());
    // The discovered catalog lives beside the spec: <connector>/<version>/{spec,catalog}.json.
    let target_streams = package
        .target_spec
        .as_deref()
        .map(|p| p.with_file_name("catalog.json"))
        .filter(|p| p.is_file())
        .map(|p| {
            read_json(&p)["streams"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    let modes = s["supported_sync_modes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|m| m.as_str().unwrap().to_owned())
                        .collect();
                    (s["name"].as_str().unwrap().to_owned(), modes)
                })
                .collect()
        });
    let mut bases = Vec::new();
    for case in std::fs::read_dir(package.fixtures()).unwrap() {
        let case = case.unwrap().path();
        if case.join("input.json").is_file() && !case.join("refused.txt").exists() {
            bases.push(read_json(&case.join("input.json")));
        }
    }
    assert!(!bases.is_empty(), "{name} has no golden input it migrates");
    let target_catalog = package
        .target_catalog
        .as_deref()
        .map(|p| TargetCatalog::read(p).unwrap());
    Subject {
        name,
        dir,
        plugin,
        target_spec,
        target_streams,
        target_catalog,
        bases,
    }
}

/// A connection like `base`, with the streams, modes and states the genes pick.
fn variant(base: &Value, keep: &[bool], modes: &[u8]) -> Value {
    let mut doc = base.clone();
    let entries = base["catalog"]["streams"].as_array().unwrap();
    let mut streams = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        if !(keep[i % keep.len()] || streams.is_empty() && i + 1 == entries.len()) {
            continue;
        }
        let gene = modes[i % modes.len()];
        let stream = &entry["stream"];
        let supported = |m: &str| {
            stream["supported_sync_modes"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == m))
        };
        let cursor = entry
            .get("cursor_field")
            .filter(|c| c.as_array().is_some_and(|a| !a.is_empty()))
            .or_else(|| stream.get("default_cursor_field"))
            .cloned();
        let pk = entry
            .get("primary_key")
            .filter(|p| p.as_array().is_some_and(|a| !a.is_empty()))
            .or_else(|| stream.get("source_defined_primary_key"))
            .cloned();
        let mut e = entry.clone();
        let incremental = gene & 1 == 0
            && supported("incremental")
            && cursor
                .as_ref()
                .is_some_and(|c| c.as_array().is_some_and(|a| !a.is_empty()));
        if incremental || !supported("full_refresh") {
            e["sync_mode"] = json!("incremental");
            if let Some(c) = cursor {
                e["cursor_field"] = c;
            }
            let dedup = gene & 2 == 0
                && pk
                    .as_ref()
                    .is_some_and(|p| p.as_array().is_some_and(|a| !a.is_empty()));
            e["destination_sync_mode"] = json!(if dedup { "append_dedup" } else { "append" });
            if let (true, Some(pk)) = (dedup, pk) {
                e["primary_key"] = pk;
            }
        } else {
            e["sync_mode"] = json!("full_refresh");
            e["destination_sync_mode"] = json!(if gene & 4 == 0 { "overwrite" } else { "append" });
        }
        streams.push(e);
    }
    let synced: BTreeMap<String, (bool, u8)> = streams
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (
                e["stream"]["name"].as_str().unwrap().to_owned(),
                (
                    e["sync_mode"] == "incremental",
                    modes[(i + 7) % modes.len()],
                ),
            )
        })
        .collect();
    // Keep a stream's state only while it is synced incrementally, and then only sometimes;
    // global and legacy state stays as it is.
    let state: Vec<Value> = base["state"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(
            |m| match m["stream"]["stream_descriptor"]["name"].as_str() {
                Some(name) => synced
                    .get(name)
                    .is_some_and(|(inc, gene)| *inc && gene & 8 == 0),
                None => true,
            },
        )
        .cloned()
        .collect();
    doc["catalog"]["streams"] = Value::Array(streams);
    doc["state"] = Value::Array(state);
    doc
}

fn migrate(
    sandbox: &Sandbox,
    plugin: &Plugin,
    doc: &Value,
) -> Result<(Value, Value, Value, Vec<Action>), SandboxError> {
    let input = Input::of_document(doc).unwrap();
    let call = sandbox.migrate(plugin.code(sandbox).unwrap(), &input)?;
    let (config, catalog, state) =
        read_outcome(&call.value).expect("the plugin returns documents of the right shapes");
    Ok((config, catalog, state, call.value.actions))
}

fn check(sandbox: &Sandbox, s: &Subject, doc: &Value) -> Result<(), TestCaseError> {
    let names: Vec<&str> = doc["catalog"]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["stream"]["name"].as_str().unwrap())
        .collect();
    let (config, catalog, state, actions) = migrate(sandbox, &s.plugin, doc)
        .map_err(|e| TestCaseError::fail(format!("{}: refused {names:?}: {e}", s.name)))?;
    if let Some(spec) = &s.target_spec {
        let problems = spec.problems(&config);
        prop_assert!(
            problems.is_empty(),
            "{}: migrated config breaks the {} spec: {problems:?}",
            s.name,
            s.plugin.produces
        );
    }
    let out: BTreeSet<String> = catalog["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["stream"]["name"].as_str().unwrap().to_owned())
        .collect();
    for e in catalog["streams"].as_array().unwrap() {
        let name = e["stream"]["name"].as_str().unwrap();
        let mode = e["sync_mode"].as_str().unwrap_or("full_refresh");
        let own = e["stream"]["supported_sync_modes"].as_array().unwrap();
        prop_assert!(
            own.iter().any(|m| m == mode),
            "{}: {name} is synced {mode}, which its schema does not support",
            s.name
        );
        if let Some(target) = &s.target_streams {
            // Streams a config defines (custom reports/insights) are not in a discovered catalog.
            if let Some(modes) = target.get(name) {
                prop_assert!(
                    modes.iter().any(|m| m == mode),
                    "{}: {name} does not support {mode} in {}",
                    s.name,
                    s.plugin.produces
                );
            } else {
                prop_assert!(
                    names.contains(&name),
                    "{}: {name} is neither in the {} catalog nor in the input",
                    s.name,
                    s.plugin.produces
                );
            }
        }
    }
    // The checks a fleet makes of every plugin step, against the real target catalog.
    let before = conformance::Documents {
        catalog: &doc["catalog"],
        state: &doc["state"],
    };
    let problems = conformance::problems(
        &before,
        &conformance::Documents {
            catalog: &catalog,
            state: &state,
        },
        s.target_catalog.as_ref(),
    );
    prop_assert!(
        problems.is_empty(),
        "{}: its output would not be believed: {problems:?}",
        s.name
    );
    for a in &actions {
        if let Action::ClearStream { stream, .. } = a {
            prop_assert!(
                out.contains(&stream.name),
                "{}: clears {} which the connection does not sync",
                s.name,
                stream.name
            );
        }
    }
    // Twice: the host never runs the step on its own output; the plugin, forced, changes nothing.
    prop_assert!(!s.plugin.applies_to.matches(&s.plugin.produces));
    let mut again = doc.clone();
    again["version"] = json!(s.plugin.produces.to_string());
    (again["config"], again["catalog"], again["state"]) =
        (config.clone(), catalog.clone(), state.clone());
    if let Ok((c2, k2, s2, _)) = migrate(sandbox, &s.plugin, &again) {
        prop_assert!(
            c2 == config && k2 == catalog && s2 == state,
            "{}: a second migration changed the documents again",
            s.name
        );
    }
    Ok(())
}

#[test]
fn generated_connections_migrate_to_valid_documents_and_only_once() {
    let sandbox = Sandbox::new(Limits::default()).unwrap();
    let subjects = subjects(&sandbox);
    assert!(
        subjects.len() >= 10,
        "the catalogue holds at least ten real migrations"
    );
    let python = python_subjects(&sandbox);
    assert!(
        python.len() >= 2,
        "two migrations are written in Python too"
    );
    for s in subjects.into_iter().chain(python) {
        let mut runner = TestRunner::new(Config {
            cases: 40,
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = (
            0..s.bases.len(),
            prop::collection::vec(any::<bool>(), 1..48),
            prop::collection::vec(any::<u8>(), 1..48),
        );
        runner
            .run(&strategy, |(base, keep, modes)| {
                check(&sandbox, &s, &variant(&s.bases[base], &keep, &modes))
            })
            .unwrap_or_else(|e| panic!("{} ({}): {e}", s.name, s.dir.display()));
    }
}

#[test]
fn one_plan_chains_each_connector_from_its_oldest_plugin_to_its_newest() {
    let sandbox = Sandbox::new(Limits::default()).unwrap();
    let mut by_connector: BTreeMap<String, Vec<Subject>> = BTreeMap::new();
    for s in subjects(&sandbox) {
        by_connector
            .entry(s.plugin.manifest.connector.clone())
            .or_default()
            .push(s);
    }
    for (connector, mut chain) in by_connector {
        chain.sort_by(|a, b| a.plugin.produces.cmp(&b.plugin.produces));
        let (first, last) = (&chain[0], chain.last().unwrap());
        let target = last.plugin.produces.to_string();
        let fleet = Fleet::new(&format!(
            "plugins = \"plugins\"\n[platform]\nplatform = \"0.63.14\"\n[connectors.\"{connector}\"]\ntarget = \"{target}\"\n"
        ));
        for s in &chain {
            fleet.add_plugin(&s.name);
        }
        if let Some(spec) = &last.target_spec {
            let dir = fleet.path().join("specs").join(&connector);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::copy(spec.path(), dir.join(format!("{target}.json"))).unwrap();
        }
        // The oldest input of the first plugin: the longest chain its fixtures allow.
        let mut doc = first
            .bases
            .iter()
            .min_by_key(|b| semver::Version::parse(b["version"].as_str().unwrap()).unwrap())
            .unwrap()
            .clone();
        doc["id"] = json!("chained");
        fleet.write(&doc);
        let plan = cutover(BIN, fleet.path(), &["plan", "--all", "--json"])
            .expect(0)
            .json();
        let c = &plan["connections"][0];
        let steps: Vec<&str> = c["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["plugin"]["file"].as_str())
            .collect();
        if c["status"] == "needs-operator" {
            // A break only the operator can finish stops the chain at its own step, every
            // step before it planned: firebolt 0.x signs in as a user, which 2.0.0 refuses
            // until the operator supplies a service account.
            let reason = c["reason"].as_str().unwrap_or_default();
            assert!(
                reason.contains(&last.plugin.file),
                "{connector}: only the last break may need the operator: {c}"
            );
            assert_eq!(steps.len(), chain.len() - 1, "{connector}: {steps:?}");
            continue;
        }
        assert_eq!(c["status"], "migrate", "{connector}: {c}");
        assert_eq!(
            steps.len(),
            chain.len(),
            "{connector}: every plugin is a step of the chain: {steps:?}"
        );
        cutover(BIN, fleet.path(), &["apply", "--all"]).expect(0);
        let written = fleet.read("chained");
        assert_eq!(written["version"], json!(target), "{connector}");
        if let Some(spec) = &last.target_spec {
            assert!(
                spec.problems(&written["config"]).is_empty(),
                "{connector}: the chained config conforms to {target}"
            );
        }
    }
}

/// What a plugin returned for a connection, as the host received it: the documents' text,
/// actions and notes, or the refusal.
fn raw_outcome(
    sandbox: &Sandbox,
    plugin: &Plugin,
    doc: &Value,
) -> Result<(String, String, String, Vec<Action>, Vec<String>), String> {
    let input = Input::of_document(doc).unwrap();
    match sandbox.migrate(plugin.code(sandbox).unwrap(), &input) {
        Ok(call) => {
            let o = call.value;
            Ok((o.config, o.catalog, o.state, o.actions, o.notes))
        }
        Err(SandboxError::Refused(e)) => Err(e.to_string()),
        Err(e) => panic!("{}: {e}", plugin.file),
    }
}

/// Each Python plugin returns, byte for byte, what its Rust version returns: on every golden
/// input and on the connections generated from them (and on the refused inputs, the same
/// refusal).
#[test]
fn python_plugins_return_the_bytes_of_their_rust_versions() {
    let sandbox = Sandbox::new(Limits::default()).unwrap();
    let rust: BTreeMap<String, Subject> = subjects(&sandbox)
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
    for python in python_subjects(&sandbox) {
        let twin = &rust[python.name.trim_start_matches("python/")];
        let same = |doc: &Value| -> Result<(), TestCaseError> {
            let (p, r) = (
                raw_outcome(&sandbox, &python.plugin, doc),
                raw_outcome(&sandbox, &twin.plugin, doc),
            );
            prop_assert_eq!(
                &p,
                &r,
                "{} and {} differ on {}",
                python.name,
                twin.name,
                doc
            );
            Ok(())
        };
        let mut inputs = 0;
        for case in std::fs::read_dir(Package::open(&python.dir).unwrap().fixtures()).unwrap() {
            let input = case.unwrap().path().join("input.json");
            if input.is_file() {
                same(&read_json(&input)).unwrap();
                inputs += 1;
            }
        }
        assert!(
            inputs >= 3,
            "{}: every golden input, refused ones included",
            python.name
        );
        let mut runner = TestRunner::new(Config {
            cases: 60,
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = (
            0..python.bases.len(),
            prop::collection::vec(any::<bool>(), 1..48),
            prop::collection::vec(any::<u8>(), 1..48),
        );
        runner
            .run(&strategy, |(base, keep, modes)| {
                same(&variant(&python.bases[base], &keep, &modes))
            })
            .unwrap_or_else(|e| panic!("{}: {e}", python.name));
    }
}

/// facebook-marketing declares 3.1.0, a minor, as breaking: it waits for an opt-in like a
/// major, and runs its plugin once opted in.
#[test]
fn a_breaking_minor_waits_for_an_opt_in() {
    let fleet = Fleet::new(
        "plugins = \"plugins\"\n[platform]\nplatform = \"0.63.14\"\n[connectors.\"airbyte/source-facebook-marketing\"]\ntarget = \"3.1.0\"\n",
    );
    fleet.add_plugin("source-facebook-marketing-v3-1");
    let dir = plugin_crates()
        .into_iter()
        .find(|d| d.ends_with("source-facebook-marketing-v3-1"))
        .unwrap();
    let mut doc = read_json(&dir.join("fixtures/lead-fields/input.json"));
    doc["id"] = json!("ads");
    fleet.write(&doc);
    let before = fleet.read_raw("ads");
    let plan = cutover(BIN, fleet.path(), &["plan", "--json"])
        .expect(0)
        .json();
    assert_eq!(
        plan["connections"][0]["status"], "needs-opt-in",
        "{}",
        plan["connections"][0]
    );
    cutover(BIN, fleet.path(), &["apply"]).expect(0);
    assert_eq!(
        fleet.read_raw("ads"),
        before,
        "nothing is written without the opt-in"
    );
    let plan = cutover(BIN, fleet.path(), &["plan", "--opt-in", "ads", "--json"])
        .expect(0)
        .json();
    assert_eq!(plan["connections"][0]["status"], "migrate");
    assert_eq!(
        plan["connections"][0]["steps"][0]["plugin"]["file"],
        "source_facebook_marketing_v3_1.wasm"
    );
}
