//! `cutover fleet export|import`: a fleet's documents (and history) moved to or from an
//! embedded fleet directory.

use anyhow::Result;
use clap::Subcommand;
use cutover::fleet::Fleet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::print_json;
use crate::render;

#[derive(Subcommand)]
pub enum FleetCommand {
    /// Write this fleet as an embedded fleet in DIR: documents, settings (without the
    /// database), plugins and specs; with --ledger, every run with its snapshots.
    Export {
        dir: PathBuf,
        /// Also the history, with its snapshots, so that rollback works from DIR.
        #[arg(long)]
        ledger: bool,
        #[arg(long)]
        json: bool,
    },
    /// Read the embedded fleet in DIR into this fleet (say, a PostgreSQL one): its
    /// documents, and with --ledger its history first (into a fleet with none yet).
    Import {
        dir: PathBuf,
        #[arg(long)]
        ledger: bool,
        #[arg(long)]
        json: bool,
    },
}

impl FleetCommand {
    pub fn execute(self, fleet: &Path) -> Result<ExitCode> {
        let command = self;
        let fleet = Fleet::open(fleet)?;
        let (moved, from, to, json) = match command {
            FleetCommand::Export { dir, ledger, json } => (
                cutover::transfer::export(&fleet, &dir, ledger)?,
                fleet.documents().summary(),
                dir.display().to_string(),
                json,
            ),
            FleetCommand::Import { dir, ledger, json } => (
                cutover::transfer::import(&fleet, &dir, ledger)?,
                dir.display().to_string(),
                fleet.documents().summary(),
                json,
            ),
        };
        if json {
            print_json(&moved)?;
        } else {
            println!("{}", render::moved(&moved, &from, &to));
        }
        Ok(ExitCode::SUCCESS)
    }
}
