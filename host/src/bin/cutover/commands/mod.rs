//! The commands, one module each: its arguments (a clap `Args` or `Subcommand`) and an
//! `execute` that does the work through the library and shows the result. What several
//! commands take (how they print JSON) is here; which connections a plan covers is the
//! session's ([`crate::session::Select`]).

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

/// Prints a value as JSON on stdout (every read command's `--json`).
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    println!("{}", cutover::terminal::json_string(value)?);
    Ok(())
}
