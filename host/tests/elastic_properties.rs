//! Properties every real Elastic plugin must have, on connector documents generated from its
//! golden inputs: any operator value of each field's type (as text where the old version
//! stored text), in the real sandbox.
//!
//! - the plugin migrates it, or refuses with a reason naming the field (MySQL's several
//!   databases);
//! - the migrated configuration holds exactly the new version's fields, each value of its
//!   type;
//! - every value the operator set is carried to the field that took its meaning (negated
//!   where the meaning inverted), or the plan names the field it dropped: none is lost
//!   silently;
//! - two runs give the same bytes, and the produced version is outside the plugin's range,
//!   so the host never runs it twice;
//! - sync rules (advanced and basic, active and draft, of any shape) come out in the shape the
//!   new version validates, meaning what they meant, or the connector is refused naming them:
//!   MySQL's 8.7 `{database: {table: query}}` becomes 8.8's list, one entry per table with its
//!   query as 8.7 ran it, draft and active alike when they were alike; rules of a database the
//!   connector does not keep are refused naming it; every other step keeps the rules byte for
//!   byte, refusing advanced rules the new version's validator rejects.

use cutover::migration::ConnectorInput;
use cutover::registry::{Plugin, Registry};
use cutover::sandbox::{Limits, Sandbox, SandboxError};
use cutover::trust::Trust;
use cutover_plugin::elastic::{Defaults, FieldType, configuration};
use cutover_tests::{plugin, root};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

/// One plugin, with where each old field's meaning goes.
struct Subject {
    package: &'static str,
    from: &'static str,
    to: &'static str,
    /// Old field → new field (`None`: dropped, and must then be named), and whether the
    /// meaning inverted. Fields not listed keep their name.
    moves: fn(data_source: &str) -> Vec<(&'static str, Option<&'static str>, bool)>,
}

const SUBJECTS: &[Subject] = &[
    Subject {
        package: "elastic-mysql-v8-8",
        from: "8.7.0",
        to: "8.8.0",
        moves: |_| vec![("ssl_disabled", Some("ssl_enabled"), true)],
    },
    Subject {
        package: "elastic-sharepoint-v8-9",
        from: "8.8.0",
        to: "8.9.0",
        moves: |source| {
            let mut moves = vec![("data_source", None, false)];
            if source == "sharepoint_online" {
                moves.extend([
                    ("tenant", Some("tenant_name"), false),
                    ("client_secret", Some("secret_value"), false),
                ]);
                moves.extend(
                    [
                        "username",
                        "password",
                        "host_url",
                        "ssl_enabled",
                        "ssl_ca",
                        "retry_count",
                    ]
                    .map(|k| (k, None, false)),
                );
            } else {
                moves.extend(
                    ["client_id", "client_secret", "tenant", "tenant_id"].map(|k| (k, None, false)),
                );
            }
            moves
        },
    },
    Subject {
        package: "elastic-github-v8-10",
        from: "8.9.0",
        to: "8.10.0",
        moves: |_| vec![("github_token", Some("token"), false)],
    },
    Subject {
        package: "elastic-oracle-v8-15",
        from: "8.14.0",
        to: "8.15.0",
        moves: |_| vec![("database", Some("sid"), false)],
    },
];

fn defaults(version: &str, service_type: &str) -> Defaults {
    let path = root()
        .join("tests/fixtures/elastic")
        .join(version)
        .join(format!("{service_type}.json"));
    Defaults::parse(
        service_type,
        version,
        &std::fs::read_to_string(&path).unwrap(),
    )
    .unwrap()
}

fn golden_inputs(package: &str) -> Vec<Value> {
    let dir = root()
        .join("plugins/elastic")
        .join(package.trim_start_matches("elastic-"))
        .join("fixtures");
    let mut inputs: Vec<Value> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("input.json").is_file() && !p.join("refused.txt").exists())
        .map(|p| serde_json::from_slice(&std::fs::read(p.join("input.json")).unwrap()).unwrap())
        .collect();
    inputs.sort_by_key(|d: &Value| d["id"].as_str().unwrap().to_owned());
    inputs
}

/// A value of `ty` from a gene: text where the version stored text (8.7).
fn value_of(ty: FieldType, gene: u32, text: bool) -> Value {
    let word = |n: u32| format!("v{}x{}", n % 97, n % 13);
    match ty {
        FieldType::Str => json!(word(gene)),
        FieldType::Int => {
            if text {
                json!((gene % 65535 + 1).to_string())
            } else {
                json!(gene % 65535 + 1)
            }
        }
        FieldType::Bool => {
            if text {
                json!(if gene.is_multiple_of(2) {
                    "true"
                } else {
                    "false"
                })
            } else {
                json!(gene.is_multiple_of(2))
            }
        }
        FieldType::List => match gene % 3 {
            0 => json!(word(gene)),
            1 => json!(format!("{},{}", word(gene), word(gene / 7))),
            _ => json!([word(gene), word(gene + 1)]),
        },
    }
}

/// The same meaning in `ty`, for comparison.
fn normal(ty: FieldType, v: &Value) -> Value {
    ty.convert(v).unwrap_or_else(|_| v.clone())
}

fn check(
    sandbox: &Sandbox,
    plugin: &Plugin,
    s: &Subject,
    doc: &Value,
    set: &[String],
) -> Result<(), TestCaseError> {
    let old = defaults(s.from, doc["service_type"].as_str().unwrap());
    let input = ConnectorInput {
        id: doc["id"].as_str().unwrap().into(),
        version: s.from.into(),
        document: doc.to_string(),
    };
    let first = sandbox.migrate_connector(plugin.code(sandbox).unwrap(), &input);
    let second = sandbox.migrate_connector(plugin.code(sandbox).unwrap(), &input);
    let out = match (first, second) {
        (Ok(a), Ok(b)) => {
            prop_assert_eq!(&a.value.document, &b.value.document, "deterministic");
            a.value
        }
        (Err(SandboxError::Refused(e)), Err(SandboxError::Refused(_))) => {
            let text = e.to_string();
            // A golden input's advanced rules name its database: given another one, they
            // select rows of a database the connector no longer syncs.
            let database = doc["configuration"]["database"]["value"]
                .as_str()
                .unwrap_or("");
            let rules_elsewhere = doc["filtering"][0]["active"]["advanced_snippet"]["value"]
                .as_object()
                .is_some_and(|rules| rules.keys().any(|d| d != database.trim()));
            prop_assert!(
                s.package == "elastic-mysql-v8-8"
                    && (text.contains("database lists several databases")
                        || rules_elsewhere && text.contains("which the connector does not sync")),
                "unexpected refusal: {}",
                text
            );
            return Ok(());
        }
        (a, b) => {
            return Err(TestCaseError::fail(format!(
                "{:?} / {:?}",
                a.map(|c| c.value.document),
                b.map(|c| c.value.document)
            )));
        }
    };
    let migrated: Value = serde_json::from_str(&out.document).unwrap();
    let new = defaults(s.to, migrated["service_type"].as_str().unwrap());
    let config = migrated["configuration"].as_object().unwrap();
    let keys: Vec<&String> = config.keys().collect();
    prop_assert_eq!(
        keys,
        new.fields.keys().collect::<Vec<_>>(),
        "exactly {}'s fields",
        new.label()
    );
    prop_assert!(
        configuration::check_types(config, Some(&new)).is_ok(),
        "values of their types"
    );
    let data_source = doc["configuration"]["data_source"]["value"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let moves = (s.moves)(&data_source);
    for key in set {
        let v = &doc["configuration"][key]["value"];
        let (target, inverted) = match moves.iter().find(|(k, _, _)| k == key) {
            Some((_, Some(t), inv)) => (*t, *inv),
            Some((_, None, _)) => {
                let named =
                    out.notes.iter().any(|n| n.contains(key.as_str())) || key == "data_source";
                let default = old.field(key).map(|f| &f["value"]);
                prop_assert!(
                    named || default == Some(v),
                    "{} was dropped without a word",
                    key
                );
                continue;
            }
            None => (key.as_str(), false),
        };
        let ty = new.field_type(target).unwrap();
        let mut expected = normal(old.field_type(key).unwrap_or(ty), v);
        expected = normal(ty, &expected);
        if inverted {
            expected = json!(!expected.as_bool().unwrap());
        }
        prop_assert_eq!(
            normal(ty, &config[target]["value"]),
            expected,
            "{} → {}",
            key,
            target
        );
    }
    prop_assert!(
        !plugin.applies_to.matches(&plugin.produces),
        "the produced version is outside the range"
    );
    Ok(())
}

#[test]
fn elastic_plugins_carry_every_value_and_give_exactly_the_new_fields() {
    let sandbox = Sandbox::new(Limits::default()).unwrap();
    for s in SUBJECTS {
        let plugin =
            Registry::load_one(&plugin(s.package), &sandbox, &Trust::default(), None, None)
                .unwrap();
        let bases = golden_inputs(s.package);
        assert!(!bases.is_empty());
        let mut runner = TestRunner::new(Config {
            cases: 48,
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = (
            0..bases.len(),
            prop::collection::vec(any::<u32>(), 24),
            prop::collection::vec(any::<bool>(), 24),
            any::<bool>(),
        );
        runner
            .run(&strategy, |(base, genes, set, flip_source)| {
                let mut doc = bases[base].clone();
                let service_type = doc["service_type"].as_str().unwrap().to_owned();
                let old = defaults(s.from, &service_type);
                let text = s.from == "8.7.0";
                let mut chosen = Vec::new();
                for (i, (key, _)) in old.fields.iter().enumerate() {
                    if key == "data_source" || !set[i % set.len()] {
                        continue;
                    }
                    let ty = old.field_type(key).unwrap();
                    doc["configuration"][key]["value"] = value_of(ty, genes[i % genes.len()], text);
                    chosen.push(key.clone());
                }
                if service_type == "sharepoint" && flip_source {
                    let other =
                        if doc["configuration"]["data_source"]["value"] == "sharepoint_online" {
                            "sharepoint_server"
                        } else {
                            "sharepoint_online"
                        };
                    doc["configuration"]["data_source"]["value"] = json!(other);
                }
                check(&sandbox, &plugin, s, &doc, &chosen)
            })
            .unwrap_or_else(|e| panic!("{}: {e}", s.package));
    }
}

/// 8.7 advanced rules of `database` from genes: tables with queries that use 8.7's
/// `{database}` and `{table}` fields and `{{ }}` escapes; and the 8.8 list they mean.
fn mysql_rules(database: &str, genes: &[u32]) -> (Value, Value) {
    let mut old = serde_json::Map::new();
    let mut new = Vec::new();
    for (i, gene) in genes.iter().enumerate() {
        let table = format!("t{}_{}", i, gene % 89);
        let (query, ran) = match gene % 4 {
            0 => (
                format!("SELECT * FROM {{database}}.{{table}} WHERE id > {gene}"),
                format!("SELECT * FROM {database}.{table} WHERE id > {gene}"),
            ),
            1 => (
                format!(
                    "SELECT a, b FROM {{table}} WHERE c = '{{{{x}}}}' LIMIT {}",
                    gene % 100
                ),
                format!(
                    "SELECT a, b FROM {table} WHERE c = '{{x}}' LIMIT {}",
                    gene % 100
                ),
            ),
            _ => (
                format!("SELECT * FROM {table} WHERE n < {gene}"),
                format!("SELECT * FROM {table} WHERE n < {gene}"),
            ),
        };
        if old.insert(table.clone(), json!(query)).is_none() {
            new.push(json!({"tables": [table], "query": ran}));
        }
    }
    (json!({database: old}), Value::Array(new))
}

fn set_filter(doc: &mut Value, state: &str, advanced: Value, rules: Value) {
    doc["filtering"][0][state]["advanced_snippet"]["value"] = advanced;
    doc["filtering"][0][state]["rules"] = rules;
}

/// Random sync rules for one subject's golden input, and what must come of them: the
/// expected (active, draft) advanced rules, or a part of the refusal.
enum Expect {
    Rules(Value, Value),
    Refused(String),
}

#[test]
fn elastic_plugins_carry_sync_rules_in_the_new_shape_or_refuse_naming_them() {
    let sandbox = Sandbox::new(Limits::default()).unwrap();
    let mut subjects: Vec<(&str, &str)> = SUBJECTS.iter().map(|s| (s.package, s.from)).collect();
    subjects.push(("elastic-pipeline-v9", "8.19.0"));
    for (package, from) in subjects {
        let plugin =
            Registry::load_one(&plugin(package), &sandbox, &Trust::default(), None, None).unwrap();
        let bases = golden_inputs(package);
        let mut runner = TestRunner::new(Config {
            cases: 48,
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = (
            0..bases.len(),
            prop::collection::vec(any::<u32>(), 1..5),
            prop::collection::vec(any::<u32>(), 1..5),
            0..4u8,
            any::<bool>(),
        );
        runner
            .run(&strategy, |(base, active_genes, draft_genes, variant, same)| {
                let mut doc = bases[base].clone();
                let service_type = doc["service_type"].as_str().unwrap().to_owned();
                let data_source = doc["configuration"]["data_source"]["value"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                let table_rule = json!([
                    {"id": "t", "field": "Table", "policy": "exclude", "rule": "equals", "value": format!("x{}", active_genes[0] % 7), "order": 0},
                    {"id": "DEFAULT", "field": "_", "policy": "include", "rule": "regex", "value": ".*", "order": 1}
                ]);
                let draft_genes = if same { &active_genes } else { &draft_genes };
                let expect = match (package, variant) {
                    ("elastic-mysql-v8-8", 0..=2) => {
                        let database = doc["configuration"]["database"]["value"].as_str().unwrap().to_owned();
                        let (old_a, new_a) = mysql_rules(&database, &active_genes);
                        let (mut old_d, new_d) = mysql_rules(&database, draft_genes);
                        if variant == 2 {
                            old_d[format!("other{}", draft_genes[0] % 9)] = json!({"t": "SELECT 1"});
                        }
                        set_filter(&mut doc, "active", old_a, table_rule.clone());
                        set_filter(&mut doc, "draft", old_d, table_rule.clone());
                        if variant == 2 {
                            Expect::Refused(format!("draft sync rules: they select rows of database other{}", draft_genes[0] % 9))
                        } else {
                            Expect::Rules(new_a, new_d)
                        }
                    }
                    ("elastic-mysql-v8-8", _) => {
                        let field = format!("{}_t{}_c", doc["configuration"]["database"]["value"].as_str().unwrap(), active_genes[0] % 5);
                        let rules = json!([{"id": "b", "field": field, "policy": "include", "rule": "equals", "value": "1", "order": 0}]);
                        set_filter(&mut doc, "active", json!({}), rules);
                        Expect::Refused(format!("rule b (include {field} equals"))
                    }
                    (_, _) => {
                        // Every other step: advanced rules in the shape the new version reads
                        // (the data source's own, or none), kept; one it rejects, refused.
                        let valid = match (service_type.as_str(), data_source.as_str()) {
                            ("github", _) => json!([{"repository": format!("acme/r{}", active_genes[0] % 50), "filter": {"issue": "is:open"}}]),
                            ("sharepoint", "sharepoint_online") => json!({"skipExtractingDriveItemsOlderThan": active_genes[0] % 1000}),
                            ("mysql", _) => json!([{"tables": ["t"], "query": format!("SELECT * FROM t WHERE id > {}", active_genes[0])}]),
                            _ => json!({"free": active_genes[0]}),
                        };
                        let validated = matches!((service_type.as_str(), data_source.as_str()), ("github", _) | ("sharepoint", "sharepoint_online") | ("mysql", _));
                        if variant == 0 && validated {
                            set_filter(&mut doc, "draft", json!({"not": "the shape"}), table_rule.clone());
                            Expect::Refused("draft sync rules: they".into())
                        } else {
                            set_filter(&mut doc, "active", valid.clone(), table_rule.clone());
                            set_filter(&mut doc, "draft", valid.clone(), table_rule.clone());
                            Expect::Rules(valid.clone(), valid)
                        }
                    }
                };
                let input = ConnectorInput {
                    id: doc["id"].as_str().unwrap().into(),
                    version: from.into(),
                    document: doc.to_string(),
                };
                let first = sandbox.migrate_connector(plugin.code(&sandbox).unwrap(), &input);
                let second = sandbox.migrate_connector(plugin.code(&sandbox).unwrap(), &input);
                match (expect, first, second) {
                    (Expect::Rules(active, draft), Ok(a), Ok(b)) => {
                        prop_assert_eq!(&a.value.document, &b.value.document, "deterministic");
                        let out: Value = serde_json::from_str(&a.value.document).unwrap();
                        let filter = &out["filtering"][0];
                        prop_assert_eq!(&filter["active"]["advanced_snippet"]["value"], &active);
                        prop_assert_eq!(&filter["draft"]["advanced_snippet"]["value"], &draft);
                        if same {
                            prop_assert_eq!(&filter["active"]["advanced_snippet"], &filter["draft"]["advanced_snippet"], "in step");
                        }
                        prop_assert_eq!(&filter["active"]["rules"], &doc["filtering"][0]["active"]["rules"], "basic rules kept");
                        for state in ["active", "draft"] {
                            let mut rest = filter[state].clone();
                            let mut was = doc["filtering"][0][state].clone();
                            rest["advanced_snippet"]["value"] = Value::Null;
                            was["advanced_snippet"]["value"] = Value::Null;
                            prop_assert_eq!(rest, was, "only the advanced rules' value changes");
                        }
                        if package == "elastic-mysql-v8-8" {
                            prop_assert!(
                                a.value.notes.iter().any(|n| n.contains("rewritten into 8.8's list")),
                                "the plan names the rewrite: {:?}",
                                a.value.notes
                            );
                        }
                    }
                    (Expect::Refused(want), Err(SandboxError::Refused(e)), Err(SandboxError::Refused(_))) => {
                        let text = e.to_string();
                        prop_assert!(text.contains(&want), "{:?} not in {}", want, text);
                        prop_assert!(text.contains(doc["id"].as_str().unwrap()), "names the connector: {}", text);
                    }
                    (_, a, _) => {
                        return Err(TestCaseError::fail(format!(
                            "{package}: unexpected {:?}",
                            a.map(|c| c.value.document)
                        )));
                    }
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{package}: {e}"));
    }
}
