//! `[store]` in cutover.toml: a fleet whose documents and ledger live in PostgreSQL.

use serde::Deserialize;

/// `[store]`: a fleet whose documents and ledger live in PostgreSQL.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// `postgres://user@host:port/database` (or `?host=/socket/dir`). Never with a password:
    /// that comes from the environment.
    pub url: Option<String>,
    /// The environment variable holding the database password.
    #[serde(default = "default_password_env")]
    pub password_env: String,
    /// How long a worker's lease on a batch of a shared run lasts unless renewed; a worker
    /// that died is taken over after this long.
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: u64,
    /// How many connections a worker leases at once: each batch commits in one
    /// transaction.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// The CA certificates (PEM) the server's TLS certificate is verified against; setting
    /// it turns TLS on. Without it, `sslmode=require` verifies against the public roots.
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            url: None,
            password_env: default_password_env(),
            lease_seconds: default_lease_seconds(),
            batch: default_batch(),
            ca_file: None,
        }
    }
}

fn default_password_env() -> String {
    "PGPASSWORD".into()
}

fn default_lease_seconds() -> u64 {
    30
}

fn default_batch() -> usize {
    crate::ground::BATCH
}
