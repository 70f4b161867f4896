//! A fleet in a real PostgreSQL server: the same plans, applies, rollbacks and history as
//! the directory fleet, moving between the two, and every way the database can be wrong.

use cutover_tests::{Fleet, Run, postgres};
use std::collections::BTreeMap;
use std::path::Path;

fn cutover(fleet: &Path, args: &[&str]) -> Run {
    cutover_tests::cutover(env!("CARGO_BIN_EXE_cutover"), fleet, args)
}

fn cutover_env(fleet: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    cutover_tests::cutover_with_env(env!("CARGO_BIN_EXE_cutover"), fleet, args, env)
}

/// The example fleet's settings, plugins and specs, with its documents and ledger in the
/// database `name`.
fn example_in_postgres(name: &str) -> (Fleet, String) {
    let url = postgres::shared().database(name);
    let fleet = Fleet::example();
    fleet.set_store(&url);
    (fleet, url)
}

/// Every document of a fleet, read back by exporting it to a directory.
fn exported(fleet: &Path) -> BTreeMap<String, Vec<u8>> {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("export");
    cutover(fleet, &["fleet", "export", dir.to_str().unwrap()]).expect(0);
    std::fs::read_dir(dir.join("connections"))
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_postgres_fleet_plans_applies_and_rolls_back_as_the_directory_does() {
    if !postgres::available() {
        return;
    }
    let directory = Fleet::example();
    let (pg, _) = example_in_postgres("same_as_directory");
    let imported = cutover(
        pg.path(),
        &["fleet", "import", directory.path().to_str().unwrap()],
    )
    .expect(0)
    .stdout;
    assert!(imported.starts_with("Imported 6 document(s)"), "{imported}");
    assert_eq!(
        exported(pg.path()),
        directory.documents(),
        "the import keeps every byte"
    );

    // The same plan, connection for connection.
    let plan_dir = cutover(directory.path(), &["plan", "--all", "--json"]).json();
    let plan_pg = cutover(pg.path(), &["plan", "--all", "--json"]).json();
    let summary = |plan: &serde_json::Value| -> Vec<(String, String, String, String)> {
        plan["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["id"].to_string(),
                    c["status"].to_string(),
                    c["input_sha256"].to_string(),
                    c["output_sha256"].to_string(),
                )
            })
            .collect()
    };
    assert_eq!(summary(&plan_pg), summary(&plan_dir));
    assert!(
        plan_pg["fleet"]
            .as_str()
            .unwrap()
            .starts_with("postgres fleet "),
        "{}",
        plan_pg["fleet"]
    );

    // The same documents after an apply.
    let before = directory.documents();
    let written = cutover(directory.path(), &["apply", "--all", "--json"])
        .expect(0)
        .json()["written"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(written, 4);
    let applied = cutover(pg.path(), &["apply", "--all"]).expect(0).stdout;
    assert!(
        applied
            .contains("Run 2 is completed: 4 of 4 connection(s) written, 0 failed, by 1 worker(s)"),
        "{applied}"
    );
    assert_eq!(exported(pg.path()), directory.documents());
    assert_ne!(directory.documents(), before);

    // History names the writer of every write; a second apply finds nothing to do.
    let history = cutover(pg.path(), &["history", "--json"]).expect(0).json();
    let apply = &history[0];
    assert_eq!(
        (apply["kind"].as_str(), apply["status"].as_str()),
        (Some("apply"), Some("completed"))
    );
    assert_eq!(apply["changes"].as_array().unwrap().len(), 4);
    assert!(
        apply["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["by"].as_str().is_some_and(|b| b.contains(" pid ")))
    );
    assert!(
        cutover(pg.path(), &["apply", "--all"])
            .expect(0)
            .stdout
            .contains("No changes")
    );

    // Rollback from another host (another directory with the same settings) restores every byte.
    let elsewhere = Fleet::example();
    elsewhere.set_store(&pg.store_url().unwrap());
    let out = cutover(elsewhere.path(), &["rollback"]).expect(0).stdout;
    assert!(
        out.starts_with("Rolled back run 2: restored 4 connection(s)"),
        "{out}"
    );
    assert_eq!(exported(pg.path()), before);

    // Pins are written and recorded like any change.
    cutover(
        pg.path(),
        &["pin", "pinterest-apac", "--reason", "quarter end"],
    )
    .expect(0);
    let status = cutover(pg.path(), &["status", "--json"]).expect(0).json();
    let apac = status["connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "pinterest-apac")
        .unwrap()
        .clone();
    assert_eq!(apac["status"], "pinned", "{apac}");
}

#[test]
fn a_fleet_moves_to_postgres_and_back_with_its_history() {
    if !postgres::available() {
        return;
    }
    let embedded = Fleet::example();
    let original = embedded.documents();
    cutover(embedded.path(), &["apply", "--all"]).expect(0);
    let migrated = embedded.documents();
    let history = cutover(embedded.path(), &["history", "--json"])
        .expect(0)
        .json();

    let (pg, _) = example_in_postgres("moved_with_history");
    let out = cutover(
        pg.path(),
        &[
            "fleet",
            "import",
            embedded.path().to_str().unwrap(),
            "--ledger",
        ],
    )
    .expect(0)
    .stdout;
    assert!(out.contains("and 1 run(s) of history"), "{out}");
    let moved = cutover(pg.path(), &["history", "--json"]).expect(0).json();
    assert_eq!(
        moved[1], history[0],
        "the embedded run arrives with its id, changes and steps"
    );
    assert_eq!(moved[0]["kind"], "import");
    // A second import of the same documents changes nothing; history goes only into an empty ledger.
    let again = cutover(
        pg.path(),
        &["fleet", "import", embedded.path().to_str().unwrap()],
    )
    .expect(0)
    .stdout;
    assert!(
        again.contains("Imported 0 document(s)") && again.contains("6 already there"),
        "{again}"
    );
    let err = cutover(
        pg.path(),
        &[
            "fleet",
            "import",
            embedded.path().to_str().unwrap(),
            "--ledger",
        ],
    )
    .expect(2)
    .stderr;
    assert!(err.contains("already has 2 run(s)"), "{err}");

    // The embedded apply rolls back from PostgreSQL, from its snapshots.
    cutover(pg.path(), &["rollback"]).expect(0);
    assert_eq!(exported(pg.path()), original);

    // And back to a directory, history included: rollback works there too.
    cutover(pg.path(), &["apply", "--all"]).expect(0);
    let back = tempfile::tempdir().unwrap();
    let dir = back.path().join("fleet");
    let out = cutover(
        pg.path(),
        &["fleet", "export", dir.to_str().unwrap(), "--ledger"],
    )
    .expect(0)
    .stdout;
    assert!(out.contains("and 4 run(s) of history"), "{out}");
    let exported_history = cutover(&dir, &["history", "--json"]).expect(0).json();
    assert_eq!(
        exported_history,
        cutover(pg.path(), &["history", "--json"]).expect(0).json()
    );
    assert_eq!(cutover_tests::read_documents(&dir), migrated);
    cutover(&dir, &["rollback"]).expect(0);
    assert_eq!(cutover_tests::read_documents(&dir), original);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for entry in std::fs::read_dir(dir.join("connections")).unwrap() {
            let mode = entry.unwrap().metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "exported documents are owner-only");
        }
    }
}

#[test]
fn bad_databases_are_refused_with_the_fix_and_nothing_written() {
    if !postgres::available() {
        return;
    }
    let server = postgres::shared();
    let fleet = Fleet::example();
    let doc = std::fs::read(fleet.path().join("connections/pinterest-ads-eu.json")).unwrap();

    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://cutover@127.0.0.1:{closed}/fleet");
    let err = cutover(Path::new(&url), &["status"]).expect(2).stderr;
    assert!(
        err.contains("cannot reach the PostgreSQL fleet cutover@127.0.0.1")
            && err.contains("is the server running"),
        "{err}"
    );

    // A password in the URL, which would end up in files and `ps`.
    let err = cutover(
        Path::new("postgres://operator:hunter2@127.0.0.1/fleet"),
        &["status"],
    )
    .expect(2)
    .stderr;
    assert!(
        err.contains("holds a password") && err.contains("$PGPASSWORD") && !err.contains("hunter2"),
        "{err}"
    );

    // Wrong credentials, then the right ones (over TCP, from the environment).
    server.psql("postgres", "CREATE DATABASE operated OWNER operator");
    let url = server.tcp_url("operated");
    let err = cutover_env(Path::new(&url), &["status"], &[("PGPASSWORD", "wrong")])
        .expect(2)
        .stderr;
    assert!(
        err.contains("refused the credentials") && err.contains("PGPASSWORD"),
        "{err}"
    );
    let ok = cutover_env(
        Path::new(&url),
        &["status"],
        &[("PGPASSWORD", postgres::OPERATOR.1)],
    )
    .expect(0)
    .stdout;
    assert!(ok.contains("0 connection"), "{ok}");

    // A database upgraded by a newer cutover.
    let (newer, newer_url) = example_in_postgres("newer_schema");
    cutover(newer.path(), &["status"]).expect(0);
    server.psql(
        "newer_schema",
        "INSERT INTO cutover.schema_version (version, cutover_version) VALUES (99, '9.9.9')",
    );
    let err = cutover(
        newer.path(),
        &["fleet", "import", Fleet::example().path().to_str().unwrap()],
    )
    .expect(2)
    .stderr;
    assert!(
        err.contains("schema version 99, newer than this cutover understands"),
        "{err}"
    );
    assert_eq!(
        server
            .psql("newer_schema", "SELECT count(*) FROM cutover.documents")
            .trim(),
        "0",
        "nothing written"
    );
    let _ = newer_url;

    // A document in the table that is not JSON: the plan says which; apply writes nothing.
    let (broken, _) = example_in_postgres("not_json");
    cutover(
        broken.path(),
        &["fleet", "import", fleet.path().to_str().unwrap()],
    )
    .expect(0);
    server.psql("not_json", "INSERT INTO cutover.documents (key, body, sha256) VALUES ('garbled', 'this is not json', 'x')");
    let plan = cutover(broken.path(), &["plan", "--all"]).expect(1).stdout;
    assert!(
        plan.contains("garbled") && plan.contains("not valid JSON"),
        "{plan}"
    );
    let before = exported(broken.path());
    let err = cutover(broken.path(), &["apply", "--all"]).expect(2).stderr;
    assert!(
        err.contains("cannot be planned") && err.contains("Nothing was written"),
        "{err}"
    );
    assert_eq!(exported(broken.path()), before);
    assert_eq!(before["pinterest-ads-eu.json"], doc);
}

#[test]
fn a_rollback_waits_for_the_apply_workers_and_names_them() {
    if !postgres::available() {
        return;
    }
    let (fleet, _) = example_in_postgres("locked_by_workers");
    let dir = Fleet::example();
    cutover(
        fleet.path(),
        &["fleet", "import", dir.path().to_str().unwrap()],
    )
    .expect(0);
    // A worker held after leasing its batch (until the gate opens) holds the writer lock,
    // shared.
    let gates = tempfile::tempdir().unwrap();
    let gate = gates.path().join("leased");
    let mut apply = cutover_tests::spawn_cutover(
        env!("CARGO_BIN_EXE_cutover"),
        fleet.path(),
        &["apply", "--all"],
        &[("CUTOVER_GATE", &format!("worker-leased:{}", gate.display()))],
    );
    let server = postgres::shared();
    while server
        .psql(
            "locked_by_workers",
            "SELECT count(*) FROM cutover.batches WHERE state = 'leased'",
        )
        .trim()
        == "0"
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let err = cutover(fleet.path(), &["pin", "pinterest-apac"])
        .expect(2)
        .stderr;
    assert!(
        err.contains("is locked by cutover") && err.contains(" pid "),
        "{err}"
    );
    // Any host sees the live run: its worker, the batch it holds, the progress.
    let elsewhere = Fleet::example();
    elsewhere.set_store(&fleet.store_url().unwrap());
    let status = cutover(elsewhere.path(), &["status"]).expect(0).stdout;
    assert!(
        status.contains("Run 2 (apply) is going")
            && status.contains("0 of 4 connection(s) written"),
        "{status}"
    );
    assert!(
        status.contains("· working · wrote 0, failed 0 ·") && status.contains("holds batches [0]"),
        "{status}"
    );
    let history = cutover(elsewhere.path(), &["history", "--json"])
        .expect(0)
        .json();
    assert_eq!(
        history[0]["detail"]["live"]["batches"]["leased"], 1,
        "{history:#}"
    );
    std::fs::write(&gate, b"").unwrap();
    assert!(apply.wait().unwrap().success());
    cutover(fleet.path(), &["pin", "pinterest-apac"]).expect(0);
}

#[test]
fn a_fleet_across_a_network_is_reached_over_tls_with_a_verified_certificate() {
    if !postgres::available() {
        return;
    }
    let server = postgres::shared();
    server.psql(
        "postgres",
        &format!(
            "CREATE DATABASE over_tls OWNER {}",
            postgres::TLS_OPERATOR.0
        ),
    );
    let password = [("PGPASSWORD", postgres::TLS_OPERATOR.1)];
    let fleet = Fleet::example();
    let url = server.tls_url("over_tls");
    // The server's certificate is signed by the test's own CA: trusted once ca_file names it.
    fleet.set_store_with(
        &url,
        &format!("ca_file = {:?}", server.ca_file().display().to_string()),
    );
    cutover_env(
        fleet.path(),
        &["fleet", "import", Fleet::example().path().to_str().unwrap()],
        &password,
    )
    .expect(0);
    let status = cutover_env(fleet.path(), &["status"], &password)
        .expect(0)
        .stdout;
    assert!(status.contains("6 connection(s)"), "{status}");

    // Without the CA, the certificate is not trusted: refused, saying how to trust it.
    let err = cutover_env(Path::new(&url), &["status"], &password)
        .expect(2)
        .stderr;
    assert!(
        err.contains("TLS handshake") && err.contains("ca_file"),
        "{err}"
    );
    // And this role may not log in without TLS at all.
    let plain = url.replace("sslmode=require", "sslmode=disable");
    let err = cutover_env(Path::new(&plain), &["status"], &password)
        .expect(2)
        .stderr;
    assert!(
        err.contains("no encryption") || err.contains("pg_hba.conf rejects"),
        "{err}"
    );
}

/// A server that answers every connection's startup with a FATAL error, as PostgreSQL does
/// while it starts up (57P03), `starting` times, then says the database does not exist;
/// speaking the protocol's startup as the server does (an SSL request is declined).
fn refusing_server(starting: usize) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let read_message = |stream: &mut std::net::TcpStream| -> Option<Vec<u8>> {
                let mut len = [0u8; 4];
                stream.read_exact(&mut len).ok()?;
                let mut body = vec![0u8; (u32::from_be_bytes(len) as usize).saturating_sub(4)];
                stream.read_exact(&mut body).ok()?;
                Some(body)
            };
            let Some(mut first) = read_message(&mut stream) else {
                continue;
            };
            if first == [0x04, 0xd2, 0x16, 0x2f] {
                // SSLRequest: no TLS here; the startup message follows.
                let _ = stream.write_all(b"N");
                let Some(startup) = read_message(&mut stream) else {
                    continue;
                };
                first = startup;
            }
            assert_eq!(&first[..4], &196608u32.to_be_bytes(), "a startup message");
            let (code, message) = if n < starting {
                ("57P03", "the database system is starting up")
            } else {
                ("3D000", "database \"fleet\" does not exist")
            };
            let mut fields = Vec::new();
            for (tag, value) in [
                (b'S', "FATAL"),
                (b'V', "FATAL"),
                (b'C', code),
                (b'M', message),
            ] {
                fields.push(tag);
                fields.extend_from_slice(value.as_bytes());
                fields.push(0);
            }
            fields.push(0);
            let mut reply = vec![b'E'];
            reply.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
            reply.extend_from_slice(&fields);
            let _ = stream.write_all(&reply);
        }
    });
    port
}

#[test]
fn a_server_starting_up_is_waited_for_with_its_own_words() {
    let port = refusing_server(2);
    let url = format!("postgres://cutover@127.0.0.1:{port}/fleet");
    let err = cutover(Path::new(&url), &["status"]).expect(2).stderr;
    assert!(
        err.contains("FATAL: the database system is starting up; waiting for it"),
        "the server's message in the warning: {err}"
    );
    assert!(!err.contains("db error;"), "{err}");
    assert!(err.contains("has no such database"), "{err}");
}
