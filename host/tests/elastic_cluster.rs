//! The Elastic backend against a double of the Connector API over real HTTP on 127.0.0.1,
//! every request checked against Elasticsearch's own REST API specs: documents read as a
//! directory fleet holds them, the migration the planner made written part by part in the
//! server's order and rolled back byte for byte (canceled jobs queued again), conflicts
//! caught by `_seq_no` before and during a write, a write cut part-way settled, and writes
//! the API cannot make refused before anything is sent.

use cutover::store::elastic::ElasticDocuments;
use cutover::store::{Documents, Settled, StoreError, Write};
use cutover_doubles::elastic::{ElasticDouble, Fault};
use cutover_tests::{Fleet, cutover, cutover_with_env, root};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

/// A double holding the example fleet's connectors and their jobs, with the API key it
/// takes and the environment variable (of this test's own) holding it.
fn double() -> (ElasticDouble, String, String) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let key = format!("test-key-{}", N.fetch_add(1, Ordering::SeqCst));
    let var = format!("CUTOVER_TEST_ELASTIC_KEY_{key}")
        .replace('-', "_")
        .to_uppercase();
    let double = ElasticDouble::start(&key).unwrap();
    for doc in example_documents() {
        double.put_connector(&doc);
        for job in doc["pending_sync_jobs"].as_array().unwrap() {
            double.queue_job(
                doc["id"].as_str().unwrap(),
                job["job_type"].as_str().unwrap(),
                job["trigger_method"].as_str().unwrap(),
                job["status"].as_str().unwrap(),
            );
        }
    }
    (double, key, var)
}

/// The double and the backend on it.
fn cluster() -> (ElasticDouble, ElasticDocuments) {
    let (double, key, var) = double();
    // SAFETY: each test sets a variable of its own, read once when the backend opens.
    unsafe { std::env::set_var(&var, &key) };
    let settings = toml::from_str(&format!(
        "url = \"{}\"\napi_key_env = \"{var}\"\ntimeout_ms = 5000\nattempts = 2\n",
        double.url()
    ))
    .unwrap();
    (double, ElasticDocuments::open(&settings).unwrap())
}

/// A fleet directory whose documents are the double's connectors: the example fleet's
/// settings with the stack upgraded and `[elastic] url`, its plugins and specs.
fn cluster_fleet(double: &ElasticDouble, var: &str) -> Fleet {
    let settings = std::fs::read_to_string(root().join("examples/elastic-fleet/cutover.toml"))
        .unwrap()
        .replace(
            "target = \"9.0.0\"",
            &format!(
                "target = \"9.0.0\"\nurl = \"{}\"\napi_key_env = \"{var}\"\nattempts = 2",
                double.url()
            ),
        )
        .replace("elasticsearch = \"8.7.0\"", "elasticsearch = \"9.0.0\"")
        .replace("kibana = \"8.7.0\"", "kibana = \"9.0.0\"")
        .replace(
            "enterprise_search = \"8.7.0\"",
            "enterprise_search = \"none\"",
        );
    let fleet = Fleet::new(&settings);
    std::fs::remove_dir(fleet.path().join("connections")).unwrap();
    for p in ["elastic-mysql-v8-8", "elastic-pipeline-v9"] {
        fleet.add_plugin(p);
    }
    fleet.add_elastic_specs();
    fleet
}

/// Every connector as the cluster holds it now, by id.
fn held(cluster: &ElasticDocuments) -> Vec<(String, String)> {
    cluster
        .keys()
        .unwrap()
        .into_iter()
        .map(|k| (k.clone(), text(&cluster.read(&k).unwrap())))
        .collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn example_documents() -> Vec<Value> {
    let dir = root().join("examples/elastic-fleet/connections");
    let mut docs: Vec<Value> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    docs.sort_by_key(|d| d["id"].as_str().unwrap().to_owned());
    docs
}

/// The example fleet applied to 9.0 in a directory: each document's bytes before and after.
fn migrated_in_a_directory() -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let settings = std::fs::read_to_string(root().join("examples/elastic-fleet/cutover.toml"))
        .unwrap()
        .replace("elasticsearch = \"8.7.0\"", "elasticsearch = \"9.0.0\"")
        .replace("kibana = \"8.7.0\"", "kibana = \"9.0.0\"")
        .replace(
            "enterprise_search = \"8.7.0\"",
            "enterprise_search = \"none\"",
        );
    let fleet = Fleet::new(&settings);
    for doc in example_documents() {
        fleet.write_raw(
            &format!("{}.json", doc["id"].as_str().unwrap()),
            &std::fs::read(
                root()
                    .join("examples/elastic-fleet/connections")
                    .join(format!("{}.json", doc["id"].as_str().unwrap())),
            )
            .unwrap(),
        );
    }
    for p in ["elastic-mysql-v8-8", "elastic-pipeline-v9"] {
        fleet.add_plugin(p);
    }
    fleet.add_elastic_specs();
    let before = fleet.documents();
    cutover(BIN, fleet.path(), &["apply", "--all"]).expect(0);
    let after = fleet.documents();
    before
        .into_iter()
        .map(|(k, b)| (k.trim_end_matches(".json").to_owned(), b, after[&k].clone()))
        .collect()
}

#[test]
fn reads_each_connector_as_the_directory_fleet_holds_it() {
    let (_double, cluster) = cluster();
    let keys = cluster.keys().unwrap();
    assert_eq!(
        keys,
        [
            "crm-mysql",
            "inventory-mysql",
            "orders-mysql",
            "reporting-mysql"
        ]
    );
    for key in &keys {
        let file = std::fs::read(
            root()
                .join("examples/elastic-fleet/connections")
                .join(format!("{key}.json")),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(cluster.read(key).unwrap()).unwrap(),
            String::from_utf8(file).unwrap(),
            "{key}"
        );
    }
    assert_eq!(cluster.display_key("crm-mysql"), "connector crm-mysql");
    assert!(
        cluster
            .summary()
            .starts_with("Elasticsearch http://127.0.0.1:")
    );
    let missing = cluster.read("nope").unwrap_err();
    assert!(
        matches!(
            missing.downcast_ref::<StoreError>(),
            Some(StoreError::NotFound { .. })
        ),
        "{missing:#}"
    );
}

#[test]
fn lists_every_connector_page_by_page() {
    let (double, cluster) = cluster();
    let base = &example_documents()[1];
    for i in 0..230 {
        let mut doc = base.clone();
        doc["id"] = json!(format!("bulk-{i:03}"));
        doc["index_name"] = json!(format!("search-bulk-{i:03}"));
        double.put_connector(&doc);
    }
    assert_eq!(cluster.keys().unwrap().len(), 234);
    assert!(
        double
            .calls()
            .iter()
            .filter(|c| *c == "connector.list")
            .count()
            >= 3
    );
}

#[test]
fn writes_the_planned_migration_in_the_servers_order_and_rolls_it_back_byte_for_byte() {
    let (double, cluster) = cluster();
    let migrations = migrated_in_a_directory();
    let mut writer = cluster.writer().unwrap();
    for (key, before, after) in &migrations {
        assert_eq!(
            text(&cluster.read(key).unwrap()),
            text(before),
            "{key}: the plan's input is what the cluster holds"
        );
        let write = Write {
            key,
            before,
            after,
            actions: &[],
        };
        let mut replaced = Vec::new();
        let results = writer.write_batch(&[write], &mut |i| replaced.push(i));
        assert!(
            results[0].is_ok(),
            "{key}: {:#}",
            results[0].as_ref().unwrap_err()
        );
        assert_eq!(
            text(&cluster.read(key).unwrap()),
            text(after),
            "{key}: the cluster holds the migrated document"
        );
    }
    let crm: Vec<String> = double
        .requests()
        .iter()
        .filter(|(_, path, _)| path.contains("crm-mysql") || path.contains("_sync_job"))
        .map(|(api, ..)| api.clone())
        .collect();
    let writes: Vec<&str> = crm
        .iter()
        .map(String::as_str)
        .filter(|a| !a.ends_with(".get") && *a != "get" && !a.ends_with("_list"))
        .collect();
    assert_eq!(
        writes,
        [
            "connector.sync_job_cancel",
            "connector.update_configuration",
            "connector.update_pipeline",
            "connector.update_status"
        ]
    );
    let stored = double.connector("crm-mysql").unwrap();
    assert_eq!(
        stored.source["status"], "connected",
        "the status the configuration write reset is put back"
    );
    assert_eq!(stored.source["configuration"]["ssl_enabled"]["value"], true);
    assert!(
        double
            .jobs("crm-mysql")
            .iter()
            .all(|j| j.source["status"] == "canceling"),
        "the job holding the old configuration is canceled"
    );

    // Rollback: each snapshot written back the same way.
    for (key, before, after) in &migrations {
        let results = writer.write_batch(
            &[Write {
                key,
                before: after,
                after: before,
                actions: &[],
            }],
            &mut |_| {},
        );
        assert!(
            results[0].is_ok(),
            "{key}: {:#}",
            results[0].as_ref().unwrap_err()
        );
        assert_eq!(
            text(&cluster.read(key).unwrap()),
            text(before),
            "{key}: restored byte for byte"
        );
    }
    let jobs = double.jobs("crm-mysql");
    assert_eq!(
        jobs.iter()
            .filter(|j| j.source["status"] == "pending")
            .count(),
        1,
        "the canceled job is queued again"
    );
    let queued = jobs
        .iter()
        .find(|j| j.source["status"] == "pending")
        .unwrap();
    assert_eq!(
        queued.source["connector"]["configuration"]["ssl_disabled"]["value"], "false",
        "with the restored configuration"
    );
}

#[test]
fn a_connector_changed_since_the_plan_or_during_the_write_is_a_conflict() {
    let (double, cluster) = cluster();
    let migrations = migrated_in_a_directory();
    let (key, before, after) = migrations
        .iter()
        .find(|(k, ..)| k == "inventory-mysql")
        .unwrap();
    let mut writer = cluster.writer().unwrap();

    // Changed before: nothing is sent.
    let mut changed = serde_json::from_slice::<Value>(before).unwrap();
    changed["name"] = json!("Inventory (renamed)");
    double.put_connector(&changed);
    let sent = double.calls().len();
    let result = writer.write_batch(
        &[Write {
            key,
            before,
            after,
            actions: &[],
        }],
        &mut |_| panic!("not replaced"),
    );
    let err = result.into_iter().next().unwrap().unwrap_err();
    assert!(
        matches!(
            err.downcast_ref::<StoreError>(),
            Some(StoreError::Conflict { .. })
        ),
        "{err:#}"
    );
    assert!(
        double.calls()[sent..]
            .iter()
            .all(|c| c == "get" || c.ends_with("_list") || c == "connector.get"),
        "only reads: {:?}",
        &double.calls()[sent..]
    );

    // Changed during: another client writes between cutover's requests; the _seq_no shows it.
    let original = serde_json::from_slice::<Value>(before).unwrap();
    double.put_connector(&original);
    double.inject(
        "connector.update_pipeline",
        Fault::WriteBefore {
            connector: "inventory-mysql".into(),
            field: "last_seen".into(),
            value: json!("2026-01-01T00:00:00Z"),
        },
    );
    let result = writer.write_batch(
        &[Write {
            key,
            before,
            after,
            actions: &[],
        }],
        &mut |_| {},
    );
    let err = result.into_iter().next().unwrap().unwrap_err();
    assert!(
        matches!(err.downcast_ref::<StoreError>(), Some(StoreError::Conflict { detail, .. }) if detail.contains("_seq_no")),
        "{err:#}"
    );
    // Settling finds a part that is neither old nor new: someone else's.
    let settled = writer
        .settle(&Write {
            key,
            before,
            after,
            actions: &[],
        })
        .unwrap();
    assert_eq!(settled, Settled::Conflict);
}

#[test]
fn a_write_cut_part_way_is_finished_at_the_next_run() {
    let (double, cluster) = cluster();
    let migrations = migrated_in_a_directory();
    let (key, before, after) = migrations.iter().find(|(k, ..)| k == "crm-mysql").unwrap();
    let mut writer = cluster.writer().unwrap();
    double.inject("connector.update_pipeline", Fault::Unavailable);
    double.inject("connector.update_pipeline", Fault::Unavailable);
    let result = writer.write_batch(
        &[Write {
            key,
            before,
            after,
            actions: &[],
        }],
        &mut |_| panic!("not replaced"),
    );
    let err = result.into_iter().next().unwrap().unwrap_err();
    assert!(
        matches!(
            err.downcast_ref::<StoreError>(),
            Some(StoreError::Partial { .. })
        ),
        "{err:#}"
    );
    let held = cluster.read(key).unwrap();
    assert!(&held != before && &held != after, "part of it is written");
    assert_eq!(
        writer
            .settle(&Write {
                key,
                before,
                after,
                actions: &[]
            })
            .unwrap(),
        Settled::Written
    );
    assert_eq!(text(&cluster.read(key).unwrap()), text(after));
}

#[test]
fn a_change_the_api_cannot_write_is_refused_before_anything_is_sent() {
    let (double, cluster) = cluster();
    let key = "orders-mysql";
    let before = cluster.read(key).unwrap();
    let mut after: Value = serde_json::from_slice(&before).unwrap();
    after["index_name"] = json!("search-orders-v2");
    let after = cutover::elastic::connector::pretty_with_newline(after.as_object().unwrap());
    let sent = double.calls().len();
    let mut writer = cluster.writer().unwrap();
    let err = writer
        .write_batch(
            &[Write {
                key,
                before: &before,
                after: &after,
                actions: &[],
            }],
            &mut |_| {},
        )
        .into_iter()
        .next()
        .unwrap()
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("index_name")
            && format!("{err:#}").contains("nothing was sent"),
        "{err:#}"
    );
    assert_eq!(double.calls().len(), sent);
}

#[test]
fn the_api_key_comes_from_the_environment_and_is_never_shown() {
    let settings: cutover::elastic::ElasticSettings =
        toml::from_str("url = \"http://127.0.0.1:9\"\napi_key_env = \"CUTOVER_TEST_UNSET_KEY\"\n")
            .unwrap();
    let err = ElasticDocuments::open(&settings).err().unwrap().to_string();
    assert!(
        err.contains("CUTOVER_TEST_UNSET_KEY") && err.contains("not set"),
        "{err}"
    );
    let (double, _) = cluster();
    // SAFETY: a variable of this test's own.
    unsafe { std::env::set_var("CUTOVER_TEST_WRONG_KEY", "not-the-key") };
    let wrong: cutover::elastic::ElasticSettings = toml::from_str(&format!(
        "url = \"{}\"\napi_key_env = \"CUTOVER_TEST_WRONG_KEY\"\n",
        double.url()
    ))
    .unwrap();
    let err = format!(
        "{:#}",
        ElasticDocuments::open(&wrong).unwrap().keys().unwrap_err()
    );
    assert!(
        err.contains("manage_connector") && !err.contains("not-the-key"),
        "{err}"
    );
}

#[test]
fn a_fleet_on_a_cluster_plans_applies_once_and_rolls_back_through_the_cli() {
    let (double, key, var) = double();
    let fleet = cluster_fleet(&double, &var);
    let env = [(var.as_str(), key.as_str())];
    let run =
        |args: &[&str], code: i32| cutover_with_env(BIN, fleet.path(), args, &env).expect(code);
    // SAFETY: this test's own variable, for reading the cluster from the test itself.
    unsafe { std::env::set_var(&var, &key) };
    let settings = toml::from_str(&format!(
        "url = \"{}\"\napi_key_env = \"{var}\"\n",
        double.url()
    ))
    .unwrap();
    let cluster = ElasticDocuments::open(&settings).unwrap();
    let before = held(&cluster);

    let plan = run(&["plan", "--all", "--json"], 0).json();
    let statuses: Vec<(&str, &str)> = plan["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("crm-mysql", "migrate"),
            ("inventory-mysql", "migrate"),
            ("orders-mysql", "migrate"),
            ("reporting-mysql", "pinned")
        ]
    );
    let text_plan = run(&["plan", "--all"], 0).stdout;
    assert!(
        text_plan.contains("for fleet elasticsearch http://127.0.0.1:"),
        "{text_plan}"
    );
    assert!(
        !text_plan.contains("s3cr3t-crm") && !text_plan.contains(&key),
        "no secret in a plan"
    );

    run(&["apply", "--all"], 0);
    let crm = double.connector("crm-mysql").unwrap().source;
    assert_eq!(crm["configuration"]["ssl_enabled"]["value"], true);
    assert_eq!(crm["pipeline"]["name"], "search-default-ingestion");
    assert_eq!(crm["status"], "connected");
    assert!(
        double
            .jobs("crm-mysql")
            .iter()
            .all(|j| j.source["status"] == "canceling")
    );
    let migrated = held(&cluster);

    // The ledger in the fleet directory knows the cluster's connectors are at 9.0.
    let again = run(&["plan", "--all", "--json"], 0).json();
    assert!(
        again["connections"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["id"] != "reporting-mysql")
            .all(|c| c["status"] == "up-to-date"),
        "{again}"
    );
    assert!(run(&["apply", "--all"], 0).stdout.contains("No changes"));
    assert_eq!(held(&cluster), migrated);

    run(&["rollback"], 0);
    let restored = held(&cluster);
    for ((k, a), (_, b)) in restored.iter().zip(&before) {
        assert_eq!(a, b, "{k}: restored byte for byte");
    }
    assert!(
        !std::fs::read_to_string(fleet.path().join("cutover.toml"))
            .unwrap()
            .contains(&key),
        "the key is never stored"
    );
}

#[test]
fn an_apply_cut_part_way_is_finished_by_the_next_run() {
    let (double, key, var) = double();
    let fleet = cluster_fleet(&double, &var);
    let env = [(var.as_str(), key.as_str())];
    // The cluster goes away in the middle of the first connector's write, for both attempts.
    double.inject("connector.update_pipeline", Fault::Unavailable);
    double.inject("connector.update_pipeline", Fault::Unavailable);
    let first = cutover_with_env(BIN, fleet.path(), &["apply", "--all"], &env).expect(1);
    assert!(
        first.stdout.contains("crm-mysql")
            && (first.stdout.contains("written only in part")
                || first.stderr.contains("written only in part")),
        "{}\n{}",
        first.stdout,
        first.stderr
    );
    let cut = double.connector("crm-mysql").unwrap().source;
    assert_eq!(
        cut["configuration"]["ssl_enabled"]["value"], true,
        "the configuration went through"
    );
    assert_eq!(
        cut["pipeline"]["name"], "ent-search-generic-ingestion",
        "the pipeline did not"
    );
    // The next run finishes it before anything else, and the connector is not migrated twice.
    let second = cutover_with_env(BIN, fleet.path(), &["apply", "--all"], &env).expect(0);
    assert!(
        second.stdout.contains("Settled 1 write(s)"),
        "{}",
        second.stdout
    );
    let done = double.connector("crm-mysql").unwrap().source;
    assert_eq!(done["pipeline"]["name"], "search-default-ingestion");
    assert_eq!(done["status"], "connected");
    let history = cutover_with_env(BIN, fleet.path(), &["history", "--json"], &env)
        .expect(0)
        .json();
    let crm_writes = history
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["changes"].as_array().unwrap().iter())
        .filter(|c| c["connection_id"] == "crm-mysql" && c["state"] == "written")
        .count();
    assert_eq!(crm_writes, 1, "written once: {history}");
}

#[test]
fn planning_one_connector_fetches_only_that_connector() {
    let (double, key, var) = double();
    let fleet = cluster_fleet(&double, &var);
    let env = [(var.as_str(), key.as_str())];
    let plan = cutover_with_env(
        BIN,
        fleet.path(),
        &["plan", "--all", "--only", "crm-mysql", "--json"],
        &env,
    )
    .expect(0)
    .json();
    assert_eq!(plan["connections"].as_array().unwrap().len(), 1);
    // A connector's id is its key: selecting it lists the connectors and reads only the
    // one selected, once (the plan shown reads nothing again).
    let fetched = |double: &ElasticDouble| -> Vec<String> {
        double
            .requests()
            .into_iter()
            .filter(|(api, ..)| api == "connector.get")
            .map(|(_, path, _)| path)
            .collect()
    };
    assert_eq!(fetched(&double), ["/_connector/crm-mysql"]);
    let text = cutover_with_env(
        BIN,
        fleet.path(),
        &["plan", "--all", "--only", "crm-mysql"],
        &env,
    )
    .expect(0)
    .stdout;
    // The text plan shows what each patch replaces, from the one read.
    assert!(text.contains("crm-mysql"), "{text}");
    assert_eq!(fetched(&double).len(), 2, "{:?}", fetched(&double));
}
