//! The chain of an Elastic connector: the framework's versions move together (every data
//! source is at the connectors service's version), and a breaking change is declared by a
//! plugin for one data source or for all (`elastic/*`). Every version such a plugin
//! produces is a stop the chain cannot jump over, and so is every major: a connector goes
//! 8.7 → 8.8 (its plugin) → 9.0 (the pipeline rename), and one whose data source first
//! breaks at 8.10 goes 8.7 → 8.9 (automatic: the service adds missing fields itself) → 8.10
//! (its plugin) → 9.0.
//!
//! Airbyte's policy ([`crate::policy`]) differs on purpose: there each connector has its own
//! versions, and a plugin whose range does not cover a connection does not stop it.

use crate::policy::{Candidate, NoChain, Step};
use semver::{Op, Version, VersionReq};

/// The lowest version a requirement admits (`>=8.9.0, <8.10.0` → 8.9.0), if it has a
/// lower bound.
pub fn lower_bound(req: &VersionReq) -> Option<Version> {
    req.comparators
        .iter()
        .filter_map(|c| {
            let v = Version::new(c.major, c.minor.unwrap_or(0), c.patch.unwrap_or(0));
            match c.op {
                Op::GreaterEq | Op::Exact | Op::Tilde | Op::Caret => Some(v),
                Op::Greater => Some(match (c.minor, c.patch) {
                    (Some(_), Some(_)) => Version::new(v.major, v.minor, v.patch + 1),
                    (Some(_), None) => Version::new(v.major, v.minor + 1, 0),
                    _ => Version::new(v.major + 1, 0, 0),
                }),
                _ => None,
            }
        })
        .max()
}

/// The chain from `current` to `target` through `plugins` (the connector's data source's
/// and those for every data source).
pub fn chain<C: Candidate>(
    connector: &str,
    current: &Version,
    target: &Version,
    plugins: &[C],
) -> Result<Vec<Step>, NoChain> {
    let mut steps = Vec::new();
    let mut at = current.clone();
    while at < *target {
        let next_major = Version::new(at.major + 1, 0, 0);
        let stop = plugins
            .iter()
            .map(|p| p.produces())
            .filter(|v| **v > at && *v <= target)
            .chain((next_major <= *target).then_some(&next_major))
            .min()
            .cloned();
        let Some(stop) = stop else {
            steps.push(Step::Automatic {
                from: at.clone(),
                to: target.clone(),
            });
            break;
        };
        let producing = || {
            plugins
                .iter()
                .enumerate()
                .filter(|(_, p)| *p.produces() == stop)
        };
        if let Some((i, _)) = producing().find(|(_, p)| p.applies_to().matches(&at)) {
            steps.push(Step::Plugin {
                from: at.clone(),
                to: stop.clone(),
                plugin: i,
            });
            at = stop;
            continue;
        }
        // A plugin whose range starts later: the versions up to its start are automatic.
        let later = producing()
            .filter_map(|(i, p)| {
                lower_bound(p.applies_to())
                    .filter(|l| *l > at && p.applies_to().matches(l))
                    .map(|l| (i, l))
            })
            .min_by(|a, b| a.1.cmp(&b.1));
        match later {
            Some((i, start)) => {
                steps.push(Step::Automatic {
                    from: at.clone(),
                    to: start.clone(),
                });
                steps.push(Step::Plugin {
                    from: start,
                    to: stop.clone(),
                    plugin: i,
                });
                at = stop;
            }
            None => {
                return Err(NoChain::MissingPlugin {
                    connector: connector.to_owned(),
                    from: at,
                    target: target.clone(),
                    boundary: stop,
                });
            }
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::testing::{P, p, v};

    #[test]
    fn stops_at_every_declared_break_and_major() {
        let plugins = [p(">=8.0.0, <9.0.0", "9.0.0"), p(">=8.7.0, <8.8.0", "8.8.0")];
        assert_eq!(
            chain("elastic/mysql", &v("8.7.0"), &v("9.0.0"), &plugins).unwrap(),
            vec![
                Step::Plugin {
                    from: v("8.7.0"),
                    to: v("8.8.0"),
                    plugin: 1
                },
                Step::Plugin {
                    from: v("8.8.0"),
                    to: v("9.0.0"),
                    plugin: 0
                }
            ]
        );
    }

    #[test]
    fn reaches_a_later_plugins_range_automatically() {
        let plugins = [
            p(">=8.9.0, <8.10.0", "8.10.0"),
            p(">=8.0.0, <9.0.0", "9.0.0"),
        ];
        assert_eq!(
            chain("elastic/github", &v("8.7.0"), &v("9.0.0"), &plugins).unwrap(),
            vec![
                Step::Automatic {
                    from: v("8.7.0"),
                    to: v("8.9.0")
                },
                Step::Plugin {
                    from: v("8.9.0"),
                    to: v("8.10.0"),
                    plugin: 0
                },
                Step::Plugin {
                    from: v("8.10.0"),
                    to: v("9.0.0"),
                    plugin: 1
                },
            ]
        );
        assert_eq!(
            chain("elastic/github", &v("8.10.0"), &v("8.15.0"), &plugins).unwrap(),
            vec![Step::Automatic {
                from: v("8.10.0"),
                to: v("8.15.0")
            }]
        );
    }

    #[test]
    fn a_major_without_a_plugin_or_a_gap_is_an_error() {
        assert!(
            matches!(chain("elastic/mysql", &v("8.8.0"), &v("9.0.0"), &[] as &[P]), Err(NoChain::MissingPlugin { boundary, .. }) if boundary == v("9.0.0"))
        );
        let narrow = [p(">=8.7.0, <8.7.5", "8.8.0")];
        assert!(chain("elastic/mysql", &v("8.7.6"), &v("8.8.0"), &narrow).is_err());
        assert_eq!(
            chain("elastic/mysql", &v("9.0.0"), &v("9.0.0"), &narrow).unwrap(),
            vec![]
        );
    }

    #[test]
    fn lower_bounds() {
        assert_eq!(
            lower_bound(&VersionReq::parse(">=8.9.0, <8.10.0").unwrap()),
            Some(v("8.9.0"))
        );
        assert_eq!(
            lower_bound(&VersionReq::parse(">8.9").unwrap()),
            Some(v("8.10.0"))
        );
        assert_eq!(lower_bound(&VersionReq::parse("<9").unwrap()), None);
    }
}
