//! A fleet's document, of either platform: an Airbyte connection ([`Connection`]: config,
//! catalog and state, with its own `version`) or an Elastic connector ([`elastic::Connector`]:
//! one document in Elastic's shape, whose version the fleet and ledger know).
//!
//! Which one a document is follows from its fields: an Airbyte connection names its
//! `connector`; an Elastic connector has a `service_type`, a `configuration` or an
//! `index_name` and no `connector`.

use crate::connection::Connection;
use crate::elastic;
use anyhow::{Context, Result};
use serde_json::Value;

/// A parsed document of either platform.
#[derive(Clone, Debug)]
pub enum Document {
    Airbyte(Connection),
    Elastic(elastic::Connector),
}

impl Document {
    /// Parses and checks a document. Errors say what is wrong and how to fix it; the
    /// caller adds which document.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if let Ok(Value::Object(doc)) = serde_json::from_slice::<Value>(bytes)
            && elastic::connector::is_connector_document(&doc)
        {
            return elastic::Connector::from_json(doc).map(Document::Elastic);
        }
        Connection::parse(bytes).map(Document::Airbyte)
    }

    /// The connection's or connector's id.
    pub fn id(&self) -> &str {
        match self {
            Document::Airbyte(c) => &c.id,
            Document::Elastic(c) => &c.id,
        }
    }

    /// The Airbyte connection, or an error saying the document is an Elastic connector.
    pub fn airbyte(&self) -> Result<&Connection> {
        match self {
            Document::Airbyte(c) => Ok(c),
            Document::Elastic(c) => None.with_context(|| {
                format!(
                    "{} is an Elastic connector ({}), not an Airbyte connection",
                    c.id,
                    c.connector()
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_the_platforms_apart() {
        let airbyte = br#"{"id":"c1","connector":"airbyte/source-x","version":"1.0.0","config":{},"catalog":{"streams":[]}}"#;
        assert!(matches!(
            Document::parse(airbyte).unwrap(),
            Document::Airbyte(_)
        ));
        let elastic = br#"{"id":"e1","service_type":"mysql","configuration":{}}"#;
        assert!(matches!(
            Document::parse(elastic).unwrap(),
            Document::Elastic(_)
        ));
        // An Airbyte document keeps Airbyte's messages.
        let err = format!("{:#}", Document::parse(br#"{"id":"c1"}"#).unwrap_err());
        assert!(err.contains("\"connector\" is missing"), "{err}");
        let err = format!(
            "{:#}",
            Document::parse(br#"{"id":"e1","configuration":{}}"#).unwrap_err()
        );
        assert!(
            err.contains("connector e1") && err.contains("service_type"),
            "{err}"
        );
    }
}
