//! MySQL sync rules, 8.7 → 8.8 (`connectors/sources/mysql.py` of both branches).

use cutover_plugin::elastic::ConnectorOutcome;
use cutover_plugin::elastic::advanced_rules::{self, kind};
use cutover_plugin::elastic::filtering::{
    self, Place, custom_basic_rules, describe_rule, places_text, rule_field,
};
use cutover_plugin::{Result, Value, json};

/// The fields 8.7 and 8.8 documents both have with the same meaning: the table's name and
/// its last update time. (`_` is the default rule's field, which matches everything.)
const SAME_FIELDS: &[&str] = &["Table", "_timestamp", "_"];

/// Rewrites the advanced rules of every filter into 8.8's shape, noting it, and refuses basic
/// rules whose field 8.8 names differently; run once the configuration holds 8.8's one
/// `database`.
pub fn migrate(out: &mut ConnectorOutcome) -> Result<()> {
    let database = out.configuration()["database"]["value"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    check_basic_rules(out, &database)?;
    let before: Vec<(Place, Value)> = filtering::advanced_rules(&out.document)
        .into_iter()
        .map(|(p, v)| (p, v.clone()))
        .collect();
    let places = out.rewrite_advanced_rules("8.8", |value| rewrite(&database, value))?;
    if places.is_empty() {
        return Ok(());
    }
    // One note per distinct set of rules, naming where it was (active and draft together
    // when they held the same rules).
    let mut groups: Vec<(&Value, Vec<Place>)> = Vec::new();
    for place in places {
        let old = &before.iter().find(|(p, _)| *p == place).expect("seen").1;
        match groups.iter_mut().find(|(v, _)| *v == old) {
            Some((_, ps)) => ps.push(place),
            None => groups.push((old, vec![place])),
        }
    }
    for (old, places) in groups {
        let tables = old[&database]
            .as_object()
            .expect("rewritten from 8.7's shape");
        let names: Vec<&str> = tables.keys().map(String::as_str).collect();
        let filled = tables.iter().any(|(table, query)| {
            let query = query.as_str().unwrap_or("");
            fill(query, &database, table).is_ok_and(|ran| ran != query)
        });
        out.note(format!(
            "advanced sync rules ({}) rewritten into 8.8's list: one query per table of {database} ({}){}",
            places_text(&places),
            names.join(", "),
            if filled {
                "; the queries as 8.7 ran them, {database}, {table} and {{ }} filled in"
            } else {
                ""
            }
        ));
    }
    Ok(())
}

/// 8.7's `{database: {table: query}}` as 8.8's `[{"tables": [table], "query": query}]`, one
/// entry per table in the order 8.7 held them; `None` for rules already in 8.8's shape; or
/// why they cannot be carried: a database the connector does not keep (8.8 syncs only
/// `database`), a database naming no table (8.7 synced nothing of it, 8.8 would sync every
/// table), a query 8.7 could not have run.
fn rewrite(database: &str, value: &Value) -> std::result::Result<Option<Value>, String> {
    if advanced_rules::mysql_8_8(value).is_ok() {
        return Ok(None);
    }
    let Value::Object(databases) = value else {
        return Err(format!(
            "they are neither 8.7's {{database: {{table: query}}}} nor 8.8's list of {{tables, query}}: {}",
            kind(value)
        ));
    };
    let others: Vec<&str> = databases
        .keys()
        .map(String::as_str)
        .filter(|d| *d != database)
        .collect();
    if !others.is_empty() {
        return Err(format!(
            "they select rows of database {}, which the connector does not sync (8.8 syncs its one database, {database}): remove those rules, or create a connector for that database, then migrate",
            others.join(", ")
        ));
    }
    let tables = match &databases[database] {
        Value::Object(tables) if !tables.is_empty() => tables,
        Value::Object(_) => {
            return Err(format!(
                "they name database {database} without a table, so 8.7 synced none of its rows; 8.8 would read no rules and sync every table: remove them or name the tables"
            ));
        }
        other => {
            return Err(format!(
                "database {database} holds {}, not {{table: query}}",
                kind(other)
            ));
        }
    };
    let mut list = Vec::new();
    for (table, query) in tables {
        let Some(query) = query.as_str() else {
            return Err(format!(
                "the query of table {table} is {}, not text",
                kind(query)
            ));
        };
        let query = fill(query, database, table)
            .map_err(|why| format!("the query of table {table} {why}"))?;
        if query.trim().is_empty() {
            return Err(format!(
                "the query of table {table} is empty (8.8 needs a query)"
            ));
        }
        list.push(json!({"tables": [table], "query": query}));
    }
    Ok(Some(Value::Array(list)))
}

/// A query as 8.7 ran it: `query.format(database=…, table=…)` (`MySqlDataSource._connect`),
/// so `{database}` and `{table}` are replaced and `{{`, `}}` stand for braces. 8.8 runs the
/// query as it is. Any other replacement field made 8.7 fail (`KeyError`, `ValueError`).
fn fill(query: &str, database: &str, table: &str) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(query.len());
    let mut chars = query.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => return Err(
                            "has a '{' without its '}', which 8.7 could not run (write it '{{')"
                                .into(),
                        ),
                    }
                }
                match name.as_str() {
                    "database" => out.push_str(database),
                    "table" => out.push_str(table),
                    other => {
                        return Err(format!(
                            "holds {{{other}}}, which 8.7 could not fill in (it fills in only {{database}} and {{table}})"
                        ));
                    }
                }
            }
            '}' => {
                return Err(
                    "has a '}' without its '{', which 8.7 could not run (write it '}}')".into(),
                );
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Refuses basic rules on a field 8.8 names differently (see the crate's documentation).
fn check_basic_rules(out: &ConnectorOutcome, database: &str) -> Result<()> {
    let problems: Vec<(Place, String)> = custom_basic_rules(&out.document)
        .into_iter()
        .filter(|(_, rule)| !SAME_FIELDS.contains(&rule_field(rule)))
        .map(|(place, rule)| {
            let field = rule_field(rule);
            let why = if field == "Database" || field == "_id" {
                format!("8.8 documents have no Database field and an _id of <table>_<keys> (8.7: {database}_<table>_<keys>)")
            } else if field.starts_with(&format!("{database}_")) {
                format!("8.7 named this field {database}_<table>_<column>; 8.8 names it by the column alone, without its table, so the rule would match that column in every table")
            } else {
                format!("8.7 documents had no field {field:?} (only {database}_<table>_<column>, Database, Table, _id and _timestamp), so the rule matched nothing; 8.8 names fields by column and would match a column {field:?}")
            };
            (place, format!("{} — {why}; remove the rule before migrating and write it again for 8.8's field names after", describe_rule(rule)))
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(filtering::refusal(out, "8.8", &problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_in_what_8_7_filled_in() {
        assert_eq!(
            fill(
                "SELECT * FROM {database}.{table} WHERE a = '{{x}}'",
                "crm",
                "t"
            )
            .unwrap(),
            "SELECT * FROM crm.t WHERE a = '{x}'"
        );
        assert!(
            fill("SELECT {id}", "crm", "t")
                .unwrap_err()
                .contains("{id}")
        );
        assert!(fill("SELECT '{'", "crm", "t").is_err());
        assert!(fill("SELECT '}'", "crm", "t").is_err());
    }

    #[test]
    fn rewrites_one_entry_per_table_in_order_and_keeps_8_8_lists() {
        let old = json!({"crm": {"orders": "SELECT * FROM orders WHERE total > 10", "customers": "SELECT id, name FROM {table}"}});
        let new = rewrite("crm", &old).unwrap().unwrap();
        assert_eq!(
            new,
            json!([{"tables": ["orders"], "query": "SELECT * FROM orders WHERE total > 10"},
                   {"tables": ["customers"], "query": "SELECT id, name FROM customers"}])
        );
        assert!(advanced_rules::mysql_8_8(&new).is_ok());
        assert_eq!(rewrite("crm", &new).unwrap(), None, "already 8.8's");
    }

    #[test]
    fn refuses_what_it_cannot_carry() {
        for (value, want) in [
            (
                json!({"crm": {"a": "q"}, "billing": {"b": "q"}}),
                "database billing",
            ),
            (json!({"crm": {}}), "without a table"),
            (json!({"crm": {"a": ""}}), "is empty"),
            (json!({"crm": {"a": 3}}), "a number, not text"),
            (json!({"crm": ["q"]}), "a list, not {table: query}"),
            (json!([{"tables": [], "query": "q"}]), "neither"),
        ] {
            let err = rewrite("crm", &value).unwrap_err();
            assert!(err.contains(want), "{value}: {err}");
        }
    }
}
