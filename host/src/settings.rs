//! Fleet settings: `cutover.toml` at the root of a fleet.
//!
//! ```toml
//! plugins = "plugins"                  # where the plugin components are
//!
//! [platform]                           # versions that preconditions are checked against
//! platform = "0.63.0"
//!
//! [connectors."airbyte/source-pinterest"]
//! target = "2.0.0"                     # the version connections should end up at
//!
//! [limits]                             # sandbox limits per plugin call (all optional)
//! memory_bytes = 268435456
//! timeout_ms = 10000
//! actions = 1000                       # what a call may return besides its documents
//! notes = 1000
//! text_bytes = 1048576
//! ```

use crate::elastic::ElasticSettings;
use crate::sandbox::Limits;
use crate::store::postgres::settings::StoreSettings;
use crate::trust::Trust;
use anyhow::{Context, Result};
use semver::Version;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The plugins directory, relative to the fleet.
    #[serde(default = "default_plugins")]
    pub plugins: String,
    /// Versions of the operator's platform, by subject, for preconditions.
    #[serde(default)]
    pub platform: BTreeMap<String, Version>,
    /// Per connector: the version to upgrade to.
    #[serde(default)]
    pub connectors: BTreeMap<String, ConnectorSettings>,
    #[serde(default)]
    pub limits: Limits,
    /// Which plugins may run.
    #[serde(default)]
    pub trust: Trust,
    /// Elastic connectors: the connectors service version, the stack, the target, pins.
    #[serde(default)]
    pub elastic: ElasticSettings,
    /// Where documents and the ledger live, when not in this directory.
    #[serde(default)]
    pub store: StoreSettings,
    /// `[airbyte]`: a fleet whose connections live in a running Airbyte.
    #[serde(default)]
    pub airbyte: Option<crate::store::airbyte::settings::AirbyteSettings>,
    /// `[registry.<name>]`: the registries plugins are installed from.
    #[serde(default)]
    pub registry: BTreeMap<String, crate::distribution::settings::RegistrySettings>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSettings {
    pub target: Version,
}

fn default_plugins() -> String {
    "plugins".into()
}

impl Settings {
    /// Reads `cutover.toml`; a fleet without one gets the defaults.
    pub fn load(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Ok(Settings {
                plugins: default_plugins(),
                ..Default::default()
            });
        }
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("{} is not valid fleet settings", path.display()))
    }

    /// The target version for a connector, if the fleet names one.
    pub fn target(&self, connector: &str) -> Option<&Version> {
        self.connectors.get(connector).map(|c| &c.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_fleet_file() {
        let s: Settings = toml::from_str(
            r#"
            [platform]
            platform = "0.63.0"
            [connectors."airbyte/source-pinterest"]
            target = "2.0.0"
            [limits]
            timeout_ms = 500
            "#,
        )
        .unwrap();
        assert_eq!(
            s.target("airbyte/source-pinterest"),
            Some(&Version::new(2, 0, 0))
        );
        assert_eq!(s.limits.timeout_ms, 500);
        assert_eq!(s.limits.memory_bytes, Limits::default().memory_bytes);
        assert!(toml::from_str::<Settings>("[limits]\nmemory = 1").is_err());
    }
}
