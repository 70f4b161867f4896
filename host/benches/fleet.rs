//! Fleet throughput: planning and applying fleets of small source-pinterest 1.3.3
//! connections (2 streams, about 1 KB each) with the real 2.0.0 plugin, on every core.
//!
//! `cargo bench -p cutover --bench fleet` prints connections per second for planning at
//! 1k, 10k and 100k connections with the peak memory of the process so far, and for a
//! durable apply (journal with snapshots, atomic writes, flushes shared per batch) at 1k
//! and 10k.
//!
//! `flood` plans 1,000 connections of the hostile test plugin with and without four of them
//! flooding the host (a million actions, 200,000 notes, 20 MiB of action text, 5,000
//! actions), under the default output limits and with the limits raised out of the way:
//! what the limits save the rest of the fleet.
//!
//! Arguments choose what runs: `plan`, `apply`, `cold`, `flood` and fleet sizes (`1000`,
//! `10000`, `100000`), for example `cargo bench -p cutover --bench fleet -- plan 10000`; none
//! runs all.

use cutover::fleet::Fleet;
use cutover::plan::{Options, Planner};
use cutover::registry::Registry;
use cutover::sandbox::Sandbox;
use cutover_tests::measure::{self, ColdStart, cpu_time};
use std::time::Instant;

/// Starts a new peak-memory measurement (Linux: resets `VmHWM` to the current RSS).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's peak resident memory since the last reset, in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// What the arguments ask to run (`cargo bench` itself passes `--bench`, which is ignored).
struct Chosen(Vec<String>);

impl Chosen {
    fn from_args() -> Self {
        Self(
            std::env::args()
                .skip(1)
                .filter(|a| !a.starts_with("--"))
                .collect(),
        )
    }

    fn part(&self, name: &str) -> bool {
        let parts = ["plan", "apply", "cold", "flood"];
        !self.0.iter().any(|a| parts.contains(&a.as_str())) || self.0.iter().any(|a| a == name)
    }

    fn size(&self, n: usize) -> bool {
        let sizes: Vec<usize> = self.0.iter().filter_map(|a| a.parse().ok()).collect();
        sizes.is_empty() || sizes.contains(&n)
    }
}

fn main() {
    let chosen = Chosen::from_args();
    let options = Options {
        all: true,
        ..Options::default()
    };
    println!(
        "{:<24} {:>12} {:>16} {:>16} {:>16}",
        "fleet", "time", "connections/s", "CPU µs/conn", "peak RSS (MiB)"
    );
    let row = |what: String, n: usize, took: std::time::Duration, cpu: std::time::Duration| {
        println!(
            "{what:<24} {took:>12.2?} {:>16.0} {:>16.1} {:>16.1}",
            n as f64 / took.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / n as f64,
            peak_rss_mib()
        );
    };
    for n in [1_000, 10_000, 100_000]
        .into_iter()
        .filter(|n| chosen.size(*n))
    {
        let dir = cutover_tests::small_pinterest_fleet(n);
        let fleet = Fleet::open(dir.path()).unwrap();
        let sandbox = Sandbox::new(fleet.settings.limits.clone()).unwrap();
        let registry =
            Registry::load(&fleet.plugins_dir(), &sandbox, &fleet.settings.trust, None).unwrap();
        let planner = Planner {
            fleet: &fleet,
            registry: &registry,
            sandbox: &sandbox,
            options: &options,
            run_plugins: true,
        };
        // As `cutover plan` does: each connection's plan is handed on (here: counted) and let go.
        if chosen.part("plan") {
            reset_peak_rss();
            let (start, cpu) = (Instant::now(), cpu_time());
            let selection = planner.select().unwrap();
            let summary = planner.summary(&selection).unwrap();
            let (took, cpu) = (start.elapsed(), cpu_time() - cpu);
            assert_eq!(summary.get(cutover::plan::Status::Migrate), n);
            row(format!("plan {n}"), n, took, cpu);
        }
        if n <= 10_000 && chosen.part("apply") {
            let selection = planner.select().unwrap();
            // As `cutover apply` does: slim plans kept, then written a batch at a time.
            reset_peak_rss();
            let mut connections = Vec::new();
            planner
                .plan_each(&selection, |c| {
                    connections.push(c.slim());
                    Ok(())
                })
                .unwrap();
            let plan = cutover::plan::Plan {
                connections,
                ..planner.header()
            };
            let mut writer = cutover::write::open(&fleet, "bench").unwrap();
            let (start, cpu) = (Instant::now(), cpu_time());
            let migrate = |entry: &cutover::fleet::Entry| planner.plan_entry(entry);
            let applied =
                cutover::write::apply::apply(&fleet, &plan, &mut *writer, migrate, |_| {}).unwrap();
            let (took, cpu) = (start.elapsed(), cpu_time() - cpu);
            assert_eq!(applied.written.len(), n);
            row(format!("durable apply {n}"), n, took, cpu);
        }
    }
    if chosen.part("cold") {
        cold_start();
    }
    if chosen.part("flood") {
        flood();
    }
}

/// Plan time of a fleet of 1,000 well-behaved connections, alone and beside four that flood
/// the host, under the default limits and with limits that let every flood through.
fn flood() {
    const FLOODS: [&str; 4] = ["action-flood", "note-flood", "action-text", "many-actions"];
    let make = |floods: bool, limits: &str| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("connections")).unwrap();
        std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
        let settings =
            format!("[connectors.\"test/source-hostile\"]\ntarget = \"2.0.0\"\n[limits]\n{limits}");
        std::fs::write(dir.path().join("cutover.toml"), settings).unwrap();
        std::fs::copy(
            cutover_tests::plugin("hostile-plugin"),
            dir.path().join("plugins/hostile_plugin.wasm"),
        )
        .unwrap();
        let modes =
            (0..1_000)
                .map(|_| "none")
                .chain(if floods { FLOODS.to_vec() } else { Vec::new() });
        for (i, mode) in modes.enumerate() {
            let doc = cutover_tests::hostile_connection(&format!("h{i:05}"), mode);
            std::fs::write(
                dir.path().join(format!("connections/h{i:05}.json")),
                serde_json::to_vec(&doc).unwrap(),
            )
            .unwrap();
        }
        dir
    };
    let plan = |dir: &tempfile::TempDir| {
        let fleet = Fleet::open(dir.path()).unwrap();
        let sandbox = Sandbox::new(fleet.settings.limits.clone()).unwrap();
        let registry =
            Registry::load(&fleet.plugins_dir(), &sandbox, &fleet.settings.trust, None).unwrap();
        let options = Options {
            all: true,
            ..Options::default()
        };
        let planner = Planner {
            fleet: &fleet,
            registry: &registry,
            sandbox: &sandbox,
            options: &options,
            run_plugins: true,
        };
        let selection = planner.select().unwrap();
        let start = Instant::now();
        let summary = planner.summary(&selection).unwrap();
        (start.elapsed(), summary.get(cutover::plan::Status::Failed))
    };
    let unbounded = "actions = 2000000\nnotes = 2000000\ntext_bytes = 1073741824\noutput_bytes = 1073741824\nmemory_bytes = 268435456\n";
    let (quiet, _) = plan(&make(false, ""));
    let (bounded, failed) = plan(&make(true, ""));
    assert_eq!(failed, FLOODS.len(), "each flood fails its own connection");
    let (let_through, failed) = plan(&make(true, unbounded));
    assert_eq!(failed, 0, "with the limits raised every flood is taken");
    println!(
        "\n{:<48} {:>12} {:>10}",
        "1,000 connections planned", "time", "ratio"
    );
    println!("{:<48} {quiet:>12.2?} {:>10.2}", "alone", 1.0);
    println!(
        "{:<48} {bounded:>12.2?} {:>10.2}",
        "beside 4 floods, default limits",
        bounded.as_secs_f64() / quiet.as_secs_f64()
    );
    println!(
        "{:<48} {let_through:>12.2?} {:>10.2}",
        "beside 4 floods, limits raised",
        let_through.as_secs_f64() / quiet.as_secs_f64()
    );
}

/// `cutover plan` of one connection in a fleet holding every real plugin, as a new process:
/// with an empty compile cache (every plugin compiled) and with a warm one (each loaded
/// from its precompiled, digest-checked image).
fn cold_start() {
    let dir = cutover_tests::small_pinterest_fleet(1);
    for package in [
        "source-pinterest-v1",
        "source-github-v2",
        "source-github-v3",
        "source-hubspot-v2",
        "source-hubspot-v5",
        "source-facebook-marketing-v2",
    ] {
        let wasm = cutover_tests::plugin(package);
        std::fs::copy(
            &wasm,
            dir.path().join("plugins").join(wasm.file_name().unwrap()),
        )
        .unwrap();
    }
    let plugins = std::fs::read_dir(dir.path().join("plugins"))
        .unwrap()
        .count();
    let ColdStart { cold, warm } =
        measure::cold_start(env!("CARGO_BIN_EXE_cutover"), dir.path(), "c000000", 5, 5);
    println!(
        "{:<24} {:>12.2?}   ({plugins} plugins compiled)",
        "cold plan, no cache", cold
    );
    println!(
        "{:<24} {:>12.2?}   ({plugins} plugins from the cache; {:.0}x faster)",
        "cold plan, warm cache",
        warm,
        cold.as_secs_f64() / warm.as_secs_f64()
    );
}
