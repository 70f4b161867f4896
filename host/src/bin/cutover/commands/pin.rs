//! `cutover pin` and `cutover unpin`: a connection held at its version, or let go.

use anyhow::Result;
use cutover::connection::Pin;
use cutover::fleet::Fleet;
use cutover::write;
use std::path::Path;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct PinArgs {
    connection: String,
    /// Why, for whoever finds the pin later.
    #[arg(long)]
    reason: Option<String>,
}

impl PinArgs {
    pub fn execute(self, fleet: &Path) -> Result<ExitCode> {
        set_pin(
            fleet,
            &self.connection,
            Some(Pin {
                origin: "user".into(),
                reason: self.reason,
            }),
        )
    }
}

#[derive(clap::Args)]
pub struct UnpinArgs {
    connection: String,
}

impl UnpinArgs {
    pub fn execute(self, fleet: &Path) -> Result<ExitCode> {
        set_pin(fleet, &self.connection, None)
    }
}

/// Pins or unpins a connection: a recorded write like any other, so it shows in the
/// history and can be rolled back.
fn set_pin(fleet: &std::path::Path, id: &str, pin: Option<Pin>) -> Result<ExitCode> {
    let fleet = Fleet::open(fleet)?;
    let pinned = pin.is_some();
    match write::pin::set(&fleet, id, pin)? {
        write::pin::Pinned::Already(c) => println!(
            "{} is already {}.",
            c.id,
            if pinned { "pinned" } else { "unpinned" }
        ),
        write::pin::Pinned::Now(c) if pinned => {
            println!(
                "Pinned {} at {}. Upgrades leave it alone until `cutover unpin {}`.",
                c.id, c.version, c.id
            )
        }
        write::pin::Pinned::Now(c) => println!("Unpinned {}.", c.id),
    }
    Ok(ExitCode::SUCCESS)
}
