//! `cutover plugin new`: a plugin that builds, passes its own tests and its golden fixture
//! from the first minute, for the author to fill in: a Rust crate, or a Python project
//! (`--lang python`).
//!
//! Inside a workspace that declares `cutover-plugin` in `[workspace.dependencies]` (this
//! repository's `plugins/`), a crate inherits its dependencies from it; anywhere else it
//! is a workspace of its own depending on the published SDK by version (the version of
//! the SDK this cutover was built with). A Python project names its module in
//! `pyproject.toml` and depends on the Python SDK by version; inside this repository its
//! unit tests find the SDK by path, elsewhere it is installed (`pip install cutover-plugin`).

use super::elastic_template;
use crate::manifest::Manifest;
use anyhow::{Context, Result, bail};
use semver::Version;
use serde_json::json;
use std::path::{Path, PathBuf};

/// The version requirement a new crate outside this repository puts on the SDK: the
/// version this cutover was built with, or any later compatible one.
pub fn sdk_requirement() -> String {
    format!("^{}", cutover_plugin::VERSION)
}

/// The Python SDK's `pyproject.toml`, for its name and version.
const PYTHON_SDK_PYPROJECT: &str = include_str!("../../../plugins/python/sdk/pyproject.toml");

/// The Python SDK's distribution name and version.
pub fn python_sdk() -> (String, String) {
    let doc: toml::Table = PYTHON_SDK_PYPROJECT
        .parse()
        .expect("the Python SDK's pyproject.toml is valid TOML");
    let project = &doc["project"];
    (
        project["name"].as_str().expect("a name").to_owned(),
        project["version"].as_str().expect("a version").to_owned(),
    )
}

/// The language a plugin is written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// A crate built with cargo and the `cutover-plugin` SDK.
    #[default]
    Rust,
    /// A project built with componentize-py and the Python SDK (`plugins/python/sdk`).
    Python,
}

/// What to scaffold.
pub struct Request {
    pub language: Language,
    /// `<vendor>/<name>`; a bare `source-x` means `airbyte/source-x`.
    pub connector: String,
    pub version: Version,
    /// The folder the crate goes into (the crate is `<dir>/<crate name>`).
    pub dir: PathBuf,
    /// The breaking change from the connector's metadata, if the author has it.
    pub manifest: Option<Manifest>,
}

/// The crate name for a connector version: `source-x-v2` for 2.0.0, `source-x-v3-1` for 3.1.0;
/// `elastic-mysql-v8-8` for Elastic's `elastic/mysql` 8.8.0 (`elastic-every-source-v9` for
/// `elastic/*`).
pub fn crate_name(connector: &str, version: &Version) -> String {
    let name = match connector.strip_prefix(crate::elastic::PREFIX) {
        Some("*") => "elastic-every-source".to_owned(),
        Some(service_type) => format!("elastic-{}", service_type.replace('_', "-")),
        None => connector.rsplit('/').next().unwrap_or(connector).to_owned(),
    };
    match version.minor {
        0 => format!("{name}-v{}", version.major),
        minor => format!("{name}-v{}-{minor}", version.major),
    }
}

/// Writes the crate and returns its directory.
/// The cargo settings plugins are built with (the workspace's own), written into a new
/// crate that stands alone so it is built the same way.
const PLUGIN_CARGO_CONFIG: &str = include_str!("../../../.cargo/config.toml");

pub fn scaffold(request: &Request) -> Result<PathBuf> {
    let connector = if request.connector.contains('/') {
        request.connector.clone()
    } else {
        format!("airbyte/{}", request.connector)
    };
    let name = crate_name(&connector, &request.version);
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!(
            "{connector:?} does not make a crate name; use <vendor>/<name> with letters, digits and dashes"
        );
    }
    let root = request.dir.join(&name);
    if root.exists() {
        bail!(
            "{} already exists; pick another --dir or remove it",
            root.display()
        );
    }
    let previous = previous_version(&request.version);
    let elastic = crate::platform::Platform::is_elastic(&connector);
    let manifest = match &request.manifest {
        Some(m) => m.clone(),
        None if elastic => elastic_template::manifest(&connector, &request.version, &previous),
        None => Manifest {
            connector: connector.clone(),
            applies_to: format!(">={previous}, <{}", request.version),
            produces: request.version.to_string(),
            message: format!(
                "Describe the breaking change of {} {} (its breakingChanges message).",
                connector, request.version
            ),
            upgrade_deadline: None,
            deadline_action: None,
            documentation_url: format!(
                "https://docs.airbyte.com/integrations/sources/{}-migrations#{}",
                name_of(&connector).trim_start_matches("source-"),
                request.version
            ),
            scoped_streams: Vec::new(),
            preconditions: Vec::new(),
            guide: String::new(),
        },
    };
    manifest
        .check()
        .context("the manifest the new plugin would carry is invalid")?;
    let input_version = match manifest
        .applies_to
        .trim()
        .strip_prefix(">=")
        .and_then(|r| r.split(',').next())
    {
        Some(v) => Version::parse(v.trim()).unwrap_or(previous),
        None => previous,
    };
    if elastic && request.language == Language::Python {
        bail!(
            "Elastic plugins are written in Rust: the Python SDK builds against contract 1.1.0, which carries no Elastic connector documents; leave out --lang python"
        );
    }
    let case = root.join("fixtures").join("basic");
    std::fs::create_dir_all(&case).with_context(|| format!("creating {}", case.display()))?;
    match request.language {
        Language::Rust => write_crate(
            request,
            &root,
            &name,
            &manifest,
            elastic.then_some(&input_version),
        )?,
        Language::Python => write_python(&root, &name, &request.version, &manifest)?,
    }
    let pretty = |v: &serde_json::Value| {
        let mut bytes = serde_json::to_vec_pretty(v).expect("JSON serializes");
        bytes.push(b'\n');
        bytes
    };
    if elastic {
        let document = elastic_template::fixture(&connector);
        std::fs::write(case.join("input.json"), pretty(&document))?;
        std::fs::write(case.join("expected.json"), pretty(&document))?;
        std::fs::write(case.join("actions.json"), "[]\n")?;
        return Ok(root);
    }
    let input = json!({
        "id": "example",
        "name": "An example connection",
        "connector": connector,
        "version": input_version.to_string(),
        "pin": null,
        "config": {"start_date": "2024-01-01T00:00:00Z"},
        "catalog": {"streams": [{
            "stream": {
                "name": "users",
                "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}, "updated_at": {"type": ["null", "string"], "format": "date-time"}}},
                "supported_sync_modes": ["full_refresh", "incremental"],
                "source_defined_cursor": true,
                "default_cursor_field": ["updated_at"],
                "source_defined_primary_key": [["id"]]
            },
            "sync_mode": "incremental",
            "cursor_field": ["updated_at"],
            "destination_sync_mode": "append_dedup",
            "primary_key": [["id"]]
        }]},
        "state": [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"updated_at": "2024-06-01T00:00:00Z"}}}]
    });
    let mut expected = input.clone();
    expected["version"] = json!(manifest.produces);
    std::fs::write(case.join("input.json"), pretty(&input))?;
    std::fs::write(case.join("expected.json"), pretty(&expected))?;
    std::fs::write(case.join("actions.json"), "[]\n")?;
    Ok(root)
}

/// The crate: Cargo.toml (with the plugin build settings when it stands alone) and src/lib.rs.
/// `elastic_from` is the version an Elastic plugin migrates from (an Airbyte one's is `None`).
fn write_crate(
    request: &Request,
    root: &Path,
    name: &str,
    manifest: &Manifest,
    elastic_from: Option<&Version>,
) -> Result<()> {
    let dependencies = match workspace_with_sdk(&request.dir)? {
        Some(_) => "cutover-plugin.workspace = true\nserde_json.workspace = true\n".to_owned(),
        None => format!(
            "cutover-plugin = \"{}\"\nserde_json = {{ version = \"1\", features = [\"preserve_order\"] }}\n",
            sdk_requirement()
        ),
    };
    let standalone = if dependencies.contains("workspace = true") {
        ""
    } else {
        "\n# A workspace of its own, so the crate builds wherever it lives.\n[workspace]\n"
    };
    let cargo = format!(
        r#"[package]
name = "{name}"
version = "{version}"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
{dependencies}
{metadata}{standalone}"#,
        version = request.version,
        metadata = match elastic_from {
            Some(input_version) => format!(
                "# Specs for `cutover plugin test`: the folders of the data sources' default configurations\n# (<service type>.json, from get_default_configuration()) of the version this plugin produces\n# and of the version it migrates from; fixture configurations are checked against them.\n[package.metadata.cutover]\n# target-spec = \"fixtures/defaults/{}\"\n# source-spec = \"fixtures/defaults/{input_version}\"\n",
                request.version
            ),
            None => format!(
                "# Specs for `cutover plugin test`: the real spec of the version this plugin produces (and,\n# optionally, of the versions it migrates from); fixture configs are validated against them.\n[package.metadata.cutover]\n# target-spec = \"fixtures/spec-{}.json\"\n",
                request.version
            ),
        },
    );
    std::fs::create_dir_all(root.join("src"))?;
    std::fs::write(root.join("Cargo.toml"), cargo)?;
    if !standalone.is_empty() {
        std::fs::create_dir_all(root.join(".cargo"))?;
        std::fs::write(root.join(".cargo").join("config.toml"), PLUGIN_CARGO_CONFIG)?;
    }
    let lib = if elastic_from.is_some() {
        elastic_template::lib_rs(manifest)
    } else {
        lib_rs(manifest)
    };
    std::fs::write(root.join("src").join("lib.rs"), lib)?;
    Ok(())
}

/// The Python project: pyproject.toml, the module, and a unit test that runs natively.
fn write_python(root: &Path, name: &str, version: &Version, manifest: &Manifest) -> Result<()> {
    let module = super::python::module_name(name);
    let (sdk_name, sdk_version) = python_sdk();
    let sdk_major: u64 = sdk_version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(1);
    let requirement = format!("{sdk_name}>={sdk_version},<{}", sdk_major + 1);
    let pyproject = format!(
        r#"[project]
name = "{name}"
version = "{version}"
requires-python = ">=3.11"
# The Python SDK, installed into the environment whose python3 builds and tests the plugin:
# pip install "{requirement}"
dependencies = ["{requirement}"]

# What cutover needs to build and test the plugin (`cutover plugin build|test|guide`).
[tool.cutover]
# The module componentize-py exports: it ends with `WitWorld = export(...)`.
module = "{module}"
# The real spec of the version this plugin produces (and, optionally, source-spec for the
# versions it migrates from); fixture configs are validated against them.
# target-spec = "fixtures/spec-{version}.json"
"#
    );
    std::fs::write(root.join("pyproject.toml"), pyproject)?;
    std::fs::write(root.join(format!("{module}.py")), python_module(manifest))?;
    std::fs::create_dir_all(root.join("tests"))?;
    let sdk = std::fs::canonicalize(super::python::sdk_dir())
        .unwrap_or_else(|_| super::python::sdk_dir());
    let tests = std::fs::canonicalize(root.join("tests"))?;
    // Inside this repository the SDK is found relative to the test; elsewhere it is the
    // installed package.
    let sdk_path = relative(&tests, &sdk)
        .map(|rel| format!("HERE.joinpath({:?}).resolve()", rel.display().to_string()));
    std::fs::write(
        root.join("tests").join(format!("test_{module}.py")),
        python_test(&module, manifest, sdk_path.as_deref()),
    )?;
    Ok(())
}

/// `to` relative to `from` when both are in one repository (share a `.git` ancestor).
fn relative(from: &Path, to: &Path) -> Option<PathBuf> {
    let common = from.ancestors().find(|a| to.starts_with(a))?;
    if !common.ancestors().any(|a| a.join(".git").exists()) {
        return None;
    }
    let ups = from.strip_prefix(common).ok()?.components().count();
    let mut rel = PathBuf::new();
    for _ in 0..ups {
        rel.push("..");
    }
    Some(rel.join(to.strip_prefix(common).ok()?))
}

/// The previous major (or minor, for a breaking minor) of `version`: where its range starts.
fn previous_version(version: &Version) -> Version {
    match (version.major, version.minor) {
        (0, m) => Version::new(0, m.saturating_sub(1), 0),
        (major, 0) => Version::new(major - 1, 0, 0),
        (major, minor) => Version::new(major, minor - 1, 0),
    }
}

fn name_of(connector: &str) -> &str {
    connector.rsplit('/').next().unwrap_or(connector)
}

/// The nearest enclosing workspace manifest that declares `cutover-plugin` as a workspace
/// dependency, if any.
fn workspace_with_sdk(dir: &Path) -> Result<Option<PathBuf>> {
    let start = if dir.exists() {
        std::fs::canonicalize(dir)?
    } else {
        std::path::absolute(dir)?
    };
    for ancestor in start.ancestors() {
        let manifest = ancestor.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let doc: toml::Table = text
            .parse()
            .with_context(|| format!("{} is not valid TOML", manifest.display()))?;
        if let Some(workspace) = doc.get("workspace") {
            let has_sdk = workspace
                .get("dependencies")
                .and_then(|d| d.get("cutover-plugin"))
                .is_some();
            return Ok(has_sdk.then_some(manifest));
        }
    }
    Ok(None)
}

fn lib_rs(m: &Manifest) -> String {
    let manifest = super::metadata::to_rust(m).replace('\n', "\n        ");
    let uses_deadline = m.deadline_action.is_some();
    format!(
        r#"//! {connector} {produces}: the connector's migration guide for this version, as code.
//!
//! Say here what changed in {produces}, what this plugin does to each connection's config,
//! catalog and state, and what it leaves to the operator (the actions it returns).

use cutover_plugin::{{Connection, {deadline}Manifest, Migration, Outcome, Result}};

/// The guide shown by `cutover plugin guide` and in plans: what changes and what to do.
const GUIDE: &str = "Describe what the migration changes and what the operator must still do.";

pub struct Plugin;

impl Migration for Plugin {{
    fn manifest() -> Manifest {{
        {manifest}
    }}

    fn migrate(connection: Connection) -> Result<Outcome> {{
        let out = connection.into_outcome();
        // Transform out.config, out.catalog and out.state with the helpers in
        // cutover_plugin::{{catalog, state, schema, config}}; add what is left to the
        // operator with out.action(…) and explain what was done with out.note(…).
        Ok(out)
    }}
}}

cutover_plugin::export!(Plugin);

#[cfg(test)]
mod tests {{
    use super::*;
    use cutover_plugin::json;

    #[test]
    fn keeps_a_connection_it_has_nothing_to_change_in() {{
        let connection = Connection {{
            id: "c".into(),
            connector: {connector:?}.into(),
            version: "0.0.0".into(),
            config: json!({{"start_date": "2024-01-01T00:00:00Z"}}),
            catalog: json!({{"streams": []}}),
            state: Vec::new(),
        }};
        let out = Plugin::migrate(connection.clone()).unwrap();
        assert_eq!(out.config, connection.config);
        assert!(out.actions.is_empty());
        assert_eq!(Plugin::manifest().produces, {produces:?});
    }}
}}
"#,
        connector = m.connector,
        produces = m.produces,
        deadline = if uses_deadline {
            "DeadlineAction, "
        } else {
            ""
        },
    )
}

fn python_module(m: &Manifest) -> String {
    let manifest = super::metadata::to_python(m).replace('\n', "\n        ");
    let deadline = if m.deadline_action.is_some() {
        "DeadlineAction, "
    } else {
        ""
    };
    format!(
        r#""""{connector} {produces}: the connector's migration guide for this version, as code.

Say here what changed in {produces}, what this plugin does to each connection's config,
catalog and state, and what it leaves to the operator (the actions it returns).
"""

from cutover_plugin import {deadline}Manifest, Migration, export

#: The guide shown by `cutover plugin guide` and in plans: what changes and what to do.
GUIDE = "Describe what the migration changes and what the operator must still do."


class Plugin(Migration):
    def manifest(self):
        return {manifest}

    def migrate(self, connection):
        out = connection.into_outcome()
        # Transform out.config, out.catalog and out.state with the helpers in
        # cutover_plugin.{{catalog, state, schema, config}}; add what is left to the operator
        # with out.action(...) and explain what was done with out.note(...).
        return out


WitWorld = export(Plugin)
"#,
        connector = m.connector,
        produces = m.produces,
    )
}

fn python_test(module: &str, m: &Manifest, sdk_path: Option<&str>) -> String {
    let path = match sdk_path {
        Some(sdk) => format!("sys.path[:0] = [str(HERE.parent), str({sdk})]"),
        None => "sys.path[:0] = [str(HERE.parent)]".to_owned(),
    };
    format!(
        r#""""The plugin's logic, natively: `python3 -m unittest discover -s tests` from the plugin's folder."""

import pathlib
import sys
import unittest

HERE = pathlib.Path(__file__).resolve().parent
{path}

from cutover_plugin import Connection  # noqa: E402
from {module} import Plugin  # noqa: E402


class PluginTest(unittest.TestCase):
    def test_keeps_a_connection_it_has_nothing_to_change_in(self):
        connection = Connection("c", {connector:?}, "0.0.0", {{"start_date": "2024-01-01T00:00:00Z"}}, {{"streams": []}}, [])
        out = Plugin().migrate(connection)
        self.assertEqual(out.config, {{"start_date": "2024-01-01T00:00:00Z"}})
        self.assertEqual(out.actions, [])
        self.assertEqual(Plugin().manifest().produces, {produces:?})


if __name__ == "__main__":
    unittest.main()
"#,
        connector = m.connector,
        produces = m.produces,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ranges() {
        assert_eq!(
            crate_name("airbyte/source-github", &Version::new(3, 0, 0)),
            "source-github-v3"
        );
        assert_eq!(
            crate_name("airbyte/source-facebook-marketing", &Version::new(3, 1, 0)),
            "source-facebook-marketing-v3-1"
        );
        assert_eq!(
            previous_version(&Version::new(3, 1, 0)),
            Version::new(3, 0, 0)
        );
        assert_eq!(
            previous_version(&Version::new(2, 0, 0)),
            Version::new(1, 0, 0)
        );
        assert_eq!(
            crate_name("elastic/sharepoint_online", &Version::new(8, 9, 0)),
            "elastic-sharepoint-online-v8-9"
        );
        assert_eq!(
            crate_name("elastic/*", &Version::new(9, 0, 0)),
            "elastic-every-source-v9"
        );
    }
}
