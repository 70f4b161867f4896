//! What the commands that run plugins share: the fleet opened with its sandbox and plugins,
//! the ways of planning an apply needs, and the progress bar of long runs.

use anyhow::{Context, Result};
use clap::Args;
use cutover::fleet::Fleet;
use cutover::plan::{Options, Plan, Planner};
use cutover::plan::{PlanSource, PlanWriter, SavedPlan};
use cutover::registry::Registry;
use cutover::sandbox::{CompileCache, Sandbox};
use cutover::write::apply;
use indicatif::{ProgressBar, ProgressStyle};
use semver::Version;

/// What every command that runs plugins needs.
///
/// The sandbox and the plugins are never dropped: their compiled code and instance pool
/// are mappings the process's exit releases at once, where unmapping them one by one was
/// a tenth of a one-connection plan's time.
pub struct Loaded {
    pub fleet: Fleet,
    pub sandbox: std::mem::ManuallyDrop<Sandbox>,
    pub registry: std::mem::ManuallyDrop<Registry>,
}

pub fn load(fleet: &std::path::Path) -> Result<Loaded> {
    let fleet = Fleet::open(fleet)?;
    let sandbox = Sandbox::new(fleet.settings.limits.clone())?;
    let cache = CompileCache::new(fleet.state_dir()?.join("cache"));
    let registry = Registry::load(
        &fleet.plugins_dir(),
        &sandbox,
        &fleet.settings.trust,
        Some(&cache),
    )?;
    Ok(Loaded {
        fleet,
        sandbox: std::mem::ManuallyDrop::new(sandbox),
        registry: std::mem::ManuallyDrop::new(registry),
    })
}

impl Loaded {
    pub fn planner<'a>(&'a self, options: &'a Options, run_plugins: bool) -> Planner<'a> {
        Planner {
            fleet: &self.fleet,
            registry: &self.registry,
            sandbox: &self.sandbox,
            options,
            run_plugins,
        }
    }

    /// A saved plan, checked against the fleet as it is now.
    pub fn checked_plan(&self, path: &std::path::Path) -> Result<Plan> {
        let plan = Plan::read(path)?;
        self.check_saved(&plan)?;
        Ok(plan)
    }

    /// Checks a saved plan already read against the fleet as it is now.
    pub fn check_saved(&self, plan: &dyn PlanSource) -> Result<()> {
        let plugins: Vec<_> = self.registry.all().iter().map(Into::into).collect();
        let planner = self.planner(&plan.header().options, true);
        apply::check_saved(plan, &self.fleet, &plugins, |entry| {
            planner.plan_entry(entry)
        })
    }

    /// Plans now for an apply, keeping of each connection only what apply needs to write
    /// it (no diffs, actions, notes or step details).
    pub fn plan_to_apply(&self, select: &Select) -> Result<Plan> {
        let options = select.options();
        let planner = self.planner(&options, true);
        let selection = planner.select()?;
        let bar = progress_bar(selection.len() as u64, "planning");
        let mut connections = Vec::with_capacity(selection.len());
        planner.plan_each(&selection, |c| {
            bar.inc(1);
            connections.push(c.slim());
            Ok(())
        })?;
        bar.finish_and_clear();
        Ok(Plan {
            connections,
            ..planner.header()
        })
    }

    /// The plan an apply carries out, never held whole: the saved plan at `saved`, read
    /// from its file a slice at a time (not yet checked against the fleet), or a plan made
    /// now into a temporary file read the same way, which goes when the folder returned
    /// with it is dropped.
    pub fn plan_for_apply(
        &self,
        saved: Option<&std::path::Path>,
        select: &Select,
    ) -> Result<(Box<dyn PlanSource>, Option<tempfile::TempDir>)> {
        Ok(match saved {
            Some(path) => (Box::new(SavedPlan::open(path)?), None),
            None => {
                let (dir, plan) = self.plan_to_file(select)?;
                (Box::new(plan), Some(dir))
            }
        })
    }

    /// Plans now, into a plan file in a new owner-only temporary folder, kept to the
    /// connections' slim plans (what apply checks).
    pub fn plan_to_file(&self, select: &Select) -> Result<(tempfile::TempDir, SavedPlan)> {
        let options = select.options();
        let planner = self.planner(&options, true);
        let selection = planner.select()?;
        let dir = tempfile::Builder::new()
            .prefix("cutover-plan-")
            .tempdir()
            .context("making a folder for the plan")?;
        let path = dir.path().join("plan.json");
        let mut file = PlanWriter::create(&path, &planner.header())?;
        let bar = progress_bar(selection.len() as u64, "planning");
        planner.plan_each(&selection, |c| {
            bar.inc(1);
            file.connection(&c.slim())
        })?;
        bar.finish_and_clear();
        file.finish()?;
        let plan = SavedPlan::open(&path)?;
        Ok((dir, plan))
    }

    /// Plans, with a progress bar on long runs.
    pub fn plan(&self, options: &Options, run_plugins: bool) -> Result<Plan> {
        let bar = progress_bar(self.fleet.documents().keys()?.len() as u64, "planning");
        let plan = self.planner(options, run_plugins).plan(|_| bar.inc(1))?;
        bar.finish_and_clear();
        Ok(plan)
    }
}

/// A progress bar on stderr, shown only for runs long enough to need one.
pub fn progress_bar(len: u64, what: &'static str) -> ProgressBar {
    if len < 200 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {pos}/{len} connections ({per_sec}, {eta} left)",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_message(what);
    bar
}

/// Which connections a plan covers and what the operator opts in to.
#[derive(Args, Clone, Default)]
pub struct Select {
    /// Opt every connection in to breaking (major) upgrades.
    #[arg(long)]
    all: bool,
    /// Opt this connection in to breaking upgrades (repeatable, or comma-separated).
    #[arg(long = "opt-in", value_name = "ID", value_delimiter = ',')]
    opt_in: Vec<String>,
    /// Upgrade a connector to this version instead of cutover.toml's target.
    #[arg(long, value_name = "CONNECTOR=VERSION", value_parser = parse_target)]
    target: Vec<(String, Version)>,
    /// Plan only these connections (repeatable, or comma-separated).
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    only: Vec<String>,
}

fn parse_target(s: &str) -> Result<(String, Version), String> {
    let (connector, version) = s.split_once('=').ok_or_else(|| {
        format!("{s:?} is not CONNECTOR=VERSION (e.g. airbyte/source-pinterest=2.0.0)")
    })?;
    let version =
        Version::parse(version).map_err(|e| format!("{version:?} is not a semver version: {e}"))?;
    Ok((connector.to_owned(), version))
}

impl Select {
    pub fn options(&self) -> Options {
        Options {
            all: self.all,
            opt_in: self.opt_in.iter().cloned().collect(),
            targets: self.target.iter().cloned().collect(),
            only: self.only.iter().cloned().collect(),
        }
    }
}
