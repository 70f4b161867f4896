//! What the double's Airbyte holds: workspaces, connector definitions with their versions
//! and specs, sources, connections, state rows, version pins (scoped configurations) and
//! jobs, in the relations of the config database (`configs_database_schema_dump.txt`).

use super::state::{Descriptor, Rows};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Workspace {
    pub id: String,
    pub name: String,
    pub organization_id: String,
}

/// A breaking change of a connector definition (`actor_definition_breaking_change`).
#[derive(Clone, Debug)]
pub struct BreakingChange {
    pub version: String,
    pub message: String,
    pub upgrade_deadline: String,
    pub documentation_url: String,
    pub deadline_action: Option<String>,
    /// Streams in the change's scope; empty: every connection is affected.
    pub scoped_streams: Vec<String>,
}

pub struct DefinitionVersion {
    pub id: String,
    pub tag: String,
    /// The `connectionSpecification` of this version.
    pub spec: Value,
}

pub struct Definition {
    pub id: String,
    pub name: String,
    pub repository: String,
    pub default_version: String,
    pub versions: Vec<DefinitionVersion>,
    pub breaking: Vec<BreakingChange>,
}

impl Definition {
    pub fn version(&self, tag: &str) -> Option<&DefinitionVersion> {
        self.versions.iter().find(|v| v.tag == tag)
    }
}

pub struct Source {
    pub id: String,
    pub workspace_id: String,
    pub definition_id: String,
    pub name: String,
    /// The configuration with its secrets (the double keeps them in place of a secret store).
    pub config: Value,
    pub created_at: i64,
}

pub struct Connection {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub source_id: String,
    pub destination_id: String,
    /// The stored (snake_case, selected streams only) configured catalog.
    pub catalog: Value,
    /// Streams whose field selection is enabled (the connection's `field_selection_data`).
    pub field_selection: Vec<Descriptor>,
    pub status: String,
    pub state: Rows,
    pub created_at: i64,
}

/// A `scoped_configuration` row pinning a source to a version.
#[derive(Clone, Debug)]
pub struct Pin {
    pub id: String,
    pub definition_id: String,
    pub source_id: String,
    /// The pinned `actor_definition_version` id.
    pub version_id: String,
    /// `user` or `breaking_change`.
    pub origin_type: String,
    pub origin: String,
    pub description: Option<String>,
    pub created_at: String,
}

pub struct Job {
    pub id: i64,
    /// `sync`, `clear` or `reset_connection`.
    pub config_type: String,
    pub connection_id: String,
    pub status: String,
    pub streams: Vec<Descriptor>,
    pub created_at: i64,
    /// When a running job ends (a sync a test started).
    pub ends_at: Option<Instant>,
}

/// Everything the double's server holds.
#[derive(Default)]
pub struct Model {
    pub workspaces: Vec<Workspace>,
    pub definitions: Vec<Definition>,
    pub sources: BTreeMap<String, Source>,
    pub connections: BTreeMap<String, Connection>,
    /// Version pins by source (a source has one at most).
    pub pins: BTreeMap<String, Pin>,
    pub jobs: Vec<Job>,
    /// The jobs still running, by index.
    running: Vec<usize>,
    /// Streams with a clear requested and not yet done, per connection (`stream_reset`,
    /// unique per connection and stream).
    pub stream_resets: BTreeMap<String, Vec<Descriptor>>,
    /// Whether clear jobs wait for [`Model::run_clear_jobs`] instead of running before the
    /// next request is served (as a worker picks a new job up within moments).
    pub hold_jobs: bool,
    /// Config validators by version id, compiled once.
    pub validators: HashMap<String, Arc<jsonschema::Validator>>,
    next: u64,
    clock: i64,
}

impl Model {
    /// A new id, a valid UUID, in creation order.
    pub fn new_id(&mut self) -> String {
        self.next += 1;
        format!("00000000-0000-4000-8000-{:012x}", self.next)
    }

    /// Seconds since the epoch by the clock (a job's `createdAt` is compared with times
    /// clients keep), never going back.
    pub fn now(&mut self) -> i64 {
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.clock = self.clock.max(real);
        self.clock
    }

    pub fn definition(&self, id: &str) -> Option<&Definition> {
        self.definitions.iter().find(|d| d.id == id)
    }

    /// The pin of a source, if any.
    pub fn pin(&self, source_id: &str) -> Option<&Pin> {
        self.pins.get(source_id)
    }

    /// The version a source runs: its pin's, or its definition's default.
    pub fn resolved_version(&self, source: &Source) -> &DefinitionVersion {
        let definition = self
            .definition(&source.definition_id)
            .expect("a source's definition exists");
        match self.pin(&source.id) {
            Some(pin) => definition
                .versions
                .iter()
                .find(|v| v.id == pin.version_id)
                .expect("a pin names a version of its definition"),
            None => definition
                .version(&definition.default_version)
                .expect("the default version exists"),
        }
    }

    /// Marks the jobs whose time is up as done, and runs the pending clear jobs unless they
    /// are held.
    pub fn finish_jobs(&mut self) {
        if !self.hold_jobs {
            self.run_clear_jobs();
        }
        let now = Instant::now();
        let jobs = &mut self.jobs;
        self.running.retain(|&i| {
            let ended = jobs[i].ends_at.is_some_and(|t| t <= now);
            if ended {
                jobs[i].status = "succeeded".into();
            }
            !ended
        });
    }

    /// Runs the pending clear and reset jobs as a worker does: their first attempt deletes
    /// the state of the streams they clear (`AttemptHandler.updateGenerationAndStateForFirstAttempt`:
    /// `statePersistence.bulkDelete`), and once done their `stream_reset` rows go
    /// (`StreamResetRecordsHelper.deleteStreamResetRecordsForJob`).
    pub fn run_clear_jobs(&mut self) {
        for i in 0..self.jobs.len() {
            let job = &self.jobs[i];
            if job.status != "pending" || job.config_type == "sync" {
                continue;
            }
            let (connection, streams) = (job.connection_id.clone(), job.streams.clone());
            if let Some(c) = self.connections.get_mut(&connection) {
                c.state.delete_streams(&streams);
            }
            if let Some(resets) = self.stream_resets.get_mut(&connection) {
                resets.retain(|d| !streams.contains(d));
            }
            self.jobs[i].status = "succeeded".into();
        }
    }

    /// `JobCreationAndStatusUpdateHelper.failNonTerminalJobs`: a new job of a connection
    /// fails the ones still pending or running.
    pub fn fail_non_terminal_jobs(&mut self, connection_id: &str) {
        for (i, job) in self.jobs.iter_mut().enumerate() {
            if job.connection_id == connection_id
                && (job.status == "pending" || job.status == "running")
            {
                job.status = "failed".into();
                self.running.retain(|&r| r != i);
            }
        }
    }

    /// Whether a sync runs on the connection now.
    pub fn sync_running(&mut self, connection_id: &str) -> bool {
        self.finish_jobs();
        self.running.iter().any(|&i| {
            self.jobs[i].connection_id == connection_id && self.jobs[i].config_type == "sync"
        })
    }

    /// Starts a sync job on a connection that runs for `duration`.
    pub fn start_sync(&mut self, connection_id: &str, duration: Duration) -> i64 {
        let id = self.jobs.len() as i64 + 1;
        let created_at = self.now();
        self.jobs.push(Job {
            id,
            config_type: "sync".into(),
            connection_id: connection_id.to_owned(),
            status: "running".into(),
            streams: Vec::new(),
            created_at,
            ends_at: Some(Instant::now() + duration),
        });
        self.running.push(self.jobs.len() - 1);
        id
    }
}
