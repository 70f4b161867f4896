//! Large states, measured side by side in one run: the legacy → per-partition state
//! migration (source-pinterest-shaped: one stream, one cursor per ad account) at 1k, 10k,
//! 100k and 1M partitions,
//! - natively, on the state's text (the SDK's `state::legacy_to_per_partition`) and on a DOM;
//! - in the sandbox (256 MiB guest memory), the same plugin code both ways;
//! - in the Airbyte CDK's own Python (`LegacyToPerPartitionStateMigration`), through
//!   `benches/cdk/run.sh`, which installs airbyte-cdk into a venv, or says why it skipped.
//!
//! Also the fixed cost of one sandboxed call on a ~2 KB connection.
//!
//! `cargo bench -p cutover --bench state`; BENCHMARKS.md records a run.

use cutover::migration::Input;
use cutover::sandbox::{Limits, Sandbox, SandboxError};
use cutover_plugin::{Migration, RawConnection, StateOut};
use partition_state_plugin::PartitionState;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

fn connection(n: usize, mode: &str) -> RawConnection {
    RawConnection {
        id: format!("partitions-{n}"),
        connector: "test/source-partitioned".into(),
        version: "1.9.0".into(),
        config: format!("{{\"mode\":\"{mode}\"}}"),
        catalog: r#"{"streams":[]}"#.into(),
        state: cutover_tests::legacy_partition_state(n),
    }
}

fn input(c: &RawConnection) -> Input {
    Input {
        id: c.id.clone(),
        connector: c.connector.clone(),
        version: c.version.clone(),
        config: c.config.clone(),
        catalog: c.catalog.clone(),
        state: c.state.as_str().into(),
    }
}

/// The median of `runs` timings of `f` (after one warm-up call), or the error it gave.
fn median<E>(runs: usize, mut f: impl FnMut() -> Result<(), E>) -> Result<Duration, E> {
    f()?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times[runs / 2])
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// `cdk N=… bytes=… ms=… json_ms=… cdk=…` lines from the Python side, by N: the migration
/// alone on a dict, and with `json.loads`/`json.dumps` around it (what cutover's side
/// includes); or why it was skipped.
fn cdk() -> Result<BTreeMap<usize, (f64, f64)>, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/cdk/run.sh");
    if !std::path::Path::new(script).exists() {
        return Err("benches/cdk/run.sh is missing".into());
    }
    let sizes: Vec<String> = SIZES.iter().map(ToString::to_string).collect();
    let out = std::process::Command::new("bash")
        .arg(script)
        .args(&sizes)
        .output()
        .map_err(|e| format!("running {script}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if let Some(reason) = text.lines().find_map(|l| l.strip_prefix("skip: ")) {
        return Err(reason.to_owned());
    }
    let mut times = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("cdk ")) {
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .map(str::to_owned)
        };
        if let (Some(n), Some(t), Some(j)) = (field("N="), field("ms="), field("json_ms=")) {
            times.insert(
                n.parse().unwrap_or(0),
                (t.parse().unwrap_or(f64::NAN), j.parse().unwrap_or(f64::NAN)),
            );
        }
        if let Some(v) = field("cdk=").filter(|_| times.len() == 1) {
            println!("(Python side: airbyte-cdk {v}, through benches/cdk/run.sh)");
        }
    }
    if times.is_empty() {
        return Err(format!(
            "no timings from {script}: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    Ok(times)
}

fn main() {
    let limits = Limits {
        memory_bytes: 256 << 20,
        output_bytes: 1 << 30,
        timeout_ms: 120_000,
        ..Limits::default()
    };
    let sandbox = Sandbox::new(limits).unwrap();
    let wasm = std::fs::read(cutover_tests::plugin("partition-state-plugin")).unwrap();
    let plugin = sandbox.load(&wasm, "bench", None).unwrap();

    // The fixed cost of a call: a ~2 KB connection with nothing to migrate.
    let small = RawConnection {
        state: "[]".into(),
        config: format!("{{\"mode\":\"text\",\"pad\":\"{}\"}}", "x".repeat(1900)),
        ..connection(0, "text")
    };
    let small_input = input(&small);
    let native_small = median(2001, || {
        PartitionState::migrate_documents(small.clone(), &mut StateOut::default()).map(drop)
    })
    .unwrap();
    let sandbox_small = median(2001, || sandbox.migrate(&plugin, &small_input).map(drop)).unwrap();
    println!(
        "one call on a {} B connection: native {:.1} µs, sandbox {:.1} µs, overhead {:.1} µs\n",
        small_input.len(),
        native_small.as_secs_f64() * 1e6,
        sandbox_small.as_secs_f64() * 1e6,
        (sandbox_small.as_secs_f64() - native_small.as_secs_f64()) * 1e6
    );

    let cdk = cdk();
    if let Err(reason) = &cdk {
        println!("(the CDK side is skipped: {reason})\n");
    }
    println!(
        "{:>10} {:>9} | {:>11} {:>11} | {:>11} {:>11} | {:>11} {:>11} | {:>8} {:>8} {:>8}",
        "partitions",
        "state",
        "native text",
        "native DOM",
        "sandbox txt",
        "sandbox DOM",
        "CDK dict",
        "CDK JSON",
        "sbx÷nat",
        "CDK÷sbx",
        "JSON÷sbx"
    );
    for n in SIZES {
        let runs = if n >= 1_000_000 { 3 } else { 5 };
        let text = connection(n, "text");
        let dom = connection(n, "dom");
        let native_text = median(runs, || {
            PartitionState::migrate_documents(text.clone(), &mut StateOut::default()).map(drop)
        })
        .unwrap();
        let native_dom = median(runs, || {
            PartitionState::migrate_documents(dom.clone(), &mut StateOut::default()).map(drop)
        })
        .unwrap();
        let (text_in, dom_in) = (input(&text), input(&dom));
        let sandbox_text = median(runs, || sandbox.migrate(&plugin, &text_in).map(drop));
        let sandbox_dom = median(runs, || sandbox.migrate(&plugin, &dom_in).map(drop));
        let show = |r: &Result<Duration, SandboxError>| match r {
            Ok(d) => ms(*d),
            Err(SandboxError::MemoryLimit { .. }) => "over 256MiB".into(),
            Err(e) => format!("failed: {e}"),
        };
        let cdk_ms = cdk.as_ref().ok().and_then(|t| t.get(&n).copied());
        let ratio = sandbox_text
            .as_ref()
            .map(|d| d.as_secs_f64() / native_text.as_secs_f64())
            .unwrap_or(f64::NAN);
        let versus = |python: Option<f64>| match (&sandbox_text, python) {
            (Ok(d), Some(c)) => format!("{:.1}x", c / (d.as_secs_f64() * 1e3)),
            _ => "-".into(),
        };
        println!(
            "{:>10} {:>6} MB | {:>11} {:>11} | {:>11} {:>11} | {:>11} {:>11} | {:>7.2}x {:>8} {:>8}",
            n,
            format!("{:.1}", text.state.len() as f64 / 1e6),
            ms(native_text),
            ms(native_dom),
            show(&sandbox_text),
            show(&sandbox_dom),
            cdk_ms
                .map(|(c, _)| format!("{c:.1} ms"))
                .unwrap_or_else(|| "-".into()),
            cdk_ms
                .map(|(_, j)| format!("{j:.1} ms"))
                .unwrap_or_else(|| "-".into()),
            ratio,
            versus(cdk_ms.map(|(c, _)| c)),
            versus(cdk_ms.map(|(_, j)| j))
        );
    }
}
