//! The chain runner: one step loop for every platform.
//!
//! Each step of a connection's chain hashes the documents it starts from, runs the step
//! (an automatic step checks them; a plugin step calls the plugin in the sandbox, checks
//! what it returned and takes it), records the step with both hashes, the plugin's log and
//! the breaking change it carries, and keeps each operator action once. What differs by
//! platform (the shape of the documents, the plugin call, the checks of its output, and a
//! chain that changes course when an Elastic connector changes its data source) is the
//! platform's [`Feed`]. Once every step ran, the new document's hash is the plan's promise;
//! [`Planner::as_written`] makes it the hash of the bytes the store will hold.

use super::types::{Breaking, ConnectionPlan, Options, PlanBuilder, Status, StepPlan};
use crate::fleet::{Entry, Fleet};
use crate::ground::sha256_hex;
use crate::migration::Action;
use crate::policy::Step;
use crate::registry::{Plugin, Registry};
use crate::sandbox::{LogLine, Sandbox};
use semver::Version;

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

/// Why a chain stopped: the connection's status and the reason shown with it.
pub type Stop = (Status, String);

/// What a plugin step gave, once its output was checked and taken.
pub struct Called {
    pub log: Vec<LogLine>,
    pub log_dropped: usize,
    pub actions: Vec<Action>,
    pub notes: Vec<String>,
    /// Whether the connection syncs a stream the breaking change scopes.
    pub affected: bool,
    /// Streams the new version changed that the breaking change does not list.
    pub unlisted_changes: Vec<String>,
}

/// A platform's documents on their way through a chain.
pub trait Feed<'p> {
    /// The sha256 of the documents as they stand: a step's input, the step before's output.
    fn sha256(&self) -> String;
    /// Checks the documents after an automatic step from `from` to `to`.
    fn automatic(
        &mut self,
        planner: &Planner<'p>,
        from: &Version,
        to: &Version,
    ) -> Result<(), Stop>;
    /// Runs `plugin` for the step `from` → `to`, checks what it returned and takes it as
    /// the documents.
    fn call(
        &mut self,
        planner: &Planner<'p>,
        plugin: &Plugin,
        from: &Version,
        to: &Version,
    ) -> Result<Called, Stop>;
    /// After a plugin step to `to`: the rest of the chain and its plugins, when the step
    /// changed what the chain is of. None keeps the chain as it was.
    #[allow(clippy::type_complexity)]
    fn follow(
        &mut self,
        planner: &Planner<'p>,
        to: &Version,
    ) -> Result<Option<(Vec<Step>, Vec<&'p Plugin>)>, Stop> {
        let _ = (planner, to);
        Ok(None)
    }
    /// Once every step ran (the last one to `last`): fills in the plan's changes and gives
    /// the new document.
    fn finish(&mut self, plan: &mut PlanBuilder, last: Option<&Version>) -> Vec<u8>;
}

/// What a step's message says of where it failed: `step 1.0.0 → 2.0.0, plugin x.wasm (…)`.
pub fn step_error(
    from: &Version,
    to: &Version,
    plugin: &Plugin,
    e: impl std::fmt::Display,
) -> String {
    format!("step {from} → {to}, plugin {}: {e}", plugin.label())
}

/// The steps of a chain that is not run (`cutover status`): which plugin each would run,
/// no hashes.
pub fn unrun(steps: &[Step], plugins: &[&Plugin]) -> Vec<StepPlan> {
    steps
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
        .collect()
}

impl<'a> Planner<'a> {
    /// Runs `steps` on the documents `feed` carries, filling in the plan's steps, actions,
    /// notes, changes and output document.
    pub fn run_steps(
        &self,
        feed: &mut impl Feed<'a>,
        mut steps: Vec<Step>,
        mut plugins: Vec<&'a Plugin>,
        plan: &mut PlanBuilder,
    ) -> Result<(), Stop> {
        let mut next = 0;
        while next < steps.len() {
            let step = steps[next].clone();
            next += 1;
            let input_sha256 = feed.sha256();
            let (from, to) = (step.from().clone(), step.to().clone());
            let Step::Plugin { plugin, .. } = step else {
                feed.automatic(self, &from, &to)?;
                plan.steps.push(StepPlan {
                    from,
                    to,
                    plugin: None,
                    breaking: None,
                    output_sha256: input_sha256.clone(),
                    input_sha256,
                    log: Vec::new(),
                    log_dropped: 0,
                });
                continue;
            };
            let p = plugins[plugin];
            let called = feed.call(self, p, &from, &to)?;
            let m = &p.manifest;
            plan.steps.push(StepPlan {
                from,
                to: to.clone(),
                plugin: Some(p.into()),
                breaking: Some(Breaking {
                    message: m.message.clone(),
                    upgrade_deadline: m.upgrade_deadline.clone(),
                    deadline_action: m.deadline_action,
                    documentation_url: m.documentation_url.clone(),
                    scoped_streams: m.scoped_streams.clone(),
                    affected: called.affected,
                    unlisted_changes: called.unlisted_changes,
                }),
                output_sha256: feed.sha256(),
                input_sha256,
                log: called.log,
                log_dropped: called.log_dropped,
            });
            // Each action once, in a time linear in their number.
            let mut seen: std::collections::HashSet<Action> =
                plan.actions.iter().cloned().collect();
            for a in called.actions {
                if seen.insert(a.clone()) {
                    plan.actions.push(a);
                }
            }
            plan.notes
                .extend(called.notes.into_iter().map(|n| format!("{to}: {n}")));
            if let Some((rest, rest_plugins)) = feed.follow(self, &to)? {
                steps.truncate(next);
                steps.extend(rest);
                plugins = rest_plugins;
            }
        }
        let last = steps.last().map(|s| s.to().clone());
        let output = feed.finish(plan, last.as_ref());
        plan.output_sha256 = Some(sha256_hex(&output));
        plan.output = Some(output);
        Ok(())
    }

    /// The status of a chain that can run: an upgrade, a breaking migration the connection
    /// is opted in to, or one waiting for its opt-in (and the reason that says how).
    pub fn decide(&self, id: &str, breaking: bool) -> (Status, Option<String>) {
        if !breaking {
            (Status::Upgrade, None)
        } else if self.options.opted_in(id) {
            (Status::Migrate, None)
        } else {
            (
                Status::NeedsOptIn,
                Some(format!(
                    "breaking upgrade: opt in with --opt-in {id} (or --all) to apply it"
                )),
            )
        }
    }

    /// Replaces the plan's output with the bytes the store will hold once it is written
    /// (and hashes those); a store that cannot take it makes the connection need the operator.
    pub fn as_written(&self, entry: &Entry, plan: &mut ConnectionPlan) {
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
}
