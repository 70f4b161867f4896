//! Connector specs: the JSON Schema a version's config must satisfy.
//!
//! A fleet may hold the spec of any connector version under
//! `specs/<connector>/<version>.json` (for example `specs/airbyte/source-pinterest/2.0.0.json`):
//! either the `connectionSpecification` schema itself or a whole connector spec containing one.
//! Whenever a step produces a version whose spec the fleet has, the migrated config is validated
//! against it, and a config that does not conform fails the connection with the JSON Pointer of
//! each problem, before anything could be written.

use crate::per_version::PerVersion;
use semver::Version;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One connector spec read from a file, ready to validate configs.
pub struct Spec {
    path: PathBuf,
    validator: jsonschema::Validator,
    /// The properties the spec marks `airbyte_secret`.
    secret_names: std::collections::BTreeSet<String>,
}

impl Spec {
    /// Reads a spec file: a `connectionSpecification` schema, or a whole connector spec
    /// (`spec.json` as connectors ship it) holding one.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let spec: Value = serde_json::from_slice(&text)
            .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        let schema = spec.get("connectionSpecification").unwrap_or(&spec);
        let validator = jsonschema::validator_for(schema)
            .map_err(|e| format!("{} is not a usable JSON Schema: {e}", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            validator,
            secret_names: crate::redact::spec_secret_names(schema),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn secret_names(&self) -> &std::collections::BTreeSet<String> {
        &self.secret_names
    }

    /// Every way `config` breaks the spec (the first ten), each as `<JSON Pointer>: <problem>`.
    /// A problem with a secret field does not quote its value.
    pub fn problems(&self, config: &Value) -> Vec<String> {
        let mut secrets = crate::redact::Secrets::new();
        secrets.learn_names(self.secret_names.iter().cloned());
        self.validator
            .iter_errors(config)
            .take(10)
            .map(|e| {
                let at = e.instance_path().to_string();
                let mut problem = e.to_string();
                if secrets.is_secret_pointer(&at) {
                    problem = problem.replace(&e.instance().to_string(), crate::redact::MASK);
                }
                format!(
                    "{}: {problem}",
                    if at.is_empty() { "/".to_owned() } else { at }
                )
            })
            .collect()
    }
}

/// The specs of a fleet, loaded on first use.
pub struct Specs(PerVersion<Spec>);

impl Specs {
    pub fn new(fleet_root: &Path) -> Self {
        Self(PerVersion::new(fleet_root.join("specs")))
    }

    /// Where the spec of `connector` at `version` lives.
    pub fn path(&self, connector: &str, version: &Version) -> PathBuf {
        self.0.path(connector, version)
    }

    fn spec(&self, connector: &str, version: &Version) -> Result<Option<Arc<Spec>>, String> {
        self.0.get(connector, version, Spec::read)
    }

    /// The names of the config fields the spec of `connector` at `version` marks secret,
    /// if the fleet has it.
    pub fn secret_names(&self, connector: &str, version: &Version) -> Vec<String> {
        match self.spec(connector, version) {
            Ok(Some(spec)) => spec.secret_names().iter().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Checks `config` against the spec of `connector` at `version`, if the fleet has it.
    pub fn check(&self, connector: &str, version: &Version, config: &Value) -> Result<(), String> {
        let Some(spec) = self.spec(connector, version)? else {
            return Ok(());
        };
        let problems = spec.problems(config);
        if problems.is_empty() {
            return Ok(());
        }
        Err(format!(
            "the migrated config does not conform to the {connector} {version} spec ({}): {}",
            spec.path().display(),
            problems.join("; ")
        ))
    }
}
