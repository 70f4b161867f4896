//! Writing to a live Airbyte: 10k connections against the double of the Configuration API,
//! every request answered after a fixed latency (5 ms: a round trip to a nearby deployment
//! and the server's work), at several `[airbyte] concurrency` settings.
//!
//! Each connection is a small source-pinterest 1.3.3 connection (2 streams) pinned by the
//! platform before 2.0.0, migrated as the 2.0.0 plugin would leave it (version, state, one
//! config field) with one stream to clear: six write requests are what the plan needs
//! (deactivate with the catalog, state, version, config, clear, reactivate). The bench
//! prints connections per second, and the requests per connection the writes sent, split
//! into reads (the conditional write's check) and writes, measured side by side in one run.
//! Reading every document (what `cutover plan` does first) is measured too.
//!
//! `cargo bench -p cutover --bench airbyte` runs 10k connections at concurrency 8, 16, 32
//! and 64; arguments choose the size and the settings: `-- 2000 32 64`.

use cutover::migration::{Action, StreamDescriptor};
use cutover::store::airbyte::AirbyteDocuments;
use cutover::store::airbyte::settings::AirbyteSettings;
use cutover::store::{Documents, Write};
use cutover_doubles::airbyte::seed::define_pinterest;
use cutover_doubles::airbyte::{AirbyteDouble, ConnectionSeed};
use cutover_tests::measure::cpu_time;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-token";
const LATENCY: Duration = Duration::from_millis(5);
/// How many connections apply hands the backend at once (`ground::BATCH`).
const BATCH: usize = 256;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args
        .first()
        .copied()
        .filter(|n| *n >= 100)
        .unwrap_or(10_000);
    let settings: Vec<usize> = match args.iter().skip(1).copied().collect::<Vec<_>>() {
        s if s.is_empty() => vec![8, 16, 32, 64],
        s => s,
    };
    // SAFETY: set before any thread reads the environment.
    unsafe { std::env::set_var("CUTOVER_BENCH_AIRBYTE_TOKEN", TOKEN) };
    println!("{n} connections, {} ms per request", LATENCY.as_millis());
    println!(
        "{:<24} {:>9} {:>14} {:>11} {:>12} {:>12} {:>8}",
        "", "time", "connections/s", "reads/conn", "writes/conn", "CPU µs/conn", "ratio"
    );
    let mut base = None;
    for concurrency in settings {
        let run = Run::new(n, concurrency);
        let cpu = cpu_time();
        let (reads, took_reads) = run.read_all();
        let cpu_reads = cpu_time() - cpu;
        let us = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
        println!(
            "{:<24} {:>9.2?} {:>14.0} {:>11.2} {:>12} {:>12.0} {:>8}",
            format!("read, {concurrency} at once"),
            took_reads,
            n as f64 / took_reads.as_secs_f64(),
            reads,
            "-",
            us(cpu_reads),
            ""
        );
        let (took, reads, writes, cpu_writes) = run.write_all();
        let per_second = n as f64 / took.as_secs_f64();
        let ratio = per_second / *base.get_or_insert(per_second);
        println!(
            "{:<24} {:>9.2?} {:>14.0} {:>11.2} {:>12.2} {:>12.0} {:>7.2}x",
            format!("write, concurrency {concurrency}"),
            took,
            per_second,
            reads,
            writes,
            us(cpu_writes),
            ratio
        );
        assert!(
            run.double.violations().is_empty(),
            "{:?}",
            run.double.violations()
        );
    }
}

struct Run {
    double: AirbyteDouble,
    documents: AirbyteDocuments,
    keys: Vec<String>,
    concurrency: usize,
}

impl Run {
    /// A double holding `n` connections, and the backend reading it `concurrency` at once.
    fn new(n: usize, concurrency: usize) -> Self {
        let double = AirbyteDouble::start(TOKEN);
        double.keep_bodies(false);
        let definition = define_pinterest(&double);
        for i in 0..n {
            let doc = cutover_tests::small_pinterest_connection(
                &format!("c{i:06}"),
                1_714_521_600 + i as u64,
            );
            double.add_connection(ConnectionSeed {
                name: format!("pinterest {i}"),
                definition_id: definition.clone(),
                version: "1.3.3".into(),
                user_pin: None,
                config: doc["config"].clone(),
                catalog: doc["catalog"].clone(),
                state: doc["state"].as_array().cloned().unwrap_or_default(),
                status: "active".into(),
            });
        }
        let settings: AirbyteSettings = toml::from_str(&format!(
            "url = \"{}\"\ntoken_env = \"CUTOVER_BENCH_AIRBYTE_TOKEN\"\nconcurrency = {concurrency}\ntimeout_ms = 30000",
            double.url()
        ))
        .unwrap();
        let documents = AirbyteDocuments::open(std::path::Path::new("."), &settings).unwrap();
        let keys = documents.keys().unwrap();
        assert_eq!(keys.len(), n);
        double.set_latency(LATENCY);
        Self {
            double,
            documents,
            keys,
            concurrency,
        }
    }

    fn requests(&self) -> (usize, usize) {
        let all = self.double.requests();
        let writes = all.iter().filter(|r| is_write(&r.path)).count();
        (all.len() - writes, writes)
    }

    /// Reads every document, `concurrency` at once; (reads per connection, time).
    fn read_all(&self) -> (f64, Duration) {
        self.double.clear_requests();
        let start = Instant::now();
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..self.concurrency {
                scope.spawn(|| {
                    while let Some(key) = self
                        .keys
                        .get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                    {
                        self.documents.read(key).unwrap();
                    }
                });
            }
        });
        let took = start.elapsed();
        (self.requests().0 as f64 / self.keys.len() as f64, took)
    }

    /// Writes every connection's migrated document, in apply's batches; (time, reads and
    /// writes per connection, CPU time).
    fn write_all(&self) -> (Duration, f64, f64, Duration) {
        self.double.set_latency(Duration::ZERO);
        let befores: Vec<Vec<u8>> = self
            .keys
            .iter()
            .map(|k| self.documents.read(k).unwrap())
            .collect();
        let actions = [Action::ClearStream {
            stream: StreamDescriptor {
                name: "campaigns".into(),
                namespace: None,
            },
            reason: "2.0.0 changes its state".into(),
        }];
        let afters: Vec<Vec<u8>> = self
            .keys
            .iter()
            .zip(&befores)
            .map(|(k, b)| {
                self.documents
                    .as_written(k, b, migrated(b), &actions)
                    .unwrap()
            })
            .collect();
        self.double.set_latency(LATENCY);
        self.double.clear_requests();
        let (start, cpu) = (Instant::now(), cpu_time());
        let mut writer = self.documents.writer().unwrap();
        for chunk in (0..self.keys.len()).collect::<Vec<_>>().chunks(BATCH) {
            let writes: Vec<Write> = chunk
                .iter()
                .map(|&i| Write {
                    key: &self.keys[i],
                    before: &befores[i],
                    after: &afters[i],
                    actions: &actions,
                })
                .collect();
            for result in writer.write_batch(&writes, &mut |_| {}) {
                result.unwrap();
            }
        }
        let (took, cpu) = (start.elapsed(), cpu_time() - cpu);
        let (reads, writes) = self.requests();
        let n = self.keys.len() as f64;
        (took, reads as f64 / n, writes as f64 / n, cpu)
    }
}

fn is_write(path: &str) -> bool {
    matches!(
        path,
        "/v1/connections/update"
            | "/v1/state/create_or_update_safe"
            | "/v1/sources/upgrade_version"
            | "/v1/sources/update"
            | "/v1/connections/clear/stream"
            | "/v1/scoped_configuration/create"
            | "/v1/scoped_configuration/delete"
    )
}

/// What the 2.0.0 plugin leaves of a small connection: the version, `campaigns`' state per
/// ad account, and a config field.
fn migrated(before: &[u8]) -> Vec<u8> {
    let mut doc: Value = serde_json::from_slice(before).unwrap();
    doc["version"] = json!("2.0.0");
    doc["config"]["start_date"] = json!("2023-02-01");
    for m in doc["state"].as_array_mut().unwrap() {
        let cursor = m["stream"]["stream_state"].clone();
        m["stream"]["stream_state"] = json!({"states": [{"partition": {"id": "549755885175", "parent_slice": {}}, "cursor": cursor}]});
    }
    serde_json::to_vec(&doc).unwrap()
}
