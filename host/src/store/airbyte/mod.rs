//! A running Airbyte deployment as the place a fleet's connections live, through its
//! Configuration API.
//!
//! `[airbyte] url = "https://airbyte.example/api"` in cutover.toml makes cutover plan and
//! apply against the deployment itself: each connection of the chosen workspaces (and
//! connectors) is read from the API into one cutover connection document ([`document`]),
//! planned with the real plugins like any other, and written back through the same API in
//! the order the server's rules require ([`steps`]), with the snapshot and the intent in the
//! fleet's ledger first. A write takes several requests and the API has no transactions, so
//! a write cut part-way is finished at the next run ([`writer`]), and every part of it is
//! written only if the server does not hold it already.
//!
//! One module per concern: [`settings`] (the `[airbyte]` section), [`client`] (HTTP,
//! retries, typed errors), [`mapping`] (API shapes ↔ protocol shapes), [`document`] (the
//! document of one connection), [`secrets`] (what masked secrets allow), [`steps`] (the
//! requests of one write), [`writer`] (writes, concurrency, resuming), [`clears`] (what the
//! server's jobs say about clears), [`definition`] (moving a definition's default version,
//! when the operator asks), `deployment` (definitions, specs, pins, workspaces and jobs,
//! read once and kept in step with the writes).
//!
//! A clear deletes data no document holds. What a write leaves is therefore the migrated
//! document without the cleared streams' state (the clear's job deletes it; the write does
//! so first, so the server holds the same before and after the job runs), and a rollback
//! restores config, catalog, version, pin and status, and every state but the cleared
//! streams': those re-sync in full ([`Documents::restorable`]).

pub mod clears;
pub mod client;
pub mod definition;
mod deployment;
pub mod document;
pub mod mapping;
pub mod secrets;
pub mod settings;
pub mod steps;
pub mod writer;

use super::{DocumentWriter, Documents, Restorable, StoreError, Write};
use crate::migration::{Action, StreamDescriptor};
use anyhow::{Context, Result};
use client::{ApiError, Client};
use document::{Parts, Remote};
use serde_json::{Value, json};
use settings::AirbyteSettings;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;

/// The connections of an Airbyte deployment.
pub struct AirbyteDocuments {
    client: Client,
    settings: AirbyteSettings,
    supplied: secrets::Supplied,
    /// What listing the connections learnt: each connection's source and name. A connection
    /// never changes source, so this is safe to keep for the process's life.
    listed: Mutex<HashMap<String, Listed>>,
    /// Per definition: (docker repository, default version), read once per process.
    definitions: Mutex<HashMap<String, (String, String)>>,
    /// Per (definition, version): the spec of a definition's default version.
    specs: Mutex<HashMap<(String, String), Value>>,
    /// The deployment's version pins by source, read once and kept in step with the writes.
    pins: Mutex<Option<HashMap<String, Value>>>,
}

#[derive(Clone)]
struct Listed {
    source_id: String,
    name: String,
    /// How many listed connections read from the same source.
    sharing: usize,
}

impl AirbyteDocuments {
    /// Connects to the deployment `[airbyte]` names (`root` is the fleet's directory, which
    /// relative paths in the settings start from).
    pub fn open(root: &Path, settings: &AirbyteSettings) -> Result<Self> {
        let supplied = match &settings.secrets {
            Some(path) => secrets::Supplied::read(&root.join(path))?,
            None => secrets::Supplied::default(),
        };
        Ok(Self {
            client: Client::new(settings)?,
            settings: settings.clone(),
            supplied,
            listed: Mutex::default(),
            definitions: Mutex::default(),
            specs: Mutex::default(),
            pins: Mutex::default(),
        })
    }

    /// How many requests this process sent.
    pub fn requests(&self) -> u64 {
        self.client.requests()
    }

    /// Calls an endpoint for a connection; errors name both, as [`StoreError`]s the write path
    /// can act on.
    fn call(&self, key: &str, endpoint: &str, body: &Value) -> Result<Option<Value>> {
        self.client
            .call(endpoint, body)
            .map_err(|e| store_error(key, e))
    }

    fn answer(&self, key: &str, endpoint: &str, body: &Value) -> Result<Value> {
        with_body(key, endpoint, self.call(key, endpoint, body)?)
    }

    /// Calls several endpoints at once for a connection; their answers, in order.
    fn answers(&self, key: &str, calls: &[(&str, &Value)]) -> Result<Vec<Value>> {
        self.client
            .call_all(calls)
            .into_iter()
            .zip(calls)
            .map(|(answer, (endpoint, _))| {
                with_body(key, endpoint, answer.map_err(|e| store_error(key, e))?)
            })
            .collect()
    }

    /// Reads everything one connection's document is made of, in one round of requests when
    /// its source is known (a connection never changes source), else in two.
    fn fetch(&self, key: &str, source_hint: Option<&str>) -> Result<Remote> {
        let known = source_hint
            .map(str::to_owned)
            .or_else(|| self.lock_listed().get(key).map(|l| l.source_id.clone()));
        let id = json!({"connectionId": key});
        let (connection, state, source, version) = match known {
            Some(source_id) => {
                let body = json!({"sourceId": source_id});
                let calls = [
                    ("connections/get", &id),
                    ("state/get", &id),
                    ("sources/get", &body),
                    ("actor_definition_versions/get_for_source", &body),
                ];
                let [connection, state, source, version]: [Value; 4] =
                    self.answers(key, &calls)?.try_into().expect("four answers");
                (connection, state, source, version)
            }
            None => {
                let [connection, state]: [Value; 2] = self
                    .answers(key, &[("connections/get", &id), ("state/get", &id)])?
                    .try_into()
                    .expect("two answers");
                let body =
                    json!({"sourceId": connection.get("sourceId").cloned().unwrap_or_default()});
                let [source, version]: [Value; 2] = self
                    .answers(
                        key,
                        &[
                            ("sources/get", &body),
                            ("actor_definition_versions/get_for_source", &body),
                        ],
                    )?
                    .try_into()
                    .expect("two answers");
                (connection, state, source, version)
            }
        };
        if connection.get("sourceId") != source.get("sourceId") {
            anyhow::bail!(
                "connection {key} reads from source {}, not {}",
                connection["sourceId"],
                source["sourceId"]
            );
        }
        let pin = if version
            .get("isVersionOverrideApplied")
            .and_then(Value::as_bool)
            == Some(true)
        {
            self.pin_of(key, source["sourceId"].as_str().unwrap_or_default())?
        } else {
            None
        };
        Ok(Remote {
            connection,
            source,
            version,
            state,
            pin,
        })
    }

    fn lock_listed(&self) -> std::sync::MutexGuard<'_, HashMap<String, Listed>> {
        self.listed.lock().expect("listed lock")
    }

    /// Why a source shared with other connections cannot take this write, if it cannot:
    /// its version and config are every sharing connection's.
    fn shared_source(&self, key: &str, before: &Parts, after: &Parts) -> Option<String> {
        let sharing = self.lock_listed().get(key).map_or(1, |l| l.sharing);
        let source_changes = before.version != after.version
            || document::canonical(&before.config) != document::canonical(&after.config);
        (sharing > 1 && source_changes).then(|| {
            format!(
                "its source {} ({}) also feeds {} other connection(s), whose config and version would change with it; give each connection its own source in Airbyte, or migrate them together by hand",
                after.source_id,
                after.source_name,
                sharing - 1
            )
        })
    }
}

/// The streams a plan's actions clear, sorted.
pub fn cleared(actions: &[Action]) -> Vec<StreamDescriptor> {
    let mut streams: Vec<StreamDescriptor> = actions
        .iter()
        .filter_map(|a| match a {
            Action::ClearStream { stream, .. } => Some(stream.clone()),
            _ => None,
        })
        .collect();
    streams.sort();
    streams.dedup();
    streams
}

/// What a plan says a rollback of a write with these clears cannot restore.
fn lost_on_rollback(cleared: &[StreamDescriptor]) -> String {
    let names: Vec<String> = cleared.iter().map(ToString::to_string).collect();
    format!(
        "rollback: restores config, catalog, version, pin and status; the clear deletes the data of {}, and their state cannot come back: after a rollback they re-sync in full",
        names.join(", ")
    )
}

/// An RFC 3339 time as seconds since the epoch.
fn written_epoch(at: &str) -> Option<i64> {
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// An API error as a [`StoreError`] the write path can act on, naming the connection.
fn store_error(key: &str, e: ApiError) -> anyhow::Error {
    let detail = format!("connection {key}: {e}");
    match &e {
        ApiError::Refused { status: 404, .. } => anyhow::Error::new(StoreError::NotFound {
            key: key.to_owned(),
        })
        .context(detail),
        ApiError::Unavailable { .. } => anyhow::Error::new(StoreError::Unavailable { detail }),
        ApiError::Refused { .. } | ApiError::Credentials(_) => anyhow::anyhow!(detail),
    }
}

fn with_body(key: &str, endpoint: &str, answer: Option<Value>) -> Result<Value> {
    answer.with_context(|| format!("connection {key}: {endpoint} answered without a body"))
}

impl Documents for AirbyteDocuments {
    fn summary(&self) -> String {
        match self.settings.workspaces.as_slice() {
            [] => format!("Airbyte {}, every workspace", self.client.base()),
            ws => format!(
                "Airbyte {}, workspace(s) {}",
                self.client.base(),
                ws.join(", ")
            ),
        }
    }

    fn identity(&self) -> String {
        let mut ws = self.settings.workspaces.clone();
        ws.sort();
        format!("airbyte {} {}", self.client.base(), ws.join(","))
    }

    fn keys(&self) -> Result<Vec<String>> {
        let mut connections: BTreeMap<String, (String, String)> = BTreeMap::new();
        let mut repositories: HashMap<String, String> = HashMap::new();
        for workspace in self.workspaces()? {
            let listing = |endpoint: &str, body: Value| {
                self.client.call(endpoint, &body).map_err(|e| {
                    anyhow::Error::new(StoreError::Unavailable {
                        detail: format!("workspace {workspace}: {e}"),
                    })
                })
            };
            let list =
                listing("connections/list", json!({"workspaceId": workspace}))?.unwrap_or_default();
            let sources =
                listing("sources/list", json!({"workspaceId": workspace}))?.unwrap_or_default();
            let definition_of: HashMap<&str, &str> = sources
                .get("sources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|s| {
                    Some((
                        s.get("sourceId")?.as_str()?,
                        s.get("sourceDefinitionId")?.as_str()?,
                    ))
                })
                .collect();
            for c in list
                .get("connections")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (Some(id), Some(source)) = (
                    c.get("connectionId").and_then(Value::as_str),
                    c.get("sourceId").and_then(Value::as_str),
                ) else {
                    continue;
                };
                let Some(definition) = definition_of.get(source) else {
                    continue;
                };
                if !repositories.contains_key(*definition) {
                    let repo = self.definition(id, definition)?.0;
                    repositories.insert((*definition).to_owned(), repo);
                }
                let repository = &repositories[*definition];
                if self.settings.connectors.is_empty()
                    || self.settings.connectors.iter().any(|c| c == repository)
                {
                    let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
                    connections.insert(id.to_owned(), (source.to_owned(), name.to_owned()));
                }
            }
        }
        let mut sharing: HashMap<&str, usize> = HashMap::new();
        for (source, _) in connections.values() {
            *sharing.entry(source).or_default() += 1;
        }
        let listed: HashMap<String, Listed> = connections
            .iter()
            .map(|(id, (source, name))| {
                (
                    id.clone(),
                    Listed {
                        source_id: source.clone(),
                        name: name.clone(),
                        sharing: sharing[source.as_str()],
                    },
                )
            })
            .collect();
        *self.lock_listed() = listed;
        if connections.is_empty() {
            anyhow::bail!(
                "{} holds no connection{} for the credentials; nothing to plan",
                self.summary(),
                if self.settings.connectors.is_empty() {
                    String::new()
                } else {
                    format!(" of {}", self.settings.connectors.join(", "))
                }
            );
        }
        Ok(connections.into_keys().collect())
    }

    fn read(&self, key: &str) -> Result<Vec<u8>> {
        let remote = self.fetch(key, None)?;
        let parts = remote
            .parts()
            .with_context(|| format!("reading connection {key}"))?;
        Ok(parts.to_document())
    }

    /// `[airbyte] concurrency` connections read at once.
    fn read_many(&self, keys: &[&str]) -> Vec<Result<Vec<u8>>> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let next = AtomicUsize::new(0);
        let results: Vec<Mutex<Option<Result<Vec<u8>>>>> =
            keys.iter().map(|_| Mutex::new(None)).collect();
        std::thread::scope(|scope| {
            for _ in 0..self.settings.concurrency.min(keys.len()) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(key) = keys.get(i) else { break };
                        *results[i].lock().expect("result lock") = Some(self.read(key));
                    }
                });
            }
        });
        results
            .into_iter()
            .map(|r| {
                r.into_inner()
                    .expect("result lock")
                    .unwrap_or_else(|| Err(anyhow::anyhow!("not read")))
            })
            .collect()
    }

    fn display_key(&self, key: &str) -> String {
        match self.lock_listed().get(key) {
            Some(l) if !l.name.is_empty() => format!(
                "connection {} ({})",
                crate::terminal::line(key),
                crate::terminal::line(&l.name)
            ),
            _ => format!("connection {}", crate::terminal::line(key)),
        }
    }

    fn writer(&self) -> Result<Box<dyn DocumentWriter + '_>> {
        Ok(Box::new(writer::AirbyteWriter::new(self)))
    }

    fn id_of(&self, key: &str) -> Option<String> {
        Some(key.to_owned())
    }

    fn as_written(
        &self,
        key: &str,
        before: &[u8],
        after: Vec<u8>,
        actions: &[Action],
    ) -> std::result::Result<Vec<u8>, String> {
        let parse = |bytes: &[u8], what: &str| {
            Parts::from_document(bytes).map_err(|e| {
                format!("the {what} document of {key} is not an Airbyte connection's: {e:#}")
            })
        };
        let (before, mut after) = (parse(before, "current")?, parse(&after, "migrated")?);
        if let Some(why) =
            secrets::needs_operator(&after.id, &before.config, &after.config, &self.supplied)
        {
            return Err(why);
        }
        if let Some(why) = self.shared_source(key, &before, &after) {
            return Err(why);
        }
        // Moving the version removes the platform's pin.
        if after
            .version_pin
            .as_ref()
            .is_some_and(|p| p.version != after.version)
        {
            after.version_pin = None;
        }
        // A clear's job deletes its streams' state (`AttemptHandler`: `bulkDelete`); the
        // write deletes it first, so the server holds this before and after the job runs.
        after.state = mapping::without_streams(&after.state, &cleared(actions));
        let not_set = json!({"connectionId": after.id, "stateType": "not_set"});
        let state = mapping::state_to_api(&after.id, &after.state, &not_set)
            .map_err(|e| format!("{e:#}"))?;
        after.state = mapping::state_from_api(state.as_ref().unwrap_or(&not_set))
            .map_err(|e| format!("{e:#}"))?;
        // Compared with what the server will show, not with what is sent (it derives the
        // aliases, and adds defaults).
        let catalog = mapping::catalog_to_api(&after.catalog).map_err(|e| format!("{e:#}"))?;
        after.catalog = mapping::catalog_from_api(&mapping::as_shown(&catalog))
            .map_err(|e| format!("{e:#}"))?;
        Ok(after.to_document())
    }

    fn rollback_limits(&self, before: &[u8], after: &[u8], actions: &[Action]) -> Vec<String> {
        let (Ok(before), Ok(_)) = (Parts::from_document(before), Parts::from_document(after))
        else {
            return Vec::new();
        };
        // Only streams the rollback brings back: a stream the migration added or renamed
        // is gone again after it.
        let synced = mapping::streams_of(&before.catalog.configured);
        let streams: Vec<StreamDescriptor> = cleared(actions)
            .into_iter()
            .filter(|s| synced.contains(s))
            .collect();
        if streams.is_empty() {
            return Vec::new();
        }
        vec![lost_on_rollback(&streams)]
    }

    fn restorable(
        &self,
        key: &str,
        current: &[u8],
        snapshot: Vec<u8>,
        written_at: &str,
    ) -> Result<Restorable> {
        let (Ok(now), Ok(mut back)) = (
            Parts::from_document(current),
            Parts::from_document(&snapshot),
        ) else {
            return Ok(Restorable {
                bytes: snapshot,
                notes: Vec::new(),
            });
        };
        // The catalog as the server will show it once written back (it adds defaults).
        back.catalog = mapping::catalog_from_api(&mapping::as_shown(&mapping::catalog_to_api(
            &back.catalog,
        )?))?;
        let held_before = mapping::streams_with_state(&back.state);
        let held_now = mapping::streams_with_state(&now.state);
        let emptied: Vec<StreamDescriptor> = held_before
            .iter()
            .filter(|s| !held_now.contains(s))
            .cloned()
            .collect();
        if emptied.is_empty() {
            return Ok(Restorable {
                bytes: back.to_document(),
                notes: Vec::new(),
            });
        }
        // The server's clock may run behind this host's: clears up to ten minutes before the
        // write count as its own. Counting an older one costs a stream a full re-sync;
        // missing one would restore a cursor over deleted data.
        let since = written_epoch(written_at).map_or(0, |t| t - 600);
        let jobs = self.jobs_until(key, |j| j.created_at < since)?;
        let cleared: Vec<StreamDescriptor> = clears::cleared_after(&jobs, since)
            .into_iter()
            .filter(|s| emptied.contains(s))
            .collect();
        if cleared.is_empty() {
            return Ok(Restorable {
                bytes: back.to_document(),
                notes: Vec::new(),
            });
        }
        back.state = mapping::without_streams(&back.state, &cleared);
        let names: Vec<String> = cleared.iter().map(ToString::to_string).collect();
        Ok(Restorable {
            bytes: back.to_document(),
            notes: vec![format!(
                "config, catalog, version, pin and status restored; the state of {} cannot come back (the clear deleted their data): they re-sync in full",
                names.join(", ")
            )],
        })
    }

    fn performs(&self, action: &Action) -> bool {
        matches!(action, Action::ClearStream { .. })
    }

    fn preview(&self, write: &Write<'_>) -> Result<Vec<String>> {
        writer::AirbyteWriter::new(self).preview(write)
    }
}
