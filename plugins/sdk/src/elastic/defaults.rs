//! A version's default configuration of one data source: what `get_default_configuration()`
//! returns in that version of elastic/connectors, as the service writes it into a new
//! connector (`tests/fixtures/elastic/<version>/<service type>.json`, which plugins embed).

use crate::{Error, Result};
use serde_json::{Map, Value};

/// The type of a configuration field (`type` in the field's object).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// A string (`str`, also when `type` is absent).
    Str,
    /// An integer (`int`).
    Int,
    /// A boolean (`bool`).
    Bool,
    /// A list of strings (`list`).
    List,
}

impl FieldType {
    /// Reads a field's `type` property; absent means `str`, as in the framework.
    pub fn of(field: &Value) -> Result<Self, String> {
        match field.get("type") {
            None | Some(Value::Null) => Ok(Self::Str),
            Some(Value::String(t)) => Self::parse(t)
                .ok_or_else(|| format!("type {t:?} is not one of str, int, bool, list")),
            Some(other) => Err(format!("type {other} is not a string")),
        }
    }

    /// The type named `name` (`str`, `int`, `bool` or `list`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "str" => Some(Self::Str),
            "int" => Some(Self::Int),
            "bool" => Some(Self::Bool),
            "list" => Some(Self::List),
            _ => None,
        }
    }

    /// The type's name, as a field's `type` holds it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Str => "str",
            Self::Int => "int",
            Self::Bool => "bool",
            Self::List => "list",
        }
    }

    /// Converts `value` to this type the way the connectors service reads a configuration
    /// value (`Field._convert`: text becomes a number, a boolean `y/yes/true/1`, or a
    /// comma-separated list), or says why it cannot without losing something. An empty
    /// value (null or "") stays empty.
    pub fn convert(self, value: &Value) -> Result<Value, String> {
        match (self, value) {
            (_, Value::Null) => Ok(Value::Null),
            (_, Value::String(s)) if s.is_empty() => Ok(value.clone()),
            (Self::Str, Value::String(_))
            | (Self::Int, Value::Number(_))
            | (Self::Bool, Value::Bool(_)) => Ok(value.clone()),
            (Self::Str, Value::Number(n)) => Ok(Value::String(n.to_string())),
            (Self::Str, Value::Array(items)) => match items.as_slice() {
                [] => Ok(Value::String(String::new())),
                [Value::String(one)] => Ok(Value::String(one.clone())),
                _ => Err(format!(
                    "{value} holds several values and the field now takes one"
                )),
            },
            (Self::Int, Value::String(s)) => match s.trim().parse::<i64>() {
                Ok(n) => Ok(Value::from(n)),
                Err(_) => Err(format!("{value} is not an integer")),
            },
            (Self::Bool, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "y" | "yes" | "true" | "1" | "on" => Ok(Value::Bool(true)),
                "n" | "no" | "false" | "0" | "off" => Ok(Value::Bool(false)),
                _ => Err(format!("{value} is not a boolean")),
            },
            (Self::List, Value::Array(items)) if items.iter().all(Value::is_string) => {
                Ok(value.clone())
            }
            (Self::List, Value::String(s)) => Ok(Value::Array(
                s.split(',')
                    .map(|item| Value::String(item.trim().to_owned()))
                    .collect(),
            )),
            (Self::List, Value::Number(n)) => Ok(Value::Array(vec![Value::String(n.to_string())])),
            _ => Err(format!("{value} is not a {}", self.as_str())),
        }
    }

    /// Whether a document may hold `value` in a field of this type: what the connectors
    /// service reads as this type without a choice to make (text for `str`; a number or
    /// numeric text for `int`; a boolean or boolean text for `bool`; a list of text, or
    /// comma-separated text, for `list`), or an empty value.
    pub fn accepts(self, value: &Value) -> bool {
        match (self, value) {
            (_, Value::Null) => true,
            (Self::Str, v) => v.is_string(),
            (Self::Int, Value::Number(n)) => n.is_i64() || n.is_u64(),
            (Self::Int | Self::Bool | Self::List, Value::String(_)) => self.convert(value).is_ok(),
            (Self::Bool, v) => v.is_boolean(),
            (Self::List, Value::Array(items)) => items.iter().all(Value::is_string),
            _ => false,
        }
    }
}

/// One version's default configuration of one data source.
#[derive(Clone, Debug, PartialEq)]
pub struct Defaults {
    /// The data source, such as `sharepoint_online`.
    pub service_type: String,
    /// The connectors service version.
    pub version: String,
    /// Each configuration field's default object, by key.
    pub fields: Map<String, Value>,
}

impl Defaults {
    /// Reads a default configuration (`{<key>: {value, type, label, …}}`) as JSON text.
    pub fn parse(service_type: &str, version: &str, json: &str) -> Result<Self> {
        let fields = match serde_json::from_str(json) {
            Ok(Value::Object(fields)) => fields,
            _ => {
                return Err(Error::UnsupportedShape(format!(
                    "the default configuration of {service_type} {version} is not a JSON object"
                )));
            }
        };
        Ok(Self {
            service_type: service_type.into(),
            version: version.into(),
            fields,
        })
    }

    /// The default field object of `key`.
    pub fn field(&self, key: &str) -> Option<&Value> {
        self.fields.get(key)
    }

    /// The type of `key` in this version.
    pub fn field_type(&self, key: &str) -> Option<FieldType> {
        self.fields.get(key).and_then(|f| FieldType::of(f).ok())
    }

    /// Whether `key` holds a secret in this version (its values are never shown).
    pub fn is_sensitive(&self, key: &str) -> bool {
        self.fields
            .get(key)
            .and_then(|f| f.get("sensitive"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// `mysql 8.8.0`, for messages.
    pub fn label(&self) -> String {
        format!("{} {}", self.service_type, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn converts_as_the_connectors_service_reads_values() {
        assert_eq!(FieldType::Int.convert(&json!("3306")), Ok(json!(3306)));
        assert_eq!(FieldType::Bool.convert(&json!("true")), Ok(json!(true)));
        assert_eq!(FieldType::Bool.convert(&json!("False")), Ok(json!(false)));
        assert_eq!(
            FieldType::List.convert(&json!("a, b")),
            Ok(json!(["a", "b"]))
        );
        assert_eq!(FieldType::Str.convert(&json!(["only"])), Ok(json!("only")));
        assert_eq!(FieldType::Str.convert(&json!([])), Ok(json!("")));
        assert_eq!(FieldType::Int.convert(&json!("")), Ok(json!("")));
        assert!(
            FieldType::Str
                .convert(&json!(["a", "b"]))
                .unwrap_err()
                .contains("several values")
        );
        assert!(
            FieldType::Int
                .convert(&json!("abc"))
                .unwrap_err()
                .contains("not an integer")
        );
        assert!(FieldType::Bool.convert(&json!("maybe")).is_err());
        assert!(FieldType::List.convert(&json!({"a": 1})).is_err());
        assert!(!FieldType::Int.accepts(&json!([1])));
        assert!(
            !FieldType::Str.accepts(&json!(["one"])),
            "a document's str field holds text"
        );
        assert!(
            FieldType::Int.accepts(&json!("3306"))
                && FieldType::Bool.accepts(&json!("true"))
                && FieldType::List.accepts(&json!("a,b"))
        );
    }

    #[test]
    fn reads_a_default_configuration() {
        let d = Defaults::parse(
            "mysql",
            "8.8.0",
            r#"{"port": {"type": "int", "value": 3306}, "password": {"sensitive": true}}"#,
        )
        .unwrap();
        assert_eq!(d.field_type("port"), Some(FieldType::Int));
        assert_eq!(d.field_type("password"), Some(FieldType::Str));
        assert!(d.is_sensitive("password") && !d.is_sensitive("port"));
        assert!(Defaults::parse("mysql", "8.8.0", "[]").is_err());
    }
}
