//! What the benchmarks measure with: the process's CPU time, medians, and a `cutover plan`
//! run as a new process, cold (no compile cache) and warm.

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

/// CPU time the calling thread has used so far: what a stage costs, whoever else the
/// machine is running.
pub fn thread_cpu_time() -> Duration {
    // SAFETY: clock_gettime only writes the struct it is given.
    let ts = unsafe {
        let mut ts = std::mem::zeroed::<libc::timespec>();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
        ts
    };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
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

/// A plan's cold start, as [`plan_process`] measures it: the median of `cold` runs each with
/// the fleet's compile cache (`.cutover/cache`) removed first, then the median of `warm`
/// runs with it kept.
pub struct ColdStart {
    pub cold: Duration,
    pub warm: Duration,
}

/// Measures [`ColdStart`] of `cutover --fleet FLEET plan --all --only ID`.
pub fn cold_start(bin: &str, fleet: &Path, only: &str, cold: usize, warm: usize) -> ColdStart {
    let run = || plan_process(bin, fleet, only);
    let cold = median(
        (0..cold)
            .map(|_| {
                let _ = std::fs::remove_dir_all(fleet.join(".cutover/cache"));
                run()
            })
            .collect(),
    );
    let warm = median((0..warm).map(|_| run()).collect());
    ColdStart { cold, warm }
}
