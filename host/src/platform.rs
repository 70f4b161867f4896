//! The platforms whose connectors cutover migrates, told apart in one place.
//!
//! A connector's name says its platform: Elastic's are `elastic/<service type>` (and
//! `elastic/*` for a plugin that migrates every data source); every other name, Airbyte's
//! `airbyte/source-x` among them, is a connector whose documents have Airbyte's shape
//! (config, configured catalog, state). What differs by platform (a document's shape, the
//! contract version a plugin needs, how a plan is shown) asks [`Platform::of`], never the
//! name's prefix itself.

use crate::elastic::PREFIX as ELASTIC_PREFIX;

/// Where a connector runs, and so the shape of its documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    /// Airbyte's shape: a connection's config, configured catalog and state.
    Airbyte,
    /// An Elastic connector document (configuration, filtering, pipeline, sync cursor…).
    Elastic,
}

impl Platform {
    /// The platform of the connector named `connector`.
    pub fn of(connector: &str) -> Self {
        if connector.starts_with(ELASTIC_PREFIX) {
            Platform::Elastic
        } else {
            Platform::Airbyte
        }
    }

    /// Whether `connector` is an Elastic connector.
    pub fn is_elastic(connector: &str) -> bool {
        Self::of(connector) == Platform::Elastic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connectors_name_says_its_platform() {
        assert_eq!(Platform::of("elastic/mysql"), Platform::Elastic);
        assert_eq!(Platform::of("elastic/*"), Platform::Elastic);
        assert_eq!(Platform::of("airbyte/source-pinterest"), Platform::Airbyte);
        assert_eq!(Platform::of("test/source-hostile"), Platform::Airbyte);
        assert_eq!(Platform::of("elasticsearch/x"), Platform::Airbyte);
    }
}
