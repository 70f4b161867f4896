//! source-mssql 4.0.0, from 3.x: a breaking version whose guide says there is nothing to do.
//!
//! The `breakingChanges` entry announces the overhauled connector ("terabyte-sized table
//! support, reliability improvements, expanded datetime data types"), and the guide says:
//! "Upgrading from previous versions will be seamless and does not require any
//! intervention." The commit that released 4.0.0 (#35873) changed only `metadata.yaml` and
//! the docs: 4.0.0 runs 3.7.7's code, with 3.7.7's spec (identical, see
//! `tests/fixtures/source-mssql`). The overhaul itself shipped in 3.x minors, which Airbyte
//! did not mark breaking (the registries had pinned 3.6.1 until 4.0.0).
//!
//! So the migration keeps every document byte for byte, asks for nothing, and says so in a
//! note, so that a plan shows the version was looked at rather than skipped.

use cutover_plugin::{Connection, Manifest, Migration, Outcome, Result};

pub struct MssqlV4;

impl Migration for MssqlV4 {
    fn manifest() -> Manifest {
        Manifest {
            connector: "airbyte/source-mssql".into(),
            applies_to: ">=3.0.0, <4.0.0".into(),
            produces: "4.0.0".into(),
            message: "We have overhauled our MSSQL source connector and it is now supported by the Airbyte team! To benefit from new features, including terabyte-sized table support, reliability improvements, expanded datetime data types, and various bug fixes, please opt in to the 4.0.0 version.".into(),
            upgrade_deadline: Some("2024-04-07".into()),
            deadline_action: None,
            documentation_url:
                "https://docs.airbyte.com/integrations/sources/mssql-migrations#4.0.0".into(),
            scoped_streams: Vec::new(),
            preconditions: Vec::new(),
            guide: GUIDE.into(),
        }
    }

    fn migrate(connection: Connection) -> Result<Outcome> {
        let mut out = connection.into_outcome();
        out.note("4.0.0 runs 3.7.7's code with its spec; the guide calls the upgrade seamless: config, catalog and state are kept as they are");
        Ok(out)
    }
}

cutover_plugin::export!(MssqlV4);

const GUIDE: &str = include_str!("../GUIDE.md");

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::{json, testing};

    #[test]
    fn every_document_is_kept_and_nothing_is_asked() {
        let catalog = json!({"streams": [{
            "stream": {"name": "orders", "namespace": "dbo", "json_schema": {"type": "object", "properties": {"id": {"type": "number", "airbyte_type": "integer"}, "_ab_cdc_cursor": {"type": "number", "airbyte_type": "integer"}}}, "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": true, "default_cursor_field": ["_ab_cdc_cursor"]},
            "sync_mode": "incremental", "cursor_field": ["_ab_cdc_cursor"], "destination_sync_mode": "append_dedup", "primary_key": [["id"]]
        }]});
        let state = vec![
            json!({"type": "GLOBAL", "global": {"shared_state": {"state": {"mssql_cdc_offset": {}}}, "stream_states": []}}),
        ];
        let c = testing::connection("airbyte/source-mssql", "3.7.7")
            .config(json!({"host": "db", "port": 1433, "database": "shop", "username": "u", "replication_method": {"method": "CDC"}}))
            .build_with(catalog, state);
        let out = MssqlV4::migrate(c.clone()).unwrap();
        assert_eq!(
            (out.config, out.catalog, out.state),
            (c.config, c.catalog, c.state)
        );
        assert!(out.actions.is_empty());
        assert_eq!(out.notes.len(), 1);
        assert!(out.notes[0].contains("seamless"));
    }
}
