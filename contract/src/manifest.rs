//! What a plugin says about the breaking change it migrates, and the rules that make a
//! manifest usable.

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

/// What the platform does when the upgrade deadline passes (Airbyte's `deadlineAction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineAction {
    /// The connection is disabled until it is upgraded.
    Disable,
    /// The connection is upgraded automatically.
    AutoUpgrade,
}

/// A requirement checked by the host before the step runs, e.g. `platform` `>=0.50.0`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Precondition {
    /// What is checked, such as `platform`.
    pub subject: String,
    /// A semver requirement, such as `>=0.50.0`.
    pub requirement: String,
}

impl Precondition {
    /// A precondition on `subject`.
    pub fn new(subject: &str, requirement: &str) -> Self {
        Self {
            subject: subject.into(),
            requirement: requirement.into(),
        }
    }
}

/// The breaking change a plugin migrates: one `breakingChanges` entry of the connector's
/// metadata plus the guide. What the plugin's `manifest()` returns.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The connector, as `<vendor>/<image>`, for example `airbyte/source-pinterest`.
    pub connector: String,
    /// The versions migrated from, as a semver requirement (`>=1.0.0, <2.0.0`).
    pub applies_to: String,
    /// The version a migrated connection is at afterwards, for example `2.0.0`.
    pub produces: String,
    /// The connector's own breaking-change message.
    pub message: String,
    /// The upgrade deadline as an ISO date (`YYYY-MM-DD`), if the connector set one.
    pub upgrade_deadline: Option<String>,
    /// What happens at the deadline, if the connector says.
    pub deadline_action: Option<DeadlineAction>,
    /// The connector's migration guide.
    pub documentation_url: String,
    /// The streams the connector's entry names as affected (its `scopedImpact`).
    pub scoped_streams: Vec<String>,
    /// What must hold on the operator's side before the step may run.
    pub preconditions: Vec<Precondition>,
    /// The migration guide, as Markdown.
    pub guide: String,
}

/// A manifest whose versions have been parsed and checked.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The versions migrated from.
    pub applies_to: VersionReq,
    /// The version produced.
    pub produces: Version,
}

/// Why a manifest cannot be used; the message names the field and its value.
#[derive(Debug)]
pub struct InvalidManifest {
    message: String,
    source: Option<semver::Error>,
}

impl InvalidManifest {
    fn new(message: String) -> Self {
        Self {
            message,
            source: None,
        }
    }

    fn semver(message: String) -> impl FnOnce(semver::Error) -> Self {
        |e| Self {
            message,
            source: Some(e),
        }
    }
}

impl std::fmt::Display for InvalidManifest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InvalidManifest {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

impl Manifest {
    /// Checks that the manifest is usable: a connector name, a parseable range that does
    /// not include the produced version (or the chain would never end), parseable
    /// preconditions and an ISO deadline.
    pub fn check(&self) -> Result<Checked, InvalidManifest> {
        if !self.connector.contains('/') {
            return Err(InvalidManifest::new(format!(
                "connector {:?} is not of the form <vendor>/<name> (e.g. airbyte/source-pinterest)",
                self.connector
            )));
        }
        let applies_to =
            VersionReq::parse(&self.applies_to).map_err(InvalidManifest::semver(format!(
                "applies-to {:?} is not a semver requirement",
                self.applies_to
            )))?;
        let produces = Version::parse(&self.produces).map_err(InvalidManifest::semver(format!(
            "produces {:?} is not a semver version",
            self.produces
        )))?;
        if applies_to.matches(&produces) {
            return Err(InvalidManifest::new(format!(
                "applies-to {:?} includes the version it produces ({produces}): it would migrate its own output",
                self.applies_to
            )));
        }
        for p in &self.preconditions {
            VersionReq::parse(&p.requirement).map_err(InvalidManifest::semver(format!(
                "precondition {} {:?} is not a semver requirement",
                p.subject, p.requirement
            )))?;
        }
        if let Some(d) = &self.upgrade_deadline
            && !is_iso_date(d)
        {
            return Err(InvalidManifest::new(format!(
                "upgrade deadline {d:?} is not a YYYY-MM-DD date"
            )));
        }
        Ok(Checked {
            applies_to,
            produces,
        })
    }
}

/// Whether `text` is a calendar date written `YYYY-MM-DD` (a day the month has).
fn is_iso_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = &bytes[range];
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0, |n, b| n * 10 + u32::from(b - b'0')))
    };
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let (Some(year), Some(month), Some(day)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            connector: "airbyte/source-example".into(),
            applies_to: ">=1.0.0, <2.0.0".into(),
            produces: "2.0.0".into(),
            ..Manifest::default()
        }
    }

    #[test]
    fn a_usable_manifest_is_checked() {
        let checked = manifest().check().unwrap();
        assert!(checked.applies_to.matches(&Version::new(1, 4, 0)));
        assert_eq!(checked.produces, Version::new(2, 0, 0));
    }

    #[test]
    fn each_rule_names_the_field() {
        let refused = |change: fn(&mut Manifest)| {
            let mut m = manifest();
            change(&mut m);
            m.check().unwrap_err().to_string()
        };
        assert!(refused(|m| m.connector = "source-example".into()).contains("<vendor>/<name>"));
        assert!(refused(|m| m.applies_to = "one".into()).contains("applies-to \"one\""));
        assert!(refused(|m| m.produces = "2".into()).contains("produces \"2\""));
        assert!(refused(|m| m.produces = "1.5.0".into()).contains("migrate its own output"));
        assert!(
            refused(|m| m.preconditions = vec![Precondition::new("platform", "at least 1")])
                .contains("precondition platform \"at least 1\"")
        );
        assert!(refused(|m| m.upgrade_deadline = Some("2024-02-30".into())).contains("YYYY-MM-DD"));
    }

    #[test]
    fn dates_are_calendar_days() {
        for good in ["2024-02-29", "2023-12-31", "2000-02-29", "2025-01-01"] {
            assert!(is_iso_date(good), "{good}");
        }
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-1-01",
            "2024/01/01",
            "24-01-01",
            "2024-01-32",
            "２０２４-01-01",
        ] {
            assert!(!is_iso_date(bad), "{bad}");
        }
    }

    #[test]
    fn deadline_actions_read_as_airbyte_writes_them() {
        let m: DeadlineAction = serde_json::from_str("\"auto_upgrade\"").unwrap();
        assert_eq!(m, DeadlineAction::AutoUpgrade);
    }
}
