//! The test kit: what cutover's integration tests share.
//!
//! - [`plugin`] builds the real plugin components from `plugins/` and `tests/guests/` for
//!   `wasm32-wasip2` (once per test process, in their own target directory so the nested
//!   cargo does not wait on the outer build's lock) and returns a `.wasm` path;
//!   [`python_plugin`] does the same for the Python plugins (`plugins/python/`,
//!   `tests/guests/python/`), with the `cutover` binary under test (`plugin build`), and
//!   [`compile_cache_dir`] is where compiled plugins are kept between tests.
//! - [`Fleet`] lays out a fixture fleet in a temporary directory, from the bundled example
//!   fleet or from scratch, and reads it back byte for byte.

pub mod measure;
pub mod postgres;
pub mod registry;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_owned()
}

/// The misbehaving test plugins, built beside the real ones.
const GUESTS: &[&str] = &[
    "hostile-plugin",
    "forbidden-plugin",
    "partition-state-plugin",
    "secret-mover-plugin",
];

/// The real migration plugin crates: every folder under `plugins/` but the SDK.
pub fn plugin_crates() -> Vec<PathBuf> {
    plugin_folders(&root().join("plugins"), "Cargo.toml")
}

/// The folders under `dir` holding `marker` (a plugin's manifest), the SDK's excepted, in
/// name order.
fn plugin_folders(dir: &Path, marker: &str) -> Vec<PathBuf> {
    let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.join(marker).is_file() && p.file_name().is_some_and(|n| n != "sdk"))
        .collect();
    folders.sort();
    folders
}

/// The real Elastic migration plugin crates: every folder under `plugins/elastic/`.
pub fn elastic_plugin_crates() -> Vec<PathBuf> {
    plugin_folders(&root().join("plugins").join("elastic"), "Cargo.toml")
}

/// A crate's package name, from its Cargo.toml.
fn package_name(dir: &Path) -> String {
    let manifest =
        std::fs::read_to_string(dir.join("Cargo.toml")).expect("reading a plugin's Cargo.toml");
    manifest
        .lines()
        .find_map(|l| {
            l.strip_prefix("name = \"")
                .and_then(|rest| rest.strip_suffix('"'))
        })
        .expect("a package name")
        .to_owned()
}

/// The package names of every plugin the tests build: the real ones and the test guests.
fn packages() -> Vec<String> {
    let mut names: Vec<String> = plugin_crates()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.extend(elastic_plugin_crates().iter().map(|p| package_name(p)));
    names.extend(GUESTS.iter().map(|g| (*g).to_owned()));
    names
}

/// Installs the `wasm32-wasip2` target through rustup when it is missing, as
/// `plugins/build` does, so the tests run on a machine fresh from `rustup`.
fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match installed {
        Ok(out)
            if String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == "wasm32-wasip2") =>
        {
            Ok(())
        }
        Ok(_) => {
            let status = Command::new("rustup")
                .args(["target", "add", "wasm32-wasip2"])
                .status()?;
            if !status.success() {
                bail!("`rustup target add wasm32-wasip2` failed ({status})");
            }
            Ok(())
        }
        // No rustup: let cargo say whether the target is there.
        Err(_) => Ok(()),
    }
}

/// Where the guests are built: beside the host's build, in their own directory (where
/// `plugins/build` and `cutover plugin test` build them too).
pub fn plugin_target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir).join("plugins"),
        None => root().join("target").join("plugins"),
    }
}

fn build_plugins() -> Result<PathBuf> {
    ensure_wasm_target()?;
    let root = root();
    let target_dir = plugin_target_dir();
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(&root)
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target_dir);
    for p in packages() {
        cmd.args(["-p", &p]);
    }
    // The outer build's settings are for the host, not for the guests.
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_MAKEFLAGS",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().context("running cargo to build the plugins")?;
    if !status.success() {
        bail!(
            "building the plugins failed ({status}); is the wasm32-wasip2 target installed? (rustup target add wasm32-wasip2)"
        );
    }
    Ok(target_dir.join("wasm32-wasip2").join("release"))
}

/// The path of a built plugin component, by package name (`source-pinterest-v2`).
pub fn plugin(package: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    built(&BUILT, build_plugins, package)
}

/// The component `name` among those `build` builds, once per test process.
fn built(
    once: &OnceLock<Result<PathBuf, String>>,
    build: fn() -> Result<PathBuf>,
    name: &str,
) -> PathBuf {
    let dir = once
        .get_or_init(|| build().map_err(|e| format!("{e:#}")))
        .as_ref()
        .expect("the plugins build");
    let path = dir.join(format!("{}.wasm", name.replace('-', "_")));
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// The Python plugin projects: every folder under `plugins/python/` but the SDK.
pub fn python_plugin_projects() -> Vec<PathBuf> {
    plugin_folders(&root().join("plugins").join("python"), "pyproject.toml")
}

/// The Python test guests (`tests/guests/python/`): a hostile plugin and the state
/// benchmark's plugin.
fn python_guests() -> Vec<PathBuf> {
    ["hostile", "partition-state"]
        .iter()
        .map(|g| root().join("tests").join("guests").join("python").join(g))
        .collect()
}

/// The `cutover` binary built beside the running test (or bench) executable.
fn cutover_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable is in <profile>/deps");
    let bin = dir.join("cutover");
    assert!(
        bin.is_file(),
        "{} is missing; build it first (cargo build -p cutover)",
        bin.display()
    );
    bin
}

fn build_python_plugins() -> Result<PathBuf> {
    let target = plugin_target_dir();
    let target_root = target
        .parent()
        .expect("the plugin target dir has a parent")
        .to_owned();
    let mut cmd = Command::new(cutover_binary());
    cmd.args(["plugin", "build"])
        .args(python_plugin_projects())
        .args(python_guests());
    cmd.env("CARGO_TARGET_DIR", &target_root)
        .env_remove("RUST_LOG");
    let out = cmd.output().context("running cutover plugin build")?;
    if !out.status.success() {
        bail!(
            "building the Python plugins failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(target.join("python"))
}

/// The path of a built Python plugin component, by project name (`source-pinterest-v2`,
/// `hostile-python`).
pub fn python_plugin(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    built(&BUILT, build_python_plugins, name)
}

/// Where the tests keep compiled plugin code, shared by every fleet they make with a Python
/// plugin (compiling one takes many seconds) and by `cutover plugin test`.
pub fn compile_cache_dir() -> PathBuf {
    plugin_target_dir().join("cache")
}

/// Copies a directory tree (files and folders only).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A fleet in a temporary directory.
pub struct Fleet {
    dir: tempfile::TempDir,
}

impl Fleet {
    /// An empty fleet with the given cutover.toml.
    pub fn new(settings: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir_all(dir.path().join("connections")).unwrap();
        std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
        std::fs::write(dir.path().join("cutover.toml"), settings).unwrap();
        Self { dir }
    }

    /// A copy of `examples/fleet` (settings, connections, specs, catalogs), with the real
    /// Pinterest plugins.
    pub fn example() -> Self {
        let src = root().join("examples").join("fleet");
        let fleet = Self::new(&std::fs::read_to_string(src.join("cutover.toml")).unwrap());
        for entry in std::fs::read_dir(src.join("connections")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(
                entry.path(),
                fleet.path().join("connections").join(entry.file_name()),
            )
            .unwrap();
        }
        copy_tree(&src.join("specs"), &fleet.path().join("specs"));
        copy_tree(&src.join("catalogs"), &fleet.path().join("catalogs"));
        fleet.add_plugin("source-pinterest-v1");
        fleet.add_plugin("source-pinterest-v2");
        fleet
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Copies the Elastic data sources' default configurations and service types
    /// (`tests/fixtures/elastic`) into the fleet's `specs/elastic/`, in the fleet's layout
    /// (`<service type>/<version>.json`).
    pub fn add_elastic_specs(&self) {
        let fixtures = root().join("tests").join("fixtures").join("elastic");
        let specs = self.path().join("specs").join("elastic");
        std::fs::create_dir_all(&specs).unwrap();
        std::fs::copy(
            fixtures.join("service-types.json"),
            specs.join("service-types.json"),
        )
        .unwrap();
        for version in std::fs::read_dir(&fixtures)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
        {
            for defaults in std::fs::read_dir(&version)
                .unwrap()
                .map(|e| e.unwrap().path())
            {
                let dir = specs.join(defaults.file_stem().unwrap());
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::copy(
                    &defaults,
                    dir.join(format!(
                        "{}.json",
                        version.file_name().unwrap().to_string_lossy()
                    )),
                )
                .unwrap();
            }
        }
    }

    /// Copies a built Python plugin (by project name) into the fleet, and points the
    /// fleet's compile cache at the tests' shared one.
    pub fn add_python_plugin(&self, name: &str) -> PathBuf {
        let src = python_plugin(name);
        let dst = self.path().join("plugins").join(src.file_name().unwrap());
        std::fs::copy(&src, &dst).unwrap();
        self.share_compile_cache();
        dst
    }

    /// Makes the fleet's compile cache (`.cutover/cache`) the tests' shared one.
    pub fn share_compile_cache(&self) {
        let state = self.path().join(".cutover");
        let link = state.join("cache");
        if link.exists() {
            return;
        }
        std::fs::create_dir_all(&state).unwrap();
        std::fs::create_dir_all(compile_cache_dir()).unwrap();
        std::os::unix::fs::symlink(compile_cache_dir(), link).unwrap();
    }

    /// Copies a built plugin into the fleet.
    pub fn add_plugin(&self, package: &str) -> PathBuf {
        let src = plugin(package);
        let dst = self.path().join("plugins").join(src.file_name().unwrap());
        std::fs::copy(&src, &dst).unwrap();
        dst
    }

    /// Writes a connection document as given (bytes, not necessarily valid).
    pub fn write_raw(&self, file: &str, bytes: &[u8]) {
        std::fs::write(self.path().join("connections").join(file), bytes).unwrap();
    }

    /// Writes a connection document.
    pub fn write(&self, doc: &Value) {
        let id = doc["id"].as_str().expect("a document with an id");
        self.write_raw(
            &format!("{id}.json"),
            &serde_json::to_vec_pretty(doc).unwrap(),
        );
    }

    /// The bytes of a connection document.
    pub fn read_raw(&self, id: &str) -> Vec<u8> {
        std::fs::read(self.path().join("connections").join(format!("{id}.json"))).unwrap()
    }

    /// A connection document, parsed.
    pub fn read(&self, id: &str) -> Value {
        serde_json::from_slice(&self.read_raw(id)).unwrap()
    }

    /// Every connection document's bytes, by file name.
    pub fn documents(&self) -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(self.path().join("connections"))
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| Self::is_document(&e.file_name().to_string_lossy()))
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    }

    /// Anything in `connections/` that is not a connection document (such as a temporary
    /// file an interrupted write left).
    pub fn strays(&self) -> Vec<String> {
        std::fs::read_dir(self.path().join("connections"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| !Self::is_document(name))
            .collect()
    }

    fn is_document(name: &str) -> bool {
        name.ends_with(".json") && !name.starts_with('.')
    }

    /// Moves the fleet's documents and ledger to the PostgreSQL database at `url`, with
    /// the `[store]` settings given (`lease_seconds = 2`, …).
    pub fn set_store_with(&self, url: &str, settings: &str) {
        let path = self.path().join("cutover.toml");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&format!("\n[store]\nurl = {url:?}\n{settings}\n"));
        std::fs::write(path, text).unwrap();
    }

    /// Moves the fleet's documents and ledger to the PostgreSQL database at `url`.
    pub fn set_store(&self, url: &str) {
        self.set_store_with(url, "");
    }

    /// The `[store] url` of the fleet's settings, if it has one.
    pub fn store_url(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.path().join("cutover.toml")).unwrap();
        text.lines().find_map(|l| {
            l.strip_prefix("url = ")
                .map(|v| v.trim_matches('"').to_owned())
        })
    }
}

/// Every connection document of the embedded fleet at `dir`, by file name.
pub fn read_documents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir.join("connections"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| Fleet::is_document(&e.file_name().to_string_lossy()))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// The legacy state of `n` partitions of one stream, source-pinterest-shaped (one cursor
/// per ad account), as the state benchmarks and `benches/cdk` build it: a JSON object.
pub fn legacy_partitions(n: usize) -> String {
    let mut out = String::with_capacity(n * 48 + 128);
    out.push('{');
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            "\"{}\":{{\"updated_time\":{}}}",
            549755885175u64 + i as u64,
            1628867244u64 + i as u64
        ));
    }
    out.push('}');
    out
}

/// A state (a JSON array of state messages) whose one `STREAM` message holds
/// [`legacy_partitions`]`(n)` for the stream `campaigns`.
pub fn legacy_partition_state(n: usize) -> String {
    format!(
        "[{{\"type\":\"STREAM\",\"stream\":{{\"stream_descriptor\":{{\"name\":\"campaigns\"}},\"stream_state\":{}}}}}]",
        legacy_partitions(n)
    )
}

/// A small source-pinterest 1.3.3 connection (2 streams, about 1 KB): `campaigns`
/// incremental with its 1.x cursor at `updated_time`, `boards` full refresh.
pub fn small_pinterest_connection(id: &str, updated_time: u64) -> Value {
    serde_json::json!({
        "id": id, "connector": "airbyte/source-pinterest", "version": "1.3.3", "pin": null,
        "config": {"start_date": "2023-01-01", "credentials": {"auth_method": "oauth2.0", "client_id": "1", "client_secret": "s", "refresh_token": "r"}},
        "catalog": {"streams": [
            {"stream": {"name": "campaigns", "json_schema": {"type": "object", "properties": {"id": {"type": ["null", "string"]}, "updated_time": {"type": ["null", "integer"]}}},
                        "supported_sync_modes": ["full_refresh", "incremental"], "source_defined_cursor": true, "default_cursor_field": ["updated_time"], "source_defined_primary_key": [["id"]]},
             "sync_mode": "incremental", "cursor_field": ["updated_time"], "destination_sync_mode": "append_dedup", "primary_key": [["id"]]},
            {"stream": {"name": "boards", "json_schema": {"type": "object", "properties": {"id": {"type": ["null", "string"]}}}, "supported_sync_modes": ["full_refresh"], "source_defined_primary_key": [["id"]]},
             "sync_mode": "full_refresh", "destination_sync_mode": "overwrite", "primary_key": [["id"]]}
        ]},
        "state": [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "campaigns"}, "stream_state": {"updated_time": updated_time}}}]
    })
}

/// A fleet of `n` small source-pinterest 1.3.3 connections (`c000000`, …) with the real
/// 2.0.0 plugin, targeting 2.0.0, in a temporary directory: what the benchmarks apply.
pub fn small_pinterest_fleet(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("connections")).unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    std::fs::write(dir.path().join("cutover.toml"), "[platform]\nplatform = \"0.63.14\"\n[connectors.\"airbyte/source-pinterest\"]\ntarget = \"2.0.0\"\n").unwrap();
    std::fs::copy(
        plugin("source-pinterest-v2"),
        dir.path().join("plugins/source_pinterest_v2.wasm"),
    )
    .unwrap();
    for i in 0..n {
        let doc = small_pinterest_connection(&format!("c{i:06}"), 1714521600 + i as u64);
        std::fs::write(
            dir.path().join(format!("connections/c{i:06}.json")),
            serde_json::to_vec_pretty(&doc).unwrap(),
        )
        .unwrap();
    }
    dir
}

/// A minimal connection document of `test/source-hostile` 1.0.0 behaving as `mode`.
pub fn hostile_connection(id: &str, mode: &str) -> Value {
    serde_json::json!({
        "id": id,
        "connector": "test/source-hostile",
        "version": "1.0.0",
        "pin": null,
        "config": {"hostile": mode},
        "catalog": {"streams": []},
        "state": []
    })
}

/// What one run of the `cutover` binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The stdout as JSON (for `--json` commands).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Asserts the exit code, showing the output when it differs.
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs the `cutover` binary at `bin` on `fleet`.
pub fn cutover(bin: &str, fleet: &Path, args: &[&str]) -> Run {
    cutover_with_env(bin, fleet, args, &[])
}

/// Runs the `cutover` binary with extra environment variables.
pub fn cutover_with_env(bin: &str, fleet: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    // A `postgres://` fleet takes its settings from the current directory: a new empty one.
    let cwd = tempfile::tempdir().expect("a temporary directory");
    let out = command(bin, fleet, args, env, cwd.path())
        .output()
        .expect("running cutover");
    Run::from(out)
}

/// Runs the `cutover` binary at `bin` from the workspace root (as a plugin author does),
/// with plugin builds sharing the test kit's target directory and none of the outer build's
/// settings.
pub fn cutover_in_workspace(bin: &str, args: &[&str]) -> Run {
    cutover_in_workspace_with_env(bin, args, &[])
}

/// What is wrong with each plugin crate's golden fixtures, by `cutover plugin test` (the
/// binary at `bin`): a failing case, fewer than two cases, no target spec (whose line in
/// the output starts with `checked`), or what `more` finds in a crate's run.
pub fn golden_failures(
    bin: &str,
    crates: &[PathBuf],
    checked: &str,
    more: impl Fn(&str, &Run) -> Option<String>,
) -> Vec<String> {
    let mut failures = Vec::new();
    for dir in crates {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let run = cutover_in_workspace(bin, &["plugin", "test", dir.to_str().unwrap()]);
        let cases = std::fs::read_dir(dir.join("fixtures"))
            .map(|d| {
                d.filter(|e| e.as_ref().unwrap().path().join("input.json").is_file())
                    .count()
            })
            .unwrap_or(0);
        if run.code != 0 {
            failures.push(format!(
                "{name}: exit {}\n{}{}",
                run.code, run.stdout, run.stderr
            ));
        } else if cases < 2 {
            failures.push(format!(
                "{name}: {cases} golden case(s); every plugin needs at least two"
            ));
        } else if !run.stdout.contains(checked) {
            failures.push(format!(
                "{name}: no target spec (package.metadata.cutover.target-spec)"
            ));
        } else if !run
            .stdout
            .contains(&format!("{cases} case(s): {cases} passed, 0 failed"))
        {
            failures.push(format!("{name}: not every case ran:\n{}", run.stdout));
        }
        failures.extend(more(&name, &run));
    }
    failures
}

/// Starts the `cutover` binary without waiting for it (its output piped).
pub fn spawn_cutover(
    bin: &str,
    fleet: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Child {
    command(bin, fleet, args, env, &std::env::temp_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting cutover")
}

/// The `cutover` binary at `bin` on `fleet`, run from `cwd` (a `postgres://` fleet takes its
/// settings from the current directory), with no variables of the test's own environment
/// that change what it does.
fn command(bin: &str, fleet: &Path, args: &[&str], env: &[(&str, &str)], cwd: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(cwd)
        .arg("--fleet")
        .arg(fleet)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("CUTOVER_FAILPOINT")
        .env_remove("CUTOVER_PAUSE")
        .env_remove("CUTOVER_GATE")
        .env_remove("PGPASSWORD")
        .envs(env.iter().copied());
    cmd
}

/// What a finished process gave.
impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// The sha256 of some bytes, as lowercase hex (what cutover records).
pub fn sha256(bytes: &[u8]) -> String {
    let out = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let mut child = out.expect("sha256sum");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// A minisign key pair for signing test plugins.
pub struct SigningKey {
    pair: minisign::KeyPair,
}

impl SigningKey {
    pub fn generate() -> Self {
        Self {
            pair: minisign::KeyPair::generate_unencrypted_keypair().expect("a key pair"),
        }
    }

    /// The public key as cutover.toml's `[trust.keys]` takes it.
    pub fn public(&self) -> String {
        self.pair.pk.to_base64()
    }

    /// Writes the secret key, unencrypted, as `minisign -G -W` does; returns its path.
    pub fn write_secret(&self, dir: &Path) -> PathBuf {
        let path = dir.join("author.key");
        let boxed = self.pair.sk.to_box(None).unwrap();
        std::fs::write(&path, boxed.to_string()).unwrap();
        path
    }

    /// Writes `<file>.minisig` beside `file`.
    pub fn sign(&self, file: &Path) {
        let bytes = std::fs::read(file).unwrap();
        let sig = minisign::sign(
            Some(&self.pair.pk),
            &self.pair.sk,
            std::io::Cursor::new(bytes),
            None,
            None,
        )
        .unwrap();
        let mut name = file.file_name().unwrap().to_owned();
        name.push(".minisig");
        std::fs::write(file.with_file_name(name), sig.to_string()).unwrap();
    }
}

/// The Rust SDK as it is published: `cargo package` of `cutover-plugin`, unpacked outside
/// the checkout (once per test process); returns the unpacked crate's folder.
pub fn packaged_sdk() -> PathBuf {
    packaged_crates().0
}

/// The contract's types as they are published (`cutover-contract`, which the SDK depends
/// on by version), packaged and unpacked beside [`packaged_sdk`].
pub fn packaged_contract() -> PathBuf {
    packaged_crates().1
}

/// The unpacked SDK and contract crates, packaged together once per test process.
fn packaged_crates() -> (PathBuf, PathBuf) {
    static PACKAGED: OnceLock<Result<(PathBuf, PathBuf), String>> = OnceLock::new();
    PACKAGED
        .get_or_init(|| package_sdk().map_err(|e| format!("{e:#}")))
        .clone()
        .expect("packaging the SDK")
}

/// Packages the SDK and the contract crate it depends on in one `cargo package` (which
/// resolves the SDK's dependency on the unpublished contract against the packaged one) and
/// unpacks both.
fn package_sdk() -> Result<(PathBuf, PathBuf)> {
    let work = plugin_target_dir().with_file_name("sdk-package");
    let _ = std::fs::remove_dir_all(&work);
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root())
        .args([
            "package",
            "-p",
            "cutover-contract",
            "-p",
            "cutover-plugin",
            "--no-verify",
            "--allow-dirty",
            "--target-dir",
        ])
        .arg(&work)
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .context("running cargo package")?;
    if !out.status.success() {
        bail!(
            "cargo package -p cutover-contract -p cutover-plugin failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let unpacked = work.join("unpacked");
    std::fs::create_dir_all(&unpacked)?;
    let unpack = |name: &str| -> Result<PathBuf> {
        let krate = std::fs::read_dir(work.join("package"))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<Vec<_>>>()?
            .into_iter()
            .find(|p| {
                p.extension().is_some_and(|e| e == "crate")
                    && p.file_name().is_some_and(|n| {
                        n.to_string_lossy()
                            .strip_prefix(name)
                            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
                    })
            })
            .with_context(|| format!("cargo package wrote no {name}.crate"))?;
        let status = Command::new("tar")
            .arg("xzf")
            .arg(&krate)
            .arg("-C")
            .arg(&unpacked)
            .status()?;
        if !status.success() {
            bail!("unpacking {} failed", krate.display());
        }
        Ok(unpacked.join(krate.file_stem().context("a crate file name")?))
    };
    Ok((unpack("cutover-plugin-")?, unpack("cutover-contract-")?))
}

/// Points a crate scaffolded outside the checkout (which depends on `cutover-plugin` by
/// version) at the packaged SDK and the packaged contract crate it depends on, standing in
/// for the published ones.
pub fn use_packaged_sdk(crate_dir: &Path) {
    let manifest = crate_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        format!(
            "{text}\n[patch.crates-io]\ncutover-plugin = {{ path = {:?} }}\ncutover-contract = {{ path = {:?} }}\n",
            packaged_sdk().display().to_string(),
            packaged_contract().display().to_string()
        ),
    )
    .unwrap();
}

/// Copies a folder, following links (the Python SDK's `wit` is a link into `wit/`).
fn copy_resolved(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let path = entry?.path();
        let target = to.join(path.file_name().context("a file name")?);
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "__pycache__") {
                copy_resolved(&path, &target)?;
            }
        } else {
            std::fs::copy(&path, &target)?;
        }
    }
    Ok(())
}

/// The Python SDK as it is published: built as an sdist and a wheel (`python -m build`,
/// the wheel from the sdist) and the wheel installed into a virtual environment of its own
/// (once per test process); returns that environment's `bin` folder, whose `python3`
/// imports the installed `cutover_plugin`, and the files built.
pub fn installed_python_sdk() -> (PathBuf, Vec<PathBuf>) {
    static INSTALLED: OnceLock<Result<(PathBuf, Vec<PathBuf>), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| install_python_sdk().map_err(|e| format!("{e:#}")))
        .clone()
        .expect("building and installing the Python SDK")
}

fn install_python_sdk() -> Result<(PathBuf, Vec<PathBuf>)> {
    let work = plugin_target_dir().with_file_name("python-sdk-package");
    let _ = std::fs::remove_dir_all(&work);
    let source = work.join("source");
    copy_resolved(&root().join("plugins/python/sdk"), &source)?;
    let run = |cmd: &mut Command| -> Result<()> {
        let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
        if !out.status.success() {
            bail!(
                "{cmd:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    };
    let python = std::env::var("CUTOVER_PYTHON").unwrap_or_else(|_| "python3".into());
    let venv = work.join("venv");
    run(Command::new(&python).args(["-m", "venv"]).arg(&venv))?;
    let bin = venv.join("bin");
    run(Command::new(bin.join("pip")).args(["install", "--quiet", "build"]))?;
    let dist = work.join("dist");
    run(Command::new(bin.join("python"))
        .args(["-m", "build", "--outdir"])
        .arg(&dist)
        .arg(&source))?;
    let mut built: Vec<PathBuf> = std::fs::read_dir(&dist)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    built.sort();
    let wheel = built
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .context("python -m build wrote no wheel")?;
    run(Command::new(bin.join("pip"))
        .args(["install", "--quiet"])
        .arg(wheel))?;
    Ok((bin, built))
}

/// [`cutover_in_workspace`] with extra environment variables.
pub fn cutover_in_workspace_with_env(bin: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let target = plugin_target_dir()
        .parent()
        .expect("the plugin target dir has a parent")
        .to_owned();
    let out = Command::new(bin)
        .current_dir(root())
        .args(args)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUST_LOG")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_MAKEFLAGS")
        .envs(env.iter().copied())
        .output()
        .expect("running cutover");
    Run::from(out)
}
