//! A real OCI registry for the tests: the Distribution registry (Debian's `docker-registry`
//! package), serving on 127.0.0.1 over TLS with a certificate from a CA the test makes
//! (openssl), behind basic auth (an htpasswd file with a bcrypt hash, from apache2-utils'
//! `htpasswd`). Each test gets its own registry, stopped when it is dropped.
//!
//! Without those programs the tests that need a registry say so and stop early, unless
//! `CUTOVER_REQUIRE_REGISTRY` is set (as CI sets it), in which case they fail: a CI run
//! never skips them silently.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The user the registry lets in, and their password.
pub const USER: (&str, &str) = ("publisher", "correct horse battery staple");

/// The programs the kit needs: (program, Debian package).
const PROGRAMS: &[(&str, &str)] = &[
    ("docker-registry", "docker-registry"),
    ("htpasswd", "apache2-utils"),
    ("openssl", "openssl"),
];

fn find(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Whether the tests that need a registry can run here. Panics when they must
/// (`CUTOVER_REQUIRE_REGISTRY`) but cannot.
pub fn available() -> bool {
    let missing: Vec<String> = PROGRAMS
        .iter()
        .filter(|(program, _)| find(program).is_none())
        .map(|(program, package)| format!("{program} (Debian: {package})"))
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var_os("CUTOVER_REQUIRE_REGISTRY").is_some() {
        panic!(
            "the test registry needs {}, and CUTOVER_REQUIRE_REGISTRY is set; apt-get install docker-registry apache2-utils openssl",
            missing.join(", ")
        );
    }
    eprintln!(
        "skipping: the test registry needs {} (apt-get install docker-registry apache2-utils openssl)",
        missing.join(", ")
    );
    false
}

/// A registry of the test's own.
pub struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .unwrap()
        .port()
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

impl Registry {
    /// Makes a CA and a server certificate for 127.0.0.1, an htpasswd file for [`USER`], and
    /// starts the registry; returns once it answers.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let d = dir.path();
        let ssl = |args: &[&str]| {
            run(Command::new("openssl").current_dir(d).args(args));
        };
        ssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=cutover test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]);
        ssl(&[
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
            d.join("server.ext"),
            "subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n",
        )
        .unwrap();
        ssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ]);
        let htpasswd = run(Command::new("htpasswd").args(["-Bbn", USER.0, USER.1]));
        std::fs::write(d.join("htpasswd"), htpasswd).unwrap();
        let port = free_port();
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  tls:\n    certificate: {dir}/server.pem\n    key: {dir}/server.key\nauth:\n  htpasswd:\n    realm: cutover-tests\n    path: {dir}/htpasswd\n",
            root = d.join("data").display(),
            dir = d.display()
        );
        std::fs::write(d.join("config.yml"), config).unwrap();
        let log = std::fs::File::create(d.join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .args(["serve", d.join("config.yml").to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        let mut registry = Self { child, dir, port };
        registry.wait_until_up();
        registry
    }

    fn wait_until_up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "docker-registry exited ({status}): {}",
                    std::fs::read_to_string(self.dir.path().join("registry.log"))
                        .unwrap_or_default()
                );
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on port {} within 20 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The CA certificate (PEM) the registry's certificate is signed by.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The file holding a blob's bytes in the registry's storage, to corrupt in tests.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// The registry's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An address on 127.0.0.1 where nothing listens: a registry that is down.
pub fn down() -> String {
    format!("127.0.0.1:{}", free_port())
}
