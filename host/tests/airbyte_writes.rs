//! The Airbyte backend against the double of the Configuration API, write by write: the
//! documents it reads, the requests a write sends and their order, conditional and
//! idempotent writes under injected faults, writes cut part-way and finished later, a sync
//! starting mid-write, and secrets the API only shows masked.

use cutover::migration::{Action, StreamDescriptor};
use cutover::store::airbyte::AirbyteDocuments;
use cutover::store::airbyte::settings::AirbyteSettings;
use cutover::store::{Documents, Settled, StoreError, Write};
use cutover_doubles::airbyte::seed::{Seeded, example_pinterest};
use cutover_doubles::airbyte::{AirbyteDouble, Failure, Fault, MASK, Snapshot};
use serde_json::{Value, json};
use std::time::Duration;

const TOKEN_VAR: &str = "CUTOVER_TEST_AIRBYTE_TOKEN";
const TOKEN: &str = "test-token-3f9a";

fn token() {
    static SET: std::sync::Once = std::sync::Once::new();
    // SAFETY: set once, before any test reads the environment through the backend.
    SET.call_once(|| unsafe { std::env::set_var(TOKEN_VAR, TOKEN) });
}

fn settings(double: &AirbyteDouble, extra: &str) -> AirbyteSettings {
    token();
    toml::from_str(&format!(
        "url = \"{}\"\ntoken_env = \"{TOKEN_VAR}\"\nconnectors = [\"airbyte/source-pinterest\"]\nretries = 3\nbackoff_ms = 5\ntimeout_ms = 2000\n{extra}",
        double.url()
    ))
    .unwrap()
}

struct Setup {
    double: AirbyteDouble,
    seeded: Vec<Seeded>,
    documents: AirbyteDocuments,
}

fn setup(extra: &str) -> Setup {
    let double = AirbyteDouble::start(TOKEN);
    let seeded = example_pinterest(&double);
    let documents =
        AirbyteDocuments::open(std::path::Path::new("."), &settings(&double, extra)).unwrap();
    documents.keys().unwrap();
    Setup {
        double,
        seeded,
        documents,
    }
}

impl Setup {
    fn connection(&self, document_id: &str) -> &Seeded {
        self.seeded
            .iter()
            .find(|s| s.document_id == document_id)
            .unwrap()
    }

    /// A connection, its document, and that document as a migration to 2.0.0 leaves it.
    fn prepared(&self, document_id: &str) -> (&Seeded, Vec<u8>, Vec<u8>) {
        let c = self.connection(document_id);
        let before = self.documents.read(&c.connection_id).unwrap();
        let after = self
            .documents
            .as_written(
                &c.connection_id,
                &before,
                migrated(&before),
                &[clear("campaigns")],
            )
            .unwrap();
        (c, before, after)
    }

    /// The paths of the write requests the double answered since it was last cleared.
    fn writes(&self) -> Vec<String> {
        const READS: &[&str] = &[
            "/v1/connections/get",
            "/v1/sources/get",
            "/v1/actor_definition_versions/get_for_source",
            "/v1/state/get",
            "/v1/scoped_configuration/list",
            "/v1/source_definitions/get",
            "/v1/source_definition_specifications/get",
            "/v1/actor_definition_versions/resolve",
            "/v1/connections/list",
            "/v1/sources/list",
            "/v1/jobs/list",
            "/public/v1/workspaces",
        ];
        self.double
            .requests()
            .into_iter()
            .filter(|r| !READS.contains(&r.path.as_str()))
            .map(|r| r.path)
            .collect()
    }
}

/// What a migration of pinterest-ads-eu to 2.0.0 could make of its document: the version,
/// one stream's state and sync mode, and a config field.
fn migrated(before: &[u8]) -> Vec<u8> {
    let mut doc: Value = serde_json::from_slice(before).unwrap();
    doc["version"] = json!("2.0.0");
    doc["config"]["start_date"] = json!("2023-02-01");
    for m in doc["state"].as_array_mut().unwrap() {
        if m["stream"]["stream_descriptor"]["name"] == "campaigns" {
            m["stream"]["stream_state"] = json!({"states": [{"partition": {"id": "549755885175", "parent_slice": {}}, "cursor": {"updated_time": 1714528800}}]});
        }
    }
    for s in doc["catalog"]["streams"].as_array_mut().unwrap() {
        if s["stream"]["name"] == "boards" {
            s["destination_sync_mode"] = json!("append");
        }
    }
    serde_json::to_vec_pretty(&doc).unwrap()
}

fn clear(name: &str) -> Action {
    Action::ClearStream {
        stream: StreamDescriptor {
            name: name.into(),
            namespace: None,
        },
        reason: "test".into(),
    }
}

#[test]
fn reads_each_connection_as_its_document() {
    let s = setup("");
    let mut ids: Vec<String> = s.seeded.iter().map(|c| c.connection_id.clone()).collect();
    ids.sort();
    assert_eq!(s.documents.keys().unwrap(), ids);
    for seeded in &s.seeded {
        let bytes = s.documents.read(&seeded.connection_id).unwrap();
        assert_eq!(
            s.documents.read(&seeded.connection_id).unwrap(),
            bytes,
            "the same server state gives the same bytes"
        );
        cutover::connection::Connection::parse(&bytes).unwrap();
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        let dir = &seeded.document;
        assert_eq!(doc["version"], dir["version"], "{}", seeded.document_id);
        assert_eq!(doc["connector"], "airbyte/source-pinterest");
        let mut shown = dir["catalog"].clone();
        for stream in shown["streams"].as_array_mut().unwrap() {
            // `CatalogConverter.toApi` shows an unknown source-defined cursor as false.
            let s = stream["stream"].as_object_mut().unwrap();
            s.entry("source_defined_cursor").or_insert(json!(false));
        }
        assert_eq!(
            doc["catalog"], shown,
            "{}: the catalog reads back as the protocol's, with nothing the server derives",
            seeded.document_id
        );
        let sort = |v: &Value| {
            let mut m = v.as_array().unwrap().clone();
            m.sort_by_key(|m| m.to_string());
            m
        };
        assert_eq!(
            sort(&doc["state"]),
            sort(&dir["state"]),
            "{}",
            seeded.document_id
        );
        assert_eq!(
            doc["config"]["credentials"]["refresh_token"], MASK,
            "secrets leave the server masked"
        );
        assert_eq!(doc["config"]["start_date"], dir["config"]["start_date"]);
        match dir["pin"].is_null() {
            true => assert!(doc["pin"].is_null()),
            false => assert_eq!(doc["pin"]["origin"], "user"),
        }
        let pinned_by_platform = dir["pin"].is_null() && dir["version"] != "2.0.0";
        assert_eq!(
            doc["airbyte"]["versionPin"]["version"].as_str(),
            pinned_by_platform.then(|| dir["version"].as_str().unwrap()),
            "{}",
            seeded.document_id
        );
    }
    assert_eq!(s.double.violations(), Vec::<String>::new());
}

#[test]
fn a_write_goes_in_the_servers_order_and_going_back_restores_everything() {
    let s = setup("");
    let c = s.connection("pinterest-ads-eu");
    let original = s.double.snapshot(&c.connection_id);
    let before = s.documents.read(&c.connection_id).unwrap();
    let actions = [
        clear("campaigns"),
        clear("ads"),
        Action::RefreshSchema { reason: "r".into() },
    ];
    let after = s
        .documents
        .as_written(&c.connection_id, &before, migrated(&before), &actions)
        .unwrap();
    s.double.clear_requests();
    let mut writer = s.documents.writer().unwrap();
    let mut replaced = Vec::new();
    let results = writer.write_batch(
        &[Write {
            key: &c.connection_id,
            before: &before,
            after: &after,
            actions: &actions,
        }],
        &mut |i| replaced.push(i),
    );
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert_eq!(replaced, vec![0]);
    assert_eq!(
        s.writes(),
        [
            "/v1/connections/update",
            "/v1/state/create_or_update_safe",
            "/v1/sources/upgrade_version",
            "/v1/sources/update",
            "/v1/connections/clear/stream",
            "/v1/connections/update"
        ]
    );
    assert_eq!(
        s.documents.read(&c.connection_id).unwrap(),
        after,
        "the server holds what the plan hashed"
    );
    let shown: Value = serde_json::from_slice(&after).unwrap();
    assert!(
        shown["state"].as_array().unwrap().iter().all(|m| {
            let name = &m["stream"]["stream_descriptor"]["name"];
            name != "campaigns" && name != "ads"
        }),
        "the cleared streams' state is gone, as the clear's job leaves it"
    );
    let now = s.double.snapshot(&c.connection_id);
    assert_eq!(
        (now.version.as_str(), now.pin.clone(), now.status.as_str()),
        ("2.0.0", None, "active")
    );
    assert_eq!(
        now.config["credentials"], original.config["credentials"],
        "secrets kept where they were"
    );
    assert_eq!(now.config["start_date"], "2023-02-01");
    let jobs = s.double.jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].streams,
        vec![("ads".to_owned(), None), ("campaigns".to_owned(), None)],
        "exactly the streams the plan names"
    );

    // Back: the old document written over the new one.
    let results = writer.write_batch(
        &[Write {
            key: &c.connection_id,
            before: &after,
            after: &before,
            actions: &[],
        }],
        &mut |_| {},
    );
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert_eq!(
        s.double.snapshot(&c.connection_id),
        original.rewritten(),
        "config, catalog, state, version and pin restored exactly"
    );
    assert_eq!(s.double.violations(), Vec::<String>::new());
}

/// Every write request failing once, in each way a live service fails: the write converges to
/// the same server state, each part done once, the clear requested once.
#[test]
fn each_write_failing_once_still_converges() {
    let endpoints = [
        "/v1/connections/update",
        "/v1/state/create_or_update_safe",
        "/v1/sources/upgrade_version",
        "/v1/sources/update",
        "/v1/connections/clear/stream",
    ];
    let failures = [
        Failure::Status(500),
        Failure::Status(503),
        Failure::DropBefore,
        Failure::DropAfter,
        Failure::Slow(Duration::from_millis(2500)),
    ];
    let mut expected: Option<Snapshot> = None;
    for endpoint in endpoints {
        for failure in &failures {
            let s = setup("");
            let (c, before, after) = s.prepared("pinterest-ads-eu");
            s.double.inject(Fault::once(endpoint, failure.clone()));
            let results = s.documents.writer().unwrap().write_batch(
                &[Write {
                    key: &c.connection_id,
                    before: &before,
                    after: &after,
                    actions: &[clear("campaigns")],
                }],
                &mut |_| {},
            );
            assert!(
                results[0].is_ok(),
                "{endpoint} {failure:?}: {:?}",
                results[0]
            );
            let snapshot = s.double.snapshot(&c.connection_id);
            match &expected {
                None => expected = Some(snapshot),
                Some(e) => assert_eq!(&snapshot, e, "{endpoint} {failure:?}"),
            }
            let jobs = s.double.jobs();
            assert_eq!(jobs.len(), 1, "{endpoint} {failure:?}: one clear job");
            assert_eq!(s.documents.read(&c.connection_id).unwrap(), after);
            assert_eq!(s.double.violations(), Vec::<String>::new());
        }
    }
}

/// The service going down after each write request: the write reports a partial write, and
/// settling it once the service is back finishes it without doing any part twice.
#[test]
fn a_write_cut_after_each_request_is_finished_by_settling() {
    let writes = [
        "/v1/connections/update",
        "/v1/state/create_or_update_safe",
        "/v1/sources/upgrade_version",
        "/v1/sources/update",
        "/v1/connections/clear/stream",
        "/v1/connections/update",
    ];
    for k in 1..writes.len() {
        let s = setup("");
        let (c, before, after) = s.prepared("pinterest-ads-eu");
        let nth_of_same = writes[..=k].iter().filter(|w| **w == writes[k]).count();
        s.double
            .inject(Fault::always(writes[k], Failure::Status(500)).skipping(nth_of_same - 1));
        let write = Write {
            key: &c.connection_id,
            before: &before,
            after: &after,
            actions: &[clear("campaigns")],
        };
        let results = s
            .documents
            .writer()
            .unwrap()
            .write_batch(&[write], &mut |_| {});
        let err = results[0].as_ref().unwrap_err();
        assert!(
            matches!(
                err.downcast_ref::<StoreError>(),
                Some(StoreError::Partial { .. })
            ),
            "after {k} write(s): {err:#}"
        );
        let current = s.documents.read(&c.connection_id).unwrap();
        assert!(
            current != before && current != after,
            "part-way: neither document"
        );
        s.double.clear_faults();
        s.double.clear_requests();
        assert_eq!(
            s.documents.writer().unwrap().settle(&write).unwrap(),
            Settled::Written
        );
        assert_eq!(s.documents.read(&c.connection_id).unwrap(), after);
        let sent: Vec<String> = s.writes();
        for done in &writes[..k] {
            // The status goes off and on again; nothing else done is sent again, a clear
            // least of all (every clear call starts a job).
            if *done != "/v1/connections/update" {
                assert!(
                    !sent.contains(&done.to_string()),
                    "after {k}: {done} was done already and not sent again ({sent:?})"
                );
            }
        }
        assert_eq!(s.double.jobs().len(), 1, "after {k}: one clear job");
    }
}

#[test]
fn a_sync_starting_mid_write_is_waited_for() {
    let s = setup("sync_wait_ms = 20000");
    let (c, before, after) = s.prepared("pinterest-ads-eu");
    s.double.inject(Fault::once(
        "/v1/connections/update",
        Failure::SyncStarts(Duration::from_millis(2000)),
    ));
    let results = s.documents.writer().unwrap().write_batch(
        &[Write {
            key: &c.connection_id,
            before: &before,
            after: &after,
            actions: &[],
        }],
        &mut |_| {},
    );
    assert!(results[0].is_ok(), "{:?}", results[0]);
    let refused = s
        .double
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/state/create_or_update_safe" && r.status == Some(423))
        .count();
    assert!(
        refused >= 1,
        "the state write was refused while the sync ran: {:?}",
        s.double
            .requests()
            .iter()
            .map(|r| (&r.path, r.status))
            .collect::<Vec<_>>()
    );
    assert_eq!(s.documents.read(&c.connection_id).unwrap(), after);
}

#[test]
fn a_document_changed_since_it_was_read_is_a_conflict_and_nothing_is_written() {
    let s = setup("");
    let (c, before, after) = s.prepared("pinterest-ads-eu");
    s.double.edit(|m| {
        m.sources.get_mut(&c.source_id).unwrap().config["start_date"] = json!("2020-01-01")
    });
    s.double.clear_requests();
    let results = s.documents.writer().unwrap().write_batch(
        &[Write {
            key: &c.connection_id,
            before: &before,
            after: &after,
            actions: &[],
        }],
        &mut |_| {},
    );
    let err = results[0].as_ref().unwrap_err();
    assert!(
        matches!(
            err.downcast_ref::<StoreError>(),
            Some(StoreError::Conflict { .. })
        ),
        "{err:#}"
    );
    assert!(format!("{err:#}").contains("config"), "{err:#}");
    assert_eq!(s.writes(), Vec::<String>::new());
}

#[test]
fn a_moved_secret_needs_the_operator_and_is_never_sent_masked() {
    let s = setup("");
    let c = s.connection("pinterest-ads-eu");
    let before = s.documents.read(&c.connection_id).unwrap();
    let mut moved: Value = serde_json::from_slice(&migrated(&before)).unwrap();
    let secret = moved["config"]["credentials"]
        .as_object_mut()
        .unwrap()
        .remove("client_secret")
        .unwrap();
    moved["config"]["client_secret"] = secret;
    let moved = serde_json::to_vec(&moved).unwrap();
    let why = s
        .documents
        .as_written(&c.connection_id, &before, moved.clone(), &[])
        .unwrap_err();
    assert!(
        why.contains("/client_secret holds a secret moved from /credentials/client_secret"),
        "{why}"
    );
    s.double.clear_requests();
    let results = s.documents.writer().unwrap().write_batch(
        &[Write {
            key: &c.connection_id,
            before: &before,
            after: &moved,
            actions: &[],
        }],
        &mut |_| {},
    );
    let err = format!("{:#}", results[0].as_ref().unwrap_err());
    assert!(err.contains("/client_secret"), "{err}");
    assert_eq!(s.writes(), Vec::<String>::new(), "nothing was sent");
    let sent_masks = s
        .double
        .requests()
        .iter()
        .filter_map(|r| r.body.as_ref())
        .any(|b| b.to_string().contains(MASK));
    assert!(!sent_masks);
}

#[test]
fn a_dry_run_reads_and_writes_nothing() {
    let s = setup("");
    let (c, before, after) = s.prepared("pinterest-legacy-us");
    s.double.clear_requests();
    let preview = s
        .documents
        .preview(&Write {
            key: &c.connection_id,
            before: &before,
            after: &after,
            actions: &[clear("ads")],
        })
        .unwrap();
    let endpoints: Vec<&str> = preview
        .iter()
        .map(|p| p.split(':').next().unwrap())
        .collect();
    assert_eq!(
        endpoints,
        [
            "connections/update",
            "state/create_or_update_safe",
            "sources/upgrade_version",
            "sources/update",
            "connections/clear/stream",
            "connections/update"
        ]
    );
    assert_eq!(s.writes(), Vec::<String>::new());
}

#[test]
fn a_source_shared_by_two_connections_is_not_migrated_through_one() {
    let double = AirbyteDouble::start(TOKEN);
    let seeded = example_pinterest(&double);
    let (a, b) = (&seeded[0], &seeded[1]);
    // b reads from a's source, as two connections of one Airbyte source do.
    double
        .edit(|m| m.connections.get_mut(&b.connection_id).unwrap().source_id = a.source_id.clone());
    let documents =
        AirbyteDocuments::open(std::path::Path::new("."), &settings(&double, "")).unwrap();
    documents.keys().unwrap();
    let before = documents.read(&a.connection_id).unwrap();
    let why = documents
        .as_written(&a.connection_id, &before, migrated(&before), &[])
        .unwrap_err();
    assert!(why.contains("also feeds 1 other connection"), "{why}");
    let mut state_only: Value = serde_json::from_slice(&before).unwrap();
    state_only["state"] = json!([]);
    assert!(
        documents
            .as_written(
                &a.connection_id,
                &before,
                serde_json::to_vec(&state_only).unwrap(),
                &[]
            )
            .is_ok(),
        "a connection's own parts can still change"
    );
}

/// A plugin renames a stream and carries its settings along, the old alias among them; the
/// server derives the alias from the new name (`CatalogConverter.toApi`). The write is
/// checked against what the server shows, lands whole and ends active.
#[test]
fn a_renamed_stream_is_checked_against_the_alias_the_server_derives() {
    let s = setup("");
    let c = s.connection("pinterest-legacy-us");
    let before = s.documents.read(&c.connection_id).unwrap();
    let mut renamed: Value = serde_json::from_slice(&before).unwrap();
    let mut found = false;
    for stream in renamed["catalog"]["streams"].as_array_mut().unwrap() {
        if stream["stream"]["name"] == "advertizer_report" {
            stream["stream"]["name"] = json!("advertiser_report");
            stream["aliasName"] = json!("advertizer_report");
            found = true;
        }
    }
    assert!(found, "pinterest-legacy-us syncs advertizer_report");
    let after = s
        .documents
        .as_written(
            &c.connection_id,
            &before,
            serde_json::to_vec(&renamed).unwrap(),
            &[],
        )
        .unwrap();
    let results = s.documents.writer().unwrap().write_batch(
        &[Write {
            key: &c.connection_id,
            before: &before,
            after: &after,
            actions: &[],
        }],
        &mut |_| {},
    );
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert_eq!(s.documents.read(&c.connection_id).unwrap(), after);
    let doc: Value = serde_json::from_slice(&after).unwrap();
    let stream = doc["catalog"]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"]["name"] == "advertiser_report")
        .unwrap();
    assert!(
        stream.get("aliasName").is_none(),
        "no stale alias: {stream}"
    );
    assert_eq!(s.double.snapshot(&c.connection_id).status, "active");
}

/// A clear starts a job at every call. Its answer lost, or late past the timeout, the writer
/// asks the connection's jobs whether it landed, and does not clear again.
#[test]
fn a_clear_whose_answer_is_lost_lands_once() {
    for failure in [
        Failure::DropAfter,
        Failure::Slow(Duration::from_millis(2500)),
    ] {
        let s = setup("");
        s.double.hold_jobs(true);
        let (c, before, after) = s.prepared("pinterest-ads-eu");
        s.double
            .inject(Fault::once("/v1/connections/clear/stream", failure.clone()));
        let results = s.documents.writer().unwrap().write_batch(
            &[Write {
                key: &c.connection_id,
                before: &before,
                after: &after,
                actions: &[clear("campaigns")],
            }],
            &mut |_| {},
        );
        assert!(results[0].is_ok(), "{failure:?}: {:?}", results[0]);
        let jobs = s.double.jobs();
        assert_eq!(jobs.len(), 1, "{failure:?}: one clear job: {jobs:?}");
        assert_eq!(jobs[0].status, "pending", "not failed by a second clear");
        assert_eq!(
            s.double
                .requests()
                .iter()
                .filter(|r| r.path == "/v1/connections/clear/stream")
                .count(),
            1,
            "{failure:?}: sent once"
        );
    }
}

/// A request that may have landed (sent, and its answer never came) is never reported as
/// "nothing was written": the write is cut part-way, and settling finishes it, the
/// connection active again.
#[test]
fn a_write_whose_requests_may_have_landed_is_partial_and_finished_later() {
    let s = setup("");
    let (c, before, after) = s.prepared("pinterest-ads-eu");
    // The first request lands unanswered, and the server stops answering reads.
    s.double
        .inject(Fault::always("/v1/connections/update", Failure::DropAfter));
    s.double
        .inject(Fault::always("/v1/connections/get", Failure::Status(503)).skipping(1));
    let write = Write {
        key: &c.connection_id,
        before: &before,
        after: &after,
        actions: &[clear("campaigns")],
    };
    let results = s
        .documents
        .writer()
        .unwrap()
        .write_batch(&[write], &mut |_| {});
    let err = results[0].as_ref().unwrap_err();
    assert!(
        matches!(
            err.downcast_ref::<StoreError>(),
            Some(StoreError::Partial { .. })
        ),
        "{err:#}"
    );
    assert!(
        !format!("{err:#}").contains("nothing was written"),
        "{err:#}"
    );
    assert_eq!(
        s.double.snapshot(&c.connection_id).status,
        "inactive",
        "the request landed"
    );
    s.double.clear_faults();
    assert_eq!(
        s.documents.writer().unwrap().settle(&write).unwrap(),
        Settled::Written
    );
    assert_eq!(s.documents.read(&c.connection_id).unwrap(), after);
    assert_eq!(s.double.snapshot(&c.connection_id).status, "active");
}

/// Without `[airbyte] workspaces`, every workspace the credentials see is read, page after
/// page; `workspaces/list_paginated` with no ids would list none (`WHERE id IN ()`).
#[test]
fn every_workspace_the_credentials_see_is_read_page_by_page() {
    let double = AirbyteDouble::start(TOKEN);
    let mut seeded = example_pinterest(&double);
    for i in 0..150 {
        double.add_workspace(&format!("team {i}"));
    }
    let last = double.add_workspace("the last team");
    let definition = cutover_doubles::airbyte::seed::define_pinterest(&double);
    let (id, _) = double.add_connection_to(
        &last,
        cutover_doubles::airbyte::seed_from_document(&seeded[0].document, &definition),
    );
    seeded.push(Seeded {
        connection_id: id.clone(),
        ..seeded[0].clone()
    });
    let documents =
        AirbyteDocuments::open(std::path::Path::new("."), &settings(&double, "")).unwrap();
    let mut ids: Vec<String> = seeded.iter().map(|s| s.connection_id.clone()).collect();
    ids.sort();
    assert_eq!(documents.keys().unwrap(), ids);
    let pages = double
        .requests()
        .iter()
        .filter(|r| r.path == "/public/v1/workspaces")
        .count();
    assert_eq!(pages, 2, "152 workspaces, 100 a page");
    assert_eq!(double.violations(), Vec::<String>::new());
}
