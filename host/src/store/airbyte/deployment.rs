//! What the deployment says beyond a connection's own document, read once per process and
//! kept in step with the writes: connector definitions and their default versions' specs,
//! the version pins of sources, the workspaces to read; and a connection's jobs, read a page
//! at a time.

use super::document::Parts;
use super::{AirbyteDocuments, clears, secrets, steps};
use crate::migration::StreamDescriptor;
use crate::store::StoreError;
use anyhow::{Context, Result};
use serde_json::{Value, json};

impl AirbyteDocuments {
    /// The version pin of a source, from the deployment's pins.
    pub(super) fn pin_of(&self, key: &str, source_id: &str) -> Result<Option<Value>> {
        let mut pins = self.pins.lock().expect("pins lock");
        if pins.is_none() {
            let list = self.answer(
                key,
                "scoped_configuration/list",
                &json!({"config_key": "connector_version"}),
            )?;
            let by_source = list
                .get("scopedConfigurations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|p| p.get("scope_type").and_then(Value::as_str) == Some("actor"))
                .filter_map(|p| Some((p.get("scope_id")?.as_str()?.to_owned(), p.clone())))
                .collect();
            *pins = Some(by_source);
        }
        Ok(pins.as_ref().and_then(|all| all.get(source_id)).cloned())
    }

    /// Keeps the pins read in step with a write that removed a pin: that of a source, or the
    /// one with that id.
    pub(super) fn pin_removed(&self, source_or_pin: &str) {
        if let Some(all) = self.pins.lock().expect("pins lock").as_mut()
            && all.remove(source_or_pin).is_none()
        {
            all.retain(|_, p| p.get("id").and_then(Value::as_str) != Some(source_or_pin));
        }
    }

    /// Keeps the pins read in step with a write that created one (its `ScopedConfigurationRead`).
    pub(super) fn pin_added(&self, read: Option<&Value>) {
        let mut pins = self.pins.lock().expect("pins lock");
        let source = read.and_then(|p| p.get("scope_id")).and_then(Value::as_str);
        match (pins.as_mut(), read, source) {
            (Some(all), Some(pin), Some(source)) => {
                all.insert(source.to_owned(), pin.clone());
            }
            _ => *pins = None,
        }
    }

    /// (docker repository, default version) of a definition.
    pub(super) fn definition(&self, key: &str, definition_id: &str) -> Result<(String, String)> {
        if let Some(d) = self
            .definitions
            .lock()
            .expect("definitions lock")
            .get(definition_id)
        {
            return Ok(d.clone());
        }
        let read = self.answer(
            key,
            "source_definitions/get",
            &json!({"sourceDefinitionId": definition_id}),
        )?;
        let text = |k: &str| {
            read.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .with_context(|| format!("source definition {definition_id} has no {k}"))
        };
        let d = (text("dockerRepository")?, text("dockerImageTag")?);
        self.definitions
            .lock()
            .expect("definitions lock")
            .insert(definition_id.to_owned(), d.clone());
        Ok(d)
    }

    /// The spec of a definition's default version.
    pub(super) fn default_spec(&self, key: &str, parts: &Parts, version: &str) -> Result<Value> {
        let cache_key = (parts.definition_id.clone(), version.to_owned());
        if let Some(spec) = self.specs.lock().expect("specs lock").get(&cache_key) {
            return Ok(spec.clone());
        }
        let read = self.answer(
            key,
            "source_definition_specifications/get",
            &json!({"sourceDefinitionId": parts.definition_id, "workspaceId": parts.workspace_id}),
        )?;
        let spec = read
            .get("connectionSpecification")
            .cloned()
            .unwrap_or_else(|| json!({}));
        self.specs
            .lock()
            .expect("specs lock")
            .insert(cache_key, spec.clone());
        Ok(spec)
    }

    /// What the requests of a write need to know of the connector's definition.
    pub(super) fn definition_for(
        &self,
        key: &str,
        current: &Parts,
        target: &Parts,
    ) -> Result<steps::Definition> {
        let mut d = steps::Definition::default();
        if !steps::moves_version(current, target) {
            return Ok(d);
        }
        d.default_version = self.definition(key, &current.definition_id)?.1;
        if target.version == d.default_version
            && target.version_pin.is_none()
            && !secrets::masked(&target.config).is_empty()
        {
            d.default_spec = Some(self.default_spec(key, current, &d.default_version)?);
        }
        if let Some(pin) = &target.version_pin {
            let resolved = self.call(key, "actor_definition_versions/resolve", &json!({"actorDefinitionId": current.definition_id, "actorType": "source", "dockerImageTag": pin.version}))?;
            d.pinned_version_id = resolved
                .as_ref()
                .and_then(|r| r.get("versionId"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            if current.version_pin.is_some() {
                d.current_pin_id = self
                    .pin_of(key, &current.source_id)?
                    .and_then(|p| p.get("id").and_then(Value::as_str).map(str::to_owned));
            }
        }
        Ok(d)
    }

    /// The workspaces to read: those the settings name, or every one the credentials see.
    ///
    /// The Configuration API lists workspaces only by id (`workspaces/list_paginated` filters
    /// `WHERE id IN (workspaceIds)`: no ids, no workspaces) or by user or organization id,
    /// which a token does not tell; the public API's `GET /public/v1/workspaces` lists those
    /// of the credentials' user (`WorkspaceServiceImpl.listWorkspaces`), a page at a time.
    pub(super) fn workspaces(&self) -> Result<Vec<String>> {
        if !self.settings.workspaces.is_empty() {
            return Ok(self.settings.workspaces.clone());
        }
        const PAGE: usize = 100;
        let mut all = Vec::new();
        loop {
            let page = self
                .client
                .get_public(&format!("workspaces?limit={PAGE}&offset={}", all.len()))
                .map_err(|e| {
                    anyhow::Error::new(StoreError::Unavailable {
                        detail: format!("listing the workspaces the credentials see: {e}"),
                    })
                })?
                .unwrap_or_default();
            let ids: Vec<String> = page
                .get("data")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|w| w.get("workspaceId")?.as_str().map(str::to_owned))
                .collect();
            let more = ids.len() == PAGE || (page.get("next").is_some() && !ids.is_empty());
            all.extend(ids);
            if !more {
                break;
            }
        }
        if all.is_empty() {
            anyhow::bail!(
                "the credentials see no workspace at {}; give them access to the workspaces to migrate, or name them in cutover.toml ([airbyte] workspaces = [\"<workspace id>\"])",
                self.client.base()
            );
        }
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// The connection's jobs that touch its streams, newest first, read a page at a time
    /// until `enough` holds for one of them (or none is left).
    pub(super) fn jobs_until(
        &self,
        key: &str,
        enough: impl Fn(&clears::Job) -> bool,
    ) -> Result<Vec<clears::Job>> {
        const PAGE: usize = 100;
        let mut jobs = Vec::new();
        loop {
            let page = self.answer(
                key,
                "jobs/list",
                &json!({"configTypes": clears::JOB_TYPES, "configId": key, "pagination": {"pageSize": PAGE, "rowOffset": jobs.len()}}),
            )?;
            let entries = page
                .get("jobs")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let read: Vec<clears::Job> = entries.iter().filter_map(clears::Job::read).collect();
            let done = entries.len() < PAGE || read.iter().any(&enough);
            jobs.extend(read);
            if done {
                return Ok(jobs);
            }
        }
    }

    /// Of `streams`, those already cleared with nothing synced since (see [`clears`]).
    pub(super) fn already_cleared(
        &self,
        key: &str,
        streams: &[StreamDescriptor],
    ) -> Result<Vec<StreamDescriptor>> {
        let jobs = self.jobs_until(key, |j| !j.clears)?;
        Ok(clears::cleared_since_last_sync(&jobs, streams))
    }
}
