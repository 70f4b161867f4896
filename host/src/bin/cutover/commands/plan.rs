//! `cutover plan`: what an upgrade would do to each connection, streamed to the terminal
//! (or as JSON) and to a saved plan file as it is made; nothing is written to the fleet.

use anyhow::Result;
use cutover::plan::PlanWriter;
use cutover::terminal::block;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::render;
use crate::session::Select;
use crate::session::{load, progress_bar};

#[derive(clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    select: Select,
    /// Save the plan to this file, for `cutover apply FILE`.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

impl PlanArgs {
    pub fn execute(self, fleet: &Path) -> Result<ExitCode> {
        let PlanArgs { select, out, json } = self;
        let loaded = load(fleet)?;
        let options = select.options();
        let planner = loaded.planner(&options, true);
        let selection = planner.select()?;
        let header = planner.header();
        let bar = progress_bar(selection.len() as u64, "planning");
        // The plan streams out as it is made: a connection at a time to the terminal
        // (or as JSON) and to the saved plan file, so memory does not grow with the fleet.
        let mut saved = match &out {
            Some(path) => Some(PlanWriter::create(path, &header)?),
            None => None,
        };
        let stdout = std::io::stdout();
        let mut terminal = std::io::BufWriter::new(stdout.lock());
        let mut json_out = if json {
            Some(PlanWriter::start(&mut terminal, &header)?)
        } else {
            None
        };
        if !json {
            write!(
                terminal,
                "{}",
                block(&render::plan_header(
                    &header,
                    selection.len(),
                    &loaded.registry
                ))
            )?;
        }
        let today = cutover::ground::now()[..10].to_owned();
        let mut summary = cutover::plan::Summary::default();
        let mut waiting = Vec::new();
        let mut blocked = Vec::new();
        let mut elastic = false;
        planner.plan_each_shown(&selection, |c| {
            bar.inc(1);
            elastic |= c
                .connector
                .as_deref()
                .is_some_and(cutover::platform::Platform::is_elastic);
            summary.count(c.status);
            if c.status == cutover::plan::Status::NeedsOptIn {
                waiting.push(c.id.clone());
            }
            if c.status == cutover::plan::Status::Blocked {
                blocked.push(c.clone().slim());
            }
            if let Some(file) = &mut saved {
                file.connection(&c)?;
            }
            match &mut json_out {
                Some(j) => j.connection_to(&mut terminal, &c)?,
                None => bar.suspend(|| {
                    write!(
                        terminal,
                        "{}",
                        block(&render::plan_connection(&c, &loaded.fleet, &today))
                    )
                })?,
            }
            Ok(())
        })?;
        bar.finish_and_clear();
        if let Some(file) = saved {
            file.finish()?;
        }
        match json_out {
            Some(j) => j.finish_to(&mut terminal)?,
            None => {
                write!(
                    terminal,
                    "{}",
                    render::plan_footer(&summary, selection.len(), &waiting, elastic)
                )?;
                let hints = super::distribution::hints(&loaded.fleet, &loaded.registry, &blocked);
                write!(terminal, "{}", block(&hints))?;
                if let Some(path) = &out {
                    writeln!(
                        terminal,
                        "\nSaved the plan to {}. Apply it with: cutover apply {}",
                        path.display(),
                        path.display()
                    )?;
                }
            }
        }
        terminal.flush()?;
        let errors = summary.get(cutover::plan::Status::Failed)
            + summary.get(cutover::plan::Status::Blocked)
            + summary.get(cutover::plan::Status::Invalid);
        Ok(if errors > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }
}
