//! The requests that take one connection from what the server holds to a new document, in
//! the order the server's rules require:
//!
//! 1. `connections/update` to `inactive` (with the whole new catalog, when it changes, in the
//!    same request), so that no sync starts underneath;
//! 2. `state/create_or_update_safe` after the catalog (a catalog update deletes the state of
//!    streams whose sync mode changed), naming the streams to delete;
//! 3. the version: `sources/upgrade_version` (the platform's breaking-change pin removed, so
//!    the source runs the definition's default) or, to go back, the pin restored;
//! 4. `sources/update` once the source runs the new version (the config is validated against
//!    the spec of the version the source runs *now*), masks only where a secret was;
//! 5. `connections/clear/stream` for the streams the plan names, and no others (sent once
//!    per stream: the writer asks the connection's jobs which streams a clear already
//!    emptied, since every clear call starts a job);
//! 6. `connections/update` back to `active`.
//!
//! Each part is written only if it differs from what the server holds, so a step that is
//! already done is skipped: a retried or resumed write never does a part twice. Everything
//! that could refuse the write is checked before the first request.
//!
//! Over 600 lines because the tests of that order, each against the server's rule it
//! follows, are as long as the code; the code itself is the one plan above.

use super::document::{Parts, Remote, canonical};
use super::mapping;
use super::secrets::{MASK, Supplied, masked};
use crate::migration::StreamDescriptor;
use anyhow::{Result, bail};
use serde_json::{Value, json};

/// The endpoint of a clear, which starts a job at every call (see [`super::clears`]).
pub const CLEAR: &str = "connections/clear/stream";

/// One request of a write.
#[derive(Clone, Debug)]
pub struct Request {
    /// `connections/update`
    pub endpoint: &'static str,
    pub body: Value,
    /// What it does, for previews and errors (never a secret).
    pub what: String,
    /// What the answer must show for the request to have done its part.
    pub expect: Expect,
}

/// What a request's answer must show.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    Nothing,
    /// A `ConnectionRead` with this protocol catalog.
    Catalog(Value),
    /// A `ConnectionState` with these protocol state messages.
    State(Value),
    /// A `SourceRead` whose (masked) config is this one.
    Config(Value),
}

/// What the write needs to know about the connector's definition.
#[derive(Clone, Debug, Default)]
pub struct Definition {
    /// The version a source without a pin runs.
    pub default_version: String,
    /// The `connectionSpecification` of the default version, when the write moves there.
    pub default_spec: Option<Value>,
    /// The id of the version a restored pin holds the source at.
    pub pinned_version_id: Option<String>,
    /// The id of the source's current pin, when the write removes one that
    /// `upgrade_version` cannot (a pin at another version).
    pub current_pin_id: Option<String>,
}

/// Whether the write moves the source's version or its pin.
pub fn moves_version(current: &Parts, target: &Parts) -> bool {
    current.version != target.version || current.version_pin != target.version_pin
}

/// The requests from `current` (what `remote` answered) to `target`; an error when the
/// server would refuse part of it, before anything is sent.
pub fn plan(
    remote: &Remote,
    current: &Parts,
    target: &Parts,
    clears: &[StreamDescriptor],
    definition: &Definition,
    supplied: &Supplied,
) -> Result<Vec<Request>> {
    let id = &target.id;
    if current.id != target.id || current.source_id != target.source_id {
        bail!(
            "the document is of connection {} (source {}), and the server's of {} (source {})",
            target.id,
            target.source_id,
            current.id,
            current.source_id
        );
    }
    if current.connector != target.connector {
        bail!(
            "the connector changes from {} to {}, which Airbyte cannot do to a source",
            current.connector,
            target.connector
        );
    }
    if current.pin != target.pin {
        bail!("a user's pin is set in Airbyte (the source's version override), not by cutover");
    }
    let config_changes = canonical(&current.config) != canonical(&target.config);
    if config_changes {
        check_masks(current, target, definition, supplied)?;
    }
    let mut requests = Vec::new();
    let catalog_changes = canonical(&current.catalog.configured)
        != canonical(&target.catalog.configured)
        || current.catalog.unselected != target.catalog.unselected;
    let state_body = if canonical(&Value::Array(current.state.clone()))
        != canonical(&Value::Array(target.state.clone()))
    {
        let current_type = remote
            .state
            .get("stateType")
            .and_then(Value::as_str)
            .unwrap_or("not_set");
        if let Some(why) =
            mapping::state_type_change_refused(current_type, mapping::state_type(&target.state)?)
        {
            bail!("{why}");
        }
        mapping::state_to_api(id, &target.state, &remote.state)?
    } else {
        None
    };
    let version = version_requests(current, target, definition)?;
    let anything = catalog_changes
        || state_body.is_some()
        || !version.is_empty()
        || config_changes
        || !clears.is_empty();
    let deactivate = anything && current.status == "active";
    if deactivate || catalog_changes {
        let mut body = json!({"connectionId": id});
        let mut what = Vec::new();
        if deactivate {
            body["status"] = "inactive".into();
            what.push("status inactive".to_owned());
        }
        let mut expect = Expect::Nothing;
        if catalog_changes {
            body["syncCatalog"] = mapping::catalog_to_api(&target.catalog)?;
            what.push(format!(
                "the whole catalog ({} selected streams)",
                target.catalog.configured["streams"]
                    .as_array()
                    .map_or(0, Vec::len)
            ));
            // What the server will show for it (aliases derived, defaults added).
            let shown = mapping::catalog_from_api(&mapping::as_shown(&body["syncCatalog"]))?;
            expect = Expect::Catalog(canonical(&shown.configured));
        }
        requests.push(Request {
            endpoint: "connections/update",
            body,
            what: what.join(", "),
            expect,
        });
    }
    if let Some(body) = state_body {
        let sent = body
            .get("streamState")
            .or(body.pointer("/globalState/streamStates"))
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        requests.push(Request {
            endpoint: "state/create_or_update_safe",
            body: json!({"connectionId": id, "connectionState": body}),
            what: format!(
                "{} state ({sent} stream entries sent)",
                mapping::state_type(&target.state)?.unwrap_or("cleared")
            ),
            expect: Expect::State(canonical(&Value::Array(target.state.clone()))),
        });
    }
    requests.extend(version);
    if config_changes {
        requests.push(Request {
            endpoint: "sources/update",
            body: json!({"sourceId": target.source_id, "name": current.source_name, "connectionConfiguration": supplied.fill(id, &target.config)}),
            what: "the source config".into(),
            expect: Expect::Config(canonical(&target.config)),
        });
    }
    if !clears.is_empty() {
        let streams: Vec<Value> = clears
            .iter()
            .map(|s| match &s.namespace {
                Some(ns) => json!({"streamName": s.name, "streamNamespace": ns}),
                None => json!({"streamName": s.name}),
            })
            .collect();
        let names: Vec<String> = clears.iter().map(ToString::to_string).collect();
        requests.push(Request {
            endpoint: CLEAR,
            body: json!({"connectionId": id, "streams": streams}),
            what: format!("clear {}", names.join(", ")),
            expect: Expect::Nothing,
        });
    }
    if target.status == "active" && (deactivate || current.status != "active") {
        requests.push(Request {
            endpoint: "connections/update",
            body: json!({"connectionId": id, "status": "active"}),
            what: "status active".into(),
            expect: Expect::Nothing,
        });
    }
    Ok(requests)
}

/// The requests that give the source the target's version and pin.
fn version_requests(
    current: &Parts,
    target: &Parts,
    definition: &Definition,
) -> Result<Vec<Request>> {
    if !moves_version(current, target) {
        return Ok(Vec::new());
    }
    let source = &target.source_id;
    match &target.version_pin {
        None if target.version == definition.default_version => {
            // Only the platform's pin holds the source back; upgrade_version removes it.
            Ok(vec![Request {
                endpoint: "sources/upgrade_version",
                body: json!({"sourceId": source}),
                what: format!(
                    "version {} → {} (the definition's default; the breaking-change pin removed)",
                    current.version, target.version
                ),
                expect: Expect::Nothing,
            }])
        }
        None => bail!(
            "Airbyte runs an unpinned source at its definition's default version, {}, not {}: move the definition's default to {} first (source_definitions/update), or aim the fleet at {}",
            definition.default_version,
            target.version,
            target.version,
            definition.default_version
        ),
        Some(pin) if pin.version != target.version => bail!(
            "the document pins version {} but names version {}",
            pin.version,
            target.version
        ),
        Some(pin) => {
            let Some(version_id) = &definition.pinned_version_id else {
                bail!(
                    "Airbyte knows no version {} of {}",
                    pin.version,
                    target.connector
                )
            };
            let mut requests = Vec::new();
            if current.version_pin.is_some() {
                let Some(pin_id) = &definition.current_pin_id else {
                    bail!("the source's pin could not be found to replace it")
                };
                requests.push(Request {
                    endpoint: "scoped_configuration/delete",
                    body: json!({"scopedConfigurationId": pin_id}),
                    what: format!("remove the pin at {}", current.version),
                    expect: Expect::Nothing,
                });
            }
            requests.push(Request {
                endpoint: "scoped_configuration/create",
                body: json!({
                    "config_key": "connector_version", "value": version_id,
                    "resource_type": "actor_definition", "resource_id": target.definition_id,
                    "scope_type": "actor", "scope_id": source,
                    "origin_type": "breaking_change", "origin": pin.origin,
                    "description": format!("restored by cutover: held at {} before the breaking change {}", pin.version, pin.origin),
                }),
                what: format!("version {} → {} (the breaking-change pin restored)", current.version, target.version),
                expect: Expect::Nothing,
            });
            Ok(requests)
        }
    }
}

/// A config goes out with masks only where the server will swap its secret back: where the
/// config had one, at a key that is secret in the spec the source runs when it is written.
fn check_masks(
    current: &Parts,
    target: &Parts,
    definition: &Definition,
    supplied: &Supplied,
) -> Result<()> {
    let was = masked(&current.config);
    let sent = masked(&supplied.fill(&target.id, &target.config));
    if let Some(p) = sent.iter().find(|p| !was.contains(p)) {
        bail!(
            "the config would send a masked secret ({MASK}) at {p}, where the source holds none; the server would store the mask itself. Supply its value ([airbyte] secrets)"
        );
    }
    let spec = if moves_version(current, target) && target.version == definition.default_version {
        definition.default_spec.as_ref()
    } else {
        None
    };
    if let Some(spec) = spec {
        for p in &sent {
            if !secret_in_spec(spec, p) {
                bail!(
                    "{p} is masked, and version {} does not declare it a secret (airbyte_secret), so the server would store the mask itself. Supply its value ([airbyte] secrets)",
                    target.version
                );
            }
        }
    }
    Ok(())
}

/// Whether the config field at `pointer` is `airbyte_secret` in `spec`, through nested
/// properties, array items and `oneOf`/`anyOf`/`allOf` branches.
fn secret_in_spec(spec: &Value, pointer: &str) -> bool {
    fn at(schema: &Value, path: &[String]) -> bool {
        let Some((first, rest)) = path.split_first() else {
            return schema.get("airbyte_secret").and_then(Value::as_bool) == Some(true);
        };
        let mut candidates: Vec<&Value> = Vec::new();
        if let Some(p) = schema.get("properties").and_then(|p| p.get(first)) {
            candidates.push(p);
        }
        if first.parse::<usize>().is_ok()
            && let Some(items) = schema.get("items")
        {
            candidates.push(items);
        }
        let branches = ["oneOf", "anyOf", "allOf"].iter().flat_map(|k| {
            schema
                .get(*k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        });
        candidates.iter().any(|c| at(c, rest)) || branches.into_iter().any(|b| at(b, path))
    }
    let path: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    at(spec, &path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::airbyte::document::VersionPin;
    use crate::store::airbyte::mapping::Catalog;

    fn parts(
        version: &str,
        pin: Option<VersionPin>,
        config: Value,
        streams: Value,
        state: Vec<Value>,
    ) -> Parts {
        Parts {
            id: "c".into(),
            name: "n".into(),
            connector: "airbyte/source-x".into(),
            version: version.into(),
            pin: None,
            config,
            catalog: Catalog {
                configured: json!({"streams": streams}),
                unselected: vec![],
            },
            state,
            workspace_id: "w".into(),
            source_id: "s".into(),
            source_name: "x".into(),
            definition_id: "d".into(),
            status: "active".into(),
            version_pin: pin,
        }
    }

    fn stream(name: &str, mode: &str) -> Value {
        json!({"stream": {"name": name, "json_schema": {}}, "sync_mode": mode, "destination_sync_mode": "append"})
    }

    fn state(name: &str, v: i64) -> Value {
        json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": name}, "stream_state": {"v": v}}})
    }

    fn remote(p: &Parts) -> Remote {
        let streams: Vec<Value> = p.state.iter().map(|m| json!({"streamDescriptor": m["stream"]["stream_descriptor"], "streamState": m["stream"]["stream_state"]})).collect();
        Remote {
            connection: json!({}),
            source: json!({}),
            version: json!({}),
            state: json!({"connectionId": "c", "stateType": "stream", "streamState": streams}),
            pin: None,
        }
    }

    fn definition() -> Definition {
        Definition {
            default_version: "2.0.0".into(),
            default_spec: Some(
                json!({"properties": {"token": {"type": "string", "airbyte_secret": true}, "start": {"type": "string"}}}),
            ),
            pinned_version_id: Some("v1".into()),
            current_pin_id: Some("pin".into()),
        }
    }

    #[test]
    fn a_migration_goes_in_the_servers_order() {
        let pin = Some(VersionPin {
            origin: "2.0.0".into(),
            version: "1.3.3".into(),
        });
        let current = parts(
            "1.3.3",
            pin,
            json!({"token": MASK, "start": "a"}),
            json!([stream("a", "incremental")]),
            vec![state("a", 1)],
        );
        let target = parts(
            "2.0.0",
            None,
            json!({"token": MASK, "start": "b"}),
            json!([stream("a", "incremental"), stream("b", "full_refresh")]),
            vec![state("a", 2)],
        );
        let clears = [StreamDescriptor {
            name: "a".into(),
            namespace: None,
        }];
        let requests = plan(
            &remote(&current),
            &current,
            &target,
            &clears,
            &definition(),
            &Supplied::default(),
        )
        .unwrap();
        let order: Vec<&str> = requests.iter().map(|r| r.endpoint).collect();
        assert_eq!(
            order,
            [
                "connections/update",
                "state/create_or_update_safe",
                "sources/upgrade_version",
                "sources/update",
                "connections/clear/stream",
                "connections/update"
            ]
        );
        assert_eq!(requests[0].body["status"], "inactive");
        assert!(requests[0].body.get("syncCatalog").is_some());
        assert_eq!(requests[5].body["status"], "active");
        // Done already: nothing to send.
        assert!(
            plan(
                &remote(&target),
                &target,
                &target,
                &[],
                &definition(),
                &Supplied::default()
            )
            .unwrap()
            .is_empty()
        );
    }

    #[test]
    fn going_back_restores_the_pin_and_skips_what_is_unchanged() {
        let pin = Some(VersionPin {
            origin: "2.0.0".into(),
            version: "1.3.3".into(),
        });
        let now = parts(
            "2.0.0",
            None,
            json!({"token": MASK}),
            json!([stream("a", "incremental")]),
            vec![state("a", 2)],
        );
        let back = parts(
            "1.3.3",
            pin,
            json!({"token": MASK}),
            json!([stream("a", "incremental")]),
            vec![state("a", 1)],
        );
        let requests = plan(
            &remote(&now),
            &now,
            &back,
            &[],
            &definition(),
            &Supplied::default(),
        )
        .unwrap();
        let order: Vec<&str> = requests.iter().map(|r| r.endpoint).collect();
        assert_eq!(
            order,
            [
                "connections/update",
                "state/create_or_update_safe",
                "scoped_configuration/create",
                "connections/update"
            ]
        );
        assert_eq!(requests[2].body["value"], "v1");
        assert_eq!(requests[2].body["origin_type"], "breaking_change");
    }

    #[test]
    fn refusals_come_before_any_request() {
        let current = parts("1.3.3", None, json!({"token": MASK}), json!([]), vec![]);
        let not_default = parts("1.9.0", None, json!({"token": MASK}), json!([]), vec![]);
        assert!(
            format!(
                "{:#}",
                plan(
                    &remote(&current),
                    &current,
                    &not_default,
                    &[],
                    &definition(),
                    &Supplied::default()
                )
                .unwrap_err()
            )
            .contains("default version")
        );
        let pin = Some(VersionPin {
            origin: "2.0.0".into(),
            version: "1.3.3".into(),
        });
        let current = parts(
            "1.3.3",
            pin,
            json!({"token": MASK, "start": MASK}),
            json!([]),
            vec![],
        );
        let target = parts(
            "2.0.0",
            None,
            json!({"token": MASK, "start": MASK, "x": 1}),
            json!([]),
            vec![],
        );
        let err = format!(
            "{:#}",
            plan(
                &remote(&current),
                &current,
                &target,
                &[],
                &definition(),
                &Supplied::default()
            )
            .unwrap_err()
        );
        assert!(
            err.contains("/start") && err.contains("airbyte_secret"),
            "{err}"
        );
        let moved = parts(
            "2.0.0",
            None,
            json!({"credentials": {"token": MASK}}),
            json!([]),
            vec![],
        );
        assert!(
            format!(
                "{:#}",
                plan(
                    &remote(&current),
                    &current,
                    &moved,
                    &[],
                    &definition(),
                    &Supplied::default()
                )
                .unwrap_err()
            )
            .contains("where the source holds none")
        );
    }

    #[test]
    fn finds_secrets_in_specs() {
        let spec = json!({"properties": {"credentials": {"oneOf": [{"properties": {"refresh_token": {"airbyte_secret": true}}}]}, "keys": {"items": {"airbyte_secret": true}}}});
        assert!(secret_in_spec(&spec, "/credentials/refresh_token"));
        assert!(secret_in_spec(&spec, "/keys/0"));
        assert!(!secret_in_spec(&spec, "/credentials/client_id"));
    }
}
