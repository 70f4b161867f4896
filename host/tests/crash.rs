//! Crash consistency: an apply (and a rollback) killed with SIGKILL at every step boundary
//! of a journaled write leaves every connection old or new, never partial; rerunning
//! converges, the ledger agrees with the files, and rollback restores every byte.

use cutover_tests::{Fleet, Run, hostile_connection};
use serde_json::Value;
use std::collections::BTreeMap;

/// More than one batch, so a kill can land in a batch that reuses the files the one
/// before it replaced.
const CONNECTIONS: usize = cutover::ground::BATCH + 44;

fn cutover(fleet: &Fleet, args: &[&str], failpoint: Option<&str>) -> Run {
    let env: Vec<(&str, &str)> = failpoint
        .map(|f| ("CUTOVER_FAILPOINT", f))
        .into_iter()
        .collect();
    cutover_tests::cutover_with_env(env!("CARGO_BIN_EXE_cutover"), fleet.path(), args, &env)
}

fn fleet() -> Fleet {
    let fleet = Fleet::new("[connectors.\"test/source-hostile\"]\ntarget = \"2.0.0\"\n");
    fleet.add_plugin("hostile-plugin");
    for i in 0..CONNECTIONS {
        fleet.write(&hostile_connection(&format!("c{i:03}"), "none"));
    }
    fleet
}

/// Every document is exactly the old bytes or exactly the planned new bytes.
fn old_or_new(
    fleet: &Fleet,
    old: &BTreeMap<String, Vec<u8>>,
    new: &BTreeMap<String, Vec<u8>>,
) -> (usize, usize) {
    let (mut olds, mut news) = (0, 0);
    for (file, bytes) in fleet.documents() {
        if bytes == old[&file] {
            olds += 1;
        } else if bytes == new[&file] {
            news += 1;
        } else {
            panic!("{file} is neither old nor new");
        }
    }
    (olds, news)
}

/// The ledger agrees with the files: no write left pending, every write in force matches.
fn ledger_consistent(fleet: &Fleet) {
    let history = cutover(fleet, &["history", "--limit", "100", "--json"], None)
        .expect(0)
        .json();
    let docs = fleet.documents();
    let mut in_force: BTreeMap<String, String> = BTreeMap::new();
    for run in history.as_array().unwrap().iter().rev() {
        assert_ne!(
            run["status"], "running",
            "run {} still marked running",
            run["id"]
        );
        for c in run["changes"].as_array().unwrap() {
            assert_ne!(c["state"], "intent", "change {} left pending", c["id"]);
            if c["state"] == "written" {
                in_force.insert(
                    format!("{}.json", c["key"].as_str().unwrap()),
                    c["after_sha256"].as_str().unwrap().to_owned(),
                );
            }
        }
    }
    for (file, sha) in in_force {
        assert_eq!(
            cutover_tests::sha256(&docs[&file]),
            sha,
            "{file} does not hold what the ledger says was written"
        );
    }
}

fn expected_new() -> BTreeMap<String, Vec<u8>> {
    let reference = fleet();
    cutover(&reference, &["apply", "--all"], None).expect(0);
    reference.documents()
}

#[test]
fn apply_killed_at_every_boundary_converges() {
    let new = expected_new();
    for point in ["after-intent", "after-write"] {
        for n in [1, CONNECTIONS / 2, cutover::ground::BATCH + 10, CONNECTIONS] {
            let fleet = fleet();
            let old = fleet.documents();
            let spec = format!("{point}:{n}");
            let killed = cutover(&fleet, &["apply", "--all"], Some(&spec));
            assert_ne!(
                killed.code, 0,
                "{spec}: the process should have been killed"
            );
            let (_, written) = old_or_new(&fleet, &old, &new);
            // Intents are committed a batch at a time: a kill after the nth intent leaves
            // the batches before its own written, and nothing of its own.
            let batch = cutover::ground::BATCH;
            let expect = if point == "after-write" {
                n
            } else {
                (n - 1) / batch * batch
            };
            assert_eq!(written, expect, "{spec}");

            // The next run settles the journal and finishes the job.
            let out = cutover(&fleet, &["apply", "--all"], None).expect(0).stdout;
            // A batch's intents are committed together, so the whole batch is settled.
            assert!(
                out.contains("write(s) of an interrupted run first") && out.starts_with("Settled "),
                "{spec}: {out}"
            );
            assert_eq!(old_or_new(&fleet, &old, &new), (0, CONNECTIONS), "{spec}");
            assert!(
                fleet.strays().is_empty(),
                "{spec}: the rerun removes what the killed one left: {:?}",
                fleet.strays()
            );
            ledger_consistent(&fleet);
            let history = cutover(&fleet, &["history", "--json"], None)
                .expect(0)
                .json();
            let interrupted = history
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["status"] == "interrupted")
                .count();
            assert_eq!(
                interrupted, 1,
                "{spec}: the killed run is marked interrupted"
            );

            // Rolling back every run that wrote (the killed one, the rerun) restores every byte.
            let runs_that_wrote = usize::from(written > 0) + usize::from(written < CONNECTIONS);
            for _ in 0..runs_that_wrote {
                cutover(&fleet, &["rollback"], None).expect(0);
            }
            assert_eq!(
                fleet.documents(),
                old,
                "{spec}: rollback must restore every byte"
            );
            ledger_consistent(&fleet);
        }
    }
}

#[test]
fn rollback_killed_midway_finishes_on_rerun() {
    let fleet = fleet();
    let old = fleet.documents();
    cutover(&fleet, &["apply", "--all"], None).expect(0);
    let new = fleet.documents();
    for spec in ["after-intent:40", "after-write:80"] {
        let killed = cutover(&fleet, &["rollback"], Some(spec));
        assert_ne!(killed.code, 0, "{spec}");
        old_or_new(&fleet, &old, &new);
        cutover(&fleet, &["rollback"], None).expect(0);
        assert_eq!(fleet.documents(), old, "{spec}");
        ledger_consistent(&fleet);
        cutover(&fleet, &["apply", "--all"], None).expect(0);
        assert_eq!(fleet.documents(), new);
    }
}

#[test]
fn a_second_run_is_refused_while_the_first_holds_the_lock() {
    let fleet = fleet();
    // Hold the lock the way a running apply does: an exclusive lock on .cutover/lock.
    std::fs::create_dir_all(fleet.path().join(".cutover")).unwrap();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(fleet.path().join(".cutover/lock"))
        .unwrap();
    file.lock().unwrap();
    std::fs::write(
        fleet.path().join(".cutover/lock"),
        "pid 4242 · ops@warehouse · `cutover apply` · since now\n",
    )
    .unwrap();
    let before = fleet.documents();
    let err = cutover(&fleet, &["apply", "--all"], None).expect(2).stderr;
    assert!(
        err.contains("locked by another cutover run (pid 4242 · ops@warehouse"),
        "{err}"
    );
    assert_eq!(fleet.documents(), before);
    drop(file);
    cutover(&fleet, &["apply", "--all"], None).expect(0);
    let _: Value = cutover(&fleet, &["history", "--json"], None)
        .expect(0)
        .json();
}
