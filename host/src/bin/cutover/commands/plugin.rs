//! `cutover plugin`: the fleet's plugins (list, inspect, add), the registries' (publish,
//! search, install: [`super::distribution`]), the author's toolkit (new, build, test, guide,
//! import-metadata: [`crate::author`]) and the generated catalogue (import, verify,
//! catalogue: [`super::catalogue`]).

use anyhow::{Result, bail};
use clap::Subcommand;
use cutover::author::scaffold::Language;
use cutover::terminal::block;
use semver::Version;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{catalogue, distribution, print_json};
use crate::author::{self, AuthorPlugin};
use crate::render;
use crate::session::load;

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Check a plugin (signature, imports, manifest), copy it into the fleet and pin its
    /// sha256 in plugins.lock. A `FILE.minisig` beside it is checked and copied too.
    Add(distribution::AddArgs),
    /// Push plugins to an OCI registry as Wasm component artifacts, each with its
    /// signature (the .minisig beside it) as a second artifact.
    Publish(distribution::PublishArgs),
    /// What the fleet's registries ([registry.NAME] in cutover.toml) offer for its connectors.
    Search(distribution::SearchArgs),
    /// Pull plugins from the fleet's registries, verify digest and signature, and add them
    /// as `plugin add` does.
    Install(distribution::InstallArgs),
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
    /// Make a breaking version's plugin (its data) from the connector's metadata.yaml and
    /// its real packages on PyPI.
    Import(catalogue::ImportArgs),
    /// Check plugins (generated or hand-written) with the real new connector (spec,
    /// discover, read).
    Verify(catalogue::VerifyArgs),
    /// Write CATALOGUE.md from the census, the plugins and the verification results.
    Catalogue(catalogue::CatalogueArgs),
}

impl PluginCommand {
    pub fn execute(self, fleet: &Path) -> Result<ExitCode> {
        match self {
            PluginCommand::Add(args) => distribution::add(fleet, &args),
            PluginCommand::Publish(args) => distribution::publish(&args),
            PluginCommand::Search(args) => distribution::search(fleet, &args),
            PluginCommand::Install(args) => distribution::install(fleet, &args),
            PluginCommand::New {
                connector,
                version,
                dir,
                metadata,
                lang,
            } => author::new(lang, connector, version, dir, metadata.as_deref()),
            PluginCommand::Build { plugins, out } => author::build(&plugins, out.as_deref()),
            PluginCommand::Test { plugin, bless } => author::test(&plugin.resolve()?, bless),
            PluginCommand::Guide { plugin, out } => {
                author::guide(&plugin.resolve()?, out.as_deref())
            }
            PluginCommand::ImportMetadata {
                file,
                plugins,
                json,
                lang,
            } => author::import_metadata(&file, plugins.as_deref(), json, lang),
            PluginCommand::Import(args) => catalogue::import(args),
            PluginCommand::Verify(args) => catalogue::verify(args),
            PluginCommand::Catalogue(args) => catalogue::write_catalogue(args),
            PluginCommand::List { json } => {
                let loaded = load(fleet)?;
                if json {
                    print_json(&render::plugins_json(&loaded.registry))?;
                } else {
                    print!("{}", block(&render::plugins(&loaded.registry)));
                }
                Ok(ExitCode::SUCCESS)
            }
            PluginCommand::Inspect { plugin, json } => {
                let loaded = load(fleet)?;
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
}
