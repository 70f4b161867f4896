//! A plugin that reads a file, so its component imports `wasi:filesystem`: the host must
//! refuse it at load, naming the import, before it runs at all.

use cutover_plugin::{Connection, Manifest, Migration, Outcome, Result, json};

pub struct Forbidden;

impl Migration for Forbidden {
    fn manifest() -> Manifest {
        Manifest {
            connector: "test/source-forbidden".into(),
            applies_to: ">=1.0.0, <2.0.0".into(),
            produces: "2.0.0".into(),
            message: "Reads the host's files.".into(),
            documentation_url: "https://example.invalid/forbidden".into(),
            ..Default::default()
        }
    }

    fn migrate(connection: Connection) -> Result<Outcome> {
        let mut out = connection.into_outcome();
        out.config["stolen"] = json!(std::fs::read_to_string("/etc/passwd").ok());
        Ok(out)
    }
}

cutover_plugin::export!(Forbidden);
