//! Elastic connectors: a connector is one document (`GET _connector/<id>`), not Airbyte's
//! config, catalog and state, so an Elastic migration implements [`ConnectorMigration`]
//! and is exported with [`export_connector!`](crate::export_connector).
//!
//! The framework's own startup migration only adds missing configuration fields with their
//! defaults and refreshes every property but `value`: a renamed, inverted or retyped field
//! comes back empty and the operator's value is left unused. The helpers here do what it
//! cannot, against the new version's `get_default_configuration()` ([`Defaults`]):
//! [`configuration::rename`], [`configuration::invert`], [`configuration::retype`] and
//! [`configuration::remove`] keep the value and take the other properties from the new
//! defaults; [`ConnectorOutcome::conform`] then makes the configuration hold exactly the new
//! version's fields, refusing rather than dropping a value it does not know where to put.
//!
//! Sync rules (`filtering`) are read by the data source too: [`filtering`] finds them, rewrites
//! advanced rules into a new version's shape and refuses naming the rules a step cannot carry.

pub mod advanced_rules;
pub mod configuration;
mod defaults;
mod document;
pub mod filtering;
pub mod testing;

pub use defaults::{Defaults, FieldType};
pub use document::{Connector, ConnectorOutcome};

use crate::{Manifest, Precondition, Result};

/// The manifest of a step of `connector` (`elastic/<service type>`, or `elastic/*` for every
/// connector) from the `from` release line to `to`: it applies to every version from `from`
/// up to `to` and has Elastic's upgrade order as preconditions, so each version is written
/// once. The plugin adds its message, documentation link and guide.
///
/// ```text
/// Manifest { message: "…".into(), guide: include_str!("../GUIDE.md").into(), ..step("elastic/mysql", "8.7.0", "8.8.0") }
/// ```
pub fn step(connector: &str, from: &str, to: &str) -> Manifest {
    Manifest {
        connector: connector.into(),
        applies_to: format!(">={from}, <{to}"),
        produces: to.into(),
        preconditions: upgrade_order(to),
        ..Default::default()
    }
}

/// The preconditions of a step to `version`: Elastic's upgrade order has Elasticsearch,
/// Enterprise Search and Kibana at that version before the connectors service.
pub fn upgrade_order(version: &str) -> Vec<Precondition> {
    ["elasticsearch", "enterprise_search", "kibana"]
        .iter()
        .map(|s| Precondition::new(s, &format!(">={version}")))
        .collect()
}

/// A data source's default configuration at a version, from a folder of the plugin crate's
/// (`<folder>/<version>/<service type>.json`, as `tests/fixtures/elastic` lays them out),
/// embedded in the plugin when it is built; or, given two versions, both.
///
/// ```text
/// let new = cutover_plugin::defaults!("../../../tests/fixtures/elastic", "mysql", "8.8.0");
/// let (old, new) = cutover_plugin::defaults!("../../../tests/fixtures/elastic", "mysql", "8.7.0" => "8.8.0");
/// ```
#[macro_export]
macro_rules! defaults {
    ($folder:literal, $service_type:literal, $from:literal => $to:literal) => {
        (
            $crate::defaults!($folder, $service_type, $from),
            $crate::defaults!($folder, $service_type, $to),
        )
    };
    ($folder:literal, $service_type:literal, $version:literal) => {
        $crate::elastic::Defaults::parse(
            $service_type,
            $version,
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/",
                $folder,
                "/",
                $version,
                "/",
                $service_type,
                ".json"
            )),
        )
        .expect(concat!(
            "the ",
            $service_type,
            " ",
            $version,
            " defaults embedded in the plugin parse"
        ))
    };
}

/// A migration for one breaking version of the Elastic connectors framework, for one data
/// source (`elastic/mysql`) or for every one (`elastic/*`).
pub trait ConnectorMigration {
    /// Describes the breaking change. Called whenever the host loads the plugin.
    fn manifest() -> Manifest;
    /// Migrates one connector document. Must be deterministic: same input, same bytes out.
    fn migrate(connector: Connector) -> Result<ConnectorOutcome>;
}
