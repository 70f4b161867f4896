//! A connector's sync rules: `filtering` is `[{domain, active, draft}]`, each filter holding
//! basic `rules` (`{id, field, policy, rule, value, order, …}`, the last one the `DEFAULT`
//! rule matching every document) and an `advanced_snippet` whose `value` is in the data
//! source's own shape (elastic/connectors `Filtering` and `Filter`, `connectors/byoc.py` in
//! 8.7 and 8.8, `connectors/protocol/connectors.py` from 8.9).
//!
//! The connectors service checks them with the data source's validators: the sync job's copy
//! of the active filter before every sync (`sync_job_runner.py`; an invalid one is
//! `InvalidFilteringError` and the sync fails), the draft when Kibana marks it `edited`
//! (promoted to active if valid). Basic rules are matched against the fields of the documents
//! the data source builds. So a version that reads advanced rules in another shape, or names
//! document fields differently, needs the rules rewritten, or the connector refused naming
//! the rules it cannot carry; these helpers find the rules and make the refusal.

use super::document::ConnectorOutcome;
use crate::{Action, Error, Result};
use serde_json::{Map, Value};
use std::fmt;

/// The id of the rule every filter ends with, matching every document (`BasicRule.
/// DEFAULT_RULE_ID`); it means the same in every version.
pub const DEFAULT_RULE_ID: &str = "DEFAULT";

/// The domain the connectors service reads (`Filtering.DEFAULT_DOMAIN`).
pub const DEFAULT_DOMAIN: &str = "DEFAULT";

/// Which of a domain's two filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// What syncs use.
    Active,
    /// What the operator edits in Kibana; becomes active once validated.
    Draft,
}

impl State {
    /// The filter's key in a domain's object (`active`, `draft`).
    pub fn key(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Draft => "draft",
        }
    }
}

/// Where a filter sits in the document: `filtering[index].<state>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// The domain's place in the `filtering` list.
    pub index: usize,
    /// The domain, such as `DEFAULT`.
    pub domain: String,
    /// Which of its two filters.
    pub state: State,
}

impl Place {
    /// The filter's JSON pointer, `/filtering/0/active`.
    pub fn pointer(&self) -> String {
        format!("/filtering/{}/{}", self.index, self.state.key())
    }
}

impl fmt::Display for Place {
    /// `active` or `draft`, with the domain when it is not the default one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.domain == DEFAULT_DOMAIN {
            f.write_str(self.state.key())
        } else {
            write!(f, "{} ({} domain)", self.state.key(), self.domain)
        }
    }
}

/// Every filter of the document with its place, active before draft in each domain. A
/// document without `filtering`, or a filter that is not an object, has none.
fn filters(document: &Map<String, Value>) -> Vec<(Place, &Map<String, Value>)> {
    let Some(Value::Array(domains)) = document.get("filtering") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (index, entry) in domains.iter().enumerate() {
        let domain = entry
            .get("domain")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_DOMAIN)
            .to_owned();
        for state in [State::Active, State::Draft] {
            if let Some(Value::Object(filter)) = entry.get(state.key()) {
                let place = Place {
                    index,
                    domain: domain.clone(),
                    state,
                };
                found.push((place, filter));
            }
        }
    }
    found
}

/// Whether `value` sets advanced rules, as `Filter.has_advanced_rules()` decides: anything
/// but null and an empty object, list or text. Only then does the service validate or apply
/// them.
pub fn has_advanced_rules(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// Each filter's advanced rules (`advanced_snippet.value`), where it sets any.
pub fn advanced_rules(document: &Map<String, Value>) -> Vec<(Place, &Value)> {
    filters(document)
        .into_iter()
        .filter_map(|(place, filter)| {
            let value = filter.get("advanced_snippet")?.get("value")?;
            has_advanced_rules(value).then_some((place, value))
        })
        .collect()
}

/// Each filter's basic rules but the default one, with their place.
pub fn custom_basic_rules(document: &Map<String, Value>) -> Vec<(Place, &Map<String, Value>)> {
    let mut found = Vec::new();
    for (place, filter) in filters(document) {
        let Some(Value::Array(rules)) = filter.get("rules") else {
            continue;
        };
        for rule in rules.iter().filter_map(Value::as_object) {
            if rule.get("id").and_then(Value::as_str) != Some(DEFAULT_RULE_ID) {
                found.push((place.clone(), rule));
            }
        }
    }
    found
}

/// A basic rule's field (empty if it has none).
pub fn rule_field(rule: &Map<String, Value>) -> &str {
    rule.get("field").and_then(Value::as_str).unwrap_or("")
}

/// A basic rule for messages: `rule 7 (exclude email equals "x")`.
pub fn describe_rule(rule: &Map<String, Value>) -> String {
    let text = |k: &str| match rule.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "?".into(),
    };
    format!(
        "rule {} ({} {} {} {:?})",
        text("id"),
        text("policy"),
        text("field"),
        text("rule"),
        text("value")
    )
}

/// Places for messages: `active and draft`, `draft`.
pub fn places_text(places: &[Place]) -> String {
    let names: Vec<String> = places.iter().map(Place::to_string).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// What a step found it cannot carry: the rules (by place) and why, for one refusal that
/// names them all (places with the same reason together: `active and draft sync rules: …`).
pub fn refusal(outcome: &ConnectorOutcome, version: &str, problems: &[(Place, String)]) -> Error {
    let mut grouped: Vec<(Vec<Place>, &str)> = Vec::new();
    for (place, why) in problems {
        match grouped.iter_mut().find(|(_, w)| *w == why) {
            Some((places, _)) => places.push(place.clone()),
            None => grouped.push((vec![place.clone()], why)),
        }
    }
    let listed: Vec<String> = grouped
        .iter()
        .map(|(places, why)| format!("{} sync rules: {why}", places_text(places)))
        .collect();
    Error::NeedsOperator(format!(
        "connector {} ({}): sync rules {version} cannot read as they are: {}",
        outcome.id,
        outcome.service_type(),
        listed.join("; ")
    ))
}

impl ConnectorOutcome {
    /// Rewrites each filter's advanced rules with `rewrite` (given the value, it answers the
    /// new value, `None` to keep it, or why it cannot). All or nothing: if any cannot be
    /// rewritten the connector is refused naming every one (see [`refusal`]) and nothing is
    /// changed. Returns the places rewritten; the same rules in active and draft give the same
    /// new rules, so the two stay in step.
    pub fn rewrite_advanced_rules(
        &mut self,
        version: &str,
        rewrite: impl Fn(&Value) -> std::result::Result<Option<Value>, String>,
    ) -> Result<Vec<Place>> {
        let mut problems = Vec::new();
        let mut changes = Vec::new();
        for (place, value) in advanced_rules(&self.document) {
            match rewrite(value) {
                Ok(Some(new)) => changes.push((place, new)),
                Ok(None) => {}
                Err(why) => problems.push((place, why)),
            }
        }
        if !problems.is_empty() {
            return Err(refusal(self, version, &problems));
        }
        let mut places = Vec::new();
        for (place, new) in changes {
            let value = self
                .document
                .get_mut("filtering")
                .and_then(|f| f.get_mut(place.index))
                .and_then(|d| d.get_mut(place.state.key()))
                .and_then(|f| f.get_mut("advanced_snippet"))
                .and_then(Value::as_object_mut)
                .expect("the place was found in this document");
            value.insert("value".into(), new);
            places.push(place);
        }
        Ok(places)
    }
}

/// Checks every filter's advanced rules with `check` (a validator's schema, see
/// [`super::advanced_rules`]) and keeps them; rules it rejects would fail every sync, so the
/// connector is refused naming them. Returns the places that hold rules.
pub fn require_advanced_rules(
    out: &mut ConnectorOutcome,
    version: &str,
    check: super::advanced_rules::Check,
) -> Result<Vec<Place>> {
    let held: Vec<Place> = advanced_rules(&out.document)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    out.rewrite_advanced_rules(version, |value| {
        check(value).map(|()| None).map_err(|why| {
            format!("{why}; {version} validates them before every sync and fails the sync: correct or remove them, then migrate")
        })
    })?;
    Ok(held)
}

/// For a data source whose old version has no advanced rules (it neither validated nor
/// applied them: `advanced_rules_validators()` is empty and `get_docs` ignores them) and whose
/// new version has: rules `check` accepts are kept, and the plan says they now select what
/// syncs; others are refused (see [`require_advanced_rules`]).
pub fn adopt_advanced_rules(
    out: &mut ConnectorOutcome,
    version: &str,
    check: super::advanced_rules::Check,
) -> Result<()> {
    let kept = require_advanced_rules(out, version, check)?;
    if !kept.is_empty() {
        out.note(format!(
            "advanced sync rules ({}) kept as they are: before {version} this data source ignored them; {version} validates them before each sync and syncs only what they select",
            places_text(&kept)
        ));
    }
    Ok(())
}

/// Asks the operator to review the basic rules `affected` picks, one action per filter:
/// rules on fields the new version builds differently still validate (basic rules are checked
/// against their own schema only) but match other documents. `reason` says what changed.
pub fn review_basic_rules(
    out: &mut ConnectorOutcome,
    affected: impl Fn(&Map<String, Value>) -> bool,
    reason: &str,
) {
    let mut by_place: Vec<(Place, Vec<String>)> = Vec::new();
    for (place, rule) in custom_basic_rules(&out.document) {
        if !affected(rule) {
            continue;
        }
        let text = describe_rule(rule);
        match by_place.iter_mut().find(|(p, _)| *p == place) {
            Some((_, rules)) => rules.push(text),
            None => by_place.push((place, vec![text])),
        }
    }
    for (place, rules) in by_place {
        out.action(Action::ReviewField {
            pointer: format!("{}/rules", place.pointer()),
            reason: format!("{reason}: check {}", rules.join(", ")),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elastic::Connector;
    use serde_json::json;

    fn filter(advanced: Value, rules: Value) -> Value {
        json!({"advanced_snippet": {"created_at": "2023-05-02T09:12:44.113Z", "value": advanced}, "rules": rules,
               "validation": {"errors": [], "state": "valid"}})
    }

    fn default_rule() -> Value {
        json!({"id": "DEFAULT", "field": "_", "policy": "include", "rule": "regex", "value": ".*", "order": 0})
    }

    fn outcome(filtering: Value) -> ConnectorOutcome {
        let doc = json!({"service_type": "mysql", "configuration": {}, "filtering": filtering});
        Connector::parse("c1".into(), "8.7.0".into(), &doc.to_string())
            .unwrap()
            .into_outcome()
    }

    #[test]
    fn finds_advanced_rules_where_the_service_would_read_them() {
        let out = outcome(json!([
            {"domain": "DEFAULT", "active": filter(json!({"crm": {"t": "q"}}), json!([default_rule()])),
             "draft": filter(json!({}), json!([]))},
            {"domain": "other", "active": filter(json!([]), json!([])), "draft": filter(Value::Null, json!([]))}
        ]));
        let found = advanced_rules(&out.document);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0.pointer(), "/filtering/0/active");
        assert_eq!(found[0].0.to_string(), "active");
        for empty in [json!({}), json!([]), json!(""), Value::Null] {
            assert!(!has_advanced_rules(&empty), "{empty}");
        }
        assert!(advanced_rules(&outcome(json!("not a list")).document).is_empty());
    }

    #[test]
    fn custom_basic_rules_leave_out_the_default_rule() {
        let mine = json!({"id": "r1", "field": "email", "policy": "exclude", "rule": "equals", "value": "x", "order": 0});
        let out = outcome(
            json!([{"domain": "crm", "active": filter(json!({}), json!([mine, default_rule()])),
                                   "draft": filter(json!({}), json!([default_rule()]))}]),
        );
        let found = custom_basic_rules(&out.document);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0.to_string(), "active (crm domain)");
        assert_eq!(rule_field(found[0].1), "email");
        assert_eq!(
            describe_rule(found[0].1),
            "rule r1 (exclude email equals \"x\")"
        );
    }

    #[test]
    fn rewrites_all_or_refuses_naming_every_rule_it_cannot() {
        let rules = json!([{"domain": "DEFAULT", "active": filter(json!({"a": 1}), json!([])),
                            "draft": filter(json!({"b": 2}), json!([]))}]);
        let mut out = outcome(rules.clone());
        let places = out
            .rewrite_advanced_rules("8.8", |v| Ok(Some(json!([v.clone()]))))
            .unwrap();
        assert_eq!(places_text(&places), "active and draft");
        assert_eq!(
            out.document["filtering"][0]["draft"]["advanced_snippet"],
            json!({"created_at": "2023-05-02T09:12:44.113Z", "value": [{"b": 2}]})
        );

        let mut out = outcome(rules);
        let before = out.document.clone();
        let err = out
            .rewrite_advanced_rules("8.8", |v| {
                if v.get("a").is_some() {
                    Ok(Some(json!([])))
                } else {
                    Err("b is unknown".into())
                }
            })
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("connector c1 (mysql)") && err.contains("draft sync rules: b is unknown"),
            "{err}"
        );
        assert_eq!(out.document, before, "nothing changed");
    }

    #[test]
    fn adopts_rules_the_new_version_accepts_and_refuses_the_others() {
        let rules = |v: Value| json!([{"domain": "DEFAULT", "active": filter(v.clone(), json!([])), "draft": filter(v, json!([]))}]);
        let check = crate::elastic::advanced_rules::sharepoint_online_8_9;
        let mut out = outcome(rules(json!({"skipExtractingDriveItemsOlderThan": 3})));
        let before = out.document.clone();
        adopt_advanced_rules(&mut out, "8.9", check).unwrap();
        assert_eq!(out.document, before);
        assert!(
            out.notes[0].contains("(active and draft) kept"),
            "{:?}",
            out.notes
        );

        let mut out = outcome(rules(json!({"skipExtractingDriveItemsOlderThan": "3"})));
        let err = adopt_advanced_rules(&mut out, "8.9", check)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "active and draft sync rules: skipExtractingDriveItemsOlderThan is not a whole number"
            ) && err.contains("draft sync rules")
                && err.contains("8.9 validates them before every sync"),
            "{err}"
        );

        let mut out = outcome(rules(json!({})));
        adopt_advanced_rules(&mut out, "8.9", check).unwrap();
        assert!(out.notes.is_empty(), "no rules, nothing to say");
    }

    #[test]
    fn basic_rules_to_review_are_one_action_per_filter() {
        let a = json!({"id": "a", "field": "html_url", "policy": "exclude", "rule": "contains", "value": "x"});
        let b = json!({"id": "b", "field": "title", "policy": "include", "rule": "contains", "value": "y"});
        let mut out = outcome(
            json!([{"domain": "DEFAULT", "active": filter(json!({}), json!([a, b, default_rule()])),
                                      "draft": filter(json!({}), json!([default_rule()]))}]),
        );
        review_basic_rules(&mut out, |r| rule_field(r) != "title", "fields renamed");
        assert_eq!(
            out.actions,
            vec![Action::ReviewField {
                pointer: "/filtering/0/active/rules".into(),
                reason: "fields renamed: check rule a (exclude html_url contains \"x\")".into()
            }]
        );
    }
}
