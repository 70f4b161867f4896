//! A real Airbyte source connector, installed from PyPI into a venv and run offline:
//! `spec`, `discover` and `read`, with every HTTP request answered by an empty page or a
//! recorded response.
//!
//! The connectors are the real packages (`airbyte-source-<name>==<version>`). Offline means
//! the `requests` transport (and `http.client`'s connection, for clients that speak it
//! themselves) is replaced, in the connector's own process, by one that answers `200 {}`
//! and records what was asked ([`offline::SITECUSTOMIZE`]): streams then read no records,
//! which is what a verification wants (the connector must accept the config, the catalog
//! and the state, and emit a state from them), and nothing leaves the machine. Where `{}` lacks the pagination fields a connector reads, the connector's
//! `empty-page.json` (beside its version folders) is the empty page instead.
//!
//! # Recorded responses
//!
//! Some requests cannot be answered by an empty page: a token endpoint must give a token,
//! a connector may need one account from a list, a report job must finish. A
//! `responses.json` in the version's fixture folder, or else in the connector's, answers
//! them, in `spec`, `discover` and `read` alike (each run starts its sequences anew):
//!
//! ```json
//! {
//!   "note": "not <vendor>'s answers: shaped like them from <the connector's code, schema or test fixture>",
//!   "responses": [
//!     {"url": "/auth/o2/token", "method": "POST", "body": {"access_token": "t"}},
//!     {"url": "/v2/profiles", "status": 200, "headers": {"x-rate-limit": "10"}, "body": []},
//!     {"url": "/export/1", "sequence": [{"body": {"status": "pending"}}, {"body": {"status": "done"}}]},
//!     {"url": "/export/1/file", "headers": {"Content-Type": "text/csv"}, "text": "id\n"},
//!     {"url": "/graphql.json", "body_contains": "bulkOperationRunQuery", "body": {"data": {}}}
//!   ]
//! }
//! ```
//!
//! - The first entry whose `url` is part of the request's URL, whose `method` (if it has
//!   one, any case) is the request's, and whose `body_contains` (if it has one) is part of
//!   the request's body, answers; every other request gets the empty page.
//! - An answer is `status` (default 200), `headers` (added to a JSON `Content-Type`), and
//!   `body` (JSON) or `text` (sent as it is); with neither, the empty page.
//! - `sequence` instead of an answer: the answers in turn, one per matching request; the
//!   last repeats.
//! - `note` is required (the older `about` is read as it): these answers are never the
//!   vendor's, and it says where their shape came from, so every result made with them
//!   can say so. [`offline::Recorded::parse`] refuses an unknown field, a body beside a
//!   text, or a sequence beside an answer.

use super::declarative;
use super::offline::{self, Recorded};
use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One connector version in its venv.
pub struct Installed {
    pub name: String,
    pub version: String,
    pub dir: PathBuf,
    /// The body every request is answered with: `{}`, or the connector's own empty page
    /// where its paginator reads fields `{}` lacks ([`Installed::answering`]).
    pub empty_page: String,
    /// What runs: the connector's own package, or a manifest on the CDK.
    pub runtime: Runtime,
    /// Responses recorded for the requests an empty page cannot answer (`responses.json`
    /// beside the version's fixtures, or beside the connector's).
    pub responses: Option<Recorded>,
}

/// What a connector version runs as.
pub enum Runtime {
    /// `airbyte-source-<name>==<version>` from PyPI, in its own venv.
    Package,
    /// A manifest-only version: its manifest (and components) run by `airbyte-cdk`'s
    /// declarative source, in a venv per CDK version shared by every manifest on it.
    Declarative(declarative::Kept),
}

/// The recorded responses of a version's fixture folder, if it has them.
pub const RESPONSES: &str = "responses.json";

/// pip constraints for installing a version (beside its fixtures), where its package's
/// own requirements no longer install what it ran on.
pub const CONSTRAINTS: &str = "constraints.txt";

impl Installed {
    /// Connector `source` at `version`, whose fixtures are (or go) in `here`: the venv under
    /// `root` that runs it, if installed. A manifest-only version (`declarative.json` in
    /// `here`) runs on the venv of its CDK version, `airbyte-cdk-<version>`.
    fn at(root: &Path, source: &str, version: &str, here: &Path) -> Result<Self> {
        let runtime = match declarative::read(here)? {
            Some(kept) => Runtime::Declarative(kept),
            None => Runtime::Package,
        };
        let dir = match &runtime {
            Runtime::Package => root.join(format!(
                "{}-{version}",
                source.trim_start_matches("source-")
            )),
            Runtime::Declarative(kept) => {
                root.join(format!("airbyte-cdk-{}", kept.declarative.airbyte_cdk))
            }
        };
        // The version's own recorded responses, else the connector's (answers every version
        // of it needs, such as a token and an empty list of accounts).
        let mut responses = None;
        for path in [
            Some(here.join(RESPONSES)),
            here.parent().map(|p| p.join(RESPONSES)),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(recorded) = Recorded::read(&path)? {
                responses = Some(recorded);
                break;
            }
        }
        Ok(Self {
            name: source.to_owned(),
            version: version.to_owned(),
            dir,
            empty_page: "{}".into(),
            runtime,
            responses,
        })
    }

    /// The venv of `source` `version` under `root` (see [`Installed::existing`]), installed
    /// from PyPI if missing: the connector's package, or for a manifest-only version the
    /// CDK it runs on.
    pub fn ensure(root: &Path, source: &str, version: &str, here: &Path) -> Result<Self> {
        let installed = Self::at(root, source, version, here)?;
        if installed.is_installed() {
            return Ok(installed);
        }
        let package = match &installed.runtime {
            Runtime::Package => format!("airbyte-{source}=={version}"),
            Runtime::Declarative(kept) => format!("airbyte-cdk=={}", kept.declarative.airbyte_cdk),
        };
        // A package that leaves its CDK unpinned gets today's, which its code may no longer
        // run on: the version's `constraints.txt` (pip's format, each line saying why)
        // holds it to the CDK it was released with.
        let constraints = std::path::absolute(here.join(CONSTRAINTS))?;
        // Older connectors pin CDKs that break on newer interpreters (dataclass defaults
        // Python 3.11 refuses): each interpreter is tried until `spec` runs.
        let mut failures = Vec::new();
        for python in interpreters() {
            tracing::info!(%source, %version, %python, %package, "installing from PyPI");
            let _ = std::fs::remove_dir_all(&installed.dir);
            let attempt = run(Command::new(&python)
                .args(["-m", "venv"])
                .arg(&installed.dir))
            .and_then(|()| {
                // No byte-compiling at install: a connector imports a small part of what
                // it installs, and Python compiles (and caches) that on first use. This
                // makes a cold install markedly quicker, which CI's sample pays each time.
                let mut pip = Command::new(installed.dir.join("bin/pip"));
                pip.args([
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-compile",
                ]);
                if constraints.is_file() {
                    pip.arg("--constraint").arg(&constraints);
                }
                run(pip.arg(&package))
            })
            .and_then(|()| {
                let work = tempfile::tempdir()?;
                installed.spec(work.path()).map(drop)
            });
            match attempt {
                Ok(()) => return Ok(installed),
                Err(e) => failures.push(format!("{python}: {e:#}")),
            }
        }
        let _ = std::fs::remove_dir_all(&installed.dir);
        bail!(
            "{package} cannot be installed and run here: {}",
            failures.join("; ")
        )
    }

    /// Answers every request with `page` (a connector's `empty-page.json`: an empty page
    /// with the pagination fields its paginator reads).
    pub fn answering(mut self, page: Option<String>) -> Self {
        if let Some(page) = page {
            self.empty_page = page;
        }
        self
    }

    /// The venv of `source` `version` if it is there, without installing.
    pub fn existing(root: &Path, source: &str, version: &str, here: &Path) -> Result<Option<Self>> {
        let installed = Self::at(root, source, version, here)?;
        Ok(installed.is_installed().then_some(installed))
    }

    /// Whether the venv holds what runs the version: the connector's console script, or
    /// the CDK's distribution at that version (CDKs before 6 have no
    /// `source-declarative-manifest` script to look for).
    fn is_installed(&self) -> bool {
        match &self.runtime {
            Runtime::Package => self.entry().is_file(),
            Runtime::Declarative(kept) => {
                let dist = format!("airbyte_cdk-{}.dist-info", kept.declarative.airbyte_cdk);
                std::fs::read_dir(self.dir.join("lib"))
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|python| python.path().join("site-packages").join(&dist).is_dir())
            }
        }
    }

    /// The connector's console script (a manifest runs through its own runner script).
    fn entry(&self) -> PathBuf {
        self.dir.join("bin").join(&self.name)
    }

    /// What a manifest-only version ran on, for reports: `airbyte-cdk 7.6.5 (baseImage)`.
    pub fn runs_on(&self) -> Option<String> {
        match &self.runtime {
            Runtime::Package => None,
            Runtime::Declarative(kept) => Some(format!(
                "airbyte-cdk {} ({})",
                kept.declarative.airbyte_cdk, kept.declarative.airbyte_cdk_from
            )),
        }
    }

    /// Runs the connector with `args`, offline, and returns the Airbyte messages it printed.
    pub fn run(&self, args: &[&str], work: &Path) -> Result<Vec<Value>> {
        let site = work.join("offline");
        std::fs::create_dir_all(&site)?;
        std::fs::write(site.join("sitecustomize.py"), offline::SITECUSTOMIZE)?;
        // Through the venv's interpreter, not the script's `#!` line: a venv moved to
        // another folder keeps working.
        let mut command = Command::new(self.dir.join("bin").join("python"));
        let mut path = vec![site];
        match &self.runtime {
            Runtime::Package => {
                command.arg(self.entry());
            }
            Runtime::Declarative(kept) => {
                let runner = work.join("declarative");
                std::fs::create_dir_all(&runner)?;
                std::fs::write(runner.join("cutover_declarative.py"), declarative::RUNNER)?;
                if let Some(components) = &kept.components {
                    std::fs::copy(components, runner.join("components.py"))
                        .with_context(|| format!("copying {}", components.display()))?;
                }
                command
                    .arg(runner.join("cutover_declarative.py"))
                    .env("CUTOVER_MANIFEST", std::path::absolute(&kept.manifest)?);
                path.push(runner);
            }
        }
        let output = command
            .args(args)
            .current_dir(work)
            .env("PYTHONPATH", std::env::join_paths(&path)?)
            .env(
                "CUTOVER_RESPONSES",
                match &self.responses {
                    Some(recorded) => serde_json::to_string(recorded)?,
                    None => String::new(),
                },
            )
            .env("CUTOVER_REQUEST_LOG", work.join("requests.jsonl"))
            .env("AIRBYTE_NO_TELEMETRY", "1")
            // A fixed hash seed: connectors that build a schema by iterating a set
            // (facebook-marketing's) discover the same catalog on every run.
            .env("PYTHONHASHSEED", "0")
            .env("CUTOVER_EMPTY_PAGE", &self.empty_page)
            .output()
            .with_context(|| format!("running {} {}", self.name, args.join(" ")))?;
        let messages: Vec<Value> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|m| m.get("type").is_some())
            .collect();
        if let Some(trace) = messages
            .iter()
            .find(|m| m["type"] == "TRACE" && m["trace"]["type"] == "ERROR")
        {
            bail!(
                "{} {} {} failed: {} {}",
                self.name,
                self.version,
                args[0],
                trace["trace"]["error"]["message"]
                    .as_str()
                    .unwrap_or("(no message)"),
                trace["trace"]["error"]["internal_message"]
                    .as_str()
                    .unwrap_or_default()
            );
        }
        if !output.status.success() {
            bail!(
                "{} {} {} exited with {}: {}",
                self.name,
                self.version,
                args[0],
                output.status,
                tail(&String::from_utf8_lossy(&output.stderr))
            );
        }
        Ok(messages)
    }

    /// The `ConnectorSpecification`.
    pub fn spec(&self, work: &Path) -> Result<Value> {
        let messages = self.run(&["spec"], work)?;
        messages
            .into_iter()
            .find(|m| m["type"] == "SPEC")
            .map(|m| m["spec"].clone())
            .with_context(|| format!("{} {} printed no SPEC", self.name, self.version))
    }

    /// The discovered `AirbyteCatalog` for `config`.
    pub fn discover(&self, config: &Value, work: &Path) -> Result<Value> {
        let path = work.join("config.json");
        std::fs::write(&path, serde_json::to_vec(config)?)?;
        let messages = self.run(&["discover", "--config", "config.json"], work)?;
        messages
            .into_iter()
            .find(|m| m["type"] == "CATALOG")
            .map(|m| m["catalog"].clone())
            .with_context(|| format!("{} {} printed no CATALOG", self.name, self.version))
    }

    /// The messages of a `read` with every request answered by an empty page.
    pub fn read(
        &self,
        config: &Value,
        catalog: &Value,
        state: &Value,
        work: &Path,
    ) -> Result<Vec<Value>> {
        std::fs::write(work.join("config.json"), serde_json::to_vec(config)?)?;
        std::fs::write(work.join("catalog.json"), serde_json::to_vec(catalog)?)?;
        std::fs::write(work.join("state.json"), serde_json::to_vec(state)?)?;
        self.run(
            &[
                "read",
                "--config",
                "config.json",
                "--catalog",
                "catalog.json",
                "--state",
                "state.json",
            ],
            work,
        )
    }
}

/// The interpreters a connector is installed with, in order: the Python versions
/// `CUTOVER_CONNECTOR_PYTHONS` names (space-separated), else 3.11 then 3.10; each as
/// `python3.X` on PATH, or else as pyenv's latest install of that version.
fn interpreters() -> Vec<String> {
    let versions =
        std::env::var("CUTOVER_CONNECTOR_PYTHONS").unwrap_or_else(|_| "3.11 3.10".into());
    versions
        .split_whitespace()
        .filter_map(|v| {
            let name = format!("python{v}");
            let runs = |program: &str| {
                Command::new(program)
                    .arg("--version")
                    .output()
                    .is_ok_and(|o| o.status.success())
            };
            if runs(&name) {
                return Some(name);
            }
            let pyenv = |args: &[&str]| {
                Command::new("pyenv")
                    .args(args)
                    .output()
                    .ok()
                    .filter(|o| o.status.success())
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            };
            let path = format!(
                "{}/versions/{}/bin/{name}",
                pyenv(&["root"])?,
                pyenv(&["latest", v])?
            );
            runs(&path).then_some(path)
        })
        .collect()
}

fn run(command: &mut Command) -> Result<()> {
    let output = command.output()?;
    if !output.status.success() {
        bail!("{}", tail(&String::from_utf8_lossy(&output.stderr)));
    }
    Ok(())
}

/// The last lines of a process's error output.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

/// A config that a spec accepts, made from the spec itself: each required property from its
/// `const`, first `examples` entry, `default`, first `enum` value or a value of its type
/// and format; a `oneOf` takes its first branch. Where a pattern rejects what this makes,
/// a `config.json` beside the connector's fixtures gives the values instead.
pub fn config_from_spec(spec: &Value) -> Value {
    let schema = spec.get("connectionSpecification").unwrap_or(spec);
    value_for(schema, true)
}

fn value_for(schema: &Value, required_only: bool) -> Value {
    for key in ["const"] {
        if let Some(v) = schema.get(key) {
            return v.clone();
        }
    }
    // An example or default of another type than the property's (specs have them) would
    // be refused by the connector's own validation.
    // An empty object as the default of a `oneOf` (tiktok-marketing's credentials) is no
    // branch at all: the connector refuses it.
    let no_branch = |v: &Value| {
        v.as_object().is_some_and(|o| o.is_empty())
            && (schema.get("oneOf").is_some() || schema.get("anyOf").is_some())
    };
    let fits = |v: &Value| {
        !no_branch(v)
            && match schema.get("type") {
                Some(Value::String(t)) => type_name(v) == t || (t == "number" && v.is_number()),
                Some(Value::Array(ts)) => ts.iter().any(|t| t.as_str() == Some(type_name(v))),
                _ => true,
            }
    };
    for candidate in [
        schema
            .get("examples")
            .and_then(Value::as_array)
            .and_then(|e| e.first()),
        schema.get("default"),
        schema
            .get("enum")
            .and_then(Value::as_array)
            .and_then(|e| e.first()),
    ]
    .into_iter()
    .flatten()
    {
        if fits(candidate) {
            return candidate.clone();
        }
    }
    if let Some(first) = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)
        .and_then(|o| o.first())
    {
        return value_for(first, required_only);
    }
    let kind = match schema.get("type") {
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("string")
            .to_owned(),
        Some(Value::String(t)) => t.clone(),
        _ if schema.get("properties").is_some() => "object".into(),
        _ => "string".into(),
    };
    match kind.as_str() {
        "object" => {
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut out = serde_json::Map::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    if !required_only
                        || required.contains(&name.as_str())
                        || prop.get("const").is_some()
                        // A property with a default is in every config the platform's
                        // form makes, and connectors read it without a fallback.
                        || prop.get("default").is_some()
                    {
                        out.insert(name.clone(), value_for(prop, required_only));
                    }
                }
            }
            Value::Object(out)
        }
        "array" => {
            let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            let item = schema
                .get("items")
                .map(|i| value_for(i, required_only))
                .unwrap_or(Value::String("x".into()));
            Value::Array(if min > 0 { vec![item] } else { Vec::new() })
        }
        "integer" => schema.get("minimum").cloned().unwrap_or(Value::from(1)),
        "number" => schema.get("minimum").cloned().unwrap_or(Value::from(1.0)),
        "boolean" => Value::Bool(false),
        _ => Value::String(
            match schema.get("format").and_then(Value::as_str) {
                Some("date-time") => "2024-01-01T00:00:00Z",
                Some("date") => "2024-01-01",
                Some("email") => "user@example.com",
                Some("uri") => "https://example.com",
                _ => "cutover-verification",
            }
            .into(),
        ),
    }
}

/// The JSON Schema type of a value.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_empty_default_of_a_one_of_takes_its_first_branch() {
        let spec = json!({"type": "object", "required": ["credentials"], "properties": {"credentials": {
            "type": "object", "default": {}, "oneOf": [
                {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}}]}}});
        assert_eq!(
            config_from_spec(&spec),
            json!({"credentials": {"token": "cutover-verification"}})
        );
    }

    #[test]
    fn an_example_of_another_type_is_not_taken() {
        let spec = json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "string", "examples": [550]}}});
        assert_eq!(
            config_from_spec(&spec),
            json!({"id": "cutover-verification"})
        );
    }

    #[test]
    fn a_config_is_made_from_the_required_properties() {
        let spec = json!({"connectionSpecification": {"type": "object", "required": ["start_date", "credentials", "n"],
            "properties": {
                "start_date": {"type": "string", "format": "date-time"},
                "optional": {"type": "string"},
                "n": {"type": "integer", "minimum": 3},
                "credentials": {"oneOf": [
                    {"type": "object", "required": ["auth_type", "api_key"], "properties": {
                        "auth_type": {"type": "string", "const": "api_key"}, "api_key": {"type": "string", "examples": ["k"]}}},
                    {"type": "object", "properties": {"auth_type": {"const": "oauth"}}}]}}}});
        assert_eq!(
            config_from_spec(&spec),
            json!({"start_date": "2024-01-01T00:00:00Z", "n": 3, "credentials": {"auth_type": "api_key", "api_key": "k"}})
        );
    }
}
