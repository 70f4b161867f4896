//! What the whole catalogue of breaking versions costs a fleet that needs few of them:
//! planning 10,000 small source-pinterest 1.3.3 connections with today's 16 hand-written
//! plugins (`examples/fleet/plugins`: Airbyte and Elastic) loaded, and with those 16 plus
//! every generated plugin (`plugins/generated/*`, each its own component), side by side in
//! one run, the compile cache warm in both; then a new `cutover plan` process on a
//! one-connection fleet holding the whole catalogue, with no compile cache and a warm one.
//!
//! `cargo bench -p cutover --bench catalogue` (`-- plan` or `-- cold` for one part).
//!
//! Planning includes what `cutover plan` does before it plans: loading the registry (each
//! plugin's bytes hashed, its signature and lock checked, its manifest read), which is the
//! part that grows with the catalogue.

use cutover::fleet::Fleet;
use cutover::plan::{Options, Planner, Status};
use cutover::registry::Registry;
use cutover::sandbox::{CompileCache, Sandbox};
use cutover_tests::measure::{cpu_time, median, plan_process};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");
const CONNECTIONS: usize = 10_000;
const ROUNDS: usize = 5;

/// Today's hand-written plugins: every Airbyte and Elastic plugin crate of the workspace.
fn hand_written() -> Vec<PathBuf> {
    cutover_tests::plugin_crates()
        .into_iter()
        .chain(cutover_tests::elastic_plugin_crates())
        .map(|dir| {
            let package = dir.file_name().unwrap().to_string_lossy().into_owned();
            let package = if dir.parent().is_some_and(|p| p.ends_with("elastic")) {
                format!("elastic-{package}")
            } else {
                package
            };
            cutover_tests::plugin(&package)
        })
        .collect()
}

/// Every generated plugin, built by `cutover plugin build` into `out`.
fn generated(out: &Path) -> Vec<PathBuf> {
    let dir = cutover_tests::root().join("plugins/generated");
    let mut tables: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("plugin.json").is_file())
        .map(|p| p.display().to_string())
        .collect();
    tables.sort();
    let mut args = vec![
        "plugin".to_owned(),
        "build".to_owned(),
        "--out".to_owned(),
        out.display().to_string(),
    ];
    args.extend(tables);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = cutover_tests::cutover_in_workspace(BIN, &args).expect(0);
    run.stdout.lines().map(PathBuf::from).collect()
}

fn install(fleet: &Path, plugins: &[PathBuf]) {
    let dir = fleet.join("plugins");
    for entry in std::fs::read_dir(&dir).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    for wasm in plugins {
        std::fs::copy(wasm, dir.join(wasm.file_name().unwrap())).unwrap();
    }
}

/// Loads the registry and plans every connection, as `cutover plan` does; returns the
/// wall time and the CPU time it took.
fn plan(fleet_dir: &Path, cache: &CompileCache) -> (Duration, Duration) {
    let options = Options {
        all: true,
        ..Options::default()
    };
    let (start, cpu) = (Instant::now(), cpu_time());
    let fleet = Fleet::open(fleet_dir).unwrap();
    let sandbox = Sandbox::new(fleet.settings.limits.clone()).unwrap();
    let registry = Registry::load(
        &fleet.plugins_dir(),
        &sandbox,
        &fleet.settings.trust,
        Some(cache),
    )
    .unwrap();
    let planner = Planner {
        fleet: &fleet,
        registry: &registry,
        sandbox: &sandbox,
        options: &options,
        run_plugins: true,
    };
    let selection = planner.select().unwrap();
    let mut migrating = 0;
    planner
        .plan_each(&selection, |c| {
            migrating += usize::from(c.status == Status::Migrate);
            Ok(())
        })
        .unwrap();
    assert_eq!(migrating, CONNECTIONS);
    (start.elapsed(), cpu_time() - cpu)
}

fn main() {
    let chosen: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let part = |name: &str| chosen.is_empty() || chosen.iter().any(|a| a == name);
    let built = tempfile::tempdir().unwrap();
    let today = hand_written();
    let catalogue: Vec<PathBuf> = today
        .iter()
        .cloned()
        .chain(generated(built.path()))
        .collect();
    let bytes = |plugins: &[PathBuf]| -> u64 {
        plugins
            .iter()
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum()
    };
    println!(
        "today: {} plugins ({:.1} MiB); whole catalogue: {} plugins ({:.1} MiB)",
        today.len(),
        bytes(&today) as f64 / (1 << 20) as f64,
        catalogue.len(),
        bytes(&catalogue) as f64 / (1 << 20) as f64
    );
    if part("plan") {
        let fleet = cutover_tests::small_pinterest_fleet(CONNECTIONS);
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(cache_dir.path());
        // Warm the compile cache with every plugin of both sets.
        install(fleet.path(), &catalogue);
        plan(fleet.path(), &cache);
        let (mut today_times, mut catalogue_times) = (Vec::new(), Vec::new());
        let (mut today_cpu, mut catalogue_cpu) = (Vec::new(), Vec::new());
        // Alternated, so that a slower minute of the machine falls on both.
        for _ in 0..ROUNDS {
            install(fleet.path(), &today);
            let (took, cpu) = plan(fleet.path(), &cache);
            today_times.push(took);
            today_cpu.push(cpu);
            install(fleet.path(), &catalogue);
            let (took, cpu) = plan(fleet.path(), &cache);
            catalogue_times.push(took);
            catalogue_cpu.push(cpu);
        }
        let (t, c) = (median(today_times), median(catalogue_times));
        let (tc, cc) = (median(today_cpu), median(catalogue_cpu));
        println!(
            "{:<44} {:>12} {:>12}",
            format!("plan {CONNECTIONS} (median of {ROUNDS})"),
            "time",
            "CPU"
        );
        println!(
            "{:<44} {t:>12.2?} {tc:>12.2?}",
            format!("with today's {} plugins", today.len())
        );
        println!(
            "{:<44} {c:>12.2?} {cc:>12.2?}",
            format!("with the whole catalogue ({})", catalogue.len())
        );
        println!(
            "{:<44} {:>11.2}x {:>11.2}x",
            "ratio",
            c.as_secs_f64() / t.as_secs_f64(),
            cc.as_secs_f64() / tc.as_secs_f64()
        );
    }
    if part("cold") {
        let fleet = cutover_tests::small_pinterest_fleet(1);
        install(fleet.path(), &catalogue);
        let run = || plan_process(BIN, fleet.path(), "c000000");
        let cold = median(
            (0..3)
                .map(|_| {
                    let _ = std::fs::remove_dir_all(fleet.path().join(".cutover/cache"));
                    run()
                })
                .collect(),
        );
        let warm = median((0..5).map(|_| run()).collect());
        println!(
            "{:<44} {cold:>12.2?}   ({} plugins compiled)",
            "cold plan, no cache",
            catalogue.len()
        );
        println!(
            "{:<44} {warm:>12.2?}   ({} plugins from the cache)",
            "cold plan, warm cache",
            catalogue.len()
        );
    }
}
