//! Several workers on one run of a PostgreSQL fleet: they share the run, a worker killed at a
//! batch boundary or inside a batch is taken over, a worker that comes as the run ends or
//! after it neither starts a second run nor fails, workers started together check the plan
//! once, a database restart while workers start or in the middle of an apply loses nothing,
//! a document changed under a worker is a recorded failure, killed workers are gone after
//! their own lease, and two operators with different plans never migrate a connection
//! twice.

use cutover_tests::{Fleet, Run, hostile_connection, postgres};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Child;

const CONNECTIONS: usize = 60;
/// Small batches, so a run has many, and short leases, so a dead worker's batch is taken
/// over quickly.
const STORE: &str = "lease_seconds = 2\nbatch = 6";

fn cutover(fleet: &Path, args: &[&str]) -> Run {
    cutover_tests::cutover(env!("CARGO_BIN_EXE_cutover"), fleet, args)
}

fn spawn(fleet: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    cutover_tests::spawn_cutover(env!("CARGO_BIN_EXE_cutover"), fleet, args, env)
}

/// What a finished process did.
fn finish(child: Child) -> Run {
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A directory fleet of hostile-plugin connections, and the bytes apply gives them.
fn documents() -> (Fleet, BTreeMap<String, Vec<u8>>, BTreeMap<String, Vec<u8>>) {
    let fleet = Fleet::new("[connectors.\"test/source-hostile\"]\ntarget = \"2.0.0\"\n");
    fleet.add_plugin("hostile-plugin");
    for i in 0..CONNECTIONS {
        fleet.write(&hostile_connection(&format!("c{i:03}"), "none"));
    }
    let old = fleet.documents();
    let reference = Fleet::new("[connectors.\"test/source-hostile\"]\ntarget = \"2.0.0\"\n");
    reference.add_plugin("hostile-plugin");
    for (file, bytes) in &old {
        reference.write_raw(file, bytes);
    }
    cutover(reference.path(), &["apply", "--all"]).expect(0);
    let new = reference.documents();
    (fleet, old, new)
}

/// A host: the same settings and plugins, documents and ledger in `url`.
fn host(url: &str) -> Fleet {
    let fleet = Fleet::new("[connectors.\"test/source-hostile\"]\ntarget = \"2.0.0\"\n");
    fleet.add_plugin("hostile-plugin");
    fleet.set_store_with(url, STORE);
    fleet
}

/// Every document, read back by exporting the fleet.
fn exported(fleet: &Path) -> BTreeMap<String, Vec<u8>> {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("export");
    cutover(fleet, &["fleet", "export", dir.to_str().unwrap()]).expect(0);
    cutover_tests::read_documents(&dir)
}

/// The one apply run: every connection written exactly once, by whom.
fn writes_of_the_run(fleet: &Path) -> (Value, BTreeMap<String, String>) {
    let history = cutover(fleet, &["history", "--json", "--limit", "100"])
        .expect(0)
        .json();
    let applies: Vec<&Value> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "apply")
        .collect();
    assert_eq!(applies.len(), 1, "one shared run: {history:#}");
    let run = applies[0].clone();
    let mut by = BTreeMap::new();
    for c in run["changes"].as_array().unwrap() {
        assert_eq!(c["state"], "written", "{c}");
        let previous = by.insert(
            c["key"].as_str().unwrap().to_owned(),
            c["by"].as_str().unwrap().to_owned(),
        );
        assert!(previous.is_none(), "{} written twice", c["key"]);
    }
    assert_eq!(by.len(), CONNECTIONS);
    (run, by)
}

/// Three workers on one saved plan, the first killed at `failpoint`: the others finish the
/// run; every document is new, written once; a rollback from another host restores all.
fn three_workers_one_killed(server: &postgres::Server, name: &str, failpoint: &str) {
    let url = server.database(name);
    let (source, old, new) = documents();
    let a = host(&url);
    cutover(
        a.path(),
        &["fleet", "import", source.path().to_str().unwrap()],
    )
    .expect(0);
    let plan = a.path().join("plan.json");
    cutover(
        a.path(),
        &["plan", "--all", "--out", plan.to_str().unwrap()],
    )
    .expect(0);
    let (b, c, late) = (host(&url), host(&url), host(&url));
    let plan_arg = plan.to_str().unwrap();
    // Each worker pauses a little after each lease, so that all three take part.
    // The first gets a head start, so that it reaches the failpoint before the others
    // have taken every batch.
    let victim = spawn(
        a.path(),
        &["apply", plan_arg],
        &[
            ("CUTOVER_FAILPOINT", failpoint),
            ("CUTOVER_PAUSE", "worker-leased:150"),
        ],
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pause = [("CUTOVER_PAUSE", "worker-started:800,worker-leased:150")];
    let others = [
        spawn(b.path(), &["apply", plan_arg], &pause),
        spawn(c.path(), &["apply", plan_arg], &pause),
    ];
    // A fourth worker, started on the plan while the run goes, held just before it looks
    // for the plan's run until the run has completed: it comes as the run ends.
    let gates = tempfile::tempdir().unwrap();
    let gate = gates.path().join("late");
    let fourth = spawn(
        late.path(),
        &["apply", plan_arg],
        &[(
            "CUTOVER_GATE",
            &format!("worker-starting:{}", gate.display()),
        )],
    );
    let killed = finish(victim);
    assert_ne!(
        killed.code, 0,
        "{failpoint}: the first worker should have been killed: {}",
        killed.stdout
    );
    for other in others {
        let run = finish(other);
        assert_eq!(
            run.code, 0,
            "{failpoint}: a surviving worker failed:\n{}\n{}",
            run.stdout, run.stderr
        );
    }
    assert_eq!(
        server
            .psql(name, "SELECT status FROM cutover.runs WHERE id = 2")
            .trim(),
        "completed",
        "{failpoint}"
    );
    std::fs::write(&gate, b"").unwrap();
    let fourth = finish(fourth);
    assert_eq!(
        fourth.code, 0,
        "{failpoint}: the worker that came as the run ended:\n{}\n{}",
        fourth.stdout, fourth.stderr
    );
    assert!(
        fourth.stdout.contains("Run 2 applied this plan on")
            && fourth.stdout.contains("nothing to do"),
        "{failpoint}: {}",
        fourth.stdout
    );
    // Another, after the end, on the plan and by the run's id: the same.
    for args in [&["apply", plan_arg][..], &["apply", "--join", "2"][..]] {
        let later = cutover(late.path(), args).expect(0);
        assert!(
            later.stdout.contains("Run 2 applied this plan on")
                && later.stdout.contains("nothing to do"),
            "{failpoint}: {args:?}: {}",
            later.stdout
        );
    }
    assert_eq!(
        server
            .psql(name, "SELECT count(*) FROM cutover.workers")
            .trim(),
        "3",
        "{failpoint}: the late workers never joined a run"
    );
    assert_eq!(exported(a.path()), new, "{failpoint}: every connection new");
    let (run, by) = writes_of_the_run(a.path());
    assert_eq!(run["status"], "completed", "{failpoint}: {run:#}");
    let workers: BTreeSet<&String> = by.values().collect();
    assert!(
        workers.len() >= 2,
        "{failpoint}: the survivors shared the work: {workers:?}"
    );

    // A rollback from a fourth host restores every byte.
    let d = host(&url);
    cutover(d.path(), &["rollback"]).expect(0);
    assert_eq!(exported(d.path()), old, "{failpoint}");
    assert_eq!(old.len(), CONNECTIONS);
}

#[test]
fn a_worker_killed_at_a_batch_boundary_or_inside_a_batch_is_taken_over() {
    if !postgres::available() {
        return;
    }
    let server = postgres::shared();
    for (i, failpoint) in [
        "worker-committed:1",
        "worker-committed:2",
        "worker-committed:3",
        "worker-leased:1",
        "worker-leased:2",
        "worker-leased:3",
        "worker-in-commit:1",
        "worker-in-commit:2",
    ]
    .iter()
    .enumerate()
    {
        three_workers_one_killed(server, &format!("killed_{i}"), failpoint);
    }
}

#[test]
fn workers_started_together_share_one_run() {
    if !postgres::available() {
        return;
    }
    let url = postgres::shared().database("shared_together");
    let (source, _, new) = documents();
    let hosts = [host(&url), host(&url), host(&url)];
    cutover(
        hosts[0].path(),
        &["fleet", "import", source.path().to_str().unwrap()],
    )
    .expect(0);
    // No saved plan: each plans for itself, finds the same plan and joins its run; a late
    // one joins by the run's id.
    // Each waits a while before its first lease, so that both have planned before either
    // writes, and the third has joined.
    let pause = [("CUTOVER_PAUSE", "worker-started:2000,worker-leased:100")];
    let workers: Vec<Child> = hosts[..2]
        .iter()
        .map(|h| spawn(h.path(), &["apply", "--all"], &pause))
        .collect();
    let server = postgres::shared();
    while server
        .psql(
            "shared_together",
            "SELECT count(*) FROM cutover.runs WHERE kind = 'apply'",
        )
        .trim()
        == "0"
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let late = finish(spawn(
        hosts[2].path(),
        &["apply", "--join", "2"],
        &[("CUTOVER_PAUSE", "worker-started:1000,worker-leased:100")],
    ));
    for w in workers {
        let run = finish(w);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains("Worked on shared run 2"),
            "{}",
            run.stdout
        );
    }
    assert!(
        late.code == 0 || late.stderr.contains("nothing left to join"),
        "{}\n{}",
        late.stdout,
        late.stderr
    );
    assert_eq!(exported(hosts[0].path()), new);
    let (run, by) = writes_of_the_run(hosts[0].path());
    assert_eq!(run["id"], 2);
    assert!(by.values().collect::<BTreeSet<_>>().len() >= 2, "{by:?}");
    let live = &run["detail"];
    assert_eq!(live["written"], CONNECTIONS, "{live}");
}

#[test]
fn a_database_restart_in_the_middle_of_an_apply_loses_nothing() {
    if !postgres::available() {
        return;
    }
    // A server of its own: the restart cuts every session.
    let server = postgres::Server::start();
    let url = server.database("restarted");
    let (source, old, new) = documents();
    let (a, b) = (host(&url), host(&url));
    cutover(
        a.path(),
        &["fleet", "import", source.path().to_str().unwrap()],
    )
    .expect(0);
    let plan = a.path().join("plan.json");
    cutover(
        a.path(),
        &["plan", "--all", "--out", plan.to_str().unwrap()],
    )
    .expect(0);
    let workers = [a.path(), b.path()].map(|p| {
        spawn(
            p,
            &["apply", plan.to_str().unwrap()],
            &[("CUTOVER_PAUSE", "worker-leased:300")],
        )
    });
    // In the middle: once both workers work on the run and a batch is written, and before
    // the last is.
    let started = "SELECT (SELECT count(*) FROM cutover.workers) = 2 AND (SELECT count(*) FROM cutover.batches WHERE state = 'done') > 0";
    while server.psql("restarted", started).trim() != "t" {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let open = server.psql(
        "restarted",
        "SELECT count(*) FROM cutover.batches WHERE state <> 'done'",
    );
    assert_ne!(open.trim(), "0", "the run ended before the restart");
    server.restart();
    for w in workers {
        let run = finish(w);
        assert_eq!(
            run.code, 0,
            "a worker did not survive the restart:\n{}\n{}",
            run.stdout, run.stderr
        );
    }
    assert_eq!(exported(a.path()), new);
    let (run, _) = writes_of_the_run(a.path());
    assert_eq!(run["status"], "completed");
    let done_before = run["changes"].as_array().unwrap().len();
    assert_eq!(done_before, CONNECTIONS);
    cutover(b.path(), &["rollback"]).expect(0);
    assert_eq!(exported(b.path()), old);
}

#[test]
fn two_operators_with_different_plans_never_migrate_twice() {
    if !postgres::available() {
        return;
    }
    let url = postgres::shared().database("two_operators");
    let (source, _, new) = documents();
    let (alice, bob) = (host(&url), host(&url));
    cutover(
        alice.path(),
        &["fleet", "import", source.path().to_str().unwrap()],
    )
    .expect(0);
    let alice_plan = alice.path().join("plan.json");
    cutover(
        alice.path(),
        &["plan", "--all", "--out", alice_plan.to_str().unwrap()],
    )
    .expect(0);
    let bob_plan = bob.path().join("plan.json");
    cutover(
        bob.path(),
        &[
            "plan",
            "--opt-in",
            "c001,c002",
            "--out",
            bob_plan.to_str().unwrap(),
        ],
    )
    .expect(0);

    let running = spawn(
        alice.path(),
        &["apply", alice_plan.to_str().unwrap()],
        &[("CUTOVER_PAUSE", "worker-leased:150")],
    );
    let server = postgres::shared();
    while server
        .psql("two_operators", "SELECT count(*) FROM cutover.workers")
        .trim()
        == "0"
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let refused = cutover(bob.path(), &["apply", bob_plan.to_str().unwrap()])
        .expect(2)
        .stderr;
    assert!(
        refused.contains("run 2 (another plan, started by")
            && refused.contains("with workers")
            && refused.contains("--join 2"),
        "{refused}"
    );
    let done = finish(running);
    assert_eq!(done.code, 0, "{}", done.stderr);
    // Bob's plan is stale now: his connections were migrated by Alice's run.
    let stale = cutover(bob.path(), &["apply", bob_plan.to_str().unwrap()])
        .expect(2)
        .stderr;
    assert!(stale.contains("the plan is stale"), "{stale}");
    assert_eq!(exported(alice.path()), new);
    writes_of_the_run(alice.path());
}

/// The documents imported into a new database, a plan of them saved in the first host's
/// folder; the documents' bytes before and after.
type Imported = (
    Fleet,
    std::path::PathBuf,
    BTreeMap<String, Vec<u8>>,
    BTreeMap<String, Vec<u8>>,
);

fn imported_with_plan(url: &str) -> Imported {
    let (source, old, new) = documents();
    let a = host(url);
    cutover(
        a.path(),
        &["fleet", "import", source.path().to_str().unwrap()],
    )
    .expect(0);
    let plan = a.path().join("plan.json");
    cutover(
        a.path(),
        &["plan", "--all", "--out", plan.to_str().unwrap()],
    )
    .expect(0);
    (a, plan, old, new)
}

/// Waits for a worker held at a gate (`CUTOVER_GATE`) to reach it.
fn reached(gate: &Path) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !gate.with_extension("reached").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no worker reached {}",
            gate.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_document_changed_between_read_and_commit_is_a_recorded_failure() {
    if !postgres::available() {
        return;
    }
    let server = postgres::shared();
    let url = server.database("conflict");
    let (a, plan, _, _) = imported_with_plan(&url);
    // The worker holds its first batch, read and migrated, just before it commits it;
    // meanwhile someone else changes one of its documents.
    let gates = tempfile::tempdir().unwrap();
    let gate = gates.path().join("commit");
    let worker = spawn(
        a.path(),
        &["apply", plan.to_str().unwrap()],
        &[(
            "CUTOVER_GATE",
            &format!("worker-committing:{}", gate.display()),
        )],
    );
    reached(&gate);
    let changed = server.psql(
        "conflict",
        "SELECT connection_id || ' ' || key FROM cutover.run_items WHERE run_id = 2 AND batch = 0 ORDER BY seq LIMIT 1",
    );
    let (id, key) = changed.trim().split_once(' ').unwrap();
    server.psql(
        "conflict",
        &format!(
            "UPDATE cutover.documents SET body = body || '\\x0a'::bytea, sha256 = encode(sha256(body || '\\x0a'::bytea), 'hex') WHERE key = '{key}'"
        ),
    );
    std::fs::write(&gate, b"").unwrap();
    let run = finish(worker);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("this worker wrote 59 connection(s), 1 failed")
            && run
                .stdout
                .contains("is partial: 59 of 60 connection(s) written, 1 failed"),
        "the worker and the run agree: {}",
        run.stdout
    );
    // The conditional write held: the document keeps what the other writer wrote.
    assert_eq!(
        server
            .psql(
                "conflict",
                &format!("SELECT right(encode(body, 'hex'), 2) FROM cutover.documents WHERE key = '{key}'")
            )
            .trim(),
        "0a"
    );
    // The run's totals, the workers' and the ledger's rows say the same.
    let totals = server.psql(
        "conflict",
        "SELECT (SELECT status || ' ' || (detail->>'written') || ' ' || (detail->>'failed') FROM cutover.runs WHERE id = 2),
                (SELECT sum(written) || ' ' || sum(failed) FROM cutover.workers WHERE run_id = 2),
                (SELECT count(*) FILTER (WHERE state = 'written') || ' ' || count(*) FILTER (WHERE state = 'failed') FROM cutover.changes WHERE run_id = 2)",
    );
    assert_eq!(totals.trim(), "partial 59 1|59 1|59 1");
    let history = cutover(a.path(), &["history", "--connection", id, "--json"])
        .expect(0)
        .json();
    // The import that brought it in, and the run that failed it.
    let run = history
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == 2)
        .unwrap_or_else(|| panic!("the run is in the connection's history: {history:#}"));
    let change = &run["changes"][0];
    assert_eq!(change["state"], "failed", "{change}");
    assert!(
        change["error"]
            .as_str()
            .unwrap()
            .contains("changed since it was read"),
        "{change}"
    );
}

#[test]
fn workers_starting_while_the_server_restarts_wait_for_it() {
    if !postgres::available() {
        return;
    }
    // A server of its own: the restart cuts every session.
    let server = postgres::Server::start();
    let url = server.database("restarted_at_start");
    let (a, plan, old, new) = imported_with_plan(&url);
    let b = host(&url);
    let plan_arg = plan.to_str().unwrap();
    // One worker has connected and is about to check the fleet's schema; the other has
    // opened the fleet and is about to look for the plan's run. The server restarts under
    // both.
    let gates = tempfile::tempdir().unwrap();
    let (opening, looking) = (gates.path().join("opening"), gates.path().join("looking"));
    let workers = [
        spawn(
            a.path(),
            &["apply", plan_arg],
            &[(
                "CUTOVER_GATE",
                &format!("fleet-connected:{}", opening.display()),
            )],
        ),
        spawn(
            b.path(),
            &["apply", plan_arg],
            &[(
                "CUTOVER_GATE",
                &format!("worker-starting:{}", looking.display()),
            )],
        ),
    ];
    reached(&opening);
    reached(&looking);
    server.restart();
    std::fs::write(&opening, b"").unwrap();
    std::fs::write(&looking, b"").unwrap();
    for w in workers {
        let run = finish(w);
        assert_eq!(
            run.code, 0,
            "a worker did not wait out the restart:\n{}\n{}",
            run.stdout, run.stderr
        );
        assert!(run.stderr.contains("lost the database"), "{}", run.stderr);
        assert!(
            !run.stderr.contains("db error;") && !run.stderr.contains("db error)"),
            "a warning without the server's words: {}",
            run.stderr
        );
    }
    assert_eq!(exported(a.path()), new);
    let (run, by) = writes_of_the_run(a.path());
    assert_eq!(run["status"], "completed");
    assert_eq!(by.len(), CONNECTIONS);
    cutover(b.path(), &["rollback"]).expect(0);
    assert_eq!(exported(b.path()), old);
}

#[test]
fn status_and_refusals_judge_workers_by_their_lease() {
    if !postgres::available() {
        return;
    }
    let server = postgres::shared();
    let url = server.database("liveness");
    let (alice, plan, _, _) = imported_with_plan(&url);
    let bob = host(&url);
    let bob_plan = bob.path().join("plan.json");
    cutover(
        bob.path(),
        &[
            "plan",
            "--opt-in",
            "c001,c002",
            "--out",
            bob_plan.to_str().unwrap(),
        ],
    )
    .expect(0);
    let gates = tempfile::tempdir().unwrap();
    let gate = gates.path().join("commit");
    let mut worker = spawn(
        alice.path(),
        &["apply", plan.to_str().unwrap()],
        &[(
            "CUTOVER_GATE",
            &format!("worker-committing:{}", gate.display()),
        )],
    );
    reached(&gate);
    // Held, but alive: it renews its heartbeat.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let status = cutover(bob.path(), &["status"]).expect(0).stdout;
    assert!(
        status.contains("Run 2 (apply) is going") && status.contains(" · working · "),
        "{status}"
    );
    let refused = cutover(bob.path(), &["apply", bob_plan.to_str().unwrap()])
        .expect(2)
        .stderr;
    assert!(refused.contains("with workers"), "{refused}");

    // Killed: after its 2-second lease (not a minute) it is gone, to whoever asks.
    worker.kill().unwrap();
    worker.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    let status = cutover(bob.path(), &["status"]).expect(0).stdout;
    assert!(
        status.contains("gone (silent for longer than its 2 s lease")
            && !status.contains(" · working · "),
        "{status}"
    );
    let refused = cutover(bob.path(), &["apply", bob_plan.to_str().unwrap()])
        .expect(2)
        .stderr;
    assert!(
        refused.contains("has no live worker") && refused.contains("--join"),
        "{refused}"
    );
    // Its batch is taken over by whoever joins.
    let joined = cutover(alice.path(), &["apply", "--join", "2"]).expect(0);
    assert!(
        joined.stdout.contains("Run 2 is completed"),
        "{}",
        joined.stdout
    );
    writes_of_the_run(alice.path());
}

#[test]
fn workers_started_together_on_a_saved_plan_check_it_once() {
    if !postgres::available() {
        return;
    }
    let server = postgres::shared();
    let url = server.database("checked_once");
    let (a, plan, _, new) = imported_with_plan(&url);
    let hosts = [host(&url), host(&url)];
    let plan_arg = plan.to_str().unwrap();
    // Each worker would stop at a gate of its own as it starts checking the plan.
    let gates = tempfile::tempdir().unwrap();
    let gate: Vec<std::path::PathBuf> = (0..3)
        .map(|i| gates.path().join(format!("check{i}")))
        .collect();
    let paths = [a.path(), hosts[0].path(), hosts[1].path()];
    let workers: Vec<Child> = paths
        .iter()
        .zip(&gate)
        .map(|(p, g)| {
            spawn(
                p,
                &["apply", plan_arg],
                &[("CUTOVER_GATE", &format!("plan-checking:{}", g.display()))],
            )
        })
        .collect();
    // One checks; the two others wait for its check's lock.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while server
        .psql(
            "checked_once",
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .trim()
        != "2"
    {
        assert!(std::time::Instant::now() < deadline, "two workers waiting");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let checking: Vec<&std::path::PathBuf> = gate
        .iter()
        .filter(|g| g.with_extension("reached").exists())
        .collect();
    assert_eq!(checking.len(), 1, "one worker checks the plan");
    for g in &gate {
        std::fs::write(g, b"").unwrap();
    }
    for w in workers {
        let run = finish(w);
        assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    }
    assert_eq!(
        gate.iter()
            .filter(|g| g.with_extension("reached").exists())
            .count(),
        1,
        "the others joined the run without checking the plan"
    );
    assert_eq!(
        server
            .psql(
                "checked_once",
                "SELECT count(*) FROM cutover.workers WHERE run_id = 2"
            )
            .trim(),
        "3"
    );
    assert_eq!(exported(a.path()), new);
    writes_of_the_run(a.path());
}
