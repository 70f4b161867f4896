//! A fleet in PostgreSQL against the same fleet in a directory, measured side by side in one
//! run: a durable apply (`cutover apply plan.json`, as an operator runs it) of small
//! source-pinterest connections with the real 2.0.0 plugin, by the directory store and by
//! 1, 2 and 4 workers sharing one run on a PostgreSQL server that flushes every commit,
//! all started on the saved plan at once; with how long the plan's check took before the
//! run started, the CPU time of the workers and of the server (where the time goes), and
//! each worker's peak memory; and the cost of leasing and committing a batch alone.
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

/// What a worker used, once it has ended: its peak resident memory in MiB and its CPU
/// time (user + system) in seconds.
struct Used {
    rss: f64,
    cpu: f64,
}

/// A process's CPU time so far (user + system, its own and its reaped children's if
/// `children`), in seconds, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: u32, children: bool) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    // utime, stime, cutime, cstime are fields 14-17 of stat, 12-15 after the name.
    let mut total = ticks(11)? + ticks(12)?;
    if children {
        total += ticks(13)? + ticks(14)?;
    }
    // USER_HZ is 100 on Linux.
    Some(total / 100.0)
}

/// The CPU time of the PostgreSQL server so far, in seconds: the postmaster's with its
/// reaped children's (the sessions of workers that ended) and its live children's.
fn server_cpu(server: &postgres::Server) -> f64 {
    let pidfile = server.socket_dir().join("data/postmaster.pid");
    let Some(postmaster) = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
    else {
        return 0.0;
    };
    let mut total = cpu_seconds(postmaster, true).unwrap_or(0.0);
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let parent = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_owned))
            })
            .and_then(|p| p.parse::<u32>().ok());
        if parent == Some(postmaster) {
            total += cpu_seconds(pid, false).unwrap_or(0.0);
        }
    }
    total
}

/// A worker, watched from the moment it starts: its peak resident memory and CPU time
/// once it has ended. Read from `/proc` while it runs (`VmHWM`, `stat`), not from its exit
/// status: a child spawned by this process counts this process's memory in its own peak
/// until it execs. The CPU time is the last reading before it ended (within 5 ms).
fn watch(mut child: Child) -> std::thread::JoinHandle<Used> {
    std::thread::spawn(move || {
        let status = format!("/proc/{}/status", child.id());
        let mut used = Used { rss: 0.0, cpu: 0.0 };
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
                used.rss = used.rss.max(kib / 1024.0);
            }
            if let Some(cpu) = cpu_seconds(child.id(), false) {
                used.cpu = used.cpu.max(cpu);
            }
            if let Some(exit) = child.try_wait().unwrap() {
                if !exit.success() {
                    let mut err = String::new();
                    if let Some(mut stderr) = child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
                    }
                    panic!("a worker failed ({exit}): {err}");
                }
                return used;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    })
}

fn wait(worker: std::thread::JoinHandle<Used>) -> Used {
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
        "{:<34} {:>9} {:>14} {:>8} {:>9} {:>9} {:>9} {:>7} {:>22}",
        "durable apply",
        "time",
        "connections/s",
        "÷ dir",
        "check",
        "cpu wkrs",
        "cpu db",
        "busy",
        "peak RSS/worker (MiB)"
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
        let used = wait(watch(spawn(&copy, &["apply", plan.to_str().unwrap()])));
        let directory = start.elapsed();
        row(
            &format!("directory, {n}"),
            n,
            Measured {
                took: directory,
                check: None,
                workers_cpu: used.cpu,
                db_cpu: 0.0,
            },
            directory,
            &[used.rss],
        );

        for workers in [1, 2, 4] {
            let database = format!("bench_{n}_{workers}");
            let url = server.database(&database);
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
            // Every worker starts on the saved plan at once, as a team would start it on
            // several hosts: one checks the plan and starts its run, the others wait for
            // that run and join it.
            let db_before = server_cpu(&server);
            let start = Instant::now();
            let watched: Vec<_> = hosts
                .iter()
                .map(|h| watch(spawn(h.path(), &["apply", plan.to_str().unwrap()])))
                .collect();
            while server
                .psql(
                    &database,
                    "SELECT count(*) FROM cutover.runs WHERE kind = 'apply'",
                )
                .trim()
                == "0"
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            let check = start.elapsed();
            let used: Vec<Used> = watched.into_iter().map(wait).collect();
            let took = start.elapsed();
            let db_cpu = server_cpu(&server) - db_before;
            let written = server.psql(
                &database,
                "SELECT count(*) FROM cutover.changes WHERE run_id = 2 AND state = 'written'",
            );
            assert_eq!(
                written.trim(),
                n.to_string(),
                "every connection written once"
            );
            // The database goes once measured: the next configuration needs the disk.
            server.psql("postgres", &format!("DROP DATABASE \"{database}\""));
            let rss: Vec<f64> = used.iter().map(|u| u.rss).collect();
            row(
                &format!("PostgreSQL, {workers} worker(s), {n}"),
                n,
                Measured {
                    took,
                    check: Some(check),
                    workers_cpu: used.iter().map(|u| u.cpu).sum(),
                    db_cpu,
                },
                directory,
                &rss,
            );
        }
    }
    lease_overhead(&server);
}

/// One apply, measured: its time, how long the plan's check took before the run started
/// (a shared run), and the CPU time its workers and the database server used.
struct Measured {
    took: Duration,
    check: Option<Duration>,
    workers_cpu: f64,
    db_cpu: f64,
}

/// A row of the table; "busy" is how many cores the apply kept busy on average (workers'
/// and server's CPU time over the time taken): near the machine's core count, more workers
/// cannot go faster.
fn row(what: &str, n: usize, m: Measured, directory: Duration, rss: &[f64]) {
    let rss: Vec<String> = rss.iter().map(|r| format!("{r:.0}")).collect();
    let took = m.took.as_secs_f64();
    println!(
        "{what:<34} {:>8.2}s {:>14.0} {:>7.2}x {:>9} {:>8.1}s {:>8.1}s {:>7.2} {:>22}",
        took,
        n as f64 / took,
        took / directory.as_secs_f64(),
        m.check
            .map(|c| format!("{:.2}s", c.as_secs_f64()))
            .unwrap_or_else(|| "-".into()),
        m.workers_cpu,
        m.db_cpu,
        (m.workers_cpu + m.db_cpu) / took,
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
    use cutover::write::shared::{Committed, Next, Start, Started};
    let url = server.database("bench_lease");
    let settings = cutover::store::postgres::settings::StoreSettings {
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
    let Started::Working(mut worker) = pg
        .worker(Start::Plan {
            plan: &plan,
            checked: true,
        })
        .unwrap()
    else {
        panic!("a new run of the plan");
    };
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
