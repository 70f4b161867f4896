//! Planning one Airbyte connection: its target, pin and chain by the policy, the
//! preconditions of each step's plugin, and its three documents (config, configured catalog,
//! state) through the chain runner, each plugin's output checked against the rules of a
//! catalog and state, the target version's real catalog and its spec.

use super::chain::{Called, Feed, Planner, Stop, step_error, unrun};
use super::types::{Changes, ConnectionPlan, PlanBuilder, Status};
use crate::conformance;
use crate::connection::Connection;
use crate::fleet::Entry;
use crate::migration::Input;
use crate::policy::{self, Step};
use crate::redact::Secrets;
use crate::registry::Plugin;
use semver::Version;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::BTreeSet;

impl Planner<'_> {
    /// Plans one Airbyte connection, learning its secrets as the chain runs.
    pub(super) fn plan_airbyte(
        &self,
        entry: &Entry,
        connection: &Connection,
        secrets: &mut Secrets,
    ) -> ConnectionPlan {
        let mut plan = PlanBuilder::new(&entry.key, entry.sha256.clone())
            .id(connection.id.clone())
            .named(connection.name.clone(), connection.connector.clone());
        plan.from = Some(connection.version.clone());

        let plugins = self.registry.for_connector(&connection.connector);
        let target = match self
            .options
            .targets
            .get(&connection.connector)
            .or(self.fleet.settings.target(&connection.connector))
        {
            Some(t) => t.clone(),
            None if plugins.is_empty() => {
                return plan.stop(
                    Status::Blocked,
                    format!(
                        "unknown connector {:?}: the fleet sets no target for it and no plugin migrates it; add [connectors.\"{}\"] target = \"X.Y.Z\" to cutover.toml",
                        connection.connector, connection.connector
                    ),
                );
            }
            // With plugins but no explicit target, aim at the newest version a plugin produces.
            None => plugins
                .iter()
                .map(|p| p.produces.clone())
                .max()
                .expect("plugins is not empty"),
        };
        plan.to = Some(target.clone());

        if let Some(pin) = &connection.pin {
            let reason = match &pin.reason {
                Some(r) => format!("pinned by {} at {}: {r}", pin.origin, connection.version),
                None => format!("pinned by {} at {}", pin.origin, connection.version),
            };
            return plan.stop(Status::Pinned, reason);
        }
        if connection.version >= target {
            let reason = (connection.version > target)
                .then(|| format!("already past the fleet's target {target}"));
            return plan.build(Status::UpToDate, reason);
        }
        let steps = match policy::chain(
            &connection.connector,
            &connection.version,
            &target,
            &plugins,
        ) {
            Ok(s) => s,
            Err(e) => return plan.stop(Status::Blocked, e.to_string()),
        };
        if let Err(reason) = self.check_preconditions(&steps, &plugins) {
            return plan.stop(Status::Blocked, reason);
        }
        let breaking = steps.iter().any(|s| matches!(s, Step::Plugin { .. }));
        if self.run_plugins {
            let specs = self.fleet.specs();
            secrets.learn_names(specs.secret_names(&connection.connector, &connection.version));
            for step in &steps {
                secrets.learn_names(specs.secret_names(&connection.connector, step.to()));
            }
            secrets.learn_config(connection.config());
            let mut feed = Airbyte {
                connection,
                streams: connection.stream_names().into_iter().collect(),
                documents: Documents::of(connection),
                secrets,
            };
            if let Err((status, reason)) = self.run_steps(&mut feed, steps, plugins, &mut plan) {
                return plan.stop(status, reason);
            }
        } else {
            plan.steps = unrun(&steps, &plugins);
        }
        let (status, reason) = self.decide(&connection.id, breaking);
        let mut plan = plan.build(status, reason);
        self.as_written(entry, &mut plan);
        plan
    }

    fn check_preconditions(&self, steps: &[Step], plugins: &[&Plugin]) -> Result<(), String> {
        for step in steps {
            let Step::Plugin { plugin, .. } = step else {
                continue;
            };
            let plugin = plugins[*plugin];
            for p in &plugin.manifest.preconditions {
                let req = semver::VersionReq::parse(&p.requirement).map_err(|e| e.to_string())?;
                match self.fleet.settings.platform.get(&p.subject) {
                    Some(v) if req.matches(v) => {}
                    Some(v) => {
                        return Err(format!(
                            "precondition of {}: {} {} is required, the fleet has {v}; upgrade it first, then set [platform] {} = \"…\" in cutover.toml",
                            plugin.file, p.subject, p.requirement, p.subject
                        ));
                    }
                    None => {
                        return Err(format!(
                            "precondition of {}: {} {} is required, and cutover.toml does not say which {} the fleet runs; set [platform] {} = \"X.Y.Z\"",
                            plugin.file, p.subject, p.requirement, p.subject, p.subject
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// An Airbyte connection's documents through a chain, and the secrets they show.
struct Airbyte<'c, 's> {
    connection: &'c Connection,
    streams: BTreeSet<&'c str>,
    documents: Documents<'c>,
    secrets: &'s mut Secrets,
}

impl Airbyte<'_, '_> {
    /// The config against the spec of version `to` (when the fleet holds it).
    fn conforms(&self, planner: &Planner, from: &Version, to: &Version) -> Result<(), Stop> {
        planner
            .fleet
            .specs()
            .check(&self.connection.connector, to, &self.documents.config)
            .map_err(|e| (Status::Failed, format!("step {from} → {to}: {e}")))
    }
}

impl<'p> Feed<'p> for Airbyte<'_, '_> {
    fn sha256(&self) -> String {
        self.documents.sha256()
    }

    fn automatic(
        &mut self,
        planner: &Planner<'p>,
        from: &Version,
        to: &Version,
    ) -> Result<(), Stop> {
        self.conforms(planner, from, to)
    }

    fn call(
        &mut self,
        planner: &Planner<'p>,
        plugin: &Plugin,
        from: &Version,
        to: &Version,
    ) -> Result<Called, Stop> {
        let failed = |e: String| (Status::Failed, e);
        let code = plugin
            .code(planner.sandbox)
            .map_err(|e| failed(step_error(from, to, plugin, format!("{e:#}"))))?;
        let input = self.documents.take_input(self.connection, from);
        let call = planner.sandbox.migrate(code, &input).map_err(|e| {
            // A plugin that needs what only the operator can give plans as such.
            let status = if matches!(
                e,
                crate::sandbox::SandboxError::Refused(
                    crate::migration::MigrationError::NeedsOperator(_)
                )
            ) {
                Status::NeedsOperator
            } else {
                Status::Failed
            };
            (status, step_error(from, to, plugin, e))
        })?;
        let (c, k, st) = read_outcome(&call.value)
            .map_err(|e| failed(step_error(from, to, plugin, format!("returned {e}"))))?;
        self.secrets.learn_config(&c);
        let m = &plugin.manifest;
        let target = planner
            .fleet
            .catalogs()
            .get(&self.connection.connector, to)
            .map_err(failed)?;
        let before = conformance::Documents {
            catalog: &self.documents.catalog,
            state: &self.documents.state,
        };
        let problems = conformance::problems(
            &before,
            &conformance::Documents {
                catalog: &k,
                state: &st,
            },
            target.as_deref(),
        );
        if !problems.is_empty() {
            return Err(failed(step_error(
                from,
                to,
                plugin,
                format!("its output is not believed: {}", problems.join("; ")),
            )));
        }
        let unlisted_changes = target
            .map(|t| conformance::unlisted_changes(&self.documents.catalog, &t, &m.scoped_streams))
            .unwrap_or_default();
        self.documents = Documents::new(c, k, st);
        self.conforms(planner, from, to)?;
        let affected = m.scoped_streams.is_empty()
            || m.scoped_streams
                .iter()
                .any(|s| self.streams.contains(s.as_str()));
        Ok(Called {
            log: call.log,
            log_dropped: call.log_dropped,
            actions: call.value.actions,
            notes: call.value.notes,
            affected,
            unlisted_changes,
        })
    }

    fn finish(&mut self, plan: &mut PlanBuilder, last: Option<&Version>) -> Vec<u8> {
        let Documents {
            config,
            catalog,
            state,
            ..
        } = &self.documents;
        plan.changes = Changes::between(self.connection, config, catalog, state);
        drop_clears_of_removed_streams(plan, catalog);
        let to = last.unwrap_or(&self.connection.version);
        // A valid document, so the next run can read it: the connection's own fields are
        // unchanged and `read_outcome` checked the three documents' shapes.
        let output = self.connection.migrated_bytes(to, config, catalog, state);
        debug_assert!(
            Connection::parse(&output).is_ok(),
            "a migrated document must parse"
        );
        output
    }
}

/// A clear asked for by one step of a chain for a stream a later step removed (split away,
/// or dropped by the new version) clears nothing the connection still syncs: the operator
/// would be sent to clear a stream that is gone. Such clears leave the plan with a note.
fn drop_clears_of_removed_streams(plan: &mut PlanBuilder, catalog: &Value) {
    let synced: BTreeSet<(Option<&str>, &str)> = catalog["streams"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let stream = &s["stream"];
            Some((stream["namespace"].as_str(), stream["name"].as_str()?))
        })
        .collect();
    let mut gone = Vec::new();
    plan.actions.retain(|action| match action {
        crate::migration::Action::ClearStream { stream, .. }
            if !synced.contains(&(stream.namespace.as_deref(), stream.name.as_str())) =>
        {
            gone.push(stream.name.clone());
            false
        }
        _ => true,
    });
    if !gone.is_empty() {
        plan.notes.push(format!(
            "not cleared: {} (a step asked for a clear, a later step removed the stream from \
             the catalog)",
            gone.join(", ")
        ));
    }
}

/// Reads what a plugin returned: three JSON documents with the outer shapes every version
/// of every connector shares. Anything else is the plugin's error, described for the plan.
pub fn read_outcome(outcome: &crate::migration::Outcome) -> Result<(Value, Value, Value), String> {
    let parse = |what: &str, text: &str| -> Result<Value, String> {
        serde_json::from_str(text).map_err(|e| format!("{what} that is not valid JSON: {e}"))
    };
    let config = parse("config", &outcome.config)?;
    let catalog = parse("catalog", &outcome.catalog)?;
    let state = parse("state", &outcome.state)?;
    check_shapes(&config, &catalog, &state)?;
    Ok((config, catalog, state))
}

/// The outer shapes every version of every connector shares.
fn check_shapes(config: &Value, catalog: &Value, state: &Value) -> Result<(), String> {
    if !config.is_object() {
        return Err("a config that is not a JSON object".into());
    }
    if !catalog.get("streams").is_some_and(Value::is_array) {
        return Err("a catalog without a \"streams\" array".into());
    }
    if !state.is_array() {
        return Err("a state that is not an array of state messages".into());
    }
    Ok(())
}

/// A connection's three documents as they go from step to step of a chain: parsed (for
/// spec checks and the plan's diffs) and as the compact JSON a plugin receives, made once
/// per step and used for both the step's hash and the next plugin's input.
struct Documents<'a> {
    config: Cow<'a, Value>,
    catalog: Cow<'a, Value>,
    state: Cow<'a, Value>,
    text: [String; 3],
}

impl<'a> Documents<'a> {
    /// The documents of a connection as it is, borrowed from it.
    fn of(connection: &'a Connection) -> Self {
        Self::with(
            Cow::Borrowed(connection.config()),
            Cow::Borrowed(connection.catalog()),
            connection.state_ref(),
        )
    }

    /// The documents a step returned.
    fn new(config: Value, catalog: Value, state: Value) -> Self {
        Self::with(Cow::Owned(config), Cow::Owned(catalog), Cow::Owned(state))
    }

    fn with(config: Cow<'a, Value>, catalog: Cow<'a, Value>, state: Cow<'a, Value>) -> Self {
        let text = [config.to_string(), catalog.to_string(), state.to_string()];
        Self {
            config,
            catalog,
            state,
            text,
        }
    }

    /// One hash over the three documents, for the ledger's per-step records: the sha256 of
    /// `[config,catalog,state]` as compact JSON.
    fn sha256(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(b"[");
        for (i, text) in self.text.iter().enumerate() {
            if i > 0 {
                hash.update(b",");
            }
            hash.update(text.as_bytes());
        }
        hash.update(b"]");
        hex::encode(hash.finalize())
    }

    /// A plugin's input for the step from `version`, made of the text without copying it
    /// (the step's output replaces these documents; until then the parsed documents stay,
    /// for the checks of the step's output).
    fn take_input(&mut self, connection: &Connection, version: &Version) -> Input {
        let [config, catalog, state] = std::mem::take(&mut self.text);
        Input {
            id: connection.id.clone(),
            connector: connection.connector.clone(),
            version: version.to_string(),
            config,
            catalog,
            state: state.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ground::sha256_hex;

    /// Step hashes in ledgers written before keep their meaning: the sha256 of the three
    /// documents serialized together as one compact JSON array.
    #[test]
    fn a_step_hash_is_that_of_the_documents_as_one_array() {
        let (config, catalog, state) = (
            serde_json::json!({"a": [1, "é"]}),
            serde_json::json!({"streams": []}),
            serde_json::json!([]),
        );
        let expected = sha256_hex(
            serde_json::to_string(&(&config, &catalog, &state))
                .unwrap()
                .as_bytes(),
        );
        assert_eq!(Documents::new(config, catalog, state).sha256(), expected);
    }
}
