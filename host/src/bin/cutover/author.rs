//! `cutover plugin new|build|test|guide|import-metadata`: the author's toolkit on the command
//! line, for plugins in Rust and in Python alike.

use anyhow::{Context, Result, bail};
use clap::Args;
use cutover::author::golden::{self, Golden, Verdict};
use cutover::author::guide::{self, Example};
use cutover::author::metadata;
use cutover::author::package::Package;
use cutover::author::scaffold::{self, Language, Request};
use cutover::catalogs::TargetCatalog;
use cutover::connection::Connection;
use cutover::registry::{Plugin, Registry};
use cutover::sandbox::{CompileCache, Limits, Sandbox};
use cutover::specs::Spec;
use cutover::terminal::line;
use cutover::trust::Trust;
use semver::Version;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A plugin as its author has it: a crate or Python project folder (built on the fly) or a
/// built component.
#[derive(Args, Clone)]
pub struct AuthorPlugin {
    /// The plugin's folder (a crate, or a Python project with a pyproject.toml), or a built .wasm component.
    plugin: PathBuf,
    /// The golden fixtures folder (default: the plugin's fixtures/, or its [tool.cutover] fixtures).
    #[arg(long)]
    fixtures: Option<PathBuf>,
    /// The spec of the produced version (default: the crate's package.metadata.cutover.target-spec).
    #[arg(long)]
    spec: Option<PathBuf>,
    /// The spec of the versions migrated from (default: package.metadata.cutover.source-spec).
    #[arg(long)]
    source_spec: Option<PathBuf>,
    /// The discovered catalog of the produced version (default: package.metadata.cutover.target-catalog,
    /// or the catalog.json beside the target spec).
    #[arg(long)]
    catalog: Option<PathBuf>,
}

/// A plugin loaded in a sandbox, with its fixtures and specs.
pub struct Resolved {
    sandbox: Sandbox,
    plugin: Plugin,
    fixtures: Option<PathBuf>,
    target_spec: Option<Spec>,
    source_spec: Option<Spec>,
    /// An Elastic plugin's folders of default configurations, by version.
    target_defaults: Option<PathBuf>,
    source_defaults: Option<PathBuf>,
    target_catalog: Option<TargetCatalog>,
}

impl AuthorPlugin {
    /// Builds the plugin if given its folder, then loads the component the way a fleet would
    /// (imports checked, manifest validated), without a lock or signature: it is the
    /// author's own build. Compiled code is cached beside the build, so a second run does
    /// not compile an unchanged plugin again (which takes a Python plugin many seconds).
    pub fn resolve(self) -> Result<Resolved> {
        let (wasm, package) = if self.plugin.is_dir() {
            let package = Package::open(&self.plugin)?;
            (package.build()?, Some(package))
        } else if self.plugin.is_file() {
            (self.plugin.clone(), None)
        } else {
            bail!(
                "{} does not exist; pass a plugin folder (a crate or a Python project) or a .wasm file",
                self.plugin.display()
            );
        };
        let sandbox = Sandbox::new(Limits::default())?;
        let cache = package
            .as_ref()
            .map(|p| CompileCache::new(p.compile_cache()));
        let plugin = Registry::load_one(&wasm, &sandbox, &Trust::default(), None, cache.as_ref())
            .with_context(|| format!("loading plugin {}", wasm.display()))?;
        let fixtures = self
            .fixtures
            .or_else(|| package.as_ref().map(Package::fixtures))
            .filter(|f| f.is_dir());
        let target = self
            .spec
            .or_else(|| package.as_ref().and_then(|p| p.target_spec.clone()));
        let source = self
            .source_spec
            .or_else(|| package.as_ref().and_then(|p| p.source_spec.clone()));
        // An Elastic plugin's specs are its data source's default configurations.
        let elastic = cutover::platform::Platform::is_elastic(&plugin.manifest.connector);
        let spec = |path: &Option<PathBuf>| -> Result<Option<Spec>> {
            path.as_ref()
                .filter(|_| !elastic)
                .map(|p| Spec::read(p).map_err(anyhow::Error::msg))
                .transpose()
        };
        let defaults = |path: &Option<PathBuf>| -> Result<Option<PathBuf>> {
            match path.as_ref().filter(|_| elastic) {
                Some(p) if p.is_dir() => Ok(Some(p.clone())),
                Some(p) => bail!(
                    "{} is not a folder of default configurations (<service type>.json), as an Elastic plugin's spec is",
                    p.display()
                ),
                None => Ok(None),
            }
        };
        let target_catalog = self
            .catalog
            .or_else(|| package.as_ref().and_then(|p| p.target_catalog.clone()))
            .map(|p| TargetCatalog::read(&p).map_err(anyhow::Error::msg))
            .transpose()?;
        Ok(Resolved {
            target_spec: spec(&target)?,
            source_spec: spec(&source)?,
            target_defaults: defaults(&target)?,
            source_defaults: defaults(&source)?,
            target_catalog,
            sandbox,
            plugin,
            fixtures,
        })
    }
}

impl Resolved {
    fn golden(&self) -> Golden<'_> {
        Golden {
            sandbox: &self.sandbox,
            plugin: &self.plugin,
            target_spec: self.target_spec.as_ref(),
            source_spec: self.source_spec.as_ref(),
            target_defaults: self.target_defaults.as_deref(),
            source_defaults: self.source_defaults.as_deref(),
            target_catalog: self.target_catalog.as_ref(),
        }
    }
}

pub fn new(
    language: Language,
    connector: String,
    version: Version,
    dir: PathBuf,
    metadata_file: Option<&Path>,
) -> Result<ExitCode> {
    let manifest = match metadata_file {
        None => None,
        Some(file) => {
            let changes = metadata::read(file)?;
            let found = changes
                .manifests
                .into_iter()
                .find(|m| m.produces == version.to_string());
            Some(found.with_context(|| {
                format!("{} lists no breaking change for {version}", file.display())
            })?)
        }
    };
    let root = scaffold::scaffold(&Request {
        language,
        connector,
        version,
        dir,
        manifest,
    })?;
    println!("Created {}.", root.display());
    let code = match language {
        Language::Rust => root.join("src/lib.rs"),
        Language::Python => {
            let name = root.file_name().unwrap_or_default().to_string_lossy();
            root.join(format!(
                "{}.py",
                cutover::author::python::module_name(&name)
            ))
        }
    };
    println!(
        "Next: write the migration in {}, add cases under {},",
        code.display(),
        root.join("fixtures").display()
    );
    println!(
        "then run `cutover plugin test {}` (`--bless` records what the plugin does as the expected output).",
        root.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `cutover plugin build`: builds each plugin folder into its component and copies the
/// components into `out` when given.
pub fn build(plugins: &[PathBuf], out: Option<&Path>) -> Result<ExitCode> {
    if let Some(out) = out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    }
    for dir in plugins {
        let package = Package::open(dir)?;
        let wasm = package
            .build()
            .with_context(|| format!("building {}", dir.display()))?;
        let written = match out {
            Some(out) => {
                let to = out.join(wasm.file_name().unwrap_or_default());
                std::fs::copy(&wasm, &to)
                    .with_context(|| format!("copying {} to {}", wasm.display(), to.display()))?;
                to
            }
            None => wasm,
        };
        println!("{}", written.display());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn test(resolved: &Resolved, bless: bool) -> Result<ExitCode> {
    let p = &resolved.plugin;
    let Some(fixtures) = &resolved.fixtures else {
        bail!(
            "no fixtures for {}: pass --fixtures DIR, or add <crate>/fixtures/<case>/input.json",
            p.file
        );
    };
    println!(
        "{}: {} {} → {} (sha256 {})",
        line(&p.file),
        line(&p.manifest.connector),
        line(&p.manifest.applies_to),
        p.produces,
        &p.sha256[..16]
    );
    match (&resolved.target_spec, &resolved.target_defaults) {
        (Some(spec), _) => println!("migrated configs checked against {}", spec.path().display()),
        (None, Some(folder)) => println!(
            "migrated configs checked against the default configurations in {}",
            folder.display()
        ),
        (None, None) => println!(
            "no target spec: set target-spec ([package.metadata.cutover] in Cargo.toml, [tool.cutover] in pyproject.toml) or pass --spec to check migrated configs"
        ),
    }
    match &resolved.target_catalog {
        Some(catalog) => println!(
            "migrated streams checked against {}",
            catalog.path().display()
        ),
        None => println!(
            "no target catalog: set package.metadata.cutover.target-catalog or pass --catalog to check migrated streams"
        ),
    }
    let golden = resolved.golden();
    let (mut passed, mut failed) = (0, 0);
    for case in golden::cases(fixtures)? {
        match golden
            .check(&case, bless)
            .with_context(|| format!("case {}", case.name))?
        {
            Verdict::Passed {
                actions, refusal, ..
            } => {
                passed += 1;
                match refusal {
                    Some(_) => println!("  ok       {} (refused, as expected)", case.name),
                    None => println!("  ok       {} ({} action(s))", case.name, actions.len()),
                }
                unlisted(resolved, &case)?;
            }
            Verdict::Blessed { actions, .. } => {
                passed += 1;
                println!(
                    "  blessed  {} ({} action(s)): read the new expected files before committing them",
                    case.name,
                    actions.len()
                );
            }
            Verdict::Failed(problems) => {
                failed += 1;
                println!("  FAILED   {}", case.name);
                for problem in problems {
                    println!("           {}", line(&problem));
                }
            }
        }
    }
    println!(
        "{} case(s): {passed} passed, {failed} failed",
        passed + failed
    );
    if failed > 0 && !bless {
        println!(
            "If the new behaviour is right, record it with: cutover plugin test <plugin> --bless"
        );
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Tells the author which streams of a case the target version changed although the
/// manifest's scoped streams (the connector's `scopedImpact`) do not list them.
fn unlisted(resolved: &Resolved, case: &golden::Case) -> Result<()> {
    let Some(target) = &resolved.target_catalog else {
        return Ok(());
    };
    let input = Connection::parse(&std::fs::read(case.dir.join("input.json"))?)?;
    let changed = cutover::conformance::unlisted_changes(
        input.catalog(),
        target,
        &resolved.plugin.manifest.scoped_streams,
    );
    if !changed.is_empty() {
        println!(
            "           changed in {} but not in the scoped streams: {}",
            resolved.plugin.produces,
            line(&changed.join(", "))
        );
    }
    Ok(())
}

pub fn guide(resolved: &Resolved, out: Option<&Path>) -> Result<ExitCode> {
    let golden = resolved.golden();
    let mut examples = Vec::new();
    if let Some(fixtures) = &resolved.fixtures {
        for case in golden::cases(fixtures)? {
            let input = std::fs::read(case.dir.join("input.json"))?;
            let streams = Connection::parse(&input)
                .map(|c| c.stream_names().into_iter().map(str::to_owned).collect())
                .unwrap_or_default();
            let outcome = match golden
                .check(&case, false)
                .with_context(|| format!("case {}", case.name))?
            {
                Verdict::Passed {
                    refusal: Some(refusal),
                    ..
                } => Err(refusal),
                Verdict::Passed {
                    actions,
                    notes,
                    refusal: None,
                }
                | Verdict::Blessed { actions, notes } => Ok((actions, notes)),
                Verdict::Failed(problems) => bail!(
                    "case {} does not pass ({}); the guide is rendered only from passing fixtures: run `cutover plugin test` first",
                    case.name,
                    problems.join("; ")
                ),
            };
            examples.push(Example {
                case: case.name,
                streams,
                outcome,
            });
        }
    }
    let text = guide::render(&resolved.plugin.manifest, &examples);
    match out {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?
        }
        None => print!("{}", cutover::terminal::block(&text)),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn import_metadata(
    file: &Path,
    plugins: Option<&Path>,
    json: bool,
    language: Language,
) -> Result<ExitCode> {
    let changes = metadata::read(file)?;
    let registry = match plugins {
        Some(dir) => {
            let sandbox = Sandbox::new(Limits::default())?;
            Some(
                Registry::load(dir, &sandbox, &Trust::default(), None)
                    .with_context(|| format!("loading the plugins in {}", dir.display()))?,
            )
        }
        None => None,
    };
    let plugin_for = |m: &cutover::manifest::Manifest| {
        registry.as_ref().and_then(|r| {
            r.for_connector(&m.connector)
                .into_iter()
                .find(|p| p.produces.to_string() == m.produces)
        })
    };
    if json {
        let rows: Vec<_> = changes
            .manifests
            .iter()
            .map(|m| serde_json::json!({"manifest": m, "plugin": plugin_for(m).map(|p| &p.file)}))
            .collect();
        println!("{}", cutover::terminal::json_string(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}{}: {} breaking version(s)",
        changes.connector,
        changes
            .current
            .as_ref()
            .map(|v| format!(" (current {v})"))
            .unwrap_or_default(),
        changes.manifests.len()
    );
    for m in &changes.manifests {
        let scope = if m.scoped_streams.is_empty() {
            "every stream".to_owned()
        } else {
            format!("{} stream(s)", m.scoped_streams.len())
        };
        let deadline = m.upgrade_deadline.as_deref().unwrap_or("no deadline");
        let plugin = match (registry.as_ref(), plugin_for(m)) {
            (None, _) => String::new(),
            (Some(_), Some(p)) => {
                let drift = drift(m, &p.manifest);
                if drift.is_empty() {
                    format!("plugin {}", p.file)
                } else {
                    format!("plugin {} DIFFERS: {}", p.file, drift.join("; "))
                }
            }
            (Some(_), None) => format!(
                "NO PLUGIN: cutover plugin new {} {} --metadata {}",
                m.connector,
                m.produces,
                file.display()
            ),
        };
        println!("  {:<8} {deadline:<12} {scope:<14} {plugin}", m.produces);
    }
    for m in &changes.manifests {
        match language {
            Language::Rust => println!(
                "\n// {} {}: paste into the plugin's manifest()\n{}",
                m.connector,
                m.produces,
                metadata::to_rust(m)
            ),
            Language::Python => println!(
                "\n# {} {}: paste into the plugin's manifest()\n{}",
                m.connector,
                m.produces,
                metadata::to_python(m)
            ),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Where a plugin's manifest says something other than the connector's metadata.
fn drift(
    from_metadata: &cutover::manifest::Manifest,
    plugin: &cutover::manifest::Manifest,
) -> Vec<String> {
    let mut lines = Vec::new();
    if plugin.message != from_metadata.message {
        lines.push("message".to_owned());
    }
    if plugin.upgrade_deadline != from_metadata.upgrade_deadline {
        lines.push(format!(
            "deadline {:?} vs {:?}",
            plugin.upgrade_deadline, from_metadata.upgrade_deadline
        ));
    }
    if plugin.deadline_action != from_metadata.deadline_action {
        lines.push("deadline action".to_owned());
    }
    let mut scoped = plugin.scoped_streams.clone();
    scoped.sort();
    if scoped != from_metadata.scoped_streams {
        lines.push(format!(
            "scoped streams {:?} vs {:?}",
            scoped, from_metadata.scoped_streams
        ));
    }
    lines
}
