//! `cutover rollback`: the documents a run wrote, restored byte for byte from its snapshots.

use anyhow::Result;
use cutover::fleet::Fleet;
use cutover::terminal::block;
use cutover::write::{self, rollback};
use std::path::Path;
use std::process::ExitCode;

use super::print_json;
use crate::render;

#[derive(clap::Args)]
pub struct RollbackArgs {
    /// The run to roll back (default: the newest run with writes in force).
    #[arg(long)]
    run: Option<i64>,
    /// Only this connection.
    #[arg(long)]
    connection: Option<String>,
    #[arg(long)]
    json: bool,
}

impl RollbackArgs {
    pub fn execute(self, fleet: &Path) -> Result<ExitCode> {
        let RollbackArgs {
            run,
            connection,
            json,
        } = self;
        let fleet = Fleet::open(fleet)?;
        let mut writer = write::open(&fleet, "rollback")?;
        let done = rollback::rollback(&fleet, &mut *writer, run, connection.as_deref())?;
        if json {
            print_json(&done)?;
        } else {
            print!("{}", block(&render::rolled_back(&done)));
        }
        Ok(ExitCode::SUCCESS)
    }
}
