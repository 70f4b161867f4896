//! `cutover airbyte-default CONNECTOR [--to VERSION] [--yes]`: moves a connector
//! definition's default version in the Airbyte deployment the fleet names, the first step of
//! a self-managed upgrade. Without `--yes` it only shows what the move would do: which
//! connections Airbyte pins at the old version (a breaking change on the way affects them,
//! and cutover then migrates them), which move with the default, and which stay pinned.

use anyhow::{Context, Result, bail};
use clap::Args;
use cutover::plan::Options;
use cutover::store::airbyte::AirbyteDocuments;
use cutover::terminal::block;
use std::path::Path;
use std::process::ExitCode;

#[derive(Args)]
pub struct AirbyteDefaultArgs {
    /// The connector whose definition moves (`airbyte/source-github`).
    connector: String,
    /// The version to make the default; the fleet's target for the connector by default.
    #[arg(long)]
    to: Option<String>,
    /// Move it. Without, nothing is sent: the move is only shown.
    #[arg(long)]
    yes: bool,
    #[arg(long)]
    json: bool,
}

impl AirbyteDefaultArgs {
    pub fn execute(self, fleet: &Path) -> Result<ExitCode> {
        execute(fleet, self)
    }
}

fn execute(fleet: &Path, args: AirbyteDefaultArgs) -> Result<ExitCode> {
    let loaded = crate::session::load(fleet)?;
    let Some(settings) = loaded.fleet.settings.airbyte.clone() else {
        bail!(
            "`cutover airbyte-default` moves a definition in an Airbyte deployment, and cutover.toml names none ([airbyte] url)"
        );
    };
    let to = match &args.to {
        Some(v) => v.clone(),
        None => loaded
            .fleet
            .settings
            .target(&args.connector)
            .map(ToString::to_string)
            .with_context(|| {
                format!(
                    "cutover.toml names no target for {}; give the version with --to",
                    args.connector
                )
            })?,
    };
    let mut options = Options {
        all: true,
        ..Options::default()
    };
    if let Ok(v) = semver::Version::parse(&to) {
        options.targets.insert(args.connector.clone(), v);
    }
    // Which connections a breaking change between the two versions affects: the plugins of
    // their chains say.
    let plan = loaded.plan(&options, true)?;
    let affected = |id: &str| {
        plan.connections.iter().any(|c| {
            c.id == id
                && c.steps
                    .iter()
                    .any(|s| s.plugin.is_some() && s.breaking.as_ref().is_none_or(|b| b.affected))
        })
    };
    let documents = AirbyteDocuments::open(loaded.fleet.root(), &settings)?;
    let moving = documents.default_move(&args.connector, &to, &affected)?;
    if args.json {
        super::print_json(&serde_json::json!({"move": moving.to_json(), "moved": args.yes}))?;
    } else {
        print!("{}", block(&moving.describe()));
    }
    if !args.yes {
        if !args.json {
            println!(
                "Nothing was sent. `cutover airbyte-default {} --to {} --yes` moves it.",
                args.connector, to
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    documents.move_default(&moving)?;
    if !args.json {
        println!(
            "Moved the default of {} to {}. `cutover plan` shows the migrations that remain.",
            args.connector, to
        );
    }
    Ok(ExitCode::SUCCESS)
}
