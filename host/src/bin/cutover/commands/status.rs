//! `cutover status`: each connection's version, target, pin and what an upgrade would take,
//! and the runs going on in a shared fleet.

use anyhow::Result;
use cutover::ledger::RunStatus;
use cutover::plan::Options;
use cutover::terminal::block;
use std::path::Path;
use std::process::ExitCode;

use super::print_json;
use crate::render;
use crate::session::load;

#[derive(clap::Args)]
pub struct StatusArgs {
    #[arg(long)]
    json: bool,
}

impl StatusArgs {
    pub fn execute(self, fleet: &Path) -> Result<ExitCode> {
        let json = self.json;
        let loaded = load(fleet)?;
        let plan = loaded.plan(&Options::default(), false)?;
        if json {
            // One entry per connection; runs in progress are in `history --json`.
            print_json(&render::status_json(&plan))?;
        } else {
            // Runs going in a shared fleet, as any host sees them: workers, leases, progress.
            let live: Vec<_> = match loaded.fleet.ledger_home() {
                cutover::store::LedgerHome::Postgres(_) => loaded
                    .fleet
                    .ledger()?
                    .runs(None, 20)?
                    .into_iter()
                    .filter(|r| r.status == RunStatus::Running.as_str())
                    .collect(),
                cutover::store::LedgerHome::Sqlite(_) => Vec::new(),
            };
            print!(
                "{}",
                block(&format!(
                    "{}{}{}",
                    render::status(&plan),
                    render::live_runs(&live),
                    super::distribution::hints(&loaded.fleet, &loaded.registry, &plan.connections)
                ))
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}
