//! `cutover history`: the ledger, every run and what it wrote, newest first.

use anyhow::Result;
use cutover::fleet::Fleet;
use cutover::terminal::block;
use std::path::Path;
use std::process::ExitCode;

use super::print_json;
use crate::render;

#[derive(clap::Args)]
pub struct HistoryArgs {
    /// Only runs touching this connection.
    #[arg(long)]
    connection: Option<String>,
    /// At most this many runs, newest first.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    #[arg(long)]
    json: bool,
}

impl HistoryArgs {
    pub fn execute(self, fleet: &Path) -> Result<ExitCode> {
        let HistoryArgs {
            connection,
            limit,
            json,
        } = self;
        let fleet = Fleet::open(fleet)?;
        let runs = fleet.ledger()?.runs(connection.as_deref(), limit)?;
        if json {
            print_json(&runs)?;
        } else {
            print!("{}", block(&render::history(&runs)));
        }
        Ok(ExitCode::SUCCESS)
    }
}
