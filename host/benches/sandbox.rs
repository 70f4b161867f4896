//! What the sandbox costs, measured side by side in one run: the source-pinterest 2.0.0
//! migration compiled natively vs run in the sandbox, with epoch interruption (what cutover
//! uses) and with fuel, on a tiny connection and on the full 33-stream example connection.
//!
//! `cargo bench -p cutover --bench sandbox` prints a table; BENCHMARKS.md records a run.

use cutover::migration::Input;
use cutover::sandbox::{Interruption, Limits, Sandbox};
use cutover_plugin::{Connection, Migration};
use source_pinterest_v2::PinterestV2;
use std::time::{Duration, Instant};

/// The median of `runs` timings of `f`, after one warm-up call.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    f();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn input_from(doc: &serde_json::Value) -> Input {
    Input {
        id: doc["id"].as_str().unwrap().into(),
        connector: doc["connector"].as_str().unwrap().into(),
        version: doc["version"].as_str().unwrap().into(),
        config: doc["config"].to_string(),
        catalog: doc["catalog"].to_string(),
        state: doc["state"].to_string().into(),
    }
}

fn main() {
    let wasm = std::fs::read(cutover_tests::plugin("source-pinterest-v2")).unwrap();
    let sha = cutover::ground::sha256_hex(&wasm);
    let limits = Limits {
        timeout_ms: 60_000,
        ..Limits::default()
    };
    let epoch = Sandbox::with_interruption(limits.clone(), Interruption::Epoch).unwrap();
    let fuel = Sandbox::with_interruption(limits, Interruption::Fuel(u64::MAX)).unwrap();
    let epoch_plugin = epoch.load(&wasm, &sha, None).unwrap();
    let fuel_plugin = fuel.load(&wasm, &sha, None).unwrap();

    let full: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            cutover_tests::root().join("examples/fleet/connections/pinterest-ads-eu.json"),
        )
        .unwrap(),
    )
    .unwrap();
    println!("source-pinterest 1.3.3 → 2.0.0, median of repeated runs, one connection per call");
    println!(
        "{:<28} {:>12} {:>12} {:>12} {:>14} {:>11}",
        "connection", "native", "epoch", "fuel", "epoch/native", "fuel/epoch"
    );
    for (label, doc, runs) in [
        (
            "tiny",
            cutover_tests::small_pinterest_connection("tiny", 1714521600),
            2000,
        ),
        ("full, 33 streams", full, 40),
    ] {
        let input = input_from(&doc);
        let native = median(runs, || {
            let c = Connection::parse(
                input.id.clone(),
                input.connector.clone(),
                input.version.clone(),
                &input.config,
                &input.catalog,
                &input.state,
            )
            .unwrap();
            std::hint::black_box(PinterestV2::migrate(c).unwrap().documents());
        });
        let with_epoch = median(runs, || {
            std::hint::black_box(epoch.migrate(&epoch_plugin, &input).unwrap());
        });
        let with_fuel = median(runs, || {
            std::hint::black_box(fuel.migrate(&fuel_plugin, &input).unwrap());
        });
        println!(
            "{:<28} {:>12?} {:>12?} {:>12?} {:>13.2}x {:>10.2}x",
            format!("{label} ({} B)", input.len()),
            native,
            with_epoch,
            with_fuel,
            with_epoch.as_secs_f64() / native.as_secs_f64(),
            with_fuel.as_secs_f64() / with_epoch.as_secs_f64()
        );
    }
}
