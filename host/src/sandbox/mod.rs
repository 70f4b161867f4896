//! The sandbox: runs plugin components under wasmtime with nothing granted and every
//! resource bounded.
//!
//! One [`Sandbox`] (one `Engine`) serves a whole process. Each plugin is compiled once and
//! pre-linked ([`LoadedPlugin`]); every call then gets a **fresh store**, so no state leaks
//! from one connection to the next and a trap only ever spoils the call it happened in.
//! Deadlines use epoch interruption: a background thread ticks the engine's epoch and each
//! call may run for a fixed number of ticks.

mod cache;
mod imports;
mod output;
mod store;
pub mod stream;
mod ungranted;
mod wasi;
pub mod wit;

pub use cache::{CompileCache, Description};
pub use output::OutputLimit;
pub use store::{LimitHit, LogLevel, LogLine, MemoryUse};

use crate::manifest::Manifest;
use crate::migration::{ConnectorInput, ConnectorOutcome, Input, MigrationError, Outcome};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use store::HostState;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};
use wit::{Bindings, ContractVersion, OutputOverflow, Pre};

/// How long one epoch tick lasts; deadlines are counted in ticks.
const TICK: Duration = Duration::from_millis(5);

/// What one plugin call may use. Settable per fleet (`[limits]` in cutover.toml).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Linear memory, in bytes.
    pub memory_bytes: usize,
    /// Wall time for one call, in milliseconds.
    pub timeout_ms: u64,
    /// The size of everything a call returns (documents, actions, notes), and of what it
    /// may write to stdout and stderr, in bytes.
    pub output_bytes: usize,
    /// Log lines kept per call.
    pub log_lines: usize,
    /// Bytes kept per log line.
    pub log_line_bytes: usize,
    /// Actions a call may return.
    pub actions: usize,
    /// Notes a call may return.
    pub notes: usize,
    /// Bytes of text in a call's actions and notes together (reasons, stream names,
    /// pointers, notes).
    pub text_bytes: usize,
    /// Table elements.
    pub table_elements: usize,
    /// Component instances (a plugin is a handful of core instances).
    pub instances: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            timeout_ms: 10_000,
            output_bytes: 64 << 20,
            log_lines: 1_000,
            log_line_bytes: 4_096,
            actions: 1_000,
            notes: 1_000,
            text_bytes: 1 << 20,
            table_elements: 100_000,
            instances: 64,
        }
    }
}

/// Why a sandboxed call failed. Each is scoped to the one call (one connection).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the plugin refused the connection: {0}")]
    Refused(#[from] MigrationError),
    #[error(
        "the plugin ran past its {timeout_ms} ms deadline and was stopped; raise [limits] timeout_ms in cutover.toml only if the plugin is known to need it"
    )]
    Timeout { timeout_ms: u64 },
    #[error(
        "the plugin tried to grow its memory to {requested} bytes, over the {limit}-byte limit; raise [limits] memory_bytes in cutover.toml only if the connection is known to be that large"
    )]
    MemoryLimit { requested: usize, limit: usize },
    #[error("the plugin exceeded its {0} limit")]
    ResourceLimit(&'static str),
    #[error("the plugin returned {size} bytes, over the {limit}-byte output limit")]
    OutputTooLarge { size: usize, limit: usize },
    #[error("the plugin returned {0}; the rest was not read")]
    OutputLimit(#[from] output::OutputLimit),
    #[error("the plugin crashed (trap: {trap}){}; this is a bug in the plugin: report it to its author with the connection", stderr_suffix(.stderr))]
    Trap { trap: String, stderr: String },
    #[error(
        "the plugin tried to use {} (it called WASI's `{}`), which the sandbox does not grant: plugins get no files, clock, entropy, environment or network, and a migration must work from the connection it is given{}; this is a bug in the plugin: report it to its author with the connection",
        .reached.capability, .reached.call, stderr_suffix(.stderr)
    )]
    Ungranted {
        reached: ungranted::Ungranted,
        stderr: String,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.is_empty() {
        return String::new();
    }
    // One line: a plan shows each connection's error on a line of its own.
    let flat: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    format!("; it wrote: {}", flat.join(" / "))
}

/// The result of a successful call, with what the plugin logged.
#[derive(Debug)]
pub struct Call<T> {
    pub value: T,
    pub log: Vec<LogLine>,
    pub log_dropped: usize,
    /// The instance's linear memory, as it started and at its largest.
    pub memory: MemoryUse,
}

/// A plugin compiled and linked, ready to instantiate cheaply for each call.
pub struct LoadedPlugin {
    contract: ContractVersion,
    pre: Pre,
}

impl LoadedPlugin {
    pub fn contract(&self) -> ContractVersion {
        self.contract
    }
}

/// Ticks the engine's epoch until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("cutover-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Instances the pooling allocator keeps ready: enough for a call on every core at once,
/// with room to spare.
const POOL_INSTANCES: u32 = 64;

/// How many bytes of a slot's memory a reset may copy back by hand, when the kernel can
/// say which pages a call wrote (`PAGEMAP_SCAN`, Linux 6.7+). A call on a small connection
/// writes well under this, so its slot goes back to the pool without an `madvise`; a call
/// that writes more has the rest released as before.
const KEEP_RESIDENT: usize = 1 << 20;

/// The pooling allocator: instance slots (memories, tables, stacks) reserved once and
/// reused, so a fresh store per call costs a slot reset instead of fresh mappings. Each
/// slot is sized by the fleet's limits.
///
/// By default a reset releases the pages a call touched (`madvise`): the next call faults
/// them in again, and with workers on several cores every release also interrupts the other
/// cores to flush their TLBs, which was most of a small call's cost. Where the kernel can
/// list the written pages, only those are restored, by copy, and the slot stays mapped
/// (BENCHMARKS.md, "Per call"). Without that scan, keeping pages resident would mean
/// restoring the whole kept range on every reset, which measured slower, so it stays off.
fn pool(limits: &Limits) -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOL_INSTANCES)
        .total_core_instances(POOL_INSTANCES * 8)
        .total_memories(POOL_INSTANCES * 2)
        .total_tables(POOL_INSTANCES * 8)
        .max_memory_size(limits.memory_bytes)
        .table_elements(limits.table_elements);
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pool.pagemap_scan(wasmtime::Enabled::Yes)
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT);
    }
    pool
}

/// How a runaway call is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interruption {
    /// Epoch interruption against the wall-clock deadline (`timeout_ms`): what cutover uses.
    /// It costs a load and compare at loop headers and function entries.
    Epoch,
    /// Fuel: a budget of wasm operations, counted as they run. Deterministic, but it costs
    /// more per instruction (see BENCHMARKS.md) and bounds work, not time; kept so the
    /// difference can be measured.
    Fuel(u64),
}

/// The process-wide sandbox.
pub struct Sandbox {
    engine: Engine,
    /// One linker per contract version, in the order of [`wit::KNOWN`].
    linkers: Vec<(ContractVersion, Linker<HostState>)>,
    limits: Limits,
    interruption: Interruption,
    _ticker: Option<EpochTicker>,
}

impl Sandbox {
    pub fn new(limits: Limits) -> Result<Self> {
        Self::with_interruption(limits, Interruption::Epoch)
    }

    pub fn with_interruption(limits: Limits, interruption: Interruption) -> Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool(&limits)));
        match interruption {
            Interruption::Epoch => config.epoch_interruption(true),
            Interruption::Fuel(_) => config.consume_fuel(true),
        };
        // Deep recursion must trap cleanly, not overflow the host's stack.
        config.max_wasm_stack(1 << 20);
        let engine = Engine::new(&config)
            .map_err(anyhow::Error::from)
            .context("creating the wasmtime engine")?;
        let mut linkers = Vec::with_capacity(wit::KNOWN.len());
        for version in wit::KNOWN {
            let linker = version.linker(&engine).with_context(|| {
                format!("linking the cutover {} host interface", version.as_str())
            })?;
            linkers.push((version, linker));
        }
        let ticker =
            (interruption == Interruption::Epoch).then(|| EpochTicker::start(engine.clone()));
        Ok(Self {
            engine,
            linkers,
            limits,
            interruption,
            _ticker: ticker,
        })
    }

    /// The engine plugins are compiled for: the compile cache's entries are keyed by it.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Compiles a component (or takes it from `cache`), refuses it if it imports more than
    /// the contract allows, and links it.
    pub fn load(
        &self,
        bytes: &[u8],
        sha256: &str,
        cache: Option<&CompileCache>,
    ) -> Result<LoadedPlugin> {
        self.load_with(sha256, cache, || Ok(std::borrow::Cow::Borrowed(bytes)))
    }

    /// As [`Self::load`], with the plugin's bytes read only if they must be compiled: a hit
    /// in `cache` needs nothing but the digest. `bytes` must return bytes of that digest.
    pub fn load_with<'b>(
        &self,
        sha256: &str,
        cache: Option<&CompileCache>,
        bytes: impl FnOnce() -> Result<std::borrow::Cow<'b, [u8]>>,
    ) -> Result<LoadedPlugin> {
        let component = match cache {
            Some(cache) => cache.component(&self.engine, sha256, bytes)?,
            None => Component::new(&self.engine, &bytes()?)
                .map_err(anyhow::Error::from)
                .context("it is not a valid WebAssembly component")?,
        };
        imports::check(&self.engine, &component)?;
        let contract = ContractVersion::of(&self.engine, &component)?;
        let linker = &self
            .linkers
            .iter()
            .find(|(v, _)| *v == contract)
            .expect("a linker for every known version")
            .1;
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .context("linking it")?;
        let pre = Pre::new(contract, instance_pre)?;
        Ok(LoadedPlugin { contract, pre })
    }

    /// Calls the plugin's `manifest()`.
    pub fn manifest(&self, plugin: &LoadedPlugin) -> Result<Call<Manifest>, SandboxError> {
        self.call(plugin, |store, bindings| Ok(Ok(bindings.manifest(store)?)))
    }

    /// Calls the plugin's `migrate()` for one Airbyte connection.
    pub fn migrate(
        &self,
        plugin: &LoadedPlugin,
        input: &Input,
    ) -> Result<Call<Outcome>, SandboxError> {
        let call = self.call(plugin, |store, bindings| {
            bindings.migrate(store, input, self.limits.output_bytes)
        })?;
        let o = &call.value;
        let size = o.config.len() + o.catalog.len() + o.state.len();
        if size > self.limits.output_bytes {
            return Err(SandboxError::OutputTooLarge {
                size,
                limit: self.limits.output_bytes,
            });
        }
        output::check(o, &self.limits)?;
        Ok(call)
    }

    /// Calls the plugin's `migrate-connector()` for one Elastic connector document.
    pub fn migrate_connector(
        &self,
        plugin: &LoadedPlugin,
        input: &ConnectorInput,
    ) -> Result<Call<ConnectorOutcome>, SandboxError> {
        let call = self.call(plugin, |store, bindings| {
            bindings.migrate_connector(store, input)
        })?;
        let o = &call.value;
        let size = o.document.len()
            + o.notes.iter().map(String::len).sum::<usize>()
            + o.actions.len() * 64;
        if size > self.limits.output_bytes {
            return Err(SandboxError::OutputTooLarge {
                size,
                limit: self.limits.output_bytes,
            });
        }
        Ok(call)
    }

    /// Runs `f` against a freshly instantiated plugin in a fresh store.
    fn call<T>(
        &self,
        plugin: &LoadedPlugin,
        f: impl FnOnce(&mut Store<HostState>, &Bindings) -> wasmtime::Result<Result<T, MigrationError>>,
    ) -> Result<Call<T>, SandboxError> {
        let mut store = Store::new(&self.engine, HostState::new(&self.limits));
        store.limiter(|s| s as &mut dyn wasmtime::ResourceLimiter);
        store.set_hostcall_fuel(output::lifting_budget(&self.limits));
        match self.interruption {
            Interruption::Epoch => store.set_epoch_deadline(
                self.limits
                    .timeout_ms
                    .div_ceil(TICK.as_millis() as u64)
                    .max(1),
            ),
            Interruption::Fuel(units) => store
                .set_fuel(units)
                .expect("fuel is enabled in this engine's config"),
        }
        let instance = plugin.pre.instantiate(&mut store);
        let result = instance.and_then(|bindings| f(&mut store, &bindings));
        let value = match result {
            Ok(Ok(v)) => v,
            Ok(Err(refusal)) => return Err(SandboxError::Refused(refusal)),
            Err(e) => return Err(self.classify(&store, e)),
        };
        let state = store.into_data();
        Ok(Call {
            value,
            log: state.log.lines,
            log_dropped: state.log.dropped,
            memory: state.memory,
        })
    }

    /// Turns a wasmtime error into the limit or crash it stands for.
    fn classify(&self, store: &Store<HostState>, e: wasmtime::Error) -> SandboxError {
        match store.data().limit_hit {
            Some(LimitHit::Memory { requested, limit }) => {
                return SandboxError::MemoryLimit { requested, limit };
            }
            Some(LimitHit::Tables) => return SandboxError::ResourceLimit("table"),
            Some(LimitHit::Instances) => return SandboxError::ResourceLimit("instance"),
            None => {}
        }
        if output::is_over_budget(&e) {
            return output::OutputLimit::Lifting(output::lifting_budget(&self.limits)).into();
        }
        if let Some(OutputOverflow(size)) = e.downcast_ref::<OutputOverflow>() {
            return SandboxError::OutputTooLarge {
                size: *size,
                limit: self.limits.output_bytes,
            };
        }
        if let Some(Trap::Interrupt | Trap::OutOfFuel) = e.downcast_ref::<Trap>() {
            return SandboxError::Timeout {
                timeout_ms: self.limits.timeout_ms,
            };
        }
        if let Some(reached) = ungranted::find(&e) {
            return SandboxError::Ungranted {
                reached,
                stderr: store.data().crash_report(2_000),
            };
        }
        let trap = match e.downcast_ref::<Trap>() {
            Some(t) => t.to_string(),
            None => format!("{e:#}"),
        };
        SandboxError::Trap {
            trap,
            stderr: store.data().crash_report(2_000),
        }
    }
}
