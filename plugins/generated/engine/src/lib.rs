//! The generic migration of a breaking version, made from the data joined to it
//! ([`cutover_plugin::breaking`]). Compiled once; each breaking version's plugin is a copy
//! of this component carrying that version's data.

use cutover_plugin::breaking::carried;
use cutover_plugin::{Connection, Manifest, Migration, Outcome, Result};

pub struct Engine;

impl Migration for Engine {
    fn manifest() -> Manifest {
        match carried::load() {
            Ok((compiled, _)) => compiled.manifest(),
            // A manifest the registry refuses (no version range), naming the fix.
            Err(e) => Manifest {
                connector: "cutover/breaking-engine".into(),
                message: e.to_string(),
                ..Manifest::default()
            },
        }
    }

    fn migrate(connection: Connection) -> Result<Outcome> {
        let (compiled, target) = carried::load()?;
        compiled.migrate(connection, target)
    }
}

cutover_plugin::export!(Engine);
