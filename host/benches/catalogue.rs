//! What the whole catalogue of breaking versions costs a fleet that needs few of them:
//! planning 10,000 small source-pinterest 1.3.3 connections with the hand-written plugins
//! (every plugin crate under `plugins/`: Airbyte and Elastic) loaded, with those plus every
//! generated plugin (`plugins/generated/*`, each its own component), and with a catalogue
//! of the size Airbyte's is (170 plugins, about as many breaking versions as Airbyte
//! declares), side by side in one run, the compile cache warm in all three; then a new
//! `cutover plan` process on a one-connection fleet holding that catalogue, with no compile
//! cache and a warm one.
//!
//! The 170 are the hand-written and the generated plugins, and as many stand-ins as it takes: each
//! generated table again, as if its connector broke once more (`produces` 100 major
//! versions later per copy, applying from the table's own `produces`), compiled with its
//! own catalogs and joined to the same engine as `cutover plugin build` does. A stand-in is
//! a real plugin of the same size and shape as the one it copies, with its own bytes,
//! digest and manifest; none of them applies to the fleet's connections, as most of a
//! catalogue does not.
//!
//! `cargo bench -p cutover --bench catalogue` (`-- plan`, `-- cold` or `-- load` for one
//! part; `load` prints where one plugin's full load goes, stage by stage).
//!
//! Planning includes what `cutover plan` does before it plans: loading the registry (each
//! plugin's bytes hashed, its signature and lock checked, its manifest read from the compile
//! cache or, the first time, by compiling and instantiating it), which is the part that
//! grows with the catalogue.

use cutover::fleet::Fleet;
use cutover::plan::{Options, Planner, Status};
use cutover::registry::Registry;
use cutover::sandbox::{CompileCache, Sandbox};
use cutover_tests::measure::{cold_start, cpu_time, median, thread_cpu_time};
use semver::Version;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");
const CONNECTIONS: usize = 10_000;
const ROUNDS: usize = 5;
/// The size of the catalogue measured: about as many breaking versions as Airbyte declares.
const CATALOGUE: usize = 170;

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

/// Every generated plugin's folder, in name order.
fn tables() -> Vec<PathBuf> {
    let dir = cutover_tests::root().join("plugins/generated");
    let mut tables: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("plugin.json").is_file())
        .collect();
    tables.sort();
    tables
}

/// Every generated plugin, built by `cutover plugin build` into `out`.
fn generated(out: &Path) -> Vec<PathBuf> {
    let mut args = vec![
        "plugin".to_owned(),
        "build".to_owned(),
        "--out".to_owned(),
        out.display().to_string(),
    ];
    args.extend(tables().iter().map(|t| t.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = cutover_tests::cutover_in_workspace(BIN, &args).expect(0);
    run.stdout.lines().map(PathBuf::from).collect()
}

/// `count` stand-ins for breaking versions not written yet, into `out`: the generated
/// tables again, in name order, as many times as it takes, each copy `produces` 100 major
/// versions later than the last and applying from the version before it, joined to the
/// engine that `generated` built.
fn stand_ins(out: &Path, count: usize) -> Vec<PathBuf> {
    let engine = cutover::author::package::Package::open(
        &cutover_tests::root().join("plugins/generated/engine"),
    )
    .unwrap()
    .wasm();
    let engine = std::fs::read(&engine).unwrap_or_else(|e| {
        panic!(
            "{} (built by `cutover plugin build`): {e}",
            engine.display()
        )
    });
    let tables = tables();
    (0..count)
        .map(|i| {
            let (copy, table) = (i / tables.len() + 1, &tables[i % tables.len()]);
            let mut compiled = cutover::author::generated::compile(table).unwrap();
            let was = Version::parse(&compiled.table.produces).unwrap();
            let from = Version::new(was.major + 100 * (copy as u64 - 1), was.minor, was.patch);
            let produces = Version::new(was.major + 100 * copy as u64, was.minor, was.patch);
            compiled.table.applies_to = format!(">={from}, <{produces}");
            compiled.table.produces = produces.to_string();
            let joined = cutover::author::join::join(&engine, &compiled.to_json()).unwrap();
            let name = table.file_name().unwrap().to_string_lossy();
            let path = out.join(format!("stand-in-{copy}-{name}.wasm"));
            std::fs::write(&path, joined).unwrap();
            path
        })
        .collect()
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
    let summary = planner.summary(&selection).unwrap();
    assert_eq!(summary.get(Status::Migrate), CONNECTIONS);
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
    let with_generated: Vec<PathBuf> = today
        .iter()
        .cloned()
        .chain(generated(built.path()))
        .collect();
    let catalogue: Vec<PathBuf> = with_generated
        .iter()
        .cloned()
        .chain(stand_ins(
            built.path(),
            CATALOGUE.saturating_sub(with_generated.len()),
        ))
        .collect();
    let bytes = |plugins: &[PathBuf]| -> u64 {
        plugins
            .iter()
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum()
    };
    let sets = [
        ("today's", &today),
        ("today's and the generated", &with_generated),
        ("a catalogue of", &catalogue),
    ];
    for (name, plugins) in sets {
        println!(
            "{name} {} plugins: {:.1} MiB",
            plugins.len(),
            bytes(plugins) as f64 / (1 << 20) as f64
        );
    }
    // One compile cache for the run's in-process parts, warmed with every plugin.
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = CompileCache::new(cache_dir.path());
    if part("plan") {
        let fleet = cutover_tests::small_pinterest_fleet(CONNECTIONS);
        install(fleet.path(), &catalogue);
        plan(fleet.path(), &cache);
        let mut times = vec![(Vec::new(), Vec::new()); sets.len()];
        // Alternated, so that a slower minute of the machine falls on every set.
        for _ in 0..ROUNDS {
            for ((_, plugins), (wall, cpu)) in sets.iter().zip(&mut times) {
                install(fleet.path(), plugins);
                let (took, used) = plan(fleet.path(), &cache);
                wall.push(took);
                cpu.push(used);
            }
        }
        let medians: Vec<(Duration, Duration)> = times
            .into_iter()
            .map(|(wall, cpu)| (median(wall), median(cpu)))
            .collect();
        let (t, tc) = medians[0];
        println!(
            "{:<44} {:>12} {:>12} {:>8} {:>8}",
            format!("plan {CONNECTIONS} (median of {ROUNDS})"),
            "time",
            "CPU",
            "ratio",
            "CPU"
        );
        for ((name, plugins), (c, cc)) in sets.iter().zip(medians) {
            println!(
                "{:<44} {c:>12.2?} {cc:>12.2?} {:>7.2}x {:>7.2}x",
                format!("with {name} {} plugins", plugins.len()),
                c.as_secs_f64() / t.as_secs_f64(),
                cc.as_secs_f64() / tc.as_secs_f64()
            );
        }
    }
    if part("load") {
        profile_load(&catalogue, &cache);
    }
    if part("cold") {
        let fleet = cutover_tests::small_pinterest_fleet(1);
        install(fleet.path(), &catalogue);
        let start = cold_start(BIN, fleet.path(), "c000000", 3, 5);
        println!(
            "{:<44} {:>12.2?}   ({} plugins compiled)",
            "cold plan, no cache",
            start.cold,
            catalogue.len()
        );
        println!(
            "{:<44} {:>12.2?}   ({} plugins from the cache)",
            "cold plan, warm cache",
            start.warm,
            catalogue.len()
        );
    }
}

/// Where one plugin's registry load goes, stage by stage, on one thread (wall and that
/// thread's CPU time), the compile cache warm: every plugin of `plugins` read, hashed, its signature checked (each signed for the
/// measurement), its description read from the cache; then what a full load adds: its
/// compiled code read and hashed, deserialized and linked, and its manifest called; and the
/// registry's own load of it as a plan makes it (`Registry::load_one`, with the cache).
fn profile_load(plugins: &[PathBuf], cache: &CompileCache) {
    use cutover::ground::sha256_hex;
    let dir = tempfile::tempdir().unwrap();
    let key = cutover_tests::SigningKey::generate();
    let mut trust = cutover::trust::Trust::default();
    trust.keys.insert("bench".into(), key.public());
    let sandbox = Sandbox::new(Default::default()).unwrap();
    let mut files = Vec::new();
    for wasm in plugins {
        let to = dir.path().join(wasm.file_name().unwrap());
        std::fs::copy(wasm, &to).unwrap();
        key.sign(&to);
        // Fills the cache (code and description) for a plugin no plan has loaded yet.
        Registry::load_one(&to, &sandbox, &trust, None, Some(cache)).unwrap();
        files.push(to);
    }
    let mut stages = [(Duration::ZERO, Duration::ZERO); 8];
    let (mut wasm_bytes, mut cwasm_bytes) = (0, 0);
    for path in &files {
        let mut timed = |stage: usize, f: &mut dyn FnMut()| {
            let (t, cpu) = (Instant::now(), thread_cpu_time());
            f();
            stages[stage].0 += t.elapsed();
            stages[stage].1 += thread_cpu_time() - cpu;
        };
        let mut bytes = Vec::new();
        timed(0, &mut || bytes = std::fs::read(path).unwrap());
        let mut sha = String::new();
        timed(1, &mut || sha = sha256_hex(&bytes));
        timed(2, &mut || {
            cutover::trust::verify_signature(&trust, path, &bytes).unwrap();
        });
        timed(3, &mut || {
            cache.description(sandbox.engine(), &sha).unwrap();
        });
        let cwasm = std::fs::read_dir(cache.dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                name.starts_with(&sha) && name.ends_with(".cwasm")
            })
            .unwrap();
        timed(4, &mut || {
            let code = std::fs::read(&cwasm).unwrap();
            sha256_hex(&code);
            cwasm_bytes += code.len();
        });
        wasm_bytes += bytes.len();
        let mut loaded = None;
        timed(5, &mut || {
            loaded = Some(sandbox.load(&bytes, &sha, Some(cache)).unwrap());
        });
        timed(6, &mut || {
            sandbox.manifest(loaded.as_ref().unwrap()).unwrap();
        });
        timed(7, &mut || {
            Registry::load_one(path, &sandbox, &trust, None, Some(cache)).unwrap();
        });
    }
    let n = files.len() as u32;
    println!(
        "{:<66} {:>10} {:>10}",
        format!(
            "registry load of {n} plugins, per plugin ({:.2} MiB, {:.2} MiB compiled)",
            wasm_bytes as f64 / f64::from(n) / (1 << 20) as f64,
            cwasm_bytes as f64 / f64::from(n) / (1 << 20) as f64
        ),
        "time",
        "CPU"
    );
    for (what, took) in [
        "read the plugin",
        "sha256 of the plugin",
        "minisign signature check",
        "read its description from the compile cache",
        "full load: read + sha256 of the compiled code (in the next)",
        "full load: from the compile cache (check, deserialize, link)",
        "full load: instantiate + manifest()",
        "Registry::load_one, as a plan loads it now",
    ]
    .iter()
    .zip(stages)
    {
        println!("  {what:<64} {:>10.2?} {:>10.2?}", took.0 / n, took.1 / n);
    }
}
