//! Elastic connectors end to end, with the real binary, plugins and sandbox: every Elastic
//! plugin's golden fixtures against the real default configurations of both versions; the
//! example fleet (an 8.7 deployment) refused while the stack is on 8.7, then taken to 9.0
//! once, rolled back byte for byte; chains that hand over to a new service type; sync rules
//! rewritten into the shape the new version validates (the plan says so) or refused naming
//! them; and bad documents refused before anything is written.

use cutover_tests::{
    Fleet, cutover, cutover_in_workspace, elastic_plugin_crates, golden_failures, plugin, root,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

const ELASTIC_PLUGINS: &[&str] = &[
    "elastic-mysql-v8-8",
    "elastic-sharepoint-v8-9",
    "elastic-github-v8-10",
    "elastic-oracle-v8-15",
    "elastic-pipeline-v9",
];

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The keys of a version's default configuration of a data source, in order.
fn default_keys(version: &str, service_type: &str) -> Vec<String> {
    let path = root()
        .join("tests/fixtures/elastic")
        .join(version)
        .join(format!("{service_type}.json"));
    read_json(&path)
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn keys(doc: &Value) -> Vec<String> {
    doc["configuration"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// A fleet whose connectors service last ran `declared`, with the stack at `stack`, every
/// Elastic plugin and the specs.
fn fleet(declared: &str, stack: &str) -> Fleet {
    let enterprise_search = if stack.starts_with('9') {
        "none"
    } else {
        stack
    };
    let fleet = Fleet::new(&format!(
        "[elastic]\nconnectors_service = \"{declared}\"\ntarget = \"9.0.0\"\n[elastic.stack]\nelasticsearch = \"{stack}\"\nkibana = \"{stack}\"\nenterprise_search = \"{enterprise_search}\"\n"
    ));
    for p in ELASTIC_PLUGINS {
        fleet.add_plugin(p);
    }
    fleet.add_elastic_specs();
    fleet
}

/// The example fleet's connectors and settings, its stack at `stack`.
fn example(stack: &str) -> Fleet {
    let src = root().join("examples/elastic-fleet");
    let settings = std::fs::read_to_string(src.join("cutover.toml")).unwrap();
    let settings = settings
        .replace(
            "elasticsearch = \"8.7.0\"",
            &format!("elasticsearch = \"{stack}\""),
        )
        .replace("kibana = \"8.7.0\"", &format!("kibana = \"{stack}\""))
        .replace(
            "enterprise_search = \"8.7.0\"",
            if stack.starts_with('9') {
                "enterprise_search = \"none\""
            } else {
                "enterprise_search = \"8.7.0\""
            },
        );
    let fleet = Fleet::new(&settings);
    for entry in std::fs::read_dir(src.join("connections")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(
            entry.path(),
            fleet.path().join("connections").join(entry.file_name()),
        )
        .unwrap();
    }
    for p in ELASTIC_PLUGINS {
        fleet.add_plugin(p);
    }
    fleet.add_elastic_specs();
    fleet
}

#[test]
fn every_elastic_plugin_passes_its_golden_fixtures_against_both_versions_defaults() {
    plugin("elastic-mysql-v8-8"); // builds every plugin once, up front
    let crates = elastic_plugin_crates();
    assert_eq!(
        crates.len(),
        ELASTIC_PLUGINS.len(),
        "plugins/elastic holds the five migrations"
    );
    let failures = golden_failures(
        BIN,
        &crates,
        "migrated configs checked against the default configurations in",
        |_, _| None,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn an_8_7_fleet_with_the_stack_on_8_7_is_refused_naming_what_to_upgrade() {
    let fleet = example("8.7.0");
    let before = fleet.documents();
    let plan = cutover(BIN, fleet.path(), &["plan", "--all", "--json"]).json();
    for c in plan["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"] != "reporting-mysql")
    {
        assert_eq!(c["status"], "blocked", "{c}");
        let reason = c["reason"].as_str().unwrap();
        for want in [
            "Elasticsearch 8.7.0 → >=9.0.0",
            "then Enterprise Search 8.7.0 → >=8.8.0",
            "then Kibana 8.7.0 → >=9.0.0",
            "connectors service is upgraded last",
        ] {
            assert!(reason.contains(want), "{want:?} not in {reason}");
        }
    }
    let run = cutover(BIN, fleet.path(), &["apply", "--all"]).expect(2);
    assert!(
        run.stderr.contains("Nothing was written")
            && run.stderr.contains("upgrade the stack first"),
        "{}",
        run.stderr
    );
    assert_eq!(fleet.documents(), before);
    assert!(
        !fleet.path().join(".cutover/ledger.sqlite").exists()
            || cutover(BIN, fleet.path(), &["history", "--json"])
                .json()
                .as_array()
                .unwrap()
                .is_empty()
    );
}

#[test]
fn with_the_stack_upgraded_the_chain_to_9_applies_once_and_rolls_back_byte_for_byte() {
    let fleet = example("9.0.0");
    let before = fleet.documents();
    let plan = cutover(BIN, fleet.path(), &["plan", "--all", "--json"]).json();
    let crm = plan["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "crm-mysql")
        .unwrap()
        .clone();
    assert_eq!(crm["status"], "migrate");
    let plugins: Vec<&str> = crm["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["plugin"]["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        plugins,
        ["elastic_mysql_v8_8.wasm", "elastic_pipeline_v9.wasm"]
    );
    assert!(crm["notes"].as_array().unwrap().iter().any(|n| {
        n.as_str()
            .unwrap()
            .contains("will be canceled: full sync (scheduled, pending)")
    }));
    let text = serde_json::to_string(&plan).unwrap();
    assert!(!text.contains("s3cr3t-crm"), "a plan never shows a secret");

    cutover(BIN, fleet.path(), &["apply", "--all"]).expect(0);
    let doc = fleet.read("crm-mysql");
    assert_eq!(
        keys(&doc),
        default_keys("9.0.0", "mysql"),
        "exactly 9.0's fields"
    );
    let value = |key: &str| doc["configuration"][key]["value"].clone();
    assert_eq!(value("host"), "db.crm.internal");
    assert_eq!(value("port"), 3306);
    assert_eq!(value("password"), "s3cr3t-crm");
    assert_eq!(value("database"), "crm");
    assert_eq!(
        value("ssl_enabled"),
        true,
        "8.7's ssl_disabled = false, inverted"
    );
    assert_eq!(value("tables"), "*");
    assert_eq!(value("fetch_size"), 100);
    assert_eq!(doc["pipeline"]["name"], "search-default-ingestion");
    assert_eq!(
        doc["pending_sync_jobs"],
        json!([]),
        "the job holding the old configuration is canceled"
    );
    assert_eq!(
        fleet.read("orders-mysql")["pipeline"]["name"],
        "orders-enrich",
        "a custom pipeline stays"
    );
    assert_eq!(
        fleet.read("reporting-mysql"),
        serde_json::from_slice::<Value>(&before["reporting-mysql.json"]).unwrap(),
        "pinned"
    );

    // The declaration still says 8.7; the ledger knows better, and nothing runs twice.
    let again = cutover(BIN, fleet.path(), &["plan", "--all", "--json"]).json();
    let crm = again["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "crm-mysql")
        .unwrap()
        .clone();
    assert_eq!(
        (crm["status"].as_str(), crm["from"].as_str()),
        (Some("up-to-date"), Some("9.0.0"))
    );
    assert!(crm["reason"].as_str().unwrap().contains("by run 1"));
    let migrated = fleet.documents();
    let run = cutover(BIN, fleet.path(), &["apply", "--all"]).expect(0);
    assert!(run.stdout.contains("No changes"), "{}", run.stdout);
    assert_eq!(fleet.documents(), migrated);

    cutover(BIN, fleet.path(), &["rollback"]).expect(0);
    assert_eq!(fleet.documents(), before, "every document byte for byte");
    let after = cutover(BIN, fleet.path(), &["plan", "--all", "--json"]).json();
    assert!(
        after["connections"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["id"] != "reporting-mysql")
            .all(|c| c["from"] == "8.7.0" && c["status"] == "migrate")
    );
}

/// Each plugin's golden inputs, in a fleet at the version they are valid for, go to 9.0
/// through every plugin on the way: SharePoint through 8.9 (becoming sharepoint_server or
/// sharepoint_online, whose plugins take over), GitHub through 8.10, Oracle through 8.15.
#[test]
fn chains_across_plugins_hand_over_to_the_new_service_type() {
    let cases: [(&str, &str, &[&str], &[(&str, &str)]); 3] = [
        (
            "8.8.0",
            "sharepoint-v8-9",
            &["elastic_sharepoint_v8_9.wasm", "elastic_pipeline_v9.wasm"],
            &[
                ("server", "sharepoint_server"),
                ("online", "sharepoint_online"),
            ],
        ),
        (
            "8.9.0",
            "github-v8-10",
            &["elastic_github_v8_10.wasm", "elastic_pipeline_v9.wasm"],
            &[
                ("token-and-repositories", "github"),
                ("every-repository", "github"),
            ],
        ),
        (
            "8.14.0",
            "oracle-v8-15",
            &["elastic_oracle_v8_15.wasm", "elastic_pipeline_v9.wasm"],
            &[("sid", "oracle"), ("tcps-wallet", "oracle")],
        ),
    ];
    for (declared, crate_dir, chain, inputs) in cases {
        let fleet = fleet(declared, "9.0.0");
        for (case, _) in inputs {
            let input = read_json(
                &root()
                    .join("plugins/elastic")
                    .join(crate_dir)
                    .join("fixtures")
                    .join(case)
                    .join("input.json"),
            );
            fleet.write(&input);
        }
        let before = fleet.documents();
        let plan = cutover(BIN, fleet.path(), &["plan", "--all", "--json"]).json();
        for c in plan["connections"].as_array().unwrap() {
            assert_eq!(c["status"], "migrate", "{c}");
            let files: Vec<&str> = c["steps"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|s| s["plugin"]["file"].as_str())
                .collect();
            assert_eq!(files, chain, "{}", c["id"]);
        }
        cutover(BIN, fleet.path(), &["apply", "--all"]).expect(0);
        for (case, service_type) in inputs {
            let id = read_json(
                &root()
                    .join("plugins/elastic")
                    .join(crate_dir)
                    .join("fixtures")
                    .join(case)
                    .join("input.json"),
            )["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let doc = fleet.read(&id);
            assert_eq!(doc["service_type"], *service_type, "{id}");
            assert_eq!(doc["pipeline"]["name"], "search-default-ingestion", "{id}");
            // The plugin step's output is its version's configuration exactly; 9.0 adds
            // fields of its own the connectors service fills in when it starts.
            let produced = chain[0]
                .trim_start_matches("elastic_")
                .trim_end_matches(".wasm");
            let version = match produced {
                "sharepoint_v8_9" => "8.9.0",
                "github_v8_10" => "8.10.0",
                _ => "8.15.0",
            };
            assert_eq!(keys(&doc), default_keys(version, service_type), "{id}");
        }
        cutover(BIN, fleet.path(), &["rollback"]).expect(0);
        assert_eq!(fleet.documents(), before);
    }
}

fn golden_input(crate_dir: &str, case: &str) -> Value {
    read_json(
        &root()
            .join("plugins/elastic")
            .join(crate_dir)
            .join("fixtures")
            .join(case)
            .join("input.json"),
    )
}

/// The advanced sync rules of a connector document, active and draft.
fn advanced_rules(doc: &Value) -> (Value, Value) {
    let filter = &doc["filtering"][0];
    (
        filter["active"]["advanced_snippet"]["value"].clone(),
        filter["draft"]["advanced_snippet"]["value"].clone(),
    )
}

#[test]
fn mysql_advanced_rules_are_rewritten_for_8_8_kept_by_9_0_and_rolled_back_byte_for_byte() {
    let fleet = fleet("8.7.0", "9.0.0");
    let input = golden_input("mysql-v8-8", "advanced-rules-one-database");
    fleet.write(&input);
    fleet.write(&read_json(
        &root().join("examples/elastic-fleet/connections/crm-mysql.json"),
    ));
    let before = fleet.documents();

    let plan = cutover(BIN, fleet.path(), &["plan", "--all", "--json"]).json();
    let sales = plan["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "sales-mysql")
        .unwrap()
        .clone();
    assert_eq!(sales["status"], "migrate", "{sales}");
    let notes: Vec<&str> = sales["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes.iter().any(|n| n.contains(
            "advanced sync rules (active and draft) rewritten into 8.8's list: one query per table of sales (orders, customers)"
        )),
        "the plan names the rewrite: {notes:?}"
    );
    let text = cutover(BIN, fleet.path(), &["plan", "--all"]).expect(0);
    assert!(
        text.stdout.contains("rewritten into 8.8's list"),
        "{}",
        text.stdout
    );
    let crm = plan["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "crm-mysql")
        .unwrap();
    assert!(
        !crm["notes"].to_string().contains("sync rules"),
        "a connector without rules hears nothing of them: {crm}"
    );

    cutover(BIN, fleet.path(), &["apply", "--all"]).expect(0);
    let doc = fleet.read("sales-mysql");
    let want = json!([
        {"tables": ["orders"], "query": "SELECT * FROM sales.orders WHERE status = 'open'"},
        {"tables": ["customers"], "query": "SELECT id, name, country FROM customers WHERE active = 1"}
    ]);
    assert_eq!(
        advanced_rules(&doc),
        (want.clone(), want),
        "8.8's list, active and draft in step, kept by 9.0"
    );
    assert_eq!(
        doc["filtering"][0]["active"]["rules"], input["filtering"][0]["active"]["rules"],
        "a basic rule on Table means the same in 8.8"
    );
    assert_eq!(
        doc["filtering"][0]["active"]["validation"],
        json!({"errors": [], "state": "valid"})
    );
    assert_eq!(doc["pipeline"]["name"], "search-default-ingestion");

    cutover(BIN, fleet.path(), &["rollback"]).expect(0);
    assert_eq!(fleet.documents(), before, "every document byte for byte");
}

#[test]
fn sync_rules_a_step_cannot_carry_refuse_the_connector_naming_them_and_nothing_is_written() {
    let cases: [(&str, &str, &str, &[&str]); 3] = [
        (
            "8.7.0",
            "mysql-v8-8",
            "refused-rules-of-another-database",
            &[
                "connector sales-mysql (mysql)",
                "draft sync rules: they select rows of database finance",
                "8.8 syncs its one database, sales",
            ],
        ),
        (
            "8.7.0",
            "mysql-v8-8",
            "refused-basic-rule-on-an-8-7-field",
            &[
                "rule internal-mail (exclude sales_customers_email ends_with",
                "8.8 names it by the column alone",
            ],
        ),
        (
            "8.9.0",
            "github-v8-10",
            "refused-advanced-rules-8-10-rejects",
            &[
                "connector api-github (github)",
                "active and draft sync rules: they are an object, not a list",
                "8.10 validates them before every sync",
            ],
        ),
    ];
    for (declared, crate_dir, case, wants) in cases {
        let fleet = fleet(declared, "9.0.0");
        let input = golden_input(crate_dir, case);
        fleet.write(&input);
        let before = fleet.documents();
        let plan = cutover(BIN, fleet.path(), &["plan", "--all", "--json"]).json();
        let c = &plan["connections"][0];
        assert_eq!(c["status"], "failed", "{case}: {c}");
        let reason = c["reason"].as_str().unwrap();
        let run = cutover(BIN, fleet.path(), &["apply", "--all"]).expect(1);
        for want in wants {
            assert!(
                reason.contains(want),
                "{case}: {want:?} not in the plan: {reason}"
            );
            assert!(
                run.stdout.contains(want),
                "{case}: {want:?} not in:\n{}",
                run.stdout
            );
        }
        assert!(
            run.stdout
                .contains(&format!("failed {}", input["id"].as_str().unwrap())),
            "{}",
            run.stdout
        );
        assert_eq!(fleet.documents(), before, "{case}: nothing written");
    }
}

#[test]
fn every_other_step_keeps_sync_rules_and_says_what_now_applies() {
    // GitHub 8.9 → 8.10 → 9.0: advanced rules 8.10 accepts are kept, with a note that they
    // now select what syncs; a basic rule on a renamed field is left to review.
    let github_fleet = fleet("8.9.0", "9.0.0");
    let github = golden_input("github-v8-10", "advanced-rules-adopted");
    github_fleet.write(&github);
    let plan = cutover(BIN, github_fleet.path(), &["plan", "--all", "--json"]).json();
    let c = &plan["connections"][0];
    assert!(
        c["notes"]
            .to_string()
            .contains("8.10 validates them before each sync"),
        "{c}"
    );
    let reviews: Vec<&Value> = c["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a.to_string().contains("/filtering/0/"))
        .collect();
    assert_eq!(reviews.len(), 2, "active and draft: {c}");
    assert!(
        reviews[0].to_string().contains("rule no-archive")
            && !reviews[0].to_string().contains("rule recent"),
        "{}",
        reviews[0]
    );
    cutover(BIN, github_fleet.path(), &["apply", "--all"]).expect(0);
    assert_eq!(
        github_fleet.read("api-github")["filtering"],
        github["filtering"]
    );

    // SharePoint Online 8.8 → 8.9 → 9.0, Oracle 8.14 → 8.15 → 9.0: kept byte for byte.
    for (declared, crate_dir, case) in [
        ("8.8.0", "sharepoint-v8-9", "online-with-sync-rules"),
        ("8.14.0", "oracle-v8-15", "sync-rules-kept"),
    ] {
        let fleet = fleet(declared, "9.0.0");
        let input = golden_input(crate_dir, case);
        fleet.write(&input);
        let before = fleet.documents();
        cutover(BIN, fleet.path(), &["apply", "--all"]).expect(0);
        let id = input["id"].as_str().unwrap();
        assert_eq!(fleet.read(id)["filtering"], input["filtering"], "{case}");
        cutover(BIN, fleet.path(), &["rollback"]).expect(0);
        assert_eq!(fleet.documents(), before, "{case}");
    }
}

#[test]
fn bad_documents_are_refused_naming_the_connector_and_field_and_nothing_is_written() {
    let base = read_json(&root().join("examples/elastic-fleet/connections/inventory-mysql.json"));
    let variant = |id: &str, f: &dyn Fn(&mut Value)| {
        let mut doc = base.clone();
        doc["id"] = json!(id);
        f(&mut doc);
        doc
    };
    let bad: [(Value, &[&str]); 4] = [
        (
            variant("no-type", &|d| {
                d.as_object_mut().unwrap().remove("service_type");
            }),
            &["connector no-type", "service_type\" is missing"],
        ),
        (
            variant("typo-type", &|d| d["service_type"] = json!("mysqll")),
            &[
                "connector typo-type (mysqll)",
                "\"mysqll\" is not a data source of the connectors service 8.7.0",
            ],
        ),
        (
            variant("wrong-port", &|d| {
                d["configuration"]["port"]["value"] = json!("three thousand")
            }),
            &[
                "connector wrong-port (mysql)",
                "configuration field port is a int field but holds \"three thousand\"",
            ],
        ),
        (
            variant(
                "running-job",
                &|d| d["pending_sync_jobs"] = json!([{"job_type": "full", "trigger_method": "on_demand", "status": "in_progress"}]),
            ),
            &["connector running-job (mysql)", "is running", "stop it"],
        ),
    ];
    for (doc, wants) in bad {
        let fleet = fleet("8.7.0", "9.0.0");
        fleet.write(&read_json(
            &root().join("examples/elastic-fleet/connections/crm-mysql.json"),
        ));
        fleet.write(&doc);
        let before = fleet.documents();
        let run = cutover(BIN, fleet.path(), &["apply", "--all"]).expect(2);
        for want in wants {
            assert!(
                run.stderr.contains(want),
                "{want:?} not in:\n{}",
                run.stderr
            );
        }
        assert!(run.stderr.contains("Nothing was written"), "{}", run.stderr);
        assert_eq!(fleet.documents(), before, "{}", doc["id"]);
    }
}

#[test]
fn an_elastic_connector_is_pinned_in_the_settings() {
    let fleet = example("9.0.0");
    let run = cutover(
        BIN,
        fleet.path(),
        &["pin", "crm-mysql", "--reason", "later"],
    )
    .expect(2);
    assert!(
        run.stderr.contains("[elastic.pins]") && run.stderr.contains("crm-mysql = \"later\""),
        "{}",
        run.stderr
    );
    let plan = cutover(BIN, fleet.path(), &["plan", "--json"]).json();
    let by_id: BTreeMap<&str, &str> = plan["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(by_id["reporting-mysql"], "pinned");
    assert_eq!(by_id["crm-mysql"], "needs-opt-in");
}

#[test]
fn a_new_elastic_plugin_builds_and_passes_its_fixture_and_its_own_test() {
    let dir = tempfile::tempdir().unwrap();
    let run = cutover_in_workspace(
        BIN,
        &[
            "plugin",
            "new",
            "elastic/box",
            "9.1.0",
            "--dir",
            dir.path().to_str().unwrap(),
        ],
    )
    .expect(0);
    let crate_dir = dir.path().join("elastic-box-v9-1");
    assert!(run.stdout.contains("Created"), "{}", run.stdout);
    // It depends on the SDK by version: the packaged SDK stands in for the published one.
    cutover_tests::use_packaged_sdk(&crate_dir);
    let lib = std::fs::read_to_string(crate_dir.join("src/lib.rs")).unwrap();
    assert!(
        lib.contains("impl ConnectorMigration for Plugin")
            && lib.contains("export_connector!(Plugin)"),
        "{lib}"
    );
    let run = cutover_in_workspace(BIN, &["plugin", "test", crate_dir.to_str().unwrap()]).expect(0);
    assert!(
        run.stdout.contains("elastic/box >=9.0.0, <9.1.0 → 9.1.0")
            && run.stdout.contains("1 case(s): 1 passed, 0 failed"),
        "{}",
        run.stdout
    );
    let native =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["test", "--quiet", "--manifest-path"])
            .arg(crate_dir.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(cutover_tests::plugin_target_dir().with_file_name("scaffold"))
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
}
