//! `cutover`: the command line over the cutover library.
//!
//! Exit codes: 0 success; 1 the run completed but some connections failed or could not be
//! planned; 2 the command refused to run (bad input, stale plan, locked fleet) and wrote
//! nothing.

mod author;
mod render;

use anyhow::{Context, Result, bail};
use author::AuthorPlugin;
use clap::{Args, Parser, Subcommand};
use cutover::author::scaffold::Language;
use cutover::connection::Pin;
use cutover::fleet::Fleet;
use cutover::plan::{ConnectionPlan, Options, Plan, Planner};
use cutover::plan_source::{PlanSource, SavedPlan};
use cutover::registry::Registry;
use cutover::sandbox::{CompileCache, Sandbox};
use cutover::terminal::block;
use cutover::write::apply::{self, Applied};
use cutover::write::{self, rollback};
use indicatif::{ProgressBar, ProgressStyle};
use semver::Version;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cutover",
    version,
    about = "Plan and apply connector migrations, run as sandboxed WebAssembly plugins, over a fleet of connections."
)]
struct Cli {
    /// The fleet: a directory (holding cutover.toml, plugins/ and connections/), or a
    /// postgres://user@host/database URL (settings and plugins from the current directory;
    /// the password from $PGPASSWORD).
    #[arg(long, global = true, env = "CUTOVER_FLEET", default_value = ".")]
    fleet: PathBuf,
    /// More logging (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Each connection's version, target, pin and what an upgrade would take.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Work out what an upgrade would do to each connection, without writing anything.
    Plan {
        #[command(flatten)]
        select: Select,
        /// Save the plan to this file, for `cutover apply FILE`.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Apply a saved plan, or plan and apply in one go. On a PostgreSQL fleet, every host
    /// that applies the same plan (or joins its run) works on one shared run.
    Apply {
        /// A plan saved by `cutover plan --out`. Without one, cutover plans now.
        plan: Option<PathBuf>,
        /// Work on shared run RUN (PostgreSQL fleets), with the plan it was started with.
        #[arg(long, value_name = "RUN", conflicts_with = "plan")]
        join: Option<i64>,
        /// Read everything and show what each write would send; write nothing.
        #[arg(long, conflicts_with = "join")]
        dry_run: bool,
        #[command(flatten)]
        select: Select,
        #[arg(long)]
        json: bool,
    },
    /// Restore the documents a run wrote, byte for byte, from its snapshots.
    Rollback {
        /// The run to roll back (default: the newest run with writes in force).
        #[arg(long)]
        run: Option<i64>,
        /// Only this connection.
        #[arg(long)]
        connection: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The ledger: every run and what it wrote.
    History {
        /// Only runs touching this connection.
        #[arg(long)]
        connection: Option<String>,
        /// At most this many runs, newest first.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Pin a connection at its version: no upgrade touches it until unpinned.
    Pin {
        connection: String,
        /// Why, for whoever finds the pin later.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Remove a connection's pin.
    Unpin { connection: String },
    /// Move the fleet's documents (and history) to or from an embedded fleet directory.
    Fleet {
        #[command(subcommand)]
        command: FleetCommand,
    },
    /// Migration plugins: the fleet's (list, inspect, add) and the author's toolkit (new,
    /// build, test, guide, import-metadata), for plugins in Rust or Python.
    #[command(alias = "plugins")]
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
}

#[derive(Subcommand)]
enum FleetCommand {
    /// Write this fleet as an embedded fleet in DIR: documents, settings (without the
    /// database), plugins and specs; with --ledger, every run with its snapshots.
    Export {
        dir: PathBuf,
        /// Also the history, with its snapshots, so that rollback works from DIR.
        #[arg(long)]
        ledger: bool,
        #[arg(long)]
        json: bool,
    },
    /// Read the embedded fleet in DIR into this fleet (say, a PostgreSQL one): its
    /// documents, and with --ledger its history first (into a fleet with none yet).
    Import {
        dir: PathBuf,
        #[arg(long)]
        ledger: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Check a plugin (signature, imports, manifest), copy it into the fleet and pin its
    /// sha256 in plugins.lock. A `FILE.minisig` beside it is checked and copied too.
    Add {
        /// The plugin component (.wasm).
        file: PathBuf,
    },
    /// Every plugin with its digest and what it migrates.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One plugin's manifest and guide.
    Inspect {
        /// File name, file stem or sha256 prefix.
        plugin: String,
        #[arg(long)]
        json: bool,
    },
    /// Scaffold a plugin for one breaking version (a Rust crate, or a Python project with
    /// --lang python), with a golden fixture that passes.
    New {
        /// The connector, as <vendor>/<name> (a bare source-x means airbyte/source-x).
        connector: String,
        /// The breaking version the plugin migrates to, e.g. 2.0.0.
        version: Version,
        /// The folder the crate is created in.
        #[arg(long, default_value = "plugins")]
        dir: PathBuf,
        /// The connector's metadata.yaml: the manifest is filled in from its breakingChanges entry.
        #[arg(long)]
        metadata: Option<PathBuf>,
        /// The language of the plugin.
        #[arg(long, value_enum, default_value_t)]
        lang: Language,
    },
    /// Build plugins (crates with cargo, Python projects with componentize-py) into components.
    Build {
        /// The plugin folders.
        #[arg(required = true)]
        plugins: Vec<PathBuf>,
        /// Copy the built components into this folder (default: print where they were built).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Build a plugin and run its golden fixtures through the real sandbox.
    Test {
        #[command(flatten)]
        plugin: AuthorPlugin,
        /// Write expected.json / actions.json (or refused.txt) from what the plugin does now.
        #[arg(long)]
        bless: bool,
    },
    /// Render a plugin's migration guide (markdown) from its manifest and golden fixtures.
    Guide {
        #[command(flatten)]
        plugin: AuthorPlugin,
        /// Write the guide to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Read a connector's metadata.yaml: the manifest of each breaking version, and which
    /// have a plugin.
    ImportMetadata {
        /// The connector's metadata.yaml.
        file: PathBuf,
        /// A folder of built plugins (.wasm) to match the breaking versions against.
        #[arg(long)]
        plugins: Option<PathBuf>,
        #[arg(long)]
        json: bool,
        /// The language to print each manifest in, ready to paste.
        #[arg(long, value_enum, default_value_t)]
        lang: Language,
    },
}

/// Which connections a plan covers and what the operator opts in to.
#[derive(Args, Clone, Default)]
struct Select {
    /// Opt every connection in to breaking (major) upgrades.
    #[arg(long)]
    all: bool,
    /// Opt this connection in to breaking upgrades (repeatable, or comma-separated).
    #[arg(long = "opt-in", value_name = "ID", value_delimiter = ',')]
    opt_in: Vec<String>,
    /// Upgrade a connector to this version instead of cutover.toml's target.
    #[arg(long, value_name = "CONNECTOR=VERSION", value_parser = parse_target)]
    target: Vec<(String, Version)>,
    /// Plan only these connections (repeatable, or comma-separated).
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    only: Vec<String>,
}

fn parse_target(s: &str) -> Result<(String, Version), String> {
    let (connector, version) = s.split_once('=').ok_or_else(|| {
        format!("{s:?} is not CONNECTOR=VERSION (e.g. airbyte/source-pinterest=2.0.0)")
    })?;
    let version =
        Version::parse(version).map_err(|e| format!("{version:?} is not a semver version: {e}"))?;
    Ok((connector.to_owned(), version))
}

impl Select {
    fn options(&self) -> Options {
        Options {
            all: self.all,
            opt_in: self.opt_in.iter().cloned().collect(),
            targets: self.target.iter().cloned().collect(),
            only: self.only.iter().cloned().collect(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // An error may quote a plugin or a document: shown inert.
            eprintln!("error: {}", cutover::terminal::block(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Log fields may quote a plugin or a document: every control character is escaped, so
    // no colours either.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| cutover::terminal::Inert::new(std::io::stderr()))
        .with_ansi(false)
        .with_target(false)
        .init();
}

/// What every command that runs plugins needs.
///
/// The sandbox and the plugins are never dropped: their compiled code and instance pool
/// are mappings the process's exit releases at once, where unmapping them one by one was
/// a tenth of a one-connection plan's time.
struct Loaded {
    fleet: Fleet,
    sandbox: std::mem::ManuallyDrop<Sandbox>,
    registry: std::mem::ManuallyDrop<Registry>,
}

fn load(fleet: &std::path::Path) -> Result<Loaded> {
    let fleet = Fleet::open(fleet)?;
    let sandbox = Sandbox::new(fleet.settings.limits.clone())?;
    let cache = CompileCache::new(fleet.state_dir()?.join("cache"));
    let registry = Registry::load(
        &fleet.plugins_dir(),
        &sandbox,
        &fleet.settings.trust,
        Some(&cache),
    )?;
    Ok(Loaded {
        fleet,
        sandbox: std::mem::ManuallyDrop::new(sandbox),
        registry: std::mem::ManuallyDrop::new(registry),
    })
}

impl Loaded {
    fn planner<'a>(&'a self, options: &'a Options, run_plugins: bool) -> Planner<'a> {
        Planner {
            fleet: &self.fleet,
            registry: &self.registry,
            sandbox: &self.sandbox,
            options,
            run_plugins,
        }
    }

    /// A saved plan, checked against the fleet as it is now.
    fn checked_plan(&self, path: &std::path::Path) -> Result<Plan> {
        let plan = Plan::read(path)?;
        self.check_saved(&plan)?;
        Ok(plan)
    }

    /// Checks a saved plan already read against the fleet as it is now.
    fn check_saved(&self, plan: &dyn PlanSource) -> Result<()> {
        let plugins: Vec<_> = self.registry.all().iter().map(Into::into).collect();
        let planner = self.planner(&plan.header().options, true);
        apply::check_saved(plan, &self.fleet, &plugins, |entry| {
            planner.plan_entry(entry)
        })
    }

    /// Plans now for an apply, keeping of each connection only what apply needs to write
    /// it (no diffs, actions, notes or step details).
    fn plan_to_apply(&self, select: &Select) -> Result<Plan> {
        let options = select.options();
        let planner = self.planner(&options, true);
        let selection = planner.select()?;
        let bar = progress_bar(selection.len() as u64, "planning");
        let mut connections = Vec::with_capacity(selection.len());
        planner.plan_each(&selection, |c| {
            bar.inc(1);
            connections.push(c.slim());
            Ok(())
        })?;
        bar.finish_and_clear();
        Ok(Plan {
            connections,
            ..planner.header()
        })
    }

    /// The plan an apply carries out, never held whole: the saved plan at `saved`, read
    /// from its file a slice at a time (not yet checked against the fleet), or a plan made
    /// now into a temporary file read the same way, which goes when the folder returned
    /// with it is dropped.
    fn plan_for_apply(
        &self,
        saved: Option<&std::path::Path>,
        select: &Select,
    ) -> Result<(Box<dyn PlanSource>, Option<tempfile::TempDir>)> {
        Ok(match saved {
            Some(path) => (Box::new(SavedPlan::open(path)?), None),
            None => {
                let (dir, plan) = self.plan_to_file(select)?;
                (Box::new(plan), Some(dir))
            }
        })
    }

    /// Plans now, into a plan file in a new owner-only temporary folder, kept to the
    /// connections' slim plans (what apply checks).
    fn plan_to_file(&self, select: &Select) -> Result<(tempfile::TempDir, SavedPlan)> {
        let options = select.options();
        let planner = self.planner(&options, true);
        let selection = planner.select()?;
        let dir = tempfile::Builder::new()
            .prefix("cutover-plan-")
            .tempdir()
            .context("making a folder for the plan")?;
        let path = dir.path().join("plan.json");
        let mut file = PlanWriter::create(&path, &planner.header())?;
        let bar = progress_bar(selection.len() as u64, "planning");
        planner.plan_each(&selection, |c| {
            bar.inc(1);
            file.connection(&c.slim())
        })?;
        bar.finish_and_clear();
        file.finish()?;
        let plan = SavedPlan::open(&path)?;
        Ok((dir, plan))
    }

    /// Plans, with a progress bar on long runs.
    fn plan(&self, options: &Options, run_plugins: bool) -> Result<Plan> {
        let bar = progress_bar(self.fleet.documents().keys()?.len() as u64, "planning");
        let plan = self.planner(options, run_plugins).plan(|_| bar.inc(1))?;
        bar.finish_and_clear();
        Ok(plan)
    }
}

/// A progress bar on stderr, shown only for runs long enough to need one.
fn progress_bar(len: u64, what: &'static str) -> ProgressBar {
    if len < 200 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {pos}/{len} connections ({per_sec}, {eta} left)",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_message(what);
    bar
}

/// A plan written as JSON one connection at a time: the header's fields, then the
/// `connections` array as it grows. The result reads back with `Plan::read`.
struct PlanWriter {
    file: Option<(std::io::BufWriter<std::fs::File>, PathBuf)>,
    first: bool,
}

impl PlanWriter {
    fn create(path: &std::path::Path, header: &Plan) -> Result<Self> {
        // The plan's diffs are document content: owner-only, like the ledger.
        let file = cutover::private_files::create(path)
            .with_context(|| format!("saving the plan to {}", path.display()))?;
        let mut file = std::io::BufWriter::new(file);
        Self::write_header(&mut file, header)?;
        Ok(Self {
            file: Some((file, path.to_owned())),
            first: true,
        })
    }

    fn start(out: &mut impl std::io::Write, header: &Plan) -> Result<Self> {
        Self::write_header(out, header)?;
        Ok(Self {
            file: None,
            first: true,
        })
    }

    /// The header as JSON, left open at the start of the connections array.
    fn write_header(out: &mut impl std::io::Write, header: &Plan) -> Result<()> {
        let text = cutover::terminal::json_string(header)?;
        let open = text
            .rfind("[]")
            .context("a plan header serializes with an empty connections array")?;
        out.write_all(text[..open + 1].as_bytes())?;
        Ok(())
    }

    fn connection(&mut self, c: &ConnectionPlan) -> Result<()> {
        let (file, _) = self.file.as_mut().expect("a plan file");
        let first = std::mem::replace(&mut self.first, false);
        Self::write_connection(file, c, first)
    }

    fn connection_to(&mut self, out: &mut impl std::io::Write, c: &ConnectionPlan) -> Result<()> {
        let first = std::mem::replace(&mut self.first, false);
        Self::write_connection(out, c, first)
    }

    fn write_connection(
        out: &mut impl std::io::Write,
        c: &ConnectionPlan,
        first: bool,
    ) -> Result<()> {
        out.write_all(if first { b"\n" } else { b",\n" })?;
        cutover::terminal::write_json(&mut *out, c)?;
        Ok(())
    }

    fn finish(self) -> Result<()> {
        let (mut file, path) = self.file.expect("a plan file");
        file.write_all(b"\n]\n}\n")?;
        file.flush()
            .with_context(|| format!("saving the plan to {}", path.display()))?;
        Ok(())
    }

    fn finish_to(self, out: &mut impl std::io::Write) -> Result<()> {
        out.write_all(b"\n]\n}\n")?;
        Ok(())
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    println!("{}", cutover::terminal::json_string(value)?);
    Ok(())
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Status { json } => {
            let loaded = load(&cli.fleet)?;
            let plan = loaded.plan(&Options::default(), false)?;
            if json {
                // One entry per connection; runs in progress are in `history --json`.
                print_json(&render::status_json(&plan))?;
            } else {
                // Runs going in a shared fleet, as any host sees them: workers, leases, progress.
                let live: Vec<_> = match loaded.fleet.ledger_home() {
                    cutover::store::LedgerHome::Postgres(_) => loaded
                        .fleet
                        .ledger()?
                        .runs(None, 20)?
                        .into_iter()
                        .filter(|r| r.status == "running")
                        .collect(),
                    cutover::store::LedgerHome::Sqlite(_) => Vec::new(),
                };
                print!(
                    "{}",
                    block(&format!(
                        "{}{}",
                        render::status(&plan),
                        render::live_runs(&live)
                    ))
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan { select, out, json } => {
            let loaded = load(&cli.fleet)?;
            let options = select.options();
            let planner = loaded.planner(&options, true);
            let selection = planner.select()?;
            let header = planner.header();
            let bar = progress_bar(selection.len() as u64, "planning");
            // The plan streams out as it is made: a connection at a time to the terminal
            // (or as JSON) and to the saved plan file, so memory does not grow with the fleet.
            let mut saved = match &out {
                Some(path) => Some(PlanWriter::create(path, &header)?),
                None => None,
            };
            let stdout = std::io::stdout();
            let mut terminal = std::io::BufWriter::new(stdout.lock());
            let mut json_out = if json {
                Some(PlanWriter::start(&mut terminal, &header)?)
            } else {
                None
            };
            if !json {
                write!(
                    terminal,
                    "{}",
                    block(&render::plan_header(
                        &header,
                        selection.len(),
                        &loaded.registry
                    ))
                )?;
            }
            let today = cutover::ledger::now()[..10].to_owned();
            let mut summary = cutover::plan::Summary::default();
            let mut waiting = Vec::new();
            let mut elastic = false;
            planner.plan_each(&selection, |c| {
                bar.inc(1);
                elastic |= c
                    .connector
                    .as_deref()
                    .is_some_and(|n| n.starts_with(cutover::elastic::PREFIX));
                *summary.0.entry(c.status).or_default() += 1;
                if c.status == cutover::plan::Status::NeedsOptIn {
                    waiting.push(c.id.clone());
                }
                if let Some(file) = &mut saved {
                    file.connection(&c)?;
                }
                match &mut json_out {
                    Some(j) => j.connection_to(&mut terminal, &c)?,
                    None => bar.suspend(|| {
                        write!(
                            terminal,
                            "{}",
                            block(&render::plan_connection(&c, &loaded.fleet, &today))
                        )
                    })?,
                }
                Ok(())
            })?;
            bar.finish_and_clear();
            if let Some(file) = saved {
                file.finish()?;
            }
            match json_out {
                Some(j) => j.finish_to(&mut terminal)?,
                None => {
                    write!(
                        terminal,
                        "{}",
                        render::plan_footer(&summary, selection.len(), &waiting, elastic)
                    )?;
                    if let Some(path) = &out {
                        writeln!(
                            terminal,
                            "\nSaved the plan to {}. Apply it with: cutover apply {}",
                            path.display(),
                            path.display()
                        )?;
                    }
                }
            }
            terminal.flush()?;
            let errors = summary.get(cutover::plan::Status::Failed)
                + summary.get(cutover::plan::Status::Blocked)
                + summary.get(cutover::plan::Status::Invalid);
            Ok(if errors > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Apply {
            plan: saved,
            select,
            join,
            dry_run,
            json,
        } => {
            let loaded = load(&cli.fleet)?;
            if dry_run {
                return dry_run_apply(&loaded, saved.as_deref(), &select, json);
            }
            if let cutover::store::LedgerHome::Postgres(pg) = loaded.fleet.ledger_home() {
                return apply_shared(&loaded, pg, saved.as_deref(), &select, join, json);
            }
            if join.is_some() {
                bail!(
                    "--join works on fleets shared in PostgreSQL; {} is not one",
                    loaded.fleet.documents().summary()
                );
            }
            // The writer settles what an interrupted run left before anything is planned: a
            // write an API backend cut part-way is finished first, not planned from half-done.
            let mut writer = write::open(&loaded.fleet, "apply")?;
            let (plan, _scratch) = loaded.plan_for_apply(saved.as_deref(), &select)?;
            if saved.is_some() {
                loaded.check_saved(&*plan)?;
            }
            let survey = plan.survey()?;
            if let Some(reason) = apply::refusal(&survey) {
                bail!("{reason}");
            }
            let bar = progress_bar(survey.writes() as u64, "applying");
            let planner = loaded.planner(&plan.header().options, true);
            let migrate = |entry: &cutover::fleet::Entry| planner.plan_entry(entry);
            let applied =
                apply::apply(&loaded.fleet, &*plan, &mut *writer, migrate, |_| bar.inc(1))?;
            bar.finish_and_clear();
            report_applied(&applied, json)
        }
        Command::Rollback {
            run,
            connection,
            json,
        } => {
            let fleet = Fleet::open(&cli.fleet)?;
            let mut writer = write::open(&fleet, "rollback")?;
            let done = rollback::rollback(&fleet, &mut *writer, run, connection.as_deref())?;
            if json {
                print_json(&done)?;
            } else {
                println!(
                    "Rolled back run {}: restored {} connection(s) byte for byte ({}). Recorded as run {}.",
                    done.of_run,
                    done.restored.len(),
                    cutover::terminal::line(&done.restored.join(", ")),
                    done.run
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::History {
            connection,
            limit,
            json,
        } => {
            let fleet = Fleet::open(&cli.fleet)?;
            let runs = fleet.ledger()?.runs(connection.as_deref(), limit)?;
            if json {
                print_json(&runs)?;
            } else {
                print!("{}", block(&render::history(&runs)));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Fleet { command } => {
            let fleet = Fleet::open(&cli.fleet)?;
            let (moved, from, to, json) = match command {
                FleetCommand::Export { dir, ledger, json } => (
                    cutover::transfer::export(&fleet, &dir, ledger)?,
                    fleet.documents().summary(),
                    dir.display().to_string(),
                    json,
                ),
                FleetCommand::Import { dir, ledger, json } => (
                    cutover::transfer::import(&fleet, &dir, ledger)?,
                    dir.display().to_string(),
                    fleet.documents().summary(),
                    json,
                ),
            };
            if json {
                print_json(&moved)?;
            } else {
                println!("{}", render::moved(&moved, &from, &to));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Pin { connection, reason } => set_pin(
            &cli.fleet,
            &connection,
            Some(Pin {
                origin: "user".into(),
                reason,
            }),
        ),
        Command::Unpin { connection } => set_pin(&cli.fleet, &connection, None),
        Command::Plugin {
            command: PluginCommand::Add { file },
        } => add_plugin(&cli.fleet, &file),
        Command::Plugin {
            command:
                PluginCommand::New {
                    connector,
                    version,
                    dir,
                    metadata,
                    lang,
                },
        } => author::new(lang, connector, version, dir, metadata.as_deref()),
        Command::Plugin {
            command: PluginCommand::Build { plugins, out },
        } => author::build(&plugins, out.as_deref()),
        Command::Plugin {
            command: PluginCommand::Test { plugin, bless },
        } => author::test(&plugin.resolve()?, bless),
        Command::Plugin {
            command: PluginCommand::Guide { plugin, out },
        } => author::guide(&plugin.resolve()?, out.as_deref()),
        Command::Plugin {
            command:
                PluginCommand::ImportMetadata {
                    file,
                    plugins,
                    json,
                    lang,
                },
        } => author::import_metadata(&file, plugins.as_deref(), json, lang),
        Command::Plugin {
            command: PluginCommand::List { json },
        } => {
            let loaded = load(&cli.fleet)?;
            if json {
                print_json(&render::plugins_json(&loaded.registry))?;
            } else {
                print!("{}", block(&render::plugins(&loaded.registry)));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Plugin {
            command: PluginCommand::Inspect { plugin, json },
        } => {
            let loaded = load(&cli.fleet)?;
            let Some(p) = loaded.registry.find(&plugin) else {
                bail!(
                    "no plugin {plugin:?} in {}; `cutover plugin list` shows them",
                    loaded.registry.dir().display()
                );
            };
            if json {
                print_json(&render::plugin_json(p))?;
            } else {
                print!("{}", block(&render::plugin(p)));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `apply --dry-run`: the plan apply would write, and what each write would send.
fn dry_run_apply(
    loaded: &Loaded,
    saved: Option<&std::path::Path>,
    select: &Select,
    json: bool,
) -> Result<ExitCode> {
    let plan = match saved {
        Some(path) => loaded.checked_plan(path)?,
        None => loaded.plan_to_apply(select)?,
    };
    if let Some(reason) = apply::refusal(&plan.survey()?) {
        bail!("{reason}");
    }
    let planner = loaded.planner(&plan.options, true);
    let previews = apply::dry_run(
        &loaded.fleet,
        &plan.connections,
        |entry: &cutover::fleet::Entry| planner.plan_entry(entry),
    );
    if json {
        print_json(&previews)?;
    } else {
        print!("{}", render::dry_run(&previews, &loaded.fleet));
    }
    Ok(if previews.iter().any(|p| p.requests.is_err()) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Shows what an apply did (or prints it as JSON); the exit code is 1 when a connection
/// failed, here or, in a shared run that ended, on another worker.
fn report_applied(applied: &Applied, json: bool) -> Result<ExitCode> {
    if json {
        print_json(applied)?;
    } else {
        print!("{}", block(&render::applied(applied)));
    }
    let run_failed = applied
        .shared
        .as_ref()
        .is_some_and(|end| end.ended && end.failed > 0);
    Ok(if applied.failed.is_empty() && !run_failed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `cutover apply` on a PostgreSQL fleet: this process becomes one worker of the shared
/// run of its plan (made now, read from a file, or the plan of run `join`).
fn apply_shared(
    loaded: &Loaded,
    pg: &cutover::store::postgres::PgFleet,
    saved: Option<&std::path::Path>,
    select: &Select,
    join: Option<i64>,
    json: bool,
) -> Result<ExitCode> {
    use cutover::store::postgres::work::{Joining, Start, Started};
    let plugins: Vec<cutover::plan::PluginRef> =
        loaded.registry.all().iter().map(Into::into).collect();
    let over = |over: &cutover::store::postgres::work::Finished| -> Result<ExitCode> {
        if json {
            print_json(over)?;
        } else {
            print!("{}", block(&render::run_over(over)));
        }
        Ok(if over.status == "completed" {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    };
    let (worker, options, to_write) = match join {
        Some(run) => {
            let shared = match pg.run_plan(run)? {
                Joining::Run(shared) => shared,
                Joining::Over(finished) => return over(&finished),
            };
            if shared.plugins != plugins {
                bail!(
                    "run {run} was planned with other plugins than this host's {} (added, removed or rebuilt); give this host the same plugins. Nothing was written.",
                    loaded.fleet.plugins_dir().display()
                );
            }
            match pg.worker(Start::Join(run))? {
                Started::Working(worker) => (*worker, shared.options, None),
                Started::Over(finished) => return over(&finished),
                Started::Unchecked => unreachable!("a run joined by its id was checked"),
            }
        }
        None => {
            let (plan, _scratch) = loaded.plan_for_apply(saved, select)?;
            // A saved plan is checked against the fleet only to start a new run: the live
            // run of the same plan was checked by the worker that started it, and one that
            // is over is not started again. Other plugins than the plan's refuse it at once.
            if saved.is_some() && plan.header().plugins != plugins {
                loaded.check_saved(&*plan)?;
            }
            let survey = plan.survey()?;
            if let Some(reason) = apply::refusal(&survey) {
                bail!("{reason}");
            }
            if !survey.does_anything() {
                let applied = Applied {
                    unchanged: survey.summary.0.values().sum(),
                    ..Default::default()
                };
                return report_applied(&applied, json);
            }
            // Workers started together on a saved plan check it once, the others waiting
            // for the run that check starts.
            let worker =
                match pg.worker_on_plan(&*plan, saved.is_none(), || loaded.check_saved(&*plan))? {
                    Started::Working(worker) => *worker,
                    Started::Over(finished) => return over(&finished),
                    Started::Unchecked => unreachable!("a plan is checked before its run starts"),
                };
            // The run's connections are in the database now; this worker leases them from
            // there like any other.
            (worker, plan.header().options.clone(), Some(survey.writes()))
        }
    };
    tracing::info!(
        run = worker.run(),
        worker = worker.id(),
        "working on a shared run"
    );
    let planner = loaded.planner(&options, true);
    let migrate = |entry: &cutover::fleet::Entry| planner.plan_entry(entry);
    let bar = progress_bar(to_write.unwrap_or(0) as u64, "applying");
    let applied = apply::apply_shared(&loaded.fleet, worker, migrate, |_| bar.inc(1))?;
    bar.finish_and_clear();
    report_applied(&applied, json)
}

/// Pins or unpins a connection: a recorded write like any other, so it shows in the
/// history and can be rolled back.
fn set_pin(fleet: &std::path::Path, id: &str, pin: Option<Pin>) -> Result<ExitCode> {
    let fleet = Fleet::open(fleet)?;
    let pinned = pin.is_some();
    match write::pin::set(&fleet, id, pin)? {
        write::pin::Pinned::Already(c) => println!(
            "{} is already {}.",
            c.id,
            if pinned { "pinned" } else { "unpinned" }
        ),
        write::pin::Pinned::Now(c) if pinned => {
            println!(
                "Pinned {} at {}. Upgrades leave it alone until `cutover unpin {}`.",
                c.id, c.version, c.id
            )
        }
        write::pin::Pinned::Now(c) => println!("Unpinned {}.", c.id),
    }
    Ok(ExitCode::SUCCESS)
}

/// `cutover plugin add`: everything a plugin must pass to run, checked before it enters the
/// fleet; then the copy and the lock entry. The first add creates plugins.lock, pinning the
/// plugins already in the directory as well.
fn add_plugin(fleet: &std::path::Path, file: &std::path::Path) -> Result<ExitCode> {
    use cutover::trust::{Lock, Locked, signature_path};
    let fleet = Fleet::open(fleet)?;
    let _lock = write::lock::FleetLock::acquire(&fleet.state_dir()?, "plugins add")?;
    let sandbox = Sandbox::new(fleet.settings.limits.clone())?;
    let trust = &fleet.settings.trust;
    let plugin = Registry::load_one(file, &sandbox, trust, None, None)
        .with_context(|| format!("plugin {} refused; nothing was added", file.display()))?;
    let dir = fleet.plugins_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let existing = Registry::load(&dir, &sandbox, trust, None)
        .context("the fleet's current plugins do not load; fix them first")?;
    if let Some(other) = existing.all().iter().find(|o| {
        o.file != plugin.file
            && o.manifest.connector == plugin.manifest.connector
            && o.produces == plugin.produces
    }) {
        bail!(
            "{} already migrates {} to {}; remove it (and its plugins.lock entry) first if {} replaces it",
            other.file,
            plugin.manifest.connector,
            plugin.produces,
            plugin.file
        );
    }
    let mut lock = Lock::read(&dir)?.unwrap_or_else(|| Lock {
        plugins: existing
            .all()
            .iter()
            .map(|p| Locked {
                file: p.file.clone(),
                sha256: p.sha256.clone(),
                connector: p.manifest.connector.clone(),
                produces: p.produces.to_string(),
                signer: p.signer.clone(),
            })
            .collect(),
    });
    cutover::store::directory::write_atomic(&dir.join(&plugin.file), &std::fs::read(file)?)?;
    let signature = signature_path(file);
    if signature.exists() {
        cutover::store::directory::write_atomic(
            &signature_path(&dir.join(&plugin.file)),
            &std::fs::read(&signature)?,
        )?;
    }
    lock.upsert(Locked {
        file: plugin.file.clone(),
        sha256: plugin.sha256.clone(),
        connector: plugin.manifest.connector.clone(),
        produces: plugin.produces.to_string(),
        signer: plugin.signer.clone(),
    });
    lock.write(&dir)?;
    println!(
        "Added {} (sha256 {}): {} {} → {}, {}. Pinned in {}.",
        cutover::terminal::line(&plugin.file),
        plugin.sha256,
        cutover::terminal::line(&plugin.manifest.connector),
        cutover::terminal::line(&plugin.manifest.applies_to),
        plugin.produces,
        match &plugin.signer {
            Some(key) => format!("signed by {key}"),
            None => "unsigned".into(),
        },
        dir.join(cutover::trust::LOCK_FILE).display()
    );
    Ok(ExitCode::SUCCESS)
}
