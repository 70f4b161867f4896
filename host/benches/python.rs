//! Python plugins against Rust ones, side by side in one run, on the same migrations:
//! source-pinterest 1.x → 2.0.0 (`plugins/source-pinterest-v2` and
//! `plugins/python/source-pinterest-v2`, which return the same bytes) and the state
//! benchmark's legacy → per-partition migration (`tests/guests/partition-state` and
//! `tests/guests/python/partition-state`):
//! - the component's size, and its first compile (no cache);
//! - a cold start with a warm compile cache: a new `cutover plan` process on a one-connection
//!   fleet, and in-process a new sandbox loading the plugin from the cache and calling it;
//! - the cost of one call on a ~1 KB connection and on the 33-stream example connection,
//!   and the linear memory an instance starts with and reaches;
//! - the state migration at 1k to 100k partitions (and 1M, where it fits in 256 MiB).
//!
//! `cargo bench -p cutover --bench python` (`-- state` or `-- calls` runs one part);
//! BENCHMARKS.md records a run.

use cutover::ground::sha256_hex;
use cutover::migration::Input;
use cutover::sandbox::{CompileCache, Limits, Sandbox, SandboxError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The median of `runs` timings of `f`, after one warm-up call.
fn median<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    std::hint::black_box(f());
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn input_from(doc: &serde_json::Value) -> Input {
    Input::of_document(doc).expect("a connection document")
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// One plugin in both languages.
struct Pair {
    label: &'static str,
    rust: PathBuf,
    python: PathBuf,
}

fn pinterest() -> Pair {
    Pair {
        label: "source-pinterest 2.0.0",
        rust: cutover_tests::plugin("source-pinterest-v2"),
        python: cutover_tests::python_plugin("source-pinterest-v2"),
    }
}

/// `cutover plan` of one connection in a fleet holding only `plugin`, as a new process,
/// with the compile cache warm: the median of 5.
fn cold_plan(plugin: &Path) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["plugins", "connections"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    std::fs::write(dir.path().join("cutover.toml"), "plugins = \"plugins\"\n[platform]\nplatform = \"0.63.14\"\n[connectors.\"airbyte/source-pinterest\"]\ntarget = \"2.0.0\"\n").unwrap();
    std::fs::copy(
        plugin,
        dir.path().join("plugins").join(plugin.file_name().unwrap()),
    )
    .unwrap();
    let doc = cutover_tests::small_pinterest_connection("c", 1714521600);
    std::fs::write(
        dir.path().join("connections/c.json"),
        serde_json::to_vec_pretty(&doc).unwrap(),
    )
    .unwrap();
    // The first run fills the compile cache; the five after it are measured.
    cutover_tests::measure::plan_process(env!("CARGO_BIN_EXE_cutover"), dir.path(), "c");
    let runs = (0..5)
        .map(|_| {
            cutover_tests::measure::plan_process(env!("CARGO_BIN_EXE_cutover"), dir.path(), "c")
        })
        .collect();
    cutover_tests::measure::median(runs)
}

fn calls() {
    let pair = pinterest();
    let limits = Limits {
        timeout_ms: 120_000,
        ..Limits::default()
    };
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = CompileCache::new(cache_dir.path());
    let tiny = input_from(&cutover_tests::small_pinterest_connection(
        "tiny", 1714521600,
    ));
    let full: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            cutover_tests::root().join("examples/fleet/connections/pinterest-ads-eu.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let full = input_from(&full);

    println!(
        "{}, Rust and Python plugins returning the same bytes\n",
        pair.label
    );
    println!(
        "{:<40} {:>14} {:>14} {:>10}",
        "", "Rust", "Python", "Py ÷ Rust"
    );
    let row = |what: &str, rust: String, python: String, ratio: f64| {
        println!("{what:<40} {rust:>14} {python:>14} {ratio:>9.1}x")
    };
    let mut loaded = Vec::new();
    let mut sizes = Vec::new();
    let mut compiles = Vec::new();
    for path in [&pair.rust, &pair.python] {
        let bytes = std::fs::read(path).unwrap();
        let sha = sha256_hex(&bytes);
        let sandbox = Sandbox::new(limits.clone()).unwrap();
        let start = Instant::now();
        let plugin = sandbox.load(&bytes, &sha, Some(&cache)).unwrap(); // compiles, and fills the cache
        compiles.push(start.elapsed());
        sizes.push(bytes.len());
        loaded.push((sandbox, plugin, bytes, sha));
    }
    row(
        "component size",
        mib(sizes[0]),
        mib(sizes[1]),
        sizes[1] as f64 / sizes[0] as f64,
    );
    row(
        "first compile (no cache)",
        ms(compiles[0]),
        ms(compiles[1]),
        compiles[1].as_secs_f64() / compiles[0].as_secs_f64(),
    );
    let warm: Vec<Duration> = loaded
        .iter()
        .map(|(_, _, bytes, sha)| {
            median(5, || {
                let sandbox = Sandbox::new(limits.clone()).unwrap();
                let plugin = sandbox.load(bytes, sha, Some(&cache)).unwrap();
                sandbox.migrate(&plugin, &tiny).unwrap();
            })
        })
        .collect();
    row(
        "cold start, warm cache: load + 1st call",
        ms(warm[0]),
        ms(warm[1]),
        warm[1].as_secs_f64() / warm[0].as_secs_f64(),
    );
    let process: Vec<Duration> = [&pair.rust, &pair.python]
        .iter()
        .map(|p| cold_plan(p))
        .collect();
    row(
        "cold `cutover plan`, warm cache",
        ms(process[0]),
        ms(process[1]),
        process[1].as_secs_f64() / process[0].as_secs_f64(),
    );
    let manifest: Vec<Duration> = loaded
        .iter()
        .zip([2001, 301])
        .map(|((sandbox, plugin, _, _), runs)| median(runs, || sandbox.manifest(plugin).unwrap()))
        .collect();
    let show = |d: Duration| format!("{:.1} µs", d.as_secs_f64() * 1e6);
    row(
        "one call to manifest()",
        show(manifest[0]),
        show(manifest[1]),
        manifest[1].as_secs_f64() / manifest[0].as_secs_f64(),
    );
    for (label, input, runs) in [
        ("tiny", &tiny, [2001, 301]),
        ("full, 33 streams", &full, [41, 21]),
    ] {
        let times: Vec<Duration> = loaded
            .iter()
            .zip(runs)
            .map(|((sandbox, plugin, _, _), runs)| {
                median(runs, || sandbox.migrate(plugin, input).unwrap())
            })
            .collect();
        let what = format!("one call, {label} ({} B)", input.len());
        row(
            &what,
            show(times[0]),
            show(times[1]),
            times[1].as_secs_f64() / times[0].as_secs_f64(),
        );
        let memory: Vec<_> = loaded
            .iter()
            .map(|(sandbox, plugin, _, _)| sandbox.migrate(plugin, input).unwrap().memory)
            .collect();
        row(
            &format!("  linear memory at start, {label}"),
            mib(memory[0].initial),
            mib(memory[1].initial),
            memory[1].initial as f64 / memory[0].initial as f64,
        );
        row(
            &format!("  linear memory at most, {label}"),
            mib(memory[0].peak),
            mib(memory[1].peak),
            memory[1].peak as f64 / memory[0].peak as f64,
        );
    }
    let same = loaded.iter().map(|(sandbox, plugin, _, _)| {
        let o = sandbox.migrate(plugin, &full).unwrap().value;
        (o.config, o.catalog, o.state, o.notes)
    });
    let outputs: Vec<_> = same.collect();
    assert_eq!(outputs[0], outputs[1], "both plugins return the same bytes");
}

/// The legacy state of `n` partitions in one `campaigns` stream, as `benches/state.rs` has it.
fn partition_input(n: usize, mode: &str) -> Input {
    Input {
        id: format!("partitions-{n}"),
        connector: "test/source-partitioned".into(),
        version: "1.9.0".into(),
        config: format!("{{\"mode\":\"{mode}\"}}"),
        catalog: r#"{"streams":[]}"#.into(),
        state: cutover_tests::legacy_partition_state(n).into(),
    }
}

fn states() {
    let limits = Limits {
        memory_bytes: 256 << 20,
        output_bytes: 1 << 30,
        timeout_ms: 300_000,
        ..Limits::default()
    };
    let sandbox = Sandbox::new(limits).unwrap();
    let cache = CompileCache::new(cutover_tests::compile_cache_dir());
    let load = |path: PathBuf| {
        let bytes = std::fs::read(path).unwrap();
        sandbox
            .load(&bytes, &sha256_hex(&bytes), Some(&cache))
            .unwrap()
    };
    let rust = load(cutover_tests::plugin("partition-state-plugin"));
    let python = load(cutover_tests::python_plugin("partition-state-python"));
    println!("\nlegacy → per-partition state, in the sandbox (256 MiB), median of 3");
    println!(
        "{:>10} {:>8} | {:>11} {:>11} | {:>11} {:>11} | {:>9} {:>9} | {:>10}",
        "partitions",
        "state",
        "Rust text",
        "Rust DOM",
        "Py text",
        "Py DOM",
        "text Py÷R",
        "DOM Py÷R",
        "Py memory"
    );
    for n in [1_000, 10_000, 100_000, 1_000_000] {
        let (text, dom) = (partition_input(n, "text"), partition_input(n, "dom"));
        let time = |plugin, input: &Input| -> Result<Duration, SandboxError> {
            sandbox.migrate(plugin, input)?;
            Ok(median(3, || sandbox.migrate(plugin, input).unwrap()))
        };
        let results = [
            time(&rust, &text),
            time(&rust, &dom),
            time(&python, &text),
            time(&python, &dom),
        ];
        let show = |r: &Result<Duration, SandboxError>| match r {
            Ok(d) => ms(*d),
            Err(SandboxError::MemoryLimit { .. }) => "over 256MiB".into(),
            Err(e) => format!("failed: {e}"),
        };
        let ratio =
            |p: &Result<Duration, SandboxError>, r: &Result<Duration, SandboxError>| match (p, r) {
                (Ok(p), Ok(r)) => format!("{:.1}x", p.as_secs_f64() / r.as_secs_f64()),
                _ => "-".into(),
            };
        let memory = sandbox
            .migrate(&python, &text)
            .map(|c| mib(c.memory.peak))
            .unwrap_or_else(|_| "-".into());
        println!(
            "{:>10} {:>5.1} MB | {:>11} {:>11} | {:>11} {:>11} | {:>9} {:>9} | {:>10}",
            n,
            text.state.len() as f64 / 1e6,
            show(&results[0]),
            show(&results[1]),
            show(&results[2]),
            show(&results[3]),
            ratio(&results[2], &results[0]),
            ratio(&results[3], &results[1]),
            memory
        );
    }
}

/// Only calls, for a profiler (`perf record … python-<hash> profile`): 3,000 calls of the
/// Python plugin on the tiny connection, compiled code from the tests' shared cache.
fn profile() {
    let sandbox = Sandbox::new(Limits::default()).unwrap();
    let bytes = std::fs::read(cutover_tests::python_plugin("source-pinterest-v2")).unwrap();
    let plugin = sandbox
        .load(
            &bytes,
            &sha256_hex(&bytes),
            Some(&CompileCache::new(cutover_tests::compile_cache_dir())),
        )
        .unwrap();
    let tiny = input_from(&cutover_tests::small_pinterest_connection(
        "tiny", 1714521600,
    ));
    let took = median(3000, || sandbox.migrate(&plugin, &tiny).unwrap());
    println!("one call, tiny: {:.1} µs", took.as_secs_f64() * 1e6);
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if args.iter().any(|a| a == "profile") {
        return profile();
    }
    let part = |name: &str| args.is_empty() || args.iter().any(|a| a == name);
    if part("calls") {
        calls();
    }
    if part("state") {
        states();
    }
}
