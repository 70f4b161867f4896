//! `cutover plugin import`: a breaking version's plugin made from the connector's own
//! metadata and its real packages.
//!
//! From the connector's `metadata.yaml` it takes the `breakingChanges` entry; it installs
//! the last version before the break and the breaking version from PyPI
//! ([`super::connector`]), runs `spec` and `discover` offline, and writes:
//!
//! - `<fixtures>/source-<name>/<version>/spec.json` and `catalog.json` for each side, one
//!   copy per version, shared by every plugin that needs it;
//! - `plugins/generated/source-<name>-<version>/plugin.json`, the version's table, with the
//!   lists only a reader of the migration guide can fill (renames, splits, config rewrites,
//!   records or state that changed, what the operator must supply) kept as they were;
//! - two golden cases, `fixtures/all-streams/input.json`, a connection at the old version
//!   that syncs every stream the old version discovers, incrementally with a cursor state
//!   where it can, and `fixtures/full-refresh/input.json`, the same streams by full
//!   refresh into overwrite (bless them with `cutover plugin test --bless`).
//!
//! Every file is written only when its content changes, so importing an unchanged version
//! again changes nothing.

use super::connector::Installed;
use super::metadata;
use anyhow::{Context, Result, bail};
use cutover_plugin::breaking::{Side, Table};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// What to import.
pub struct Request {
    /// The connector's `metadata.yaml`.
    pub metadata: PathBuf,
    /// The breaking version.
    pub version: String,
    /// The last version before it (the old side).
    pub previous: String,
    /// Where versions' specs and catalogs go: `<fixtures>/source-<name>/<version>/`.
    pub fixtures: PathBuf,
    /// Where the plugin's folder goes.
    pub plugins: PathBuf,
    /// Where the connectors' venvs are (and are installed).
    pub venvs: PathBuf,
    /// A git directory of airbytehq/airbyte with its history, where a manifest-only
    /// version's manifest is taken from ([`super::declarative`]); needed only for versions
    /// not yet kept.
    pub monorepo: Option<PathBuf>,
}

/// Imports one breaking version; returns the plugin's folder.
pub fn import(request: &Request) -> Result<PathBuf> {
    let breaking = metadata::read(&request.metadata)?;
    let manifest = breaking
        .manifests
        .iter()
        .find(|m| m.produces == request.version)
        .with_context(|| {
            format!(
                "{} declares no breaking change {}",
                request.metadata.display(),
                request.version
            )
        })?;
    let source = breaking
        .connector
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let connector_fixtures = request.fixtures.join(&source);
    let dir = request
        .plugins
        .join(format!("{source}-{}", request.version));
    let work = tempfile::tempdir()?;
    for version in [&request.previous, &request.version] {
        side(
            &source,
            version,
            &connector_fixtures,
            &request.venvs,
            request.monorepo.as_deref(),
            work.path(),
        )?;
    }
    let relative = |version: &str, file: &str| -> Result<String> {
        relative_path(&dir, &connector_fixtures.join(version).join(file))
    };
    let mut table = match std::fs::read_to_string(dir.join(super::generated::TABLE)) {
        Ok(text) => serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a table; fix or remove it",
                dir.join(super::generated::TABLE).display()
            )
        })?,
        Err(_) => Table::default(),
    };
    table.connector = manifest.connector.clone();
    table.applies_to = manifest.applies_to.clone();
    table.produces = manifest.produces.clone();
    table.message = manifest.message.clone();
    table.upgrade_deadline = manifest.upgrade_deadline.clone();
    table.deadline_action = manifest.deadline_action.map(|a| match a {
        crate::manifest::DeadlineAction::Disable => "disable".to_owned(),
        crate::manifest::DeadlineAction::AutoUpgrade => "auto_upgrade".to_owned(),
    });
    table.documentation_url = manifest.documentation_url.clone();
    table.scoped_impact = manifest.scoped_streams.clone();
    table.old = Side {
        version: request.previous.clone(),
        catalog: relative(&request.previous, "catalog.json")?,
        spec: relative(&request.previous, "spec.json")?,
    };
    table.new = Side {
        version: request.version.clone(),
        catalog: relative(&request.version, "catalog.json")?,
        spec: relative(&request.version, "spec.json")?,
    };
    table
        .check()
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    write_if_changed(
        &dir.join(super::generated::TABLE),
        &pretty(&serde_json::to_value(&table)?),
    )?;

    let old_catalog = read_json(
        &connector_fixtures
            .join(&request.previous)
            .join("catalog.json"),
    )?;
    // A cursor value in the form the connector's API gives (`cursor.txt` beside its
    // fixtures) for the streams whose state the connector does not emit offline.
    let cursor_value = std::fs::read_to_string(connector_fixtures.join("cursor.txt"))
        .map(|c| c.trim().to_owned())
        .unwrap_or_else(|_| format!("{PROGRESS}T00:00:00Z"));
    let recorded = record_state(
        &source,
        &request.previous,
        &connector_fixtures,
        &request.venvs,
        work.path(),
    )?;
    let config = read_json(
        &connector_fixtures
            .join(&request.previous)
            .join("config.json"),
    )?;
    // The full-refresh case syncs only the streams the break touches (and the first
    // other one), so the fixtures stay small.
    let compiled = super::generated::compile(&dir)?;
    let touched: Vec<&String> = compiled
        .changed
        .keys()
        .chain(&compiled.removed)
        .chain(compiled.table.renamed.keys())
        .chain(compiled.table.split.keys())
        .chain(&compiled.table.scoped_impact)
        .chain(&compiled.table.records_changed)
        .chain(&compiled.table.state_changed)
        .collect();
    let mut first_other = true;
    let full_refresh = |name: &str| {
        touched.iter().any(|t| *t == name) || std::mem::replace(&mut first_other, false)
    };
    let cases: [(&str, bool, Box<dyn FnMut(&str) -> bool>); 2] = [
        ("all-streams", true, Box::new(|_: &str| true)),
        ("full-refresh", false, Box::new(full_refresh)),
    ];
    for (name, incremental, keep) in cases {
        let case = dir.join("fixtures").join(name).join("input.json");
        if !case.is_file() {
            let input = every_stream(
                name,
                &table,
                &config,
                &old_catalog,
                incremental,
                keep,
                &recorded,
                &cursor_value,
            );
            let mut bytes = serde_json::to_vec(&input)?;
            bytes.push(b'\n');
            write_if_changed(&case, &bytes)?;
        }
    }
    Ok(dir)
}

/// The state messages the old connector emits when it reads every stream it can
/// incrementally with no state and every request answered by an empty page: real states,
/// in its own shape and cursor format, for the golden inputs. Kept as `state.json` beside
/// its catalog; empty when the connector emits none or cannot read offline.
fn record_state(
    source: &str,
    version: &str,
    fixtures: &Path,
    venvs: &Path,
    work: &Path,
) -> Result<Vec<Value>> {
    let path = fixtures.join(version).join("state.json");
    if let Ok(recorded) = read_json(&path) {
        return Ok(recorded.as_array().cloned().unwrap_or_default());
    }
    let Some(installed) = Installed::existing(venvs, source, version, &fixtures.join(version))?
    else {
        return Ok(Vec::new());
    };
    // Answered as the verification answers: with the connector's own empty page.
    let installed =
        installed.answering(std::fs::read_to_string(fixtures.join("empty-page.json")).ok());
    let catalog = read_json(&fixtures.join(version).join("catalog.json"))?;
    let config = read_json(&fixtures.join(version).join("config.json"))?;
    let table = Table::default();
    let configured = every_stream(
        "record",
        &table,
        &config,
        &catalog,
        true,
        Box::new(|_: &str| true),
        &[],
        "2024-06-01T00:00:00Z",
    );
    let mut last = std::collections::BTreeMap::new();
    match installed.read(&config, &configured["catalog"], &json!([]), work) {
        Ok(messages) => {
            for m in messages.into_iter().filter(|m| m["type"] == "STATE") {
                let state = &m["state"];
                if state["type"] == "STREAM"
                    && let Some(name) = state["stream"]["stream_descriptor"]["name"].as_str()
                    && state["stream"]["stream_state"]
                        .as_object()
                        .is_some_and(|o| !o.is_empty())
                {
                    last.insert(name.to_owned(), state.clone());
                }
            }
        }
        Err(e) => tracing::warn!(
            "{source} {version} cannot read offline, golden states are made up: {e:#}"
        ),
    }
    let recorded: Vec<Value> = last.into_values().collect();
    write_if_changed(&path, &pretty(&Value::Array(recorded.clone())))?;
    Ok(recorded)
}

/// Where the golden states' cursors stand: after any start date a spec's examples give, so
/// that a connector that drops a kept state (and restarts from the start date) is caught.
const PROGRESS: &str = "2024-06-01";
const PROGRESS_EPOCH: u64 = 1_717_200_000;

/// Moves every cursor-like value of a recorded state (an ISO date or date-time, epoch
/// seconds or milliseconds) forward to [`PROGRESS`], keeping the connector's format.
fn advance(state: &mut Value) {
    match state {
        Value::String(s)
            if s.len() >= 10
                && s.as_bytes()[4] == b'-'
                && s.as_bytes()[7] == b'-'
                && s[..10] < *PROGRESS =>
        {
            s.replace_range(..10, PROGRESS);
        }
        Value::Number(n) => {
            let moved = match n.as_u64() {
                Some(v) if (1_000_000_000..PROGRESS_EPOCH).contains(&v) => Some(PROGRESS_EPOCH),
                Some(v) if (1_000_000_000_000..PROGRESS_EPOCH * 1000).contains(&v) => {
                    Some(PROGRESS_EPOCH * 1000)
                }
                _ => None,
            };
            if let Some(m) = moved {
                *state = Value::from(m);
            }
        }
        Value::Object(map) => map.values_mut().for_each(advance),
        Value::Array(items) => items.iter_mut().for_each(advance),
        _ => {}
    }
}

/// The recorded state message of stream `name`.
fn recorded_state<'a>(recorded: &'a [Value], name: &str) -> Option<&'a Value> {
    recorded
        .iter()
        .find(|m| m["stream"]["stream_descriptor"]["name"] == name)
}

/// One side's spec, config and catalog, made by the real connector unless already there.
/// A manifest-only version's manifest comes from the monorepo's history the first time.
fn side(
    source: &str,
    version: &str,
    fixtures: &Path,
    venvs: &Path,
    monorepo: Option<&Path>,
    work: &Path,
) -> Result<()> {
    let here = fixtures.join(version);
    let spec_path = here.join("spec.json");
    let catalog_path = here.join("catalog.json");
    let config_path = here.join("config.json");
    if spec_path.is_file() && catalog_path.is_file() && config_path.is_file() {
        return Ok(());
    }
    // Discovered as the verification reads: with the connector's own empty page, where its
    // discover already calls the API (Shopify's access scopes, a token refresh).
    let installed = install(venvs, source, version, &here, monorepo)?
        .answering(std::fs::read_to_string(fixtures.join("empty-page.json")).ok());
    let spec = installed.spec(work)?;
    write_if_changed(&spec_path, &pretty(&spec))?;
    // The version's own config.json (kept from an earlier run, or written for a version
    // whose spec's patterns the connector's cannot meet: sftp-bulk's two `start_date`
    // formats exclude each other), else the connector's (values a spec's patterns demand),
    // else one made from the spec.
    let config = match read_json(&config_path).or_else(|_| read_json(&fixtures.join("config.json")))
    {
        Ok(c) => c,
        Err(_) => super::spec_config::config_from_spec(&spec),
    };
    write_if_changed(&config_path, &pretty(&config))?;
    let catalog = installed
        .discover(&config, work)
        .with_context(|| format!("discovering {source} {version} offline"))?;
    write_if_changed(&catalog_path, &pretty(&catalog))?;
    Ok(())
}

/// The connector `source` at `version` installed in `venvs`, from where it can come: PyPI,
/// or, with the monorepo's history, a manifest-only version's manifest or an image-only
/// version's source tree (each kept in `here`, the version's fixture folder, the first time).
pub(super) fn install(
    venvs: &Path,
    source: &str,
    version: &str,
    here: &Path,
    monorepo: Option<&Path>,
) -> Result<Installed> {
    // A version not on PyPI comes from the monorepo's history: a manifest-only one as its
    // manifest, a Python one that shipped as an image only as its source tree.
    if let Some(monorepo) = monorepo
        && super::declarative::read(here)?.is_none()
        && super::source_tree::read(here)?.is_none()
    {
        match super::declarative::from_history(monorepo, source, version, here) {
            Ok(Some(_)) => {}
            Ok(None) => {
                if !on_pypi(source, version)? {
                    super::source_tree::from_history(monorepo, source, version, here)?;
                }
            }
            // A version released after the monorepo's history ends is on PyPI alone.
            Err(e) => {
                if !on_pypi(source, version)? {
                    return Err(e);
                }
                tracing::debug!(
                    "{source} {version}: not in the monorepo's history ({e:#}); from PyPI"
                );
            }
        }
    }
    Ok(
        match (
            Installed::ensure(venvs, source, version, here, monorepo),
            monorepo,
        ) {
            (Ok(installed), _) => installed,
            // A package on PyPI that leaves its CDK unpinned now installs today's CDK, which its
            // code may not run on; its image was built from its source as of its release.
            (Err(e), Some(monorepo))
                if super::declarative::read(here)?.is_none()
                    && super::source_tree::read(here)?.is_none() =>
            {
                tracing::warn!(
                    "{source} {version} from PyPI does not run here ({e:#}); building it from its source"
                );
                super::source_tree::from_history(monorepo, source, version, here)?.with_context(
                    || format!("{source} {version} from PyPI does not run here: {e:#}"),
                )?;
                Installed::ensure(venvs, source, version, here, Some(monorepo))?
            }
            (Err(e), _) => return Err(e),
        },
    )
}

/// Whether PyPI has `airbyte-<source>` at `version` (Airbyte published Python connectors
/// there from 2024 on; older versions shipped as images only).
fn on_pypi(source: &str, version: &str) -> Result<bool> {
    // pip, not an HTTP client of our own: it honours the machine's index and certificates.
    let package = format!("airbyte-{source}=={version}");
    let work = tempfile::tempdir()?;
    let output = std::process::Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "--disable-pip-version-check",
            "-d",
        ])
        .arg(work.path())
        .arg(&package)
        .output()
        .context("running pip")?;
    if output.status.success() {
        return Ok(true);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("No matching distribution") {
        return Ok(false);
    }
    bail!("asking PyPI for {package}: {}", stderr.trim())
}

/// A connection at the old version syncing every stream it discovers: incrementally
/// where a stream can be (with a cursor state), or all by full refresh into overwrite.
#[allow(clippy::too_many_arguments)] // each is one part of the golden case being made
fn every_stream(
    id: &str,
    table: &Table,
    config: &Value,
    catalog: &Value,
    incremental_where_possible: bool,
    mut keep: Box<dyn FnMut(&str) -> bool + '_>,
    recorded: &[Value],
    cursor_value: &str,
) -> Value {
    let mut streams = Vec::new();
    let mut state = Vec::new();
    for stream in catalog["streams"].as_array().into_iter().flatten() {
        if !keep(stream["name"].as_str().unwrap_or_default()) {
            continue;
        }
        let incremental = incremental_where_possible
            && stream["supported_sync_modes"]
                .as_array()
                .is_some_and(|m| m.iter().any(|v| v == "incremental"));
        let cursor = stream
            .get("default_cursor_field")
            .filter(|c| c.as_array().is_some_and(|a| !a.is_empty()));
        let key = stream
            .get("source_defined_primary_key")
            .filter(|k| k.as_array().is_some_and(|a| !a.is_empty()));
        let mut entry = json!({"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"});
        if incremental && let Some(cursor) = cursor {
            entry["sync_mode"] = json!("incremental");
            entry["cursor_field"] = cursor.clone();
            entry["destination_sync_mode"] = json!(if key.is_some() {
                "append_dedup"
            } else {
                "append"
            });
            // The state the old connector itself emits for the stream (its shape and
            // cursor format), else a plain cursor value.
            let name = stream["name"].as_str().unwrap_or_default();
            match recorded_state(recorded, name) {
                Some(message) => {
                    let mut message = message.clone();
                    advance(&mut message["stream"]["stream_state"]);
                    state.push(message);
                }
                None => {
                    if let Some(field) = cursor[0].as_str() {
                        // An integer cursor (epoch seconds) gets a number, any other the
                        // date-time text.
                        let declared = &stream["json_schema"]["properties"][field]["type"];
                        let numeric = [declared.clone()]
                            .iter()
                            .chain(declared.as_array().into_iter().flatten())
                            .any(|t| t == "integer" || t == "number");
                        let value = if numeric {
                            json!(PROGRESS_EPOCH)
                        } else {
                            json!(cursor_value)
                        };
                        state.push(json!({"type": "STREAM", "stream": {
                            "stream_descriptor": {"name": name},
                            "stream_state": {field: value}}}));
                    }
                }
            }
        }
        if let Some(key) = key {
            entry["primary_key"] = key.clone();
        }
        streams.push(entry);
    }
    json!({
        "id": id,
        "name": format!("every stream of {} {} ({id})", table.connector, table.old.version),
        "connector": table.connector,
        "version": table.old.version,
        "pin": null,
        "config": config,
        "catalog": {"streams": streams},
        "state": state,
    })
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// JSON as the fixtures keep it: one-space indent, a final newline.
pub fn pretty(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(value, &mut ser).expect("a Value serializes");
    out.push(b'\n');
    out
}

/// Writes `bytes` to `path` unless it already holds them; returns whether it wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool> {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

/// `to` relative to the folder `from`, both taken from the working directory.
fn relative_path(from: &Path, to: &Path) -> Result<String> {
    let from = std::path::absolute(from)?;
    let to = std::path::absolute(to)?;
    let common = from
        .components()
        .zip(to.components())
        .take_while(|(a, b)| a == b)
        .count();
    if common == 0 {
        bail!("{} and {} share no root", from.display(), to.display());
    }
    let mut rel = PathBuf::new();
    for _ in from.components().skip(common) {
        rel.push("..");
    }
    for c in to.components().skip(common) {
        rel.push(c);
    }
    Ok(rel.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_cursors_move_forward_in_their_own_format() {
        let mut state = json!({"updated_at": "2017-01-25T00:00:00.000000Z", "ts": 1485302400, "ms": 1485302400000u64,
                               "later": "2025-01-01", "partitions": [{"cursor": {"day": "2020-01-01"}}], "page": 3});
        advance(&mut state);
        assert_eq!(
            state,
            json!({"updated_at": "2024-06-01T00:00:00.000000Z", "ts": 1717200000, "ms": 1717200000000u64,
                                 "later": "2025-01-01", "partitions": [{"cursor": {"day": "2024-06-01"}}], "page": 3})
        );
    }
}
