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
use crate::plan::{Breaking, Changes, ConnectionPlan, Planner, PluginRef, Status, StepPlan};
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
    let mut plan = ConnectionPlan::invalid(&entry.key, entry.sha256.clone(), String::new());
    plan.reason = None;
    plan.id = connector.id.clone();
    plan.name = connector.name.clone();
    plan.connector = Some(connector.connector());
    let stop = |mut plan: ConnectionPlan, status: Status, reason: String| {
        plan.status = status;
        plan.reason = Some(reason);
        plan
    };
    let label = format!(
        "{}: connector {} ({})",
        fleet.display_key(&entry.key),
        connector.id,
        connector.service_type
    );

    let (version, known) = match fleet.elastic_versions().and_then(|v| v.of(&entry.key)) {
        Ok(v) => v,
        Err(e) => return stop(plan, Status::Blocked, format!("{label}: {e}")),
    };
    plan.from = Some(version.clone());
    let specs = fleet.elastic_specs();
    if let Err(e) = specs.check_service_type(&connector.service_type, &version) {
        return stop(plan, Status::Invalid, format!("{label}: {e}"));
    }
    if let Err(e) = specs.check_values(&connector.service_type, &version, connector.configuration())
    {
        return stop(
            plan,
            Status::Invalid,
            format!("{label}: {e} (in {version}'s default configuration)"),
        );
    }
    let Some(target) = target(planner, connector) else {
        return stop(
            plan,
            Status::Blocked,
            format!("{label}: no target version; set [elastic] target = \"X.Y.Z\" in cutover.toml"),
        );
    };
    plan.to = Some(target.clone());
    if let Some(reason) = fleet.settings.elastic.pins.get(&connector.id) {
        return stop(
            plan,
            Status::Pinned,
            format!("pinned in cutover.toml at {version}: {reason}"),
        );
    }
    if version >= target {
        plan.status = Status::UpToDate;
        plan.reason = match known {
            Known::Ledger { run } => Some(format!("migrated to {version} by run {run}")),
            Known::Declared if version > target => {
                Some(format!("already past the fleet's target {target}"))
            }
            Known::Declared => None,
        };
        return plan;
    }
    let jobs_note = match jobs::plan_note(&connector.jobs) {
        Ok(note) => note,
        Err(e) => return stop(plan, Status::Blocked, format!("{label}: {e}")),
    };
    let plugins = candidates(planner, &connector.service_type);
    let steps = match chain::chain(&connector.connector(), &version, &target, &plugins) {
        Ok(steps) => steps,
        Err(e) => return stop(plan, Status::Blocked, e.to_string()),
    };
    if let Err(e) = check_stack(planner, &steps, &plugins) {
        return stop(plan, Status::Blocked, format!("{label}: {e}"));
    }
    if !planner.run_plugins {
        plan.steps = steps
            .iter()
            .map(|s| step_plan(s, &plugins, String::new(), String::new(), None))
            .collect();
        plan.status = status(
            planner,
            connector,
            steps.iter().any(|s| matches!(s, Step::Plugin { .. })),
            &mut plan,
        );
        return plan;
    }
    match run_chain(planner, connector, steps, plugins, &mut plan) {
        Ok(()) => {}
        Err((status, reason)) => {
            plan.output = None;
            plan.output_sha256 = None;
            return stop(plan, status, reason);
        }
    }
    if let Some(note) = jobs_note {
        plan.notes.push(note);
    }
    let breaking = plan.steps.iter().any(|s| s.plugin.is_some());
    plan.status = status(planner, connector, breaking, &mut plan);
    plan
}

/// Migrate, upgrade or wait for the opt-in.
fn status(
    planner: &Planner,
    connector: &Connector,
    breaking: bool,
    plan: &mut ConnectionPlan,
) -> Status {
    if !breaking {
        Status::Upgrade
    } else if planner.options.all || planner.options.opt_in.contains(&connector.id) {
        Status::Migrate
    } else {
        plan.reason = Some(format!(
            "breaking upgrade: opt in with --opt-in {} (or --all) to apply it",
            connector.id
        ));
        Status::NeedsOptIn
    }
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

fn step_plan(
    step: &Step,
    plugins: &[&Plugin],
    input_sha256: String,
    output_sha256: String,
    breaking: Option<Breaking>,
) -> StepPlan {
    StepPlan {
        from: step.from().clone(),
        to: step.to().clone(),
        plugin: match step {
            Step::Plugin { plugin, .. } => Some(PluginRef::from(plugins[*plugin])),
            Step::Automatic { .. } => None,
        },
        breaking,
        input_sha256,
        output_sha256,
        log: Vec::new(),
        log_dropped: 0,
    }
}

/// Runs the chain on the document, step by step. A step that changes the service type
/// hands the rest of the chain to the new type's plugins, checked against the stack in
/// turn. Fills in steps, changes, actions, notes and the output document.
fn run_chain<'a>(
    planner: &Planner<'a>,
    connector: &Connector,
    mut steps: Vec<Step>,
    mut plugins: Vec<&'a Plugin>,
    plan: &mut ConnectionPlan,
) -> Result<(), (Status, String)> {
    let fleet = planner.fleet;
    let specs = fleet.elastic_specs();
    let target = plan
        .to
        .clone()
        .expect("a target is set before the chain runs");
    let original = connector.plugin_document();
    let mut document = original.clone();
    let mut text = serde_json::to_string(&document).expect("a JSON object serializes");
    let mut service_type = connector.service_type.clone();
    let mut next = 0;
    while next < steps.len() {
        let step = steps[next].clone();
        next += 1;
        let input_sha256 = sha256_hex(text.as_bytes());
        let (from, to) = (step.from().clone(), step.to().clone());
        let Step::Plugin { plugin, .. } = step else {
            plan.steps.push(step_plan(
                &step,
                &plugins,
                input_sha256.clone(),
                input_sha256,
                None,
            ));
            continue;
        };
        let p = plugins[plugin];
        let failed = |e: String| {
            (
                Status::Failed,
                format!("step {from} → {to}, plugin {}: {e}", p.label()),
            )
        };
        let input = ConnectorInput {
            id: connector.id.clone(),
            version: from.to_string(),
            document: text.clone(),
        };
        let call = planner
            .sandbox
            .migrate_connector(&p.loaded, &input)
            .map_err(|e| failed(e.to_string()))?;
        let migrated = read_document(&call.value.document, &connector.id)
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
        specs
            .check_output(&new_type, &to, config, exact)
            .map_err(failed)?;
        document = migrated;
        text = serde_json::to_string(&document).expect("a JSON object serializes");
        let m = &p.manifest;
        plan.steps.push(StepPlan {
            log: call.log,
            log_dropped: call.log_dropped,
            ..step_plan(
                &step,
                &plugins,
                input_sha256,
                sha256_hex(text.as_bytes()),
                Some(Breaking {
                    message: m.message.clone(),
                    upgrade_deadline: m.upgrade_deadline.clone(),
                    deadline_action: m.deadline_action,
                    documentation_url: m.documentation_url.clone(),
                    scoped_streams: m.scoped_streams.clone(),
                    affected: true,
                    // An Elastic connector has no streams; its plugins are checked against
                    // the data sources' default configurations instead.
                    unlisted_changes: Vec::new(),
                }),
            )
        });
        for a in call.value.actions {
            if !plan.actions.contains(&a) {
                plan.actions.push(a);
            }
        }
        plan.notes
            .extend(call.value.notes.into_iter().map(|n| format!("{to}: {n}")));
        if new_type != service_type {
            // The rest of the chain belongs to the new data source's plugins.
            service_type = new_type;
            plugins = candidates(planner, &service_type);
            let rest = chain::chain(
                &super::connector_name(&service_type),
                &to,
                &target,
                &plugins,
            )
            .map_err(|e| (Status::Blocked, e.to_string()))?;
            check_stack(planner, &rest, &plugins).map_err(|e| {
                (
                    Status::Blocked,
                    format!("connector {} (now {service_type}): {e}", connector.id),
                )
            })?;
            steps.truncate(next);
            steps.extend(rest);
        }
    }
    plan.connector = Some(super::connector_name(&service_type));
    let diff = json_patch::diff(
        &Value::Object(original.clone()),
        &Value::Object(document.clone()),
    );
    plan.changes = Changes {
        document: super::redact::patch(diff, &original, &document),
        ..Changes::default()
    };
    let output = connector.migrated_bytes(&document);
    plan.output_sha256 = Some(sha256_hex(&output));
    plan.output = Some(output);
    Ok(())
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
