//! The streams a connector version really discovers, carried inside the plugin.
//!
//! A connector's `breakingChanges` entry is written by hand, and a plugin that only
//! follows it (`scopedImpact`, the message) can leave a stream that did change with its
//! old schema; a migrated catalog must match what the new version discovers, and the host
//! refuses one that does not. So a plugin embeds the real catalog of the version it
//! produces (the `AirbyteCatalog` an offline `discover` printed, `include_str!`-ed) as its
//! [`Migration::TARGET_CATALOG`](crate::Migration::TARGET_CATALOG), and every configured
//! stream is conformed to it after `migrate`: [`Outcome::conform_to`] gives each stream the
//! version knows that version's schema, supported sync modes, cursor and primary key,
//! keeps the user's choices where they remain valid (as [`catalog::refresh_stream`]), and
//! notes each stream it changed. Streams the version does not discover (those a config
//! defines, such as custom reports) are left alone.
//!
//! ```text
//! const CATALOG: Discovered = Discovered::new("2.0.0", include_str!("../../../tests/fixtures/source-x/2.0.0/catalog.json"));
//! impl Migration for Mine {
//!     const TARGET_CATALOG: Option<&'static Discovered> = Some(&CATALOG);
//!     // manifest(), migrate() as usual
//! }
//! ```

use crate::catalog;
use crate::{Error, Outcome, Result, StreamDescriptor};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};

/// The discovered catalog of one connector version, as JSON text.
pub struct Discovered {
    version: &'static str,
    catalog: &'static str,
}

pub use cutover_contract::DISCOVERED_FIELDS;

#[derive(Deserialize)]
struct Streams<'a> {
    #[serde(borrow)]
    streams: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    name: std::borrow::Cow<'a, str>,
}

/// What conforming changed in one configured stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conformed {
    /// The configured stream.
    pub stream: StreamDescriptor,
    /// The discovered fields that differed from the version's.
    pub fields: Vec<&'static str>,
    /// The user's choices that had to change (`sync_mode`, `cursor_field`, `primary_key`).
    pub choices: Vec<&'static str>,
}

impl Discovered {
    /// `catalog` is the version's discovered `AirbyteCatalog` (`{"streams": [...]}`).
    pub const fn new(version: &'static str, catalog: &'static str) -> Self {
        Self { version, catalog }
    }

    /// The connector version whose catalog this is.
    pub fn version(&self) -> &'static str {
        self.version
    }

    /// Each stream's text by name, read without building the streams.
    fn index(&self) -> Result<HashMap<String, &'static RawValue>> {
        let parsed: Streams<'static> = serde_json::from_str(self.catalog).map_err(|e| {
            Error::UnsupportedShape(format!(
                "the plugin's {} catalog is not an AirbyteCatalog: {e}",
                self.version
            ))
        })?;
        let mut index = HashMap::with_capacity(parsed.streams.len());
        for raw in parsed.streams {
            let named: Named = serde_json::from_str(raw.get()).map_err(|e| {
                Error::UnsupportedShape(format!(
                    "a stream of the plugin's {} catalog has no name: {e}",
                    self.version
                ))
            })?;
            index.insert(named.name.into_owned(), raw);
        }
        Ok(index)
    }

    /// The discovered stream `name`, if the version has it.
    pub fn stream(&self, name: &str) -> Result<Option<Value>> {
        self.index()?.get(name).map(|raw| parse(raw)).transpose()
    }
}

fn parse(raw: &RawValue) -> Result<Value> {
    serde_json::from_str(raw.get())
        .map_err(|e| Error::UnsupportedShape(format!("a discovered stream is not JSON: {e}")))
}

/// A discovered field with the value Airbyte reads a missing one as.
fn field(stream: &Value, name: &str) -> Value {
    match (name, stream.get(name)) {
        (_, Some(v)) => v.clone(),
        ("source_defined_cursor", None) => Value::Bool(false),
        ("default_cursor_field" | "source_defined_primary_key", None) => Value::Array(Vec::new()),
        (_, None) => Value::Null,
    }
}

/// Conforms every configured stream `target` knows to it; see the module docs. Returns
/// the streams that changed.
pub fn conform(catalog: &mut Value, target: &Discovered) -> Result<Vec<Conformed>> {
    conform_except(catalog, target, &[])
}

/// [`conform`], leaving alone the streams named in `defined_by_config`: streams a
/// connection's config defines (a connector's custom reports) can share a name with a
/// stream the version discovered for the config its catalog was made with, and then carry
/// the user's fields, not those.
pub fn conform_except(
    catalog: &mut Value,
    target: &Discovered,
    defined_by_config: &[String],
) -> Result<Vec<Conformed>> {
    conform_streams(catalog, target, defined_by_config, &BTreeMap::new())
}

/// [`conform`], where each configured stream named in `stand_ins` is conformed to the
/// version's stream its value names, keeping its own name: a stream a connection's config
/// names (a file connector's `stream_name`) is the stream the version discovered under the
/// name the config of its real catalog gave.
pub fn conform_standing_for(
    catalog: &mut Value,
    target: &Discovered,
    stand_ins: &BTreeMap<String, String>,
) -> Result<Vec<Conformed>> {
    conform_streams(catalog, target, &[], stand_ins)
}

fn conform_streams(
    catalog: &mut Value,
    target: &Discovered,
    defined_by_config: &[String],
    stand_ins: &BTreeMap<String, String>,
) -> Result<Vec<Conformed>> {
    let index = target.index()?;
    let mut changed = Vec::new();
    for entry in catalog::streams_mut(catalog) {
        let Some(stream) = catalog::descriptor(entry) else {
            return Err(Error::InvalidInput(
                "a configured stream has no stream.name".into(),
            ));
        };
        if defined_by_config.contains(&stream.name) {
            continue;
        }
        let known = stand_ins.get(&stream.name).unwrap_or(&stream.name);
        let Some(raw) = index.get(known) else {
            continue;
        };
        let declared = parse(raw)?;
        let fields: Vec<&'static str> = DISCOVERED_FIELDS
            .into_iter()
            .filter(|f| field(&entry["stream"], f) != field(&declared, f))
            .collect();
        let before = entry.clone();
        let choices = catalog::refresh_stream(entry, &declared);
        // A stand-in keeps its own name: the connection's config names it.
        entry["stream"]["name"] = Value::String(stream.name.clone());
        if !fields.is_empty() || !choices.is_empty() || *entry != before {
            changed.push(Conformed {
                stream,
                fields,
                choices,
            });
        }
    }
    Ok(changed)
}

impl Outcome {
    /// Conforms the migrated catalog to `target` (see [`conform`]) and notes each stream
    /// whose discovered fields or the user's choices changed.
    pub fn conform_to(&mut self, target: &Discovered) -> Result<Vec<Conformed>> {
        self.conform_to_except(target, &[])
    }

    /// [`Outcome::conform_to`], leaving alone the streams the config defines
    /// ([`conform_except`]).
    pub fn conform_to_except(
        &mut self,
        target: &Discovered,
        defined_by_config: &[String],
    ) -> Result<Vec<Conformed>> {
        let changed = conform_except(&mut self.catalog, target, defined_by_config)?;
        self.note_conformed(target, &changed);
        Ok(changed)
    }

    /// [`Outcome::conform_to`], each stream named in `stand_ins` conformed to the stream its
    /// value names ([`conform_standing_for`]).
    pub fn conform_to_standing_for(
        &mut self,
        target: &Discovered,
        stand_ins: &BTreeMap<String, String>,
    ) -> Result<Vec<Conformed>> {
        let changed = conform_standing_for(&mut self.catalog, target, stand_ins)?;
        self.note_conformed(target, &changed);
        Ok(changed)
    }

    fn note_conformed(&mut self, target: &Discovered, changed: &[Conformed]) {
        for c in changed {
            let mut what = Vec::new();
            if !c.fields.is_empty() {
                what.push(format!(
                    "{} set as {} discovers it",
                    c.fields.join(", "),
                    target.version
                ));
            }
            if !c.choices.is_empty() {
                what.push(format!(
                    "the configured {} changed to fit",
                    c.choices.join(", ")
                ));
            }
            if !what.is_empty() {
                self.note(format!("{}: {}", c.stream.name, what.join("; ")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TARGET: Discovered = Discovered::new(
        "2.0.0",
        r#"{"streams": [
            {"name": "a", "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}, "new": {"type": "string"}}},
             "supported_sync_modes": ["full_refresh"], "source_defined_primary_key": [["id"]]},
            {"name": "b", "json_schema": {"type": "object"}, "supported_sync_modes": ["full_refresh", "incremental"],
             "source_defined_cursor": true, "default_cursor_field": ["updated_at"]}
        ]}"#,
    );

    #[test]
    fn streams_take_the_version_s_fields_and_keep_valid_choices() {
        let mut out = Outcome {
            config: json!({}),
            catalog: json!({"streams": [
                {"stream": {"name": "a", "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
                            "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_primary_key": [["id"]]},
                 "sync_mode": "incremental", "cursor_field": ["id"], "destination_sync_mode": "append_dedup", "primary_key": [["id"]]},
                {"stream": {"name": "b", "json_schema": {"type": "object"}, "supported_sync_modes": ["full_refresh", "incremental"],
                            "source_defined_cursor": true, "default_cursor_field": ["updated_at"]},
                 "sync_mode": "incremental", "cursor_field": ["updated_at"], "destination_sync_mode": "append"},
                {"stream": {"name": "custom", "json_schema": {}}, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
            ]}),
            state: Vec::new(),
            actions: Vec::new(),
            notes: Vec::new(),
        };
        let changed = out.conform_to(&TARGET).unwrap();
        assert_eq!(changed.len(), 1, "{changed:?}");
        assert_eq!(
            changed[0].fields,
            vec!["json_schema", "supported_sync_modes"]
        );
        assert_eq!(changed[0].choices, vec!["sync_mode"]);
        let a = &out.catalog["streams"][0];
        assert_eq!(
            a["stream"]["json_schema"]["properties"]["new"],
            json!({"type": "string"})
        );
        assert_eq!(a["sync_mode"], "full_refresh");
        assert_eq!(
            out.catalog["streams"][2]["stream"],
            json!({"name": "custom", "json_schema": {}}),
            "unknown streams are left alone"
        );
        assert_eq!(
            out.notes,
            vec![
                "a: json_schema, supported_sync_modes set as 2.0.0 discovers it; the configured sync_mode changed to fit"
            ]
        );
        assert!(
            conform(&mut out.catalog.clone(), &TARGET)
                .unwrap()
                .is_empty(),
            "conforming twice changes nothing"
        );
    }
}
