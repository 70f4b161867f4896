//! One Airbyte connection as a cutover connection document, and back.
//!
//! A connection's parts live behind four endpoints (`connections/get`, `sources/get`,
//! `actor_definition_versions/get_for_source`, `state/get`) and, for a pinned source, a
//! scoped configuration. [`Remote`] is what they answered; [`Parts`] is the connection in
//! cutover's terms, and its [`Parts::to_document`] gives the document plugins and plans see:
//!
//! ```json
//! { "id": "<connectionId>", "name": "…", "connector": "airbyte/source-pinterest",
//!   "version": "1.3.3", "pin": null,
//!   "config": {…masked as the API shows it…}, "catalog": {"streams": […]}, "state": […],
//!   "airbyte": {"workspaceId": "…", "sourceId": "…", "sourceName": "…", "sourceDefinitionId": "…",
//!               "status": "active", "versionPin": {"origin": "2.0.0", "version": "1.3.3"}} }
//! ```
//!
//! A user's pin is the document's `pin`; a pin the platform set when the connector's default
//! moved past a breaking change (`versionPin`) is not: it is what cutover resolves. The
//! bytes are canonical (object keys sorted, state ordered by stream) because the server keeps
//! no key or row order: the same server state always gives the same bytes.

use super::mapping::{self, Catalog};
use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

/// What the server answered for one connection.
#[derive(Clone, Debug)]
pub struct Remote {
    /// `ConnectionRead`.
    pub connection: Value,
    /// `SourceRead`.
    pub source: Value,
    /// `ActorDefinitionVersionRead` of the source.
    pub version: Value,
    /// `ConnectionState`.
    pub state: Value,
    /// The source's version pin (`ScopedConfigurationRead`), if it has one.
    pub pin: Option<Value>,
}

/// A user's pin.
#[derive(Clone, Debug, PartialEq)]
pub struct UserPin {
    pub reason: Option<String>,
}

/// A pin the platform set to hold a source at a version before a breaking change.
#[derive(Clone, Debug, PartialEq)]
pub struct VersionPin {
    /// The breaking change's version it waits for (the scoped configuration's `origin`).
    pub origin: String,
    /// The version it holds the source at.
    pub version: String,
}

/// A connection in cutover's terms.
#[derive(Clone, Debug, PartialEq)]
pub struct Parts {
    pub id: String,
    pub name: String,
    pub connector: String,
    pub version: String,
    pub pin: Option<UserPin>,
    pub config: Value,
    pub catalog: Catalog,
    pub state: Vec<Value>,
    pub workspace_id: String,
    pub source_id: String,
    pub source_name: String,
    pub definition_id: String,
    pub status: String,
    pub version_pin: Option<VersionPin>,
}

fn text(value: &Value, pointer: &str, what: &str) -> Result<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("{what} has no {pointer}"))
}

impl Remote {
    /// The connection in cutover's terms.
    pub fn parts(&self) -> Result<Parts> {
        let (connection, source) = (&self.connection, &self.source);
        let pin = self.pin.as_ref();
        let origin_type = pin
            .and_then(|p| p.get("origin_type"))
            .and_then(Value::as_str);
        Ok(Parts {
            id: text(connection, "/connectionId", "the connection")?,
            name: text(connection, "/name", "the connection")?,
            connector: text(&self.version, "/dockerRepository", "the source's version")?,
            version: text(&self.version, "/dockerImageTag", "the source's version")?,
            pin: (origin_type == Some("user")).then(|| UserPin {
                reason: pin
                    .and_then(|p| p.get("description").or(p.get("origin")))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            }),
            config: source
                .get("connectionConfiguration")
                .cloned()
                .context("the source has no connectionConfiguration")?,
            catalog: mapping::catalog_from_api(
                connection
                    .get("syncCatalog")
                    .context("the connection has no syncCatalog")?,
            )?,
            state: mapping::state_from_api(&self.state)?,
            workspace_id: text(source, "/workspaceId", "the source")?,
            source_id: text(source, "/sourceId", "the source")?,
            source_name: text(source, "/name", "the source")?,
            definition_id: text(source, "/sourceDefinitionId", "the source")?,
            status: text(connection, "/status", "the connection")?,
            version_pin: match (pin, origin_type) {
                (Some(p), Some(t)) if t != "user" => Some(VersionPin {
                    origin: p
                        .get("origin")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    version: p
                        .get("value_name")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .unwrap_or_else(|| {
                            self.version
                                .get("dockerImageTag")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned()
                        }),
                }),
                _ => None,
            },
        })
    }
}

impl Parts {
    /// The canonical document.
    pub fn to_document(&self) -> Vec<u8> {
        let mut airbyte = Map::new();
        airbyte.insert("workspaceId".into(), self.workspace_id.clone().into());
        airbyte.insert("sourceId".into(), self.source_id.clone().into());
        airbyte.insert("sourceName".into(), self.source_name.clone().into());
        airbyte.insert(
            "sourceDefinitionId".into(),
            self.definition_id.clone().into(),
        );
        airbyte.insert("status".into(), self.status.clone().into());
        if let Some(p) = &self.version_pin {
            airbyte.insert(
                "versionPin".into(),
                json!({"origin": p.origin, "version": p.version}),
            );
        }
        if !self.catalog.unselected.is_empty() {
            airbyte.insert(
                "unselectedStreams".into(),
                canonical(&Value::Array(self.catalog.unselected.clone())),
            );
        }
        let pin = match &self.pin {
            None => Value::Null,
            Some(UserPin { reason: Some(r) }) => json!({"origin": "user", "reason": r}),
            Some(UserPin { reason: None }) => json!({"origin": "user"}),
        };
        let mut doc = Map::new();
        doc.insert("id".into(), self.id.clone().into());
        doc.insert("name".into(), self.name.clone().into());
        doc.insert("connector".into(), self.connector.clone().into());
        doc.insert("version".into(), self.version.clone().into());
        doc.insert("pin".into(), pin);
        doc.insert("config".into(), canonical(&self.config));
        doc.insert("catalog".into(), canonical(&self.catalog.configured));
        doc.insert("state".into(), canonical(&Value::Array(self.state.clone())));
        doc.insert("airbyte".into(), Value::Object(airbyte));
        let mut bytes =
            serde_json::to_vec_pretty(&Value::Object(doc)).expect("a document serializes");
        bytes.push(b'\n');
        bytes
    }

    /// Reads a document this backend wrote or a plugin returned.
    pub fn from_document(bytes: &[u8]) -> Result<Self> {
        let doc: Value = serde_json::from_slice(bytes).context("it is not JSON")?;
        let field = |pointer: &str| -> Result<String> {
            doc.pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .with_context(|| {
                    format!("it has no {pointer} (is it an Airbyte connection's document?)")
                })
        };
        let pin = match doc.get("pin") {
            None | Some(Value::Null) => None,
            Some(p) if p.get("origin").and_then(Value::as_str) == Some("user") => Some(UserPin {
                reason: p.get("reason").and_then(Value::as_str).map(str::to_owned),
            }),
            Some(p) => bail!(
                "a pin of origin {} cannot be set through Airbyte's API; only a user's pin",
                p.get("origin").unwrap_or(&Value::Null)
            ),
        };
        let version_pin = doc
            .pointer("/airbyte/versionPin")
            .filter(|p| !p.is_null())
            .map(|p| VersionPin {
                origin: p
                    .get("origin")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                version: p
                    .get("version")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            });
        let state = match doc.get("state") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(s)) => s.clone(),
            Some(_) => bail!("its state is not a list of state messages"),
        };
        Ok(Parts {
            id: field("/id")?,
            name: field("/name")?,
            connector: field("/connector")?,
            version: field("/version")?,
            pin,
            config: doc.get("config").cloned().context("it has no config")?,
            catalog: Catalog {
                configured: doc.get("catalog").cloned().context("it has no catalog")?,
                unselected: doc
                    .pointer("/airbyte/unselectedStreams")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            },
            state,
            workspace_id: field("/airbyte/workspaceId")?,
            source_id: field("/airbyte/sourceId")?,
            source_name: field("/airbyte/sourceName")?,
            definition_id: field("/airbyte/sourceDefinitionId")?,
            status: field("/airbyte/status")?,
            version_pin,
        })
    }
}

/// A JSON value with every object's keys sorted, recursively.
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote() -> Remote {
        Remote {
            connection: json!({"connectionId": "c1", "name": "Pinterest ads", "sourceId": "s1", "destinationId": "d1", "status": "active", "breakingChange": false,
                "syncCatalog": {"streams": [{"stream": {"name": "campaigns", "jsonSchema": {"type": "object"}}, "config": {"syncMode": "incremental", "destinationSyncMode": "append", "cursorField": ["updated_time"], "selected": true}}]}}),
            source: json!({"sourceId": "s1", "workspaceId": "w1", "sourceDefinitionId": "def", "name": "Pinterest", "sourceName": "Pinterest", "createdAt": 1,
                "connectionConfiguration": {"start_date": "2023-01-01", "credentials": {"refresh_token": "**********", "auth_method": "oauth2.0"}}}),
            version: json!({"dockerRepository": "airbyte/source-pinterest", "dockerImageTag": "1.3.3", "isVersionOverrideApplied": true}),
            state: json!({"connectionId": "c1", "stateType": "stream", "streamState": [{"streamDescriptor": {"name": "campaigns"}, "streamState": {"updated_time": 1}}]}),
            pin: Some(
                json!({"origin_type": "breaking_change", "origin": "2.0.0", "value_name": "1.3.3"}),
            ),
        }
    }

    #[test]
    fn a_document_reads_back_as_its_parts() {
        let parts = remote().parts().unwrap();
        assert_eq!(
            parts.version_pin,
            Some(VersionPin {
                origin: "2.0.0".into(),
                version: "1.3.3".into()
            })
        );
        assert_eq!(parts.pin, None, "a breaking-change pin is not the user's");
        let bytes = parts.to_document();
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(doc["catalog"]["streams"][0]["sync_mode"], "incremental");
        assert_eq!(doc["state"][0]["stream"]["stream_state"]["updated_time"], 1);
        crate::connection::Connection::parse(&bytes).unwrap();
        assert_eq!(Parts::from_document(&bytes).unwrap(), parts);
        assert_eq!(Parts::from_document(&bytes).unwrap().to_document(), bytes);
    }

    #[test]
    fn a_users_pin_is_the_documents_pin() {
        let mut r = remote();
        r.pin = Some(
            json!({"origin_type": "user", "origin": "ops@example.com", "description": "quarter-end freeze"}),
        );
        let doc: Value = serde_json::from_slice(&r.parts().unwrap().to_document()).unwrap();
        assert_eq!(
            doc["pin"],
            json!({"origin": "user", "reason": "quarter-end freeze"})
        );
        assert!(doc["airbyte"].get("versionPin").is_none());
    }
}
