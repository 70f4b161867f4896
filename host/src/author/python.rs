//! Python plugins: a folder with a `pyproject.toml` whose `[tool.cutover]` table names the
//! module to export, built into a component by componentize-py against the same contract
//! (`wit/since_v1.1.0`) and with the Python SDK (`plugins/python/sdk`).
//!
//! ```toml
//! [project]
//! name = "source-example-v2"
//!
//! [tool.cutover]
//! module = "source_example_v2"          # the module that ends with `WitWorld = export(...)`
//! target-spec = "fixtures/spec.json"     # optional, as for a crate
//! source-spec = "…"                      # optional
//! fixtures = "fixtures"                  # optional: where the golden cases are
//! ```
//!
//! The component is built with `--stub-wasi`: componentize-py then replaces every WASI
//! import with a stub that traps, so the component imports nothing but the contract and
//! the sandbox grants an interpreter exactly what it grants a Rust plugin. The interpreter
//! is initialized, and the plugin's modules imported, when the component is built; a call
//! starts from that snapshot.
//!
//! componentize-py comes from PyPI into a virtual environment in the target directory,
//! created the first time a Python plugin is built. A build is skipped when nothing that
//! goes into it changed (the plugin's sources, the SDK, the contract, the tool's version):
//! componentize-py takes several seconds and its output differs from one build to the next
//! (it bakes a fresh random seed into the interpreter), so rebuilding unchanged sources
//! would also change the plugin's sha256 for nothing.

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The componentize-py release plugins are built with.
pub const COMPONENTIZE_PY: &str = "0.25.1";

/// A Python plugin project found by its directory.
#[derive(Clone, Debug)]
pub struct Project {
    /// `[project].name`, such as `source-pinterest-v2`.
    pub name: String,
    /// The module componentize-py exports.
    pub module: String,
    pub dir: PathBuf,
    pub target_spec: Option<PathBuf>,
    pub source_spec: Option<PathBuf>,
    /// The real discovered catalog of the version the plugin produces: `target-catalog`, or
    /// the `catalog.json` beside the target spec. A build carries it inside the component
    /// (see [`TARGET_CATALOG_MODULE`]), where the SDK's `discovered.target()` finds it.
    pub target_catalog: Option<PathBuf>,
    /// `[project].version`: the version the plugin produces.
    pub version: String,
    pub fixtures: PathBuf,
}

/// The module a build writes beside the plugin's own when the project has a target
/// catalog: the catalog's text and version, as Python constants, so that the component
/// carries them (a plugin reads no files when it runs).
pub const TARGET_CATALOG_MODULE: &str = "_cutover_target_catalog";

impl Project {
    /// Reads `dir/pyproject.toml`; `None` if there is none.
    pub fn read(dir: &Path) -> Result<Option<Self>> {
        let file = dir.join("pyproject.toml");
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
        };
        let doc: toml::Table = text
            .parse()
            .with_context(|| format!("{} is not valid TOML", file.display()))?;
        let name = doc
            .get("project")
            .and_then(|p| p.get("name"))
            .and_then(toml::Value::as_str)
            .with_context(|| format!("{} has no [project] name", file.display()))?
            .to_owned();
        let Some(cutover) = doc.get("tool").and_then(|t| t.get("cutover")) else {
            bail!(
                "{} has no [tool.cutover] table; add one naming the plugin's module (module = \"{}\")",
                file.display(),
                module_name(&name)
            );
        };
        let setting = |key: &str| {
            cutover
                .get(key)
                .and_then(toml::Value::as_str)
                .map(str::to_owned)
        };
        let module = setting("module").unwrap_or_else(|| module_name(&name));
        if module.is_empty()
            || !module
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            || module == "wit_world"
        {
            bail!(
                "{}: module {module:?} is not a Python module name componentize-py can export",
                file.display()
            );
        }
        let path = |key: &str| setting(key).map(|rel| dir.join(rel));
        let version = doc
            .get("project")
            .and_then(|p| p.get("version"))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        let target_spec = path("target-spec");
        let beside_spec = target_spec
            .as_ref()
            .map(|s| s.with_file_name("catalog.json"))
            .filter(|c| c.is_file());
        Ok(Some(Self {
            name,
            module,
            dir: dir.to_owned(),
            target_catalog: path("target-catalog").or(beside_spec),
            target_spec,
            source_spec: path("source-spec"),
            version,
            fixtures: path("fixtures").unwrap_or_else(|| dir.join("fixtures")),
        }))
    }

    /// The file name of the component: the project name as a module name, like a crate's.
    pub fn wasm_name(&self) -> String {
        format!("{}.wasm", module_name(&self.name))
    }

    /// Builds the component into `out_dir` (reusing the last build when nothing that goes
    /// into it changed) and returns its path.
    pub fn build(&self, toolchain_dir: &Path, out_dir: &Path) -> Result<PathBuf> {
        let wasm = out_dir.join(self.wasm_name());
        let stage = out_dir.join(format!("{}.src", module_name(&self.name)));
        let sdk = sdk_package(&self.dir)?;
        let wit = sdk.join("wit");
        let sources = self.sources(&sdk)?;
        let digest = inputs_digest(&self.module, &sources, &wit)?;
        let stamp = out_dir.join(format!("{}.inputs", module_name(&self.name)));
        // One build of a plugin at a time (tests build in parallel): the second waits, then
        // finds the first one's output up to date.
        let _building = exclusive(&out_dir.join(format!(".{}.lock", module_name(&self.name))))?;
        if wasm.is_file() && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == digest) {
            tracing::info!(plugin = %self.name, "Python plugin unchanged since its last build");
            return Ok(wasm);
        }
        let componentize = Toolchain::ensure(toolchain_dir)?;
        stage_sources(&stage, &sources)?;
        self.stage_target_catalog(&stage)?;
        tracing::info!(plugin = %self.name, "building the plugin with componentize-py");
        let partial = out_dir.join(format!(".{}.partial", self.wasm_name()));
        let output = Command::new(&componentize.python)
            .arg(&componentize.program)
            .args(["-q", "-d"])
            .arg(&wit)
            .args(["-w", "plugin", "componentize", "--stub-wasi", "-p"])
            .arg(&stage)
            .arg(&self.module)
            .arg("-o")
            .arg(&partial)
            // Only the staged sources: not a virtual environment the caller happens to be in.
            .env_remove("VIRTUAL_ENV")
            .env_remove("PYTHONPATH")
            .output()
            .with_context(|| format!("running {}", componentize.program.display()))?;
        if !output.status.success() {
            let _ = std::fs::remove_file(&partial);
            bail!(
                "componentize-py could not build {} ({}):\n{}\nThe module {} must import only what the SDK and the standard library provide, and end with `WitWorld = export(YourMigration)`",
                self.name,
                output.status,
                String::from_utf8_lossy(&output.stderr).trim(),
                self.module
            );
        }
        std::fs::rename(&partial, &wasm)
            .with_context(|| format!("moving the component to {}", wasm.display()))?;
        std::fs::write(&stamp, &digest).with_context(|| format!("writing {}", stamp.display()))?;
        Ok(wasm)
    }

    /// What goes into the component: the project's Python files and packages (its `tests`
    /// excepted) and the SDK's, as (path in the component's sources, file on disk).
    fn sources(&self, sdk: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
        let mut files = Vec::new();
        collect_python(&self.dir, Path::new(""), &mut files, true)?;
        if !files.iter().any(|(rel, _)| {
            rel == Path::new(&format!("{}.py", self.module)) || rel.starts_with(&self.module)
        }) {
            bail!(
                "{} has no module {} ({}.py or a {} package)",
                self.dir.display(),
                self.module,
                self.module,
                self.module
            );
        }
        collect_python(sdk, Path::new("cutover_plugin"), &mut files, false)
            .with_context(|| format!("reading the Python SDK in {}", sdk.display()))?;
        // The target catalog goes into the build's digest (and the stage, beside its module).
        if let Some(catalog) = &self.target_catalog {
            files.push((
                PathBuf::from(format!("{TARGET_CATALOG_MODULE}.json")),
                catalog.clone(),
            ));
        }
        files.sort();
        Ok(files)
    }

    /// Writes [`TARGET_CATALOG_MODULE`] into the stage, when the project has a target catalog.
    fn stage_target_catalog(&self, stage: &Path) -> Result<()> {
        let Some(catalog) = &self.target_catalog else {
            return Ok(());
        };
        let text = std::fs::read_to_string(catalog)
            .with_context(|| format!("reading the target catalog {}", catalog.display()))?;
        serde_json::from_str::<serde_json::Value>(&text)
            .with_context(|| format!("the target catalog {} is not JSON", catalog.display()))?;
        // A JSON string is a Python string literal too: the same escapes, UTF-8 text.
        let module = format!(
            "# Written by the build from {}: the catalog the plugin's version discovers.\nVERSION = {}\nCATALOG = {}\n",
            catalog.display(),
            serde_json::to_string(&self.version)?,
            serde_json::to_string(&text)?
        );
        let path = stage.join(format!("{TARGET_CATALOG_MODULE}.py"));
        std::fs::write(&path, module).with_context(|| format!("writing {}", path.display()))
    }
}

/// A project name as a Python module (and file) name: `source-x-v2` → `source_x_v2`.
pub fn module_name(project: &str) -> String {
    project.replace(['-', '.'], "_")
}

/// Where the Python SDK of the cutover this binary was built from lives.
pub fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("plugins")
        .join("python")
        .join("sdk")
}

/// The Python SDK a project builds with: its `cutover_plugin` package folder, whose `wit/`
/// holds the contract it builds against. A project inside this repository uses the
/// repository's SDK, so the plugins here build without installing anything; any other uses
/// the package installed for the `python3` first on `PATH` (or `CUTOVER_PYTHON`), the one
/// its unit tests import: `pip install cutover-plugin`.
pub fn sdk_package(project_dir: &Path) -> Result<PathBuf> {
    let checkout = sdk_dir();
    let repository = checkout.join("..").join("..").join("..");
    if let (Ok(project), Ok(repository)) = (project_dir.canonicalize(), repository.canonicalize())
        && checkout.is_dir()
        && project.starts_with(&repository)
    {
        return Ok(checkout.join("cutover_plugin"));
    }
    let python = std::env::var("CUTOVER_PYTHON").unwrap_or_else(|_| "python3".into());
    let (name, version) = super::scaffold::python_sdk();
    let install = format!(
        "pip install \"{name}=={version}\" into the environment whose {python} builds the plugin (or point CUTOVER_PYTHON at one that has it)"
    );
    let out = Command::new(&python)
        .args([
            "-c",
            "import cutover_plugin, os; print(os.path.dirname(os.path.abspath(cutover_plugin.__file__)))",
        ])
        .env_remove("PYTHONPATH")
        .output()
        .with_context(|| format!("running {python} to find the Python SDK; {install}"))?;
    if !out.status.success() {
        bail!("the Python SDK (the {name} package) is not installed for {python}: {install}");
    }
    let package = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !package.join("wit").is_dir() {
        bail!(
            "the Python SDK at {} carries no contract (wit/); it is older than {version}: {install}",
            package.display()
        );
    }
    Ok(package)
}

/// Python files and packages under `dir`; at the top of a project, only packages (folders
/// with an `__init__.py`) other than `tests` are entered.
fn collect_python(
    dir: &Path,
    rel: &Path,
    files: &mut Vec<(PathBuf, PathBuf)>,
    top: bool,
) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if entry.file_type()?.is_dir() {
            let package = path.join("__init__.py").is_file();
            let skipped = name_str == "__pycache__" || (top && (!package || name_str == "tests"));
            if !skipped {
                collect_python(&path, &rel.join(&name), files, false)?;
            }
        } else if name_str.ends_with(".py") {
            files.push((rel.join(&name), path));
        }
    }
    Ok(())
}

/// The digest of everything a build reads: the tool's version, the module, the contract
/// and each source file's path and bytes.
fn inputs_digest(module: &str, sources: &[(PathBuf, PathBuf)], wit_dir: &Path) -> Result<String> {
    let mut h = Sha256::new();
    h.update(format!(
        "componentize-py {COMPONENTIZE_PY} --stub-wasi\0module {module}\0"
    ));
    let mut wit: Vec<PathBuf> = std::fs::read_dir(wit_dir)
        .with_context(|| format!("reading the contract in {}", wit_dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    wit.sort();
    for (rel, file) in wit
        .iter()
        .map(|p| {
            (
                p.file_name().map(PathBuf::from).unwrap_or_default(),
                p.clone(),
            )
        })
        .chain(sources.iter().cloned())
    {
        let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        h.update(rel.to_string_lossy().as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(hex::encode(h.finalize()))
}

/// Lays out exactly the sources in `stage`, so nothing else on the way is bundled.
fn stage_sources(stage: &Path, sources: &[(PathBuf, PathBuf)]) -> Result<()> {
    if stage.exists() {
        std::fs::remove_dir_all(stage).with_context(|| format!("clearing {}", stage.display()))?;
    }
    for (rel, file) in sources {
        let to = stage.join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::copy(file, &to)
            .with_context(|| format!("copying {} to {}", file.display(), to.display()))?;
    }
    Ok(())
}

/// componentize-py, in a virtual environment of its own.
pub struct Toolchain {
    /// Its console script.
    pub program: PathBuf,
    /// The environment's interpreter, which runs the script: the script's `#!` line names
    /// the folder the environment was made in, and a build folder can be moved (a cache
    /// restored elsewhere); the interpreter finds its environment wherever it is.
    pub python: PathBuf,
}

impl Toolchain {
    /// The virtual environment under `dir` (`dir/componentize-py-<version>`), created with
    /// `python3 -m venv` and `pip install componentize-py==<version>` when missing. Set
    /// `CUTOVER_PYTHON` to use another interpreter than `python3` for the environment.
    pub fn ensure(dir: &Path) -> Result<Self> {
        let venv = dir.join(format!("componentize-py-{COMPONENTIZE_PY}"));
        let program = venv.join("bin").join("componentize-py");
        let interpreter = venv.join("bin").join("python");
        let ready = venv.join(".ready");
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let _installing = exclusive(&dir.join(format!(".componentize-py-{COMPONENTIZE_PY}.lock")))?;
        // `is_file` follows the interpreter's link: an environment whose interpreter is
        // gone is made again.
        if program.is_file() && interpreter.is_file() && ready.is_file() {
            return Ok(Self {
                program,
                python: interpreter,
            });
        }
        let python = std::env::var("CUTOVER_PYTHON").unwrap_or_else(|_| "python3".into());
        eprintln!(
            "Installing componentize-py {COMPONENTIZE_PY} into {} (once; Python plugins are built with it)",
            venv.display()
        );
        if venv.exists() {
            std::fs::remove_dir_all(&venv).with_context(|| {
                format!("removing the unfinished environment {}", venv.display())
            })?;
        }
        run(
            Command::new(&python).args(["-m", "venv"]).arg(&venv),
            &format!(
                "creating a virtual environment with {python} (Python plugins need Python 3 with venv; install it, or set CUTOVER_PYTHON to an interpreter)"
            ),
        )?;
        run(
            Command::new(venv.join("bin").join("python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .arg(format!("componentize-py=={COMPONENTIZE_PY}")),
            &format!(
                "installing componentize-py {COMPONENTIZE_PY} from PyPI into {}",
                venv.display()
            ),
        )?;
        if !program.is_file() {
            bail!(
                "pip installed componentize-py, but {} is missing",
                program.display()
            );
        }
        std::fs::write(&ready, COMPONENTIZE_PY)?;
        Ok(Self {
            program,
            python: interpreter,
        })
    }
}

/// An exclusive lock on `path` (created if missing), held until the file is dropped.
fn exclusive(path: &Path) -> Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.lock()
        .with_context(|| format!("locking {}", path.display()))?;
    Ok(file)
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let output = cmd.output().with_context(|| what.to_owned())?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_project_and_refuses_one_without_its_table() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Project::read(dir.path()).unwrap().is_none());
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[project]\nname = \"source-x-v2\"\n",
        )
        .unwrap();
        let e = Project::read(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("[tool.cutover]") && e.contains("source_x_v2"),
            "{e}"
        );
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[project]\nname = \"source-x-v2\"\n[tool.cutover]\ntarget-spec = \"spec.json\"\nfixtures = \"../cases\"\n",
        )
        .unwrap();
        let p = Project::read(dir.path()).unwrap().unwrap();
        assert_eq!(
            (p.module.as_str(), p.wasm_name().as_str()),
            ("source_x_v2", "source_x_v2.wasm")
        );
        assert_eq!(p.target_spec, Some(dir.path().join("spec.json")));
        assert_eq!(p.fixtures, dir.path().join("../cases"));
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[project]\nname = \"x\"\n[tool.cutover]\nmodule = \"wit_world\"\n",
        )
        .unwrap();
        assert!(Project::read(dir.path()).is_err());
    }

    #[test]
    fn sources_are_the_project_and_the_sdk_and_their_digest_follows_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[project]\nname = \"p\"\n[tool.cutover]\n",
        )
        .unwrap();
        let p = Project::read(dir.path()).unwrap().unwrap();
        let sdk = sdk_dir().join("cutover_plugin");
        let wit = sdk.join("wit");
        assert!(
            p.sources(&sdk)
                .unwrap_err()
                .to_string()
                .contains("has no module p")
        );
        std::fs::write(dir.path().join("p.py"), "x = 1\n").unwrap();
        std::fs::create_dir_all(dir.path().join("tests")).unwrap();
        std::fs::write(dir.path().join("tests/__init__.py"), "").unwrap();
        std::fs::write(dir.path().join("tests/test_p.py"), "").unwrap();
        let sources = p.sources(&sdk).unwrap();
        let names: Vec<String> = sources
            .iter()
            .map(|(rel, _)| rel.display().to_string())
            .collect();
        assert!(
            names.contains(&"p.py".to_owned())
                && names.contains(&"cutover_plugin/__init__.py".to_owned()),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.starts_with("tests")), "{names:?}");
        let before = inputs_digest("p", &sources, &wit).unwrap();
        std::fs::write(dir.path().join("p.py"), "x = 2\n").unwrap();
        assert_ne!(inputs_digest("p", &sources, &wit).unwrap(), before);
    }
}
