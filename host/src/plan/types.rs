//! What a plan is: a header (the format, the fleet, the options, the plugins) and one
//! [`ConnectionPlan`] per connection, with its status, steps, changes and the hashes apply
//! checks. Nothing here plans; [`super::chain`] and the platforms' planners fill these in.

use crate::connection::Connection;
use crate::manifest::DeadlineAction;
use crate::migration::Action;
use crate::redact::Secrets;
use crate::registry::Plugin;
use crate::sandbox::LogLine;
use anyhow::{Context, Result, bail};
use semver::Version;
use serde::{Deserialize, Serialize};
use serde_json::Value;
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
    /// Whether the connection `id` is opted in to breaking steps.
    pub fn opted_in(&self, id: &str) -> bool {
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
    /// The patches from a connection's documents to new ones, the catalog's and state's
    /// stream by stream (`plan::diff`).
    pub fn between(old: &Connection, config: &Value, catalog: &Value, state: &Value) -> Self {
        Self {
            config: json_patch::diff(old.config(), config),
            catalog: super::diff::catalog(old.catalog(), catalog),
            state: super::diff::state(&old.state_ref(), state),
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
    /// replaces: filled only by [`super::Planner::plan_each_shown`], so that whoever shows a plan
    /// reads no document again, and never saved.
    #[serde(skip)]
    pub shown_before: Option<Value>,
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
        let mut plan = PlanBuilder::new(&key, input_sha256).id(id);
        plan.output_sha256 = output_sha256;
        plan.build(status, None)
    }
}

/// A connection's plan as it is made: what is known of the document so far, the steps run,
/// what they changed. It becomes a [`ConnectionPlan`] only with a status and its reason
/// ([`PlanBuilder::build`], [`PlanBuilder::stop`]), so no plan is ever shown half made.
pub struct PlanBuilder {
    plan: ConnectionPlan,
}

impl PlanBuilder {
    /// The plan of the document at `key`, whose bytes hash to `input_sha256`. Until the
    /// document is read, its id is its key.
    pub fn new(key: &str, input_sha256: String) -> Self {
        Self {
            plan: ConnectionPlan {
                id: key.to_owned(),
                name: None,
                key: key.to_owned(),
                connector: None,
                input_sha256,
                from: None,
                to: None,
                status: Status::Invalid,
                reason: None,
                steps: Vec::new(),
                changes: Changes::default(),
                actions: Vec::new(),
                notes: Vec::new(),
                output_sha256: None,
                output: None,
                shown_before: None,
            },
        }
    }

    /// The connection's id, as its document says.
    pub fn id(mut self, id: String) -> Self {
        self.plan.id = id;
        self
    }

    /// The connection's name and connector.
    pub fn named(mut self, name: Option<String>, connector: String) -> Self {
        self.plan.name = name;
        self.plan.connector = Some(connector);
        self
    }

    /// The plan, with its status and why.
    pub fn build(mut self, status: Status, reason: Option<String>) -> ConnectionPlan {
        self.plan.status = status;
        self.plan.reason = reason;
        self.plan
    }

    /// A plan stopped before it changes anything: `status` and why. Any output a failed
    /// step left is dropped.
    pub fn stop(mut self, status: Status, reason: String) -> ConnectionPlan {
        self.plan.output = None;
        self.plan.output_sha256 = None;
        self.build(status, Some(reason))
    }
}

/// The parts of a plan the steps fill in as they run.
impl std::ops::Deref for PlanBuilder {
    type Target = ConnectionPlan;
    fn deref(&self) -> &ConnectionPlan {
        &self.plan
    }
}

impl std::ops::DerefMut for PlanBuilder {
    fn deref_mut(&mut self) -> &mut ConnectionPlan {
        &mut self.plan
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
    /// (diffs, notes, step details): [`Plan::read`], [`super::SavedPlan`].
    pub connections: Vec<ConnectionPlan>,
}

/// Counts of connections per status.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary(pub BTreeMap<Status, usize>);

impl Summary {
    pub fn get(&self, s: Status) -> usize {
        self.0.get(&s).copied().unwrap_or(0)
    }

    /// Counts one more connection with status `s`.
    pub fn count(&mut self, s: Status) {
        *self.0.entry(s).or_default() += 1;
    }
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.connections {
            s.count(c.status);
        }
        s
    }

    /// Whether any connection could not be planned or failed.
    pub fn has_errors(&self) -> bool {
        self.connections
            .iter()
            .any(|c| c.status.is_input_error() || c.status == Status::Failed)
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
