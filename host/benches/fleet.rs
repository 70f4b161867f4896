//! Fleet throughput: planning and applying fleets of small source-pinterest 1.3.3
//! connections (2 streams, about 1 KB each) with the real 2.0.0 plugin, on every core.
//!
//! `cargo bench -p cutover --bench fleet` prints connections per second for planning at
//! 1k, 10k and 100k connections with the peak memory of the process so far, and for a
//! durable apply (journal with snapshots, atomic writes, flushes shared per batch) at 1k
//! and 10k.

use cutover::fleet::Fleet;
use cutover::journal::Writer;
use cutover::plan::{Options, Planner};
use cutover::registry::Registry;
use cutover::sandbox::Sandbox;
use std::time::Instant;


fn fleet(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("connections")).unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    std::fs::write(dir.path().join("cutover.toml"), "[platform]\nplatform = \"0.63.14\"\n[connectors.\"airbyte/source-pinterest\"]\ntarget = \"2.0.0\"\n").unwrap();
    std::fs::copy(cutover_tests::plugin("source-pinterest-v2"), dir.path().join("plugins/source_pinterest_v2.wasm")).unwrap();
    for i in 0..n {
        let doc = cutover_tests::small_pinterest_connection(&format!("c{i:06}"), 1714521600 + i as u64);
        std::fs::write(dir.path().join(format!("connections/c{i:06}.json")), serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    }
    dir
}

/// The process's peak resident memory so far, in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() {
    let options = Options { all: true, ..Options::default() };
    println!("{:<24} {:>12} {:>16} {:>16}", "fleet", "time", "connections/s", "peak RSS (MiB)");
    for n in [1_000, 10_000, 100_000] {
        let dir = fleet(n);
        let fleet = Fleet::open(dir.path()).unwrap();
        let sandbox = Sandbox::new(fleet.settings.limits.clone()).unwrap();
        let registry = Registry::load(&fleet.plugins_dir(), &sandbox, &fleet.settings.trust, None).unwrap();
        let planner = Planner { fleet: &fleet, registry: &registry, sandbox: &sandbox, options: &options, run_plugins: true };
        let start = Instant::now();
        let plan = planner.plan(|_| {}).unwrap();
        let took = start.elapsed();
        assert_eq!(plan.summary().get(cutover::plan::Status::Migrate), n);
        println!("{:<24} {:>12.2?} {:>16.0} {:>16.1}", format!("plan {n}"), took, n as f64 / took.as_secs_f64(), peak_rss_mib());

        if n <= 10_000 {
            let mut writer = Writer::open(&fleet, "bench").unwrap();
            let start = Instant::now();
            let migrate = |c: &cutover::plan::ConnectionPlan| Ok(planner.plan_entry(&fleet.read(&c.file)?));
            let applied = cutover::apply::apply(&fleet, &plan, &plan.connections, &mut writer, migrate, |_| {}).unwrap();
            let took = start.elapsed();
            assert_eq!(applied.written.len(), n);
            println!("{:<24} {:>12.2?} {:>16.0} {:>16.1}", format!("durable apply {n}"), took, n as f64 / took.as_secs_f64(), peak_rss_mib());
        }
    }
}
