//! A Python connector version that shipped as a Docker image only: installed from its own
//! source, as the image was built.
//!
//! Airbyte published Python connectors to PyPI from 2024 on; older versions exist only as
//! images, which cannot be pulled here. Their code is in the monorepo: [`from_history`]
//! finds the commit where the version was released ([`super::history`]) and keeps, beside
//! the version's spec and catalog, `source-tree.json` ([`SourceTree`]): that commit, its
//! date, and the Python the image ran on. [`install`] then builds a venv as the image's
//! `pip install .` did: the connector's folder at that commit, with its dependencies
//! resolved as of the commit's date (`uv pip install --exclude-newer`), so that a loose
//! requirement such as `airbyte-cdk` takes the CDK the image took, not today's. The
//! connector runs as the image ran it: `python main.py`.
//!
//! Installing needs the monorepo again (the tree is not kept: a connector's source with
//! its schemas is far larger than its spec and catalog); running an installed one does not.

use super::history::{self, Released};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The file that marks a version as installed from its source tree.
pub const FILE: &str = "source-tree.json";

/// The uv release that resolves dependencies as of a date.
const UV: &str = "0.9.5";

/// Where an image-only version's code is and what it ran on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SourceTree {
    /// The monorepo commit where `metadata.yaml`'s `dockerImageTag` became this version.
    pub commit: String,
    /// That commit's date in UTC: dependencies are resolved as they were then.
    pub resolved_as_of: String,
    /// The connector's folder in the monorepo.
    pub folder: String,
    /// The Python version the image ran (`3.9`).
    pub python: String,
    /// Where that version comes from: the base image's tag, or the Dockerfile's `FROM`.
    pub python_from: String,
}

/// The image-only version kept in `here` (a version's fixture folder), if it is one.
pub fn read(here: &Path) -> Result<Option<SourceTree>> {
    let path = here.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    serde_json::from_str(&text)
        .map(Some)
        .with_context(|| format!("{} is not a source tree's record", path.display()))
}

/// Looks `source` `version` up in the monorepo's history and, if it is a Python connector,
/// keeps where its source is in `here`. `None` for a manifest-only version; an error for
/// a Java one, which does not run here.
pub fn from_history(
    monorepo: &Path,
    source: &str,
    version: &str,
    here: &Path,
) -> Result<Option<SourceTree>> {
    let released = history::released(monorepo, source, version)?;
    match released.language() {
        Some("manifest-only") => return Ok(None),
        // A low-code connector of that time was a Python package carrying its manifest
        // (tagged `language:lowcode` in 2023, `language:low-code` later).
        Some("python" | "low-code" | "lowcode") | None => {}
        Some(other) => bail!(
            "{source} {version} is a {other} connector (released at {}): only Python and \
             manifest-only connectors run here, so its sides must be checked statically",
            released.commit
        ),
    }
    let (python, python_from) = python_of(monorepo, &released)?;
    let resolved_as_of = utc_date(monorepo, &released.commit)?;
    let tree = SourceTree {
        commit: released.commit,
        resolved_as_of,
        folder: released.folder,
        python,
        python_from,
    };
    std::fs::create_dir_all(here)?;
    super::import::write_if_changed(
        &here.join(FILE),
        &super::import::pretty(&serde_json::to_value(&tree)?),
    )?;
    Ok(Some(tree))
}

/// The Python the image ran on: the `python-connector-base` image's (1.x is Python 3.9,
/// 2.x and 3.x are 3.10, 4.x is 3.11, per that image's changelog), else the Dockerfile's
/// `FROM python:3.X`.
fn python_of(monorepo: &Path, released: &Released) -> Result<(String, String)> {
    let base = released.metadata["data"]["connectorBuildOptions"]["baseImage"].as_str();
    if let Some(tag) = base.and_then(|image| image.split_once("python-connector-base:")) {
        let tag = tag.1.split('@').next().unwrap_or(tag.1);
        let python = match tag.split('.').next() {
            Some("1") => "3.9",
            Some("2" | "3") => "3.10",
            Some("4") => "3.11",
            _ => bail!(
                "python-connector-base:{tag} is a base image this version of cutover does not know"
            ),
        };
        return Ok((python.into(), format!("python-connector-base:{tag}")));
    }
    let dockerfile = released.show(monorepo, "Dockerfile").with_context(|| {
        format!(
            "{} at {} has neither a base image nor a Dockerfile",
            released.folder, released.commit
        )
    })?;
    let from = dockerfile
        .lines()
        .find_map(|l| l.trim().strip_prefix("FROM "))
        .with_context(|| format!("{}/Dockerfile has no FROM", released.folder))?;
    let python = from
        .split_whitespace()
        .next()
        .and_then(|image| image.split_once("python:"))
        .map(|(_, tag)| tag.split(['-', '@']).next().unwrap_or(tag))
        .map(|version| version.split('.').take(2).collect::<Vec<_>>().join("."))
        .with_context(|| {
            format!(
                "{}/Dockerfile: FROM {from} is not a Python image",
                released.folder
            )
        })?;
    Ok((python, format!("Dockerfile FROM {from}")))
}

/// A commit's date in UTC, as uv's `--exclude-newer` reads it.
fn utc_date(monorepo: &Path, commit: &str) -> Result<String> {
    let output = Command::new("git")
        .arg("--git-dir")
        .arg(monorepo)
        .args([
            "log",
            "-1",
            "--date=format-local:%Y-%m-%dT%H:%M:%SZ",
            "--format=%cd",
            commit,
        ])
        .env("TZ", "UTC")
        .output()
        .context("running git log")?;
    if !output.status.success() {
        bail!(
            "git log {commit}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The connector's folder inside its venv.
pub fn source_dir(venv: &Path) -> PathBuf {
    venv.join("src")
}

/// Builds `venv` with `python`: the tree at its commit, installed with its dependencies as
/// of that commit's date, held to `constraints` (the version's `constraints.txt`: a pin of
/// that date that a resolver today would not take, such as a version since yanked). `uv`
/// comes from PyPI into `tools` the first time.
pub fn install(
    tree: &SourceTree,
    monorepo: &Path,
    python: &str,
    venv: &Path,
    tools: &Path,
    constraints: Option<&Path>,
) -> Result<()> {
    let src = source_dir(venv);
    let _ = std::fs::remove_dir_all(venv);
    std::fs::create_dir_all(&src)?;
    let mut archive = Command::new("git")
        .arg("--git-dir")
        .arg(monorepo)
        .args([
            "archive",
            "--format=tar",
            &format!("{}:{}", tree.commit, tree.folder),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .context("running git archive")?;
    let untar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(&src)
        .stdin(archive.stdout.take().context("git archive's output")?)
        .status()
        .context("running tar")?;
    if !archive.wait()?.success() || !untar.success() {
        bail!(
            "cannot extract {} at {} from {}",
            tree.folder,
            tree.commit,
            monorepo.display()
        );
    }
    if !src.join("main.py").is_file() {
        bail!("{} at {} has no main.py to run", tree.folder, tree.commit);
    }
    let uv = uv(tools)?;
    super::connector::run_quietly(Command::new(python).args(["-m", "venv"]).arg(venv))?;
    let mut install = Command::new(uv);
    install
        .args(["pip", "install", "--quiet", "--no-compile", "--python"])
        .arg(venv.join("bin/python"))
        .args(["--exclude-newer", &tree.resolved_as_of]);
    if let Some(constraints) = constraints {
        install.arg("--constraint").arg(constraints);
    }
    super::connector::run_quietly(install.arg(&src)).with_context(|| {
        format!(
            "installing {} at {} with its dependencies as of {}",
            tree.folder, tree.commit, tree.resolved_as_of
        )
    })
}

/// uv, installed from PyPI into `tools/uv-<version>` the first time.
fn uv(tools: &Path) -> Result<PathBuf> {
    let dir = tools.join(format!("uv-{UV}"));
    let bin = dir.join("bin/uv");
    if bin.is_file() {
        return Ok(bin);
    }
    let _ = std::fs::remove_dir_all(&dir);
    super::connector::run_quietly(Command::new("python3").args(["-m", "venv"]).arg(&dir))?;
    super::connector::run_quietly(
        Command::new(dir.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("uv=={UV}")),
    )
    .context("installing uv from PyPI")?;
    Ok(bin)
}

#[cfg(test)]
mod tests {
    use super::super::history::TestMonorepo;
    use super::*;

    /// A monorepo whose connector goes 1.0.0 (Dockerfile on python:3.9) → 2.0.0 (low-code,
    /// tagged as in 2023, base image 2.0.0) → 3.0.0 (Java).
    fn monorepo(dir: &Path) -> PathBuf {
        let repo = TestMonorepo::new(dir);
        repo.put("Dockerfile", Some("FROM python:3.9.11-slim\nCOPY . .\n"))
            .put(
                "metadata.yaml",
                Some("data:\n  dockerImageTag: 1.0.0\n  tags:\n    - language:python\n"),
            )
            .commit("1.0.0");
        repo.put("Dockerfile", None)
            .put(
                "metadata.yaml",
                Some("data:\n  connectorBuildOptions:\n    baseImage: docker.io/airbyte/python-connector-base:2.0.0@sha256:c4\n  dockerImageTag: 2.0.0\n  tags:\n    - language:lowcode\n"),
            )
            .commit("2.0.0");
        repo.put(
            "metadata.yaml",
            Some("data:\n  dockerImageTag: 3.0.0\n  tags:\n    - language:java\n"),
        )
        .commit("3.0.0");
        repo.git_dir()
    }

    #[test]
    fn an_image_only_version_records_its_commit_date_and_python() {
        let dir = tempfile::tempdir().unwrap();
        let repo = monorepo(dir.path());
        let here = dir.path().join("fixtures/1.0.0");
        let tree = from_history(&repo, "source-x", "1.0.0", &here)
            .unwrap()
            .expect("1.0.0 is Python");
        assert_eq!(tree.python, "3.9", "from the Dockerfile's FROM");
        assert_eq!(tree.python_from, "Dockerfile FROM python:3.9.11-slim");
        assert_eq!(
            tree.resolved_as_of, "2023-09-06T16:12:41Z",
            "the commit's date in UTC"
        );
        assert_eq!(read(&here).unwrap(), Some(tree));

        let tree = from_history(&repo, "source-x", "2.0.0", &dir.path().join("2"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (tree.python.as_str(), tree.python_from.as_str()),
            ("3.10", "python-connector-base:2.0.0"),
            "a low-code package is Python; the base image's Python wins, and 2.x is 3.10"
        );

        let java = from_history(&repo, "source-x", "3.0.0", &dir.path().join("3")).unwrap_err();
        assert!(format!("{java:#}").contains("java connector"), "{java:#}");
        assert!(!dir.path().join("3").join(FILE).exists());
    }
}
