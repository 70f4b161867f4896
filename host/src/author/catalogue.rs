//! CATALOGUE.md: one row per breaking version Airbyte declares (the census), with the
//! plugin that migrates it, how that plugin is verified and the result. Generated from the
//! census, the plugins in the repository and the verification results, never by hand.

use super::verify::{How, Report};
use anyhow::{Context, Result as AnyResult};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;

/// One plugin's verification, as `plugin verify --results` records it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Result {
    pub plugin: String,
    pub how: String,
    pub passed: bool,
    pub checks: usize,
    pub problems: Vec<String>,
    /// What each check looked at.
    #[serde(default)]
    pub details: Vec<String>,
    pub date: String,
}

impl Result {
    pub fn from_report(report: &Report) -> Self {
        let today = time::OffsetDateTime::now_utc().date();
        Self {
            plugin: report.plugin.clone(),
            how: {
                let mut how = match report.how {
                    How::NewConnector => "new connector run (spec, discover, read)".to_owned(),
                    How::Static => "static (committed spec and catalog)".to_owned(),
                };
                if let Some(runs_on) = &report.runs_on {
                    how.push_str(&format!("; {runs_on}"));
                }
                if let Some(recorded) = &report.recorded {
                    how.push_str(&format!(
                        "; requests answered from recorded responses: {recorded}"
                    ));
                }
                how
            },
            passed: report.passed(),
            checks: report.checks.len(),
            problems: report
                .checks
                .iter()
                .flat_map(|c| c.problems.iter().map(move |p| format!("{}: {p}", c.case)))
                .collect(),
            details: report
                .checks
                .iter()
                .filter(|c| !c.detail.is_empty())
                .map(|c| format!("{}: {}: {}", c.case, c.what, c.detail))
                .collect(),
            date: today.to_string(),
        }
    }
}

/// One row of the census's table of breaking versions.
struct Row {
    connector: String,
    version: String,
    deadline: String,
    class: String,
    sides: String,
    bucket: String,
}

/// A plugin in the repository for one breaking version.
struct Plugin {
    name: String,
    kind: &'static str,
    needs_operator: bool,
    /// The table's `connector-faults`: streams the new version itself cannot read (the
    /// table says why). A failed row names them first, so a reader can tell a fault of the
    /// connector from one of the migration.
    connector_faults: Vec<String>,
}

fn census(path: &Path) -> AnyResult<(Vec<Row>, BTreeSet<String>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut rows = Vec::new();
    let mut most_used = BTreeSet::new();
    let mut section = "";
    for line in text.lines() {
        if line.starts_with("## ") {
            section = if line.starts_with("## 1.") {
                "versions"
            } else if line.starts_with("## 3.") {
                "most-used"
            } else {
                ""
            };
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 4
            || cells[1].starts_with("---")
            || cells[1] == "connector"
            || cells[1] == "#"
        {
            continue;
        }
        match section {
            "versions" if cells.len() >= 11 => rows.push(Row {
                connector: cells[1].into(),
                version: cells[2].into(),
                deadline: cells[3].into(),
                class: cells[6].into(),
                sides: cells[8].into(),
                bucket: cells[9].into(),
            }),
            "most-used" if cells.len() >= 6 => {
                most_used.insert(cells[2].to_owned());
            }
            _ => {}
        }
    }
    if rows.is_empty() {
        anyhow::bail!(
            "{} has no table of breaking versions (## 1.)",
            path.display()
        );
    }
    Ok((rows, most_used))
}

/// The plugins in `plugins`, by (connector, version): hand-written crates
/// (`source-x-vN`, their package version the one produced) and generated tables.
fn plugins(dir: &Path) -> AnyResult<BTreeMap<(String, String), Plugin>> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let Ok(text) = std::fs::read_to_string(path.join("Cargo.toml")) else {
            continue;
        };
        let Ok(doc) = text.parse::<toml::Table>() else {
            continue;
        };
        let package = &doc["package"];
        let (Some(name), Some(version)) = (
            package.get("name").and_then(|n| n.as_str()),
            package.get("version").and_then(|v| v.as_str()),
        ) else {
            continue;
        };
        let Some((connector, _)) = name.rsplit_once("-v") else {
            continue;
        };
        if let Some(short) = connector.strip_prefix("source-") {
            found.insert(
                (short.to_owned(), version.to_owned()),
                Plugin {
                    name: name.to_owned(),
                    kind: "hand-written",
                    needs_operator: false,
                    connector_faults: Vec::new(),
                },
            );
        }
    }
    let generated = dir.join("generated");
    if generated.is_dir() {
        for entry in std::fs::read_dir(&generated)? {
            let path = entry?.path();
            if !path.join(super::generated::TABLE).is_file() {
                continue;
            }
            let table = super::generated::read_table(&path)?;
            let short = table
                .connector
                .trim_start_matches("airbyte/source-")
                .to_owned();
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            found.insert(
                (short, table.produces.clone()),
                Plugin {
                    name,
                    kind: "generated",
                    needs_operator: !table.needs_operator.is_empty(),
                    connector_faults: table.connector_faults.keys().cloned().collect(),
                },
            );
        }
    }
    Ok(found)
}

fn results(dir: &Path) -> BTreeMap<String, Result> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if let Ok(text) = std::fs::read(entry.path())
            && let Ok(r) = serde_json::from_slice::<Result>(&text)
        {
            found.insert(r.plugin.clone(), r);
        }
    }
    found
}

/// The whole of CATALOGUE.md: the census's breaking versions, then those found after its
/// snapshot (`newer`, a table in the census's §1 form), if any.
pub fn render(
    census_path: &Path,
    newer: Option<&Path>,
    plugins_dir: &Path,
    results_dir: &Path,
) -> AnyResult<String> {
    let (rows, most_used) = census(census_path)?;
    let newer = newer.map(census).transpose()?.map(|(rows, _)| rows);
    let plugins = plugins(plugins_dir)?;
    let results = results(results_dir);
    let priority =
        |r: &Row| r.deadline.as_str() >= "2024-06-01" || most_used.contains(&r.connector);
    let (covered, verified) = coverage(&rows, &plugins, &results);
    let mut out = String::new();
    writeln!(out, "# Catalogue of breaking versions\n").unwrap();
    writeln!(
        out,
        "Generated by `cutover plugin catalogue` from the census (`airbyte-breaking-changes.md`, Airbyte master of 2026-02-28), the plugins under `plugins/` and the results of `tests/real/verify-all` in `tests/real/results/`. Do not edit by hand.\n"
    )
    .unwrap();
    writeln!(
        out,
        "{covered} of {} breaking versions have a plugin; {verified} of them passed the verification by the real new connector. Priority rows (deadline on or after 2024-06-01, or one of the 35 most-used connectors) are marked ★.\n",
        rows.len()
    )
    .unwrap();
    writeln!(out, "Plugin kinds: *hand-written* (a crate under `plugins/`), *generated* (a table under `plugins/generated/`, joined to the generic engine), *needs-operator* (a generated plugin that refuses until the operator supplies a value). Verification: *new connector run*: the migrated golden connections validated against the spec the real new connector prints, compared with what it discovers, and read by it with every HTTP request answered by an empty page (the state it emits must not go back); *static*: against the committed spec and catalog only; *golden cases*: the plugin's golden cases through the sandbox (every plugin has these, run in CI).\n").unwrap();
    write_table(&mut out, &rows, &plugins, &results, priority);
    if let Some(newer) = newer {
        let (covered, verified) = coverage(&newer, &plugins, &results);
        writeln!(out, "\n## Breaking versions after the census\n").unwrap();
        writeln!(
            out,
            "Majors published after the census's snapshot (`newer-majors.md` beside it: found on PyPI, each with its migration guide where one was found; their `breakingChanges` entries are not in the snapshot). Not counted above. {covered} of {} have a plugin; {verified} of them passed the verification by the real new connector.\n",
            newer.len()
        )
        .unwrap();
        write_table(&mut out, &newer, &plugins, &results, priority);
    }
    Ok(out)
}

/// How many of `rows` have a plugin, and how many of those passed the verification.
fn coverage(
    rows: &[Row],
    plugins: &BTreeMap<(String, String), Plugin>,
    results: &BTreeMap<String, Result>,
) -> (usize, usize) {
    let found: Vec<&Plugin> = rows
        .iter()
        .filter_map(|r| plugins.get(&(r.connector.clone(), r.version.clone())))
        .collect();
    let verified = found
        .iter()
        .filter(|p| results.get(&p.name).is_some_and(|r| r.passed))
        .count();
    (found.len(), verified)
}

/// One table of breaking versions, a row each with its plugin and how it was verified.
fn write_table(
    out: &mut String,
    rows: &[Row],
    plugins: &BTreeMap<(String, String), Plugin>,
    results: &BTreeMap<String, Result>,
    priority: impl Fn(&Row) -> bool,
) {
    writeln!(
        out,
        "| | connector | version | deadline | class | sides (census) | plugin | verified | result |"
    )
    .unwrap();
    writeln!(out, "|---|---|---|---|---|---|---|---|---|").unwrap();
    for r in rows {
        let star = if priority(r) { "★" } else { "" };
        let (plugin, how, result) = match plugins.get(&(r.connector.clone(), r.version.clone())) {
            None => (
                "—".to_owned(),
                "—".to_owned(),
                format!("no plugin yet (census bucket {})", r.bucket),
            ),
            Some(p) => {
                let kind = if p.needs_operator {
                    "needs-operator"
                } else {
                    p.kind
                };
                let plugin = format!("{kind} `{}`", p.name);
                match results.get(&p.name) {
                    Some(res) => (
                        plugin,
                        res.how.clone(),
                        if res.passed {
                            format!("pass, {} checks ({})", res.checks, res.date)
                        } else {
                            let fault = match &p.connector_faults[..] {
                                [] => String::new(),
                                faults => format!(
                                    " (the new connector's own fault, in the table's connector-faults: {})",
                                    faults.join(", ")
                                ),
                            };
                            format!(
                                "FAIL{fault}: {} ({})",
                                res.problems
                                    .first()
                                    .map(String::as_str)
                                    .unwrap_or("no checks ran"),
                                res.date
                            )
                        },
                    ),
                    // A Java connector cannot run here: its plugin is held to the spec of
                    // the commit that released the version, by its golden cases.
                    None if r.sides.ends_with("Java") => (
                        plugin,
                        "golden cases against the released spec (Java: cannot run here)".to_owned(),
                        "golden cases pass in CI".to_owned(),
                    ),
                    None => (
                        plugin,
                        "golden cases".to_owned(),
                        "golden cases pass in CI".to_owned(),
                    ),
                }
            }
        };
        writeln!(
            out,
            "| {star} | {} | {} | {} | {} | {} | {plugin} | {} | {} |",
            r.connector,
            r.version,
            r.deadline,
            r.class,
            r.sides,
            cell(&how),
            cell(&result)
        )
        .unwrap();
    }
}

/// The longest a table cell's text gets: a failure's first problem can be a whole Python
/// traceback, which belongs in the result's JSON, not in the catalogue's row.
const CELL_CHARS: usize = 240;

/// Text as one Markdown table cell: on one line (a newline would end the row), pipes
/// escaped, and cut at [`CELL_CHARS`] with an ellipsis.
fn cell(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = one_line.chars().take(CELL_CHARS).collect();
    let cut = if cut.len() < one_line.len() {
        format!("{}…", cut.trim_end())
    } else {
        cut
    };
    cut.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::{CELL_CHARS, cell, render};

    const HEADER: &str = "| connector | version | deadline | deadlineAction | scopedImpact | class | what breaks | sides | bucket |\n|---|---|---|---|---|---|---|---|---|\n";

    #[test]
    fn versions_after_the_census_have_their_own_table() {
        let dir = tempfile::tempdir().unwrap();
        let census = dir.path().join("census.md");
        std::fs::write(
            &census,
            format!("## 1. Every breaking version\n\n{HEADER}| faker | 6.0.0 | 2024-04-01 |  | — | e | id | PyPI 5.0.2 → PyPI | i |\n"),
        )
        .unwrap();
        let newer = dir.path().join("newer-majors.md");
        std::fs::write(
            &newer,
            format!("## 1. Breaking versions after the snapshot\n\n{HEADER}| faker | 7.0.0 |  |  | — | a | schemas | PyPI 6.2.38 → PyPI | i |\n"),
        )
        .unwrap();
        let plugins = dir.path().join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        let results = dir.path().join("results");
        let without = render(&census, None, &plugins, &results).unwrap();
        assert!(
            without.contains("0 of 1 breaking versions have a plugin"),
            "{without}"
        );
        assert!(!without.contains("7.0.0"));
        let with = render(&census, Some(&newer), &plugins, &results).unwrap();
        let (before, after) = with
            .split_once("## Breaking versions after the census")
            .unwrap();
        assert!(
            before.contains("0 of 1 breaking versions"),
            "the census's count stays its own"
        );
        assert!(before.contains("| faker | 6.0.0 |") && !before.contains("7.0.0"));
        assert!(after.contains("0 of 1 have a plugin"), "{after}");
        assert!(after.contains("| faker | 7.0.0 |"), "{after}");
    }

    /// A failed row whose table names faults of the new connector says so before the
    /// problem; one without says nothing more.
    #[test]
    fn a_failure_the_table_traces_to_the_connector_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let census = dir.path().join("census.md");
        std::fs::write(
            &census,
            format!("## 1. Every breaking version\n\n{HEADER}| orb | 2.0.0 | 2024-12-30 |  | — | a | schemas | PyPI 1.2.4 → PyPI | i |\n| gitlab | 3.0.0 | 2024-02-13 |  | — | a | schemas | PyPI 2.1.2 → PyPI | i |\n"),
        )
        .unwrap();
        let plugins = dir.path().join("plugins");
        let results = dir.path().join("results");
        std::fs::create_dir_all(&results).unwrap();
        for (name, version, faults) in [
            (
                "orb",
                "2.0.0",
                r#", "connector-faults": {"subscription_usage": "plain dicts"}"#,
            ),
            ("gitlab", "3.0.0", ""),
        ] {
            let table = plugins.join(format!("generated/source-{name}-{version}"));
            std::fs::create_dir_all(&table).unwrap();
            let side = r#"{"version": "1.0.0", "catalog": "c.json", "spec": "s.json"}"#;
            std::fs::write(
                table.join("plugin.json"),
                format!(r#"{{"connector": "airbyte/source-{name}", "applies-to": "<{version}", "produces": "{version}", "message": "m", "documentation-url": "d", "old": {side}, "new": {side}{faults}}}"#),
            )
            .unwrap();
            std::fs::write(
                results.join(format!("source-{name}-{version}.json")),
                format!(r#"{{"plugin": "source-{name}-{version}", "how": "h", "passed": false, "checks": 2, "problems": ["read failed"], "date": "2026-12-07"}}"#),
            )
            .unwrap();
        }
        let text = render(&census, None, &plugins, &results).unwrap();
        assert!(
            text.contains("FAIL (the new connector's own fault, in the table's connector-faults: subscription_usage): read failed (2026-12-07)"),
            "{text}"
        );
        assert!(
            text.contains("| FAIL: read failed (2026-12-07) |"),
            "{text}"
        );
    }

    #[test]
    fn a_cell_stays_on_its_row() {
        assert_eq!(cell("a | b\n  c"), "a \\| b c");
        let traceback = format!("Traceback:\n{}", "  File \"x.py\", line 1\n".repeat(40));
        let shown = cell(&traceback);
        assert!(!shown.contains('\n'));
        assert!(shown.ends_with('…'), "{shown}");
        assert!(shown.chars().count() <= CELL_CHARS + 1);
    }
}
