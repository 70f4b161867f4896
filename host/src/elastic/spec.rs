//! What a version of the connectors framework says about documents, where the fleet holds
//! it under `specs/elastic/`:
//!
//! - `specs/elastic/<service type>/<version>.json`: the data source's default configuration
//!   in that version (`get_default_configuration()` as the service writes it into a new
//!   connector; `tests/fixtures/elastic/regenerate.sh` extracts them). A document at that
//!   version must hold values of the types it declares; a plugin's output for that version
//!   must hold no field it does not declare (its value would be left unused) and, from the
//!   data source's own plugin, every field it declares.
//! - `specs/elastic/service-types.json`: the data sources each version ships
//!   (`{"8.7.0": ["mysql", …], …}`). A service type the document's version does not ship
//!   is refused before anything runs.

use cutover_plugin::elastic::{Defaults, configuration};
use semver::Version;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Reads a default configuration file laid out as `<version>/<service type>.json` (the
/// fixtures' layout) or `<service type>/<version>.json` (a fleet's).
pub fn read_defaults(path: &std::path::Path) -> Result<Defaults, String> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let parent = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let (service_type, version) = if Version::parse(stem).is_ok() {
        (parent, stem)
    } else {
        (stem, parent)
    };
    if Version::parse(version).is_err() {
        return Err(format!(
            "{}: neither it nor its folder is named by a version (8.8.0/mysql.json or mysql/8.8.0.json)",
            path.display()
        ));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    Defaults::parse(service_type, version, &text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The Elastic specs of a fleet, read on first use.
pub struct ElasticSpecs {
    root: PathBuf,
    defaults: Mutex<HashMap<(String, Version), Option<Arc<Defaults>>>>,
    service_types: Mutex<Option<Option<Arc<BTreeMap<Version, Vec<String>>>>>>,
}

impl ElasticSpecs {
    /// The specs under `<fleet>/specs/elastic`.
    pub fn new(specs_root: PathBuf) -> Self {
        Self {
            root: specs_root.join("elastic"),
            defaults: Mutex::new(HashMap::new()),
            service_types: Mutex::new(None),
        }
    }

    pub fn path(&self, service_type: &str, version: &Version) -> PathBuf {
        self.root.join(service_type).join(format!("{version}.json"))
    }

    /// The default configuration of `service_type` at `version`, if the fleet holds it.
    pub fn defaults(
        &self,
        service_type: &str,
        version: &Version,
    ) -> Result<Option<Arc<Defaults>>, String> {
        let key = (service_type.to_owned(), version.clone());
        if let Some(d) = self
            .defaults
            .lock()
            .expect("specs cache poisoned")
            .get(&key)
        {
            return Ok(d.clone());
        }
        let path = self.path(service_type, version);
        let defaults = if path.exists() {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            let d = Defaults::parse(service_type, &version.to_string(), &text)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Some(Arc::new(d))
        } else {
            None
        };
        self.defaults
            .lock()
            .expect("specs cache poisoned")
            .insert(key, defaults.clone());
        Ok(defaults)
    }

    fn service_types(&self) -> Result<Option<Arc<BTreeMap<Version, Vec<String>>>>, String> {
        let mut cached = self.service_types.lock().expect("specs cache poisoned");
        if let Some(t) = &*cached {
            return Ok(t.clone());
        }
        let path = self.root.join("service-types.json");
        let types = if path.exists() {
            let text =
                std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
            let by_version: BTreeMap<Version, Vec<String>> = serde_json::from_slice(&text)
                .map_err(|e| {
                    format!(
                        "{} is not {{\"<version>\": [service types]}}: {e}",
                        path.display()
                    )
                })?;
            Some(Arc::new(by_version))
        } else {
            None
        };
        *cached = Some(types.clone());
        Ok(types)
    }

    /// Refuses a service type the connectors service of `version` does not ship (by the
    /// newest listed version at or below it), where the fleet lists them.
    pub fn check_service_type(&self, service_type: &str, version: &Version) -> Result<(), String> {
        let Some(types) = self.service_types()? else {
            return Ok(());
        };
        let Some((listed, known)) = types.range(..=version.clone()).next_back() else {
            return Ok(());
        };
        if known.iter().any(|t| t == service_type) {
            return Ok(());
        }
        Err(format!(
            "service_type {service_type:?} is not a data source of the connectors service {listed} (specs/elastic/service-types.json lists {}); fix the document's service_type",
            known.join(", ")
        ))
    }

    /// Refuses a configuration value whose type is not the one `version` declares for its
    /// field (documents of 8.7 keep no `type` of their own), naming the field.
    pub fn check_values(
        &self,
        service_type: &str,
        version: &Version,
        config: &Map<String, Value>,
    ) -> Result<(), String> {
        let defaults = self.defaults(service_type, version)?;
        configuration::check_types(config, defaults.as_deref()).map_err(|e| e.to_string())
    }

    /// Checks a migrated configuration against `version`'s defaults, where the fleet has
    /// them: values of the declared types and, after a plugin step (`exact`), exactly the
    /// declared fields.
    pub fn check_output(
        &self,
        service_type: &str,
        version: &Version,
        config: &Map<String, Value>,
        exact: bool,
    ) -> Result<(), String> {
        let Some(defaults) = self.defaults(service_type, version)? else {
            return Ok(());
        };
        let mut problems = Vec::new();
        if let Err(e) = configuration::check_types(config, Some(&defaults)) {
            problems.push(e.to_string());
        }
        if exact {
            let missing: Vec<&str> = defaults
                .fields
                .keys()
                .filter(|k| !config.contains_key(*k))
                .map(String::as_str)
                .collect();
            let extra: Vec<&str> = config
                .keys()
                .filter(|k| !defaults.fields.contains_key(*k))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                problems.push(format!("fields {} are missing", missing.join(", ")));
            }
            if !extra.is_empty() {
                problems.push(format!(
                    "fields {} are not fields of this version",
                    extra.join(", ")
                ));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(format!(
            "the migrated configuration does not fit {service_type} {version} ({}): {}",
            self.path(service_type, version).display(),
            problems.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn checks_service_types_and_configurations_against_the_fleets_specs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("elastic");
        std::fs::create_dir_all(root.join("mysql")).unwrap();
        std::fs::write(
            root.join("service-types.json"),
            r#"{"8.7.0": ["mysql"], "8.9.0": ["mysql", "github"]}"#,
        )
        .unwrap();
        std::fs::write(
            root.join("mysql/8.8.0.json"),
            json!({"port": {"type": "int", "value": 3306}}).to_string(),
        )
        .unwrap();
        let specs = ElasticSpecs::new(dir.path().to_owned());
        assert!(specs.check_service_type("mysql", &v("8.7.0")).is_ok());
        assert!(
            specs
                .check_service_type("github", &v("8.8.0"))
                .unwrap_err()
                .contains("connectors service 8.7.0")
        );
        assert!(specs.check_service_type("github", &v("8.10.0")).is_ok());
        let ok = json!({"port": {"value": 3307}});
        assert!(
            specs
                .check_output("mysql", &v("8.8.0"), ok.as_object().unwrap(), true)
                .is_ok()
        );
        let extra = json!({"port": {"value": 3307}, "database": {"value": "x"}});
        assert!(
            specs
                .check_output("mysql", &v("8.8.0"), extra.as_object().unwrap(), true)
                .unwrap_err()
                .contains("database are not fields")
        );
        let wrong = json!({"port": {"value": "x"}});
        assert!(
            specs
                .check_values("mysql", &v("8.8.0"), wrong.as_object().unwrap())
                .unwrap_err()
                .contains("port")
        );
        assert!(
            specs
                .check_output("oracle", &v("8.8.0"), wrong.as_object().unwrap(), true)
                .is_ok(),
            "no spec, no check"
        );
    }
}
