//! A fleet in PostgreSQL against the same fleet in a directory, measured side by side in one
//! run: a durable apply (`cutover apply plan.json`, as an operator runs it) of small
//! source-pinterest connections with the real 2.0.0 plugin, by the directory store and by
//! 1, 2 and 4 workers sharing one run on a PostgreSQL server that flushes every commit,
//! with each worker's peak memory; and the cost of leasing and committing a batch alone.
//!
//! `cargo bench -p cutover --bench shared` runs 10k and 100k connections; arguments choose
//! sizes (`-- 10000`). It needs PostgreSQL's server programs (see tests/support/postgres.rs).

use cutover_tests::postgres;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

fn cutover(fleet: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .arg("--fleet")
        .arg(fleet)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cutover {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn spawn(fleet: &Path, args: &[&str]) -> Child {
    Command::new(BIN)
        .arg("--fleet")
        .arg(fleet)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A worker, watched from the moment it starts: its peak resident memory in MiB once it
/// has ended. Read from `/proc` while it runs (`VmHWM`), not from its exit status: a child
/// spawned by this process counts this process's memory in its own peak until it execs.
fn watch(mut child: Child) -> std::thread::JoinHandle<f64> {
    std::thread::spawn(move || {
        let status = format!("/proc/{}/status", child.id());
        let mut peak = 0.0f64;
        loop {
            if let Some(kib) = std::fs::read_to_string(&status)
                .ok()
                .and_then(|s| {
                    s.lines().find_map(|l| {
                        l.strip_prefix("VmHWM:")
                            .map(|v| v.trim().trim_end_matches("kB").trim().to_owned())
                    })
                })
                .and_then(|v| v.parse::<f64>().ok())
            {
                peak = peak.max(kib / 1024.0);
            }
            if let Some(exit) = child.try_wait().unwrap() {
                assert!(exit.success(), "a worker failed ({exit})");
                return peak;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    })
}

fn wait(worker: std::thread::JoinHandle<f64>) -> f64 {
    worker.join().expect("a watcher panicked")
}

/// A host of the PostgreSQL fleet: the directory fleet's settings and plugin, and the
/// database; its compile cache warmed.
fn host(source: &Path, url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    std::fs::copy(
        source.join("plugins/source_pinterest_v2.wasm"),
        dir.path().join("plugins/source_pinterest_v2.wasm"),
    )
    .unwrap();
    let settings = std::fs::read_to_string(source.join("cutover.toml")).unwrap();
    std::fs::write(
        dir.path().join("cutover.toml"),
        format!("{settings}\n[store]\nurl = {url:?}\n"),
    )
    .unwrap();
    dir
}

fn main() {
    if !postgres::available() {
        return;
    }
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let server = postgres::Server::start_durable();
    println!(
        "{:<34} {:>10} {:>14} {:>10} {:>22}",
        "durable apply", "time", "connections/s", "÷ dir", "peak RSS/worker (MiB)"
    );
    for n in [10_000, 100_000]
        .into_iter()
        .filter(|n| sizes.is_empty() || sizes.contains(n))
    {
        let source = cutover_tests::small_pinterest_fleet(n);
        // The directory store, as it ships.
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("fleet");
        copy_fleet(source.path(), &copy);
        let plan = copy.join("plan.json");
        cutover(&copy, &["plan", "--all", "--out", plan.to_str().unwrap()]);
        let start = Instant::now();
        let rss = wait(watch(spawn(&copy, &["apply", plan.to_str().unwrap()])));
        let directory = start.elapsed();
        row(&format!("directory, {n}"), n, directory, directory, &[rss]);

        for workers in [1, 2, 4] {
            let url = server.database(&format!("bench_{n}_{workers}"));
            let hosts: Vec<tempfile::TempDir> =
                (0..workers).map(|_| host(source.path(), &url)).collect();
            cutover(
                hosts[0].path(),
                &["fleet", "import", source.path().to_str().unwrap()],
            );
            let plan = hosts[0].path().join("plan.json");
            cutover(
                hosts[0].path(),
                &["plan", "--all", "--out", plan.to_str().unwrap()],
            );
            for h in &hosts[1..] {
                cutover(h.path(), &["plan", "--all", "--only", "c000000"]); // warms its compile cache
            }
            let start = Instant::now();
            let first = watch(spawn(hosts[0].path(), &["apply", plan.to_str().unwrap()]));
            // The others join the run once the first has checked the plan and started it.
            while server
                .psql(
                    &format!("bench_{n}_{workers}"),
                    "SELECT count(*) FROM cutover.runs WHERE kind = 'apply'",
                )
                .trim()
                == "0"
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            let others: Vec<_> = hosts[1..]
                .iter()
                .map(|h| watch(spawn(h.path(), &["apply", "--join", "2"])))
                .collect();
            let mut rss = vec![wait(first)];
            rss.extend(others.into_iter().map(wait));
            let took = start.elapsed();
            let written = server.psql(
                &format!("bench_{n}_{workers}"),
                "SELECT count(*) FROM cutover.changes WHERE run_id = 2 AND state = 'written'",
            );
            assert_eq!(
                written.trim(),
                n.to_string(),
                "every connection written once"
            );
            row(
                &format!("PostgreSQL, {workers} worker(s), {n}"),
                n,
                took,
                directory,
                &rss,
            );
        }
    }
    lease_overhead(&server);
}

fn row(what: &str, n: usize, took: Duration, directory: Duration, rss: &[f64]) {
    let rss: Vec<String> = rss.iter().map(|r| format!("{r:.0}")).collect();
    println!(
        "{what:<34} {took:>10.2?} {:>14.0} {:>9.2}x {:>22}",
        n as f64 / took.as_secs_f64(),
        took.as_secs_f64() / directory.as_secs_f64(),
        rss.join(" / ")
    );
}

fn copy_fleet(from: &Path, to: &Path) {
    for sub in ["connections", "plugins"] {
        std::fs::create_dir_all(to.join(sub)).unwrap();
        for e in std::fs::read_dir(from.join(sub)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(sub).join(e.file_name())).unwrap();
        }
    }
    std::fs::copy(from.join("cutover.toml"), to.join("cutover.toml")).unwrap();
}

/// Leasing and committing a batch with nothing in it: what a shared run costs per batch
/// beyond the writes themselves.
fn lease_overhead(server: &postgres::Server) {
    use cutover::plan::{ConnectionPlan, Status};
    use cutover::store::postgres::work::{Committed, Next, Start};
    let url = server.database("bench_lease");
    let settings = cutover::settings::StoreSettings {
        url: Some(url.clone()),
        ..Default::default()
    };
    let pg = cutover::store::postgres::PgFleet::connect(&url, &settings).unwrap();
    let batches = 400;
    let connections: Vec<ConnectionPlan> = (0..batches * pg.batch_size())
        .map(|i| {
            ConnectionPlan::of_item(
                format!("c{i:06}"),
                format!("c{i:06}"),
                Status::Migrate,
                "0".repeat(64),
                Some("1".repeat(64)),
            )
        })
        .collect();
    let plan = cutover::plan::Plan {
        format: cutover::plan::FORMAT.into(),
        cutover_version: String::new(),
        fleet: "bench".into(),
        options: Default::default(),
        plugins: Vec::new(),
        connections,
    };
    let mut worker = pg.worker(Start::Plan(&plan)).unwrap();
    let start = Instant::now();
    let mut done = 0;
    while let Next::Lease(lease) = worker.next(&[]).unwrap() {
        assert!(matches!(
            worker.commit(&lease, &[], &[]).unwrap(),
            Committed::Done(_)
        ));
        done += 1;
    }
    let took = start.elapsed();
    worker.finish().unwrap();
    println!(
        "\nlease + commit of an empty batch: {:.2?} per batch ({done} batches of {}; {:.1} µs per connection)",
        took / done,
        pg.batch_size(),
        took.as_secs_f64() * 1e6 / (done * pg.batch_size() as u32) as f64
    );
}
