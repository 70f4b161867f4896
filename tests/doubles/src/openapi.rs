//! Validation of requests and responses against a published OpenAPI 3.0 spec.
//!
//! A double is only as good as its shapes: every request it receives and every response it
//! sends is checked against the platform's own spec, so a client that sends a field the
//! platform does not take, or a double that answers with one it would not send, fails the
//! test instead of passing against a convenient fiction.
//!
//! OpenAPI 3.0 schemas are a subset of JSON Schema (validated here as 2020-12, which knows
//! the `uuid` format the server enforces by parsing ids); two of its words are read here
//! as the platform's server reads them:
//! - `nullable: true` allows `null` besides the schema;
//! - `discriminator`, `example` and `x-…` extensions are annotations, not constraints.
//!
//! [`Erratum`]s correct a published spec where it contradicts what the server accepts and
//! sends (the errata are listed by each double, with the reason).

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A correction of the published spec, applied when it is loaded.
pub struct Erratum {
    /// The schema it corrects (`AirbyteStream`).
    pub schema: &'static str,
    /// What it does to that schema.
    pub fix: fn(&mut Map<String, Value>),
    /// Why the published text cannot be read literally.
    pub reason: &'static str,
}

/// The validators of every operation in a spec, by path.
pub struct Spec {
    operations: HashMap<String, Operation>,
    /// The body of errors the spec does not list for an operation (a server error, an
    /// authentication failure): the spec's generic exception shape.
    error: jsonschema::Validator,
}

struct Operation {
    request: Option<jsonschema::Validator>,
    /// By status: the body's validator, or `None` for a response without a body.
    responses: HashMap<u16, Option<jsonschema::Validator>>,
}

impl Spec {
    /// Loads an OpenAPI 3.0 document (YAML). `error_schema` names the component that bodies of
    /// unlisted error statuses take.
    pub fn load(yaml: &str, errata: &[Erratum], error_schema: &str) -> Result<Self> {
        let document: Value = serde_yaml::from_str(yaml).context("the spec is not YAML")?;
        let mut components = document
            .get("components")
            .cloned()
            .context("the spec has no components")?;
        for erratum in errata {
            let schema = components
                .pointer_mut(&format!("/schemas/{}", erratum.schema))
                .and_then(Value::as_object_mut)
                .with_context(|| {
                    format!(
                        "erratum for a schema the spec does not have: {}",
                        erratum.schema
                    )
                })?;
            (erratum.fix)(schema);
        }
        let components = to_json_schema(components);
        let compile = |schema: &Value| -> Result<jsonschema::Validator> {
            let mut root = Map::new();
            root.insert("components".into(), components.clone());
            for (k, v) in to_json_schema(schema.clone())
                .as_object()
                .cloned()
                .unwrap_or_default()
            {
                root.insert(k, v);
            }
            jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&Value::Object(root))
                .map_err(|e| anyhow::anyhow!("{e}"))
        };
        let mut operations = HashMap::new();
        for (path, item) in document
            .get("paths")
            .and_then(Value::as_object)
            .context("the spec has no paths")?
        {
            let Some(op) = item.get("post") else { continue };
            let request = match op.pointer("/requestBody/content/application~1json/schema") {
                Some(schema) => {
                    Some(compile(schema).with_context(|| format!("request of {path}"))?)
                }
                None => None,
            };
            let mut responses = HashMap::new();
            for (status, response) in op
                .get("responses")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let status: u16 = status
                    .parse()
                    .with_context(|| format!("status {status} of {path}"))?;
                let response = match response.get("$ref").and_then(Value::as_str) {
                    Some(r) => {
                        let name = r.rsplit('/').next().unwrap_or_default();
                        components
                            .pointer(&format!("/responses/{name}"))
                            .cloned()
                            .with_context(|| format!("{r} of {path}"))?
                    }
                    None => response.clone(),
                };
                let validator = match response.pointer("/content/application~1json/schema") {
                    Some(schema) => Some(
                        compile(schema).with_context(|| format!("response {status} of {path}"))?,
                    ),
                    None => None,
                };
                responses.insert(status, validator);
            }
            operations.insert(path.clone(), Operation { request, responses });
        }
        let error =
            compile(&serde_json::json!({"$ref": format!("#/components/schemas/{error_schema}")}))?;
        Ok(Self { operations, error })
    }

    /// Whether the spec has this path.
    pub fn has(&self, path: &str) -> bool {
        self.operations.contains_key(path)
    }

    /// Checks a request body; each problem as `<JSON Pointer>: <what>`.
    pub fn check_request(&self, path: &str, body: &Value) -> Result<(), Vec<String>> {
        let op = self
            .operations
            .get(path)
            .ok_or_else(|| vec![format!("{path} is not in the spec")])?;
        match &op.request {
            Some(v) => problems(v, body),
            None => Ok(()),
        }
    }

    /// Checks a response: its status must be listed for the operation (or be an error
    /// status, whose body is the generic exception), and its body must match.
    pub fn check_response(
        &self,
        path: &str,
        status: u16,
        body: Option<&Value>,
    ) -> Result<(), Vec<String>> {
        let op = self
            .operations
            .get(path)
            .ok_or_else(|| vec![format!("{path} is not in the spec")])?;
        match op.responses.get(&status) {
            Some(Some(v)) => match body {
                Some(body) => problems(v, body),
                None => Err(vec![format!(
                    "status {status} of {path} has a body in the spec, and none was sent"
                )]),
            },
            Some(None) => match body {
                None => Ok(()),
                Some(_) => Err(vec![format!(
                    "status {status} of {path} has no body in the spec"
                )]),
            },
            None if status >= 400 => match body {
                Some(body) => problems(&self.error, body),
                None => Err(vec![format!(
                    "error status {status} of {path} without the exception body"
                )]),
            },
            None => Err(vec![format!(
                "status {status} is not a response of {path} in the spec"
            )]),
        }
    }
}

fn problems(validator: &jsonschema::Validator, instance: &Value) -> Result<(), Vec<String>> {
    let found: Vec<String> = validator
        .iter_errors(instance)
        .take(10)
        .map(|e| {
            let at = e.instance_path().to_string();
            format!("{}: {e}", if at.is_empty() { "/" } else { &at })
        })
        .collect();
    if found.is_empty() { Ok(()) } else { Err(found) }
}

/// Rewrites an OpenAPI 3.0 schema as the JSON Schema it means (see the module's doc).
fn to_json_schema(schema: Value) -> Value {
    match schema {
        Value::Object(map) => {
            let nullable = map
                .get("nullable")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let mut out = Map::new();
            for (k, v) in map {
                match k.as_str() {
                    "nullable" | "discriminator" | "example" => {}
                    _ if k.starts_with("x-") => {}
                    // Keys whose values are maps of names, not schemas, are rewritten inside.
                    _ => {
                        out.insert(k, to_json_schema(v));
                    }
                }
            }
            if nullable {
                let mut any = Map::new();
                any.insert(
                    "anyOf".into(),
                    Value::Array(vec![
                        Value::Object(out),
                        serde_json::json!({"type": "null"}),
                    ]),
                );
                Value::Object(any)
            } else {
                Value::Object(out)
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(to_json_schema).collect()),
        other => other,
    }
}

/// Fails unless every erratum names a schema whose published text needs it (so an erratum
/// cannot outlive the defect it corrects when the spec is updated).
pub fn check_errata_still_needed(
    yaml: &str,
    errata: &[Erratum],
    needed: impl Fn(&Map<String, Value>) -> bool,
) -> Result<()> {
    let document: Value = serde_yaml::from_str(yaml)?;
    for erratum in errata {
        let schema = document
            .pointer(&format!("/components/schemas/{}", erratum.schema))
            .and_then(Value::as_object)
            .with_context(|| format!("no schema {}", erratum.schema))?;
        if !needed(schema) {
            bail!(
                "the erratum for {} is no longer needed: {}",
                erratum.schema,
                erratum.reason
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
openapi: 3.0.0
paths:
  /v1/things/get:
    post:
      requestBody:
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/ThingId'
      responses:
        '200':
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Thing'
        '204':
          description: nothing
components:
  schemas:
    ThingId:
      type: object
      required: [thingId]
      properties:
        thingId: {type: string, format: uuid}
    Thing:
      type: object
      additionalProperties: false
      required: [name]
      properties:
        name: {type: string}
        note: {type: string, nullable: true}
    Problem:
      type: object
      required: [message]
      properties:
        message: {type: string}
"#;

    #[test]
    fn requests_and_responses_are_checked_with_refs_resolved() {
        let spec = Spec::load(SPEC, &[], "Problem").unwrap();
        assert!(
            spec.check_request(
                "/v1/things/get",
                &serde_json::json!({"thingId": "8f6b1c2e-3a4d-4e5f-9a0b-1c2d3e4f5a6b"})
            )
            .is_ok()
        );
        assert!(
            spec.check_request(
                "/v1/things/get",
                &serde_json::json!({"thingId": "not-a-uuid"})
            )
            .is_err()
        );
        assert!(
            spec.check_request("/v1/things/get", &serde_json::json!({}))
                .unwrap_err()[0]
                .contains("thingId")
        );
        assert!(
            spec.check_response(
                "/v1/things/get",
                200,
                Some(&serde_json::json!({"name": "a", "note": null}))
            )
            .is_ok()
        );
        assert!(
            spec.check_response(
                "/v1/things/get",
                200,
                Some(&serde_json::json!({"name": "a", "extra": 1}))
            )
            .is_err()
        );
        assert!(spec.check_response("/v1/things/get", 204, None).is_ok());
        assert!(
            spec.check_response("/v1/things/get", 204, Some(&serde_json::json!({})))
                .is_err()
        );
        assert!(
            spec.check_response(
                "/v1/things/get",
                500,
                Some(&serde_json::json!({"message": "boom"}))
            )
            .is_ok()
        );
        assert!(
            spec.check_response("/v1/things/get", 500, Some(&serde_json::json!({})))
                .is_err()
        );
        assert!(spec.check_response("/v1/things/get", 201, None).is_err());
        assert!(
            spec.check_request("/v1/other", &serde_json::json!({}))
                .is_err()
        );
    }

    #[test]
    fn errata_correct_the_schema_they_name() {
        let errata = [Erratum {
            schema: "Thing",
            fix: |s| {
                s.insert("required".into(), serde_json::json!(["name", "note"]));
            },
            reason: "test",
        }];
        let spec = Spec::load(SPEC, &errata, "Problem").unwrap();
        assert!(
            spec.check_response(
                "/v1/things/get",
                200,
                Some(&serde_json::json!({"name": "a"}))
            )
            .is_err()
        );
        assert!(check_errata_still_needed(SPEC, &errata, |s| s.get("required").is_some()).is_ok());
        assert!(check_errata_still_needed(SPEC, &errata, |_| false).is_err());
    }
}
