//! Elastic connectors: the second platform cutover migrates, with its own documents,
//! versions and upgrade order.
//!
//! - **The document** ([`connector`]): one per connector, in Elastic's own shape, as
//!   `GET _connector/<id>` returns it (`service_type`, `configuration`, `sync_cursor`,
//!   `filtering`, `pipeline`, `scheduling`, `features`, …), plus the connector's pending sync
//!   jobs, which hold their own copy of the configuration ([`jobs`]).
//! - **Versions** ([`versions`]): the document carries none. A document is valid for the
//!   connectors service version the fleet declares (the service that last ran on it), or
//!   for the version cutover last migrated it to, as the ledger records, whichever is newer:
//!   so a chain resumes where it stopped and a migrated document is never migrated again.
//! - **The upgrade order** ([`stack`]): a step that needs Elasticsearch, Kibana or
//!   Enterprise Search at its version is refused before anything is written, naming what
//!   to upgrade first.
//! - **The chain** ([`chain`]): every breaking version a plugin declares is a stop, for the
//!   connector's data source and for every data source (`elastic/*`); a plugin that changes
//!   the service type hands the rest of the chain to the new type's plugins.
//! - **Checks** ([`spec`]): a configuration against a version's default configuration, as
//!   `get_default_configuration()` gives it, and service types against the data sources a
//!   version ships, where the fleet holds them under `specs/elastic/`.

pub mod chain;
pub mod connector;
pub mod jobs;
pub mod plan;
pub mod redact;
pub mod settings;
pub mod spec;
pub mod stack;
pub mod versions;

pub use connector::Connector;
pub use settings::ElasticSettings;

/// The platform's prefix in connector names: `elastic/mysql`, and `elastic/*` for a plugin
/// that migrates every data source.
pub const PREFIX: &str = "elastic/";

/// The connector name plugins and settings use for a service type.
pub fn connector_name(service_type: &str) -> String {
    format!("{PREFIX}{service_type}")
}

/// The connector name of a plugin that migrates every data source.
pub const EVERY_SOURCE: &str = "elastic/*";
