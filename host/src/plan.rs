//! Planning: for every connection, the chain of steps to its target, run in the sandbox,
//! with what would change and what the operator must still do. Nothing is written.
//!
//! A plan records the sha256 of every input document and every plugin, and of every
//! output document. [`crate::write::apply`] recomputes each connection's migration and refuses
//! to write unless all three still match: a plan is never applied to inputs it did not see.

use crate::conformance;
use crate::connection::Connection;
use crate::cores;
use crate::document::Document;
use crate::fleet::{Entry, Fleet};
use crate::ground::sha256_hex;
use crate::manifest::DeadlineAction;
use crate::migration::{Action, Input};
use crate::policy::{self, Step};
use crate::redact::Secrets;
use crate::registry::{Plugin, Registry};
use crate::sandbox::{LogLine, Sandbox};
use anyhow::{Context, Result, bail};
use semver::Version;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// The plan file format; bumped when a saved plan would be read differently.
pub const FORMAT: &str = "cutover-plan/2";

/// What the operator asked for.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Options {
    /// Opt every connection in to breaking steps.
    pub all: bool,
    /// Connections (by id) opted in to breaking steps.
    pub opt_in: BTreeSet<String>,
    /// Per connector, a target overriding cutover.toml.
    pub targets: BTreeMap<String, Version>,
    /// Only these connections (by id); empty means all.
    pub only: BTreeSet<String>,
}

impl Options {
    fn opted_in(&self, id: &str) -> bool {
        self.all || self.opt_in.contains(id)
    }
}

/// What happens to a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Breaking steps run by plugins, opted in: apply writes it.
    Migrate,
    /// Patch/minor only: apply writes it.
    Upgrade,
    /// Already at (or past) the target.
    UpToDate,
    /// Pinned: left alone.
    Pinned,
    /// Breaking steps the operator has not opted in to: left alone.
    NeedsOptIn,
    /// The store cannot take the migrated document as it is (a secret an API shows only
    /// masked moved): left alone until the operator supplies what the reason names.
    NeedsOperator,
    /// The policy cannot proceed: no plugin, a precondition, no target.
    Blocked,
    /// The document itself is invalid.
    Invalid,
    /// A plugin failed for this connection.
    Failed,
}

impl Status {
    /// Whether apply writes the connection.
    pub fn writes(self) -> bool {
        matches!(self, Status::Migrate | Status::Upgrade)
    }

    /// Whether the status is an error in the fleet's inputs, which stops an apply.
    pub fn is_input_error(self) -> bool {
        matches!(self, Status::Blocked | Status::Invalid)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Migrate => "migrate",
            Status::Upgrade => "upgrade",
            Status::UpToDate => "up-to-date",
            Status::Pinned => "pinned",
            Status::NeedsOptIn => "needs-opt-in",
            Status::NeedsOperator => "needs-operator",
            Status::Blocked => "blocked",
            Status::Invalid => "invalid",
            Status::Failed => "failed",
        }
    }
}

/// A plugin as a plan refers to it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PluginRef {
    pub file: String,
    pub sha256: String,
    /// The trusted key that signed it, if signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

impl From<&Plugin> for PluginRef {
    fn from(p: &Plugin) -> Self {
        Self {
            file: p.file.clone(),
            sha256: p.sha256.clone(),
            signer: p.signer.clone(),
        }
    }
}

/// The breaking change a plugin step carries, as the operator needs to read it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Breaking {
    pub message: String,
    pub upgrade_deadline: Option<String>,
    pub deadline_action: Option<DeadlineAction>,
    pub documentation_url: String,
    pub scoped_streams: Vec<String>,
    /// Whether the connection syncs a scoped stream (always, when nothing is scoped).
    pub affected: bool,
    /// Streams the connection syncs that the new version's catalog changed although the
    /// scoped streams do not list them, each with the fields that changed (known when the
    /// fleet holds that catalog).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unlisted_changes: Vec<String>,
}

/// One step of a connection's chain.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StepPlan {
    pub from: Version,
    pub to: Version,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<PluginRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaking: Option<Breaking>,
    /// sha256 of the documents (config, catalog, state) before and after the step.
    pub input_sha256: String,
    pub output_sha256: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<LogLine>,
    /// Log lines past the limit, counted but not kept.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub log_dropped: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// RFC 6902 patches from the old documents to the new: an Airbyte connection's three, or
/// an Elastic connector's one.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Changes {
    pub config: json_patch::Patch,
    pub catalog: json_patch::Patch,
    pub state: json_patch::Patch,
    /// An Elastic connector document's changes.
    #[serde(default, skip_serializing_if = "is_empty_patch")]
    pub document: json_patch::Patch,
}

fn is_empty_patch(p: &json_patch::Patch) -> bool {
    p.0.is_empty()
}

impl Changes {
    /// The patches from a connection's documents to new ones.
    pub fn between(old: &Connection, config: &Value, catalog: &Value, state: &Value) -> Self {
        Self {
            config: json_patch::diff(old.config(), config),
            catalog: json_patch::diff(old.catalog(), catalog),
            state: json_patch::diff(&old.state_ref(), state),
            document: json_patch::Patch(Vec::new()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.config.0.is_empty()
            && self.catalog.0.is_empty()
            && self.state.0.is_empty()
            && self.document.0.is_empty()
    }
}

/// The plan for one connection.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConnectionPlan {
    /// The connection's id (the document's key when the document is unreadable).
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The document's key in the store.
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    pub input_sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Version>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Version>,
    pub status: Status,
    /// Why the status is what it is, when that needs saying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepPlan>,
    #[serde(default)]
    pub changes: Changes,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_sha256: Option<String>,
    /// The new document (not saved in plan files: apply recomputes and checks its hash).
    #[serde(skip)]
    pub output: Option<Vec<u8>>,
    /// The document as planned from, with its secrets masked, for showing what each patch
    /// replaces: filled only by [`Planner::plan_each_shown`], so that whoever shows a plan
    /// reads no document again, and never saved.
    #[serde(skip)]
    pub shown_before: Option<Value>,
}

/// The documents a plan covers: keys in key order, each with the problem that makes
/// it invalid before it is planned, if any.
pub struct Selection {
    documents: Vec<(String, Option<String>)>,
}

impl Selection {
    pub fn len(&self) -> usize {
        self.documents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }
}

/// Only a document's id, read without building the rest.
#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

impl ConnectionPlan {
    /// Redacts the plan with `secrets`: its patches, reason, notes, actions and the log of
    /// every step. `before` is the config the plan starts from.
    pub fn redact(&mut self, secrets: &Secrets, before: &Value) {
        let Changes {
            config,
            catalog,
            state,
            document,
        } = &mut self.changes;
        secrets.redact_config_patch(config, before);
        secrets.redact_patch(catalog);
        secrets.redact_patch(state);
        secrets.redact_patch(document);
        if let Some(reason) = &mut self.reason {
            secrets.scrub_string(reason);
        }
        self.notes.iter_mut().for_each(|n| secrets.scrub_string(n));
        for action in &mut self.actions {
            match action {
                Action::RefreshSchema { reason }
                | Action::RetestSource { reason }
                | Action::FullSync { reason } => secrets.scrub_string(reason),
                Action::ClearStream { stream, reason } => {
                    secrets.scrub_string(&mut stream.name);
                    secrets.scrub_string(reason);
                }
                Action::ReviewField { pointer, reason } => {
                    secrets.scrub_string(pointer);
                    secrets.scrub_string(reason);
                }
            }
        }
        for step in &mut self.steps {
            step.log
                .iter_mut()
                .for_each(|l| secrets.scrub_string(&mut l.message));
        }
    }

    /// The plan without what only a reader of the plan needs (diffs, actions, notes,
    /// per-step details): what apply keeps of each connection while it works through a
    /// fleet. Apply takes the actions from each migration as it writes it.
    pub fn slim(self) -> Self {
        ConnectionPlan {
            changes: Changes::default(),
            actions: Vec::new(),
            notes: Vec::new(),
            steps: Vec::new(),
            output: None,
            shown_before: None,
            ..self
        }
    }

    /// What a shared run keeps of a connection's plan: enough to check that migrating it
    /// again gives what was planned.
    pub fn of_item(
        key: String,
        id: String,
        status: Status,
        input_sha256: String,
        output_sha256: Option<String>,
    ) -> Self {
        ConnectionPlan {
            id,
            status,
            output_sha256,
            reason: None,
            ..Self::invalid(&key, input_sha256, String::new())
        }
    }

    /// The plan of a document that cannot be planned, and why.
    pub(crate) fn invalid(key: &str, input_sha256: String, reason: String) -> Self {
        ConnectionPlan {
            id: key.to_owned(),
            name: None,
            key: key.to_owned(),
            connector: None,
            input_sha256,
            from: None,
            to: None,
            status: Status::Invalid,
            reason: Some(reason),
            steps: Vec::new(),
            changes: Changes::default(),
            actions: Vec::new(),
            notes: Vec::new(),
            output_sha256: None,
            output: None,
            shown_before: None,
        }
    }
}

/// A whole plan.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    pub format: String,
    pub cutover_version: String,
    pub fleet: String,
    pub options: Options,
    pub plugins: Vec<PluginRef>,
    /// A saved plan is read back without what apply does not need of each connection
    /// (diffs, notes, step details): [`Plan::read`], [`crate::plan_source`].
    pub connections: Vec<ConnectionPlan>,
}

/// Counts of connections per status.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary(pub BTreeMap<Status, usize>);

impl Summary {
    pub fn get(&self, s: Status) -> usize {
        self.0.get(&s).copied().unwrap_or(0)
    }
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.connections {
            *s.0.entry(c.status).or_default() += 1;
        }
        s
    }

    /// Whether any connection could not be planned or failed.
    pub fn has_errors(&self) -> bool {
        self.connections
            .iter()
            .any(|c| c.status.is_input_error() || c.status == Status::Failed)
    }

    /// Reads a saved plan, streaming it from the file, each connection slimmed as it is
    /// read.
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let file = std::fs::File::open(path)
            .with_context(|| format!("reading plan {}", path.display()))?;
        Self::read_from(std::io::BufReader::new(file), Some(path))
    }

    /// Parses a saved plan.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        Self::read_from(bytes, None)
    }

    /// A saved plan with its connections collected, as [`crate::plan_source`] reads them.
    fn read_from(reader: impl std::io::Read, path: Option<&std::path::Path>) -> Result<Self> {
        let mut connections = Vec::new();
        let header = crate::plan_source::read_each_from(reader, path, &mut |_, c| {
            connections.push(c.clone());
            Ok(())
        })?;
        Ok(Plan {
            connections,
            ..header
        })
    }

    /// A plan as parsed, if it is one this cutover reads.
    pub(crate) fn checked(parsed: serde_json::Result<Plan>) -> Result<Self> {
        let plan =
            parsed.context("it is not a cutover plan (make one with `cutover plan --out FILE`)")?;
        if plan.format != FORMAT {
            bail!(
                "it is a {:?} plan; this cutover reads {FORMAT:?}: plan again",
                plan.format
            );
        }
        Ok(plan)
    }
}

/// Works out plans. Holds what every connection's plan needs.
pub struct Planner<'a> {
    pub fleet: &'a Fleet,
    pub registry: &'a Registry,
    pub sandbox: &'a Sandbox,
    pub options: &'a Options,
    /// Whether to run the plugins. Without, the plan only says what the policy decides
    /// (the chain, opt-ins, pins, blockers): what `cutover status` shows.
    pub run_plugins: bool,
}

impl Planner<'_> {
    /// Plans every connection of the fleet (or those in `options.only`) on every core,
    /// calling `progress` after each, and collects the plan. The plan lists connections in
    /// file-name order, whatever order the workers finish in.
    pub fn plan(&self, mut progress: impl FnMut(&ConnectionPlan) + Send) -> Result<Plan> {
        let selection = self.select()?;
        let mut connections = Vec::with_capacity(selection.len());
        self.plan_each(&selection, |plan| {
            progress(&plan);
            connections.push(plan);
            Ok(())
        })?;
        Ok(Plan {
            connections,
            ..self.header()
        })
    }

    /// The plan's header: everything but the connections.
    pub fn header(&self) -> Plan {
        Plan {
            format: FORMAT.into(),
            cutover_version: env!("CARGO_PKG_VERSION").into(),
            fleet: self.fleet.identity(),
            options: self.options.clone(),
            plugins: self.registry.all().iter().map(PluginRef::from).collect(),
            connections: Vec::new(),
        }
    }

    /// Which documents the plan covers, in key order, each with the problem that
    /// makes it invalid before it is planned (an id another document also uses). Reads only
    /// each document's id.
    pub fn select(&self) -> Result<Selection> {
        let keys = self.fleet.documents().keys()?;
        let id_of = |key: &String| -> Result<Option<String>> {
            if let Some(id) = self.fleet.documents().id_of(key) {
                return Ok(Some(id));
            }
            let bytes = self.fleet.documents().read(key)?;
            Ok(serde_json::from_slice::<IdOnly>(&bytes)
                .ok()
                .map(|doc| doc.id))
        };
        let mut ids = Vec::with_capacity(keys.len());
        for (i, id) in cores::map(&keys, id_of).into_iter().enumerate() {
            if let Some(id) = id? {
                ids.push((i, id));
            }
        }
        for id in &self.options.only {
            if !ids.iter().any(|(_, seen)| seen == id) {
                bail!(
                    "no connection {id:?} in fleet {}; `cutover status` lists them",
                    self.fleet.documents().summary()
                );
            }
        }
        let mut problems: Vec<Option<String>> = vec![None; keys.len()];
        for (i, problem) in self
            .fleet
            .duplicate_ids(ids.iter().cloned(), |i| keys[i].clone())
        {
            problems[i] = Some(format!("{}: {problem}", self.fleet.display_key(&keys[i])));
        }
        let mut id_of: Vec<Option<String>> = vec![None; keys.len()];
        for (i, id) in ids {
            id_of[i] = Some(id);
        }
        let documents = keys
            .into_iter()
            .zip(problems)
            .zip(id_of)
            .filter(|(_, id)| {
                self.options.only.is_empty()
                    || id.as_ref().is_some_and(|id| self.options.only.contains(id))
            })
            .map(|(document, _)| document)
            .collect();
        Ok(Selection { documents })
    }

    /// Plans the selected documents on up to one worker per core and hands each plan to
    /// `emit` in key order, as soon as it and every one before it are done.
    ///
    /// Memory stays flat in the fleet's size: each worker reads, plans and lets go of one
    /// document at a time, a plan keeps the hash of a migrated document, not the document
    /// (apply migrates again and checks the hash, see [`crate::write::apply`]), and only plans that
    /// finished ahead of an earlier one wait here.
    pub fn plan_each(
        &self,
        selection: &Selection,
        emit: impl FnMut(ConnectionPlan) -> Result<()>,
    ) -> Result<()> {
        self.plan_each_with(selection, false, emit)
    }

    /// [`Planner::plan_each`] for a plan that is shown: each connection's plan also carries
    /// what its patches replace ([`ConnectionPlan::shown_before`]), masked as the patches
    /// are, taken from the document read to plan it.
    pub fn plan_each_shown(
        &self,
        selection: &Selection,
        emit: impl FnMut(ConnectionPlan) -> Result<()>,
    ) -> Result<()> {
        self.plan_each_with(selection, true, emit)
    }

    fn plan_each_with(
        &self,
        selection: &Selection,
        shown: bool,
        mut emit: impl FnMut(ConnectionPlan) -> Result<()>,
    ) -> Result<()> {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
        let documents = &selection.documents;
        let workers = cores::workers(documents.len());
        let (next, stop) = (AtomicUsize::new(0), AtomicBool::new(false));
        // Bounded: workers wait while the emitter is behind.
        let (send, receive) =
            std::sync::mpsc::sync_channel::<(usize, Result<ConnectionPlan>)>(workers * 4);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let send = send.clone();
                let (next, stop) = (&next, &stop);
                scope.spawn(move || {
                    while !stop.load(Relaxed) {
                        let i = next.fetch_add(1, Relaxed);
                        let Some((key, problem)) = documents.get(i) else { break };
                        let plan = self.fleet.read(key).map(|entry| {
                            let mut plan = match problem {
                                Some(problem) => ConnectionPlan::invalid(key, entry.sha256.clone(), problem.clone()),
                                None => self.plan_entry(&entry),
                            };
                            plan.output = None;
                            if shown {
                                plan.shown_before = self.shown_before(&entry, &plan);
                            }
                            tracing::debug!(connection = %plan.id, status = plan.status.as_str(), reason = plan.reason.as_deref().unwrap_or(""), "planned");
                            plan
                        });
                        if send.send((i, plan)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(send);
            let mut waiting = std::collections::BTreeMap::new();
            let mut due = 0;
            let mut result = Ok(());
            for (i, plan) in receive.iter() {
                if result.is_err() {
                    continue; // drain, so every worker can finish
                }
                waiting.insert(i, plan);
                while let Some(plan) = waiting.remove(&due) {
                    due += 1;
                    if let Err(e) = plan.and_then(&mut emit) {
                        stop.store(true, Relaxed);
                        result = Err(e);
                        break;
                    }
                }
            }
            result
        })
    }

    /// Plans one connection document. What the plan shows of the documents (patches,
    /// reasons, notes, actions, logs) has every secret value redacted.
    pub fn plan_entry(&self, entry: &Entry) -> ConnectionPlan {
        let mut secrets = Secrets::new();
        let mut plan = self.plan_document(entry, &mut secrets);
        match &entry.parsed {
            Ok(Document::Airbyte(connection)) => plan.redact(&secrets, connection.config()),
            // An Elastic document's secrets are its `sensitive` configuration fields.
            Ok(Document::Elastic(_)) => match serde_json::from_slice::<Value>(&entry.bytes) {
                Ok(document) => {
                    secrets.learn_config(&document);
                    plan.redact(&secrets, &Value::Null);
                }
                Err(_) => plan.redact(&secrets, &Value::Null),
            },
            Err(_) => {}
        }
        plan
    }

    /// What a planned connection's patches replace, masked as they are: the connection's
    /// three documents (secrets by the spec of the version planned from, the usual names
    /// and every secret value wherever else it appears), or an Elastic connector document
    /// (its `sensitive` fields). None when the plan changes nothing.
    fn shown_before(&self, entry: &Entry, plan: &ConnectionPlan) -> Option<Value> {
        if plan.output_sha256.is_none() || plan.steps.is_empty() {
            return None;
        }
        let before: Value = serde_json::from_slice(&entry.bytes).ok()?;
        Some(match &entry.parsed {
            Ok(Document::Elastic(_)) => crate::elastic::redact::document(&before),
            _ => {
                let names = match (&plan.connector, &plan.from) {
                    (Some(connector), Some(version)) => {
                        self.fleet.specs().secret_names(connector, version)
                    }
                    _ => Default::default(),
                };
                crate::redact::masked_document(before, names)
            }
        })
    }

    /// Plans one connection document, learning its secrets as the chain runs.
    fn plan_document(&self, entry: &Entry, secrets: &mut Secrets) -> ConnectionPlan {
        let connection = match &entry.parsed {
            Ok(Document::Airbyte(c)) => c,
            Ok(Document::Elastic(c)) => return crate::elastic::plan::plan(self, entry, c),
            Err(e) => {
                return ConnectionPlan::invalid(
                    &entry.key,
                    entry.sha256.clone(),
                    format!("{}: {e}", self.fleet.display_key(&entry.key)),
                );
            }
        };
        let mut plan = ConnectionPlan::invalid(&entry.key, entry.sha256.clone(), String::new());
        plan.reason = None;
        plan.id = connection.id.clone();
        plan.name = connection.name.clone();
        plan.connector = Some(connection.connector.clone());
        plan.from = Some(connection.version.clone());

        let plugins = self.registry.for_connector(&connection.connector);
        let target = match self
            .options
            .targets
            .get(&connection.connector)
            .or(self.fleet.settings.target(&connection.connector))
        {
            Some(t) => t.clone(),
            None if plugins.is_empty() => {
                plan.status = Status::Blocked;
                plan.reason = Some(format!(
                    "unknown connector {:?}: the fleet sets no target for it and no plugin migrates it; add [connectors.\"{}\"] target = \"X.Y.Z\" to cutover.toml",
                    connection.connector, connection.connector
                ));
                return plan;
            }
            // With plugins but no explicit target, aim at the newest version a plugin produces.
            None => plugins
                .iter()
                .map(|p| p.produces.clone())
                .max()
                .expect("plugins is not empty"),
        };
        plan.to = Some(target.clone());

        if let Some(pin) = &connection.pin {
            plan.status = Status::Pinned;
            plan.reason = Some(match &pin.reason {
                Some(r) => format!("pinned by {} at {}: {r}", pin.origin, connection.version),
                None => format!("pinned by {} at {}", pin.origin, connection.version),
            });
            return plan;
        }
        if connection.version >= target {
            plan.status = Status::UpToDate;
            if connection.version > target {
                plan.reason = Some(format!("already past the fleet's target {target}"));
            }
            return plan;
        }
        let steps = match policy::chain(
            &connection.connector,
            &connection.version,
            &target,
            &plugins,
        ) {
            Ok(s) => s,
            Err(e) => {
                plan.status = Status::Blocked;
                plan.reason = Some(e.to_string());
                return plan;
            }
        };
        if let Err(reason) = self.check_preconditions(&steps, &plugins) {
            plan.status = Status::Blocked;
            plan.reason = Some(reason);
            return plan;
        }
        let breaking = steps.iter().any(|s| matches!(s, Step::Plugin { .. }));
        let ran = if self.run_plugins {
            self.run_chain(connection, &steps, &plugins, &mut plan, secrets)
        } else {
            plan.steps = steps
                .iter()
                .map(|s| StepPlan {
                    from: s.from().clone(),
                    to: s.to().clone(),
                    plugin: match s {
                        Step::Plugin { plugin, .. } => Some(plugins[*plugin].into()),
                        Step::Automatic { .. } => None,
                    },
                    breaking: None,
                    input_sha256: String::new(),
                    output_sha256: String::new(),
                    log: Vec::new(),
                    log_dropped: 0,
                })
                .collect();
            Ok(())
        };
        match ran {
            Ok(()) => {}
            Err(reason) => {
                if plan.status != Status::NeedsOperator {
                    plan.status = Status::Failed;
                }
                plan.reason = Some(reason);
                plan.output = None;
                plan.output_sha256 = None;
                return plan;
            }
        }
        plan.status = if !breaking {
            Status::Upgrade
        } else if self.options.opted_in(&connection.id) {
            Status::Migrate
        } else {
            plan.reason = Some(format!(
                "breaking upgrade: opt in with --opt-in {} (or --all) to apply it",
                connection.id
            ));
            Status::NeedsOptIn
        };
        self.as_written(entry, &mut plan);
        plan
    }

    /// Replaces the plan's output with the bytes the store will hold once it is written
    /// (and hashes those); a store that cannot take it makes the connection need the operator.
    fn as_written(&self, entry: &Entry, plan: &mut ConnectionPlan) {
        let Some(output) = plan.output.take() else {
            return;
        };
        let documents = self.fleet.documents();
        match documents.as_written(&entry.key, &entry.bytes, output, &plan.actions) {
            Ok(bytes) => {
                plan.notes
                    .extend(documents.rollback_limits(&entry.bytes, &bytes, &plan.actions));
                plan.output_sha256 = Some(sha256_hex(&bytes));
                plan.output = Some(bytes);
            }
            Err(why) if plan.status.writes() => {
                plan.status = Status::NeedsOperator;
                plan.reason = Some(why);
                plan.output_sha256 = None;
            }
            Err(why) => {
                plan.notes
                    .push(format!("once opted in, it needs the operator: {why}"));
                plan.output_sha256 = None;
            }
        }
    }

    fn check_preconditions(&self, steps: &[Step], plugins: &[&Plugin]) -> Result<(), String> {
        for step in steps {
            let Step::Plugin { plugin, .. } = step else {
                continue;
            };
            let plugin = plugins[*plugin];
            for p in &plugin.manifest.preconditions {
                let req = semver::VersionReq::parse(&p.requirement).map_err(|e| e.to_string())?;
                match self.fleet.settings.platform.get(&p.subject) {
                    Some(v) if req.matches(v) => {}
                    Some(v) => {
                        return Err(format!(
                            "precondition of {}: {} {} is required, the fleet has {v}; upgrade it first, then set [platform] {} = \"…\" in cutover.toml",
                            plugin.file, p.subject, p.requirement, p.subject
                        ));
                    }
                    None => {
                        return Err(format!(
                            "precondition of {}: {} {} is required, and cutover.toml does not say which {} the fleet runs; set [platform] {} = \"X.Y.Z\"",
                            plugin.file, p.subject, p.requirement, p.subject, p.subject
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs each step on the previous step's output. Fills in steps, changes, actions,
    /// notes and the output document; an error names the step and plugin.
    fn run_chain(
        &self,
        connection: &Connection,
        steps: &[Step],
        plugins: &[&Plugin],
        plan: &mut ConnectionPlan,
        secrets: &mut Secrets,
    ) -> Result<(), String> {
        let streams: BTreeSet<&str> = connection.stream_names().into_iter().collect();
        let specs = self.fleet.specs();
        secrets.learn_names(specs.secret_names(&connection.connector, &connection.version));
        for step in steps {
            secrets.learn_names(specs.secret_names(&connection.connector, step.to()));
        }
        secrets.learn_config(connection.config());
        let mut documents = Documents::of(connection);
        for step in steps {
            let input_sha256 = documents.sha256();
            let (from, to) = (step.from(), step.to());
            let conforms = |config: &Value| {
                self.fleet
                    .specs()
                    .check(&connection.connector, to, config)
                    .map_err(|e| format!("step {from} → {to}: {e}"))
            };
            match step {
                Step::Automatic { from, to } => {
                    conforms(&documents.config)?;
                    plan.steps.push(StepPlan {
                        from: from.clone(),
                        to: to.clone(),
                        plugin: None,
                        breaking: None,
                        output_sha256: input_sha256.clone(),
                        input_sha256,
                        log: Vec::new(),
                        log_dropped: 0,
                    });
                }
                Step::Plugin { from, to, plugin } => {
                    let plugin = plugins[*plugin];
                    let input = documents.take_input(connection, from);
                    let call = self.sandbox.migrate(&plugin.loaded, &input).map_err(|e| {
                        // A plugin that needs what only the operator can give plans as such.
                        if matches!(
                            e,
                            crate::sandbox::SandboxError::Refused(
                                crate::migration::MigrationError::NeedsOperator(_)
                            )
                        ) {
                            plan.status = Status::NeedsOperator;
                        }
                        format!("step {from} → {to}, plugin {}: {e}", plugin.label())
                    })?;
                    let (c, k, st) = read_outcome(&call.value).map_err(|e| {
                        format!(
                            "step {from} → {to}, plugin {}: returned {e}",
                            plugin.label()
                        )
                    })?;
                    secrets.learn_config(&c);
                    let m = &plugin.manifest;
                    let target = self.fleet.catalogs().get(&connection.connector, to)?;
                    let before = conformance::Documents {
                        catalog: &documents.catalog,
                        state: &documents.state,
                    };
                    let problems = conformance::problems(
                        &before,
                        &conformance::Documents {
                            catalog: &k,
                            state: &st,
                        },
                        target.as_deref(),
                    );
                    if !problems.is_empty() {
                        return Err(format!(
                            "step {from} → {to}, plugin {}: its output is not believed: {}",
                            plugin.label(),
                            problems.join("; ")
                        ));
                    }
                    let unlisted_changes = target
                        .map(|t| {
                            conformance::unlisted_changes(&documents.catalog, &t, &m.scoped_streams)
                        })
                        .unwrap_or_default();
                    documents = Documents::new(c, k, st);
                    conforms(&documents.config)?;
                    let affected = m.scoped_streams.is_empty()
                        || m.scoped_streams
                            .iter()
                            .any(|s| streams.contains(s.as_str()));
                    plan.steps.push(StepPlan {
                        from: from.clone(),
                        to: to.clone(),
                        plugin: Some(plugin.into()),
                        breaking: Some(Breaking {
                            message: m.message.clone(),
                            upgrade_deadline: m.upgrade_deadline.clone(),
                            deadline_action: m.deadline_action,
                            documentation_url: m.documentation_url.clone(),
                            scoped_streams: m.scoped_streams.clone(),
                            affected,
                            unlisted_changes,
                        }),
                        output_sha256: documents.sha256(),
                        input_sha256,
                        log: call.log,
                        log_dropped: call.log_dropped,
                    });
                    // Each action once, in a time linear in their number.
                    let mut seen: std::collections::HashSet<Action> =
                        plan.actions.iter().cloned().collect();
                    for a in call.value.actions {
                        if seen.insert(a.clone()) {
                            plan.actions.push(a);
                        }
                    }
                    plan.notes
                        .extend(call.value.notes.into_iter().map(|n| format!("{to}: {n}")));
                }
            }
        }
        let Documents {
            config,
            catalog,
            state,
            ..
        } = &documents;
        plan.changes = Changes::between(connection, config, catalog, state);
        let to = steps
            .last()
            .map(|s| s.to().clone())
            .unwrap_or_else(|| connection.version.clone());
        // A valid document, so the next run can read it: the connection's own fields are
        // unchanged and `read_outcome` checked the three documents' shapes.
        let output = connection.migrated_bytes(&to, config, catalog, state);
        debug_assert!(
            Connection::parse(&output).is_ok(),
            "a migrated document must parse"
        );
        plan.output_sha256 = Some(sha256_hex(&output));
        plan.output = Some(output);
        Ok(())
    }
}

/// Reads what a plugin returned: three JSON documents with the outer shapes every version
/// of every connector shares. Anything else is the plugin's error, described for the plan.
pub fn read_outcome(outcome: &crate::migration::Outcome) -> Result<(Value, Value, Value), String> {
    let parse = |what: &str, text: &str| -> Result<Value, String> {
        serde_json::from_str(text).map_err(|e| format!("{what} that is not valid JSON: {e}"))
    };
    let config = parse("config", &outcome.config)?;
    let catalog = parse("catalog", &outcome.catalog)?;
    let state = parse("state", &outcome.state)?;
    check_shapes(&config, &catalog, &state)?;
    Ok((config, catalog, state))
}

/// The outer shapes every version of every connector shares.
fn check_shapes(config: &Value, catalog: &Value, state: &Value) -> Result<(), String> {
    if !config.is_object() {
        return Err("a config that is not a JSON object".into());
    }
    if !catalog.get("streams").is_some_and(Value::is_array) {
        return Err("a catalog without a \"streams\" array".into());
    }
    if !state.is_array() {
        return Err("a state that is not an array of state messages".into());
    }
    Ok(())
}

/// A connection's three documents as they go from step to step of a chain: parsed (for
/// spec checks and the plan's diffs) and as the compact JSON a plugin receives, made once
/// per step and used for both the step's hash and the next plugin's input.
struct Documents<'a> {
    config: Cow<'a, Value>,
    catalog: Cow<'a, Value>,
    state: Cow<'a, Value>,
    text: [String; 3],
}

impl<'a> Documents<'a> {
    /// The documents of a connection as it is, borrowed from it.
    fn of(connection: &'a Connection) -> Self {
        Self::with(
            Cow::Borrowed(connection.config()),
            Cow::Borrowed(connection.catalog()),
            connection.state_ref(),
        )
    }

    /// The documents a step returned.
    fn new(config: Value, catalog: Value, state: Value) -> Self {
        Self::with(Cow::Owned(config), Cow::Owned(catalog), Cow::Owned(state))
    }

    fn with(config: Cow<'a, Value>, catalog: Cow<'a, Value>, state: Cow<'a, Value>) -> Self {
        let text = [config.to_string(), catalog.to_string(), state.to_string()];
        Self {
            config,
            catalog,
            state,
            text,
        }
    }

    /// One hash over the three documents, for the ledger's per-step records: the sha256 of
    /// `[config,catalog,state]` as compact JSON.
    fn sha256(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(b"[");
        for (i, text) in self.text.iter().enumerate() {
            if i > 0 {
                hash.update(b",");
            }
            hash.update(text.as_bytes());
        }
        hash.update(b"]");
        hex::encode(hash.finalize())
    }

    /// A plugin's input for the step from `version`, made of the text without copying it
    /// (the step's output replaces these documents; until then the parsed documents stay,
    /// for the checks of the step's output).
    fn take_input(&mut self, connection: &Connection, version: &Version) -> Input {
        let [config, catalog, state] = std::mem::take(&mut self.text);
        Input {
            id: connection.id.clone(),
            connector: connection.connector.clone(),
            version: version.to_string(),
            config,
            catalog,
            state: state.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Step hashes in ledgers written before keep their meaning: the sha256 of the three
    /// documents serialized together as one compact JSON array.
    #[test]
    fn a_step_hash_is_that_of_the_documents_as_one_array() {
        let (config, catalog, state) = (
            serde_json::json!({"a": [1, "é"]}),
            serde_json::json!({"streams": []}),
            serde_json::json!([]),
        );
        let expected = sha256_hex(
            serde_json::to_string(&(&config, &catalog, &state))
                .unwrap()
                .as_bytes(),
        );
        assert_eq!(Documents::new(config, catalog, state).sha256(), expected);
    }
}
