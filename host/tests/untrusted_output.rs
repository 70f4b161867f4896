//! What a plugin hands back is untrusted: the hostile plugin (tests/guests/hostile) moves
//! secrets into every text it returns, writes terminal control sequences everywhere,
//! floods the host with actions and notes, and returns catalogs no connector would. These
//! tests run the real binary on such fleets and look at everything it printed and wrote.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cutover::redact::MASK;
use cutover_tests::{Fleet, Run, hostile_connection};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn cutover(fleet: &Fleet, args: &[&str]) -> Run {
    cutover_tests::cutover(env!("CARGO_BIN_EXE_cutover"), fleet.path(), args)
}

const SETTINGS: &str = "
[connectors.\"test/source-hostile\"]
target = \"2.0.0\"

[limits]
memory_bytes = 134217728
timeout_ms = 5000
output_bytes = 8388608
";

const TOKEN: &str = "tok-7c1d9e0b2a";
const PASSWORD: &str = "pw-f00dfeed";

fn fleet_with(modes: &[&str]) -> Fleet {
    let fleet = Fleet::new(SETTINGS);
    fleet.add_plugin("hostile-plugin");
    for mode in modes {
        let mut doc = hostile_connection(mode, mode);
        doc["config"]["api_token"] = json!(TOKEN);
        doc["config"]["password"] = json!(PASSWORD);
        fleet.write(&doc);
    }
    fleet
}

fn by_id<'a>(plan: &'a Value, id: &str) -> &'a Value {
    plan["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {plan}"))
}

/// Every file under `dir`, by path.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    out
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn no_secret_value_leaves_in_any_output_or_file_but_the_documents() {
    let fleet = fleet_with(&["secret-moved", "secret-refusal"]);
    let saved = fleet.path().join("plan.json");
    let saved_arg = saved.to_str().unwrap();
    let mut outputs = Vec::new();
    let mut run = |args: &[&str], code: i32| {
        let run = cutover(&fleet, args).expect(code);
        outputs.push((args.join(" "), run.stdout.clone(), run.stderr.clone()));
        run
    };
    let text = run(&["plan", "--all"], 1).stdout;
    let plan = run(&["plan", "--all", "--json"], 1).json();
    run(&["-vv", "plan", "--all", "--out", saved_arg], 1);
    run(&["-vv", "apply", saved_arg], 1);
    run(&["history"], 0);
    run(&["history", "--json"], 0);
    let applied = fleet.read("secret-moved");
    run(&["-vv", "rollback"], 0);
    run(&["history", "--json"], 0);

    // The plugin also hands them back in base64, in a note and its log.
    let encoded = [
        STANDARD.encode(format!("svc:{TOKEN}")),
        STANDARD.encode(PASSWORD),
    ];
    let secrets = [TOKEN, PASSWORD, &encoded[0], &encoded[1]];
    let notes: Vec<String> =
        serde_json::from_value(by_id(&plan, "secret-moved")["notes"].clone()).unwrap();
    let shown = |start: &str| {
        notes
            .iter()
            .find_map(|n| n.strip_prefix(start))
            .unwrap_or_else(|| panic!("no note {start:?}: {notes:?}"))
            .to_owned()
    };
    assert!(
        shown("2.0.0: header Authorization: Basic ").contains(MASK),
        "{notes:?}"
    );
    assert!(
        shown("2.0.0: password in base64: ").contains(MASK),
        "{notes:?}"
    );
    for (args, stdout, stderr) in &outputs {
        for secret in secrets {
            assert!(
                !stdout.contains(secret),
                "`cutover {args}` printed {secret}:\n{stdout}"
            );
            assert!(
                !stderr.contains(secret),
                "`cutover {args}` logged {secret}:\n{stderr}"
            );
        }
    }
    // Files: the documents hold the secrets (they are the credentials), and so do the
    // ledger's snapshots of them; nothing else cutover wrote does.
    for (path, bytes) in files(fleet.path()) {
        let name = path.file_name().unwrap().to_string_lossy();
        let document = path.parent().unwrap().ends_with("connections");
        if document || name.starts_with("ledger.sqlite") || name.ends_with(".wasm") {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        for secret in secrets {
            assert!(!text.contains(secret), "{} holds {secret}", path.display());
        }
    }

    // The changes are still shown: where each secret went, and that one changed.
    let moved = by_id(&plan, "secret-moved");
    assert_eq!(moved["status"], "migrate", "{moved}");
    let config_ops = moved["changes"]["config"].as_array().unwrap();
    assert!(
        config_ops.iter().any(|op| op["op"] == "move"
            && op["from"] == "/api_token"
            && op["path"] == "/credentials/api_token"),
        "the moved token is shown as a move: {config_ops:?}"
    );
    assert!(
        config_ops.iter().any(|op| op["op"] == "add"
            && op["path"] == "/innocent"
            && op["value"] == "**********"),
        "its copy under an innocent name is masked: {config_ops:?}"
    );
    assert!(
        config_ops.iter().any(|op| op["op"] == "replace"
            && op["path"] == "/password"
            && op["value"] == "**********"),
        "the changed password is shown as changed: {config_ops:?}"
    );
    assert!(
        text.contains("/password: (secret, value changed)"),
        "{text}"
    );
    assert!(
        text.contains("/api_token → /credentials/api_token"),
        "{text}"
    );
    assert!(
        text.contains("+ /innocent: (secret)"),
        "a copy under another name is masked too:\n{text}"
    );
    assert!(text.contains("the old token was **********"), "{text}");
    let refused = by_id(&plan, "secret-refusal");
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .contains("token ********** is not accepted"),
        "{refused}"
    );
    // And the documents hold the real values, migrated and then restored.
    assert_eq!(applied["config"]["credentials"]["api_token"], TOKEN);
    assert_eq!(applied["config"]["password"], format!("{PASSWORD}-rotated"));
    assert_eq!(fleet.read("secret-moved")["config"]["api_token"], TOKEN);
}

/// Every character a terminal could act on: C0 but newline and tab, DEL, C1, bidi controls.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

#[test]
fn the_terminal_never_receives_a_raw_control_character() {
    let fleet = fleet_with(&["control-chars", "control-refusal", "none"]);
    let saved = fleet.path().join("plan.json");
    let saved_arg = saved.to_str().unwrap();
    // The refusal plans as needs-operator, which is no failure: every command exits 0.
    let runs = [
        (vec!["plan", "--all"], 0),
        (vec!["plan", "--all", "--json"], 0),
        (vec!["-vv", "plan", "--all", "--out", saved_arg], 0),
        (vec!["status"], 0),
        (vec!["plugin", "list"], 0),
        (vec!["plugin", "inspect", "hostile_plugin"], 0),
        (vec!["plugin", "inspect", "hostile_plugin", "--json"], 0),
        (vec!["-vv", "apply", "--all"], 0),
        (vec!["history"], 0),
        (vec!["history", "--json"], 0),
    ];
    let (mut text_plan, mut plan) = (String::new(), Value::Null);
    for (args, code) in runs {
        let run = cutover(&fleet, &args).expect(code);
        for (stream, out) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            let raw = raw_controls(out);
            assert!(
                raw.is_empty(),
                "`cutover {}` wrote raw {raw:?} to {stream}:\n{out}",
                args.join(" ")
            );
        }
        if args == ["plan", "--all"] {
            text_plan = run.stdout.clone();
        }
        if args.contains(&"--json") {
            let json = run.json(); // still exact JSON
            if args[0] == "plan" {
                plan = json;
            }
        }
    }
    // Escaped, and still there to read: no forged line, no lost text.
    assert!(
        text_plan.contains(
            "note \\u{1b}[2J\\u{1b}[H\\rPlan: 0 failed\\n\\u{1b}]0;owned\\u{7}\\u{9b}1m\\u{202e}"
        ),
        "{text_plan}"
    );
    assert!(
        !text_plan.lines().any(|l| l.starts_with("Plan: 0 failed")),
        "{text_plan}"
    );
    let notes = &by_id(&plan, "control-chars")["notes"];
    assert_eq!(
        notes[0],
        "2.0.0: note \u{1b}[2J\u{1b}[H\rPlan: 0 failed\n\u{1b}]0;owned\u{7}\u{9b}1m\u{202e}",
        "--json keeps the data exact"
    );
    let saved_text = String::from_utf8(std::fs::read(&saved).unwrap()).unwrap();
    assert!(raw_controls(&saved_text).is_empty(), "{saved_text}");
    let saved: Value = serde_json::from_str(&saved_text).unwrap();
    assert_eq!(by_id(&saved, "control-chars")["notes"], *notes);
}

#[test]
fn floods_fail_their_own_connection_and_the_rest_of_the_fleet_is_planned() {
    let modes = [
        "action-flood",
        "many-actions",
        "note-flood",
        "action-text",
        "none",
    ];
    let fleet = fleet_with(&modes);
    for i in 0..20 {
        let mut doc = hostile_connection(&format!("fine-{i:02}"), "none");
        doc["config"]["api_token"] = json!(TOKEN);
        fleet.write(&doc);
    }
    let plan = cutover(&fleet, &["plan", "--all", "--json"])
        .expect(1)
        .json();
    let reason = |id: &str| by_id(&plan, id)["reason"].as_str().unwrap_or("").to_owned();
    for mode in &modes[..4] {
        assert_eq!(by_id(&plan, mode)["status"], "failed", "{mode}");
        assert!(
            reason(mode).contains("hostile_plugin.wasm"),
            "{}",
            reason(mode)
        );
        assert!(
            !reason(mode).contains("deadline"),
            "stopped by the output limits, not the deadline: {}",
            reason(mode)
        );
    }
    assert!(
        reason("action-flood").contains("more than its output limits allow"),
        "{}",
        reason("action-flood")
    );
    assert!(
        reason("many-actions").contains("5000 actions, over the limit of 1000 ([limits] actions"),
        "{}",
        reason("many-actions")
    );
    assert!(
        reason("note-flood").contains("more than its output limits allow")
            || reason("note-flood").contains("notes, over the limit"),
        "{}",
        reason("note-flood")
    );
    assert!(
        reason("action-text").contains("bytes of action and note text, over the limit of 1048576"),
        "{}",
        reason("action-text")
    );
    assert_eq!(by_id(&plan, "none")["status"], "migrate");
    for i in 0..20 {
        assert_eq!(by_id(&plan, &format!("fine-{i:02}"))["status"], "migrate");
    }

    // The limits are the fleet's to set: with room for them, the same outputs pass.
    std::fs::write(
        fleet.path().join("cutover.toml"),
        format!("{SETTINGS}actions = 10000\nnotes = 300000\ntext_bytes = 4194304\n"),
    )
    .unwrap();
    let plan = cutover(
        &fleet,
        &[
            "plan",
            "--all",
            "--json",
            "--only",
            "many-actions,action-text,note-flood",
        ],
    )
    .expect(0)
    .json();
    assert_eq!(
        by_id(&plan, "many-actions")["actions"]
            .as_array()
            .unwrap()
            .len(),
        5000
    );
    assert_eq!(
        by_id(&plan, "action-text")["actions"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "equal actions are shown once"
    );
    assert_eq!(
        by_id(&plan, "note-flood")["notes"]
            .as_array()
            .unwrap()
            .len(),
        200_000
    );
}

#[test]
fn a_catalog_or_state_no_connector_would_accept_fails_its_connection() {
    let fleet = fleet_with(&["duplicate-streams", "orphan-state", "none"]);
    let before = fleet.documents();
    let plan = cutover(&fleet, &["plan", "--all", "--json"])
        .expect(1)
        .json();
    let reason = |id: &str| by_id(&plan, id)["reason"].as_str().unwrap_or("").to_owned();
    assert_eq!(by_id(&plan, "duplicate-streams")["status"], "failed");
    assert!(
        reason("duplicate-streams")
            .contains("its output is not believed: the catalog lists stream users more than once"),
        "{}",
        reason("duplicate-streams")
    );
    assert!(
        reason("orphan-state").contains("the state names stream nobody_knows"),
        "{}",
        reason("orphan-state")
    );
    let out = cutover(&fleet, &["apply", "--all"]).expect(1).stdout;
    assert!(out.contains("1 connection(s) written, 2 failed"), "{out}");
    let after = fleet.documents();
    assert_eq!(
        after["duplicate-streams.json"],
        before["duplicate-streams.json"]
    );
    assert_eq!(after["orphan-state.json"], before["orphan-state.json"]);
}

#[test]
fn files_holding_document_content_are_owner_only_and_documents_keep_their_mode() {
    let fleet = fleet_with(&["none", "secret-moved"]);
    let documents = fleet.path().join("connections");
    std::fs::set_permissions(
        documents.join("none.json"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::set_permissions(
        documents.join("secret-moved.json"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let saved = fleet.path().join("plan.json");
    std::fs::write(&saved, "an older plan, world-readable").unwrap();
    std::fs::set_permissions(&saved, std::fs::Permissions::from_mode(0o644)).unwrap();
    cutover(&fleet, &["plan", "--all", "--out", saved.to_str().unwrap()]).expect(0);
    assert_eq!(mode(&saved), 0o600, "a saved plan");
    cutover(&fleet, &["apply", saved.to_str().unwrap()]).expect(0);
    assert_eq!(fleet.read("none")["version"], "2.0.0");
    let state = fleet.path().join(".cutover");
    assert_eq!(mode(&state), 0o700, ".cutover");
    for name in ["ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm"] {
        let path = state.join(name);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{name}");
        }
    }
    assert_eq!(
        mode(&documents.join("none.json")),
        0o644,
        "a rewritten document keeps its mode"
    );
    assert_eq!(mode(&documents.join("secret-moved.json")), 0o640);
    cutover(&fleet, &["rollback"]).expect(0);
    assert_eq!(fleet.read("none")["version"], "1.0.0");
    assert_eq!(
        mode(&documents.join("none.json")),
        0o644,
        "and a restored one too"
    );
    assert_eq!(mode(&documents.join("secret-moved.json")), 0o640);

    // A ledger an older cutover left readable by all is narrowed when it is opened.
    std::fs::set_permissions(
        state.join("ledger.sqlite"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    cutover(&fleet, &["history"]).expect(0);
    assert_eq!(mode(&state.join("ledger.sqlite")), 0o600);
}
