//! A WASI context that grants nothing and answers the same every time.
//!
//! The Rust standard library for `wasm32-wasip2` imports a handful of WASI interfaces
//! (streams, environment, exit, stdio) even when a plugin never uses them, so the host must
//! link them. This context makes them harmless: no preopened directories, no environment,
//! no arguments, no network, clocks frozen at the Unix epoch and "random" bytes from a fixed
//! sequence. A plugin that reads the clock or asks for randomness gets the same answer on
//! every run, so the same input always gives the same output.

use std::time::Duration;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{Deterministic, HostMonotonicClock, HostWallClock, WasiCtx};

/// A wall clock stopped at 1970-01-01T00:00:00Z.
struct FrozenWallClock;

impl HostWallClock for FrozenWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

/// A monotonic clock that never advances.
struct FrozenMonotonicClock;

impl HostMonotonicClock for FrozenMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// The fixed byte sequence behind every random source (not secret, not random: plugins
/// have no business needing either).
const FIXED_RANDOM: &[u8] = b"cutover: plugins are deterministic";

pub fn deterministic_ctx(stdout: MemoryOutputPipe, stderr: MemoryOutputPipe) -> WasiCtx {
    WasiCtx::builder()
        .stdout(stdout)
        .stderr(stderr)
        .wall_clock(FrozenWallClock)
        .monotonic_clock(FrozenMonotonicClock)
        .secure_random(Deterministic::new(FIXED_RANDOM.to_vec()))
        .insecure_random(Deterministic::new(FIXED_RANDOM.to_vec()))
        .insecure_random_seed(0)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}
