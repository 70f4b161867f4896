//! What only the operator can supply: a new credential, a value only the user knows.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A config value the new version needs and no migration can make up.
///
/// It applies to the connections `when` selects (all, when absent: e.g. only those
/// authenticating with OAuth) and is met once the config `satisfied` (default: `field`
/// holds a non-empty value). Until then the connection is refused with the field and the
/// action, and nothing is written for it.
///
/// A requirement to `renew` asks for a new value although the field holds one (a
/// credential the guide asks every connection to obtain again through the new version's
/// authentication flow). No config shows whether that happened (the platform masks
/// secrets), and the new flow only exists at the new version, so refusing would never end:
/// a connection holding a value is migrated with a `review-field` action on the field
/// saying what to do before its next sync (unless `satisfied` shows it was done); one
/// without a value is refused as usual.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// The config field, as an RFC 6901 pointer.
    pub field: String,
    /// What the operator does, e.g. "create a V2 API token in AppsFlyer and set it".
    pub action: String,
    /// Only when this holds is the field required (always, when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
    /// The config already satisfies the requirement when this holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfied: Option<Condition>,
    /// The value present must be renewed at the new version (see the type's docs).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub renew: bool,
}

/// A test of one config value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The config field tested, as an RFC 6901 pointer.
    pub pointer: String,
    /// The value is one of these; absent: the value is present and not empty.
    #[serde(default, rename = "one-of", skip_serializing_if = "Vec::is_empty")]
    pub one_of: Vec<Value>,
    /// The value is a string starting with this (e.g. `eyJ`, how a JWT begins).
    #[serde(
        default,
        rename = "starts-with",
        skip_serializing_if = "Option::is_none"
    )]
    pub starts_with: Option<String>,
    /// Inverts the test.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not: bool,
}

impl Condition {
    /// Whether `config` passes the test.
    pub fn holds(&self, config: &Value) -> bool {
        let value = config.pointer(&self.pointer);
        let held = if let Some(prefix) = &self.starts_with {
            value
                .and_then(Value::as_str)
                .is_some_and(|v| v.starts_with(prefix.as_str()))
        } else if self.one_of.is_empty() {
            value
                .is_some_and(|v| !v.is_null() && v != "" && v != &Value::Object(Default::default()))
        } else {
            value.is_some_and(|v| self.one_of.contains(v))
        };
        held != self.not
    }
}

impl Requirement {
    /// A field every connection must have, and what the operator does to supply it.
    pub fn always(field: &str, action: &str) -> Self {
        Self {
            field: field.into(),
            action: action.into(),
            when: None,
            satisfied: None,
            renew: false,
        }
    }

    /// Whether `config` still lacks what this asks for: the connection is refused. A
    /// requirement to renew lacks only a value.
    pub fn unmet(&self, config: &Value) -> bool {
        if !self.applies(config) {
            return false;
        }
        if self.renew {
            return !self.present(config);
        }
        !self
            .satisfied
            .as_ref()
            .map_or_else(|| self.present(config), |c| c.holds(config))
    }

    /// Whether `config` holds a value this asks to renew: the connection is migrated and
    /// its operator asked to renew the field.
    pub fn asks_renewal(&self, config: &Value) -> bool {
        self.renew
            && self.applies(config)
            && self.present(config)
            && !self.satisfied.as_ref().is_some_and(|c| c.holds(config))
    }

    fn applies(&self, config: &Value) -> bool {
        self.when.as_ref().is_none_or(|w| w.holds(config))
    }

    fn present(&self, config: &Value) -> bool {
        Condition {
            pointer: self.field.clone(),
            one_of: Vec::new(),
            starts_with: None,
            not: false,
        }
        .holds(config)
    }
}

/// Refuses a connection whose `config` leaves any of `requirements` unmet: an
/// [`Error::NeedsOperator`] naming each such field and its action, so nothing is written for
/// the connection until the operator supplies them. `Ok` when every one is met.
///
/// Generated plugins refuse this way from their table's `needs-operator`; a hand-written
/// plugin whose break needs a credential only the user has (a database source has no table)
/// calls it with its own requirements, so both refuse in the same words.
pub fn refuse_unmet(
    connector: &str,
    produces: &str,
    requirements: &[Requirement],
    config: &Value,
) -> Result<()> {
    let unmet: Vec<String> = requirements
        .iter()
        .filter(|r| r.unmet(config))
        .map(|r| format!("{}: {}", r.field, r.action))
        .collect();
    if unmet.is_empty() {
        return Ok(());
    }
    Err(needs_operator(connector, produces, &unmet.join("; ")))
}

/// The refusal of a connection that lacks `what` (the field and the action), in the words
/// every refusal of a breaking version uses.
pub(crate) fn needs_operator(connector: &str, produces: &str, what: &str) -> Error {
    Error::NeedsOperator(format!(
        "{connector} {produces} needs what only the operator can supply; nothing is written until it is: {what}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_requirement_applies_where_selected_and_is_met_by_a_value() {
        let r = Requirement {
            field: "/subdomain".into(),
            action: "set the Zendesk subdomain".into(),
            when: None,
            satisfied: None,
            renew: false,
        };
        assert!(r.unmet(&json!({})));
        assert!(r.unmet(&json!({"subdomain": ""})));
        assert!(!r.unmet(&json!({"subdomain": "acme"})));

        let oauth = Requirement {
            field: "/credentials/refresh_token".into(),
            action: "re-authenticate".into(),
            when: Some(Condition {
                pointer: "/credentials/credentials".into(),
                one_of: vec![json!("oauth2.0")],
                starts_with: None,
                not: false,
            }),
            satisfied: Some(Condition {
                pointer: "/credentials/token_expiry_date".into(),
                one_of: Vec::new(),
                starts_with: Some("2026".into()),
                not: false,
            }),
            renew: false,
        };
        assert!(!oauth.unmet(&json!({"credentials": {"credentials": "api_token"}})));
        assert!(
            oauth.unmet(&json!({"credentials": {"credentials": "oauth2.0", "refresh_token": "r"}}))
        );
        assert!(!oauth.unmet(
            &json!({"credentials": {"credentials": "oauth2.0", "token_expiry_date": "2026-01-01"}})
        ));
    }

    #[test]
    fn refusal_names_every_unmet_field_and_nothing_met() {
        let require = Requirement::always;
        let requirements = [
            require("/client_id", "set the service account id"),
            require("/account", "set the account name"),
        ];
        let config = json!({"account": "acme"});
        match refuse_unmet("airbyte/source-x", "2.0.0", &requirements, &config) {
            Err(Error::NeedsOperator(m)) => {
                assert!(m.starts_with("airbyte/source-x 2.0.0 needs"), "{m}");
                assert!(m.contains("/client_id: set the service account id"), "{m}");
                assert!(
                    !m.contains("/account"),
                    "a met requirement is not named: {m}"
                );
            }
            other => panic!("expected needs-operator, got {other:?}"),
        }
        let config = json!({"account": "acme", "client_id": "id"});
        assert!(refuse_unmet("airbyte/source-x", "2.0.0", &requirements, &config).is_ok());
    }

    #[test]
    fn a_value_to_renew_is_asked_for_not_refused() {
        let r = Requirement {
            field: "/refresh_token".into(),
            action: "re-authenticate".into(),
            when: Some(Condition {
                pointer: "/auth_type".into(),
                one_of: vec![json!("oauth")],
                starts_with: None,
                not: false,
            }),
            satisfied: None,
            renew: true,
        };
        let held = json!({"auth_type": "oauth", "refresh_token": "**********"});
        assert!(!r.unmet(&held), "a value is there: not refused");
        assert!(r.asks_renewal(&held), "but renewed");
        let absent = json!({"auth_type": "oauth"});
        assert!(r.unmet(&absent), "nothing to renew: refused as usual");
        assert!(!r.asks_renewal(&absent));
        let other = json!({"auth_type": "key", "refresh_token": "r"});
        assert!(!r.unmet(&other) && !r.asks_renewal(&other), "not selected");
        let marked = Requirement {
            satisfied: Some(Condition {
                pointer: "/renewed".into(),
                one_of: vec![json!(true)],
                starts_with: None,
                not: false,
            }),
            ..r
        };
        assert!(marked.asks_renewal(&held));
        let mut renewed = held;
        renewed["renewed"] = json!(true);
        assert!(
            !marked.asks_renewal(&renewed),
            "satisfied shows it was done"
        );
    }
}
