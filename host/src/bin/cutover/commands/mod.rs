//! The commands, one module each: its arguments (a clap `Args` or `Subcommand`) and an
//! `execute` that does the work through the library and shows the result. What several
//! commands take (which connections a plan covers) and how they print JSON is here.

pub mod airbyte_default;
pub mod apply;
pub mod catalogue;
pub mod distribution;
pub mod fleet;
pub mod history;
pub mod pin;
pub mod plan;
pub mod plugin;
pub mod rollback;
pub mod status;

use anyhow::Result;
use clap::Args;
use cutover::plan::Options;
use semver::Version;

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

/// Prints a value as JSON on stdout (every read command's `--json`).
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    println!("{}", cutover::terminal::json_string(value)?);
    Ok(())
}
