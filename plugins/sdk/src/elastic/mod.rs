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

pub mod configuration;
mod defaults;
mod document;
pub mod testing;

pub use defaults::{Defaults, FieldType};
pub use document::{Connector, ConnectorOutcome};

use crate::{Manifest, Result};

/// A migration for one breaking version of the Elastic connectors framework, for one data
/// source (`elastic/mysql`) or for every one (`elastic/*`).
pub trait ConnectorMigration {
    /// Describes the breaking change. Called whenever the host loads the plugin.
    fn manifest() -> Manifest;
    /// Migrates one connector document. Must be deterministic: same input, same bytes out.
    fn migrate(connector: Connector) -> Result<ConnectorOutcome>;
}
