//! Typed helpers over a connector's `configuration` map (`{<key>: {value, type, label, …}}`),
//! each keeping the operator's value and taking every other property of a field from the
//! new version's defaults, as the connectors service would have written them.
//!
//! Secrets stay secret: a field the defaults mark `sensitive` is never quoted in an error
//! or note.

use super::defaults::{Defaults, FieldType};
use crate::{Error, Result};
use serde_json::{Map, Value};

/// A connector's configuration.
pub type Configuration = Map<String, Value>;

/// Whether a value counts as unset: null, "" or [].
pub fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The value of field `key`, if the field is there.
pub fn value<'a>(config: &'a Configuration, key: &str) -> Option<&'a Value> {
    config.get(key).and_then(|f| f.get("value"))
}

/// A value as messages may show it: `(secret)` for a sensitive field.
fn shown(value: &Value, sensitive: bool) -> String {
    if sensitive {
        "(secret)".into()
    } else {
        value.to_string()
    }
}

fn is_sensitive(config: &Configuration, key: &str, new: &Defaults) -> bool {
    new.is_sensitive(key)
        || config
            .get(key)
            .and_then(|f| f.get("sensitive"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
}

/// Field `key` as the new version defines it, holding `value` converted to its type.
fn new_field(key: &str, value: &Value, sensitive: bool, new: &Defaults) -> Result<Value> {
    let Some(default) = new.field(key) else {
        return Err(Error::UnsupportedShape(format!(
            "{key} is not a configuration field of {}",
            new.label()
        )));
    };
    let ty = FieldType::of(default)
        .map_err(|e| Error::UnsupportedShape(format!("{} field {key}: {e}", new.label())))?;
    let converted = ty.convert(value).map_err(|e| {
        let e = if sensitive {
            format!("its value is not a {}", ty.as_str())
        } else {
            e
        };
        Error::NeedsOperator(format!(
            "configuration field {key} of {}: {e}; set it by hand",
            new.label()
        ))
    })?;
    let mut field = default.clone();
    field["value"] = converted;
    Ok(field)
}

/// Puts `field` at `key`, refusing to overwrite a different value the operator set there.
fn put(
    config: &mut Configuration,
    key: &str,
    field: Value,
    sensitive: bool,
    from: &str,
) -> Result<()> {
    if let Some(existing) = value(config, key)
        && !is_empty(existing)
        && *existing != field["value"]
    {
        return Err(Error::NeedsOperator(format!(
            "configuration has both {from} and {key}, with different values ({} and {}); keep one and retry",
            shown(&field["value"], sensitive),
            shown(existing, sensitive)
        )));
    }
    config.insert(key.to_owned(), field);
    Ok(())
}

/// Renames field `from` to `to`, keeping its value (converted to `to`'s type in `new`).
/// Returns whether there was a field to rename.
pub fn rename(config: &mut Configuration, from: &str, to: &str, new: &Defaults) -> Result<bool> {
    let Some(old) = value(config, from).cloned() else {
        return Ok(false);
    };
    let sensitive = is_sensitive(config, from, new) || new.is_sensitive(to);
    let field = new_field(to, &old, sensitive, new)?;
    config.shift_remove(from);
    put(config, to, field, sensitive, from)?;
    Ok(true)
}

/// Replaces boolean field `from` by `to`, which means its opposite (`ssl_disabled` →
/// `ssl_enabled`): the value is read as the service reads it (`"true"`, `"yes"`, …) and
/// negated. An empty value takes `to`'s default. Returns whether there was a field.
pub fn invert(config: &mut Configuration, from: &str, to: &str, new: &Defaults) -> Result<bool> {
    let Some(old) = value(config, from).cloned() else {
        return Ok(false);
    };
    config.shift_remove(from);
    let Some(default) = new.field(to) else {
        return Err(Error::UnsupportedShape(format!(
            "{to} is not a configuration field of {}",
            new.label()
        )));
    };
    if is_empty(&old) {
        config.insert(to.to_owned(), default.clone());
        return Ok(true);
    }
    let negated = match FieldType::Bool.convert(&old) {
        Ok(Value::Bool(b)) => Value::Bool(!b),
        _ => {
            return Err(Error::InvalidInput(format!(
                "configuration field {from} must be a boolean, found {old}"
            )));
        }
    };
    let field = new_field(to, &negated, false, new)?;
    put(config, to, field, false, from)?;
    Ok(true)
}

/// Gives field `key` the type `new` defines for it instead of the one it had (its own
/// `type`, or `old`'s), converting its value as the old type read it: text in an old `list`
/// field is a comma-separated list. A list of one item becomes that item; a list of several,
/// for a field that now takes one value, needs the operator. Returns whether the field was
/// there.
pub fn retype(
    config: &mut Configuration,
    key: &str,
    old: &Defaults,
    new: &Defaults,
) -> Result<bool> {
    let Some(value) = value(config, key).cloned() else {
        return Ok(false);
    };
    let old_type = match config[key].get("type") {
        Some(_) => FieldType::of(&config[key]).ok(),
        None => old.field_type(key),
    };
    let sensitive = is_sensitive(config, key, new);
    let as_old = match old_type {
        Some(ty) => ty.convert(&value).map_err(|e| {
            Error::InvalidInput(format!(
                "configuration field {key} of {}: {}",
                old.label(),
                if sensitive {
                    "its value is not of its type".into()
                } else {
                    e
                }
            ))
        })?,
        None => value,
    };
    let field = new_field(key, &as_old, sensitive, new)?;
    config.insert(key.to_owned(), field);
    Ok(true)
}

/// Removes field `key`, returning its value.
pub fn remove(config: &mut Configuration, key: &str) -> Option<Value> {
    config
        .shift_remove(key)
        .map(|f| f.get("value").cloned().unwrap_or(Value::Null))
}

/// Sets field `key` to `value`, the field as `new` defines it.
pub fn set(config: &mut Configuration, key: &str, value: Value, new: &Defaults) -> Result<()> {
    let sensitive = is_sensitive(config, key, new);
    let field = new_field(key, &value, sensitive, new)?;
    config.insert(key.to_owned(), field);
    Ok(())
}

/// Makes `config` hold exactly `new`'s fields, in `new`'s order: a field that is there
/// keeps its value (converted to the new type) and takes every other property from the
/// defaults; a missing field is added with its default (its `value` and `default_value`,
/// from `get_default_configuration()`). A field `new` does not define is refused if it holds
/// a value (it would be lost: rename or remove it first) and dropped if empty. Returns a
/// note per field added or dropped.
pub fn conform(config: &mut Configuration, new: &Defaults) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    for (key, field) in config.iter() {
        if new.field(key).is_none() {
            let v = field.get("value").unwrap_or(&Value::Null);
            if !is_empty(v) {
                return Err(Error::UnsupportedShape(format!(
                    "configuration field {key} is not a field of {} and holds a value that would be lost; the migration must rename or remove it",
                    new.label()
                )));
            }
            notes.push(format!(
                "dropped the empty configuration field {key}, which {} does not have",
                new.label()
            ));
        }
    }
    let mut next = Configuration::new();
    for (key, default) in &new.fields {
        let field = match config.get(key).and_then(|f| f.get("value")) {
            // A field whose type did not change keeps its value as written (a list as text
            // stays text); one without a type of its own (8.7) or of another type is converted.
            Some(v) if kept_as_is(&config[key], default, v) => {
                let mut field = default.clone();
                field["value"] = v.clone();
                field
            }
            Some(v) => new_field(key, v, is_sensitive(config, key, new), new)?,
            None => {
                let v = default.get("value").unwrap_or(&Value::Null);
                notes.push(format!(
                    "added configuration field {key} with its {} default {}",
                    new.version,
                    shown(v, new.is_sensitive(key))
                ));
                default.clone()
            }
        };
        next.insert(key.clone(), field);
    }
    *config = next;
    Ok(notes)
}

/// Whether a field's value can stay as written under `default`: the field declares the same
/// type and the value is one that type takes.
fn kept_as_is(field: &Value, default: &Value, value: &Value) -> bool {
    match (field.get("type"), FieldType::of(default)) {
        (Some(_), Ok(new_type)) => {
            FieldType::of(field).ok() == Some(new_type) && new_type.accepts(value)
        }
        _ => false,
    }
}

/// Checks that every field's value is of the field's type: its own `type` property, or
/// `defaults`' where the document has none (8.7 documents keep only `label` and `value`).
/// The error names the field.
pub fn check_types(config: &Configuration, defaults: Option<&Defaults>) -> Result<()> {
    for (key, field) in config {
        let Value::Object(props) = field else {
            return Err(Error::InvalidInput(format!(
                "configuration field {key} must be an object ({{\"value\": …, \"type\": …}})"
            )));
        };
        let ty = match props.get("type") {
            Some(_) => FieldType::of(field)
                .map_err(|e| Error::InvalidInput(format!("configuration field {key}: {e}")))?,
            None => match defaults.and_then(|d| d.field_type(key)) {
                Some(ty) => ty,
                None => continue,
            },
        };
        let v = props.get("value").unwrap_or(&Value::Null);
        if !ty.accepts(v) {
            let sensitive = props
                .get("sensitive")
                .and_then(Value::as_bool)
                .unwrap_or(false)
                || defaults.is_some_and(|d| d.is_sensitive(key));
            return Err(Error::InvalidInput(format!(
                "configuration field {key} is a {} field but holds {}",
                ty.as_str(),
                if sensitive {
                    "a value of another type".to_owned()
                } else {
                    v.to_string()
                }
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v88() -> Defaults {
        Defaults::parse(
            "mysql",
            "8.8.0",
            &json!({
                "database": {"label": "Database", "order": 5, "type": "str", "value": "customerinfo"},
                "tables": {"label": "Comma-separated list of tables", "order": 6, "type": "list", "value": "*"},
                "ssl_enabled": {"display": "toggle", "label": "Enable SSL", "order": 7, "type": "bool", "value": false},
                "password": {"label": "Password", "sensitive": true, "type": "str", "value": "changeme"},
                "port": {"label": "Port", "type": "int", "value": 3306},
            })
            .to_string(),
        )
        .unwrap()
    }

    fn config(v: Value) -> Configuration {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn renames_keeping_the_value_and_taking_the_new_properties() {
        let mut c = config(json!({"db": {"label": "Old", "value": "shop"}}));
        assert!(rename(&mut c, "db", "database", &v88()).unwrap());
        assert_eq!(
            c["database"],
            json!({"label": "Database", "order": 5, "type": "str", "value": "shop"})
        );
        assert!(!c.contains_key("db"));
        assert!(
            !rename(&mut c, "db", "database", &v88()).unwrap(),
            "nothing left to rename"
        );
        let mut both = config(json!({"db": {"value": "a"}, "database": {"value": "b"}}));
        assert!(matches!(
            rename(&mut both, "db", "database", &v88()),
            Err(Error::NeedsOperator(_))
        ));
        assert!(matches!(
            rename(
                &mut config(json!({"db": {"value": "a"}})),
                "db",
                "nope",
                &v88()
            ),
            Err(Error::UnsupportedShape(_))
        ));
    }

    #[test]
    fn inverts_booleans_as_the_service_reads_them() {
        for (old, new) in [
            (json!("true"), false),
            (json!("false"), true),
            (json!(true), false),
            (json!("no"), true),
        ] {
            let mut c = config(json!({"ssl_disabled": {"label": "Disable SSL", "value": old}}));
            assert!(invert(&mut c, "ssl_disabled", "ssl_enabled", &v88()).unwrap());
            assert_eq!(c["ssl_enabled"]["value"], json!(new));
            assert_eq!(c["ssl_enabled"]["display"], "toggle");
        }
        let mut empty = config(json!({"ssl_disabled": {"value": ""}}));
        invert(&mut empty, "ssl_disabled", "ssl_enabled", &v88()).unwrap();
        assert_eq!(
            empty["ssl_enabled"]["value"],
            json!(false),
            "an unset value takes the new default"
        );
        let mut bad = config(json!({"ssl_disabled": {"value": "sometimes"}}));
        assert!(
            matches!(invert(&mut bad, "ssl_disabled", "ssl_enabled", &v88()), Err(Error::InvalidInput(m)) if m.contains("ssl_disabled"))
        );
    }

    fn v87() -> Defaults {
        Defaults::parse(
            "mysql",
            "8.7.0",
            &json!({"database": {"label": "Databases", "type": "list", "value": "customerinfo"}})
                .to_string(),
        )
        .unwrap()
    }

    #[test]
    fn retypes_one_item_lists_and_refuses_to_pick_among_several() {
        let mut one = config(json!({"database": {"type": "list", "value": ["shop"]}}));
        assert!(retype(&mut one, "database", &v87(), &v88()).unwrap());
        assert_eq!(one["database"]["value"], "shop");
        assert_eq!(one["database"]["type"], "str");
        let mut text = config(json!({"port": {"value": "3307"}}));
        retype(&mut text, "port", &v87(), &v88()).unwrap();
        assert_eq!(text["port"]["value"], 3307);
        let mut several = config(json!({"database": {"value": ["a", "b"]}}));
        let err = retype(&mut several, "database", &v87(), &v88()).unwrap_err();
        assert!(
            matches!(&err, Error::NeedsOperator(m) if m.contains("database") && m.contains("several")),
            "{err}"
        );
        // Text in a field the old version typed `list` is a comma-separated list.
        let mut listed = config(json!({"database": {"label": "Databases", "value": "a, b"}}));
        assert!(matches!(
            retype(&mut listed, "database", &v87(), &v88()),
            Err(Error::NeedsOperator(_))
        ));
        let mut single = config(json!({"database": {"label": "Databases", "value": "shop"}}));
        retype(&mut single, "database", &v87(), &v88()).unwrap();
        assert_eq!(single["database"]["value"], "shop");
    }

    #[test]
    fn conform_gives_exactly_the_new_fields_and_loses_no_value() {
        let mut c = config(
            json!({"port": {"label": "Port", "value": "3307"}, "password": {"value": "hunter2"}, "old_empty": {"value": ""}}),
        );
        let notes = conform(&mut c, &v88()).unwrap();
        assert_eq!(
            c.keys().collect::<Vec<_>>(),
            vec!["database", "tables", "ssl_enabled", "password", "port"]
        );
        assert_eq!(c["port"]["value"], 3307);
        assert_eq!(c["password"]["value"], "hunter2");
        assert_eq!(c["tables"]["value"], "*");
        // A field of an unchanged type keeps its value as written.
        let mut typed = config(json!({"port": {"type": "int", "value": "3308"}}));
        conform(&mut typed, &v88()).unwrap();
        assert_eq!(typed["port"]["value"], "3308");
        assert!(
            notes
                .iter()
                .any(|n| n.contains("dropped the empty configuration field old_empty"))
        );
        assert!(
            notes
                .iter()
                .any(|n| n.contains("added configuration field tables"))
        );
        let mut lost = config(json!({"legacy": {"value": "something"}}));
        assert!(
            matches!(conform(&mut lost, &v88()), Err(Error::UnsupportedShape(m)) if m.contains("legacy"))
        );
    }

    #[test]
    fn secrets_are_never_quoted() {
        let mut c = config(json!({"pass": {"value": "hunter2"}, "password": {"value": "other"}}));
        let err = rename(&mut c, "pass", "password", &v88())
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2") && !err.contains("other"), "{err}");
        let wrong =
            config(json!({"password": {"type": "str", "sensitive": true, "value": ["hunter2"]}}));
        let err = check_types(&wrong, None).unwrap_err().to_string();
        assert!(
            err.contains("password") && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[test]
    fn checks_types_from_the_field_or_the_defaults() {
        assert!(
            check_types(
                &config(json!({"port": {"type": "int", "value": 3306}})),
                None
            )
            .is_ok()
        );
        let err = check_types(
            &config(json!({"port": {"type": "int", "value": "abc"}})),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("port") && err.contains("int"), "{err}");
        // Without a type of its own, the version's defaults say.
        assert!(check_types(&config(json!({"port": {"value": "x"}})), Some(&v88())).is_err());
        assert!(check_types(&config(json!({"port": {"value": "x"}})), None).is_ok());
        assert!(check_types(&config(json!({"port": 3306})), None).is_err());
    }
}
