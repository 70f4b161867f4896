//! Planning one Elastic connector: its version (declared or from the ledger), its data
//! source's chain to the target, the stack each step needs, its pending sync jobs, and the
//! chain run in the sandbox, one document in and one out per step.

use super::chain;
use super::connector::Connector;
use super::jobs;
use super::stack;
use super::versions::Known;
use crate::fleet::Entry;
use crate::ground::sha256_hex;
use crate::migration::ConnectorInput;
use crate::plan::{
    Called, Changes, ConnectionPlan, Feed, PlanBuilder, Planner, Status, Stop, step_error, unrun,
};
use crate::policy::Step;
use crate::registry::Plugin;
use semver::Version;
use serde_json::{Map, Value};

/// The plugins that migrate `service_type`: its own and those for every data source.
fn candidates<'a>(planner: &Planner<'a>, service_type: &str) -> Vec<&'a Plugin> {
    let mut plugins = planner
        .registry
        .for_connector(&super::connector_name(service_type));
    plugins.extend(planner.registry.for_connector(super::EVERY_SOURCE));
    plugins
}

/// The fleet's target for a connector: `--target` for its data source or for all, else
/// `[elastic] target`, else the newest version an Elastic plugin produces.
fn target(planner: &Planner, connector: &Connector) -> Option<Version> {
    let targets = &planner.options.targets;
    targets
        .get(&connector.connector())
        .or_else(|| targets.get(super::EVERY_SOURCE))
        .or(planner.fleet.settings.elastic.target.as_ref())
        .cloned()
        .or_else(|| {
            candidates(planner, &connector.service_type)
                .iter()
                .map(|p| p.produces.clone())
                .max()
        })
}

/// Plans one Elastic connector document.
pub fn plan(planner: &Planner, entry: &Entry, connector: &Connector) -> ConnectionPlan {
    let fleet = planner.fleet;
    let mut plan = PlanBuilder::new(&entry.key, entry.sha256.clone())
        .id(connector.id.clone())
        .named(connector.name.clone(), connector.connector());
    let label = format!(
        "{}: connector {} ({})",
        fleet.display_key(&entry.key),
        connector.id,
        connector.service_type
    );

    let (version, known) = match fleet.elastic_versions().and_then(|v| v.of(&entry.key)) {
        Ok(v) => v,
        Err(e) => return plan.stop(Status::Blocked, format!("{label}: {e}")),
    };
    plan.from = Some(version.clone());
    let specs = fleet.elastic_specs();
    if let Err(e) = specs.check_service_type(&connector.service_type, &version) {
        return plan.stop(Status::Invalid, format!("{label}: {e}"));
    }
    if let Err(e) = specs.check_values(&connector.service_type, &version, connector.configuration())
    {
        return plan.stop(
            Status::Invalid,
            format!("{label}: {e} (in {version}'s default configuration)"),
        );
    }
    let Some(target) = target(planner, connector) else {
        return plan.stop(
            Status::Blocked,
            format!("{label}: no target version; set [elastic] target = \"X.Y.Z\" in cutover.toml"),
        );
    };
    plan.to = Some(target.clone());
    if let Some(reason) = fleet.settings.elastic.pins.get(&connector.id) {
        return plan.stop(
            Status::Pinned,
            format!("pinned in cutover.toml at {version}: {reason}"),
        );
    }
    if version >= target {
        let reason = match known {
            Known::Ledger { run } => Some(format!("migrated to {version} by run {run}")),
            Known::Declared if version > target => {
                Some(format!("already past the fleet's target {target}"))
            }
            Known::Declared => None,
        };
        return plan.build(Status::UpToDate, reason);
    }
    let jobs_note = match jobs::plan_note(&connector.jobs) {
        Ok(note) => note,
        Err(e) => return plan.stop(Status::Blocked, format!("{label}: {e}")),
    };
    let plugins = candidates(planner, &connector.service_type);
    let steps = match chain::chain(&connector.connector(), &version, &target, &plugins) {
        Ok(steps) => steps,
        Err(e) => return plan.stop(Status::Blocked, e.to_string()),
    };
    if let Err(e) = check_stack(planner, &steps, &plugins) {
        return plan.stop(Status::Blocked, format!("{label}: {e}"));
    }
    if !planner.run_plugins {
        plan.steps = unrun(&steps, &plugins);
        let breaking = steps.iter().any(|s| matches!(s, Step::Plugin { .. }));
        let (status, reason) = planner.decide(&connector.id, breaking);
        return plan.build(status, reason);
    }
    let original = connector.plugin_document();
    let mut feed = Elastic {
        connector,
        text: serde_json::to_string(&original).expect("a JSON object serializes"),
        document: original.clone(),
        original,
        service_type: connector.service_type.clone(),
        changed_to: None,
        target,
    };
    if let Err((status, reason)) = planner.run_steps(&mut feed, steps, plugins, &mut plan) {
        return plan.stop(status, reason);
    }
    if let Some(note) = jobs_note {
        plan.notes.push(note);
    }
    let breaking = plan.steps.iter().any(|s| s.plugin.is_some());
    let (status, reason) = planner.decide(&connector.id, breaking);
    let mut plan = plan.build(status, reason);
    planner.as_written(entry, &mut plan);
    plan
}

fn check_stack(planner: &Planner, steps: &[Step], plugins: &[&Plugin]) -> Result<(), String> {
    let settings = &planner.fleet.settings;
    let each = steps.iter().filter_map(|s| match s {
        Step::Plugin { from, to, plugin } => {
            let p = plugins[*plugin];
            Some((
                format!("step {from} → {to} ({})", p.file),
                p.manifest.preconditions.as_slice(),
            ))
        }
        Step::Automatic { .. } => None,
    });
    stack::check(&settings.elastic.stack, &settings.platform, each)
}

/// A connector document through a chain: one document in and one out per step. A step
/// that changes the service type hands the rest of the chain to the new type's plugins,
/// checked against the stack in turn.
struct Elastic<'c> {
    connector: &'c Connector,
    /// The document as it was, and as the last step left it (also as the text the next
    /// plugin receives).
    original: Map<String, Value>,
    document: Map<String, Value>,
    text: String,
    service_type: String,
    /// The service type the last step changed the connector to, if it did.
    changed_to: Option<String>,
    target: Version,
}

impl<'p> Feed<'p> for Elastic<'_> {
    fn sha256(&self) -> String {
        sha256_hex(self.text.as_bytes())
    }

    fn automatic(
        &mut self,
        _planner: &Planner<'p>,
        _from: &Version,
        _to: &Version,
    ) -> Result<(), Stop> {
        Ok(())
    }

    fn call(
        &mut self,
        planner: &Planner<'p>,
        p: &Plugin,
        from: &Version,
        to: &Version,
    ) -> Result<Called, Stop> {
        let failed = |e: String| (Status::Failed, step_error(from, to, p, e));
        let input = ConnectorInput {
            id: self.connector.id.clone(),
            version: from.to_string(),
            document: self.text.clone(),
        };
        let code = p
            .code(planner.sandbox)
            .map_err(|e| failed(format!("{e:#}")))?;
        let call = planner
            .sandbox
            .migrate_connector(code, &input)
            .map_err(|e| failed(e.to_string()))?;
        let migrated = read_document(&call.value.document, &self.connector.id)
            .map_err(|e| failed(format!("returned {e}")))?;
        let new_type = migrated["service_type"]
            .as_str()
            .expect("checked by read_document")
            .to_owned();
        let config = migrated["configuration"]
            .as_object()
            .expect("checked by read_document");
        // A data source's own plugin gives exactly its version's fields. One for every data
        // source carries no data source's defaults: fields its version adds are left to the
        // connectors service, which adds missing fields when it starts; none may be left over.
        let exact = p.manifest.connector != super::EVERY_SOURCE;
        planner
            .fleet
            .elastic_specs()
            .check_output(&new_type, to, config, exact)
            .map_err(failed)?;
        self.document = migrated;
        self.text = serde_json::to_string(&self.document).expect("a JSON object serializes");
        self.changed_to = (new_type != self.service_type).then_some(new_type);
        Ok(Called {
            log: call.log,
            log_dropped: call.log_dropped,
            actions: call.value.actions,
            notes: call.value.notes,
            affected: true,
            // An Elastic connector has no streams; its plugins are checked against the data
            // sources' default configurations instead.
            unlisted_changes: Vec::new(),
        })
    }

    fn follow(
        &mut self,
        planner: &Planner<'p>,
        to: &Version,
    ) -> Result<Option<(Vec<Step>, Vec<&'p Plugin>)>, Stop> {
        let Some(service_type) = self.changed_to.take() else {
            return Ok(None);
        };
        // The rest of the chain belongs to the new data source's plugins.
        self.service_type = service_type;
        let plugins = candidates(planner, &self.service_type);
        let rest = chain::chain(
            &super::connector_name(&self.service_type),
            to,
            &self.target,
            &plugins,
        )
        .map_err(|e| (Status::Blocked, e.to_string()))?;
        check_stack(planner, &rest, &plugins).map_err(|e| {
            (
                Status::Blocked,
                format!(
                    "connector {} (now {}): {e}",
                    self.connector.id, self.service_type
                ),
            )
        })?;
        Ok(Some((rest, plugins)))
    }

    fn finish(&mut self, plan: &mut PlanBuilder, _last: Option<&Version>) -> Vec<u8> {
        plan.connector = Some(super::connector_name(&self.service_type));
        let diff = json_patch::diff(
            &Value::Object(self.original.clone()),
            &Value::Object(self.document.clone()),
        );
        plan.changes = Changes {
            document: super::redact::patch(diff, &self.original, &self.document),
            ..Changes::default()
        };
        self.connector.migrated_bytes(&self.document)
    }
}

/// Reads the document a plugin returned: a connector document with the same id, a service
/// type and a configuration of fields of known types.
pub fn read_document(text: &str, id: &str) -> Result<Map<String, Value>, String> {
    let doc: Value = serde_json::from_str(text)
        .map_err(|e| format!("a document that is not valid JSON: {e}"))?;
    let Value::Object(doc) = doc else {
        return Err("a document that is not a JSON object".into());
    };
    if doc.get("id").and_then(Value::as_str) != Some(id) {
        return Err(format!(
            "a document whose id is not {id:?}: a migration never changes a connector's id"
        ));
    }
    let checked = Connector::from_json(doc.clone())
        .map_err(|e| format!("an invalid connector document: {e:#}"))?;
    if !checked.jobs.is_empty() {
        return Err("a document listing sync jobs: the host deals with them".into());
    }
    Ok(doc)
}
