//! A real Airbyte source connector, installed from PyPI into a venv and run offline:
//! `spec`, `discover` and `read`, with every HTTP request answered by an empty page or a
//! recorded response.
//!
//! The connectors are the real packages (`airbyte-source-<name>==<version>`). Offline means
//! the `requests` transport (and `httpx`'s transports, sync and async, for clients built on
//! it such as firebolt-sdk; `http.client`'s connection, for clients that speak it
//! themselves; and the gRPC channel, for clients such as google-ads') is replaced, in the
//! connector's own process, by one that answers `200 {}` (a gRPC call: the empty message, or
//! the empty stream) and records what was asked ([`offline::SITECUSTOMIZE`]): streams then read no records,
//! which is what a verification wants (the connector must accept the config, the catalog
//! and the state, and emit a state from them), and nothing leaves the machine. Where `{}` lacks the pagination fields a connector reads, the connector's
//! `empty-page.json` (beside its version folders) is the empty page instead.
//!
//! # Recorded responses
//!
//! Some requests cannot be answered by an empty page: a token endpoint must give a token,
//! a connector may need one account from a list, a report job must finish. A
//! `responses.json` in the connector's fixture folder answers them for every version, in
//! `spec`, `discover` and `read` alike (each run starts its sequences anew); one in a
//! version's folder adds that version's own answers, which come first:
//!
//! ```json
//! {
//!   "note": "not <vendor>'s answers: shaped like them from <the connector's code, schema or test fixture>",
//!   "responses": [
//!     {"url": "/auth/o2/token", "method": "POST", "body": {"access_token": "t"}},
//!     {"url": "/v2/profiles", "status": 200, "headers": {"x-rate-limit": "10"}, "body": []},
//!     {"url": "/export/1", "sequence": [{"body": {"status": "pending"}}, {"body": {"status": "done"}}]},
//!     {"url": "/export/1/file", "headers": {"Content-Type": "text/csv"}, "text": "id\n"},
//!     {"url": "/graphql.json", "body_contains": "bulkOperationRunQuery", "body": {"data": {}}},
//!     {"url": "GoogleAdsService/Search", "body_contains": "FROM customer",
//!      "body": {"results": [{"customer": {"id": "1", "manager": false}}]}}
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
//! - A gRPC call is a `POST` whose URL is its method's path
//!   (`/google.ads.googleads.v15.services.GoogleAdsService/Search`: an entry's `url` can
//!   name the service and method alone, to answer every API version) and whose body is its
//!   serialized request (where a query's text can be found by `body_contains`). Its answer's
//!   `body` is the response message in protobuf's JSON form (`json_format.ParseDict` onto
//!   the method's response type; field names as in the `.proto` or in camelCase), a list of
//!   them for a streaming call; with none, the empty message, or the empty stream. `status`,
//!   `headers` and `text` do not apply: every call ends `OK`.
//! - `note` is required (the older `about` is read as it): these answers are never the
//!   vendor's, and it says where their shape came from, so every result made with them
//!   can say so.
//! - `commands` (optional) limits an entry to some connector commands (`"commands":
//!   ["read"]`): an answer a read needs but that would change what discover declares.
//! - `no_waiting` (optional) says why the connector's `time.sleep` returns at once: a
//!   report polled every 30 s or a rate limit of a request a minute has nothing to wait
//!   for offline; airbyte-cdk's rate limiter, which keeps its window on the clock, then
//!   lets every call through. The result says it too. [`offline::Recorded::parse`] refuses an unknown field, a body beside a
//!   text, or a sequence beside an answer.

use super::declarative;
use super::offline::{self, Recorded};
use super::source_tree::{self, SourceTree};
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
    /// Responses recorded for the requests an empty page cannot answer: the version's
    /// `responses.json`, then the connector's ([`Recorded::layered`]).
    pub responses: Option<Recorded>,
}

/// What a connector version runs as.
pub enum Runtime {
    /// `airbyte-source-<name>==<version>` from PyPI, in its own venv.
    Package,
    /// A manifest-only version: its manifest (and components) run by `airbyte-cdk`'s
    /// declarative source, in a venv per CDK version shared by every manifest on it.
    Declarative(declarative::Kept),
    /// A version that shipped as an image only: its source tree from the monorepo, in its
    /// own venv ([`source_tree`]).
    SourceTree(SourceTree),
}

/// The recorded responses of a version's fixture folder, if it has them.
pub const RESPONSES: &str = "responses.json";

/// The file a venv built from a source tree gets once it ran `spec`: the interpreter it
/// was built with. A half-built venv has none and is built again.
pub(crate) const INSTALLED: &str = "cutover-installed";

/// pip constraints for installing a version (beside its fixtures), where its package's
/// own requirements no longer install what it ran on.
pub const CONSTRAINTS: &str = "constraints.txt";

impl Installed {
    /// Connector `source` at `version`, whose fixtures are (or go) in `here`: the venv under
    /// `root` that runs it, if installed. A manifest-only version (`declarative.json` in
    /// `here`) runs on the venv of its CDK version, `airbyte-cdk-<version>`.
    fn at(root: &Path, source: &str, version: &str, here: &Path) -> Result<Self> {
        let runtime = match (declarative::read(here)?, source_tree::read(here)?) {
            (Some(kept), _) => Runtime::Declarative(kept),
            (None, Some(tree)) => Runtime::SourceTree(tree),
            (None, None) => Runtime::Package,
        };
        let dir = match &runtime {
            Runtime::Package => root.join(format!(
                "{}-{version}",
                source.trim_start_matches("source-")
            )),
            Runtime::Declarative(kept) => {
                root.join(format!("airbyte-cdk-{}", kept.declarative.airbyte_cdk))
            }
            Runtime::SourceTree(_) => root.join(format!(
                "{}-{version}-source",
                source.trim_start_matches("source-")
            )),
        };
        // The version's own recorded responses first, then the connector's (answers every
        // version of it needs, such as a token and an empty list of accounts).
        let own = Recorded::read(&here.join(RESPONSES))?;
        let connectors = match here.parent() {
            Some(parent) => Recorded::read(&parent.join(RESPONSES))?,
            None => None,
        };
        let responses = Recorded::layered(own, connectors);
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
    /// if missing: the connector's package or, for a manifest-only version, the CDK it runs
    /// on, from PyPI; for an image-only version, its source tree from `monorepo` (a git
    /// directory of airbytehq/airbyte), which must then be given.
    pub fn ensure(
        root: &Path,
        source: &str,
        version: &str,
        here: &Path,
        monorepo: Option<&Path>,
    ) -> Result<Self> {
        let installed = Self::at(root, source, version, here)?;
        if installed.is_installed() {
            return Ok(installed);
        }
        let (what, pythons) = match &installed.runtime {
            Runtime::Package => (format!("airbyte-{source}=={version}"), interpreters(None)),
            Runtime::Declarative(kept) => (
                format!("airbyte-cdk=={}", kept.declarative.airbyte_cdk),
                interpreters(None),
            ),
            Runtime::SourceTree(tree) => {
                if monorepo.is_none() {
                    bail!(
                        "{source} {version} shipped as an image only and is installed from its \
                         source at {}: give the monorepo (--monorepo <airbytehq/airbyte git dir>)",
                        tree.commit
                    );
                }
                (
                    format!("{source} {version} from its source at {}", tree.commit),
                    interpreters(Some(&tree.python)),
                )
            }
        };
        // A package that leaves its CDK unpinned gets today's, which its code may no longer
        // run on: the version's `constraints.txt` (pip's format, each line saying why)
        // holds it to the CDK it was released with.
        let constraints = std::path::absolute(here.join(CONSTRAINTS))?;
        // Older connectors pin CDKs that break on newer interpreters (dataclass defaults
        // Python 3.11 refuses): each interpreter is tried until `spec` runs.
        let mut failures = Vec::new();
        for python in pythons {
            tracing::info!(%source, %version, %python, %what, "installing");
            let attempt = installed
                .install(
                    &python,
                    root,
                    monorepo,
                    Some(constraints.as_path()).filter(|c| c.is_file()),
                )
                .and_then(|()| {
                    let work = tempfile::tempdir()?;
                    installed.spec(work.path()).map(drop)
                });
            match attempt {
                Ok(()) => {
                    std::fs::write(installed.dir.join(INSTALLED), &python)?;
                    return Ok(installed);
                }
                Err(e) => failures.push(format!("{python}: {e:#}")),
            }
        }
        let _ = std::fs::remove_dir_all(&installed.dir);
        bail!(
            "{what} cannot be installed and run here: {}",
            failures.join("; ")
        )
    }

    /// One attempt at installing the venv with `python` (held to pip's `constraints`, if
    /// given).
    fn install(
        &self,
        python: &str,
        root: &Path,
        monorepo: Option<&Path>,
        constraints: Option<&Path>,
    ) -> Result<()> {
        let package = match &self.runtime {
            Runtime::Package => format!("airbyte-{}=={}", self.name, self.version),
            Runtime::Declarative(kept) => format!("airbyte-cdk=={}", kept.declarative.airbyte_cdk),
            Runtime::SourceTree(tree) => {
                let monorepo = monorepo.context("an image-only version needs the monorepo")?;
                return source_tree::install(tree, monorepo, python, &self.dir, root, constraints);
            }
        };
        let _ = std::fs::remove_dir_all(&self.dir);
        run_quietly(Command::new(python).args(["-m", "venv"]).arg(&self.dir))?;
        // No byte-compiling at install: a connector imports a small part of what it
        // installs, and Python compiles (and caches) that on first use. This makes a cold
        // install markedly quicker, which CI's sample pays each time.
        let mut pip = Command::new(self.dir.join("bin/pip"));
        pip.args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
        ]);
        if let Some(constraints) = constraints {
            pip.arg("--constraint").arg(constraints);
        }
        run_quietly(pip.arg(&package))
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
            Runtime::SourceTree(_) => self.dir.join(INSTALLED).is_file(),
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

    /// What a version ran on when it is not its PyPI package, for reports: `manifest on
    /// airbyte-cdk 7.6.5 (baseImage)`, or the source tree an image-only version was built from.
    pub fn runs_on(&self) -> Option<String> {
        match &self.runtime {
            Runtime::Package => None,
            Runtime::SourceTree(tree) => Some(format!(
                "image only: built from its source at {} on Python {}, dependencies as of {}",
                &tree.commit[..tree.commit.len().min(12)],
                tree.python,
                tree.resolved_as_of.split('T').next().unwrap_or_default()
            )),
            Runtime::Declarative(kept) => Some(format!(
                "manifest on airbyte-cdk {} ({})",
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
        // Under coreutils' `timeout`: offline, a connector that polls an async job or retries
        // an answer it dislikes may never end.
        let limit = time_limit();
        let mut command = Command::new("timeout");
        command
            .args(["--kill-after=10", &limit.to_string()])
            .arg(self.dir.join("bin").join("python"));
        let mut path = vec![site];
        match &self.runtime {
            Runtime::Package => {
                command.arg(self.entry());
            }
            Runtime::SourceTree(_) => {
                command.arg(source_tree::source_dir(&self.dir).join("main.py"));
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
            .env("CUTOVER_COMMAND", args.first().copied().unwrap_or_default())
            .env("AIRBYTE_NO_TELEMETRY", "1")
            // A fixed hash seed: connectors that build a schema by iterating a set
            // (facebook-marketing's) discover the same catalog on every run.
            .env("PYTHONHASHSEED", "0")
            .env("CUTOVER_EMPTY_PAGE", &self.empty_page)
            // What a connector keeps in the user's folders (firebolt-sdk caches its token in
            // the data folder) stays in this run's, as it would in the command's own
            // container: no run answers from another's cache, and nothing is left in $HOME.
            .env(
                "XDG_DATA_HOME",
                work.join(format!("data-{}", args.first().copied().unwrap_or("run"))),
            )
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
        if output.status.code() == Some(124) || output.status.code() == Some(137) {
            bail!(
                "{} {} {} did not end within {limit} s offline (every request answered by the \
                 empty page or a recorded response); a connector that polls or retries forever \
                 offline cannot be run here: record the answers it waits for in responses.json, \
                 or raise {TIME_LIMIT}",
                self.name,
                self.version,
                args[0],
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

/// The interpreters a connector is installed with, in order: `preferred` (the Python its
/// image ran) first, then the Python versions `CUTOVER_CONNECTOR_PYTHONS` names
/// (space-separated), else 3.11 then 3.10; each as `python3.X` on PATH, or else as pyenv's
/// latest install of that version.
fn interpreters(preferred: Option<&str>) -> Vec<String> {
    let versions =
        std::env::var("CUTOVER_CONNECTOR_PYTHONS").unwrap_or_else(|_| "3.11 3.10".into());
    let mut order: Vec<&str> = preferred.into_iter().collect();
    order.extend(
        versions
            .split_whitespace()
            .filter(|v| Some(*v) != preferred),
    );
    order
        .into_iter()
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

/// The variable that sets how long one connector command may run, in seconds.
pub const TIME_LIMIT: &str = "CUTOVER_CONNECTOR_TIME_LIMIT";

/// How long one connector command may run: [`TIME_LIMIT`], else 300 s.
fn time_limit() -> u64 {
    std::env::var(TIME_LIMIT)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// Runs an install step; its error is the end of what it printed to stderr.
pub(super) fn run_quietly(command: &mut Command) -> Result<()> {
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
