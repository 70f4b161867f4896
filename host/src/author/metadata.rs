//! A connector's `metadata.yaml` (Airbyte's connector registry entry), read for its
//! `releases.breakingChanges`: each entry becomes the manifest a plugin for that version
//! must carry, so authors start from the connector's own words.

use crate::manifest::{DeadlineAction, Manifest};
use anyhow::{Context, Result, bail};
use semver::Version;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Deserialize)]
struct File {
    data: Data,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    docker_repository: String,
    #[serde(default)]
    docker_image_tag: Option<String>,
    #[serde(default)]
    documentation_url: Option<String>,
    #[serde(default)]
    releases: Option<Releases>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Releases {
    #[serde(default)]
    breaking_changes: BTreeMap<String, BreakingChange>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BreakingChange {
    message: String,
    upgrade_deadline: String,
    #[serde(default)]
    deadline_action: Option<String>,
    #[serde(default)]
    migration_documentation_url: Option<String>,
    #[serde(default)]
    scoped_impact: Vec<ScopedImpact>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScopedImpact {
    scope_type: String,
    #[serde(default)]
    impacted_scopes: Vec<String>,
}

/// A connector's breaking versions, oldest first.
#[derive(Debug)]
pub struct BreakingChanges {
    pub connector: String,
    /// The newest released version, if the file says.
    pub current: Option<Version>,
    /// One manifest per breaking version, with an empty guide and no preconditions: those
    /// are the author's to write.
    pub manifests: Vec<Manifest>,
}

/// Reads a `metadata.yaml`.
pub fn read(path: &Path) -> Result<BreakingChanges> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| {
        format!(
            "{} is not a connector metadata.yaml with data.releases.breakingChanges",
            path.display()
        )
    })
}

pub fn parse(text: &str) -> Result<BreakingChanges> {
    let file: File = serde_yaml::from_str(text)?;
    let data = file.data;
    let current = data
        .docker_image_tag
        .as_deref()
        .map(|t| {
            Version::parse(t)
                .with_context(|| format!("dockerImageTag {t:?} is not a semver version"))
        })
        .transpose()?;
    let mut versions = Vec::new();
    for (version, change) in data
        .releases
        .map(|r| r.breaking_changes)
        .unwrap_or_default()
    {
        let parsed = Version::parse(&version)
            .with_context(|| format!("breaking change {version:?} is not a semver version"))?;
        versions.push((parsed, change));
    }
    versions.sort_by(|a, b| a.0.cmp(&b.0));
    let docs = data.documentation_url.unwrap_or_else(|| {
        let name = data
            .docker_repository
            .rsplit('/')
            .next()
            .unwrap_or_default();
        format!(
            "https://docs.airbyte.com/integrations/sources/{}",
            name.trim_start_matches("source-")
        )
    });
    let mut manifests = Vec::new();
    let mut previous: Option<Version> = None;
    for (version, change) in versions {
        let deadline_action = match change.deadline_action.as_deref() {
            None => None,
            Some("disable") => Some(DeadlineAction::Disable),
            Some("auto_upgrade") => Some(DeadlineAction::AutoUpgrade),
            Some(other) => bail!(
                "breaking change {version}: deadlineAction {other:?} is neither disable nor auto_upgrade"
            ),
        };
        let mut scoped = Vec::new();
        for impact in change.scoped_impact {
            if impact.scope_type != "stream" {
                bail!(
                    "breaking change {version}: scopedImpact of scopeType {:?} is not supported (only stream)",
                    impact.scope_type
                );
            }
            scoped.extend(impact.impacted_scopes);
        }
        scoped.sort();
        scoped.dedup();
        let applies_to = match &previous {
            Some(p) => format!(">={p}, <{version}"),
            None => format!("<{version}"),
        };
        manifests.push(Manifest {
            connector: data.docker_repository.clone(),
            applies_to,
            produces: version.to_string(),
            message: change.message.trim().to_owned(),
            // Airbyte's schema requires the field; an entry written for a break its
            // connector's metadata does not list yet may have no date to give (`""`).
            upgrade_deadline: Some(change.upgrade_deadline).filter(|d| !d.trim().is_empty()),
            deadline_action,
            documentation_url: change
                .migration_documentation_url
                .unwrap_or_else(|| format!("{docs}-migrations#{version}")),
            scoped_streams: scoped,
            preconditions: Vec::new(),
            guide: String::new(),
        });
        previous = Some(version);
    }
    Ok(BreakingChanges {
        connector: data.docker_repository,
        current,
        manifests,
    })
}

/// A manifest as the Rust code a plugin's `manifest()` returns, to paste into a new plugin.
pub fn to_rust(m: &Manifest) -> String {
    let opt = |v: &Option<String>| match v {
        Some(s) => format!("Some({s:?}.into())"),
        None => "None".into(),
    };
    let action = match m.deadline_action {
        None => "None",
        Some(DeadlineAction::Disable) => "Some(DeadlineAction::Disable)",
        Some(DeadlineAction::AutoUpgrade) => "Some(DeadlineAction::AutoUpgrade)",
    };
    let scoped: Vec<String> = m
        .scoped_streams
        .iter()
        .map(|s| format!("{s:?}.into()"))
        .collect();
    format!(
        "Manifest {{\n    connector: {:?}.into(),\n    applies_to: {:?}.into(),\n    produces: {:?}.into(),\n    message: {:?}.into(),\n    upgrade_deadline: {},\n    deadline_action: {action},\n    documentation_url: {:?}.into(),\n    scoped_streams: vec![{}],\n    preconditions: vec![],\n    guide: GUIDE.into(),\n}}",
        m.connector,
        m.applies_to,
        m.produces,
        m.message,
        opt(&m.upgrade_deadline),
        m.documentation_url,
        scoped.join(", "),
    )
}

/// A manifest as the Python code a plugin's `manifest()` returns, to paste into a new plugin.
pub fn to_python(m: &Manifest) -> String {
    let string = |s: &str| serde_json::to_string(s).expect("a string serializes");
    let opt = |v: &Option<String>| v.as_deref().map(string).unwrap_or_else(|| "None".into());
    let action = match m.deadline_action {
        None => "None",
        Some(DeadlineAction::Disable) => "DeadlineAction.DISABLE",
        Some(DeadlineAction::AutoUpgrade) => "DeadlineAction.AUTO_UPGRADE",
    };
    let scoped: Vec<String> = m.scoped_streams.iter().map(|s| string(s)).collect();
    format!(
        "Manifest(\n    connector={},\n    applies_to={},\n    produces={},\n    message={},\n    upgrade_deadline={},\n    deadline_action={action},\n    documentation_url={},\n    scoped_streams=[{}],\n    preconditions=[],\n    guide=GUIDE,\n)",
        string(&m.connector),
        string(&m.applies_to),
        string(&m.produces),
        string(&m.message),
        opt(&m.upgrade_deadline),
        string(&m.documentation_url),
        scoped.join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
data:
  dockerRepository: airbyte/source-pinterest
  dockerImageTag: 2.1.10
  documentationUrl: https://docs.airbyte.com/integrations/sources/pinterest
  releases:
    breakingChanges:
      2.0.0:
        message: "state format changed"
        upgradeDeadline: "2024-06-03"
        scopedImpact:
          - scopeType: stream
            impactedScopes: [campaigns, ads]
      1.0.0:
        message: "date-time fields"
        upgradeDeadline: "2023-12-14"
        deadlineAction: auto_upgrade
"#;

    #[test]
    fn reads_breaking_changes_oldest_first_with_chained_ranges() {
        let b = parse(YAML).unwrap();
        assert_eq!(b.connector, "airbyte/source-pinterest");
        assert_eq!(b.current, Some(Version::new(2, 1, 10)));
        let [one, two] = &b.manifests[..] else {
            panic!("two versions")
        };
        assert_eq!(
            (one.applies_to.as_str(), one.produces.as_str()),
            ("<1.0.0", "1.0.0")
        );
        assert_eq!(
            (two.applies_to.as_str(), two.produces.as_str()),
            (">=1.0.0, <2.0.0", "2.0.0")
        );
        assert_eq!(one.deadline_action, Some(DeadlineAction::AutoUpgrade));
        assert_eq!(two.scoped_streams, vec!["ads", "campaigns"]);
        assert_eq!(
            two.documentation_url,
            "https://docs.airbyte.com/integrations/sources/pinterest-migrations#2.0.0"
        );
        assert!(two.check().is_ok(), "the manifest is one the host accepts");
    }

    #[test]
    fn an_empty_deadline_is_none() {
        let undated = YAML.replace("upgradeDeadline: \"2024-06-03\"", "upgradeDeadline: \"\"");
        let b = parse(&undated).unwrap();
        assert_eq!(b.manifests[1].upgrade_deadline, None);
        assert_eq!(
            b.manifests[0].upgrade_deadline.as_deref(),
            Some("2023-12-14")
        );
    }

    #[test]
    fn refuses_unknown_deadline_actions_and_scopes() {
        let bad = YAML.replace("auto_upgrade", "explode");
        assert!(format!("{:#}", parse(&bad).unwrap_err()).contains("explode"));
        let bad = YAML.replace("scopeType: stream", "scopeType: table");
        assert!(format!("{:#}", parse(&bad).unwrap_err()).contains("table"));
    }
}
