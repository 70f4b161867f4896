//! The endpoints of the double's Configuration API: what each does to the [`Model`] and
//! answers, following the server's handlers (`SourceHandler`, `ConnectionsHandler`,
//! `StateApiController`, `ActorDefinitionVersionUpdater`, `SchedulerHandler`).

use super::catalog;
use super::model::{Definition, Job, Model, Pin, Source};
use super::secrets;
use super::state::Descriptor;
use serde_json::{Value, json};

/// A status and a body (`None`: no body).
pub type Answer = (u16, Option<Value>);

fn not_found(what: &str, id: &str) -> Answer {
    (
        404,
        Some(
            json!({"id": id, "message": format!("Could not find {what} with id: {id}"), "exceptionClassName": "io.airbyte.data.ConfigNotFoundException"}),
        ),
    )
}

fn invalid(message: String, path: &str) -> Answer {
    (
        422,
        Some(
            json!({"message": message, "exceptionClassName": "io.airbyte.validation.json.JsonValidationException", "validationErrors": [{"propertyPath": path, "message": message}]}),
        ),
    )
}

fn known(status: u16, message: String, class: &str) -> Answer {
    (
        status,
        Some(json!({"message": message, "exceptionClassName": class})),
    )
}

fn text<'a>(body: &'a Value, key: &str) -> &'a str {
    body.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Answers one call; `path` is the spec's (`/v1/sources/get`).
pub fn call(model: &mut Model, path: &str, body: &Value) -> Answer {
    model.finish_jobs();
    match path {
        "/v1/workspaces/list_paginated" => list_workspaces(model, body),
        "/v1/connections/list" => {
            let workspace = text(body, "workspaceId");
            let ids: Vec<String> = model
                .connections
                .values()
                .filter(|c| c.workspace_id == workspace)
                .map(|c| c.id.clone())
                .collect();
            (
                200,
                Some(
                    json!({"connections": ids.iter().map(|id| connection_read(model, id)).collect::<Vec<_>>()}),
                ),
            )
        }
        "/v1/connections/list_by_actor_definition" => {
            let definition = text(body, "actorDefinitionId");
            let ids: Vec<String> = model
                .connections
                .values()
                .filter(|c| {
                    model
                        .sources
                        .get(&c.source_id)
                        .is_some_and(|s| s.definition_id == definition)
                })
                .map(|c| c.id.clone())
                .collect();
            (
                200,
                Some(
                    json!({"connections": ids.iter().map(|id| connection_read(model, id)).collect::<Vec<_>>()}),
                ),
            )
        }
        "/v1/connections/get" => {
            with_connection(model, body, |m, id| (200, Some(connection_read(m, id))))
        }
        "/v1/connections/update" => {
            with_connection(model, body, |m, id| update_connection(m, id, body))
        }
        "/v1/connections/clear/stream" => {
            with_connection(model, body, |m, id| clear(m, id, body, "clear"))
        }
        "/v1/connections/reset/stream" => {
            with_connection(model, body, |m, id| clear(m, id, body, "reset_connection"))
        }
        "/v1/state/get" => with_connection(model, body, |m, id| {
            (200, Some(m.connections[id].state.to_api(id)))
        }),
        "/v1/state/create_or_update" => {
            with_connection(model, body, |m, id| write_state(m, id, body))
        }
        "/v1/state/create_or_update_safe" => with_connection(model, body, |m, id| {
            if m.sync_running(id) {
                return known(
                    423,
                    format!(
                        "A sync is currently running for connection {id}. Please wait for it to finish before updating the state."
                    ),
                    "io.airbyte.commons.server.errors.SyncIsRunningException",
                );
            }
            write_state(m, id, body)
        }),
        "/v1/sources/get" => with_source(model, body, |m, id| (200, Some(source_read(m, id)))),
        "/v1/sources/list" => {
            let workspace = text(body, "workspaceId");
            let ids: Vec<String> = model
                .sources
                .values()
                .filter(|s| s.workspace_id == workspace)
                .map(|s| s.id.clone())
                .collect();
            (
                200,
                Some(
                    json!({"sources": ids.iter().map(|id| source_read(model, id)).collect::<Vec<_>>()}),
                ),
            )
        }
        "/v1/sources/update" => with_source(model, body, |m, id| update_source(m, id, body, false)),
        "/v1/sources/partial_update" => {
            with_source(model, body, |m, id| update_source(m, id, body, true))
        }
        "/v1/sources/upgrade_version" => with_source(model, body, upgrade_version),
        "/v1/actor_definition_versions/get_for_source" => {
            with_source(model, body, |m, id| (200, Some(version_read(m, id))))
        }
        "/v1/actor_definition_versions/resolve" => {
            let Some(d) = model.definition(text(body, "actorDefinitionId")) else {
                return not_found("actor definition", text(body, "actorDefinitionId"));
            };
            match d.version(text(body, "dockerImageTag")) {
                Some(v) => (
                    200,
                    Some(
                        json!({"versionId": v.id, "dockerRepository": d.repository, "dockerImageTag": v.tag, "supportRefreshes": true, "supportFileTransfer": false, "supportDataActivation": false}),
                    ),
                ),
                None => not_found("actor definition version", text(body, "dockerImageTag")),
            }
        }
        "/v1/source_definitions/get" => match model.definition(text(body, "sourceDefinitionId")) {
            Some(d) => (200, Some(definition_read(d))),
            None => not_found("source definition", text(body, "sourceDefinitionId")),
        },
        "/v1/source_definitions/update" => update_definition(model, body),
        "/v1/source_definition_specifications/get" => {
            match model.definition(text(body, "sourceDefinitionId")) {
                Some(d) => {
                    let spec = &d.version(&d.default_version).expect("default version").spec;
                    let job = json!({"id": "00000000-0000-4000-8000-00000000ffff", "configType": "get_spec", "createdAt": 0, "endedAt": 0, "succeeded": true});
                    (
                        200,
                        Some(
                            json!({"sourceDefinitionId": d.id, "connectionSpecification": spec, "jobInfo": job}),
                        ),
                    )
                }
                None => not_found("source definition", text(body, "sourceDefinitionId")),
            }
        }
        "/v1/scoped_configuration/list" => {
            let rows: Vec<Value> = model
                .pins
                .values()
                .filter(|_| {
                    body.get("config_key")
                        .and_then(Value::as_str)
                        .is_none_or(|k| k == "connector_version")
                })
                .filter(|p| {
                    body.get("origin_type")
                        .and_then(Value::as_str)
                        .is_none_or(|o| o == p.origin_type)
                })
                .map(|p| pin_read(model, p))
                .collect();
            (200, Some(json!({"scopedConfigurations": rows})))
        }
        "/v1/scoped_configuration/create" => create_pin(model, body),
        "/v1/scoped_configuration/delete" => {
            let id = text(body, "scopedConfigurationId");
            let Some(source) = model
                .pins
                .values()
                .find(|p| p.id == id)
                .map(|p| p.source_id.clone())
            else {
                return not_found("scoped configuration", id);
            };
            model.pins.remove(&source);
            (200, Some(json!({"scopedConfigurationId": id})))
        }
        "/v1/jobs/list" => list_jobs(model, body),
        "/v1/jobs/get" => {
            let id = body.get("id").and_then(Value::as_i64).unwrap_or(-1);
            match model.jobs.iter().find(|j| j.id == id) {
                Some(job) => (200, Some(job_info(job))),
                None => not_found("job", &id.to_string()),
            }
        }
        _ => known(
            404,
            format!("no endpoint {path}"),
            "io.micronaut.http.client.exceptions.HttpClientResponseException",
        ),
    }
}

fn with_connection(
    model: &mut Model,
    body: &Value,
    f: impl FnOnce(&mut Model, &str) -> Answer,
) -> Answer {
    let id = text(body, "connectionId").to_owned();
    if !model.connections.contains_key(&id) {
        return not_found("connection", &id);
    }
    f(model, &id)
}

fn with_source(
    model: &mut Model,
    body: &Value,
    f: impl FnOnce(&mut Model, &str) -> Answer,
) -> Answer {
    let id = text(body, "sourceId").to_owned();
    if !model.sources.contains_key(&id) {
        return not_found("source", &id);
    }
    f(model, &id)
}

fn list_workspaces(model: &Model, body: &Value) -> Answer {
    let wanted: Vec<&str> = body
        .get("workspaceIds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let size = body
        .pointer("/pagination/pageSize")
        .and_then(Value::as_u64)
        .unwrap_or(20) as usize;
    let offset = body
        .pointer("/pagination/rowOffset")
        .and_then(Value::as_u64)
        .unwrap_or(0) as usize;
    let rows: Vec<Value> = model
        .workspaces
        .iter()
        // `WorkspaceServiceJooqImpl.listStandardWorkspacesPaginated`: `WHERE id IN
        // (workspaceIds)`, so an empty list matches no workspace.
        .filter(|w| wanted.contains(&w.id.as_str()))
        .skip(offset)
        .take(size)
        .map(|w| json!({"workspaceId": w.id, "organizationId": w.organization_id, "customerId": w.organization_id, "name": w.name, "slug": w.name.to_lowercase().replace(' ', "-"), "initialSetupComplete": true}))
        .collect();
    (200, Some(json!({"workspaces": rows})))
}

fn connection_read(model: &Model, id: &str) -> Value {
    let c = &model.connections[id];
    json!({
        "connectionId": c.id, "name": c.name, "namespaceDefinition": "source", "prefix": "",
        "sourceId": c.source_id, "destinationId": c.destination_id,
        "syncCatalog": catalog::api_from_stored(&c.catalog, &c.field_selection), "scheduleType": "manual",
        "status": c.status, "breakingChange": false, "workspaceId": c.workspace_id, "created_at": c.created_at,
    })
}

fn update_connection(model: &mut Model, id: &str, body: &Value) -> Answer {
    let c = model.connections.get_mut(id).expect("checked");
    if let Some(status) = body.get("status").and_then(Value::as_str) {
        c.status = status.to_owned();
    }
    if let Some(name) = body.get("name").and_then(Value::as_str) {
        c.name = name.to_owned();
    }
    if let Some(sync_catalog) = body.get("syncCatalog") {
        let (stored, field_selection) = catalog::stored_from_api(sync_catalog);
        let changed = catalog::sync_mode_changed(&c.catalog, &stored);
        c.state.delete_streams(&changed);
        c.catalog = stored;
        c.field_selection = field_selection;
    }
    (200, Some(connection_read(model, id)))
}

fn write_state(model: &mut Model, id: &str, body: &Value) -> Answer {
    let Some(state) = body.get("connectionState") else {
        return invalid("connectionState is required".into(), "connectionState");
    };
    if state.get("connectionId").and_then(Value::as_str) != Some(id) {
        return invalid(
            "connectionState.connectionId must be the connection's id".into(),
            "connectionState.connectionId",
        );
    }
    let c = model.connections.get_mut(id).expect("checked");
    match c.state.update(state) {
        Ok(()) => (200, Some(c.state.to_api(id))),
        Err(message) => known(500, message, "java.lang.IllegalStateException"),
    }
}

/// `clear/stream` and `reset/stream` (`SchedulerHandler.resetConnectionStream` →
/// `TemporalClient.resetConnection`): the streams join the connection's `stream_reset` rows
/// (one per stream), the connection's workflow is signalled, which fails its jobs still
/// pending or running and starts a new reset job for every stream with a row, and the call
/// answers once that new job exists. Every call starts a job: asking twice clears twice.
/// The job deletes its streams' state when it runs ([`Model::run_clear_jobs`]).
fn clear(model: &mut Model, id: &str, body: &Value, config_type: &str) -> Answer {
    let streams: Vec<Descriptor> = body
        .get("streams")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| {
            Some(Descriptor {
                name: s.get("streamName")?.as_str()?.to_owned(),
                namespace: s
                    .get("streamNamespace")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        })
        .collect();
    let resets = model.stream_resets.entry(id.to_owned()).or_default();
    for s in streams {
        if !resets.contains(&s) {
            resets.push(s);
        }
    }
    let resets = resets.clone();
    model.fail_non_terminal_jobs(id);
    let created_at = model.now();
    let next = model.jobs.len() as i64 + 1;
    model.jobs.push(Job {
        id: next,
        config_type: config_type.into(),
        connection_id: id.to_owned(),
        status: "pending".into(),
        streams: resets,
        created_at,
        ends_at: None,
    });
    let job = model.jobs.last().expect("just added");
    (200, Some(job_info(job)))
}

/// `jobs/list` (`JobHistoryHandler.listJobsFor`): a connection's jobs of the given config
/// types (and statuses), newest first, a page at a time.
fn list_jobs(model: &Model, body: &Value) -> Answer {
    let types: Vec<&str> = body
        .get("configTypes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let statuses: Vec<&str> = body
        .get("statuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let config_id = body.get("configId").and_then(Value::as_str);
    let mut jobs: Vec<&Job> = model
        .jobs
        .iter()
        .filter(|j| types.contains(&j.config_type.as_str()))
        .filter(|j| config_id.is_none_or(|c| c == j.connection_id))
        .filter(|j| statuses.is_empty() || statuses.contains(&j.status.as_str()))
        .collect();
    jobs.sort_by_key(|j| std::cmp::Reverse((j.created_at, j.id)));
    let total = jobs.len();
    let size = body
        .pointer("/pagination/pageSize")
        .and_then(Value::as_u64)
        .map_or(usize::MAX, |n| n as usize);
    let offset = body
        .pointer("/pagination/rowOffset")
        .and_then(Value::as_u64)
        .unwrap_or(0) as usize;
    let page: Vec<Value> = jobs
        .into_iter()
        .skip(offset)
        .take(size)
        .map(|j| {
            let mut read = job_info(j);
            read["attempts"] = json!([]);
            read
        })
        .collect();
    (200, Some(json!({"jobs": page, "totalJobCount": total})))
}

fn job_info(job: &Job) -> Value {
    let streams: Vec<Value> = job.streams.iter().map(Descriptor::to_json).collect();
    let mut read = json!({"id": job.id, "configType": job.config_type, "configId": job.connection_id, "createdAt": job.created_at, "updatedAt": job.created_at, "status": job.status});
    if !streams.is_empty() {
        read["enabledStreams"] = Value::Array(streams.clone());
        read["resetConfig"] = json!({"streamsToReset": streams});
    }
    json!({"job": read, "attempts": []})
}

fn upcoming_breaking(definition: &Definition, current: &str) -> Option<Value> {
    let v = |s: &str| semver::Version::parse(s).ok();
    let (current, default) = (v(current)?, v(&definition.default_version)?);
    let upcoming: Vec<_> = definition
        .breaking
        .iter()
        .filter(|b| v(&b.version).is_some_and(|bv| bv > current && bv <= default))
        .collect();
    let first = upcoming.iter().min_by_key(|b| b.upgrade_deadline.clone())?;
    let changes: Vec<Value> = upcoming
        .iter()
        .map(|b| {
            let mut c = json!({"version": b.version, "message": b.message, "upgradeDeadline": b.upgrade_deadline, "migrationDocumentationUrl": b.documentation_url});
            if let Some(a) = &b.deadline_action {
                c["deadlineAction"] = a.clone().into();
            }
            c
        })
        .collect();
    let mut read =
        json!({"upcomingBreakingChanges": changes, "minUpgradeDeadline": first.upgrade_deadline});
    if let Some(a) = &first.deadline_action {
        read["deadlineAction"] = a.clone().into();
    }
    Some(read)
}

fn source_read(model: &Model, id: &str) -> Value {
    let s = &model.sources[id];
    let definition = model.definition(&s.definition_id).expect("definition");
    let version = model.resolved_version(s);
    let mut read = json!({
        "sourceDefinitionId": s.definition_id, "sourceId": s.id, "workspaceId": s.workspace_id,
        "connectionConfiguration": secrets::mask(&s.config, &version.spec), "name": s.name,
        "sourceName": definition.name, "createdAt": s.created_at,
        "isVersionOverrideApplied": model.pin(id).is_some(), "supportState": "supported",
    });
    if let Some(b) = upcoming_breaking(definition, &version.tag) {
        read["breakingChanges"] = b;
    }
    read
}

fn version_read(model: &Model, id: &str) -> Value {
    let s = &model.sources[id];
    let definition = model.definition(&s.definition_id).expect("definition");
    let version = model.resolved_version(s);
    let mut read = json!({
        "dockerRepository": definition.repository, "dockerImageTag": version.tag, "supportsRefreshes": true,
        "supportState": "supported", "isVersionOverrideApplied": model.pin(id).is_some(),
        "supportsFileTransfer": false, "supportsDataActivation": false,
    });
    if let Some(b) = upcoming_breaking(definition, &version.tag) {
        read["breakingChanges"] = b;
    }
    read
}

fn definition_read(d: &Definition) -> Value {
    json!({"sourceDefinitionId": d.id, "name": d.name, "dockerRepository": d.repository, "dockerImageTag": d.default_version})
}

/// `sources/update` (the whole config) or `partial_update` (a config merged over the stored
/// one): masks swapped back where the spec of the version the source runs now says the key is
/// secret, then the config validated against that spec.
fn update_source(model: &mut Model, id: &str, body: &Value, partial: bool) -> Answer {
    let source: &Source = &model.sources[id];
    let version = model.resolved_version(source);
    let (version_id, spec) = (version.id.clone(), version.spec.clone());
    let stored = source.config.clone();
    if let Some(incoming) = body.get("connectionConfiguration") {
        let mut config = secrets::copy_secrets(incoming, &stored, &spec);
        if partial && let (Value::Object(merged), Value::Object(_)) = (stored.clone(), &config) {
            let mut merged = merged;
            merged.extend(config.as_object().cloned().unwrap_or_default());
            config = Value::Object(merged);
        }
        let validator = model.validators.entry(version_id).or_insert_with(|| {
            std::sync::Arc::new(jsonschema::validator_for(&spec).expect("a usable spec"))
        });
        let problems: Vec<String> = validator
            .iter_errors(&config)
            .take(10)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        if !problems.is_empty() {
            return invalid(
                format!(
                    "The provided configuration does not fulfill the specification. Errors: {}",
                    problems.join("; ")
                ),
                "connectionConfiguration",
            );
        }
        model.sources.get_mut(id).expect("checked").config = config;
    }
    if let Some(name) = body.get("name").and_then(Value::as_str) {
        model.sources.get_mut(id).expect("checked").name = name.to_owned();
    }
    (200, Some(source_read(model, id)))
}

/// Removes a breaking-change pin, so the source runs the definition's default version; a
/// user's pin is refused.
fn upgrade_version(model: &mut Model, id: &str) -> Answer {
    if let Some(pin) = model.pin(id) {
        if pin.origin_type == "user" {
            return known(
                400,
                format!(
                    "Cannot upgrade version for source {id}: its version was pinned by a user ({}).",
                    pin.origin
                ),
                "io.airbyte.commons.server.errors.BadRequestException",
            );
        }
        model.pins.remove(id);
    }
    (204, None)
}

/// Moves a definition's default version; every source that a breaking change between the
/// old and new default affects, and that has no pin, is pinned to its old version.
fn update_definition(model: &mut Model, body: &Value) -> Answer {
    let id = text(body, "sourceDefinitionId").to_owned();
    let tag = text(body, "dockerImageTag").to_owned();
    let Some(d) = model.definition(&id) else {
        return not_found("source definition", &id);
    };
    let Some(new) = d.version(&tag) else {
        return invalid(
            format!("no version {tag} of {}", d.repository),
            "dockerImageTag",
        );
    };
    let _ = new;
    let v = |s: &str| semver::Version::parse(s).expect("semver tags");
    let (old_default, new_default) = (v(&d.default_version), v(&tag));
    let old_version_id = d.version(&d.default_version).expect("default").id.clone();
    let crossed: Vec<_> = d
        .breaking
        .iter()
        .filter(|b| v(&b.version) > old_default && v(&b.version) <= new_default)
        .cloned()
        .collect();
    let sources: Vec<String> = model
        .sources
        .values()
        .filter(|s| s.definition_id == id && model.pin(&s.id).is_none())
        .map(|s| s.id.clone())
        .collect();
    for source_id in sources {
        let streams: Vec<String> = model
            .connections
            .values()
            .filter(|c| c.source_id == source_id)
            .flat_map(|c| c.catalog["streams"].as_array().cloned().unwrap_or_default())
            .filter_map(|s| {
                s.pointer("/stream/name")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect();
        let affecting = crossed.iter().find(|b| {
            b.scoped_streams.is_empty() || b.scoped_streams.iter().any(|s| streams.contains(s))
        });
        if let Some(b) = affecting {
            let pin_id = model.new_id();
            model.pins.insert(
                source_id.clone(),
                Pin {
                    id: pin_id,
                    definition_id: id.clone(),
                    source_id,
                    version_id: old_version_id.clone(),
                    origin_type: "breaking_change".into(),
                    origin: b.version.clone(),
                    description: Some(format!("Pinned by the breaking change to {}", b.version)),
                    created_at: "2024-01-01T00:00:00Z".into(),
                },
            );
        }
    }
    let d = model
        .definitions
        .iter_mut()
        .find(|d| d.id == id)
        .expect("checked");
    d.default_version = tag;
    (200, Some(definition_read(d)))
}

fn create_pin(model: &mut Model, body: &Value) -> Answer {
    if text(body, "config_key") != "connector_version" || text(body, "scope_type") != "actor" {
        return invalid(
            "the double keeps connector_version pins of sources (scope_type actor) only".into(),
            "config_key",
        );
    }
    let source_id = text(body, "scope_id").to_owned();
    let Some(source) = model.sources.get(&source_id) else {
        return not_found("source", &source_id);
    };
    let definition = model.definition(&source.definition_id).expect("definition");
    if !definition
        .versions
        .iter()
        .any(|v| v.id == text(body, "value"))
    {
        return invalid(
            format!(
                "{} is not a version of {}",
                text(body, "value"),
                definition.repository
            ),
            "value",
        );
    }
    if model.pin(&source_id).is_some() {
        return invalid(
            format!("source {source_id} already has a version pin"),
            "scope_id",
        );
    }
    let definition_id = source.definition_id.clone();
    let pin = Pin {
        id: model.new_id(),
        definition_id,
        source_id,
        version_id: text(body, "value").to_owned(),
        origin_type: text(body, "origin_type").to_owned(),
        origin: text(body, "origin").to_owned(),
        description: body
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        created_at: "2024-01-01T00:00:00Z".into(),
    };
    let read = pin_read(model, &pin);
    model.pins.insert(pin.source_id.clone(), pin);
    (200, Some(json!({"data": read})))
}

fn pin_read(model: &Model, p: &Pin) -> Value {
    let definition = model.definition(&p.definition_id).expect("definition");
    let tag = definition
        .versions
        .iter()
        .find(|v| v.id == p.version_id)
        .map(|v| v.tag.clone())
        .unwrap_or_default();
    let mut read = json!({
        "id": p.id, "value": p.version_id, "value_name": tag, "config_key": "connector_version",
        "resource_id": p.definition_id, "resource_type": "actor_definition", "resource_name": definition.name,
        "scope_id": p.source_id, "scope_type": "actor", "origin": p.origin, "origin_type": p.origin_type,
        "created_at": p.created_at, "updated_at": p.created_at,
    });
    if let Some(d) = &p.description {
        read["description"] = d.clone().into();
    }
    read
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airbyte::model::{BreakingChange, DefinitionVersion};
    use crate::airbyte::state::Rows;

    /// A definition at 1.0.0 with a breaking 2.0.0 scoped to `orders`, and two sources, one
    /// syncing `orders` and one `users`.
    fn model() -> (Model, String, [String; 2]) {
        let mut m = Model::default();
        let definition = m.new_id();
        let versions = ["1.0.0", "2.0.0"]
            .map(|tag| DefinitionVersion {
                id: m.new_id(),
                tag: tag.into(),
                spec: json!({"type": "object"}),
            })
            .into_iter()
            .collect();
        m.definitions.push(Definition {
            id: definition.clone(),
            name: "x".into(),
            repository: "airbyte/source-x".into(),
            default_version: "1.0.0".into(),
            versions,
            breaking: vec![BreakingChange {
                version: "2.0.0".into(),
                message: "m".into(),
                upgrade_deadline: "2024-01-01".into(),
                documentation_url: "u".into(),
                deadline_action: None,
                scoped_streams: vec!["orders".into()],
            }],
        });
        let sources = ["orders", "users"].map(|stream| {
            let (source, connection) = (m.new_id(), m.new_id());
            m.sources.insert(source.clone(), Source { id: source.clone(), workspace_id: "w".into(), definition_id: definition.clone(), name: stream.into(), config: json!({}), created_at: 0 });
            m.connections.insert(
                connection.clone(),
                crate::airbyte::model::Connection {
                    id: connection,
                    workspace_id: "w".into(),
                    name: stream.into(),
                    source_id: source.clone(),
                    destination_id: "d".into(),
                    catalog: json!({"streams": [{"stream": {"name": stream}, "sync_mode": "incremental"}]}),
                    field_selection: Vec::new(),
                    status: "active".into(),
                    state: Rows::default(),
                    created_at: 0,
                },
            );
            source
        });
        (m, definition, sources)
    }

    #[test]
    fn moving_the_default_past_a_breaking_change_pins_the_sources_it_affects() {
        let (mut m, definition, [orders, users]) = model();
        let (status, _) = call(
            &mut m,
            "/v1/source_definitions/update",
            &json!({"sourceDefinitionId": definition, "dockerImageTag": "2.0.0", "workspaceId": "w"}),
        );
        assert_eq!(status, 200);
        assert_eq!(
            m.pin(&orders)
                .map(|p| (p.origin_type.as_str(), p.origin.as_str())),
            Some(("breaking_change", "2.0.0"))
        );
        assert!(
            m.pin(&users).is_none(),
            "a source that syncs no scoped stream moves with the default"
        );
        assert_eq!(m.resolved_version(&m.sources[&orders]).tag, "1.0.0");
        assert_eq!(
            call(
                &mut m,
                "/v1/sources/upgrade_version",
                &json!({"sourceId": orders})
            )
            .0,
            204
        );
        assert_eq!(m.resolved_version(&m.sources[&orders]).tag, "2.0.0");
    }

    #[test]
    fn upgrade_version_refuses_a_users_pin() {
        let (mut m, definition, [orders, _]) = model();
        let version = m
            .definition(&definition)
            .unwrap()
            .version("1.0.0")
            .unwrap()
            .id
            .clone();
        let pin = json!({"config_key": "connector_version", "value": version, "scope_type": "actor", "scope_id": orders, "origin_type": "user", "origin": "ops@example.com"});
        assert_eq!(call(&mut m, "/v1/scoped_configuration/create", &pin).0, 200);
        let (status, body) = call(
            &mut m,
            "/v1/sources/upgrade_version",
            &json!({"sourceId": orders}),
        );
        assert_eq!(status, 400);
        assert!(
            body.unwrap()["message"]
                .as_str()
                .unwrap()
                .contains("pinned by a user")
        );
        assert_eq!(m.pin(&orders).unwrap().origin_type, "user", "the pin stays");
    }

    #[test]
    fn a_catalog_update_deletes_the_state_of_streams_whose_sync_mode_changed() {
        let (mut m, _, _) = model();
        let id = m
            .connections
            .values()
            .find(|c| c.name == "orders")
            .unwrap()
            .id
            .clone();
        call(
            &mut m,
            "/v1/state/create_or_update",
            &json!({"connectionId": id, "connectionState": {"connectionId": id, "stateType": "stream", "streamState": [{"streamDescriptor": {"name": "orders"}, "streamState": {"c": 1}}]}}),
        );
        let catalog = json!({"streams": [{"stream": {"name": "orders", "jsonSchema": {}}, "config": {"syncMode": "full_refresh", "destinationSyncMode": "overwrite", "selected": true}}]});
        assert_eq!(
            call(
                &mut m,
                "/v1/connections/update",
                &json!({"connectionId": id, "syncCatalog": catalog})
            )
            .0,
            200
        );
        assert_eq!(m.connections[&id].state.to_api(&id)["stateType"], "not_set");
    }

    #[test]
    fn a_safe_state_write_is_refused_while_a_sync_runs_and_a_clear_makes_one_job() {
        let (mut m, _, _) = model();
        let id = m.connections.keys().next().unwrap().clone();
        m.start_sync(&id, std::time::Duration::from_secs(60));
        let state = json!({"connectionId": id, "connectionState": {"connectionId": id, "stateType": "stream", "streamState": []}});
        assert_eq!(
            call(&mut m, "/v1/state/create_or_update_safe", &state).0,
            423
        );
        assert_eq!(
            call(&mut m, "/v1/state/create_or_update", &state).0,
            200,
            "the admin endpoint writes anyway"
        );
        let clear = json!({"connectionId": id, "streams": [{"streamName": "orders"}]});
        m.hold_jobs = true;
        let (_, first) = call(&mut m, "/v1/connections/clear/stream", &clear);
        let (_, again) = call(&mut m, "/v1/connections/clear/stream", &clear);
        let (first, again) = (first.unwrap(), again.unwrap());
        assert_ne!(
            first["job"]["id"], again["job"]["id"],
            "every clear starts a job"
        );
        // jobs[0] is the running sync, which the first clear failed.
        assert_eq!(
            m.jobs[1].status, "failed",
            "the new job fails the pending one"
        );
        assert_eq!(m.jobs[2].status, "pending");
        let (_, listed) = call(
            &mut m,
            "/v1/jobs/list",
            &json!({"configTypes": ["clear", "reset_connection"], "configId": id}),
        );
        let listed = listed.unwrap();
        assert_eq!(listed["totalJobCount"], 2);
        assert_eq!(
            listed["jobs"][0]["job"]["id"], again["job"]["id"],
            "newest first"
        );
    }

    #[test]
    fn a_clear_job_deletes_its_streams_state_when_it_runs() {
        let (mut m, _, _) = model();
        let id = m
            .connections
            .values()
            .find(|c| c.name == "orders")
            .unwrap()
            .id
            .clone();
        call(
            &mut m,
            "/v1/state/create_or_update",
            &json!({"connectionId": id, "connectionState": {"connectionId": id, "stateType": "stream", "streamState": [
                {"streamDescriptor": {"name": "orders"}, "streamState": {"c": 1}},
                {"streamDescriptor": {"name": "refunds"}, "streamState": {"c": 2}}]}}),
        );
        m.hold_jobs = true;
        let clear = json!({"connectionId": id, "streams": [{"streamName": "orders"}]});
        call(&mut m, "/v1/connections/clear/stream", &clear);
        let state = |m: &mut Model| {
            call(m, "/v1/state/get", &json!({"connectionId": id}))
                .1
                .unwrap()
        };
        assert_eq!(
            state(&mut m)["streamState"].as_array().unwrap().len(),
            2,
            "not before the job runs"
        );
        m.run_clear_jobs();
        assert_eq!(
            state(&mut m)["streamState"],
            json!([{"streamDescriptor": {"name": "refunds"}, "streamState": {"c": 2}}])
        );
        assert_eq!(m.jobs[0].status, "succeeded");
        assert!(m.stream_resets[&id].is_empty());
    }

    #[test]
    fn listing_workspaces_by_no_ids_lists_none() {
        let (mut m, _, _) = model();
        let id = m.new_id();
        m.workspaces.push(crate::airbyte::model::Workspace {
            id: id.clone(),
            name: "w".into(),
            organization_id: "o".into(),
        });
        let list = |m: &mut Model, ids: Value| {
            call(
                m,
                "/v1/workspaces/list_paginated",
                &json!({"workspaceIds": ids, "pagination": {"pageSize": 10, "rowOffset": 0}}),
            )
            .1
            .unwrap()["workspaces"]
                .as_array()
                .unwrap()
                .len()
        };
        assert_eq!(list(&mut m, json!([])), 0, "WHERE id IN () matches nothing");
        assert_eq!(list(&mut m, json!([id])), 1);
    }
}
