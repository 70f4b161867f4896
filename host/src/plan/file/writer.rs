//! Writing a plan as it is made, a connection at a time, in the format [`super::SavedPlan`]
//! and [`crate::plan::Plan::read`] read back: the header's fields, then the `connections`
//! array as it grows. Nothing holds the whole plan, so memory does not grow with the fleet.

use crate::plan::types::{ConnectionPlan, Plan};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A plan being written: to its own owner-only file ([`PlanWriter::create`]), or to a
/// stream the caller holds, such as the terminal ([`PlanWriter::start`]).
pub struct PlanWriter {
    file: Option<(std::io::BufWriter<std::fs::File>, PathBuf)>,
    first: bool,
}

impl PlanWriter {
    /// Starts a plan file at `path`, owner-only: a plan's diffs are document content, like
    /// the ledger's snapshots.
    pub fn create(path: &Path, header: &Plan) -> Result<Self> {
        let file = crate::private_files::create(path)
            .with_context(|| format!("saving the plan to {}", path.display()))?;
        let mut file = std::io::BufWriter::new(file);
        Self::write_header(&mut file, header)?;
        Ok(Self {
            file: Some((file, path.to_owned())),
            first: true,
        })
    }

    /// Starts a plan on `out`; its connections go to the same stream
    /// ([`PlanWriter::connection_to`], [`PlanWriter::finish_to`]).
    pub fn start(out: &mut impl Write, header: &Plan) -> Result<Self> {
        Self::write_header(out, header)?;
        Ok(Self {
            file: None,
            first: true,
        })
    }

    /// The header as JSON, left open at the start of the connections array.
    fn write_header(out: &mut impl Write, header: &Plan) -> Result<()> {
        let text = crate::terminal::json_string(header)?;
        let open = text
            .rfind("[]")
            .context("a plan header serializes with an empty connections array")?;
        out.write_all(&text.as_bytes()[..open + 1])?;
        Ok(())
    }

    /// Adds a connection to a plan file.
    pub fn connection(&mut self, c: &ConnectionPlan) -> Result<()> {
        let (file, _) = self.file.as_mut().expect("a plan file");
        let first = std::mem::replace(&mut self.first, false);
        Self::write_connection(file, c, first)
    }

    /// Adds a connection to a plan started on `out`.
    pub fn connection_to(&mut self, out: &mut impl Write, c: &ConnectionPlan) -> Result<()> {
        let first = std::mem::replace(&mut self.first, false);
        Self::write_connection(out, c, first)
    }

    fn write_connection(out: &mut impl Write, c: &ConnectionPlan, first: bool) -> Result<()> {
        out.write_all(if first { b"\n" } else { b",\n" })?;
        crate::terminal::write_json(&mut *out, c)?;
        Ok(())
    }

    /// Closes a plan file and flushes it.
    pub fn finish(self) -> Result<()> {
        let (mut file, path) = self.file.expect("a plan file");
        file.write_all(b"\n]\n}\n")?;
        file.flush()
            .with_context(|| format!("saving the plan to {}", path.display()))?;
        Ok(())
    }

    /// Closes a plan started on `out`.
    pub fn finish_to(self, out: &mut impl Write) -> Result<()> {
        out.write_all(b"\n]\n}\n")?;
        Ok(())
    }
}
