//! `cutover plugin add|publish|search|install`: plugins entering a fleet from a file or a
//! registry, and leaving an author's machine for a registry.

use anyhow::{Context, Result, bail};
use clap::Args;
use cutover::author::package::Package;
use cutover::distribution::admission::{Admission, Admitted};
use cutover::distribution::client::RegistryClient;
use cutover::distribution::offers::{self, Need, Offer};
use cutover::distribution::{install, publish, settings};
use cutover::fleet::Fleet;
use cutover::plan::{ConnectionPlan, Options, Status};
use cutover::registry::Registry;
use cutover::terminal::line;
use semver::{Version, VersionReq};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `cutover plugin add FILE`.
#[derive(Args)]
pub struct AddArgs {
    /// The plugin component (.wasm).
    file: PathBuf,
}

/// `cutover plugin add`: everything a plugin must pass to run, checked before it enters the
/// fleet; then the copy and the lock entry. The first add creates plugins.lock, pinning the
/// plugins already in the directory as well.
pub fn add(fleet: &Path, args: &AddArgs) -> Result<ExitCode> {
    let file = &args.file;
    let fleet = Fleet::open(fleet)?;
    let mut admission = Admission::open(&fleet, "plugins add")?;
    admission
        .check(file, &fleet.settings.trust)
        .with_context(|| format!("plugin {} refused; nothing was added", file.display()))?;
    for plugin in admission.commit()? {
        println!("{}", added(&plugin, "Added"));
    }
    Ok(ExitCode::SUCCESS)
}

/// One line for a plugin now in the fleet.
fn added(p: &Admitted, verb: &str) -> String {
    format!(
        "{verb} {} (sha256 {}): {} {} → {}, {}. Pinned in {}.",
        line(&p.file),
        p.sha256,
        line(&p.connector),
        line(&p.applies_to),
        p.produces,
        match &p.signer {
            Some(key) => format!("signed by {key}"),
            None => "unsigned".into(),
        },
        p.lock.display()
    )
}

/// `cutover plugin publish PLUGIN... REGISTRY`.
#[derive(Args)]
pub struct PublishArgs {
    /// The plugins: built components (.wasm, with their .minisig beside them when signed),
    /// or plugin folders (crates or Python projects), built first.
    #[arg(required = true, num_args = 1..)]
    plugins: Vec<PathBuf>,
    /// Where to: <host>[:port]/<namespace>. Credentials from $CUTOVER_REGISTRY_USERNAME
    /// and $CUTOVER_REGISTRY_PASSWORD.
    #[arg(last = false)]
    registry: String,
    /// CA certificates (PEM) to verify the registry's TLS certificate against, besides the
    /// system's.
    #[arg(long, env = "CUTOVER_REGISTRY_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// Sign each component with this minisign secret key first (writing its .minisig
    /// beside it); an encrypted key's password comes from $CUTOVER_SIGNING_KEY_PASSWORD.
    #[arg(long, value_name = "SECRET_KEY")]
    key: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn publish(args: &PublishArgs) -> Result<ExitCode> {
    let endpoint = settings::publish_endpoint(&args.registry, args.ca_file.as_deref())?;
    let client = RegistryClient::new(&endpoint)?;
    let mut published = Vec::new();
    for plugin in &args.plugins {
        let wasm = if plugin.is_dir() {
            Package::open(plugin)?
                .build()
                .with_context(|| format!("building {}", plugin.display()))?
        } else {
            plugin.clone()
        };
        if let Some(key) = &args.key {
            cutover::distribution::sign::sign(&wasm, key)?;
        }
        let done = publish::publish(&client, &wasm)?;
        if !args.json {
            println!(
                "Published {} → {} ({} {} → {}, contract {}, sha256 {}), {}.",
                wasm.display(),
                line(&done.reference),
                line(&done.description.connector),
                done.description.applies_to,
                done.description.produces,
                line(&done.description.contract),
                done.description.sha256,
                match &done.signature {
                    Some(tag) => format!("signature as {tag}"),
                    None => "unsigned (no .minisig beside it)".into(),
                }
            );
        }
        published.push(done);
    }
    if args.json {
        super::print_json(&published)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `cutover plugin search [CONNECTOR...]`.
#[derive(Args)]
pub struct SearchArgs {
    /// The connectors to look for (default: every connector of the fleet).
    connectors: Vec<String>,
    #[arg(long)]
    json: bool,
}

/// What the fleet's connections need, as the policy sees them without running a plugin.
struct FleetNeeds {
    fleet: Fleet,
    needs: Vec<Need>,
    /// The fleet's plugins: (connector, range, produced version).
    installed: Vec<(String, VersionReq, Version)>,
    connectors: Vec<String>,
}

fn fleet_needs(fleet: &Path) -> Result<FleetNeeds> {
    let loaded = crate::session::load(fleet)?;
    let plan = loaded.plan(&Options::default(), false)?;
    let needs = needs_of(&plan.connections);
    let mut connectors: Vec<String> = plan
        .connections
        .iter()
        .filter_map(|c| c.connector.clone())
        .collect();
    connectors.sort();
    connectors.dedup();
    let installed = installed(&loaded.registry);
    Ok(FleetNeeds {
        fleet: loaded.fleet,
        needs,
        installed,
        connectors,
    })
}

/// The fleet's plugins as chains see them: (connector, range, produced version).
fn installed(registry: &Registry) -> Vec<(String, VersionReq, Version)> {
    registry
        .all()
        .iter()
        .map(|p| {
            (
                p.manifest.connector.clone(),
                p.applies_to.clone(),
                p.produces.clone(),
            )
        })
        .collect()
}

/// The connections an upgrade would move: where each is and where it should go.
pub fn needs_of(connections: &[ConnectionPlan]) -> Vec<Need> {
    connections
        .iter()
        .filter(|c| {
            !matches!(
                c.status,
                Status::Pinned | Status::UpToDate | Status::Invalid
            )
        })
        .filter_map(|c| {
            Some(Need {
                connector: c.connector.clone()?,
                from: c.from.clone()?,
                to: c.to.clone(),
            })
        })
        .collect()
}

/// Every registry of the fleet, connected.
fn clients(fleet: &Fleet) -> Result<Vec<RegistryClient>> {
    settings::endpoints(&fleet.settings.registry, fleet.root())?
        .iter()
        .map(RegistryClient::new)
        .collect()
}

/// What the registries offer (each offer with the index of its client), and what they
/// have that is not a usable plugin.
type Found = (Vec<(usize, Offer)>, Vec<offers::Skipped>);

/// What the registries offer for `connectors`, each offer with the index of its client.
fn offers_for(clients: &[RegistryClient], connectors: &[String]) -> Result<Found> {
    let mut all = Vec::new();
    let mut skipped = Vec::new();
    for (i, client) in clients.iter().enumerate() {
        for connector in connectors {
            let (found, bad) = offers::for_connector(client, connector)?;
            all.extend(found.into_iter().map(|o| (i, o)));
            skipped.extend(bad);
        }
    }
    Ok((all, skipped))
}

pub fn search(fleet: &Path, args: &SearchArgs) -> Result<ExitCode> {
    let needs = fleet_needs(fleet)?;
    let connectors = if args.connectors.is_empty() {
        needs.connectors.clone()
    } else {
        args.connectors.clone()
    };
    let clients = clients(&needs.fleet)?;
    let (found, skipped) = offers_for(&clients, &connectors)?;
    let offers: Vec<Offer> = found.iter().map(|(_, o)| o.clone()).collect();
    let needed: Vec<&str> = offers::needed(&needs.needs, &needs.installed, &offers)
        .iter()
        .map(|o| o.reference.as_str())
        .collect();
    if args.json {
        let rows: Vec<_> = offers
            .iter()
            .map(|o| {
                let mut v = serde_json::to_value(o).expect("an offer serializes");
                v["needed"] = needed.contains(&o.reference.as_str()).into();
                v
            })
            .collect();
        super::print_json(&serde_json::json!({"offers": rows, "skipped": skipped}))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = String::new();
    for connector in &connectors {
        let of: Vec<&Offer> = offers
            .iter()
            .filter(|o| o.description.connector == *connector)
            .collect();
        if of.is_empty() {
            let _ = writeln!(out, "{}: no plugin in any registry", line(connector));
            continue;
        }
        let _ = writeln!(out, "{}:", line(connector));
        for o in of {
            let _ = writeln!(
                out,
                "  {:<8} {:<22} contract {:<6} {:<8} {}{}",
                o.description.produces,
                line(&o.description.applies_to.to_string()),
                line(&o.description.contract),
                if o.signed { "signed" } else { "unsigned" },
                line(&o.reference),
                if needed.contains(&o.reference.as_str()) {
                    "  (needed by the fleet)"
                } else {
                    ""
                }
            );
        }
    }
    for s in &skipped {
        let _ = writeln!(out, "skipped {}: {}", line(&s.reference), line(&s.reason));
    }
    if !needed.is_empty() {
        let _ = writeln!(
            out,
            "\nInstall what the fleet needs with: cutover plugin install --all-needed"
        );
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// `cutover plugin install [CONNECTOR[@VERSION]...] [--all-needed]`.
#[derive(Args)]
pub struct InstallArgs {
    /// The plugins: a connector (the plugins its connections' chains need) or
    /// CONNECTOR@VERSION (the plugin producing VERSION).
    #[arg(required_unless_present = "all_needed")]
    plugins: Vec<String>,
    /// Every plugin the chains of the fleet's connections need.
    #[arg(long, conflicts_with = "plugins")]
    all_needed: bool,
    #[arg(long)]
    json: bool,
}

pub fn install(fleet: &Path, args: &InstallArgs) -> Result<ExitCode> {
    let needs = fleet_needs(fleet)?;
    let requested: Vec<(String, Option<Version>)> = args
        .plugins
        .iter()
        .map(|p| match p.rsplit_once('@') {
            Some((connector, version)) => Version::parse(version)
                .map(|v| (connector.to_owned(), Some(v)))
                .with_context(|| format!("{p:?}: {version:?} is not a version")),
            None => Ok((p.clone(), None)),
        })
        .collect::<Result<_>>()?;
    let connectors: Vec<String> = if args.all_needed {
        needs.needs.iter().map(|n| n.connector.clone()).collect()
    } else {
        requested.iter().map(|(c, _)| c.clone()).collect()
    };
    let mut connectors = connectors;
    connectors.sort();
    connectors.dedup();
    let clients = clients(&needs.fleet)?;
    let (found, skipped) = offers_for(&clients, &connectors)?;
    // What a registry has for a connector but is not a usable plugin, for errors.
    let unusable = |connector: &str| -> String {
        let repository = format!("/{}:", connector.to_ascii_lowercase());
        skipped
            .iter()
            .filter(|s| s.reference.contains(&repository))
            .map(|s| format!("; {} was refused: {}", line(&s.reference), line(&s.reason)))
            .collect()
    };
    // The first registry that offers a version is the one it comes from.
    let mut unique: Vec<(usize, Offer)> = Vec::new();
    for (i, o) in found {
        if !unique.iter().any(|(_, u)| {
            u.description.connector == o.description.connector
                && u.description.produces == o.description.produces
        }) {
            unique.push((i, o));
        }
    }
    let offers: Vec<Offer> = unique.iter().map(|(_, o)| o.clone()).collect();
    let mut chosen: Vec<&Offer> = Vec::new();
    if args.all_needed {
        chosen = offers::needed(&needs.needs, &needs.installed, &offers);
    }
    for (connector, version) in &requested {
        let of: Vec<&Offer> = offers
            .iter()
            .filter(|o| o.description.connector == *connector)
            .collect();
        if of.is_empty() {
            bail!(
                "no registry of the fleet offers a plugin of {connector} ({}){}; `cutover plugin search {connector}` lists what they have",
                clients
                    .iter()
                    .map(|c| c.endpoint().address())
                    .collect::<Vec<_>>()
                    .join(", "),
                unusable(connector)
            );
        }
        match version {
            Some(v) => chosen.push(
                of.iter()
                    .find(|o| o.description.produces == *v)
                    .with_context(|| {
                        format!(
                            "no registry offers the plugin of {connector} producing {v}; offered: {}{}",
                            versions(&of),
                            unusable(connector)
                        )
                    })?,
            ),
            None => {
                let for_connector: Vec<Need> = needs
                    .needs
                    .iter()
                    .filter(|n| n.connector == *connector)
                    .cloned()
                    .collect();
                let these = offers::needed(&for_connector, &needs.installed, &offers);
                if these.is_empty() {
                    bail!(
                        "no connection of the fleet needs a plugin of {connector} that it lacks; to install one anyway, name its version: cutover plugin install {connector}@VERSION (offered: {})",
                        versions(&of)
                    );
                }
                chosen.extend(these);
            }
        }
    }
    chosen.dedup_by(|a, b| a.reference == b.reference);
    if chosen.is_empty() {
        if !args.json {
            println!("The fleet's chains need no plugin it does not have.");
        } else {
            super::print_json(&Vec::<Admitted>::new())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let pairs: Vec<(&RegistryClient, &Offer)> = chosen
        .iter()
        .map(|o| {
            let (i, _) = unique
                .iter()
                .find(|(_, u)| u.reference == o.reference)
                .expect("a chosen offer is one of the offers");
            (&clients[*i], *o)
        })
        .collect();
    let admitted = install::install(&needs.fleet, &pairs)?;
    if args.json {
        super::print_json(&admitted)?;
    } else {
        for (p, (_, o)) in admitted.iter().zip(&pairs) {
            println!(
                "{}",
                added(p, &format!("Installed {} as", line(&o.reference)))
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn versions(offers: &[&Offer]) -> String {
    offers
        .iter()
        .map(|o| o.description.produces.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// For `status` and `plan`: the plugins the fleet's connections still need and which
/// registry has them, or nothing when the fleet names no registry. A registry that cannot
/// be reached is said, not fatal: the plan stands without it.
pub fn hints(fleet: &Fleet, registry: &Registry, connections: &[ConnectionPlan]) -> String {
    if fleet.settings.registry.is_empty() {
        return String::new();
    }
    let blocked: Vec<Need> = connections
        .iter()
        .filter(|c| c.status == Status::Blocked)
        .filter_map(|c| {
            Some(Need {
                connector: c.connector.clone()?,
                from: c.from.clone()?,
                to: c.to.clone(),
            })
        })
        .collect();
    if blocked.is_empty() {
        return String::new();
    }
    let mut connectors: Vec<String> = blocked.iter().map(|n| n.connector.clone()).collect();
    connectors.sort();
    connectors.dedup();
    let result = clients(fleet).and_then(|clients| offers_for(&clients, &connectors));
    let mut out = String::new();
    match result {
        Err(e) => {
            let _ = writeln!(
                out,
                "\nPlugins the blocked connections need could not be looked up: {}",
                line(&format!("{e:#}"))
            );
        }
        Ok((found, _)) => {
            let offers: Vec<Offer> = found.into_iter().map(|(_, o)| o).collect();
            let needed = offers::needed(&blocked, &installed(registry), &offers);
            if needed.is_empty() {
                let _ = writeln!(
                    out,
                    "\nNo registry of the fleet has the plugins the blocked connections need."
                );
            } else {
                let _ = writeln!(out, "\nPlugins the blocked connections need, available:");
                for o in &needed {
                    let _ = writeln!(
                        out,
                        "  {} {} from registry {} ({}): cutover plugin install {}@{}",
                        line(&o.description.connector),
                        o.description.produces,
                        line(&o.registry),
                        line(&o.reference),
                        line(&o.description.connector),
                        o.description.produces
                    );
                }
            }
        }
    }
    out
}
