//! Reaching the database: the fleet's URL, the password from the environment, and errors
//! that say what to fix.
//!
//! The URL names the server, user and database and nothing secret: a password in it would
//! sit in cutover.toml, in shell history and in `ps`, so one there is refused, and the
//! password comes from an environment variable (`PGPASSWORD` unless `[store]
//! password_env` names another).
//!
//! Connections to a server across a network carry documents and their credentials, so
//! with `sslmode=require` in the URL (or a `[store] ca_file`) they are made over TLS
//! (rustls), and the server's certificate is always verified: against the CA file when
//! one is given (a private CA), else against the public roots. Without either, as over a
//! Unix socket, connections are plain.

use super::settings::StoreSettings;
use anyhow::{Context, Result, anyhow, bail};
use postgres::config::SslMode;
use postgres::{Client, Config, NoTls};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How to open connections to one fleet database.
#[derive(Clone)]
pub struct Target {
    config: Config,
    /// TLS with verified certificates, when the fleet asks for it.
    tls: Option<MakeRustlsConnect>,
    /// `user@host:port/database`, for messages; never holds the password.
    pub summary: String,
    /// Whether this process has seen the server go away (shared by the clones of a
    /// target): then a server with nothing listening is in the middle of a restart.
    restart_seen: Arc<AtomicBool>,
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
        config.application_name(&format!(
            "cutover {} pid {}",
            crate::ground::actor(),
            std::process::id()
        ));
        let tls = match (config.get_ssl_mode(), &settings.ca_file) {
            (SslMode::Disable, _) => None,
            (SslMode::Require, ca_file) | (_, ca_file @ Some(_)) => Some(tls(ca_file.as_deref())?),
            _ => None,
        };
        let summary = summary(&config);
        Ok(Self {
            config,
            tls,
            summary,
            restart_seen: Arc::new(AtomicBool::new(false)),
        })
    }

    /// A new connection, or an error that says what to check. A server that is restarting
    /// (starting up, shutting down, or cutting the connection as it opens) is waited for,
    /// up to [`RECONNECT_FOR`]; one with nothing listening is tried again for
    /// [`NOT_LISTENING_FOR`] (the gap between an old server's exit and the new one's
    /// start), or for as long as a restart is waited for once this process has seen the
    /// server restart; an error that no waiting mends is reported at once.
    pub fn connect(&self) -> Result<Client> {
        let started = std::time::Instant::now();
        let mut warned = None::<std::time::Instant>;
        loop {
            let connected = match &self.tls {
                Some(tls) => self.config.connect(tls.clone()),
                None => self.config.connect(NoTls),
            };
            let e = match connected {
                Ok(client) => return Ok(client),
                Err(e) => e,
            };
            let waited = started.elapsed();
            let wait_for = if restarting(&e) {
                self.restart_seen.store(true, Ordering::Relaxed);
                Some(RECONNECT_FOR)
            } else if not_listening(&e) {
                Some(if self.restart_seen.load(Ordering::Relaxed) {
                    RECONNECT_FOR
                } else {
                    NOT_LISTENING_FOR
                })
            } else {
                None
            };
            match wait_for {
                Some(limit) if waited < limit => {
                    if warned.is_none_or(|at| at.elapsed() >= Duration::from_secs(5)) {
                        tracing::warn!(
                            "{}: {}; waiting for it (for up to {} s)",
                            self.summary,
                            source_chain(&e),
                            limit.saturating_sub(waited).as_secs()
                        );
                        warned = Some(std::time::Instant::now());
                    }
                    std::thread::sleep(Duration::from_millis(250));
                }
                _ => return Err(explain(e, &self.summary)),
            }
        }
    }

    /// Runs `f` on a new connection, and again on another one when the connection is lost
    /// (a restart, a network failure), for up to [`RECONNECT_FOR`]: for the steps of a
    /// process's life that are safe to repeat (opening the fleet, checking the schema,
    /// looking up a run). Connecting waits as [`Target::connect`] does; its failure is
    /// final. `what` names the step in the warnings.
    pub fn with_new<T>(
        &self,
        what: &str,
        mut f: impl FnMut(&mut Client) -> Result<T>,
    ) -> Result<T> {
        let deadline = std::time::Instant::now() + RECONNECT_FOR;
        let mut wait = Duration::from_millis(100);
        loop {
            let mut client = self.connect()?;
            match f(&mut client) {
                Err(e) if is_connection_lost(&e) && std::time::Instant::now() < deadline => {
                    self.lost();
                    tracing::warn!(
                        "{what}: lost the database {} ({e:#}); trying again",
                        self.summary
                    );
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                result => return result,
            }
        }
    }

    /// Notes that the server went away (a lost connection), so that a server with nothing
    /// listening is waited for as a restart.
    pub fn lost(&self) {
        self.restart_seen.store(true, Ordering::Relaxed);
    }
}

/// How long a process keeps trying to reach the database again after losing it (a restart
/// takes seconds; a failover can take a minute).
pub const RECONNECT_FOR: Duration = Duration::from_secs(120);

/// How long a server with nothing listening is tried again before it is reported, when
/// this process has not seen it restart: long enough for the gap in a restart between the
/// old server's exit and the new one's start, short enough that a wrong port is said soon.
pub const NOT_LISTENING_FOR: Duration = Duration::from_secs(10);

/// A TLS connector that verifies the server against the CA certificates in `ca_file` (PEM),
/// or against the public roots.
fn tls(ca_file: Option<&std::path::Path>) -> Result<MakeRustlsConnect> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path)
                .with_context(|| format!("reading [store] ca_file {}", path.display()))?
            {
                let cert = cert.with_context(|| {
                    format!(
                        "[store] ca_file {} is not a PEM file of certificates",
                        path.display()
                    )
                })?;
                roots.add(cert).with_context(|| {
                    format!("a certificate of [store] ca_file {}", path.display())
                })?;
            }
            if roots.is_empty() {
                bail!("[store] ca_file {} holds no certificate", path.display());
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("setting up TLS")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
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
        config
            .get_dbname()
            .or(config.get_user())
            .unwrap_or("(default database)")
    )
}

/// An error of the database, said so that an operator knows what to fix (the database's
/// own words follow in the error's chain).
pub fn explain(e: postgres::Error, summary: &str) -> anyhow::Error {
    use postgres::error::SqlState;
    let message = if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::INVALID_PASSWORD
            || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        {
            format!(
                "PostgreSQL fleet {summary} refused the credentials; check the user in the URL and the password in $PGPASSWORD (or the variable [store] password_env names)"
            )
        } else if *code == SqlState::INVALID_CATALOG_NAME {
            format!(
                "PostgreSQL fleet {summary} has no such database; create it first (createdb), or fix the URL"
            )
        } else {
            format!("PostgreSQL fleet {summary}")
        }
    } else if source_chain(&e).contains("TLS") || source_chain(&e).contains("certificate") {
        format!(
            "the TLS handshake with the PostgreSQL fleet {summary} failed; if its certificate is signed by your own CA, set [store] ca_file to that CA's PEM file, or check the host name in the URL"
        )
    } else if e.is_closed()
        || e.to_string().contains("error connecting")
        || e.to_string().contains("timed out")
    {
        format!(
            "cannot reach the PostgreSQL fleet {summary}; is the server running, and are the host, port and database in the URL right?"
        )
    } else {
        format!("PostgreSQL fleet {summary}")
    };
    anyhow::Error::new(e).context(message)
}

/// Whether a connection failed because the server is restarting: it is starting up or
/// shutting down (57P03), it ended the session as it began (57P01, 57P02), or it closed the
/// connection during the handshake.
fn restarting(e: &postgres::Error) -> bool {
    e.is_closed()
        || e.as_db_error()
            .is_some_and(|db| matches!(db.code().code(), "57P01" | "57P02" | "57P03"))
}

/// Whether nothing listens where the URL points (refused, or no socket file): a server
/// down, or a wrong host or port.
fn not_listening(e: &postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
            );
        }
        source = s.source();
    }
    false
}

/// An error with its causes, one after the other.
pub fn source_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Whether an error means the connection to the server was lost (a restart, a network
/// failure), after which the work can be tried again on a new connection.
pub fn is_connection_lost(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|cause| match cause.downcast_ref::<postgres::Error>() {
            Some(pg) => {
                pg.is_closed()
                    || pg.as_db_error().is_some_and(|db| {
                        let c = db.code().code();
                        // admin_shutdown, crash_shutdown, cannot_connect_now, connection exceptions
                        c.starts_with("08") || c == "57P01" || c == "57P02" || c == "57P03"
                    })
                    || std::error::Error::source(pg)
                        .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some())
            }
            None => cause.downcast_ref::<std::io::Error>().is_some(),
        })
}
