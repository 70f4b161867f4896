//! Pins: an operator's "leave this connection at its version", written into its document
//! like any other change, so that it shows in the history and can be rolled back.

use super::{Writer, write_one};
use crate::connection::{Connection, Pin};
use crate::document::Document;
use crate::fleet::Fleet;
use crate::ledger::{NewChange, RunKind, RunStatus};
use anyhow::{Result, bail};

/// What setting a pin did.
pub enum Pinned {
    /// The connection already had that pin (or none, when unpinning): nothing written.
    Already(Connection),
    /// Written, as its own run.
    Now(Connection),
}

/// Pins (`Some`) or unpins (`None`) the connection `id`.
pub fn set(fleet: &Fleet, id: &str, pin: Option<Pin>) -> Result<Pinned> {
    let entry = fleet.find(id)?;
    let connection = match entry
        .parsed
        .map_err(|e| anyhow::anyhow!("{}: {e}", fleet.display_key(&entry.key)))?
    {
        Document::Airbyte(c) => c,
        Document::Elastic(c) => bail!(
            "{} is an Elastic connector: its document has no field of cutover's own for a pin; pin it in cutover.toml instead:\n[elastic.pins]\n{} = \"{}\"",
            c.id,
            c.id,
            pin.as_ref()
                .and_then(|p| p.reason.as_deref())
                .unwrap_or("why it waits")
        ),
    };
    if connection.pin == pin {
        return Ok(Pinned::Already(connection));
    }
    let after = connection.with_pin(pin.clone()).to_bytes();
    let (command, kind) = if pin.is_some() {
        ("pin", RunKind::Pin)
    } else {
        ("unpin", RunKind::Unpin)
    };
    let mut writer: Box<dyn Writer> = super::open(fleet, command)?;
    let detail = serde_json::json!({"connection": connection.id});
    let run = writer.begin(kind, &detail)?;
    let version = Some(connection.version.to_string());
    write_one(
        &mut *writer,
        run,
        &NewChange {
            connection_id: &connection.id,
            key: &entry.key,
            from_version: version.clone(),
            to_version: version,
            before: &entry.bytes,
            after: &after,
            steps: Vec::new(),
            actions: &[],
        },
    )?;
    writer.finish(run, RunStatus::Completed, &detail)?;
    Ok(Pinned::Now(connection.with_pin(pin)))
}
