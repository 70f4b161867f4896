//! A real PostgreSQL server for the tests: initialized in a temporary directory, listening
//! on 127.0.0.1 and a socket of its own, stopped when the test process lets go of it.
//!
//! The server's programs are found on `PATH` or under `/usr/lib/postgresql/*/bin`
//! (Debian's `postgresql` package; `.ci/run` installs it when missing). Without them the
//! tests that need a server say so and stop early, unless `CUTOVER_REQUIRE_POSTGRES` is set
//! (as CI sets it), in which case they fail: a CI run never skips them silently.
//!
//! PostgreSQL refuses to run as root; as root, the kit runs the server as the `postgres`
//! user (or `nobody`), which owns the data directory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// A PostgreSQL server of the test's own.
pub struct Server {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
    run_as: Option<(u32, u32)>,
    durable: bool,
}

/// The superuser the kit creates, who connects without a password over the socket.
pub const SUPERUSER: &str = "cutover";
/// A role that logs in over TCP with a password, for credential tests.
pub const OPERATOR: (&str, &str) = ("operator", "correct horse battery staple");
/// A role that may log in over TCP only with TLS (and a password).
pub const TLS_OPERATOR: (&str, &str) = ("tls_operator", "correct horse battery staple");

/// Where PostgreSQL's server programs are, if anywhere.
fn bin_dir() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                // Where the links lead, which has psql and postgres beside them.
                let real = dir.join("initdb").canonicalize().ok()?;
                return real.parent().map(Path::to_owned);
            }
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop()
}

/// Whether the tests that need PostgreSQL can run here. Panics when they must
/// (`CUTOVER_REQUIRE_POSTGRES`) but cannot.
pub fn available() -> bool {
    let found = bin_dir().is_some();
    if !found {
        if std::env::var_os("CUTOVER_REQUIRE_POSTGRES").is_some() {
            panic!(
                "PostgreSQL's server programs (initdb, pg_ctl) are not installed, and CUTOVER_REQUIRE_POSTGRES is set; install Debian's postgresql package"
            );
        }
        eprintln!(
            "skipping: PostgreSQL's server programs (initdb, pg_ctl) are not installed (Debian: apt-get install postgresql)"
        );
    }
    found
}

/// The server shared by the tests of one process (each test makes its own database).
pub fn shared() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        let server = Server::start();
        stop_at_exit(&server);
        server
    })
}

fn uid_gid(user: &str) -> Option<(u32, u32)> {
    let out = Command::new("id").args(["-u", user]).output().ok()?;
    let uid = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    let out = Command::new("id").args(["-g", user]).output().ok()?;
    let gid = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    Some((uid, gid))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// Initializes and starts a new server for tests: it does not flush to disk (the tests
    /// kill cutover, not the machine).
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// A server that flushes every commit to disk, as a production one does: what the
    /// benchmarks measure against.
    pub fn start_durable() -> Self {
        Self::start_with(true)
    }

    fn start_with(durable: bool) -> Self {
        let bin =
            bin_dir().expect("PostgreSQL's server programs (check postgres::available() first)");
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        let run_as = if is_root {
            Some(
                uid_gid("postgres")
                    .or_else(|| uid_gid("nobody"))
                    .expect("a user to run PostgreSQL as"),
            )
        } else {
            None
        };
        let base =
            std::env::temp_dir().join(format!("cutover-pg-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&base).unwrap();
        let server = Self {
            dir: base,
            bin,
            port: free_port(),
            run_as,
            durable,
        };
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&server.dir, Some(uid), Some(gid)).unwrap();
        }
        let pwfile = server.dir.join("pw");
        std::fs::write(&pwfile, "unused\n").unwrap();
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).unwrap();
        }
        server.run(
            "initdb",
            &[
                "-D",
                server.data().to_str().unwrap(),
                "-U",
                SUPERUSER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--pwfile",
                pwfile.to_str().unwrap(),
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        server.certify();
        server.start_server();
        server.psql(
            "postgres",
            &format!("CREATE ROLE {} LOGIN PASSWORD '{}'", OPERATOR.0, OPERATOR.1),
        );
        server.psql(
            "postgres",
            &format!(
                "CREATE ROLE {} LOGIN PASSWORD '{}'",
                TLS_OPERATOR.0, TLS_OPERATOR.1
            ),
        );
        server
    }

    /// A certificate authority of the test's own, a server certificate for 127.0.0.1 it
    /// signed, and `pg_hba.conf` lines that let [`TLS_OPERATOR`] in over TLS only.
    fn certify(&self) {
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .current_dir(&self.dir)
                .args(args)
                .output()
                .expect("running openssl (Debian's openssl package)");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let days = ["-days", "3"];
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            days[0],
            days[1],
            "-subj",
            "/CN=cutover test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        std::fs::write(
            self.dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            days[0],
            days[1],
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ]);
        for file in ["server.key", "server.crt"] {
            let path = self.dir.join(file);
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
            if let Some((uid, gid)) = self.run_as {
                std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
            }
        }
        let hba = self.data().join("pg_hba.conf");
        let rest = std::fs::read_to_string(&hba).unwrap();
        let (user, _) = TLS_OPERATOR;
        std::fs::write(&hba, format!("hostssl all {user} 127.0.0.1/32 scram-sha-256\nhostnossl all {user} 127.0.0.1/32 reject\n{rest}")).unwrap();
    }

    /// The certificate of the authority that signed the server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The directory holding the server's socket.
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        if let Some((uid, gid)) = self.run_as {
            use std::os::unix::process::CommandExt;
            cmd.uid(uid).gid(gid).current_dir(&self.dir);
        }
        cmd.env_remove("PGPASSWORD");
        cmd
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start_server(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c max_connections=200 -c fsync={} -c synchronous_commit=on -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            self.port,
            self.dir.display(),
            if self.durable { "on" } else { "off" },
            self.dir.join("server.crt").display(),
            self.dir.join("server.key").display()
        );
        let log = self.dir.join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Restarts the server (`pg_ctl restart`, fast mode): every session is cut.
    pub fn restart(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "fast",
                "-w",
                "-t",
                "60",
                "stop",
            ],
        );
        self.start_server();
    }

    /// Runs SQL as the superuser in `database`.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = self
            .command("psql")
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.dir)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-c",
                sql,
            ])
            .output()
            .expect("running psql");
        assert!(
            out.status.success(),
            "psql {sql:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A new, empty database; its URL (the superuser, over the socket: no password).
    pub fn database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        self.url(name)
    }

    /// The URL of `database` as the superuser, over the server's socket.
    pub fn url(&self, database: &str) -> String {
        let socket: String = self.dir.display().to_string().replace('/', "%2F");
        format!("postgres://{SUPERUSER}@{socket}:{}/{database}", self.port)
    }

    /// The URL of `database` over TCP as the password role (the password is not in it).
    pub fn tcp_url(&self, database: &str) -> String {
        format!(
            "postgres://{}@127.0.0.1:{}/{database}",
            OPERATOR.0, self.port
        )
    }

    /// The URL of `database` over TCP and TLS, as the role that may log in only so.
    pub fn tls_url(&self, database: &str) -> String {
        format!(
            "postgres://{}@127.0.0.1:{}/{database}?sslmode=require",
            TLS_OPERATOR.0, self.port
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args([
                "-D",
                self.data().to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server in a `static` is never dropped: the shared one is stopped when the test
/// process exits.
fn stop_at_exit(server: &Server) {
    static STOP: OnceLock<(PathBuf, PathBuf, Option<(u32, u32)>)> = OnceLock::new();
    extern "C" fn stop() {
        if let Some((bin, dir, run_as)) = STOP.get() {
            let mut cmd = Command::new(bin.join("pg_ctl"));
            if let Some((uid, gid)) = run_as {
                use std::os::unix::process::CommandExt;
                cmd.uid(*uid).gid(*gid).current_dir(dir);
            }
            let _ = cmd
                .args([
                    "-D",
                    dir.join("data").to_str().unwrap(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ])
                .output();
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    if STOP
        .set((server.bin.clone(), server.dir.clone(), server.run_as))
        .is_ok()
    {
        unsafe extern "C" {
            fn atexit(f: extern "C" fn()) -> i32;
        }
        // SAFETY: registers a plain function, with no captured state, to run at exit.
        unsafe { atexit(stop) };
    }
}
