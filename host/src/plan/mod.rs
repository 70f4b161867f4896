//! Planning: for every connection, the chain of steps to its target, run in the sandbox,
//! with what would change and what the operator must still do. Nothing is written.
//!
//! A plan records the sha256 of every input document and every plugin, and of every
//! output document. [`crate::write::apply`] recomputes each connection's migration and refuses
//! to write unless all three still match: a plan is never applied to inputs it did not see.
//!
//! From the bottom up: what a plan is ([`ConnectionPlan`], built by a [`PlanBuilder`], and the
//! plan's header, [`Plan`]); the plan file, written as the plan is made ([`PlanWriter`]) and
//! read back a connection at a time ([`SavedPlan`], [`PlanSource`], [`Survey`]); which
//! documents a plan covers ([`Selection`]); the chain runner, one step loop for every
//! platform ([`Planner::run_steps`], fed by Airbyte's planner here and Elastic's in
//! [`crate::elastic::plan`]); and the planner that plans a fleet on every core
//! ([`Planner::plan_each`]).

mod airbyte;
mod chain;
mod diff;
mod file;
mod planner;
mod select;
mod types;

pub use airbyte::read_outcome;
pub use chain::{Called, Feed, Planner, Stop, step_error, unrun};
pub use file::{PlanSource, PlanWriter, SavedPlan, Survey, Surveying};
pub use select::{KEPT_BYTES, Selection};
pub use types::{
    Breaking, Changes, ConnectionPlan, FORMAT, Options, Plan, PlanBuilder, PluginRef, Status,
    StepPlan, Summary,
};
