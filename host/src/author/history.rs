//! A connector version's place in the Airbyte monorepo's history: the commit where its
//! `metadata.yaml`'s `dockerImageTag` became that version, which is the code its image
//! was built from.
//!
//! Versions that are not on PyPI (manifest-only ones, and Python connectors that shipped
//! as Docker images only) are taken from there: [`super::declarative`] keeps a manifest,
//! [`super::source_tree`] installs a connector's source tree.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

/// The commit that released a version, with its `metadata.yaml` at that commit.
#[derive(Clone, Debug)]
pub struct Released {
    pub commit: String,
    /// The commit's date, RFC 3339 (`2023-09-06T19:12:41+03:00`).
    pub committed: String,
    /// The connector's folder in the monorepo: `airbyte-integrations/connectors/<source>`.
    pub folder: String,
    /// `metadata.yaml` at that commit, parsed.
    pub metadata: serde_yaml::Value,
}

impl Released {
    /// The connector's language tag (`python`, `manifest-only`, `java`), if it has one.
    pub fn language(&self) -> Option<&str> {
        self.metadata["data"]["tags"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str())
            .find_map(|t| t.strip_prefix("language:"))
    }

    /// The text of `file` (relative to the connector's folder) at the release commit.
    pub fn show(&self, monorepo: &Path, file: &str) -> Result<String> {
        git(
            monorepo,
            &["show", &format!("{}:{}/{file}", self.commit, self.folder)],
        )
    }
}

/// Finds the commit of `monorepo` (a git directory of airbytehq/airbyte with its history)
/// where `source`'s `dockerImageTag` became `version`.
pub fn released(monorepo: &Path, source: &str, version: &str) -> Result<Released> {
    let folder = format!("airbyte-integrations/connectors/{source}");
    let metadata = format!("{folder}/metadata.yaml");
    // Newest first: the oldest commit of the newest run of commits whose metadata says
    // `version` is where it became that version.
    let mut became = None;
    for commit in git(monorepo, &["log", "--format=%H", "--", &metadata])?.lines() {
        let text = git(monorepo, &["show", &format!("{commit}:{metadata}")]).unwrap_or_default();
        if image_tag(&text).as_deref() == Some(version) {
            became = Some((commit.to_owned(), text));
        } else if became.is_some() {
            break;
        }
    }
    let Some((commit, text)) = became else {
        bail!(
            "no commit of {} sets {metadata}'s dockerImageTag to {version}",
            monorepo.display()
        );
    };
    let metadata: serde_yaml::Value = serde_yaml::from_str(&text)
        .with_context(|| format!("{metadata} at {commit} is not YAML"))?;
    let committed = git(monorepo, &["log", "-1", "--format=%cI", &commit])?
        .trim()
        .to_owned();
    Ok(Released {
        commit,
        committed,
        folder,
        metadata,
    })
}

/// Runs git on `monorepo` and returns what it printed.
pub fn git(monorepo: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new("git")
        .arg("--git-dir")
        .arg(monorepo)
        .args(args)
        .output()
        .with_context(|| format!("running git on {}", monorepo.display()))?;
    if !output.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `data.dockerImageTag` of a metadata.yaml's text: the connector's own, not a registry's
/// override (`registries.cloud.dockerImageTag`, which pins a registry back to an older
/// version while the code moves on, and may come first in the file).
fn image_tag(text: &str) -> Option<String> {
    let metadata: serde_yaml::Value = serde_yaml::from_str(text).ok()?;
    match &metadata["data"]["dockerImageTag"] {
        serde_yaml::Value::String(tag) => Some(tag.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A monorepo made in a test: one connector, `source-x`, committed version by version.
#[cfg(test)]
pub(crate) struct TestMonorepo {
    work: std::path::PathBuf,
}

#[cfg(test)]
impl TestMonorepo {
    pub fn new(dir: &Path) -> Self {
        let work = dir.join("work");
        std::fs::create_dir_all(work.join("airbyte-integrations/connectors/source-x")).unwrap();
        let repo = Self { work };
        repo.git(&["init", "-q"]);
        repo
    }

    /// Writes (or with `None` removes) a file of the connector's folder.
    pub fn put(&self, file: &str, text: Option<&str>) -> &Self {
        let path = self
            .work
            .join("airbyte-integrations/connectors/source-x")
            .join(file);
        match text {
            Some(text) => std::fs::write(path, text).unwrap(),
            None => std::fs::remove_file(path).unwrap(),
        }
        self
    }

    /// Commits everything, dated 2023-09-06T19:12:41+03:00.
    pub fn commit(&self, message: &str) -> &Self {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-qm", message]);
        self
    }

    /// The git directory, as `released` takes it.
    pub fn git_dir(&self) -> std::path::PathBuf {
        self.work.join(".git")
    }

    fn git(&self, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(&self.work)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .env("GIT_COMMITTER_DATE", "2023-09-06T19:12:41+03:00")
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "git {args:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_tag_is_read_quoted_or_not() {
        assert_eq!(
            image_tag("data:\n  dockerImageTag: \"1.0.0\"\n").as_deref(),
            Some("1.0.0")
        );
        assert_eq!(
            image_tag("data:\n  dockerImageTag: 4.10.18\n").as_deref(),
            Some("4.10.18")
        );
        // typeform's metadata when the cloud registry was pinned back to 1.0.0 after 1.1.0.
        let pinned_back = "data:\n  registries:\n    cloud:\n      dockerImageTag: 1.0.0\n      enabled: true\n  dockerImageTag: 1.1.0\n";
        assert_eq!(image_tag(pinned_back).as_deref(), Some("1.1.0"));
    }
}
