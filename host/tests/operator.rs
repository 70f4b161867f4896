//! What an operator meets first at a shell: who the ledger says ran a command when the
//! environment names nobody, a reader that goes away mid-output, and what a run that wrote
//! nothing tells them to do next.

use std::io::Read;
use std::process::{Command, Stdio};

use cutover_tests::{Fleet, Run, hostile_connection};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

fn cutover(fleet: &Fleet, args: &[&str]) -> Run {
    cutover_tests::cutover(BIN, fleet.path(), args)
}

/// The account the tests run as, by `id -un`: a witness apart from cutover's own lookup.
fn account() -> String {
    let out = Command::new("id")
        .arg("-un")
        .output()
        .expect("running id -un");
    assert!(out.status.success(), "id -un failed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn the_ledger_names_the_account_when_the_environment_names_nobody() {
    let fleet = Fleet::example();
    // As cron or a container runs it: no USER, no LOGNAME.
    let out = Command::new(BIN)
        .arg("--fleet")
        .arg(fleet.path())
        .args(["apply", "--all"])
        .env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("RUST_LOG")
        .output()
        .expect("running cutover");
    let run = Run::from(out).expect(0);
    assert!(run.stdout.contains("Applied run 1"), "{}", run.stdout);

    let history = cutover(&fleet, &["history", "--json"]).expect(0).json();
    let actor = history[0]["actor"].as_str().expect("the run's actor");
    let user = actor.split('@').next().unwrap();
    assert_eq!(
        user,
        account(),
        "the run is recorded by its account: {actor}"
    );
    assert!(!actor.starts_with("unknown@"), "{actor}");

    // A USER that says otherwise does not change who the ledger names.
    let out = Command::new(BIN)
        .arg("--fleet")
        .arg(fleet.path())
        .args(["rollback"])
        .env("USER", "somebody-else")
        .env_remove("RUST_LOG")
        .output()
        .expect("running cutover");
    Run::from(out).expect(0);
    let history = cutover(&fleet, &["history", "--json"]).expect(0).json();
    let actor = history[0]["actor"].as_str().unwrap();
    assert_eq!(history[0]["kind"], "rollback");
    assert_eq!(actor.split('@').next().unwrap(), account(), "{actor}");
}

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly() {
    let fleet = Fleet::example();
    cutover(&fleet, &["apply", "--all"]).expect(0);
    cutover(&fleet, &["rollback"]).expect(0);
    cutover(&fleet, &["apply", "--all"]).expect(0);
    // Enough history that it does not fit a pipe's buffer in one write.
    let full = cutover(&fleet, &["history"]).expect(0).stdout;
    assert!(full.lines().count() > 10, "{full}");

    for args in [
        &["history"][..],
        &["plan"],
        &["status"],
        &["history", "--json"],
    ] {
        let mut child = Command::new(BIN)
            .arg("--fleet")
            .arg(fleet.path())
            .args(args)
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting cutover");
        // `| head -c 1`: read one byte, then go away before cutover has said everything.
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 1];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout);
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.trim().is_empty(), "{args:?} says nothing: {stderr}");
        // It either finished before noticing (0) or ended as SIGPIPE would have (141).
        assert!(
            matches!(status.code(), Some(0) | Some(141)),
            "{args:?}: {status}"
        );
    }
}

#[test]
fn a_run_that_wrote_nothing_does_not_offer_a_rollback() {
    let fleet = Fleet::new(
        "[connectors.\"test/source-hostile\"]\ntarget = \"2.0.0\"\n\n[limits]\ntimeout_ms = 2000\n",
    );
    fleet.add_plugin("hostile-plugin");
    fleet.write(&hostile_connection("panics", "panic"));
    fleet.write(&hostile_connection("refuses", "refuse"));
    let before = fleet.documents();

    let run = cutover(&fleet, &["apply", "--all"]).expect(1);
    assert!(
        run.stdout.contains("0 connection(s) written"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("cutover rollback"),
        "nothing to roll back: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("nothing to roll back"),
        "{}",
        run.stdout
    );
    assert_eq!(fleet.documents(), before);

    // A run that did write still says how to undo it.
    fleet.write(&hostile_connection("behaves", "none"));
    let run = cutover(&fleet, &["apply", "--all"]).expect(1);
    assert!(
        run.stdout.contains("1 connection(s) written"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("`cutover rollback --run"),
        "{}",
        run.stdout
    );
}
