//! The `[elastic]` section of `cutover.toml`.
//!
//! ```toml
//! [elastic]
//! connectors_service = "8.7.0"   # the connectors service that last ran on these documents
//! target = "9.0.0"               # where every connector should end up
//!
//! [elastic.stack]                # checked before any step that needs them upgraded
//! elasticsearch = "9.0.0"
//! kibana = "9.0.0"
//! enterprise_search = "none"     # not deployed (it is gone from 9.0 on)
//!
//! [elastic.pins]                 # connectors left alone, by id
//! legacy-crawler = "waiting for the search team"
//! ```
//!
//! With `url`, the connectors are read from and written to the cluster itself through the
//! Connector API ([`crate::store::elastic`]); without it, from `connections/`.
//!
//! ```toml
//! [elastic]
//! url = "https://search.example:9200"
//! api_key_env = "ELASTIC_API_KEY"  # the variable holding an encoded API key (never stored)
//! ```

use semver::Version;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElasticSettings {
    /// The connectors service version that last ran on the documents: what a document is
    /// valid for unless cutover has migrated it further.
    pub connectors_service: Option<Version>,
    /// Where every connector should end up.
    pub target: Option<Version>,
    #[serde(default)]
    pub stack: Stack,
    /// Connectors left alone, by id, with the reason (a connector document has no field of
    /// cutover's own to hold a pin).
    #[serde(default)]
    pub pins: BTreeMap<String, String>,
    /// The cluster whose connectors the fleet migrates, if they live there.
    pub url: Option<String>,
    /// The environment variable holding the API key (`Authorization: ApiKey <it>`).
    #[serde(default = "default_api_key_env")]
    pub api_key_env: String,
    /// Per request, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Attempts per request when the cluster is unavailable (5xx, a dropped connection).
    #[serde(default = "default_attempts")]
    pub attempts: u32,
}

fn default_api_key_env() -> String {
    "ELASTIC_API_KEY".into()
}

fn default_timeout_ms() -> u64 {
    30_000
}

fn default_attempts() -> u32 {
    4
}

impl Default for ElasticSettings {
    fn default() -> Self {
        toml::from_str("").expect("every field has a default")
    }
}

/// The versions of the stack around the connectors service.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    pub elasticsearch: Option<Component>,
    pub kibana: Option<Component>,
    pub enterprise_search: Option<Component>,
}

/// A component of the stack: its version, or `"none"` where it is not deployed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Component {
    Version(Version),
    Absent,
}

impl<'de> Deserialize<'de> for Component {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text == "none" {
            return Ok(Component::Absent);
        }
        Version::parse(&text).map(Component::Version).map_err(|e| {
            serde::de::Error::custom(format!(
                "{text:?} is neither a version such as 8.15.0 nor \"none\": {e}"
            ))
        })
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Component::Version(v) => write!(f, "{v}"),
            Component::Absent => f.write_str("none"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_section() {
        let s: ElasticSettings = toml::from_str(
            "connectors_service = \"8.7.0\"\ntarget = \"9.0.0\"\n[stack]\nelasticsearch = \"9.0.1\"\nenterprise_search = \"none\"\n[pins]\nc1 = \"later\"\n",
        )
        .unwrap();
        assert_eq!(s.connectors_service, Some(Version::new(8, 7, 0)));
        assert_eq!(
            s.stack.elasticsearch,
            Some(Component::Version(Version::new(9, 0, 1)))
        );
        assert_eq!(s.stack.enterprise_search, Some(Component::Absent));
        assert_eq!(s.stack.kibana, None);
        assert_eq!(s.pins["c1"], "later");
        let err = toml::from_str::<ElasticSettings>("[stack]\nkibana = \"eight\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("neither a version"), "{err}");
        assert!(toml::from_str::<ElasticSettings>("[stack]\nlogstash = \"8.0.0\"\n").is_err());
    }
}
