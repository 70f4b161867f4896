//! Breaking versions made from data (`plugins/generated/`): each joined to the one generic
//! engine at build time, each its own component, each passing its golden cases through the
//! real sandbox against the real specs and catalogs of its version; and a version only the
//! operator can finish planned as such, with nothing written.

use cutover_tests::{Fleet, Run, golden_failures, root};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

fn cutover(args: &[&str]) -> Run {
    cutover_tests::cutover_in_workspace(BIN, args)
}

fn in_fleet(fleet: &Fleet, args: &[&str]) -> Run {
    cutover_tests::cutover(BIN, fleet.path(), args)
}

/// Every generated plugin's folder, in name order.
fn generated() -> Vec<PathBuf> {
    let dir = root().join("plugins/generated");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("plugin.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn generated_plugin(name: &str) -> PathBuf {
    root().join("plugins/generated").join(name)
}

/// Builds generated plugins into `out`; returns the components.
fn build(out: &Path, dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut args = vec![
        "plugin".to_owned(),
        "build".to_owned(),
        "--out".to_owned(),
        out.display().to_string(),
    ];
    args.extend(dirs.iter().map(|d| d.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = cutover(&args).expect(0);
    run.stdout.lines().map(PathBuf::from).collect()
}

#[test]
fn every_generated_plugin_passes_its_golden_fixtures_against_the_real_target_spec_and_catalog() {
    let dirs = generated();
    assert!(
        dirs.len() >= 10,
        "plugins/generated holds the sample of breaking versions"
    );
    let failures = golden_failures(
        BIN,
        &dirs,
        "migrated configs checked against",
        |name, run| {
            (!run.stdout.contains("migrated streams checked against"))
                .then(|| format!("{name}: its golden cases ran without the target catalog"))
        },
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The top-level imports of a component, as names.
fn imports(wasm: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut depth = 0;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.unwrap() {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) if depth > 0 => depth -= 1,
            wasmparser::Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    names.push(import.unwrap().name.0.to_owned());
                }
            }
            _ => {}
        }
    }
    names
}

#[test]
fn one_engine_many_components_each_with_its_own_digest_manifest_and_no_new_import() {
    let out = tempfile::tempdir().unwrap();
    let dirs = [
        generated_plugin("source-recharge-2.0.0"),
        generated_plugin("source-recharge-3.0.0"),
    ];
    let built = build(out.path(), &dirs);
    assert_eq!(built.len(), 2, "{built:?}");
    let bytes: Vec<Vec<u8>> = built.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert_ne!(bytes[0], bytes[1], "each version is its own component");
    assert_eq!(
        imports(&bytes[0]),
        imports(&bytes[1]),
        "joining data adds no import"
    );

    // Each loads as any plugin does (imports checked, manifest validated) and says what its
    // table says.
    let fleet = Fleet::new("");
    for wasm in &built {
        in_fleet(&fleet, &["plugin", "add", wasm.to_str().unwrap()]).expect(0);
    }
    let list = in_fleet(&fleet, &["plugin", "list", "--json"])
        .expect(0)
        .json();
    let mut produced: Vec<(String, String)> = list
        .as_array()
        .or_else(|| list["plugins"].as_array())
        .unwrap()
        .iter()
        .map(|p| {
            let m = if p.get("manifest").is_some() {
                &p["manifest"]
            } else {
                p
            };
            (
                m["applies_to"].as_str().unwrap_or_default().to_owned(),
                m["produces"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    produced.sort();
    assert_eq!(
        produced,
        [
            ("<2.0.0".to_owned(), "2.0.0".to_owned()),
            (">=2.0.0, <3.0.0".to_owned(), "3.0.0".to_owned())
        ],
        "{list}"
    );
    let lock = std::fs::read_to_string(fleet.path().join("plugins").join("plugins.lock")).unwrap();
    for b in &bytes {
        assert!(
            lock.contains(&cutover::ground::sha256_hex(b)),
            "each digest is pinned: {lock}"
        );
    }
}

#[test]
fn the_engine_alone_carries_no_version_and_is_refused() {
    let out = tempfile::tempdir().unwrap();
    let run = cutover(&[
        "plugin",
        "build",
        "--out",
        out.path().to_str().unwrap(),
        root().join("plugins/generated/engine").to_str().unwrap(),
    ])
    .expect(0);
    let engine = PathBuf::from(run.stdout.trim());
    let fleet = Fleet::new("");
    let add = in_fleet(&fleet, &["plugin", "add", engine.to_str().unwrap()]);
    assert_ne!(add.code, 0, "{}{}", add.stdout, add.stderr);
    // And a version's plugin cannot be joined a second time.
    let joined = build(out.path(), &[generated_plugin("source-recharge-3.0.0")]);
    let err = cutover::author::join::join(&std::fs::read(&joined[0]).unwrap(), b"{}").unwrap_err();
    assert!(
        format!("{err:#}").contains("already carries data"),
        "{err:#}"
    );
}

fn appsflyer_connection(api_token: &str) -> Value {
    let mut c: Value = serde_json::from_slice(
        &std::fs::read(
            generated_plugin("source-appsflyer-0.2.0").join("fixtures/all-streams/input.json"),
        )
        .unwrap(),
    )
    .unwrap();
    c["id"] = json!("appsflyer");
    c["config"]["api_token"] = json!(api_token);
    c
}

#[test]
fn a_value_only_the_operator_has_is_asked_for_and_nothing_is_written_until_supplied() {
    let out = tempfile::tempdir().unwrap();
    let built = build(out.path(), &[generated_plugin("source-appsflyer-0.2.0")]);
    let fleet = Fleet::new("[connectors.\"airbyte/source-appsflyer\"]\ntarget = \"0.2.0\"\n");
    in_fleet(&fleet, &["plugin", "add", built[0].to_str().unwrap()]).expect(0);
    // A V1 Pull API token: 0.2.0's API V2 refuses it.
    fleet.write(&appsflyer_connection("0c2f7a4e-v1-pull-token"));
    let before = fleet.documents();

    let plan = in_fleet(&fleet, &["plan", "--all", "--json"]).json();
    let c = &plan["connections"][0];
    assert_eq!(c["status"], "needs-operator", "{c}");
    let reason = c["reason"].as_str().unwrap();
    assert!(
        reason.contains("/api_token") && reason.contains("V2 API token"),
        "{reason}"
    );
    assert!(
        !reason.contains("0c2f7a4e"),
        "the secret is not shown: {reason}"
    );
    let _ = in_fleet(&fleet, &["apply", "--all"]);
    assert_eq!(fleet.documents(), before, "nothing is written for it");

    // Supplied: the same connection migrates.
    fleet.write(&appsflyer_connection(
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
    ));
    let plan = in_fleet(&fleet, &["plan", "--all", "--json"])
        .expect(0)
        .json();
    assert_eq!(
        plan["connections"][0]["status"], "migrate",
        "{}",
        plan["connections"][0]
    );
}

/// Every file under `dir`, by path relative to it.
fn tree(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.insert(
                    path.strip_prefix(dir).unwrap().to_owned(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    files
}

fn copy_tree(from: &Path, to: &Path) {
    for (rel, bytes) in tree(from) {
        let path = to.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

#[test]
fn importing_an_unchanged_version_again_changes_nothing_and_keeps_what_a_reviewer_wrote() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = tmp.path().join("tests/fixtures");
    let plugins = tmp.path().join("plugins/generated");
    copy_tree(
        &root().join("tests/fixtures/source-slack"),
        &fixtures.join("source-slack"),
    );
    copy_tree(
        &generated_plugin("source-slack-3.0.0"),
        &plugins.join("source-slack-3.0.0"),
    );
    let before = tree(tmp.path());
    let table: Value = serde_json::from_slice(
        &before[Path::new("plugins/generated/source-slack-3.0.0/plugin.json")],
    )
    .unwrap();
    assert_eq!(
        table["state-changed"],
        json!(["threads"]),
        "the reviewer's list is in the committed table"
    );
    cutover(&[
        "plugin",
        "import",
        "--metadata",
        fixtures
            .join("source-slack/metadata.yaml")
            .to_str()
            .unwrap(),
        "--previous",
        "2.2.0",
        "3.0.0",
        "--fixtures",
        fixtures.to_str().unwrap(),
        "--plugins",
        plugins.to_str().unwrap(),
        "--venvs",
        tmp.path().join("no-venvs").to_str().unwrap(),
    ])
    .expect(0);
    assert_eq!(tree(tmp.path()), before, "nothing changed");
}
