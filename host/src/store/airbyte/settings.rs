//! `[airbyte]` in cutover.toml: which deployment, how to authenticate, which connections,
//! and how hard to push the service.
//!
//! ```toml
//! [airbyte]
//! url = "https://airbyte.example/api"     # the deployment's API base (…/api, not …/api/v1)
//! token_env = "AIRBYTE_TOKEN"             # a bearer token, read from this variable
//! # username_env = "AIRBYTE_USER"         # or basic credentials (self-hosted OSS)
//! # password_env = "AIRBYTE_PASSWORD"
//! workspaces = ["b6a7…"]                  # default: every workspace the credentials see
//! connectors = ["airbyte/source-pinterest"]   # default: every connector
//! concurrency = 8                         # connections written at once
//! timeout_ms = 30000                      # per request
//! retries = 5                             # attempts per request on 5xx, timeouts, dropped connections
//! sync_wait_ms = 120000                   # how long a state write waits for a running sync
//! secrets = "airbyte-secrets.json"        # owner-only: secrets a migration moves (see secrets.rs)
//! ```
//!
//! Credentials never sit in the file: only the names of the variables holding them.

use anyhow::{Result, bail};
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AirbyteSettings {
    pub url: String,
    #[serde(default)]
    pub token_env: Option<String>,
    #[serde(default)]
    pub username_env: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub workspaces: Vec<String>,
    #[serde(default)]
    pub connectors: Vec<String>,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default = "default_sync_wait_ms")]
    pub sync_wait_ms: u64,
    /// An owner-only JSON file of secrets the operator supplies, relative to the fleet
    /// (see [`super::secrets`]).
    #[serde(default)]
    pub secrets: Option<String>,
    /// The first backoff between attempts (doubling each time, up to 5 s).
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
}

fn default_concurrency() -> usize {
    8
}
fn default_timeout_ms() -> u64 {
    30_000
}
fn default_retries() -> u32 {
    5
}
fn default_sync_wait_ms() -> u64 {
    120_000
}
fn default_backoff_ms() -> u64 {
    200
}

impl AirbyteSettings {
    /// The `Authorization` header, from the variables the settings name; `None` without
    /// credentials (a deployment without authentication).
    pub fn authorization(&self) -> Result<Option<String>> {
        let read = |var: &str| -> Result<String> {
            match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(v),
                _ => bail!(
                    "[airbyte] names the environment variable {var} for its credentials, and it is not set; export it (the value is never shown or stored)"
                ),
            }
        };
        match (&self.token_env, &self.username_env, &self.password_env) {
            (Some(token), None, None) => Ok(Some(format!("Bearer {}", read(token)?))),
            (None, Some(user), Some(password)) => {
                use base64::Engine;
                let pair = format!("{}:{}", read(user)?, read(password)?);
                Ok(Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )))
            }
            (None, None, None) => Ok(None),
            _ => bail!("[airbyte] takes either token_env, or both username_env and password_env"),
        }
    }

    /// Checks what can be checked before connecting.
    pub fn check(&self) -> Result<()> {
        if !(self.url.starts_with("https://") || self.url.starts_with("http://")) {
            bail!(
                "[airbyte] url {:?} must start with https:// (or http:// for a local deployment)",
                self.url
            );
        }
        if self.url.trim_end_matches('/').ends_with("/v1") {
            bail!(
                "[airbyte] url {:?} should be the API base without /v1 (for example https://airbyte.example/api)",
                self.url
            );
        }
        if self.concurrency == 0 || self.concurrency > 256 {
            bail!(
                "[airbyte] concurrency must be between 1 and 256, not {}",
                self.concurrency
            );
        }
        if self.retries == 0 {
            bail!("[airbyte] retries counts attempts: at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> AirbyteSettings {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_and_checks() {
        let s = parse("url = \"https://airbyte.example/api\"");
        assert_eq!((s.concurrency, s.retries), (8, 5));
        assert!(s.check().is_ok());
        assert!(parse("url = \"airbyte.example\"").check().is_err());
        assert!(parse("url = \"https://a/api/v1\"").check().is_err());
        assert!(
            parse("url = \"https://a/api\"\nconcurrency = 0")
                .check()
                .is_err()
        );
        assert!(
            toml::from_str::<AirbyteSettings>("url = \"https://a/api\"\ntoken = \"secret\"")
                .is_err(),
            "a token in the file is refused"
        );
    }

    #[test]
    fn credentials_come_from_the_environment() {
        let s = parse("url = \"https://a/api\"\ntoken_env = \"CUTOVER_TEST_UNSET_TOKEN_VAR\"");
        let err = format!("{:#}", s.authorization().unwrap_err());
        assert!(
            err.contains("CUTOVER_TEST_UNSET_TOKEN_VAR") && err.contains("not set"),
            "{err}"
        );
        let s = parse("url = \"https://a/api\"\ntoken_env = \"PATH\"");
        assert!(s.authorization().unwrap().unwrap().starts_with("Bearer "));
        assert!(
            parse("url = \"https://a/api\"\ntoken_env = \"A\"\nusername_env = \"B\"")
                .authorization()
                .is_err()
        );
    }
}
