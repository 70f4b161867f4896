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
    /// Whether `config` still lacks what this asks for.
    pub fn unmet(&self, config: &Value) -> bool {
        if self.when.as_ref().is_some_and(|w| !w.holds(config)) {
            return false;
        }
        let satisfied = match &self.satisfied {
            Some(c) => c.holds(config),
            None => Condition {
                pointer: self.field.clone(),
                one_of: Vec::new(),
                starts_with: None,
                not: false,
            }
            .holds(config),
        };
        !satisfied
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
    Err(Error::NeedsOperator(format!(
        "{connector} {produces} needs what only the operator can supply; nothing is written until it is: {}",
        unmet.join("; ")
    )))
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
        let require = |field: &str, action: &str| Requirement {
            field: field.into(),
            action: action.into(),
            when: None,
            satisfied: None,
        };
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
}
