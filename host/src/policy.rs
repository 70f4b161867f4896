//! The upgrade policy: which versions a connection goes through on its way to the target,
//! and what each step needs.
//!
//! - A connection that is pinned is left alone.
//! - Within one major version, an upgrade is automatic: no plugin, no opt-in (patch and
//!   minor releases keep the documents valid).
//! - A breaking version (every major, and any version a plugin declares it produces, even
//!   a minor, since connectors do declare breaking minors) needs the plugin that migrates
//!   to it, and the operator's opt-in.
//! - Steps chain: 0.8.0 → 1.0.0 → 2.0.0 runs both plugins, each on the previous one's output.
//!
//! This module decides; it runs nothing. [`crate::plan`] runs the chain it returns.

use semver::{Version, VersionReq};

/// What the policy needs to know of a plugin.
pub trait Candidate {
    fn applies_to(&self) -> &VersionReq;
    fn produces(&self) -> &Version;
}

/// One step of a chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A patch or minor upgrade inside one major version: only the version changes.
    Automatic { from: Version, to: Version },
    /// A breaking step: run plugin `plugin` (an index into the candidates).
    Plugin {
        from: Version,
        to: Version,
        plugin: usize,
    },
}

impl Step {
    pub fn from(&self) -> &Version {
        match self {
            Step::Automatic { from, .. } | Step::Plugin { from, .. } => from,
        }
    }

    pub fn to(&self) -> &Version {
        match self {
            Step::Automatic { to, .. } | Step::Plugin { to, .. } => to,
        }
    }
}

/// Why no chain leads to the target.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoChain {
    #[error(
        "no migration plugin for {connector} from {from} toward {target}: a breaking step (to {boundary}) needs one; add the plugin for that version to the fleet's plugins directory, or pin the connection"
    )]
    MissingPlugin {
        connector: String,
        from: Version,
        target: Version,
        boundary: Version,
    },
}

/// The chain of steps from `current` to `target`, given the connector's plugins.
pub fn chain<C: Candidate>(
    connector: &str,
    current: &Version,
    target: &Version,
    plugins: &[C],
) -> Result<Vec<Step>, NoChain> {
    let mut steps = Vec::new();
    let mut at = current.clone();
    while at < *target {
        // The earliest breaking point after `at`: the next major, or a breaking minor
        // some plugin declares.
        let next_major = if at.major == 0 {
            Version::new(1, 0, 0)
        } else {
            Version::new(at.major + 1, 0, 0)
        };
        let plugin = plugins
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                p.applies_to().matches(&at) && *p.produces() > at && p.produces() <= target
            })
            .min_by(|(_, a), (_, b)| a.produces().cmp(b.produces()));
        match plugin {
            Some((i, p))
                if *p.produces() <= next_major || p.produces().major == next_major.major =>
            {
                steps.push(Step::Plugin {
                    from: at.clone(),
                    to: p.produces().clone(),
                    plugin: i,
                });
                at = p.produces().clone();
            }
            _ if *target < next_major => {
                steps.push(Step::Automatic {
                    from: at.clone(),
                    to: target.clone(),
                });
                at = target.clone();
            }
            _ => {
                return Err(NoChain::MissingPlugin {
                    connector: connector.to_owned(),
                    from: at,
                    target: target.clone(),
                    boundary: next_major,
                });
            }
        }
    }
    Ok(steps)
}

/// Plugins as the policy sees them, for tests of chains.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A plugin: what it applies to and what it produces.
    pub struct P(VersionReq, Version);

    impl Candidate for P {
        fn applies_to(&self) -> &VersionReq {
            &self.0
        }
        fn produces(&self) -> &Version {
            &self.1
        }
    }

    pub fn p(req: &str, v: &str) -> P {
        P(VersionReq::parse(req).unwrap(), Version::parse(v).unwrap())
    }

    pub fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{P, p, v};
    use super::*;

    fn pinterest() -> Vec<P> {
        vec![p(">=1.0.0, <2.0.0", "2.0.0"), p(">=0.1.0, <1.0.0", "1.0.0")]
    }

    #[test]
    fn chains_majors_through_plugins() {
        let steps = chain("c", &v("0.8.0"), &v("2.0.0"), &pinterest()).unwrap();
        assert_eq!(
            steps,
            vec![
                Step::Plugin {
                    from: v("0.8.0"),
                    to: v("1.0.0"),
                    plugin: 1
                },
                Step::Plugin {
                    from: v("1.0.0"),
                    to: v("2.0.0"),
                    plugin: 0
                },
            ]
        );
    }

    #[test]
    fn minors_and_patches_are_automatic() {
        assert_eq!(
            chain("c", &v("1.1.0"), &v("1.3.3"), &pinterest()).unwrap(),
            vec![Step::Automatic {
                from: v("1.1.0"),
                to: v("1.3.3")
            }]
        );
        assert_eq!(
            chain("c", &v("2.1.0"), &v("2.1.0"), &pinterest()).unwrap(),
            vec![]
        );
        assert_eq!(
            chain("c", &v("0.8.0"), &v("1.2.0"), &pinterest())
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn a_breaking_minor_needs_its_plugin() {
        let fb = vec![p(">=3.0.0, <3.1.0", "3.1.0")];
        assert_eq!(
            chain("fb", &v("3.0.2"), &v("3.2.0"), &fb).unwrap(),
            vec![
                Step::Plugin {
                    from: v("3.0.2"),
                    to: v("3.1.0"),
                    plugin: 0
                },
                Step::Automatic {
                    from: v("3.1.0"),
                    to: v("3.2.0")
                },
            ]
        );
    }

    #[test]
    fn a_missing_major_plugin_is_an_error() {
        let err = chain("c", &v("2.0.0"), &v("3.0.0"), &pinterest()).unwrap_err();
        assert!(
            matches!(err, NoChain::MissingPlugin { ref boundary, .. } if *boundary == v("3.0.0"))
        );
        // A plugin whose range does not cover the version does not help either.
        let narrow = vec![p(">=1.3.0, <2.0.0", "2.0.0")];
        assert!(chain("c", &v("1.1.0"), &v("2.0.0"), &narrow).is_err());
    }

    #[test]
    fn a_target_below_the_current_version_is_no_step() {
        assert_eq!(
            chain("c", &v("2.1.0"), &v("2.0.0"), &pinterest()).unwrap(),
            vec![]
        );
    }
}
