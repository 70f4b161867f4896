//! A double of Airbyte's Configuration API, over real HTTP on 127.0.0.1.
//!
//! It serves the endpoints of `spec/airbyte/config-api.yaml` (the platform's published spec,
//! vendored with its license notice), and the public API's workspace listing
//! (`spec/airbyte/public-api.yaml`), and checks every request it receives and every response
//! it sends against them. It behaves as the server does where a migration tool can tell
//! (`shared/ref/airbyte-platform/README.md`, and airbyte-platform's code each behaviour
//! names): secrets leave masked and come back only at the same secret key, configs are
//! validated against the spec of the version the source runs now, the catalog is replaced
//! whole, stored as `toConfiguredInternal` keeps it and shown as `toApi` derives it (a
//! stream's alias made of its name, whatever was sent), the state of streams whose sync mode
//! changed is deleted, state types change only from LEGACY, `_safe` state writes are refused
//! while a sync runs, a default version moving past a breaking change pins the affected
//! sources, `upgrade_version` refuses a user's pin, every clear call starts a job (failing
//! the ones still going) whose run deletes its streams' state, `workspaces/list_paginated`
//! lists only the ids it is given, and a lost answer ([`Failure::DropAfter`]) comes after the
//! server acted.
//!
//! Tests seed it ([`AirbyteDouble::define_connector`], [`AirbyteDouble::add_connection`]),
//! read what it holds ([`AirbyteDouble::snapshot`]), read every request it answered, and
//! tell it to fail ([`Fault`]): 500s, slow replies, dropped connections, a sync starting.

mod catalog;
mod endpoints;
mod faults;
pub mod model;
mod public;
mod secrets;
pub mod seed;
pub mod state;

pub use faults::{Failure, Fault};
pub use model::BreakingChange;
pub use secrets::MASK;

use crate::http::{Handler, Reply, Request, Response, Server};
use crate::openapi::{Erratum, Spec};
use model::{Connection, Definition, DefinitionVersion, Model, Pin, Source, Workspace};
use serde_json::{Map, Value, json};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The vendored spec.
pub const SPEC: &str = include_str!("../../spec/airbyte/config-api.yaml");

/// Where the published spec contradicts the server, and how the double reads it.
pub const ERRATA: &[Erratum] = &[Erratum {
    schema: "AirbyteStream",
    fix: |schema| {
        schema.insert("required".into(), json!(["name", "jsonSchema"]));
    },
    reason: "AirbyteStream requires `json_schema` but defines only `jsonSchema` and forbids other properties, so no stream would be valid; \
             the server (Jackson, camelCase) reads and writes `jsonSchema`",
}];

/// One request the double answered (or dropped).
#[derive(Clone, Debug)]
pub struct Logged {
    /// The spec path (`/v1/sources/update`).
    pub path: String,
    /// The status sent; `None` when the connection was dropped unanswered.
    pub status: Option<u16>,
    /// The request body (kept unless [`AirbyteDouble::keep_bodies`] turned it off).
    pub body: Option<Value>,
}

/// A job, as a test sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct JobView {
    pub id: i64,
    pub config_type: String,
    pub connection_id: String,
    pub status: String,
    /// (name, namespace) of each stream it clears.
    pub streams: Vec<(String, Option<String>)>,
}

/// What a connection holds on the server, as a test compares it.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// The source config, secrets included.
    pub config: Value,
    /// The stored configured catalog (snake_case, selected streams).
    pub catalog: Value,
    /// The state as `state/get` gives it, its streams ordered by name (the server keeps no
    /// order of its rows).
    pub state: Value,
    /// The version the source runs.
    pub version: String,
    /// (origin_type, origin) of the source's version pin.
    pub pin: Option<(String, String)>,
    pub status: String,
}

/// A connector definition to seed.
pub struct ConnectorSeed {
    pub repository: String,
    pub name: String,
    /// (tag, spec): the spec as a connector ships it (with `connectionSpecification`) or the
    /// schema itself.
    pub versions: Vec<(String, Value)>,
    pub default_version: String,
    pub breaking: Vec<BreakingChange>,
}

/// A connection to seed, with its source.
pub struct ConnectionSeed {
    pub name: String,
    pub definition_id: String,
    /// The version its source runs: pinned there (origin `breaking_change`, as the platform
    /// pins on a default's upgrade, or `user` with `user_pin`) unless it is the default.
    pub version: String,
    pub user_pin: Option<String>,
    pub config: Value,
    /// A protocol `ConfiguredAirbyteCatalog`.
    pub catalog: Value,
    /// Protocol `AirbyteStateMessage`s.
    pub state: Vec<Value>,
    pub status: String,
}

struct Inner {
    spec: Arc<Spec>,
    public: Arc<jsonschema::Validator>,
    token: String,
    model: Mutex<Model>,
    faults: Mutex<Vec<Fault>>,
    log: Mutex<Vec<Logged>>,
    violations: Mutex<Vec<String>>,
    latency: Mutex<Duration>,
    keep_bodies: std::sync::atomic::AtomicBool,
}

/// A running double; the server stops when it is dropped.
pub struct AirbyteDouble {
    inner: Arc<Inner>,
    server: Server,
    workspace: String,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl AirbyteDouble {
    /// Starts a double with one workspace, accepting `Bearer <token>`.
    pub fn start(token: &str) -> Self {
        // Compiling the spec's validators takes a while; every double of a process shares them.
        static LOADED: std::sync::OnceLock<Arc<Spec>> = std::sync::OnceLock::new();
        let spec = LOADED
            .get_or_init(|| {
                Arc::new(
                    Spec::load(SPEC, ERRATA, "KnownExceptionInfo")
                        .expect("the vendored spec loads"),
                )
            })
            .clone();
        static PUBLIC: std::sync::OnceLock<Arc<jsonschema::Validator>> = std::sync::OnceLock::new();
        let public = PUBLIC
            .get_or_init(|| Arc::new(public::response_validator()))
            .clone();
        let mut model = Model::default();
        let workspace = model.new_id();
        let organization_id = model.new_id();
        model.workspaces.push(Workspace {
            id: workspace.clone(),
            name: "Default Workspace".into(),
            organization_id,
        });
        let inner = Arc::new(Inner {
            spec,
            public,
            token: token.to_owned(),
            model: Mutex::new(model),
            faults: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
            latency: Mutex::new(Duration::ZERO),
            keep_bodies: std::sync::atomic::AtomicBool::new(true),
        });
        let server = Server::start(Arc::new(Serving(inner.clone())))
            .expect("the double listens on 127.0.0.1");
        Self {
            inner,
            server,
            workspace,
        }
    }

    /// The API's base URL, as an operator would configure it (`http://127.0.0.1:PORT/api`).
    pub fn url(&self) -> String {
        format!("{}/api", self.server.url())
    }

    /// The id of the workspace the double starts with.
    pub fn workspace(&self) -> &str {
        &self.workspace
    }

    /// Adds a workspace; returns its id.
    pub fn add_workspace(&self, name: &str) -> String {
        let mut m = lock(&self.inner.model);
        let (id, organization_id) = (m.new_id(), m.new_id());
        m.workspaces.push(Workspace {
            id: id.clone(),
            name: name.into(),
            organization_id,
        });
        id
    }

    /// Adds a connector definition; returns its id.
    pub fn define_connector(&self, seed: ConnectorSeed) -> String {
        let mut m = lock(&self.inner.model);
        let id = m.new_id();
        let versions = seed
            .versions
            .into_iter()
            .map(|(tag, spec)| {
                let spec = spec.get("connectionSpecification").cloned().unwrap_or(spec);
                DefinitionVersion {
                    id: m.new_id(),
                    tag,
                    spec,
                }
            })
            .collect();
        m.definitions.push(Definition {
            id: id.clone(),
            name: seed.name,
            repository: seed.repository,
            default_version: seed.default_version,
            versions,
            breaking: seed.breaking,
        });
        id
    }

    /// Adds a connection and its source to the first workspace; returns (connection id,
    /// source id).
    pub fn add_connection(&self, seed: ConnectionSeed) -> (String, String) {
        self.add_connection_to(&self.workspace.clone(), seed)
    }

    /// Adds a connection and its source to a workspace.
    pub fn add_connection_to(&self, workspace: &str, seed: ConnectionSeed) -> (String, String) {
        let mut m = lock(&self.inner.model);
        let definition = m
            .definition(&seed.definition_id)
            .expect("a defined connector");
        let version_id = definition
            .version(&seed.version)
            .unwrap_or_else(|| panic!("version {} is defined", seed.version))
            .id
            .clone();
        let is_default = definition.default_version == seed.version;
        let (source_id, connection_id, destination_id) = (m.new_id(), m.new_id(), m.new_id());
        let created_at = m.now();
        m.sources.insert(
            source_id.clone(),
            Source {
                id: source_id.clone(),
                workspace_id: workspace.into(),
                definition_id: seed.definition_id.clone(),
                name: format!("{} source", seed.name),
                config: seed.config,
                created_at,
            },
        );
        let state = state::Rows::from_protocol(&seed.state).expect("a valid seed state");
        m.connections.insert(
            connection_id.clone(),
            Connection {
                id: connection_id.clone(),
                workspace_id: workspace.into(),
                name: seed.name,
                source_id: source_id.clone(),
                destination_id,
                catalog: catalog::stored_from_protocol(&seed.catalog),
                field_selection: Vec::new(),
                status: seed.status,
                state,
                created_at,
            },
        );
        if seed.user_pin.is_some() || !is_default {
            let (origin_type, origin) = match seed.user_pin {
                Some(reason) => ("user".to_owned(), reason),
                None => (
                    "breaking_change".to_owned(),
                    m.definition(&seed.definition_id)
                        .expect("defined")
                        .default_version
                        .clone(),
                ),
            };
            let id = m.new_id();
            m.pins.insert(
                source_id.clone(),
                Pin {
                    id,
                    definition_id: seed.definition_id,
                    source_id: source_id.clone(),
                    version_id,
                    origin_type,
                    origin,
                    description: None,
                    created_at: "2024-01-01T00:00:00Z".into(),
                },
            );
        }
        (connection_id, source_id)
    }

    /// What a connection holds now.
    pub fn snapshot(&self, connection_id: &str) -> Snapshot {
        let m = lock(&self.inner.model);
        let c = &m.connections[connection_id];
        let source = &m.sources[&c.source_id];
        Snapshot {
            config: source.config.clone(),
            catalog: c.catalog.clone(),
            state: ordered_streams(c.state.to_api(connection_id)),
            version: m.resolved_version(source).tag.clone(),
            pin: m
                .pin(&source.id)
                .map(|p| (p.origin_type.clone(), p.origin.clone())),
            status: c.status.clone(),
        }
    }

    /// Changes what the server holds directly, as another user of the deployment would.
    pub fn edit<T>(&self, f: impl FnOnce(&mut Model) -> T) -> T {
        f(&mut lock(&self.inner.model))
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<Logged> {
        lock(&self.inner.log).clone()
    }

    /// Forgets the requests answered so far.
    pub fn clear_requests(&self) {
        lock(&self.inner.log).clear();
    }

    /// Whether to keep request bodies in the log (off for large benchmarks).
    pub fn keep_bodies(&self, keep: bool) {
        self.inner
            .keep_bodies
            .store(keep, std::sync::atomic::Ordering::SeqCst);
    }

    /// Requests or responses that broke the spec: empty in a faithful exchange.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.inner.violations).clone()
    }

    /// Every job, in creation order.
    pub fn jobs(&self) -> Vec<JobView> {
        let mut m = lock(&self.inner.model);
        m.finish_jobs();
        m.jobs
            .iter()
            .map(|j| JobView {
                id: j.id,
                config_type: j.config_type.clone(),
                connection_id: j.connection_id.clone(),
                status: j.status.clone(),
                streams: j
                    .streams
                    .iter()
                    .map(|d| (d.name.clone(), d.namespace.clone()))
                    .collect(),
            })
            .collect()
    }

    /// Runs the pending clear jobs as a worker would: their streams' state is deleted.
    pub fn run_pending_jobs(&self) {
        lock(&self.inner.model).run_clear_jobs();
    }

    /// Whether clear jobs wait for [`AirbyteDouble::run_pending_jobs`] (by default a clear
    /// job runs before the next request is served, as a worker picks it up within moments).
    pub fn hold_jobs(&self, hold: bool) {
        lock(&self.inner.model).hold_jobs = hold;
    }

    /// Starts a sync on a connection that runs for `duration`.
    pub fn start_sync(&self, connection_id: &str, duration: Duration) {
        lock(&self.inner.model).start_sync(connection_id, duration);
    }

    /// Adds a fault.
    pub fn inject(&self, fault: Fault) {
        lock(&self.inner.faults).push(fault);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        lock(&self.inner.faults).clear();
    }

    /// How long every answer takes (a network round trip and the server's work).
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.inner.latency) = latency;
    }
}

struct Serving(Arc<Inner>);

impl Handler for Serving {
    fn handle(&self, request: &Request) -> Reply {
        self.0.handle(request)
    }
}

impl Inner {
    fn handle(&self, request: &Request) -> Reply {
        let path = request.path.strip_prefix("/api").unwrap_or("").to_owned();
        if path == public::WORKSPACES && request.method == "GET" {
            return self.handle_public(request, &path);
        }
        let error = |status: u16, message: String| (status, Some(json!({"message": message})));
        let parsed: Result<Value, _> = serde_json::from_slice(&request.body);
        let (mut answer, body, failure) = if !self.spec.has(&path) {
            (
                error(404, format!("no endpoint {}", request.path)),
                None,
                None,
            )
        } else if request.method != "POST" {
            (
                error(405, format!("{} takes POST", request.path)),
                None,
                None,
            )
        } else if !self.authorized(request) {
            (
                error(401, "Unauthorized: a valid bearer token is required".into()),
                None,
                None,
            )
        } else {
            match parsed {
                Err(e) => (error(400, format!("the body is not JSON: {e}")), None, None),
                Ok(body) => match self.spec.check_request(&path, &body) {
                    Err(problems) => {
                        lock(&self.violations)
                            .push(format!("request to {path}: {}", problems.join("; ")));
                        let errors: Vec<Value> = problems.iter().map(|p| json!({"propertyPath": p.split(':').next().unwrap_or(""), "message": p})).collect();
                        (
                            (
                                422,
                                Some(
                                    json!({"message": format!("Invalid request to {path}"), "validationErrors": errors}),
                                ),
                            ),
                            Some(body),
                            None,
                        )
                    }
                    Ok(()) => {
                        let failure = self.strike(&path);
                        let answer = match &failure {
                            Some(Failure::Status(status)) => error(
                                *status,
                                format!("Internal Server Error: injected failure of {path}"),
                            ),
                            Some(Failure::DropBefore) => (0, None),
                            Some(Failure::SyncStarts(d)) => {
                                let mut m = lock(&self.model);
                                if let Some(id) = body.get("connectionId").and_then(Value::as_str) {
                                    m.start_sync(id, *d);
                                }
                                endpoints::call(&mut m, &path, &body)
                            }
                            _ => endpoints::call(&mut lock(&self.model), &path, &body),
                        };
                        (answer, Some(body), failure)
                    }
                },
            }
        };
        if failure != Some(Failure::DropBefore)
            && self.spec.has(&path)
            && let Err(problems) = self.spec.check_response(&path, answer.0, answer.1.as_ref())
        {
            let message = format!("response of {path} ({}): {}", answer.0, problems.join("; "));
            lock(&self.violations).push(message.clone());
            answer = error(500, format!("the double broke the spec: {message}"));
        }
        let dropped = matches!(failure, Some(Failure::DropBefore | Failure::DropAfter));
        let keep = self.keep_bodies.load(std::sync::atomic::Ordering::SeqCst);
        lock(&self.log).push(Logged {
            path: path.clone(),
            status: (!dropped).then_some(answer.0),
            body: if keep { body } else { None },
        });
        let latency = *lock(&self.latency);
        let slow = match failure {
            Some(Failure::Slow(d)) => d,
            _ => Duration::ZERO,
        };
        std::thread::sleep(latency + slow);
        if dropped {
            return Reply::Drop;
        }
        Reply::Send(match answer.1 {
            Some(body) => Response::json(answer.0, &body),
            None => Response::empty(answer.0),
        })
    }

    /// The public API's workspace listing, checked against its own spec.
    fn handle_public(&self, request: &Request, path: &str) -> Reply {
        let failure = self.strike(path);
        let (status, mut body) = if !self.authorized(request) {
            (
                401,
                json!({"message": "Unauthorized: a valid bearer token is required", "exceptionClassName": "io.micronaut.security.authentication.AuthorizationException"}),
            )
        } else if let Some(Failure::Status(status)) = failure {
            (
                status,
                json!({"message": format!("Internal Server Error: injected failure of {path}"), "exceptionClassName": "java.lang.RuntimeException"}),
            )
        } else {
            let base = format!(
                "http://{}/api",
                request.header("host").unwrap_or("127.0.0.1")
            );
            public::list_workspaces(&lock(&self.model), &request.query, &base)
        };
        if status == 200 {
            let problems: Vec<String> = self
                .public
                .iter_errors(&body)
                .take(10)
                .map(|e| format!("{}: {e}", e.instance_path()))
                .collect();
            if !problems.is_empty() {
                let message = format!("response of {path}: {}", problems.join("; "));
                lock(&self.violations).push(message.clone());
                body = json!({"message": message});
            }
        }
        lock(&self.log).push(Logged {
            path: path.to_owned(),
            status: (failure != Some(Failure::DropAfter) && failure != Some(Failure::DropBefore))
                .then_some(status),
            body: None,
        });
        if matches!(failure, Some(Failure::DropAfter | Failure::DropBefore)) {
            return Reply::Drop;
        }
        Reply::Send(Response::json(status, &body))
    }

    fn authorized(&self, request: &Request) -> bool {
        request
            .header("authorization")
            .is_some_and(|v| v == format!("Bearer {}", self.token))
    }

    /// The failure of the first fault that strikes this request.
    fn strike(&self, path: &str) -> Option<Failure> {
        let mut faults = lock(&self.faults);
        let mut struck = None;
        for f in faults.iter_mut() {
            if f.strikes(path) && struck.is_none() {
                struck = Some(f.failure.clone());
            }
        }
        struck
    }
}

/// A `ConnectionState` with its stream entries ordered by descriptor.
fn ordered_streams(mut state: Value) -> Value {
    for list in ["/streamState", "/globalState/streamStates"] {
        if let Some(Value::Array(streams)) = state.pointer_mut(list) {
            streams.sort_by_key(|s| s["streamDescriptor"].to_string());
        }
    }
    state
}

impl Snapshot {
    /// The snapshot as the server holds it once its catalog is shown and written back: the
    /// defaults `toConfiguredInternal` adds (an empty primary key, source-defined or not).
    /// What a rollback of a catalog restores is this.
    pub fn rewritten(&self) -> Snapshot {
        let mut out = self.clone();
        out.catalog = stored_catalog(&self.catalog);
        out
    }

    /// The snapshot without the state of these streams (what a clear's job deletes).
    pub fn without_state_of(&self, streams: &[(String, Option<String>)]) -> Snapshot {
        let mut out = self.clone();
        let named = |s: &Value| {
            let d = &s["streamDescriptor"];
            streams.iter().any(|(name, ns)| {
                d["name"] == name.as_str()
                    && d.get("namespace").and_then(Value::as_str) == ns.as_deref()
            })
        };
        for list in ["/streamState", "/globalState/streamStates"] {
            if let Some(Value::Array(entries)) = out.state.pointer_mut(list) {
                entries.retain(|s| !named(s));
            }
        }
        if out.state["stateType"] == "stream"
            && out.state["streamState"]
                .as_array()
                .is_some_and(Vec::is_empty)
        {
            out.state = json!({"connectionId": out.state["connectionId"], "stateType": "not_set"});
        }
        out
    }

    /// Which parts differ from `other`, by name: a short message for a failing comparison.
    pub fn differences(&self, other: &Snapshot) -> Vec<&'static str> {
        let mut parts = Vec::new();
        for (name, same) in [
            ("config", self.config == other.config),
            ("catalog", self.catalog == other.catalog),
            ("state", self.state == other.state),
            ("version", self.version == other.version),
            ("pin", self.pin == other.pin),
            ("status", self.status == other.status),
        ] {
            if !same {
                parts.push(name);
            }
        }
        parts
    }
}

/// Reads a protocol connection document's parts into a seed (what the example fleet's
/// documents hold), for a definition already defined.
pub fn seed_from_document(document: &Value, definition_id: &str) -> ConnectionSeed {
    let pin = document
        .get("pin")
        .filter(|p| p.get("origin").and_then(Value::as_str) == Some("user"));
    ConnectionSeed {
        name: document["name"]
            .as_str()
            .or(document["id"].as_str())
            .unwrap_or("connection")
            .to_owned(),
        definition_id: definition_id.to_owned(),
        version: document["version"].as_str().expect("a version").to_owned(),
        user_pin: pin.map(|p| {
            p.get("reason")
                .and_then(Value::as_str)
                .unwrap_or("pinned")
                .to_owned()
        }),
        config: document["config"].clone(),
        catalog: document["catalog"].clone(),
        state: document
            .get("state")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        status: "active".into(),
    }
}

/// A protocol `ConfiguredAirbyteCatalog` as the server stores it once written through the
/// API (`toConfiguredInternal`'s defaults added, what it derives left out).
pub fn stored_catalog(protocol: &Value) -> Value {
    catalog::stored_from_api(&catalog::api_from_stored(protocol, &[])).0
}

/// A JSON value with every object's keys in order, for comparing documents whose key order
/// the server does not keep.
pub fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect::<Map<String, Value>>(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_loads_and_its_errata_are_still_needed() {
        Spec::load(SPEC, ERRATA, "KnownExceptionInfo").unwrap();
        crate::openapi::check_errata_still_needed(SPEC, ERRATA, |s| {
            s.get("required")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|v| v == "json_schema"))
                && s.get("properties")
                    .and_then(|p| p.get("json_schema"))
                    .is_none()
        })
        .unwrap();
    }
}
