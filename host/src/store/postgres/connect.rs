//! Reaching the database: the fleet's URL, the password from the environment, and errors
//! that say what to fix.
//!
//! The URL names the server, user and database and nothing secret: a password in it would
//! sit in cutover.toml, in shell history and in `ps`, so one there is refused, and the
//! password comes from an environment variable (`PGPASSWORD` unless `[store]
//! password_env` names another).

use crate::settings::StoreSettings;
use anyhow::{Result, anyhow, bail};
use postgres::{Client, Config, NoTls};
use std::str::FromStr;
use std::time::Duration;

/// How to open connections to one fleet database.
#[derive(Clone)]
pub struct Target {
    config: Config,
    /// `user@host:port/database`, for messages; never holds the password.
    pub summary: String,
}

impl Target {
    /// Reads `url` and takes the password from the environment.
    pub fn new(url: &str, settings: &StoreSettings) -> Result<Self> {
        let mut config = Config::from_str(url).map_err(|e| {
            anyhow!("{url:?} is not a PostgreSQL URL ({e}); write it as postgres://USER@HOST:PORT/DATABASE")
        })?;
        if config.get_password().is_some() {
            bail!(
                "the fleet's PostgreSQL URL holds a password; remove it from the URL and put it in ${} instead",
                settings.password_env
            );
        }
        if let Ok(password) = std::env::var(&settings.password_env) {
            config.password(password);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.keepalives_idle(Duration::from_secs(30));
        config.application_name(&format!("cutover {} pid {}", crate::ledger::actor(), std::process::id()));
        let summary = summary(&config);
        Ok(Self { config, summary })
    }

    /// A new connection, or an error that says what to check.
    pub fn connect(&self) -> Result<Client> {
        self.config.connect(NoTls).map_err(|e| explain(e, &self.summary))
    }
}

/// `user@host:port/database`.
fn summary(config: &Config) -> String {
    use postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}@{host}:{port}/{}",
        config.get_user().unwrap_or("(default user)"),
        config.get_dbname().or(config.get_user()).unwrap_or("(default database)")
    )
}

/// An error of the database, said so that an operator knows what to fix (the database's
/// own words follow in the error's chain).
pub fn explain(e: postgres::Error, summary: &str) -> anyhow::Error {
    use postgres::error::SqlState;
    let message = if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            format!(
                "PostgreSQL fleet {summary} refused the credentials; check the user in the URL and the password in $PGPASSWORD (or the variable [store] password_env names)"
            )
        } else if *code == SqlState::INVALID_CATALOG_NAME {
            format!("PostgreSQL fleet {summary} has no such database; create it first (createdb), or fix the URL")
        } else {
            format!("PostgreSQL fleet {summary}")
        }
    } else if e.is_closed() || e.to_string().contains("error connecting") || e.to_string().contains("timed out") {
        format!("cannot reach the PostgreSQL fleet {summary}; is the server running, and are the host, port and database in the URL right?")
    } else {
        format!("PostgreSQL fleet {summary}")
    };
    anyhow::Error::new(e).context(message)
}

/// Whether an error means the connection to the server was lost (a restart, a network
/// failure), after which the work can be tried again on a new connection.
pub fn is_connection_lost(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| match cause.downcast_ref::<postgres::Error>() {
        Some(pg) => {
            pg.is_closed()
                || pg.as_db_error().is_some_and(|db| {
                    let c = db.code().code();
                    // admin_shutdown, crash_shutdown, cannot_connect_now, connection exceptions
                    c.starts_with("08") || c == "57P01" || c == "57P02" || c == "57P03"
                })
                || std::error::Error::source(pg).is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some())
        }
        None => cause.downcast_ref::<std::io::Error>().is_some(),
    })
}
