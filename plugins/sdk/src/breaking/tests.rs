use super::*;
use crate::discovered::Discovered;
use crate::testing::{self, cleared, stream_state};
use crate::{Action, Connection, catalog, json, state};

const OLD: &str = r#"{"streams": [
  {"name": "orders", "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}, "updated_at": {"type": "string"}}},
   "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": true, "default_cursor_field": ["updated_at"], "source_defined_primary_key": [["id"]]},
  {"name": "shop", "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}, "store": {"type": "string"}}},
   "supported_sync_modes": ["full_refresh"], "source_defined_primary_key": [["shop"], ["store"]]},
  {"name": "products", "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
   "supported_sync_modes": ["full_refresh"], "source_defined_primary_key": [["id"]]},
  {"name": "enviroments", "json_schema": {"type": "object", "properties": {"id": {"type": "string"}}},
   "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": true, "default_cursor_field": ["updated_at"]},
  {"name": "events", "json_schema": {"type": "object", "properties": {"id": {"type": "string"}, "created": {"type": "string"}}},
   "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": true, "default_cursor_field": ["created"], "source_defined_primary_key": [["id"]]},
  {"name": "customer_count", "json_schema": {"type": "object", "properties": {"date": {"type": "string"}}},
   "supported_sync_modes": ["full_refresh"]}
]}"#;

const NEW: &str = r#"{"streams": [
  {"name": "orders", "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}, "updated_at": {"type": "string"}}, "description": "reworded"},
   "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": true, "default_cursor_field": ["updated_at"], "source_defined_primary_key": [["id"]]},
  {"name": "shop", "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}, "store": {"type": "string"}}},
   "supported_sync_modes": ["full_refresh"], "source_defined_primary_key": [["id"]]},
  {"name": "environments", "json_schema": {"type": "object", "properties": {"id": {"type": "string"}}},
   "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": true, "default_cursor_field": ["updated_at"]},
  {"name": "events", "json_schema": {"type": "object", "properties": {"id": {"type": "string"}, "created": {"type": "string", "format": "date-time"}, "updated": {"type": "string"}}},
   "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": true, "default_cursor_field": ["updated"], "source_defined_primary_key": [["id"]]},
  {"name": "customer_count_daily", "json_schema": {"type": "object", "properties": {"date": {"type": "string"}}}, "supported_sync_modes": ["full_refresh"]},
  {"name": "customer_count_weekly", "json_schema": {"type": "object", "properties": {"date": {"type": "string"}}}, "supported_sync_modes": ["full_refresh"]},
  {"name": "brand_new", "json_schema": {"type": "object"}, "supported_sync_modes": ["full_refresh"]}
]}"#;

fn table() -> Table {
    Table {
        connector: "airbyte/source-x".into(),
        applies_to: ">=1.0.0, <2.0.0".into(),
        produces: "2.0.0".into(),
        message: "m".into(),
        upgrade_deadline: Some("2025-07-02".into()),
        deadline_action: None,
        documentation_url: "https://docs.airbyte.com/integrations/sources/x-migrations".into(),
        scoped_impact: vec!["products".into()],
        old: Side {
            version: "1.4.0".into(),
            catalog: "old.json".into(),
            spec: "old-spec.json".into(),
        },
        new: Side {
            version: "2.0.0".into(),
            catalog: "new.json".into(),
            spec: "new-spec.json".into(),
        },
        renamed: [("enviroments".to_owned(), "environments".to_owned())].into(),
        split: [(
            "customer_count".to_owned(),
            vec![
                "customer_count_daily".to_owned(),
                "customer_count_weekly".to_owned(),
            ],
        )]
        .into(),
        records_changed: Vec::new(),
        state_changed: Vec::new(),
        state_kept: Vec::new(),
        named_by_config: None,
        connector_faults: BTreeMap::new(),
        config: vec![
            ConfigChange::Move {
                from: "/api_key".into(),
                to: "/credentials/api_key".into(),
            },
            ConfigChange::Default {
                at: "/region".into(),
                value: json!("us"),
                when: None,
            },
            ConfigChange::Drop {
                at: "/is_paid_account".into(),
            },
        ],
        needs_operator: Vec::new(),
    }
}

fn compiled(table: Table) -> (Compiled, Discovered) {
    let c = compile(table, OLD, NEW).unwrap();
    (c, Discovered::new("2.0.0", NEW))
}

fn entry(name: &str, mode: &str, dest: &str) -> Value {
    testing::configured(testing::stream(OLD, name), mode, dest)
        .declared_cursor_and_key()
        .into()
}

fn connection(streams: Vec<Value>, state: Vec<Value>) -> Connection {
    testing::connection("airbyte/source-x", "1.4.0")
        .config(json!({"api_key": "k", "is_paid_account": false}))
        .streams(streams)
        .state(state)
        .build()
}

#[test]
fn the_diff_names_changed_removed_and_added_streams() {
    let (c, _) = compiled(table());
    assert_eq!(c.changed.get("shop"), Some(&vec![Change::PrimaryKey]));
    assert_eq!(
        c.changed.get("events"),
        Some(&vec![Change::Schema, Change::Cursor])
    );
    assert!(
        !c.changed.contains_key("orders"),
        "a reworded description is no change"
    );
    assert!(
        !c.changed.contains_key("environments"),
        "renamed, otherwise the same"
    );
    assert_eq!(c.removed, ["products"]);
    assert_eq!(c.added, ["brand_new"]);
    let round = Compiled::from_json(&c.to_json()).unwrap();
    assert_eq!(round, c);
}

#[test]
fn every_synced_stream_is_migrated_by_the_catalogs_and_the_table() {
    let (c, target) = compiled(table());
    let conn = connection(
        vec![
            entry("orders", "incremental", "append_dedup"),
            entry("shop", "full_refresh", "append"),
            entry("products", "full_refresh", "overwrite"),
            entry("enviroments", "incremental", "append"),
            entry("events", "incremental", "append_dedup"),
            entry("customer_count", "full_refresh", "append"),
        ],
        vec![
            stream_state("orders", json!({"updated_at": "2025-01-01"})),
            stream_state("enviroments", json!({"updated_at": "2025-02-01"})),
            stream_state("events", json!({"created": "2025-03-01"})),
            stream_state("products", json!({})),
        ],
    );
    let out = c.migrate(conn, &target).unwrap();

    // Config rewritten by the table.
    assert_eq!(
        out.config,
        json!({"credentials": {"api_key": "k"}, "region": "us"})
    );

    // Kept: orders (no change), its state byte for byte; renamed environments with its state.
    assert_eq!(
        state::stream_state(&out.state, "orders"),
        Some(&json!({"updated_at": "2025-01-01"}))
    );
    assert_eq!(
        state::stream_state(&out.state, "environments"),
        Some(&json!({"updated_at": "2025-02-01"}))
    );
    let env = catalog::find(&out.catalog, "environments").unwrap();
    assert_eq!(env["sync_mode"], "incremental");
    assert!(catalog::find(&out.catalog, "enviroments").is_none());

    // Cursor changed: state dropped, cursor set to the new one, cleared.
    assert_eq!(state::stream_state(&out.state, "events"), None);
    assert_eq!(
        catalog::find(&out.catalog, "events").unwrap()["cursor_field"],
        json!(["updated"])
    );

    // Removed: gone from catalog and state, with a note.
    assert!(catalog::find(&out.catalog, "products").is_none());
    assert_eq!(state::stream_state(&out.state, "products"), None);
    assert!(
        out.notes
            .iter()
            .any(|n| n.starts_with("products: removed in 2.0.0"))
    );

    // Split: both parts synced as the old stream was.
    for part in ["customer_count_daily", "customer_count_weekly"] {
        let e = catalog::find(&out.catalog, part).unwrap();
        assert_eq!(e["sync_mode"], "full_refresh");
        assert_eq!(e["destination_sync_mode"], "append");
    }
    assert!(
        catalog::find(&out.catalog, "brand_new").is_none(),
        "new streams are not selected for the user"
    );

    // Every stream carries what 2.0.0 discovers.
    let shop = catalog::find(&out.catalog, "shop").unwrap();
    assert_eq!(
        shop["stream"]["source_defined_primary_key"],
        json!([["id"]])
    );
    assert_eq!(shop["primary_key"], json!([["id"]]));

    // Clears: exactly the streams whose data must be re-read. products is in scopedImpact
    // but no longer synced; orders and environments did not change.
    assert_eq!(
        cleared(&out),
        [
            "shop",
            "events",
            "customer_count_daily",
            "customer_count_weekly"
        ]
    );
}

#[test]
fn scoped_impact_and_the_table_add_to_the_diff_but_overwrite_needs_no_clear() {
    let mut t = table();
    t.scoped_impact = vec!["orders".into()];
    t.state_changed = vec!["environments".into()];
    let (c, target) = compiled(t);
    let conn = connection(
        vec![
            entry("orders", "incremental", "append_dedup"),
            entry("enviroments", "incremental", "append"),
            entry("shop", "full_refresh", "overwrite"),
        ],
        vec![
            stream_state("orders", json!({"updated_at": "2025-01-01"})),
            stream_state("enviroments", json!({"updated_at": "x"})),
        ],
    );
    let out = c.migrate(conn, &target).unwrap();
    assert_eq!(
        cleared(&out),
        ["orders", "environments"],
        "shop is rewritten by its next sync"
    );
    assert!(
        state::stream_state(&out.state, "orders").is_some(),
        "scopedImpact alone keeps a state whose cursor is the same"
    );
    assert_eq!(
        state::stream_state(&out.state, "environments"),
        None,
        "a state that changed shape is dropped"
    );
    let reason = out.actions.iter().find_map(|a| match a {
        Action::ClearStream { stream, reason } if stream.name == "orders" => Some(reason.clone()),
        _ => None,
    });
    assert!(reason.unwrap().contains("scopedImpact"));
}

#[test]
fn an_unsynced_stream_is_left_alone_and_a_namespace_is_kept() {
    let (c, target) = compiled(table());
    let mut e = entry("shop", "full_refresh", "append");
    e["stream"]["namespace"] = json!("ns");
    let out = c.migrate(connection(vec![e], vec![]), &target).unwrap();
    assert_eq!(out.catalog["streams"].as_array().unwrap().len(), 1);
    assert!(out.actions.iter().any(|a| matches!(a, Action::ClearStream { stream, .. } if stream.namespace.as_deref() == Some("ns"))));
}

#[test]
fn what_only_the_operator_can_give_refuses_the_connection_until_given() {
    let mut t = table();
    t.needs_operator = vec![Requirement {
        field: "/subdomain".into(),
        action: "set the account's subdomain (acme for acme.zendesk.com)".into(),
        when: None,
        satisfied: None,
        renew: false,
    }];
    let (c, target) = compiled(t);
    let conn = connection(vec![entry("orders", "incremental", "append")], vec![]);
    match c.migrate(conn.clone(), &target) {
        Err(Error::NeedsOperator(m)) => {
            assert!(m.contains("/subdomain: set the account's subdomain"), "{m}");
        }
        other => panic!("expected needs-operator, got {other:?}"),
    }
    let mut supplied = conn;
    supplied.config["subdomain"] = json!("acme");
    let out = c.migrate(supplied, &target).unwrap();
    assert_eq!(out.config["subdomain"], "acme");
}

#[test]
fn tables_that_cannot_be_right_are_refused() {
    let mut t = table();
    t.renamed.insert("orders".into(), "nowhere".into());
    assert!(compile(t, OLD, NEW).is_err());
    let mut t = table();
    t.applies_to = "one".into();
    assert!(compile(t, OLD, NEW).is_err());
    let mut t = table();
    t.config.push(ConfigChange::Drop { at: "x".into() });
    assert!(compile(t, OLD, NEW).is_err());
    assert!(compile(table(), "{}", NEW).is_err());
}

#[test]
fn the_manifest_and_guide_come_from_the_data() {
    let (c, _) = compiled(table());
    let m = c.manifest();
    assert_eq!(m.produces, "2.0.0");
    assert_eq!(m.scoped_streams, ["products"]);
    assert!(
        m.guide.contains("- events: schema, cursor changed"),
        "{}",
        m.guide
    );
    assert!(m.guide.contains("- enviroments is renamed environments"));
}

/// A connector's own config migration that picks a value by what the config holds (Facebook
/// Marketing's secrets moved under `credentials`, `Client` when a client id is there,
/// `Service` otherwise), as moves and defaults in order.
#[test]
fn a_default_can_depend_on_what_the_config_holds() {
    let mut t = table();
    t.config = ["client_id", "access_token"]
        .into_iter()
        .map(|field| ConfigChange::Move {
            from: format!("/{field}"),
            to: format!("/credentials/{field}"),
        })
        .chain([
            ConfigChange::Default {
                at: "/credentials/auth_type".into(),
                value: json!("Client"),
                when: Some("/credentials/client_id".into()),
            },
            ConfigChange::Default {
                at: "/credentials/auth_type".into(),
                value: json!("Service"),
                when: None,
            },
        ])
        .collect();
    let (c, target) = compiled(t);
    for (config, auth_type) in [
        (json!({"access_token": "t"}), "Service"),
        (json!({"access_token": "t", "client_id": "i"}), "Client"),
    ] {
        let mut conn = connection(vec![], vec![]);
        conn.config = config;
        let out = c.migrate(conn, &target).unwrap();
        assert_eq!(
            out.config["credentials"]["auth_type"], auth_type,
            "{}",
            out.config
        );
        assert_eq!(out.config["credentials"]["access_token"], "t");
        assert!(out.config.get("access_token").is_none());
    }
}

/// timely 1.0.0: `start_date` goes from `YYYY-MM-DD` to `YYYY-MM-DDTHH:mm:ssZ`.
fn reformatting() -> (Compiled, Discovered) {
    reformatting_between("YYYY-MM-DD", "YYYY-MM-DDTHH:mm:ssZ")
}

fn reformatting_between(from: &str, to: &str) -> (Compiled, Discovered) {
    let mut t = table();
    t.config = vec![ConfigChange::Reformat {
        at: "/start_date".into(),
        from: DateFormat::parse(from).unwrap(),
        to: DateFormat::parse(to).unwrap(),
    }];
    compiled(t)
}

fn with_start_date(start_date: Option<Value>) -> Connection {
    let mut conn = connection(vec![entry("orders", "incremental", "append")], vec![]);
    conn.config = match start_date {
        Some(d) => json!({"api_key": "k", "start_date": d}),
        None => json!({"api_key": "k"}),
    };
    conn
}

#[test]
fn a_date_is_rewritten_into_the_new_format_and_one_already_in_it_is_left() {
    let (c, target) = reformatting();
    let out = c
        .migrate(with_start_date(Some(json!("2024-01-31"))), &target)
        .unwrap();
    assert_eq!(
        out.config,
        json!({"api_key": "k", "start_date": "2024-01-31T00:00:00Z"})
    );
    assert!(
        out.notes
            .iter()
            .any(|n| n == "config: /start_date rewritten from YYYY-MM-DD to YYYY-MM-DDTHH:mm:ssZ"),
        "{:?}",
        out.notes
    );

    let out = c
        .migrate(
            with_start_date(Some(json!("2023-06-01T08:30:00Z"))),
            &target,
        )
        .unwrap();
    assert_eq!(out.config["start_date"], "2023-06-01T08:30:00Z");
    assert!(!out.notes.iter().any(|n| n.contains("rewritten")));

    let out = c.migrate(with_start_date(None), &target).unwrap();
    assert_eq!(
        out.config,
        json!({"api_key": "k"}),
        "an absent field stays absent"
    );
}

#[test]
fn a_date_in_neither_format_needs_the_operator_and_is_not_echoed() {
    let (c, target) = reformatting();
    for value in [
        json!("31/01/2024"),
        json!("2024-02-30"),
        json!("2024-01-31T10:00:00"),
        json!(""),
        json!(20240131),
        Value::Null,
    ] {
        match c.migrate(with_start_date(Some(value.clone())), &target) {
            Err(Error::NeedsOperator(m)) => {
                assert!(
                    m.contains("/start_date: its value is not a real date written YYYY-MM-DD (nor YYYY-MM-DDTHH:mm:ssZ)")
                        && m.contains("set it as YYYY-MM-DDTHH:mm:ssZ"),
                    "{m}"
                );
                if let Some(text) = value.as_str().filter(|t| !t.is_empty()) {
                    assert!(!m.contains(text), "the value is not echoed: {m}");
                }
            }
            other => panic!("{value}: expected needs-operator, got {other:?}"),
        }
    }
}

#[test]
fn a_reformat_is_kept_in_the_table_as_its_patterns() {
    let (c, _) = reformatting();
    let json = serde_json::to_value(&c.table.config).unwrap();
    assert_eq!(
        json,
        json!([{"op": "reformat", "at": "/start_date", "from": "YYYY-MM-DD", "to": "YYYY-MM-DDTHH:mm:ssZ"}])
    );
    assert_eq!(Compiled::from_json(&c.to_json()).unwrap(), c);
    assert!(
        c.guide()
            .contains("- config: /start_date is rewritten from YYYY-MM-DD to YYYY-MM-DDTHH:mm:ssZ"),
        "{}",
        c.guide()
    );
    let bad =
        json!([{"op": "reformat", "at": "/start_date", "from": "YY-MM-DD", "to": "YYYY-MM-DD"}]);
    let err = serde_json::from_value::<Vec<ConfigChange>>(bad).unwrap_err();
    assert!(err.to_string().contains("\"YY-MM-DD\""), "{err}");
    let mut t = table();
    t.config = vec![ConfigChange::Reformat {
        at: "start_date".into(),
        from: DateFormat::parse("YYYY-MM-DD").unwrap(),
        to: DateFormat::parse("YYYY-MM-DDTHH:mm:ssZ").unwrap(),
    }];
    assert!(compile(t, OLD, NEW).is_err(), "a pointer must start with /");
}

#[test]
fn a_time_of_day_the_new_format_cannot_hold_needs_the_operator() {
    let (c, target) = reformatting_between("YYYY-MM-DDTHH:mm:ssZ", "YYYY-MM-DD");
    let out = c
        .migrate(
            with_start_date(Some(json!("2024-01-31T00:00:00Z"))),
            &target,
        )
        .unwrap();
    assert_eq!(out.config["start_date"], "2024-01-31");
    match c.migrate(
        with_start_date(Some(json!("2024-01-31T10:00:00Z"))),
        &target,
    ) {
        Err(Error::NeedsOperator(m)) => assert!(
            m.contains("/start_date: its value holds more than YYYY-MM-DD can (a time of day"),
            "{m}"
        ),
        other => panic!("expected needs-operator, got {other:?}"),
    }
}

/// stripe 4.0.0: the cursor went from `created` to `updated`, and 4.0.0 reads a state
/// still keyed `created` (its `legacy_cursor_field`).
#[test]
fn a_state_the_new_version_reads_is_kept_although_the_cursor_changed() {
    let mut t = table();
    t.state_kept = vec!["events".into()];
    // Only the cursor changes: events' `created` keeps its old schema.
    let new: &'static str = Box::leak(
        NEW.replace(
            r#""created": {"type": "string", "format": "date-time"}"#,
            r#""created": {"type": "string"}"#,
        )
        .into_boxed_str(),
    );
    let c = compile(t.clone(), OLD, new).unwrap();
    assert_eq!(c.changed.get("events"), Some(&vec![Change::Cursor]));
    let target = Discovered::new("2.0.0", new);
    let conn = connection(
        vec![
            entry("events", "incremental", "append_dedup"),
            entry("shop", "full_refresh", "append"),
        ],
        vec![stream_state("events", json!({"created": "2025-03-01"}))],
    );
    let out = c.migrate(conn.clone(), &target).unwrap();
    assert_eq!(
        state::stream_state(&out.state, "events"),
        Some(&json!({"created": "2025-03-01"})),
        "kept byte for byte"
    );
    assert_eq!(
        catalog::find(&out.catalog, "events").unwrap()["cursor_field"],
        json!(["updated"]),
        "the catalog still takes the new cursor"
    );
    assert_eq!(
        cleared(&out),
        ["shop"],
        "the cursor change alone clears nothing"
    );
    assert!(
        out.notes
            .iter()
            .any(|n| n.starts_with("events: its cursor changed, but 2.0.0 reads the state")),
        "{:?}",
        out.notes
    );

    // Another reason to re-read still clears it.
    let mut scoped = t.clone();
    scoped.scoped_impact = vec!["events".into()];
    let c = compile(scoped, OLD, new).unwrap();
    let out = c.migrate(conn, &target).unwrap();
    assert_eq!(cleared(&out), ["events", "shop"]);

    let mut both = t.clone();
    both.state_changed = vec!["events".into()];
    assert!(compile(both, OLD, NEW).is_err(), "kept and changed at once");
    let mut unknown = t;
    unknown.state_kept = vec!["nowhere".into()];
    assert!(compile(unknown, OLD, NEW).is_err());
}

/// pardot 1.0.0: every connection re-authenticates although it holds a refresh token.
#[test]
fn a_credential_to_renew_migrates_the_connection_and_asks_for_it() {
    let mut t = table();
    t.needs_operator = vec![Requirement {
        field: "/api_key".into(),
        action: "go through the authentication flow again".into(),
        when: None,
        satisfied: None,
        renew: true,
    }];
    let (c, target) = compiled(t);
    let conn = connection(vec![entry("orders", "incremental", "append")], vec![]);
    let out = c.migrate(conn.clone(), &target).unwrap();
    let asked: Vec<&Action> = out
        .actions
        .iter()
        .filter(|a| matches!(a, Action::ReviewField { .. }))
        .collect();
    assert_eq!(
        asked,
        [&Action::ReviewField {
            pointer: "/api_key".into(),
            reason:
                "renew it before the first sync at 2.0.0: go through the authentication flow again"
                    .into(),
        }],
        "judged on the config before the table moves /api_key"
    );
    assert!(
        c.guide().contains(
            "- renewed by the operator: /api_key: go through the authentication flow again"
        ),
        "{}",
        c.guide()
    );
    let mut without = conn;
    without.config = json!({"is_paid_account": false});
    assert!(matches!(
        c.migrate(without, &target),
        Err(Error::NeedsOperator(m)) if m.contains("/api_key: go through")
    ));
}

/// A stream `name` of the old catalog, synced under the name `as_named` a config gave it.
fn entry_named(name: &str, as_named: &str, mode: &str, dest: &str) -> Value {
    let mut e = entry(name, mode, dest);
    e["stream"]["name"] = json!(as_named);
    e
}

#[test]
fn a_stream_the_config_names_is_migrated_as_the_catalogs_stream_whatever_its_name() {
    let tickets = || entry_named("events", "tickets", "incremental", "append_dedup");
    let state = || vec![stream_state("tickets", json!({"created": "2025-03-01"}))];
    // Without the field, the diff by name passes tickets through as it was: the fault.
    let (c, target) = compiled(table());
    let out = c
        .migrate(connection(vec![tickets()], state()), &target)
        .unwrap();
    assert!(cleared(&out).is_empty());
    assert_eq!(
        state::stream_state(&out.state, "tickets"),
        Some(&json!({"created": "2025-03-01"}))
    );

    let mut t = table();
    t.named_by_config = Some("events".into());
    let (c, target) = compiled(t);
    let shop = entry("shop", "full_refresh", "append");
    let out = c
        .migrate(connection(vec![tickets(), shop], state()), &target)
        .unwrap();
    assert_eq!(cleared(&out), ["tickets", "shop"]);
    let e = catalog::find(&out.catalog, "tickets").expect("it keeps its own name");
    assert_eq!(e["cursor_field"], json!(["updated"]));
    assert_eq!(e["stream"]["default_cursor_field"], json!(["updated"]));
    assert_eq!(
        e["stream"]["json_schema"]["properties"]["created"]["format"], "date-time",
        "the new schema"
    );
    assert!(catalog::find(&out.catalog, "events").is_none());
    assert_eq!(state::stream_state(&out.state, "tickets"), None);
    assert!(
        out.notes.iter().any(|n| n.starts_with(
            "tickets: named by the config, it is the stream 1.4.0 discovered as events"
        )),
        "{:?}",
        out.notes
    );
    assert!(c.guide().contains("events is named by the config"));
}

#[test]
fn a_stream_the_config_names_is_renamed_or_removed_with_the_catalogs_stream() {
    let mut t = table();
    t.named_by_config = Some("enviroments".into());
    let (c, target) = compiled(t);
    let conn = |streams| {
        connection(
            streams,
            vec![stream_state("envs", json!({"updated_at": "2025-02-01"}))],
        )
    };
    let envs = || entry_named("enviroments", "envs", "incremental", "append");
    let out = c.migrate(conn(vec![envs()]), &target).unwrap();
    assert!(catalog::find(&out.catalog, "envs").is_none());
    assert_eq!(
        state::stream_state(&out.state, "environments"),
        Some(&json!({"updated_at": "2025-02-01"})),
        "renamed with its state"
    );
    let two = vec![
        envs(),
        entry_named("enviroments", "staging", "incremental", "append"),
    ];
    match c.migrate(conn(two), &target) {
        Err(Error::InvalidInput(m)) => assert!(m.contains("envs, staging"), "{m}"),
        other => panic!("two streams cannot become one: {other:?}"),
    }

    let mut t = table();
    t.named_by_config = Some("products".into());
    let (c, target) = compiled(t);
    let mine = entry_named("products", "my_products", "full_refresh", "append");
    let out = c.migrate(connection(vec![mine], vec![]), &target).unwrap();
    assert!(catalog::find(&out.catalog, "my_products").is_none());
    assert!(
        out.notes
            .iter()
            .any(|n| n.starts_with("my_products: removed in 2.0.0"))
    );
}

#[test]
fn a_config_named_stream_the_old_catalog_lacks_or_no_name_is_refused() {
    let mut t = table();
    t.named_by_config = Some("tickets".into());
    match compile(t, OLD, NEW) {
        Err(Error::UnsupportedShape(m)) => {
            assert!(m.contains("1.4.0 does not discover tickets"), "{m}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let mut t = table();
    t.named_by_config = Some(" ".into());
    assert!(compile(t, OLD, NEW).is_err());
    let text = r#"{"connector": "a", "applies-to": "<2.0.0", "produces": "2.0.0", "message": "m",
        "documentation-url": "u", "old": {"version": "1.0.0", "catalog": "o", "spec": "s"},
        "new": {"version": "2.0.0", "catalog": "n", "spec": "s"}, "named-by-config": "orders"}"#;
    let parsed: Table = serde_json::from_str(text).unwrap();
    assert_eq!(parsed.named_by_config.as_deref(), Some("orders"));
}

/// A stream the new version cannot read is named in the plan of a connection that syncs it,
/// and only there; a fault of a stream the new version lacks, or one that says nothing, is
/// refused when the table is compiled.
#[test]
fn a_fault_of_the_new_connector_is_told_to_the_connections_that_sync_the_stream() {
    let mut t = table();
    t.connector_faults.insert(
        "orders".into(),
        "its partition router yields plain dicts (fixed in 2.0.1)".into(),
    );
    let (c, target) = compiled(t.clone());
    let syncing = c
        .migrate(
            connection(vec![entry("orders", "incremental", "append")], vec![]),
            &target,
        )
        .unwrap();
    assert!(
        syncing
            .notes
            .iter()
            .any(|n| n.starts_with("orders: 2.0.0 itself cannot read it")
                && n.contains("plain dicts (fixed in 2.0.1)")),
        "{:?}",
        syncing.notes
    );
    let not_syncing = c
        .migrate(
            connection(vec![entry("shop", "full_refresh", "overwrite")], vec![]),
            &target,
        )
        .unwrap();
    assert!(
        !not_syncing.notes.iter().any(|n| n.contains("cannot read")),
        "{:?}",
        not_syncing.notes
    );
    let mut gone = t.clone();
    gone.connector_faults.insert("products".into(), "x".into());
    assert!(compile(gone, OLD, NEW).is_err(), "2.0.0 has no products");
    let mut silent = t;
    silent.connector_faults.insert("shop".into(), " ".into());
    assert!(compile(silent, OLD, NEW).is_err());
}
