//! Golden fixtures: a plugin's behaviour pinned down as files, checked through the real
//! sandbox.
//!
//! A plugin crate keeps its cases under `fixtures/<case>/`:
//! - `input.json`: a connection document (the fleet's format) at a version the plugin applies to;
//! - `expected.json`: the document cutover writes after the step, and `actions.json`: the
//!   actions the operator is left with (a JSON array, as `cutover plan --json` shows them);
//! - or, for a connection the plugin must refuse, `refused.txt`: a part of the expected message.
//!
//! Each case runs twice (plugins must be deterministic). The migrated config is checked
//! against the target version's real spec when one is given, so a fixture cannot bless a
//! config the new connector would reject, and the migrated catalog and state get the checks
//! a fleet makes of any plugin's output, against the target version's real discovered
//! catalog when one is given. `bless` writes the expected files from what the
//! plugin does now, for the author to read and commit.
//!
//! An Elastic plugin's `input.json` is a connector document at the lowest version the plugin
//! migrates (or the one `version.txt` names), and its specs are the data source's default
//! configurations of both versions: the migrated configuration must hold exactly the target
//! version's fields, with values of their types.

use crate::catalogs::TargetCatalog;
use crate::conformance;
use crate::document::Document;
use crate::elastic;
use crate::migration::{Action, ConnectorInput, Input};
use crate::plan::read_outcome;
use crate::registry::Plugin;
use crate::sandbox::{Sandbox, SandboxError};
use crate::specs::Spec;
use anyhow::{Context, Result, bail};
use cutover_plugin::elastic::{Defaults, configuration};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One case's files.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
}

impl Case {
    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The cases under `fixtures`, in name order: every folder holding an `input.json`.
pub fn cases(fixtures: &Path) -> Result<Vec<Case>> {
    let entries = std::fs::read_dir(fixtures)
        .with_context(|| format!("reading the fixtures folder {}", fixtures.display()))?;
    let mut cases = Vec::new();
    for entry in entries {
        let dir = entry?.path();
        if dir.join("input.json").is_file() {
            let name = dir
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            cases.push(Case { name, dir });
        }
    }
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    if cases.is_empty() {
        bail!(
            "{} holds no cases: add a folder per case with input.json (a connection document), then run with --bless to write expected.json and actions.json",
            fixtures.display()
        );
    }
    Ok(cases)
}

/// What one case came to.
#[derive(Debug)]
pub enum Verdict {
    /// Output, actions and refusal all as expected.
    Passed {
        actions: Vec<Action>,
        notes: Vec<String>,
        refusal: Option<String>,
    },
    /// The expected files were (re)written from the plugin's output.
    Blessed {
        actions: Vec<Action>,
        notes: Vec<String>,
    },
    /// Something differs; each line says what, where.
    Failed(Vec<String>),
}

/// The migration of one case as the plugin does it now.
struct Run {
    input: Document,
    result: Result<Migrated, String>,
}

struct Migrated {
    document: Value,
    bytes: Vec<u8>,
    actions: Vec<Action>,
    notes: Vec<String>,
}

/// Runs the cases through `plugin` in `sandbox`.
pub struct Golden<'a> {
    pub sandbox: &'a Sandbox,
    pub plugin: &'a Plugin,
    /// The spec of the version the plugin produces, if known.
    pub target_spec: Option<&'a Spec>,
    /// The spec of the versions it migrates from, if known: inputs must conform to it.
    pub source_spec: Option<&'a Spec>,
    /// For an Elastic plugin: the folders of the data sources' default configurations
    /// (`<service type>.json`) of the version it produces, and of the version it migrates
    /// from (`tests/fixtures/elastic/8.8.0`).
    pub target_defaults: Option<&'a Path>,
    pub source_defaults: Option<&'a Path>,
    /// The real discovered catalog of the version it produces, if known: the migrated
    /// catalog and state must pass the checks a fleet makes ([`crate::conformance`]).
    pub target_catalog: Option<&'a TargetCatalog>,
}

impl Golden<'_> {
    pub fn check(&self, case: &Case, bless: bool) -> Result<Verdict> {
        let run = self.run(case)?;
        let again = self.run(case)?;
        let mut problems = Vec::new();
        match &run.input {
            Document::Airbyte(input) => {
                if let Some(spec) = self.source_spec {
                    for p in spec.problems(input.config()) {
                        problems.push(format!(
                            "input.json config does not conform to the source spec {}: {p}",
                            spec.path().display()
                        ));
                    }
                }
            }
            Document::Elastic(input) => {
                if let Some(folder) = self.source_defaults {
                    match defaults_in(folder, &input.service_type) {
                        Ok(defaults) => problems.extend(configuration_problems(
                            "input.json configuration",
                            input.configuration(),
                            &defaults,
                            false,
                        )),
                        Err(e) => problems.push(e),
                    }
                }
            }
        }
        match (&run.result, &again.result) {
            (Ok(a), Ok(b)) if a.bytes != b.bytes || a.actions != b.actions => {
                problems.push("the plugin is not deterministic: two runs on the same input gave different output".into());
            }
            (Err(a), Err(b)) if a != b => {
                problems.push(format!("two runs refused differently: {a} / {b}"))
            }
            (Ok(_), Err(_)) | (Err(_), Ok(_)) => {
                problems.push("one run succeeded and the other did not".into())
            }
            _ => {}
        }
        if let (Some(folder), Ok(m), Document::Elastic(_)) =
            (self.target_defaults, &run.result, &run.input)
        {
            let config = m.document["configuration"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            match defaults_in(
                folder,
                m.document["service_type"].as_str().unwrap_or_default(),
            ) {
                Ok(defaults) => problems.extend(configuration_problems(
                    "the migrated configuration",
                    &config,
                    &defaults,
                    true,
                )),
                Err(e) => problems.push(e),
            }
        }
        if let (Ok(m), Document::Airbyte(input)) = (&run.result, &run.input) {
            let before = conformance::Documents {
                catalog: input.catalog(),
                state: &input.state(),
            };
            let after = conformance::Documents {
                catalog: &m.document["catalog"],
                state: &m.document["state"],
            };
            for p in conformance::problems(&before, &after, self.target_catalog) {
                problems.push(format!("the migrated output is not believed: {p}"));
            }
        }
        if let (Some(spec), Ok(m), Document::Airbyte(_)) =
            (self.target_spec, &run.result, &run.input)
        {
            for p in spec.problems(&m.document["config"]) {
                problems.push(format!(
                    "the migrated config does not conform to the {} {} spec {}: {p}",
                    self.plugin.manifest.connector,
                    self.plugin.produces,
                    spec.path().display()
                ));
            }
        }
        if bless {
            if !problems.is_empty() {
                return Ok(Verdict::Failed(problems));
            }
            return self.bless(case, run.result);
        }
        let refused = case.file("refused.txt");
        match run.result {
            Err(message) => {
                if refused.is_file() {
                    let want = std::fs::read_to_string(&refused)?.trim().to_owned();
                    if !message.contains(&want) {
                        problems.push(format!("refused with {message:?}, which does not contain {want:?} (refused.txt)"));
                    }
                } else {
                    problems.push(format!("the plugin refused the connection: {message}"));
                }
                finish(problems, Vec::new(), Vec::new(), Some(message))
            }
            Ok(m) => {
                if refused.is_file() {
                    problems.push(
                        "the plugin migrated a connection refused.txt says it must refuse".into(),
                    );
                    return finish(problems, m.actions, m.notes, None);
                }
                let expected = read_json(&case.file("expected.json"))?;
                problems.extend(document_diff(&expected, &m.document));
                let want: Vec<Action> = serde_json::from_value(read_json(
                    &case.file("actions.json"),
                )?)
                .with_context(|| {
                    format!(
                        "{} is not a list of actions",
                        case.file("actions.json").display()
                    )
                })?;
                problems.extend(actions_diff(&want, &m.actions));
                finish(problems, m.actions, m.notes, None)
            }
        }
    }

    fn run(&self, case: &Case) -> Result<Run> {
        let path = case.file("input.json");
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let input = match Document::parse(&bytes)
            .with_context(|| format!("{} is not a connection document", path.display()))?
        {
            Document::Airbyte(input) => input,
            Document::Elastic(input) => return self.run_connector(case, input),
        };
        let manifest = &self.plugin.manifest;
        if input.connector != manifest.connector {
            bail!(
                "{}: the connection is {}, the plugin migrates {}",
                path.display(),
                input.connector,
                manifest.connector
            );
        }
        if !self.plugin.applies_to.matches(&input.version) {
            bail!(
                "{}: version {} is outside the plugin's applies-to {}; use an input at a version it migrates",
                path.display(),
                input.version,
                manifest.applies_to
            );
        }
        let call = Input::new(
            &input.id,
            &input.connector,
            &input.version.to_string(),
            input.config(),
            input.catalog(),
            &input.state(),
        );
        let code = self.plugin.code(self.sandbox)?;
        let result = match self.sandbox.migrate(code, &call) {
            Err(SandboxError::Refused(e)) => Err(e.to_string()),
            Err(e) => bail!("case {}: {e}", case.name),
            Ok(call) => {
                let (config, catalog, state) = read_outcome(&call.value)
                    .map_err(|e| anyhow::anyhow!("case {}: the plugin returned {e}", case.name))?;
                let next = input.migrated(&self.plugin.produces, config, catalog, state);
                Ok(Migrated {
                    document: Value::Object(next.as_json().clone()),
                    bytes: next.to_bytes(),
                    actions: call.value.actions,
                    notes: call.value.notes,
                })
            }
        };
        Ok(Run {
            input: Document::Airbyte(input),
            result,
        })
    }

    /// Runs an Elastic connector case.
    fn run_connector(&self, case: &Case, input: elastic::Connector) -> Result<Run> {
        let manifest = &self.plugin.manifest;
        if manifest.connector != input.connector() && manifest.connector != elastic::EVERY_SOURCE {
            bail!(
                "case {}: the connector is {}, the plugin migrates {}",
                case.name,
                input.connector(),
                manifest.connector
            );
        }
        let version = match std::fs::read_to_string(case.file("version.txt")) {
            Ok(text) => semver::Version::parse(text.trim()).with_context(|| format!("case {}: version.txt is not a version", case.name))?,
            Err(_) => elastic::chain::lower_bound(&self.plugin.applies_to)
                .with_context(|| format!("case {}: the plugin's range has no lowest version; say the input's in version.txt", case.name))?,
        };
        if !self.plugin.applies_to.matches(&version) {
            bail!(
                "case {}: version {version} is outside the plugin's applies-to {}",
                case.name,
                manifest.applies_to
            );
        }
        let call = ConnectorInput {
            id: input.id.clone(),
            version: version.to_string(),
            document: serde_json::to_string(&input.plugin_document())
                .expect("a JSON object serializes"),
        };
        let code = self.plugin.code(self.sandbox)?;
        let result = match self.sandbox.migrate_connector(code, &call) {
            Err(SandboxError::Refused(e)) => Err(e.to_string()),
            Err(e) => bail!("case {}: {e}", case.name),
            Ok(call) => {
                let document = elastic::plan::read_document(&call.value.document, &input.id)
                    .map_err(|e| anyhow::anyhow!("case {}: the plugin returned {e}", case.name))?;
                let bytes = input.migrated_bytes(&document);
                Ok(Migrated {
                    document: serde_json::from_slice(&bytes)?,
                    bytes,
                    actions: call.value.actions,
                    notes: call.value.notes,
                })
            }
        };
        Ok(Run {
            input: Document::Elastic(input),
            result,
        })
    }

    fn bless(&self, case: &Case, result: Result<Migrated, String>) -> Result<Verdict> {
        let remove = |name: &str| -> Result<()> {
            let path = case.file(name);
            if path.exists() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("removing {}", path.display()))?;
            }
            Ok(())
        };
        match result {
            Err(message) => {
                remove("expected.json")?;
                remove("actions.json")?;
                std::fs::write(case.file("refused.txt"), format!("{message}\n"))?;
                Ok(Verdict::Blessed {
                    actions: Vec::new(),
                    notes: Vec::new(),
                })
            }
            Ok(m) => {
                remove("refused.txt")?;
                std::fs::write(case.file("expected.json"), &m.bytes)?;
                let mut actions = serde_json::to_vec_pretty(&m.actions)?;
                actions.push(b'\n');
                std::fs::write(case.file("actions.json"), actions)?;
                Ok(Verdict::Blessed {
                    actions: m.actions,
                    notes: m.notes,
                })
            }
        }
    }
}

/// The default configuration of `service_type` in a version's folder.
fn defaults_in(folder: &Path, service_type: &str) -> Result<Defaults, String> {
    let path = folder.join(format!("{service_type}.json"));
    if !path.is_file() {
        return Err(format!(
            "{} has no default configuration for {service_type} ({} is missing)",
            folder.display(),
            path.display()
        ));
    }
    elastic::spec::read_defaults(&path)
}

/// How a configuration misses `defaults`: values of other types, fields the version does
/// not have and, when `exact`, fields it has that are missing.
fn configuration_problems(
    what: &str,
    config: &serde_json::Map<String, Value>,
    defaults: &Defaults,
    exact: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    if let Err(e) = configuration::check_types(config, Some(defaults)) {
        problems.push(format!("{what} does not fit {}: {e}", defaults.label()));
    }
    let extra: Vec<&str> = config
        .keys()
        .filter(|k| defaults.field(k).is_none())
        .map(String::as_str)
        .collect();
    if !extra.is_empty() {
        problems.push(format!(
            "{what} has fields {} that {} does not",
            extra.join(", "),
            defaults.label()
        ));
    }
    let missing: Vec<&str> = defaults
        .fields
        .keys()
        .filter(|k| !config.contains_key(*k))
        .map(String::as_str)
        .collect();
    if exact && !missing.is_empty() {
        problems.push(format!(
            "{what} lacks fields {} of {}",
            missing.join(", "),
            defaults.label()
        ));
    }
    problems
}

fn finish(
    problems: Vec<String>,
    actions: Vec<Action>,
    notes: Vec<String>,
    refusal: Option<String>,
) -> Result<Verdict> {
    Ok(if problems.is_empty() {
        Verdict::Passed {
            actions,
            notes,
            refusal,
        }
    } else {
        Verdict::Failed(problems)
    })
}

fn read_json(path: &Path) -> Result<Value> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "reading {} (run with --bless to write it from the plugin's output)",
            path.display()
        )
    })?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// The differences between the expected and the actual document, one line per JSON Pointer.
pub fn document_diff(expected: &Value, actual: &Value) -> Vec<String> {
    json_patch::diff(expected, actual)
        .iter()
        .map(|op| {
            use json_patch::PatchOperation as Op;
            match op {
                Op::Add(a) => format!("{}: expected nothing, got {}", a.path, brief(&a.value)),
                Op::Remove(r) => format!(
                    "{}: expected {}, got nothing",
                    r.path,
                    brief(pointer(expected, &r.path.to_string()))
                ),
                Op::Replace(r) => format!(
                    "{}: expected {}, got {}",
                    r.path,
                    brief(pointer(expected, &r.path.to_string())),
                    brief(&r.value)
                ),
                other => format!("{other:?}"),
            }
        })
        .collect()
}

/// The actions missing from or added to the expected list.
pub fn actions_diff(expected: &[Action], actual: &[Action]) -> Vec<String> {
    let mut lines = Vec::new();
    for a in expected.iter().filter(|a| !actual.contains(a)) {
        lines.push(format!("missing action: {a}"));
    }
    for a in actual.iter().filter(|a| !expected.contains(a)) {
        lines.push(format!("unexpected action: {a}"));
    }
    if lines.is_empty() && expected != actual {
        lines.push("the actions are the expected ones in a different order".into());
    }
    lines
}

fn pointer<'a>(value: &'a Value, at: &str) -> &'a Value {
    value.pointer(at).unwrap_or(&Value::Null)
}

/// A value short enough for one line of a diff.
fn brief(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 120 {
        return text;
    }
    let cut: String = text.chars().take(117).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_names_each_pointer_with_both_sides() {
        let expected = json!({"config": {"a": 1, "gone": true}, "state": []});
        let actual = json!({"config": {"a": 2, "new": "x"}, "state": []});
        let mut lines = document_diff(&expected, &actual);
        lines.sort();
        assert_eq!(
            lines,
            vec![
                "/config/a: expected 1, got 2".to_owned(),
                "/config/gone: expected true, got nothing".to_owned(),
                "/config/new: expected nothing, got \"x\"".to_owned(),
            ]
        );
        assert!(document_diff(&expected, &expected).is_empty());
    }

    #[test]
    fn action_diff_reports_missing_unexpected_and_order() {
        let a = Action::RefreshSchema { reason: "r".into() };
        let b = Action::RetestSource { reason: "t".into() };
        let one = std::slice::from_ref;
        assert_eq!(actions_diff(one(&a), one(&b)).len(), 2);
        assert_eq!(
            actions_diff(&[a.clone(), b.clone()], &[b.clone(), a.clone()]),
            vec!["the actions are the expected ones in a different order"]
        );
        assert!(actions_diff(one(&a), one(&a)).is_empty());
    }
}
