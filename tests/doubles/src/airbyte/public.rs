//! The one endpoint of Airbyte's public API the double serves: `GET {base}/public/v1/workspaces`,
//! the workspaces the credentials' user can see (`WorkspaceServiceImpl.listWorkspaces`: with no
//! ids given, `userService.getAllWorkspaceIdsForUser(currentUser)`), `limit` (1 to 100,
//! default 20) at a time from `offset`. Its answers are checked against
//! `spec/airbyte/public-api.yaml`, the subset of the platform's `api.yaml` it needs.

use super::model::Model;
use serde_json::{Value, json};

/// The vendored subset of the public API's spec.
pub const SPEC: &str = include_str!("../../spec/airbyte/public-api.yaml");

/// The path the double serves (after the `/api` base).
pub const WORKSPACES: &str = "/public/v1/workspaces";

/// The validator of the listing's 200 answer (`WorkspacesResponse`).
pub fn response_validator() -> jsonschema::Validator {
    let document: Value = serde_yaml::from_str(SPEC).expect("the public spec is YAML");
    let schema = document
        .pointer(
            "/paths/~1public~1v1~1workspaces/get/responses/200/content/application~1json/schema",
        )
        .cloned()
        .expect("the listing's answer schema");
    let mut root = json!({"components": document["components"]});
    root.as_object_mut()
        .expect("an object")
        .extend(schema.as_object().cloned().unwrap_or_default());
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&root)
        .expect("the public spec compiles")
}

/// A query parameter's (percent-decoded) values.
fn values<'a>(query: &'a str, name: &str) -> Vec<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .collect()
}

/// Answers the listing: (status, body).
pub fn list_workspaces(model: &Model, query: &str, base: &str) -> (u16, Value) {
    let number = |name: &str, default: i64, min: i64, max: i64| -> Result<i64, String> {
        match values(query, name).first() {
            None => Ok(default),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(format!(
                    "Failed to convert argument [{name}] for value [{v}]: it must be an integer between {min} and {max}"
                )),
            },
        }
    };
    let (limit, offset) = match (
        number("limit", 20, 1, 100),
        number("offset", 0, 0, i64::from(i32::MAX)),
    ) {
        (Ok(l), Ok(o)) => (l as usize, o as usize),
        (Err(e), _) | (_, Err(e)) => {
            return (
                400,
                json!({"message": e, "exceptionClassName": "io.micronaut.core.convert.exceptions.ConversionErrorException"}),
            );
        }
    };
    let wanted: Vec<&str> = values(query, "workspaceIds");
    let data: Vec<Value> = model
        .workspaces
        .iter()
        .filter(|w| wanted.is_empty() || wanted.contains(&w.id.as_str()))
        .skip(offset)
        .take(limit)
        .map(|w| json!({"workspaceId": w.id, "name": w.name, "dataResidency": "auto", "notifications": {}}))
        .collect();
    let mut body = json!({"data": data});
    if offset + limit < model.workspaces.len() {
        body["next"] = format!("{base}{WORKSPACES}?limit={limit}&offset={}", offset + limit).into();
    }
    if offset > 0 {
        body["previous"] = format!(
            "{base}{WORKSPACES}?limit={limit}&offset={}",
            offset.saturating_sub(limit)
        )
        .into();
    }
    (200, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airbyte::model::Workspace;

    fn model(n: usize) -> Model {
        let mut m = Model::default();
        for i in 0..n {
            let id = m.new_id();
            m.workspaces.push(Workspace {
                id,
                name: format!("w{i}"),
                organization_id: "o".into(),
            });
        }
        m
    }

    #[test]
    fn lists_a_page_at_a_time_and_refuses_a_limit_past_100() {
        let m = model(25);
        let (status, first) = list_workspaces(&m, "", "http://h/api");
        assert_eq!(status, 200);
        assert_eq!(first["data"].as_array().unwrap().len(), 20, "20 by default");
        assert_eq!(
            first["next"],
            "http://h/api/public/v1/workspaces?limit=20&offset=20"
        );
        let (_, last) = list_workspaces(&m, "limit=20&offset=20", "http://h/api");
        assert_eq!(last["data"].as_array().unwrap().len(), 5);
        assert!(last.get("next").is_none());
        assert!(response_validator().is_valid(&last));
        assert_eq!(list_workspaces(&m, "limit=101", "http://h/api").0, 400);
        assert_eq!(list_workspaces(&m, "offset=-1", "http://h/api").0, 400);
    }
}
