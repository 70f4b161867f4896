//! `cutover`: the command line over the cutover library.
//!
//! Exit codes: 0 success; 1 the run completed but some connections failed or could not be
//! planned; 2 the command refused to run (bad input, stale plan, locked fleet) and wrote
//! nothing.

mod author;
mod closed_pipe;
mod commands;
mod render;
mod session;

use anyhow::Result;
use clap::{Parser, Subcommand};
use commands::{airbyte_default, apply, fleet, history, pin, plan, plugin, rollback, status};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cutover",
    version,
    about = "Plan and apply connector migrations, run as sandboxed WebAssembly plugins, over a fleet of connections."
)]
struct Cli {
    /// The fleet: a directory (holding cutover.toml, plugins/ and connections/), or a
    /// postgres://user@host/database URL (settings and plugins from the current directory;
    /// the password from $PGPASSWORD).
    #[arg(long, global = true, env = "CUTOVER_FLEET", default_value = ".")]
    fleet: PathBuf,
    /// More logging (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Move a connector definition's default version in the Airbyte deployment (shown
    /// first; done only with --yes).
    AirbyteDefault(airbyte_default::AirbyteDefaultArgs),
    /// Each connection's version, target, pin and what an upgrade would take.
    Status(status::StatusArgs),
    /// Work out what an upgrade would do to each connection, without writing anything.
    Plan(plan::PlanArgs),
    /// Apply a saved plan, or plan and apply in one go. On a PostgreSQL fleet, every host
    /// that applies the same plan (or joins its run) works on one shared run.
    Apply(apply::ApplyArgs),
    /// Restore the documents a run wrote, byte for byte, from its snapshots.
    Rollback(rollback::RollbackArgs),
    /// The ledger: every run and what it wrote.
    History(history::HistoryArgs),
    /// Pin a connection at its version: no upgrade touches it until unpinned.
    Pin(pin::PinArgs),
    /// Remove a connection's pin.
    Unpin(pin::UnpinArgs),
    /// Move the fleet's documents (and history) to or from an embedded fleet directory.
    Fleet {
        #[command(subcommand)]
        command: fleet::FleetCommand,
    },
    /// Migration plugins: the fleet's (list, inspect, add) and the author's toolkit (new,
    /// build, test, guide, import-metadata), for plugins in Rust or Python.
    #[command(alias = "plugins")]
    Plugin {
        #[command(subcommand)]
        command: plugin::PluginCommand,
    },
}

fn main() -> ExitCode {
    closed_pipe::end_quietly_on_closed_pipe();
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // An error may quote a plugin or a document: shown inert.
            eprintln!("error: {}", cutover::terminal::block(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Log fields may quote a plugin or a document: every control character is escaped, so
    // no colours either.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| cutover::terminal::Inert::new(std::io::stderr()))
        .with_ansi(false)
        .with_target(false)
        .init();
}

fn run(cli: Cli) -> Result<ExitCode> {
    let fleet = &cli.fleet;
    match cli.command {
        Command::AirbyteDefault(args) => args.execute(fleet),
        Command::Status(args) => args.execute(fleet),
        Command::Plan(args) => args.execute(fleet),
        Command::Apply(args) => args.execute(fleet),
        Command::Rollback(args) => args.execute(fleet),
        Command::History(args) => args.execute(fleet),
        Command::Pin(args) => args.execute(fleet),
        Command::Unpin(args) => args.execute(fleet),
        Command::Fleet { command } => command.execute(fleet),
        Command::Plugin { command } => command.execute(fleet),
    }
}
