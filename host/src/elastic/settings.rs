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

use semver::Version;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, Deserialize)]
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
        Version::parse(&text)
            .map(Component::Version)
            .map_err(|e| serde::de::Error::custom(format!("{text:?} is neither a version such as 8.15.0 nor \"none\": {e}")))
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
        assert_eq!(s.stack.elasticsearch, Some(Component::Version(Version::new(9, 0, 1))));
        assert_eq!(s.stack.enterprise_search, Some(Component::Absent));
        assert_eq!(s.stack.kibana, None);
        assert_eq!(s.pins["c1"], "later");
        let err = toml::from_str::<ElasticSettings>("[stack]\nkibana = \"eight\"\n").unwrap_err().to_string();
        assert!(err.contains("neither a version"), "{err}");
        assert!(toml::from_str::<ElasticSettings>("[stack]\nlogstash = \"8.0.0\"\n").is_err());
    }
}
