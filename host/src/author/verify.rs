//! `cutover plugin verify`: a breaking version's migration checked by the real new connector.
//!
//! The golden cases pin down what the plugin writes (checked through the sandbox by
//! `plugin test`); here each case's migrated connection (`expected.json`) is handed to the
//! real connector of the version produced, installed from PyPI and run offline
//! ([`super::connector`]):
//!
//! 1. the migrated config validates against the spec that connector prints;
//! 2. every synced stream of the migrated catalog is what that connector discovers for
//!    the migrated config (schema, sync modes, cursor, primary key). A migration that
//!    asks for a schema refresh (a database source's, whose catalog is the connection's own
//!    tables: it cannot rewrite columns it does not know) leaves the schemas to that
//!    refresh: each synced stream must still be discovered with the same sync modes,
//!    cursor and primary key, and the schemas the refresh takes are listed in the check's
//!    detail rather than as problems; the read then runs with them, as the connection
//!    will once refreshed;
//! 3. a `read` with every HTTP request answered by an empty page (or a recorded response,
//!    see [`super::connector`]) accepts the migrated config, catalog and state, and the
//!    state it emits for each stream cutover kept a state for does not go back: a stream
//!    whose progress is kept must not restart from `start_date`.
//!
//! A version that cannot be installed here (a Java connector) is checked statically: the
//! cases' configs against the committed spec and catalogs (what `plugin test` does), and the
//! report says so.
//!
//! A hand-written plugin is verified the same way as a generated one: the version it
//! produces is the folder its `target-spec` is kept in.

use super::connector::Installed;
use super::generated;
use super::offline::Recorded;
use super::package::Package;
use crate::conformance;
use crate::migration::Action;
use crate::specs::Spec;
use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// How a version was verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum How {
    /// The real new connector ran: spec, discover and read.
    NewConnector,
    /// The new connector could not be installed: committed spec and catalog only.
    Static,
}

/// The verification of one plugin.
#[derive(Debug, Serialize)]
pub struct Report {
    pub plugin: String,
    pub how: How,
    /// For a manifest-only version, the CDK its manifest ran on.
    pub runs_on: Option<String>,
    /// Where the recorded responses the connector was answered with come from (its
    /// `responses.json`'s `note`), when it had some.
    pub recorded: Option<String>,
    /// Each check that ran, `case: what`, with its problems (none when it passed).
    pub checks: Vec<Check>,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub case: String,
    pub what: String,
    pub problems: Vec<String>,
    /// What the check looked at, e.g. how many kept states the read was held to.
    pub detail: String,
}

impl Report {
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.problems.is_empty())
    }
}

/// What a plugin is verified as: the connector and version it produces and that version's
/// fixture folder (`tests/fixtures/<source>/<version>/`: its spec, catalog and how it
/// installs).
struct Produced {
    /// The plugin's folder name, which its result is recorded under.
    plugin: String,
    source: String,
    version: String,
    here: PathBuf,
    /// The committed spec of the version, for a static check.
    spec: PathBuf,
}

impl Produced {
    /// A generated plugin says it in its table; a hand-written one by its `target-spec`, kept
    /// in the folder of the version it produces.
    fn of(dir: &Path) -> Result<Self> {
        let package = Package::open(dir)?;
        let plugin = std::path::absolute(dir)?
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let spec = package.target_spec.with_context(|| {
            format!(
                "{plugin} names no target spec (`target-spec` in [package.metadata.cutover]): \
                 there is no version to verify it against"
            )
        })?;
        let here = spec.parent().map(Path::to_path_buf).unwrap_or_default();
        let (source, version) = if package.generated {
            let table = generated::read_table(dir)?;
            let source = table.connector.rsplit('/').next().unwrap_or_default();
            (source.to_owned(), table.new.version)
        } else {
            let name = |p: Option<&Path>| {
                p.and_then(Path::file_name)
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            };
            (name(here.parent()), name(Some(&here)))
        };
        if !source.starts_with("source-") || semver::Version::parse(&version).is_err() {
            bail!(
                "{plugin}: its target spec {} is not in a version's fixture folder \
                 (tests/fixtures/source-<name>/<version>/), so the version it produces is unknown",
                spec.display()
            );
        }
        Ok(Self {
            plugin,
            source,
            version,
            here,
            spec,
        })
    }
}

/// Verifies the plugin at `dir` (generated, or a hand-written crate) against its new
/// connector in `venvs` (installed there if `install`; a manifest-only or image-only version
/// from the monorepo's history in `monorepo`).
pub fn verify(dir: &Path, venvs: &Path, install: bool, monorepo: Option<&Path>) -> Result<Report> {
    let Produced {
        plugin: name,
        source,
        version,
        here,
        spec,
    } = Produced::of(dir)?;
    let installed = if install {
        match super::import::install(venvs, &source, &version, &here, monorepo) {
            Ok(installed) => Some(installed),
            Err(e) => {
                tracing::warn!("{name}: checked statically: {e:#}");
                None
            }
        }
    } else {
        Installed::existing(venvs, &source, &version, &here)?
    };
    // A connector whose paginator reads fields an empty `{}` lacks keeps its empty page
    // beside its fixtures.
    let empty_page = here
        .parent()
        .map(|connector| connector.join("empty-page.json"))
        .and_then(|p| std::fs::read_to_string(p).ok());
    let installed = installed.map(|i| i.answering(empty_page));
    let cases = super::golden::cases(&dir.join("fixtures"))?;
    let mut checks = Vec::new();
    let how = if installed.is_some() {
        How::NewConnector
    } else {
        How::Static
    };
    let work = tempfile::tempdir()?;
    let real_spec = match &installed {
        Some(i) => {
            let spec = i.spec(work.path())?;
            let path = work.path().join("new-spec.json");
            std::fs::write(&path, serde_json::to_vec(&spec)?)?;
            Spec::read(&path).map_err(anyhow::Error::msg)?
        }
        None => Spec::read(&spec).map_err(anyhow::Error::msg)?,
    };
    for case in cases {
        let expected = case.dir.join("expected.json");
        if !expected.is_file() {
            continue; // a refusal case: nothing is written, nothing to run
        }
        let migrated: Value = serde_json::from_slice(&std::fs::read(&expected)?)
            .with_context(|| format!("{} is not JSON", expected.display()))?;
        let input: Value = serde_json::from_slice(&std::fs::read(case.dir.join("input.json"))?)?;
        let config = &migrated["config"];
        checks.push(Check {
            case: case.name.clone(),
            what: "the migrated config validates against the new spec".into(),
            problems: real_spec.problems(config),
            detail: format!(
                "spec of {}",
                if installed.is_some() {
                    "the installed connector"
                } else {
                    "the committed fixture"
                }
            ),
        });
        let Some(installed) = &installed else {
            continue;
        };
        let case_work = work.path().join(&case.name);
        std::fs::create_dir_all(&case_work)?;
        let discovered = installed.discover(config, &case_work);
        let refresh = asks_for_refresh(&case.dir)?;
        let mut catalog = migrated["catalog"].clone();
        let (problems, refreshed) = match &discovered {
            Ok(found) => {
                catalog_problems(&mut catalog, found, refresh.then_some(&input["catalog"]))
            }
            Err(e) => (vec![format!("discover failed: {e:#}")], Vec::new()),
        };
        let synced = cutover_plugin::catalog::streams(&catalog).len();
        checks.push(Check {
            case: case.name.clone(),
            what: if refresh {
                "every synced stream is what the new connector discovers, its schema once refreshed as the migration asks".into()
            } else {
                "every synced stream is what the new connector discovers".into()
            },
            problems,
            detail: if refreshed.is_empty() {
                format!("{synced} synced stream(s)")
            } else {
                format!(
                    "{synced} synced stream(s); the refresh takes the new schema of {}",
                    refreshed.join("; ")
                )
            },
        });
        let read = installed.read(config, &catalog, &migrated["state"], &case_work);
        let (problems, detail) = match &read {
            Ok(messages) => progress_problems(&input["state"], &migrated["state"], messages),
            Err(e) => (vec![format!("read failed: {e:#}")], String::new()),
        };
        checks.push(Check {
            case: case.name.clone(),
            what: "a read accepts the migrated state and its cursors do not go back".into(),
            problems,
            detail,
        });
    }
    let runs_on = installed.as_ref().and_then(Installed::runs_on);
    let recorded = installed
        .as_ref()
        .and_then(|i| i.responses.as_ref())
        .map(Recorded::described);
    Ok(Report {
        plugin: name,
        how,
        runs_on,
        recorded,
        checks,
    })
}

/// Whether a case's migration leaves a schema refresh to the operator (its `actions.json`).
fn asks_for_refresh(case: &Path) -> Result<bool> {
    let path = case.join("actions.json");
    let actions: Vec<Action> = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a list of actions", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    Ok(actions
        .iter()
        .any(|a| matches!(a, Action::RefreshSchema { .. })))
}

/// Each synced stream that differs from the connector's discovered one, by the fields
/// the connector decides. With `left_to_refresh` (the case's input catalog, when its
/// migration asks for a schema refresh), a schema the migration left as the input had it
/// is not a problem but is taken into `migrated` (what the refresh does), and its stream
/// is listed with how it differed; a schema the migration rewrote must be the discovered
/// one, refresh or not, so the refresh never hides a wrong rewrite.
fn catalog_problems(
    migrated: &mut Value,
    discovered: &Value,
    left_to_refresh: Option<&Value>,
) -> (Vec<String>, Vec<String>) {
    let (mut problems, mut refreshed) = (Vec::new(), Vec::new());
    for entry in cutover_plugin::catalog::streams_mut(migrated) {
        let name = entry["stream"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let Some(found) = discovered["streams"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["name"] == name)
        else {
            problems.push(format!("{name}: the new connector does not discover it"));
            continue;
        };
        let untouched = left_to_refresh
            .and_then(|input| cutover_plugin::catalog::find(input, &name))
            .is_some_and(|before| {
                before["stream"]["json_schema"] == entry["stream"]["json_schema"]
            });
        for d in conformance::differences(&entry["stream"], found) {
            if untouched && d.starts_with("json_schema ") {
                refreshed.push(format!("{name} ({d})"));
                entry["stream"]["json_schema"] = found["json_schema"].clone();
            } else {
                problems.push(format!("{name}: {d}"));
            }
        }
    }
    (problems, refreshed)
}

/// For every stream whose state cutover kept (unchanged from the input), the state the
/// read emits must hold cursor values no earlier than the kept ones.
fn progress_problems(before: &Value, kept: &Value, messages: &[Value]) -> (Vec<String>, String) {
    let mut problems = Vec::new();
    let (mut held, mut silent) = (0, 0);
    let emitted: Vec<&Value> = messages
        .iter()
        .filter(|m| m["type"] == "STATE")
        .map(|m| &m["state"])
        .collect();
    for message in kept.as_array().into_iter().flatten() {
        let Some(stream) = message.get("stream") else {
            continue;
        };
        let name = stream["stream_descriptor"]["name"]
            .as_str()
            .unwrap_or_default();
        let unchanged = before
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| m.get("stream") == Some(stream));
        if !unchanged {
            continue;
        }
        let Some(last) = emitted
            .iter()
            .rev()
            .find(|s| s["stream"]["stream_descriptor"]["name"] == name)
        else {
            // A stream that reads nothing may emit no state; its state is then untouched.
            silent += 1;
            continue;
        };
        held += 1;
        let kept_max = max_leaf(&stream["stream_state"]);
        let emitted_max = max_leaf(&last["stream"]["stream_state"]);
        if let (Some(k), e) = (&kept_max, &emitted_max)
            && e.as_ref().is_none_or(|e| e < k)
        {
            problems.push(format!(
                "{name}: the state kept at {k} comes back at {}: the connector did not accept it",
                e.as_deref().unwrap_or("nothing")
            ));
        }
    }
    let detail = format!(
        "{} state message(s) emitted; {held} kept state(s) held to the emitted ones, {silent} stream(s) with a kept state emitted none",
        emitted.len()
    );
    (problems, detail)
}

/// The greatest cursor-like leaf of a state: date or date-time strings, compared as text
/// (ISO 8601 sorts as time); integers as zero-padded text. A date or date-time is first
/// written as an instant in UTC with every fraction digit, so that one instant written
/// several ways compares equal: with an offset (`…00Z`, `…00+00:00`, `…00.000Z`), without
/// one (`2024-06-01T00:00:00`, which connectors read as UTC), or as a date (`2024-06-01`,
/// its midnight in UTC).
fn max_leaf(state: &Value) -> Option<String> {
    match state {
        Value::String(s) if s.len() >= 10 && s.as_bytes()[4] == b'-' => {
            Some(as_instant(s).unwrap_or_else(|| s.clone()))
        }
        Value::Number(n) => n.as_u64().map(|n| format!("{n:020}")),
        Value::Object(map) => map.values().filter_map(max_leaf).max(),
        Value::Array(items) => items.iter().filter_map(max_leaf).max(),
        _ => None,
    }
}

/// A date or date-time as the instant it names, in UTC, written with every fraction digit.
fn as_instant(text: &str) -> Option<String> {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    use time::macros::format_description;
    let utc = time::OffsetDateTime::parse(text, &Rfc3339)
        .map(|t| t.to_offset(time::UtcOffset::UTC))
        .or_else(|_| {
            time::PrimitiveDateTime::parse(text, &Iso8601::DEFAULT).map(|t| t.assume_utc())
        })
        .or_else(|_| {
            time::Date::parse(text, format_description!("[year]-[month]-[day]"))
                .map(|d| d.midnight().assume_utc())
        })
        .ok()?;
    utc.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z"
    ))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stream_state(value: Value) -> Value {
        json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": "s"}, "stream_state": value}})
    }

    /// A schema that differs is a problem, unless the migration asks for a refresh and left
    /// that schema as it was: then the refresh takes it (and the read runs with it), but a
    /// schema the migration rewrote, a stream the connector no longer discovers, or one
    /// whose sync modes changed, still is one.
    #[test]
    fn a_refresh_takes_the_new_schemas_and_nothing_else() {
        let stream = |name: &str, column: &str, modes: Value| {
            json!({"name": name, "json_schema": {"type": "object", "properties": {"c": {"type": column}}},
                   "supported_sync_modes": modes})
        };
        let full = json!(["full_refresh"]);
        let migrated = json!({"streams": [
            {"stream": stream("orders", "integer", full.clone()), "sync_mode": "full_refresh"},
            {"stream": stream("events", "string", full.clone()), "sync_mode": "full_refresh"},
            {"stream": stream("gone", "string", full.clone()), "sync_mode": "full_refresh"}]});
        let discovered = json!({"streams": [
            stream("orders", "boolean", full.clone()),
            stream("events", "string", json!(["full_refresh", "incremental"]))]});
        let mut kept = migrated.clone();
        let (problems, refreshed) = catalog_problems(&mut kept, &discovered, None);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(refreshed.is_empty());
        assert_eq!(
            kept, migrated,
            "without a refresh, the catalog is read as migrated"
        );
        let mut refreshed_catalog = migrated.clone();
        let (problems, refreshed) =
            catalog_problems(&mut refreshed_catalog, &discovered, Some(&migrated));
        assert_eq!(
            problems,
            vec![
                "events: supported_sync_modes is [\"full_refresh\"], not [\"full_refresh\",\"incremental\"]".to_owned(),
                "gone: the new connector does not discover it".to_owned()
            ]
        );
        assert_eq!(refreshed.len(), 1);
        assert!(
            refreshed[0].starts_with("orders (json_schema differs at /properties/c/type"),
            "{refreshed:?}"
        );
        assert_eq!(
            refreshed_catalog["streams"][0]["stream"]["json_schema"]["properties"]["c"],
            json!({"type": "boolean"})
        );
        assert_eq!(refreshed_catalog["streams"][0]["sync_mode"], "full_refresh");
        // A schema the migration rewrote (here to `number`) is held to the discovered one.
        let mut rewritten = migrated.clone();
        rewritten["streams"][0]["stream"]["json_schema"]["properties"]["c"]["type"] =
            json!("number");
        let (problems, refreshed) = catalog_problems(&mut rewritten, &discovered, Some(&migrated));
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("orders: json_schema differs")),
            "{problems:?}"
        );
        assert!(refreshed.is_empty(), "{refreshed:?}");
    }

    #[test]
    fn a_plugin_produces_the_version_its_target_spec_is_kept_for() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let produced =
            |dir: &str| Produced::of(&repo.join(dir)).map(|p| (p.plugin, p.source, p.version));
        let owned = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
        assert_eq!(
            produced("plugins/source-pinterest-v2").unwrap(),
            owned("source-pinterest-v2", "source-pinterest", "2.0.0")
        );
        assert_eq!(
            produced("plugins/source-facebook-marketing-v3-1").unwrap(),
            owned(
                "source-facebook-marketing-v3-1",
                "source-facebook-marketing",
                "3.1.0"
            )
        );
        assert_eq!(
            produced("plugins/generated/source-recharge-3.0.0").unwrap(),
            owned("source-recharge-3.0.0", "source-recharge", "3.0.0")
        );
        let none = produced("tests/guests/partition-state").unwrap_err();
        assert!(
            format!("{none:#}").contains("names no target spec"),
            "{none:#}"
        );
    }

    #[test]
    fn a_cursor_that_goes_back_is_named() {
        let kept = json!([stream_state(json!({"updated_at": "2024-06-01T00:00:00Z"}))]);
        let ok = vec![
            json!({"type": "STATE", "state": stream_state(json!({"updated_at": "2024-06-01T00:00:00Z"}))}),
        ];
        assert!(progress_problems(&kept, &kept, &ok).0.is_empty());
        let back = vec![
            json!({"type": "STATE", "state": stream_state(json!({"updated_at": "2017-01-25T00:00:00Z"}))}),
        ];
        assert_eq!(progress_problems(&kept, &kept, &back).0.len(), 1);
        let same_instant = vec![
            json!({"type": "STATE", "state": stream_state(json!({"updated_at": "2024-06-01T02:00:00+02:00"}))}),
        ];
        assert!(
            progress_problems(&kept, &kept, &same_instant).0.is_empty(),
            "one instant in another offset is not a step back"
        );
        let naive = vec![
            json!({"type": "STATE", "state": stream_state(json!({"updated_at": "2024-06-01T00:00:00"}))}),
        ];
        assert!(
            progress_problems(&kept, &kept, &naive).0.is_empty(),
            "a date-time without an offset is read as UTC"
        );
        let date = vec![
            json!({"type": "STATE", "state": stream_state(json!({"updated_at": "2024-06-01"}))}),
        ];
        assert!(
            progress_problems(&kept, &kept, &date).0.is_empty(),
            "a date is its midnight"
        );
        let day_before = vec![
            json!({"type": "STATE", "state": stream_state(json!({"updated_at": "2024-05-31"}))}),
        ];
        assert_eq!(progress_problems(&kept, &kept, &day_before).0.len(), 1);
        let an_hour_back = vec![
            json!({"type": "STATE", "state": stream_state(json!({"updated_at": "2024-06-01T00:00:00+01:00"}))}),
        ];
        assert_eq!(progress_problems(&kept, &kept, &an_hour_back).0.len(), 1);
        let changed = json!([]);
        assert!(
            progress_problems(&changed, &kept, &back).0.is_empty(),
            "only states cutover kept are held to it"
        );
    }
}
