//! The data of one migration call as the host sees it: what goes into a plugin and what
//! comes back, independent of the contract version. What a plugin returns beside the
//! documents (its actions and refusals) is the contract's own type, shared with the SDK.

pub use cutover_contract::{Action, MigrationError, StreamDescriptor};

/// A connection's documents as JSON text, as they cross into the sandbox.
#[derive(Clone, Debug)]
pub struct Input {
    pub id: String,
    pub connector: String,
    pub version: String,
    pub config: String,
    pub catalog: String,
    /// Shared, not copied, with the reader a 1.1.0 plugin streams it from: states can be
    /// hundreds of megabytes.
    pub state: std::sync::Arc<str>,
}

impl Input {
    /// The input of one step: the documents as they stand before it, as compact JSON.
    pub fn new(
        id: &str,
        connector: &str,
        version: &str,
        config: &serde_json::Value,
        catalog: &serde_json::Value,
        state: &serde_json::Value,
    ) -> Self {
        Self {
            id: id.to_owned(),
            connector: connector.to_owned(),
            version: version.to_owned(),
            config: config.to_string(),
            catalog: catalog.to_string(),
            state: state.to_string().into(),
        }
    }

    /// The input of one step for a connection document (`id`, `connector`, `version`,
    /// `config`, `catalog`, `state`) as it is; `None` if a name is not a string.
    pub fn of_document(doc: &serde_json::Value) -> Option<Self> {
        let name = |key: &str| doc.get(key).and_then(serde_json::Value::as_str);
        Some(Self::new(
            name("id")?,
            name("connector")?,
            name("version")?,
            &doc["config"],
            &doc["catalog"],
            &doc["state"],
        ))
    }

    /// The total size of the documents, for limits and progress.
    pub fn len(&self) -> usize {
        self.config.len() + self.catalog.len() + self.state.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a plugin returned for one connection, documents still as JSON text.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub config: String,
    pub catalog: String,
    pub state: String,
    pub actions: Vec<Action>,
    pub notes: Vec<String>,
}

/// An Elastic connector document as it crosses into the sandbox (contract 1.2.0).
#[derive(Clone, Debug)]
pub struct ConnectorInput {
    pub id: String,
    /// The connectors service version the document is valid for now.
    pub version: String,
    /// The connector document, as JSON text.
    pub document: String,
}

/// What a plugin returned for one Elastic connector.
#[derive(Clone, Debug)]
pub struct ConnectorOutcome {
    pub document: String,
    pub actions: Vec<Action>,
    pub notes: Vec<String>,
}
