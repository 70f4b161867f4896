//! What the benchmarks measure with: the process's CPU time, medians, and a `cutover plan`
//! run as a new process.

use std::path::Path;
use std::time::{Duration, Instant};

/// CPU time (user and system, every thread) the process has used so far.
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The middle of some timings.
pub fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// How long `cutover --fleet FLEET plan --all --only ID` takes as a new process (it must
/// succeed): a plan's cold start.
pub fn plan_process(bin: &str, fleet: &Path, only: &str) -> Duration {
    let start = Instant::now();
    let out = std::process::Command::new(bin)
        .args([
            "--fleet",
            fleet.to_str().unwrap(),
            "plan",
            "--all",
            "--only",
            only,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed()
}
