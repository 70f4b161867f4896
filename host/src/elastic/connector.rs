//! An Elastic connector document as the fleet holds it: the connector as `GET
//! _connector/<id>` returns it, and its unfinished sync jobs under `pending_sync_jobs`
//! (cutover's own field; see [`super::jobs`]).
//!
//! ```json
//! { "id": "mysql-crm", "name": "CRM", "service_type": "mysql", "index_name": "search-crm",
//!   "configuration": {"host": {"label": "Host", "type": "str", "value": "db.internal"}, …},
//!   "sync_cursor": null, "filtering": […], "pipeline": {"name": "ent-search-generic-ingestion", …},
//!   "scheduling": {…}, "features": {…}, "pending_sync_jobs": [{"job_type": "full", …}] }
//! ```
//!
//! The document is kept as the JSON object it was read as, so fields cutover does not
//! know survive a migration, and keys keep their order.

use super::jobs::{self, Job};
use anyhow::{Result, anyhow, bail};
use cutover_plugin::elastic::configuration;
use serde_json::{Map, Value};

/// A parsed Elastic connector document.
#[derive(Clone, Debug)]
pub struct Connector {
    pub id: String,
    pub name: Option<String>,
    pub service_type: String,
    pub jobs: Vec<Job>,
    doc: Map<String, Value>,
}

/// Whether a JSON object is an Elastic connector document rather than an Airbyte
/// connection: it names no `connector` and has what every connector document has.
pub fn is_connector_document(doc: &Map<String, Value>) -> bool {
    !doc.contains_key("connector")
        && ["service_type", "configuration", "index_name"]
            .iter()
            .any(|k| doc.contains_key(*k))
}

impl Connector {
    /// Checks a connector document. Errors name the connector (by id where it has one)
    /// and the field, and say how to fix it.
    pub fn from_json(doc: Map<String, Value>) -> Result<Self> {
        let id = match doc.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(_) => bail!("field \"id\" must be the connector's id, a non-empty string"),
            None => bail!(
                "field \"id\" is missing: a connector document is what GET _connector/<id> returns, id included"
            ),
        };
        let service_type = match doc.get("service_type") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Null) | None => bail!(
                "connector {id}: field \"service_type\" is missing; set it to the connector's data source (mysql, sharepoint_online, …) as the connectors service is configured for it"
            ),
            Some(other) => bail!(
                "connector {id}: field \"service_type\" must be a data source name such as \"mysql\", not {other}"
            ),
        };
        let Some(Value::Object(config)) = doc.get("configuration") else {
            bail!(
                "connector {id} ({service_type}): field \"configuration\" must be an object of fields ({{\"<key>\": {{\"value\": …, \"type\": …}}}})"
            );
        };
        configuration::check_types(config, None)
            .map_err(|e| anyhow!("connector {id} ({service_type}): {}", plain(e)))?;
        let name = doc.get("name").and_then(Value::as_str).map(str::to_owned);
        let jobs = jobs::read(&doc).map_err(|e| anyhow!("connector {id} ({service_type}): {e}"))?;
        Ok(Self {
            id,
            name,
            service_type,
            jobs,
            doc,
        })
    }

    /// The connector name plugins and settings use: `elastic/<service type>`.
    pub fn connector(&self) -> String {
        super::connector_name(&self.service_type)
    }

    pub fn configuration(&self) -> &Map<String, Value> {
        self.doc["configuration"]
            .as_object()
            .expect("checked when parsed")
    }

    /// The connector as a plugin sees it: the document without the sync jobs, which the
    /// host deals with.
    pub fn plugin_document(&self) -> Map<String, Value> {
        let mut doc = self.doc.clone();
        doc.shift_remove(jobs::FIELD);
        doc
    }

    /// The document after a migration to `document`: the jobs field, where the document has
    /// one, emptied (apply cancels the jobs: they hold the old configuration), in place.
    pub fn migrated_bytes(&self, document: &Map<String, Value>) -> Vec<u8> {
        let mut out = document.clone();
        if self.doc.contains_key(jobs::FIELD) {
            out.insert(jobs::FIELD.into(), Value::Array(Vec::new()));
        }
        pretty_with_newline(&out)
    }

    pub fn as_json(&self) -> &Map<String, Value> {
        &self.doc
    }
}

/// An SDK refusal's message without its kind.
fn plain(e: cutover_plugin::Error) -> String {
    match e {
        cutover_plugin::Error::InvalidInput(m)
        | cutover_plugin::Error::UnsupportedShape(m)
        | cutover_plugin::Error::NeedsOperator(m) => m,
    }
}

/// Pretty JSON with a trailing newline: how cutover writes every document.
pub fn pretty_with_newline(doc: &Map<String, Value>) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(doc).expect("a JSON object serializes");
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Connector> {
        Connector::from_json(v.as_object().unwrap().clone())
    }

    fn doc() -> Value {
        json!({"id": "crm", "name": "CRM", "service_type": "mysql", "index_name": "search-crm",
            "configuration": {"port": {"label": "Port", "type": "int", "value": 3306}},
            "pipeline": {"name": "ent-search-generic-ingestion"},
            "pending_sync_jobs": [{"job_type": "full", "trigger_method": "on_demand", "status": "pending"}]})
    }

    #[test]
    fn reads_a_connector_and_its_jobs() {
        let c = parse(doc()).unwrap();
        assert_eq!(
            (c.id.as_str(), c.connector().as_str(), c.jobs.len()),
            ("crm", "elastic/mysql", 1)
        );
        assert!(!c.plugin_document().contains_key("pending_sync_jobs"));
        let migrated: Value =
            serde_json::from_slice(&c.migrated_bytes(&c.plugin_document())).unwrap();
        assert_eq!(migrated["pending_sync_jobs"], json!([]));
        assert!(is_connector_document(doc().as_object().unwrap()));
        assert!(!is_connector_document(
            json!({"connector": "airbyte/source-x", "config": {}})
                .as_object()
                .unwrap()
        ));
    }

    #[test]
    fn bad_documents_name_the_connector_and_field() {
        let mut no_type = doc();
        no_type.as_object_mut().unwrap().remove("service_type");
        let err = format!("{:#}", parse(no_type).unwrap_err());
        assert!(
            err.contains("connector crm") && err.contains("service_type"),
            "{err}"
        );
        let mut wrong = doc();
        wrong["configuration"]["port"]["value"] = json!("three thousand");
        let err = format!("{:#}", parse(wrong).unwrap_err());
        assert!(
            err.contains("connector crm (mysql)") && err.contains("port"),
            "{err}"
        );
        let mut no_id = doc();
        no_id.as_object_mut().unwrap().remove("id");
        assert!(format!("{:#}", parse(no_id).unwrap_err()).contains("\"id\" is missing"));
    }
}
