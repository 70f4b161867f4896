//! A connection document: one connection of the fleet, in Airbyte's own shapes.
//!
//! ```json
//! { "id": "…", "name": "…", "connector": "airbyte/source-pinterest", "version": "1.3.3",
//!   "pin": null, "config": {…}, "catalog": {"streams": […]}, "state": […] }
//! ```
//! The document is kept as the JSON object it was read as, so fields cutover does not
//! know survive a migration, and keys keep their order.

use anyhow::{Context, Result, anyhow, bail};
use semver::Version;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Why a connection is pinned; a pinned connection is never upgraded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// `user` for an operator's pin; `breaking_change` for one the platform set.
    pub origin: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A parsed connection document.
#[derive(Clone, Debug)]
pub struct Connection {
    pub id: String,
    pub name: Option<String>,
    pub connector: String,
    pub version: Version,
    pub pin: Option<Pin>,
    doc: Map<String, Value>,
}

impl Connection {
    /// Parses and checks a document. Errors say what is wrong and how to fix it; the
    /// caller adds which file.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let doc: Value = serde_json::from_slice(bytes).context("it is not valid JSON")?;
        let Value::Object(doc) = doc else {
            bail!("it must be a JSON object")
        };
        let text = |key: &str| -> Result<String> {
            match doc.get(key) {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(_) => Err(anyhow!("field {key:?} must be a non-empty string")),
                None => Err(anyhow!("field {key:?} is missing")),
            }
        };
        let id = text("id")?;
        let connector = text("connector")?;
        let version_text = text("version")?;
        let version = Version::parse(&version_text).with_context(|| {
            format!("version {version_text:?} is not a semver version such as 1.3.3")
        })?;
        let name = doc.get("name").and_then(Value::as_str).map(str::to_owned);
        let pin =
            match doc.get("pin") {
                None | Some(Value::Null) => None,
                Some(p) => Some(serde_json::from_value(p.clone()).context(
                    "field \"pin\" must be null or {\"origin\": \"user\", \"reason\": …}",
                )?),
            };
        if !doc.get("config").is_some_and(Value::is_object) {
            bail!("field \"config\" must be a JSON object (the source config)");
        }
        if !doc
            .get("catalog")
            .and_then(|c| c.get("streams"))
            .is_some_and(Value::is_array)
        {
            bail!("field \"catalog\" must be a ConfiguredAirbyteCatalog: {{\"streams\": [...]}}");
        }
        match doc.get("state") {
            None | Some(Value::Null) | Some(Value::Array(_)) => {}
            Some(_) => bail!("field \"state\" must be a JSON array of AirbyteStateMessage"),
        }
        Ok(Self {
            id,
            name,
            connector,
            version,
            pin,
            doc,
        })
    }

    pub fn config(&self) -> &Value {
        &self.doc["config"]
    }

    pub fn catalog(&self) -> &Value {
        &self.doc["catalog"]
    }

    /// The state messages (an empty array if the document has none).
    pub fn state(&self) -> Value {
        self.state_ref().into_owned()
    }

    /// The state messages, borrowed when the document has them.
    pub fn state_ref(&self) -> Cow<'_, Value> {
        match self.doc.get("state") {
            Some(v @ Value::Array(_)) => Cow::Borrowed(v),
            _ => Cow::Owned(Value::Array(Vec::new())),
        }
    }

    /// The names of the streams the connection syncs.
    pub fn stream_names(&self) -> Vec<&str> {
        self.catalog()["streams"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("stream")?.get("name")?.as_str())
            .collect()
    }

    /// A copy migrated to `version` with the given documents.
    pub fn migrated(&self, version: &Version, config: Value, catalog: Value, state: Value) -> Self {
        let mut next = self.clone();
        next.version = version.clone();
        next.doc
            .insert("version".into(), Value::String(version.to_string()));
        next.doc.insert("config".into(), config);
        next.doc.insert("catalog".into(), catalog);
        next.doc.insert("state".into(), state);
        next
    }

    /// What [`Self::migrated`] then [`Self::to_bytes`] give, without copying the document:
    /// fields in the same order, the four replaced in place (or added at the end, in this
    /// order, where the document lacks them).
    pub fn migrated_bytes(
        &self,
        version: &Version,
        config: &Value,
        catalog: &Value,
        state: &Value,
    ) -> Vec<u8> {
        let version = Value::String(version.to_string());
        let replaced: [(&str, &Value); 4] = [
            ("version", &version),
            ("config", config),
            ("catalog", catalog),
            ("state", state),
        ];
        let replacement = |key: &str| replaced.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let fields = self
            .doc
            .iter()
            .map(|(k, v)| (k.as_str(), replacement(k).unwrap_or(v)))
            .chain(
                replaced
                    .iter()
                    .filter(|(k, _)| !self.doc.contains_key(*k))
                    .copied(),
            );
        pretty_with_newline(&Fields(std::cell::Cell::new(Some(fields))))
    }

    /// A copy with the pin set or cleared.
    pub fn with_pin(&self, pin: Option<Pin>) -> Self {
        let mut next = self.clone();
        let value = match &pin {
            Some(p) => serde_json::to_value(p).expect("a pin serializes"),
            None => Value::Null,
        };
        next.doc.insert("pin".into(), value);
        next.pin = pin;
        next
    }

    /// The document as cutover writes it: pretty JSON with a trailing newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        pretty_with_newline(&self.doc)
    }

    /// The whole document as JSON.
    pub fn as_json(&self) -> &Map<String, Value> {
        &self.doc
    }
}

/// Pretty JSON with a trailing newline: how cutover writes every document.
fn pretty_with_newline(value: &impl Serialize) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).expect("a JSON object serializes");
    out.push(b'\n');
    out
}

/// An object's fields from an iterator, serialized once.
struct Fields<I>(std::cell::Cell<Option<I>>);

impl<'v, I: Iterator<Item = (&'v str, &'v Value)>> Serialize for Fields<I> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.take().expect("serialized once"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"id":"c1","connector":"airbyte/source-pinterest","version":"1.3.3","extra":{"keep":true},
        "config":{"start_date":"2023-01-01"},"catalog":{"streams":[{"stream":{"name":"campaigns"}}]},"state":[]}"#;

    #[test]
    fn parses_and_keeps_unknown_fields_in_order() {
        let c = Connection::parse(DOC.as_bytes()).unwrap();
        assert_eq!(c.version, Version::new(1, 3, 3));
        assert_eq!(c.stream_names(), vec!["campaigns"]);
        let next = c.migrated(
            &Version::new(2, 0, 0),
            c.config().clone(),
            c.catalog().clone(),
            c.state(),
        );
        let text = String::from_utf8(next.to_bytes()).unwrap();
        assert!(text.find("\"extra\"").unwrap() < text.find("\"config\"").unwrap());
        assert!(text.contains("\"version\": \"2.0.0\""));
    }

    #[test]
    fn migrated_bytes_are_the_migrated_document() {
        for doc in [DOC.to_owned(), DOC.replace(",\"state\":[]", "")] {
            let c = Connection::parse(doc.as_bytes()).unwrap();
            let (config, catalog, state) = (
                serde_json::json!({"new": 1}),
                serde_json::json!({"streams": []}),
                serde_json::json!([{"type": "GLOBAL"}]),
            );
            let v2 = Version::new(2, 0, 0);
            let bytes = c.migrated_bytes(&v2, &config, &catalog, &state);
            assert_eq!(
                String::from_utf8(bytes).unwrap(),
                String::from_utf8(c.migrated(&v2, config, catalog, state).to_bytes()).unwrap()
            );
        }
    }

    #[test]
    fn rejects_bad_documents_with_the_reason() {
        let err = |s: &str| format!("{:#}", Connection::parse(s.as_bytes()).unwrap_err());
        assert!(err("{not json").contains("not valid JSON"));
        assert!(err(&DOC.replace("1.3.3", "1.3")).contains("not a semver version"));
        assert!(err(&DOC.replace("\"id\":\"c1\",", "")).contains("\"id\" is missing"));
        assert!(
            err(&DOC.replace("\"state\":[]", "\"state\":{}"))
                .contains("\"state\" must be a JSON array")
        );
        assert!(
            err(&DOC.replace(
                "{\"streams\":[{\"stream\":{\"name\":\"campaigns\"}}]}",
                "[]"
            ))
            .contains("ConfiguredAirbyteCatalog")
        );
    }
}
