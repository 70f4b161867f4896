//! A manifest-only connector version: its `manifest.yaml` (and `components.py`, where it
//! has Python components) taken from the connector's git history, and the `airbyte-cdk`
//! version that runs it.
//!
//! Most Airbyte sources are now manifest-only (`data.tags: language:manifest-only`): no
//! package of their own on PyPI, but a manifest run by the CDK's declarative source, in the
//! `source-declarative-manifest` image whose tag is the CDK version. For a version of such
//! a connector, [`from_history`] finds the monorepo commit where `metadata.yaml`'s
//! `dockerImageTag` became that version and keeps, beside the version's spec and catalog:
//!
//! - `manifest.json`: the manifest of that commit, as compact JSON (what the platform's
//!   Builder injects into `source-declarative-manifest` is JSON too);
//! - `components.py`: its Python components, if it has them;
//! - `declarative.json` ([`Declarative`]): the commit, and the CDK version that runs it.
//!
//! The CDK version is the one the version shipped on: the tag of
//! `connectorBuildOptions.baseImage` (`docker.io/airbyte/source-declarative-manifest:7.6.5@…`)
//! at that commit. A metadata.yaml without a base image falls back to the manifest's own
//! `version:` field (the CDK it was written for), and `declarative.json` says which.
//! Once kept, nothing here needs the monorepo again.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file that marks a version as manifest-only.
pub const FILE: &str = "declarative.json";
/// The version's manifest, compact JSON.
pub const MANIFEST: &str = "manifest.json";
/// The version's Python components.
pub const COMPONENTS: &str = "components.py";

/// How a manifest-only version runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Declarative {
    /// The `airbyte-cdk` version whose `source-declarative-manifest` runs the manifest.
    pub airbyte_cdk: String,
    /// Where that version comes from: `baseImage` or `manifest version`.
    pub airbyte_cdk_from: String,
    /// The monorepo commit where `metadata.yaml`'s `dockerImageTag` became this version.
    pub commit: String,
    /// Whether the version has Python components (`components.py` beside the manifest).
    pub components: bool,
}

/// A manifest-only version as kept beside its fixtures.
#[derive(Clone, Debug)]
pub struct Kept {
    pub declarative: Declarative,
    pub manifest: PathBuf,
    pub components: Option<PathBuf>,
}

/// The manifest-only version kept in `here` (a version's fixture folder), if it is one.
pub fn read(here: &Path) -> Result<Option<Kept>> {
    let path = here.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let declarative: Declarative = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a manifest-only version's record", path.display()))?;
    let manifest = here.join(MANIFEST);
    if !manifest.is_file() {
        bail!(
            "{} names a manifest-only version but {} is missing; import the version again",
            path.display(),
            manifest.display()
        );
    }
    let components = declarative.components.then(|| here.join(COMPONENTS));
    Ok(Some(Kept {
        declarative,
        manifest,
        components,
    }))
}

/// Looks `source` `version` up in the monorepo's history (`monorepo`: a git directory of
/// airbytehq/airbyte) and, if that version is manifest-only, keeps its manifest, components
/// and CDK version in `here`. `None` when the version is not manifest-only.
pub fn from_history(
    monorepo: &Path,
    source: &str,
    version: &str,
    here: &Path,
) -> Result<Option<Kept>> {
    let released = super::history::released(monorepo, source, version)?;
    if released.language() != Some("manifest-only") {
        return Ok(None);
    }
    let (commit, folder, doc) = (&released.commit, &released.folder, &released.metadata);
    let yaml = released.show(monorepo, "manifest.yaml").with_context(|| {
        format!("{source} {version} is manifest-only but has no manifest.yaml at {commit}")
    })?;
    let manifest: serde_json::Value = serde_yaml::from_str(&yaml)
        .with_context(|| format!("{folder}/manifest.yaml at {commit} is not YAML"))?;
    let components = released.show(monorepo, COMPONENTS).ok();
    let base_image = doc["data"]["connectorBuildOptions"]["baseImage"]
        .as_str()
        .and_then(|image| image.split_once("source-declarative-manifest:"))
        .map(|(_, tag)| tag.split('@').next().unwrap_or(tag).to_owned());
    let (airbyte_cdk, airbyte_cdk_from) = match base_image {
        Some(tag) => (tag, "baseImage".to_owned()),
        None => (
            manifest["version"]
                .as_str()
                .with_context(|| format!("{folder}/manifest.yaml at {commit} has no version"))?
                .to_owned(),
            "manifest version".to_owned(),
        ),
    };
    let declarative = Declarative {
        airbyte_cdk,
        airbyte_cdk_from,
        commit: commit.clone(),
        components: components.is_some(),
    };
    std::fs::create_dir_all(here)?;
    let mut compact = serde_json::to_vec(&manifest)?;
    compact.push(b'\n');
    super::import::write_if_changed(&here.join(MANIFEST), &compact)?;
    if let Some(code) = &components {
        super::import::write_if_changed(&here.join(COMPONENTS), code.as_bytes())?;
    }
    super::import::write_if_changed(
        &here.join(FILE),
        &super::import::pretty(&serde_json::to_value(&declarative)?),
    )?;
    read(here)
}

/// The script the CDK's interpreter runs a manifest with: what `source-declarative-manifest`
/// does for a connector image (its local-manifest mode: a `YamlDeclarativeSource` over the
/// manifest, with the config path so the manifest's own config migrations run), reading the
/// manifest from `CUTOVER_MANIFEST` instead of the image's fixed path. Components are found
/// as `components` on `PYTHONPATH`, which the CDK's loader falls back to for
/// `source_declarative_manifest.components.*`. The constructor's arguments are those the
/// installed CDK accepts (they changed between 5.x and 7.x).
pub const RUNNER: &str = r#"
import inspect, json, os, sys
from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
try:
    from airbyte_cdk.sources.declarative.concurrent_declarative_source import ConcurrentDeclarativeSource as Source
except ImportError:
    from airbyte_cdk.sources.declarative.manifest_declarative_source import ManifestDeclarativeSource as Source

args = sys.argv[1:]
parsed = AirbyteEntrypoint.parse_args(args)
with open(os.environ["CUTOVER_MANIFEST"]) as f:
    manifest = json.load(f)
# What YamlDeclarativeSource passes when a command gives no catalog, config or state
# (older CDKs require all three).
from airbyte_cdk.models import ConfiguredAirbyteCatalog
given = {"source_config": manifest, "catalog": ConfiguredAirbyteCatalog(streams=[]), "config": {}, "state": []}
if getattr(parsed, "config", None):
    given["config"] = Source.read_config(parsed.config)
    given["config_path"] = parsed.config
if getattr(parsed, "catalog", None):
    given["catalog"] = Source.read_catalog(parsed.catalog)
if getattr(parsed, "state", None):
    given["state"] = Source.read_state(parsed.state)
accepted = inspect.signature(Source.__init__).parameters
source = Source(**{k: v for k, v in given.items() if k in accepted})
launch(source, args)
"#;

#[cfg(test)]
mod tests {
    use super::super::history::TestMonorepo;
    use super::*;

    /// A monorepo whose connector goes 1.0.0 (Python) → 2.0.0 (manifest-only, CDK 7.6.5
    /// base image, components) → a later commit still at 2.0.0 with another manifest.
    fn monorepo(dir: &Path) -> PathBuf {
        let repo = TestMonorepo::new(dir);
        repo.put(
            "metadata.yaml",
            Some("data:\n  dockerImageTag: 1.0.0\n  tags:\n    - language:python\n"),
        )
        .commit("1.0.0");
        let manifest_only = "data:\n  connectorBuildOptions:\n    baseImage: docker.io/airbyte/source-declarative-manifest:7.6.5@sha256:00\n  dockerImageTag: \"2.0.0\"\n  tags:\n    - language:manifest-only\n";
        repo.put("metadata.yaml", Some(manifest_only))
            .put("manifest.yaml", Some("version: 6.0.0\nstreams: [first]\n"))
            .put(COMPONENTS, Some("class C: pass\n"))
            .commit("2.0.0");
        repo.put("metadata.yaml", Some(&format!("{manifest_only}# docs\n")))
            .put("manifest.yaml", Some("version: 6.0.0\nstreams: [later]\n"))
            .commit("docs");
        repo.git_dir()
    }

    #[test]
    fn a_manifest_only_version_is_taken_from_the_commit_that_released_it() {
        let dir = tempfile::tempdir().unwrap();
        let repo = monorepo(dir.path());
        let here = dir.path().join("fixtures/2.0.0");
        let kept = from_history(&repo, "source-x", "2.0.0", &here)
            .unwrap()
            .expect("2.0.0 is manifest-only");
        assert_eq!(kept.declarative.airbyte_cdk, "7.6.5");
        assert_eq!(kept.declarative.airbyte_cdk_from, "baseImage");
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&kept.manifest).unwrap()).unwrap();
        assert_eq!(
            manifest["streams"][0], "first",
            "the manifest of the commit where the tag became 2.0.0, not a later one"
        );
        assert!(kept.components.unwrap().is_file());
        assert_eq!(read(&here).unwrap().unwrap().declarative, kept.declarative);
        let python = from_history(
            &repo,
            "source-x",
            "1.0.0",
            &dir.path().join("fixtures/1.0.0"),
        );
        assert!(python.unwrap().is_none(), "a Python version is no manifest");
        assert!(from_history(&repo, "source-x", "3.0.0", &here).is_err());
    }
}
