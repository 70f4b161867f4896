//! `cutover apply`: a saved plan, or one made now, written to the fleet; on a PostgreSQL
//! fleet this process becomes one worker of the plan's shared run. `--dry-run` shows what
//! each write would send.

use anyhow::{Result, bail};
use cutover::ledger::RunStatus;
use cutover::plan::PlanSource;
use cutover::terminal::block;
use cutover::write;
use cutover::write::apply::{self, Applied};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::print_json;
use crate::render;
use crate::session::Select;
use crate::session::{Loaded, load, progress_bar};

#[derive(clap::Args)]
pub struct ApplyArgs {
    /// A plan saved by `cutover plan --out`. Without one, cutover plans now.
    plan: Option<PathBuf>,
    /// Work on shared run RUN (PostgreSQL fleets), with the plan it was started with.
    #[arg(long, value_name = "RUN", conflicts_with = "plan")]
    join: Option<i64>,
    /// Read everything and show what each write would send; write nothing.
    #[arg(long, conflicts_with = "join")]
    dry_run: bool,
    #[command(flatten)]
    select: Select,
    #[arg(long)]
    json: bool,
}

impl ApplyArgs {
    pub fn execute(self, fleet: &Path) -> Result<ExitCode> {
        let ApplyArgs {
            plan: saved,
            join,
            dry_run,
            select,
            json,
        } = self;
        let loaded = load(fleet)?;
        if dry_run {
            return dry_run_apply(&loaded, saved.as_deref(), &select, json);
        }
        if let cutover::store::LedgerHome::Postgres(pg) = loaded.fleet.ledger_home() {
            return apply_shared(&loaded, pg, saved.as_deref(), &select, join, json);
        }
        if join.is_some() {
            bail!(
                "--join works on fleets shared in PostgreSQL; {} is not one",
                loaded.fleet.documents().summary()
            );
        }
        // The writer settles what an interrupted run left before anything is planned: a
        // write an API backend cut part-way is finished first, not planned from half-done.
        let mut writer = write::open(&loaded.fleet, "apply")?;
        let (plan, _scratch) = loaded.plan_for_apply(saved.as_deref(), &select)?;
        if saved.is_some() {
            loaded.check_saved(&*plan)?;
        }
        let survey = plan.survey()?;
        if let Some(reason) = apply::refusal(&survey) {
            bail!("{reason}");
        }
        let bar = progress_bar(survey.writes() as u64, "applying");
        let planner = loaded.planner(&plan.header().options, true);
        let migrate = |entry: &cutover::fleet::Entry| planner.plan_entry(entry);
        let applied = apply::apply(&loaded.fleet, &*plan, &mut *writer, migrate, |_| bar.inc(1))?;
        bar.finish_and_clear();
        report_applied(&applied, json)
    }
}

/// `apply --dry-run`: the plan apply would write, and what each write would send.
fn dry_run_apply(
    loaded: &Loaded,
    saved: Option<&std::path::Path>,
    select: &Select,
    json: bool,
) -> Result<ExitCode> {
    let plan = match saved {
        Some(path) => loaded.checked_plan(path)?,
        None => loaded.plan_to_apply(select)?,
    };
    if let Some(reason) = apply::refusal(&plan.survey()?) {
        bail!("{reason}");
    }
    let planner = loaded.planner(&plan.options, true);
    let previews = apply::dry_run(
        &loaded.fleet,
        &plan.connections,
        |entry: &cutover::fleet::Entry| planner.plan_entry(entry),
    );
    if json {
        print_json(&previews)?;
    } else {
        print!("{}", render::dry_run(&previews, &loaded.fleet));
    }
    Ok(if previews.iter().any(|p| p.requests.is_err()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Shows what an apply did (or prints it as JSON); the exit code is 1 when a connection
/// failed, here or, in a shared run that ended, on another worker.
fn report_applied(applied: &Applied, json: bool) -> Result<ExitCode> {
    if json {
        print_json(applied)?;
    } else {
        print!("{}", block(&render::applied(applied)));
    }
    let run_failed = applied
        .shared
        .as_ref()
        .is_some_and(|end| end.ended && end.failed > 0);
    Ok(if applied.failed.is_empty() && !run_failed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `cutover apply` on a PostgreSQL fleet: this process becomes one worker of the shared
/// run of its plan (made now, read from a file, or the plan of run `join`).
fn apply_shared(
    loaded: &Loaded,
    pg: &cutover::store::postgres::PgFleet,
    saved: Option<&std::path::Path>,
    select: &Select,
    join: Option<i64>,
    json: bool,
) -> Result<ExitCode> {
    use cutover::write::shared::{Joining, Start, Started};
    let plugins: Vec<cutover::plan::PluginRef> =
        loaded.registry.all().iter().map(Into::into).collect();
    let over = |over: &cutover::write::shared::Finished| -> Result<ExitCode> {
        if json {
            print_json(over)?;
        } else {
            print!("{}", block(&render::run_over(over)));
        }
        Ok(if over.status == RunStatus::Completed.as_str() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    };
    let (worker, options, to_write) = match join {
        Some(run) => {
            let shared = match pg.run_plan(run)? {
                Joining::Run(shared) => shared,
                Joining::Over(finished) => return over(&finished),
            };
            if shared.plugins != plugins {
                bail!(
                    "run {run} was planned with other plugins than this host's {} (added, removed or rebuilt); give this host the same plugins. Nothing was written.",
                    loaded.fleet.plugins_dir().display()
                );
            }
            match pg.worker(Start::Join(run))? {
                Started::Working(worker) => (*worker, shared.options, None),
                Started::Over(finished) => return over(&finished),
                Started::Unchecked => unreachable!("a run joined by its id was checked"),
            }
        }
        None => {
            let (plan, _scratch) = loaded.plan_for_apply(saved, select)?;
            // A saved plan is checked against the fleet only to start a new run: the live
            // run of the same plan was checked by the worker that started it, and one that
            // is over is not started again. Other plugins than the plan's refuse it at once.
            if saved.is_some() && plan.header().plugins != plugins {
                loaded.check_saved(&*plan)?;
            }
            let survey = plan.survey()?;
            if let Some(reason) = apply::refusal(&survey) {
                bail!("{reason}");
            }
            if !survey.does_anything() {
                let applied = Applied {
                    unchanged: survey.summary.0.values().sum(),
                    ..Default::default()
                };
                return report_applied(&applied, json);
            }
            // Workers started together on a saved plan check it once, the others waiting
            // for the run that check starts.
            let worker =
                match pg.worker_on_plan(&*plan, saved.is_none(), || loaded.check_saved(&*plan))? {
                    Started::Working(worker) => *worker,
                    Started::Over(finished) => return over(&finished),
                    Started::Unchecked => unreachable!("a plan is checked before its run starts"),
                };
            // The run's connections are in the database now; this worker leases them from
            // there like any other.
            (worker, plan.header().options.clone(), Some(survey.writes()))
        }
    };
    tracing::info!(
        run = worker.run(),
        worker = worker.id(),
        "working on a shared run"
    );
    let planner = loaded.planner(&options, true);
    let migrate = |entry: &cutover::fleet::Entry| planner.plan_entry(entry);
    let bar = progress_bar(to_write.unwrap_or(0) as u64, "applying");
    let applied = apply::apply_shared(&loaded.fleet, worker, migrate, |_| bar.inc(1))?;
    bar.finish_and_clear();
    report_applied(&applied, json)
}
