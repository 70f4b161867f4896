//! A double of Elasticsearch's Connector API, for the Elastic backend's tests.
//!
//! It keeps connector documents as the `.elastic-connectors` index would: each with its
//! `_seq_no` (bumped by every write) and `_primary_term`, fields the mapping does not know
//! kept in `_source`, mapped fields type-checked ([`mapping`]). Every request is matched to
//! the real REST API spec of the endpoint it calls and checked against it ([`restspec`]),
//! refused with Elasticsearch's error shape otherwise. It does what the server does
//! (`ConnectorIndexService` and `ConnectorSyncJobIndexService` of elastic/elasticsearch):
//! replacing the configuration sets the status to `configured`; changing the service type
//! sets it to `needs_configuration` (unless the connector was just `created`); a status
//! change must be a transition the connector state machine allows; the pipeline takes its
//! four fields; a sync job holds a copy of its connector; canceling a job marks it
//! `canceling`. Requests need the configured API key. Faults are injected by the test
//! ([`Fault`]).

pub mod mapping;
pub mod restspec;

use crate::http::{Handler, Reply, Request, Response, Server};
use anyhow::Result;
use mapping::Mapping;
use restspec::RestSpec;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

/// The vendored specs (tests/doubles/spec/elastic, with their notice).
pub const SPECS: &[(&str, &str)] = &[
    (
        "connector.get",
        include_str!("../../spec/elastic/connector.get.json"),
    ),
    (
        "connector.list",
        include_str!("../../spec/elastic/connector.list.json"),
    ),
    (
        "connector.update_configuration",
        include_str!("../../spec/elastic/connector.update_configuration.json"),
    ),
    (
        "connector.update_pipeline",
        include_str!("../../spec/elastic/connector.update_pipeline.json"),
    ),
    (
        "connector.update_service_type",
        include_str!("../../spec/elastic/connector.update_service_type.json"),
    ),
    (
        "connector.update_status",
        include_str!("../../spec/elastic/connector.update_status.json"),
    ),
    (
        "connector.last_sync",
        include_str!("../../spec/elastic/connector.last_sync.json"),
    ),
    (
        "connector.sync_job_list",
        include_str!("../../spec/elastic/connector.sync_job_list.json"),
    ),
    (
        "connector.sync_job_cancel",
        include_str!("../../spec/elastic/connector.sync_job_cancel.json"),
    ),
    (
        "connector.sync_job_post",
        include_str!("../../spec/elastic/connector.sync_job_post.json"),
    ),
    ("get", include_str!("../../spec/elastic/get.json")),
];

/// The connector index's mapping.
pub const MAPPING: &str = include_str!("../../spec/elastic/elastic-connectors-mappings.json");

/// The index behind the `.elastic-connectors` alias.
pub const INDEX: &str = ".elastic-connectors-v1";

/// A connector as the index holds it.
#[derive(Clone, Debug)]
pub struct Stored {
    pub source: Map<String, Value>,
    pub seq_no: u64,
    pub primary_term: u64,
    pub version: u64,
}

/// A sync job as its index holds it.
#[derive(Clone, Debug)]
pub struct Job {
    pub id: String,
    pub source: Map<String, Value>,
}

/// Something the test makes happen to one request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer 503 with Elasticsearch's error shape, and do nothing.
    Unavailable,
    /// Do the request, then drop the connection without answering.
    DropAfter,
    /// Before serving it, another client writes this field of this connector.
    WriteBefore {
        connector: String,
        field: String,
        value: Value,
    },
}

/// What the double holds and does.
#[derive(Default)]
struct State {
    connectors: BTreeMap<String, Stored>,
    jobs: Vec<Job>,
    /// (API name, or "*") → faults, first first.
    faults: VecDeque<(String, Fault)>,
    /// Every request served: (API name, path, body).
    log: Vec<(String, String, Value)>,
    next_job: u64,
}

/// The double's shared state and its checks.
pub struct ConnectorApi {
    spec: RestSpec,
    mapping: Mapping,
    api_key: String,
    state: Mutex<State>,
}

/// A running double and the handle tests drive it with.
pub struct ElasticDouble {
    api: Arc<ConnectorApi>,
    server: Server,
}

impl ElasticDouble {
    /// Starts a double that accepts `api_key` (`Authorization: ApiKey <api_key>`).
    pub fn start(api_key: &str) -> Result<Self> {
        let api = Arc::new(ConnectorApi {
            spec: RestSpec::load(&SPECS.iter().map(|(_, t)| *t).collect::<Vec<_>>())?,
            mapping: Mapping::load(MAPPING)?,
            api_key: api_key.to_owned(),
            state: Mutex::default(),
        });
        let server = Server::start(api.clone())?;
        Ok(Self { api, server })
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Stores a connector as the Connector API returns it (`id` and the rest).
    pub fn put_connector(&self, document: &Value) {
        let mut source = document.as_object().expect("a connector document").clone();
        let id = source
            .shift_remove("id")
            .and_then(|v| v.as_str().map(str::to_owned))
            .expect("a connector with an id");
        source.shift_remove("pending_sync_jobs");
        self.api
            .mapping
            .check(&source)
            .expect("a connector the index takes");
        let mut state = self.api.lock();
        let seq_no = state
            .connectors
            .values()
            .map(|c| c.seq_no + 1)
            .max()
            .unwrap_or(0);
        state.connectors.insert(
            id,
            Stored {
                source,
                seq_no,
                primary_term: 1,
                version: 1,
            },
        );
    }

    /// Queues a sync job of `connector`, as `POST _connector/_sync_job` does.
    pub fn queue_job(
        &self,
        connector: &str,
        job_type: &str,
        trigger_method: &str,
        status: &str,
    ) -> String {
        let mut state = self.api.lock();
        let id = state
            .new_job(connector, job_type, trigger_method)
            .expect("a connector to queue a job for");
        let job = state.jobs.iter_mut().find(|j| j.id == id).unwrap();
        job.source.insert("status".into(), json!(status));
        id
    }

    /// A connector's `_source` and `_seq_no` as stored.
    pub fn connector(&self, id: &str) -> Option<Stored> {
        self.api.lock().connectors.get(id).cloned()
    }

    /// The sync jobs of a connector, as stored.
    pub fn jobs(&self, connector: &str) -> Vec<Job> {
        self.api
            .lock()
            .jobs
            .iter()
            .filter(|j| j.source["connector"]["id"] == connector)
            .cloned()
            .collect()
    }

    /// Makes `fault` happen to the next request to `api` (`connector.update_configuration`,
    /// or `*` for any).
    pub fn inject(&self, api: &str, fault: Fault) {
        self.api.lock().faults.push_back((api.to_owned(), fault));
    }

    /// The API names of every request served, in order.
    pub fn calls(&self) -> Vec<String> {
        self.api
            .lock()
            .log
            .iter()
            .map(|(api, ..)| api.clone())
            .collect()
    }

    /// Every request served: (API name, path, body).
    pub fn requests(&self) -> Vec<(String, String, Value)> {
        self.api.lock().log.clone()
    }
}

impl ConnectorApi {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("the double's state lock")
    }
}

/// Elasticsearch's error body.
fn error(status: u16, kind: &str, reason: &str) -> Response {
    Response::json(
        status,
        &json!({"error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason}, "status": status}),
    )
}

impl Handler for ConnectorApi {
    fn handle(&self, request: &Request) -> Reply {
        let expected = format!("ApiKey {}", self.api_key);
        if request.header("authorization") != Some(expected.as_str()) {
            return Reply::Send(error(
                401,
                "security_exception",
                &format!(
                    "missing authentication credentials for REST request [{}]",
                    request.path
                ),
            ));
        }
        let call = match self.spec.check(
            &request.method,
            &request.path,
            &request.query,
            request.header("content-type"),
            &request.body,
        ) {
            Ok(call) => call,
            Err(e) => return Reply::Send(error(400, "illegal_argument_exception", &e.to_string())),
        };
        let name = call.api.name.clone();
        let body: Value = if request.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&request.body).unwrap_or(Value::Null)
        };
        let mut state = self.lock();
        let fault = state
            .faults
            .iter()
            .position(|(api, _)| api == &name || api == "*")
            .and_then(|i| state.faults.remove(i))
            .map(|(_, f)| f);
        if let Some(Fault::WriteBefore {
            connector,
            field,
            value,
        }) = &fault
            && let Some(c) = state.connectors.get_mut(connector)
        {
            c.source.insert(field.clone(), value.clone());
            c.seq_no += 1;
            c.version += 1;
        }
        if matches!(fault, Some(Fault::Unavailable)) {
            return Reply::Send(error(
                503,
                "unavailable_shards_exception",
                "[.elastic-connectors-v1][0] primary shard is not active",
            ));
        }
        state
            .log
            .push((name.clone(), request.path.clone(), body.clone()));
        let response = state.serve(&name, &call.parts, &call.query, &body, &self.mapping);
        if matches!(fault, Some(Fault::DropAfter)) {
            return Reply::Drop;
        }
        Reply::Send(response)
    }
}

/// The transitions the connector state machine allows (`ConnectorStateMachine`).
fn transition_allowed(from: &str, to: &str) -> bool {
    let allowed: &[&str] = match from {
        "created" => &["needs_configuration", "error"],
        "needs_configuration" => &["configured", "error"],
        "configured" => &["needs_configuration", "configured", "connected", "error"],
        "connected" => &["configured", "connected", "error"],
        "error" => &["connected", "configured", "error"],
        _ => &[],
    };
    allowed.contains(&to)
}

impl State {
    fn serve(
        &mut self,
        api: &str,
        parts: &BTreeMap<String, String>,
        query: &BTreeMap<String, String>,
        body: &Value,
        mapping: &Mapping,
    ) -> Response {
        let not_found = |id: &str| {
            error(
                404,
                "resource_not_found_exception",
                &format!("connector [{id}] not found"),
            )
        };
        let updated = || Response::json(200, &json!({"result": "updated"}));
        let field = |name: &str| body.get(name).cloned();
        match api {
            "connector.list" => {
                let from: usize = query.get("from").and_then(|v| v.parse().ok()).unwrap_or(0);
                let size: usize = query
                    .get("size")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(100);
                let mut all: Vec<(&String, &Stored)> = self.connectors.iter().collect();
                all.sort_by(|a, b| {
                    a.1.source
                        .get("index_name")
                        .and_then(Value::as_str)
                        .cmp(&b.1.source.get("index_name").and_then(Value::as_str))
                        .then(a.0.cmp(b.0))
                });
                let results: Vec<Value> = all
                    .iter()
                    .skip(from)
                    .take(size)
                    .map(|(id, c)| with_id(id, &c.source))
                    .collect();
                Response::json(200, &json!({"count": all.len(), "results": results}))
            }
            "connector.get" => match self.connectors.get(&parts["connector_id"]) {
                Some(c) => {
                    mapping
                        .check(&c.source)
                        .expect("a stored connector fits the mapping");
                    Response::json(200, &with_id(&parts["connector_id"], &c.source))
                }
                None => not_found(&parts["connector_id"]),
            },
            "get" => {
                if parts["index"] != ".elastic-connectors" && parts["index"] != INDEX {
                    return error(
                        404,
                        "index_not_found_exception",
                        &format!("no such index [{}]", parts["index"]),
                    );
                }
                let id = &parts["id"];
                match self.connectors.get(id) {
                    Some(c) => Response::json(
                        200,
                        &json!({"_index": INDEX, "_id": id, "_version": c.version, "_seq_no": c.seq_no, "_primary_term": c.primary_term, "found": true, "_source": c.source}),
                    ),
                    None => {
                        Response::json(404, &json!({"_index": INDEX, "_id": id, "found": false}))
                    }
                }
            }
            "connector.update_configuration" => {
                let id = &parts["connector_id"];
                let (configuration, values) = (field("configuration"), field("values"));
                let Some(c) = self.connectors.get_mut(id) else {
                    return not_found(id);
                };
                match (configuration, values) {
                    (Some(Value::Object(config)), None) => {
                        c.source
                            .insert("configuration".into(), Value::Object(config));
                    }
                    (None, Some(Value::Object(values))) => {
                        let config = c.source.entry("configuration").or_insert_with(|| json!({}));
                        for (key, value) in values {
                            let Some(f) = config.get_mut(&key) else {
                                return error(
                                    400,
                                    "illegal_argument_exception",
                                    &format!(
                                        "Unknown [configuration] fields in the request payload: [{key}]. Remove them from request or register their schema first."
                                    ),
                                );
                            };
                            f["value"] = value;
                        }
                    }
                    _ => {
                        return error(
                            400,
                            "action_request_validation_exception",
                            "Validation Failed: 1: [configuration] and [values] cannot both be null or both be provided;",
                        );
                    }
                }
                c.source.insert("status".into(), json!("configured"));
                bump(c);
                updated()
            }
            "connector.update_service_type" => {
                let id = &parts["connector_id"];
                let Some(Value::String(service_type)) = field("service_type") else {
                    return error(
                        400,
                        "action_request_validation_exception",
                        "Validation Failed: 1: [service_type] cannot be [null] or [\"\"].;",
                    );
                };
                let Some(c) = self.connectors.get_mut(id) else {
                    return not_found(id);
                };
                let status = if c.source.get("status").and_then(Value::as_str) == Some("created") {
                    "created"
                } else {
                    "needs_configuration"
                };
                c.source.insert("service_type".into(), json!(service_type));
                c.source.insert("status".into(), json!(status));
                bump(c);
                updated()
            }
            "connector.update_pipeline" => {
                let id = &parts["connector_id"];
                let Some(Value::Object(pipeline)) = field("pipeline") else {
                    return error(
                        400,
                        "action_request_validation_exception",
                        "Validation Failed: 1: [pipeline] cannot be [null].;",
                    );
                };
                for required in [
                    "name",
                    "extract_binary_content",
                    "reduce_whitespace",
                    "run_ml_inference",
                ] {
                    if !pipeline.contains_key(required) {
                        return error(
                            400,
                            "x_content_parse_exception",
                            &format!(
                                "[connector_ingest_pipeline] failed to parse object: Required [{required}]"
                            ),
                        );
                    }
                }
                let Some(c) = self.connectors.get_mut(id) else {
                    return not_found(id);
                };
                c.source.insert("pipeline".into(), Value::Object(pipeline));
                bump(c);
                updated()
            }
            "connector.last_sync" => {
                let id = &parts["connector_id"];
                let Some(Value::Object(stats)) = Some(body.clone()) else {
                    unreachable!()
                };
                let Some(c) = self.connectors.get_mut(id) else {
                    return not_found(id);
                };
                for (key, value) in stats {
                    c.source.insert(key, value);
                }
                bump(c);
                updated()
            }
            "connector.update_status" => {
                let id = &parts["connector_id"];
                let Some(Value::String(status)) = field("status") else {
                    return error(
                        400,
                        "action_request_validation_exception",
                        "Validation Failed: 1: [status] cannot be [null].;",
                    );
                };
                let Some(c) = self.connectors.get_mut(id) else {
                    return not_found(id);
                };
                let from = c
                    .source
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("created")
                    .to_owned();
                if !transition_allowed(&from, &status) {
                    return error(
                        400,
                        "illegal_argument_exception",
                        &format!(
                            "Invalid transition attempt from [{from}] to [{status}]. Such a status transition is not supported by the Connector Protocol."
                        ),
                    );
                }
                c.source.insert("status".into(), json!(status));
                bump(c);
                updated()
            }
            "connector.sync_job_list" => {
                let from: usize = query.get("from").and_then(|v| v.parse().ok()).unwrap_or(0);
                let size: usize = query
                    .get("size")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(100);
                let matching: Vec<&Job> = self
                    .jobs
                    .iter()
                    .filter(|j| {
                        query
                            .get("connector_id")
                            .is_none_or(|c| j.source["connector"]["id"] == c.as_str())
                    })
                    .filter(|j| {
                        query
                            .get("status")
                            .is_none_or(|s| j.source["status"] == s.as_str())
                    })
                    .collect();
                let results: Vec<Value> = matching
                    .iter()
                    .skip(from)
                    .take(size)
                    .map(|j| with_id(&j.id, &j.source))
                    .collect();
                Response::json(200, &json!({"count": matching.len(), "results": results}))
            }
            "connector.sync_job_cancel" => {
                let id = &parts["connector_sync_job_id"];
                let Some(job) = self.jobs.iter_mut().find(|j| &j.id == id) else {
                    return error(
                        404,
                        "resource_not_found_exception",
                        &format!("connector sync job [{id}] not found"),
                    );
                };
                job.source.insert("status".into(), json!("canceling"));
                job.source.insert(
                    "cancelation_requested_at".into(),
                    json!("2026-01-01T00:00:00.000Z"),
                );
                updated()
            }
            "connector.sync_job_post" => {
                let Some(Value::String(connector)) = field("id") else {
                    return error(
                        400,
                        "action_request_validation_exception",
                        "Validation Failed: 1: [id] of the connector cannot be [null] or [\"\"].;",
                    );
                };
                let job_type = field("job_type")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "full".into());
                let trigger = field("trigger_method")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "on_demand".into());
                if !["full", "incremental", "access_control"].contains(&job_type.as_str())
                    || !["on_demand", "scheduled"].contains(&trigger.as_str())
                {
                    return error(
                        400,
                        "illegal_argument_exception",
                        "Unknown job type or trigger method",
                    );
                }
                match self.new_job(&connector, &job_type, &trigger) {
                    Some(id) => Response::json(200, &json!({"id": id})),
                    None => not_found(&connector),
                }
            }
            other => error(
                400,
                "illegal_argument_exception",
                &format!("the double does not serve {other}"),
            ),
        }
    }

    /// A pending job holding a copy of the connector, as `SyncJobIndex` creates it.
    fn new_job(&mut self, connector: &str, job_type: &str, trigger: &str) -> Option<String> {
        let c = self.connectors.get(connector)?;
        let copy = |k: &str| c.source.get(k).cloned().unwrap_or(Value::Null);
        let active = copy("filtering")
            .as_array()
            .and_then(|f| f.first())
            .map(|f| f["active"].clone())
            .unwrap_or(Value::Null);
        self.next_job += 1;
        let id = format!("job-{:04}", self.next_job);
        let source = json!({
            "connector": {"id": connector, "configuration": copy("configuration"), "filtering": active, "index_name": copy("index_name"),
                          "language": copy("language"), "pipeline": copy("pipeline"), "service_type": copy("service_type"), "sync_cursor": copy("sync_cursor")},
            "job_type": job_type, "trigger_method": trigger, "status": "pending", "created_at": format!("2026-01-01T00:00:{:02}.000Z", self.next_job % 60),
        });
        self.jobs.push(Job {
            id: id.clone(),
            source: source.as_object().unwrap().clone(),
        });
        Some(id)
    }
}

fn bump(c: &mut Stored) {
    c.seq_no += 1;
    c.version += 1;
}

/// A document as the API returns it: its id, then its source.
fn with_id(id: &str, source: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    out.extend(source.clone());
    Value::Object(out)
}
