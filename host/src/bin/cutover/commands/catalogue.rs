//! `cutover plugin import|verify|catalogue`: breaking versions made from the connectors'
//! own metadata and packages, checked by the real connectors, and the catalogue of them.

use anyhow::{Context, Result};
use clap::Args;
use cutover::author::catalogue;
use cutover::author::import::{self, Request};
use cutover::author::verify;
use cutover::terminal::line;
use std::path::PathBuf;
use std::process::ExitCode;

/// Where the connectors' venvs go unless told: beside the build, not in the tree.
fn default_venvs() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("connectors")
}

/// Make a breaking version's plugin (its data) from the connector's metadata.yaml and its
/// real packages on PyPI.
#[derive(Args)]
pub struct ImportArgs {
    /// The connector's metadata.yaml.
    #[arg(long)]
    metadata: PathBuf,
    /// The breaking version, e.g. 3.0.0.
    version: String,
    /// The last version before the break (installed as the old side).
    #[arg(long)]
    previous: String,
    /// Where versions' specs and catalogs are kept (one copy each).
    #[arg(long, default_value = "tests/fixtures")]
    fixtures: PathBuf,
    /// Where the plugin's folder goes.
    #[arg(long, default_value = "plugins/generated")]
    plugins: PathBuf,
    /// Where the connectors' venvs are (default: $CARGO_TARGET_DIR/connectors).
    #[arg(long)]
    venvs: Option<PathBuf>,
    /// A git directory of airbytehq/airbyte with its history: a manifest-only version's
    /// manifest.yaml (and components.py) is taken from the commit that released it, and a
    /// version that shipped as an image only is installed from its source there.
    #[arg(long)]
    monorepo: Option<PathBuf>,
}

pub fn import(args: ImportArgs) -> Result<ExitCode> {
    let dir = import::import(&Request {
        metadata: args.metadata,
        version: args.version,
        previous: args.previous,
        fixtures: args.fixtures,
        plugins: args.plugins,
        venvs: args.venvs.unwrap_or_else(default_venvs),
        monorepo: args.monorepo,
    })?;
    println!(
        "{}",
        line(&format!(
            "{}: review plugin.json (renamed, split, config, records-changed, state-changed, needs-operator), then `cutover plugin test --bless {}` (golden inputs and the old side's state.json are kept as they are: delete them to make them again after changing a config.json or responses.json)",
            dir.display(),
            dir.display()
        ))
    );
    Ok(ExitCode::SUCCESS)
}

/// Check generated plugins' migrated connections with the real new connector.
#[derive(Args)]
pub struct VerifyArgs {
    /// The plugins' folders: generated ones, or hand-written crates whose `target-spec` is
    /// in the fixture folder of the version they produce.
    #[arg(required = true)]
    plugins: Vec<PathBuf>,
    /// Where the connectors' venvs are (default: $CARGO_TARGET_DIR/connectors).
    #[arg(long)]
    venvs: Option<PathBuf>,
    /// Install a missing connector from PyPI instead of checking its version statically.
    #[arg(long)]
    install: bool,
    /// Count a version the new connector could not check (installed or run) as failed,
    /// instead of checking it statically: for a sample that must run for real.
    #[arg(long)]
    require_real: bool,
    /// Write each report as JSON into this folder (`<plugin>.json`).
    #[arg(long)]
    results: Option<PathBuf>,
    /// A git directory of airbytehq/airbyte with its history, where a version that shipped
    /// as an image only is installed from its source.
    #[arg(long)]
    monorepo: Option<PathBuf>,
}

pub fn verify(args: VerifyArgs) -> Result<ExitCode> {
    let venvs = args.venvs.unwrap_or_else(default_venvs);
    let mut failed = 0;
    for dir in &args.plugins {
        let started = std::time::Instant::now();
        let report = verify::verify(dir, &venvs, args.install, args.monorepo.as_deref())
            .with_context(|| format!("verifying {}", dir.display()))?;
        let unreal = args.require_real && report.how == verify::How::Static;
        let verdict = if unreal {
            "FAILED (the new connector could not be installed here; see the warning above)"
        } else if report.passed() {
            "passed"
        } else {
            "FAILED"
        };
        println!(
            "{}",
            line(&format!(
                "{} {verdict} ({:?}, {} checks, {:.1}s)",
                report.plugin,
                report.how,
                report.checks.len(),
                started.elapsed().as_secs_f64()
            ))
        );
        for check in &report.checks {
            for problem in &check.problems {
                println!(
                    "{}",
                    line(&format!("  {}: {}: {problem}", check.case, check.what))
                );
            }
        }
        if !report.passed() || unreal {
            failed += 1;
        }
        if let Some(results) = &args.results {
            let record = catalogue::Result::from_report(&report);
            import::write_if_changed(
                &results.join(format!("{}.json", report.plugin)),
                &import::pretty(&serde_json::to_value(&record)?),
            )?;
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Write CATALOGUE.md: one row per breaking version of the census.
#[derive(Args)]
pub struct CatalogueArgs {
    /// The census (its §1 table lists every breaking version).
    #[arg(long)]
    census: PathBuf,
    /// Breaking versions found after the census's snapshot, in its §1 form (default:
    /// `newer-majors.md` beside the census, if there is one).
    #[arg(long)]
    newer: Option<PathBuf>,
    /// The repository's plugins folder (hand-written crates and generated/).
    #[arg(long, default_value = "plugins")]
    plugins: PathBuf,
    /// The verification results (`cutover plugin verify --results`).
    #[arg(long, default_value = "tests/real/results")]
    results: PathBuf,
    #[arg(long, default_value = "CATALOGUE.md")]
    out: PathBuf,
}

pub fn write_catalogue(args: CatalogueArgs) -> Result<ExitCode> {
    let newer = args
        .newer
        .or_else(|| Some(args.census.with_file_name("newer-majors.md")).filter(|p| p.is_file()));
    let text = catalogue::render(&args.census, newer.as_deref(), &args.plugins, &args.results)?;
    import::write_if_changed(&args.out, text.as_bytes())?;
    println!("{}", line(&format!("wrote {}", args.out.display())));
    Ok(ExitCode::SUCCESS)
}
