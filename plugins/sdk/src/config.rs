//! Helpers over a source config, addressed by RFC 6901 JSON Pointers (`/credentials/client_id`).

use crate::{Error, Result};
use serde_json::{Map, Value};

/// Moves the value at `from` to `to`, creating the objects on the way. Returns whether
/// there was anything to move. Refuses (and changes nothing) when `to` is already set to
/// something else, since only the operator can say which value wins.
pub fn move_field(config: &mut Value, from: &str, to: &str) -> Result<bool> {
    let Some(value) = config.pointer(from).cloned() else {
        return Ok(false);
    };
    if let Some(existing) = config.pointer(to)
        && *existing != value
    {
        return Err(Error::NeedsOperator(format!(
            "config has both {from} and {to} with different values; keep one and retry"
        )));
    }
    remove_field(config, from);
    set_field(config, to, value)?;
    Ok(true)
}

/// Removes the value at `pointer`, returning it.
pub fn remove_field(config: &mut Value, pointer: &str) -> Option<Value> {
    let (parent, key) = split(pointer)?;
    match config.pointer_mut(parent)? {
        Value::Object(map) => map.shift_remove(&key),
        _ => None,
    }
}

/// Sets the value at `pointer`, creating missing objects on the way.
pub fn set_field(config: &mut Value, pointer: &str, value: Value) -> Result<()> {
    let tokens: Vec<String> = pointer.split('/').skip(1).map(unescape).collect();
    let Some((last, path)) = tokens.split_last() else {
        return Err(Error::UnsupportedShape(format!(
            "cannot set the whole config through pointer {pointer:?}"
        )));
    };
    let mut node = config;
    for token in path {
        let map = node.as_object_mut().ok_or_else(|| {
            Error::UnsupportedShape(format!("{pointer}: {token:?} is inside a non-object"))
        })?;
        node = map
            .entry(token.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    node.as_object_mut()
        .ok_or_else(|| Error::UnsupportedShape(format!("{pointer}: parent is not an object")))?
        .insert(last.clone(), value);
    Ok(())
}

fn split(pointer: &str) -> Option<(&str, String)> {
    let i = pointer.rfind('/')?;
    Some((&pointer[..i], unescape(&pointer[i + 1..])))
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn moves_a_root_secret_under_credentials() {
        let mut c = json!({"account_id": "1", "client_id": "abc"});
        assert!(move_field(&mut c, "/client_id", "/credentials/client_id").unwrap());
        assert_eq!(
            c,
            json!({"account_id": "1", "credentials": {"client_id": "abc"}})
        );
        assert!(!move_field(&mut c, "/client_id", "/credentials/client_id").unwrap());
    }

    #[test]
    fn refuses_conflicting_destination() {
        let mut c = json!({"a": 1, "b": 2});
        assert!(matches!(
            move_field(&mut c, "/a", "/b"),
            Err(Error::NeedsOperator(_))
        ));
        assert_eq!(c, json!({"a": 1, "b": 2}));
    }

    #[test]
    fn remove_and_escaped_pointers() {
        let mut c = json!({"a/b": {"x": 1}});
        assert_eq!(remove_field(&mut c, "/a~1b/x"), Some(json!(1)));
        set_field(&mut c, "/n/m", json!(true)).unwrap();
        assert_eq!(c, json!({"a/b": {}, "n": {"m": true}}));
    }
}
