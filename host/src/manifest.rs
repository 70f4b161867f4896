//! What a plugin says about the breaking change it migrates, in the host's own terms,
//! independent of the contract version the plugin was built against.

use anyhow::{Context, Result, bail};
use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

/// What the platform does when the upgrade deadline passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineAction {
    Disable,
    AutoUpgrade,
}

/// A requirement checked before a step runs, such as `platform` `>=0.50.0`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Precondition {
    pub subject: String,
    pub requirement: String,
}

/// One breaking change: the plugin's `manifest()`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub connector: String,
    pub applies_to: String,
    pub produces: String,
    pub message: String,
    pub upgrade_deadline: Option<String>,
    pub deadline_action: Option<DeadlineAction>,
    pub documentation_url: String,
    pub scoped_streams: Vec<String>,
    pub preconditions: Vec<Precondition>,
    pub guide: String,
}

/// A manifest whose versions have been parsed and checked.
#[derive(Clone, Debug)]
pub struct Checked {
    pub applies_to: VersionReq,
    pub produces: Version,
}

impl Manifest {
    /// Checks that the manifest is usable: a connector name, a parseable range that does
    /// not include the produced version (or the chain would never end), parseable
    /// preconditions and an ISO deadline.
    pub fn check(&self) -> Result<Checked> {
        if !self.connector.contains('/') {
            bail!(
                "connector {:?} is not of the form <vendor>/<name> (e.g. airbyte/source-pinterest)",
                self.connector
            );
        }
        let applies_to = VersionReq::parse(&self.applies_to).with_context(|| {
            format!(
                "applies-to {:?} is not a semver requirement",
                self.applies_to
            )
        })?;
        let produces = Version::parse(&self.produces)
            .with_context(|| format!("produces {:?} is not a semver version", self.produces))?;
        if applies_to.matches(&produces) {
            bail!(
                "applies-to {:?} includes the version it produces ({produces}): it would migrate its own output",
                self.applies_to
            );
        }
        for p in &self.preconditions {
            VersionReq::parse(&p.requirement).with_context(|| {
                format!(
                    "precondition {} {:?} is not a semver requirement",
                    p.subject, p.requirement
                )
            })?;
        }
        if let Some(d) = &self.upgrade_deadline {
            time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]"))
                .with_context(|| format!("upgrade deadline {d:?} is not a YYYY-MM-DD date"))?;
        }
        Ok(Checked {
            applies_to,
            produces,
        })
    }
}
