//! A connector document as a migration sees and returns it.

use super::configuration::{self, Configuration};
use super::defaults::Defaults;
use crate::{Action, Error, Result};
use serde_json::{Map, Value};

/// One Elastic connector, parsed: the document as `GET _connector/<id>` returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct Connector {
    /// The connector's id.
    pub id: String,
    /// The connectors service version the document is valid for now.
    pub version: String,
    /// The whole document.
    pub document: Map<String, Value>,
}

impl Connector {
    /// Parses a connector document, checking what every version has: an object with a
    /// `service_type` and a `configuration` of field objects.
    pub fn parse(id: String, version: String, text: &str) -> Result<Self> {
        let document = match serde_json::from_str(text) {
            Ok(Value::Object(document)) => document,
            Ok(_) => {
                return Err(Error::InvalidInput(format!(
                    "connector {id}: the document must be a JSON object"
                )));
            }
            Err(e) => {
                return Err(Error::InvalidInput(format!(
                    "connector {id}: the document is not valid JSON: {e}"
                )));
            }
        };
        match document.get("service_type") {
            Some(Value::String(s)) if !s.is_empty() => {}
            _ => {
                return Err(Error::InvalidInput(format!(
                    "connector {id}: field service_type is missing or empty"
                )));
            }
        }
        match document.get("configuration") {
            Some(Value::Object(_)) => {}
            _ => {
                return Err(Error::InvalidInput(format!(
                    "connector {id}: field configuration must be an object of fields"
                )));
            }
        }
        Ok(Self {
            id,
            version,
            document,
        })
    }

    /// The data source, such as `sharepoint_online` (checked to be a string when parsed).
    pub fn service_type(&self) -> &str {
        self.document["service_type"]
            .as_str()
            .expect("checked when parsed")
    }

    /// The `configuration` object (checked to be an object when parsed).
    pub fn configuration(&self) -> &Configuration {
        self.document["configuration"]
            .as_object()
            .expect("checked when parsed")
    }

    /// Checks each configuration value against its field's type (see
    /// [`configuration::check_types`]), naming the connector and field.
    pub fn check_types(&self, defaults: Option<&Defaults>) -> Result<()> {
        configuration::check_types(self.configuration(), defaults).map_err(|e| match e {
            Error::InvalidInput(m) => Error::InvalidInput(format!(
                "connector {} ({}): {m}",
                self.id,
                self.service_type()
            )),
            other => other,
        })
    }

    /// Checks the values against `old` (the version the connector is at, see
    /// [`check_types`](Self::check_types)) and starts an outcome from the document.
    pub fn into_checked_outcome(self, old: &Defaults) -> Result<ConnectorOutcome> {
        self.check_types(Some(old))?;
        Ok(self.into_outcome())
    }

    /// Starts an outcome that leaves the document as it is.
    pub fn into_outcome(self) -> ConnectorOutcome {
        ConnectorOutcome {
            id: self.id,
            document: self.document,
            actions: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// The migrated connector and what is left to do.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectorOutcome {
    /// The connector's id.
    pub id: String,
    /// The migrated document.
    pub document: Map<String, Value>,
    /// What the operator must still do.
    pub actions: Vec<Action>,
    /// Remarks for the plan.
    pub notes: Vec<String>,
}

impl ConnectorOutcome {
    /// The data source, or empty when the document has none.
    pub fn service_type(&self) -> &str {
        self.document
            .get("service_type")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The `configuration` object.
    pub fn configuration(&self) -> &Configuration {
        self.document["configuration"]
            .as_object()
            .expect("a connector document has a configuration")
    }

    /// The `configuration` object, to change.
    pub fn configuration_mut(&mut self) -> &mut Configuration {
        self.document["configuration"]
            .as_object_mut()
            .expect("a connector document has a configuration")
    }

    /// Changes `service_type` from `from` to `to`; refuses a document of another type.
    pub fn rename_service_type(&mut self, from: &str, to: &str) -> Result<()> {
        if self.service_type() != from {
            return Err(Error::UnsupportedShape(format!(
                "connector {}: service_type is {:?}, not {from:?}",
                self.id,
                self.service_type()
            )));
        }
        self.document
            .insert("service_type".into(), Value::String(to.into()));
        self.note(format!("service_type {from} → {to}"));
        Ok(())
    }

    /// Clears the sync cursor (an incremental sync would resume from a cursor that no
    /// longer fits) and asks for a full sync. Returns whether there was a cursor.
    pub fn clear_sync_cursor(&mut self, reason: &str) -> bool {
        match self.document.get("sync_cursor") {
            None | Some(Value::Null) => false,
            Some(_) => {
                self.document.insert("sync_cursor".into(), Value::Null);
                self.action(Action::FullSync {
                    reason: reason.into(),
                });
                self.note(format!("cleared the sync cursor: {reason}"));
                true
            }
        }
    }

    /// Renames the ingest pipeline where it is `from`. Returns whether it was.
    pub fn rename_pipeline(&mut self, from: &str, to: &str) -> bool {
        let Some(Value::Object(pipeline)) = self.document.get_mut("pipeline") else {
            return false;
        };
        if pipeline.get("name").and_then(Value::as_str) != Some(from) {
            return false;
        }
        pipeline.insert("name".into(), Value::String(to.into()));
        self.note(format!("pipeline {from} → {to}"));
        true
    }

    /// Makes the configuration hold exactly `new`'s fields (see [`configuration::conform`]),
    /// noting what was added or dropped.
    pub fn conform(&mut self, new: &Defaults) -> Result<()> {
        let notes = configuration::conform(self.configuration_mut(), new)?;
        self.notes.extend(notes);
        Ok(())
    }

    /// Adds an action for the operator.
    pub fn action(&mut self, action: Action) {
        if !self.actions.contains(&action) {
            self.actions.push(action);
        }
    }

    /// Adds a remark for the plan.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// The document as compact JSON text.
    pub fn document_text(&self) -> String {
        serde_json::to_string(&self.document).expect("a JSON object serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn connector(doc: Value) -> Result<Connector> {
        Connector::parse("c1".into(), "8.8.0".into(), &doc.to_string())
    }

    #[test]
    fn refuses_documents_without_a_service_type_or_configuration() {
        let err = connector(json!({"configuration": {}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("c1") && err.contains("service_type"), "{err}");
        assert!(
            connector(json!({"service_type": "mysql", "configuration": []}))
                .unwrap_err()
                .to_string()
                .contains("configuration")
        );
        assert!(connector(json!({"service_type": "mysql", "configuration": {}})).is_ok());
    }

    #[test]
    fn renames_the_service_type_and_pipeline_and_clears_the_cursor() {
        let c = connector(json!({"service_type": "sharepoint", "configuration": {}, "sync_cursor": {"site_drives": {}},
            "pipeline": {"name": "ent-search-generic-ingestion", "reduce_whitespace": true}}))
        .unwrap();
        let mut out = c.into_outcome();
        assert!(out.rename_service_type("mysql", "x").is_err());
        out.rename_service_type("sharepoint", "sharepoint_server")
            .unwrap();
        assert!(out.rename_pipeline("ent-search-generic-ingestion", "search-default-ingestion"));
        assert!(!out.rename_pipeline("ent-search-generic-ingestion", "search-default-ingestion"));
        assert!(out.clear_sync_cursor("the cursor belongs to the old data source"));
        assert!(!out.clear_sync_cursor("again"));
        assert_eq!(out.document["service_type"], "sharepoint_server");
        assert_eq!(
            out.document["pipeline"],
            json!({"name": "search-default-ingestion", "reduce_whitespace": true})
        );
        assert_eq!(out.document["sync_cursor"], Value::Null);
        assert_eq!(out.actions.len(), 1);
    }

    #[test]
    fn type_errors_name_the_connector_and_field() {
        let c = connector(json!({"service_type": "mysql", "configuration": {"port": {"type": "int", "value": "x"}}})).unwrap();
        let err = c.check_types(None).unwrap_err().to_string();
        assert!(
            err.contains("connector c1 (mysql)") && err.contains("port"),
            "{err}"
        );
    }
}
