//! Streams, as Airbyte names them and as their connector describes them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A stream, as Airbyte's `StreamDescriptor` names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StreamDescriptor {
    /// The stream's name.
    pub name: String,
    /// The stream's namespace, when its connector or the operator sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl StreamDescriptor {
    /// A stream without a namespace.
    pub fn named(name: &str) -> Self {
        Self {
            name: name.into(),
            namespace: None,
        }
    }

    /// Reads `{"name": …, "namespace": …}`; `None` without a string `name`.
    pub fn from_json(v: &Value) -> Option<Self> {
        Some(Self {
            name: v.get("name")?.as_str()?.to_owned(),
            namespace: v
                .get("namespace")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }
}

impl std::fmt::Display for StreamDescriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// The fields of a stream that its connector decides (what `discover` says), as opposed
/// to those the operator configures: a migrated stream must carry the target version's,
/// which the SDK conforms a catalog to and the host checks.
pub const DISCOVERED_FIELDS: [&str; 5] = [
    "json_schema",
    "supported_sync_modes",
    "source_defined_cursor",
    "default_cursor_field",
    "source_defined_primary_key",
];
