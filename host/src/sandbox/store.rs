//! What one sandboxed call owns: its WASI context (granting nothing), its resource limits
//! and the bounded buffers its logs and output go to. A fresh one is made for every call,
//! so nothing a plugin does for one connection can be seen while migrating another.

use super::Limits;
use super::wasi;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// How much a plugin's log line matters: the contract's level, shared with the SDK.
pub use cutover_contract::LogLevel;

/// One line a plugin logged.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

/// The plugin's log, bounded in lines and bytes per line; what does not fit is counted.
#[derive(Debug, Default)]
pub struct LogBuffer {
    pub lines: Vec<LogLine>,
    pub dropped: usize,
    max_lines: usize,
    max_line_bytes: usize,
}

impl LogBuffer {
    fn new(limits: &Limits) -> Self {
        Self {
            lines: Vec::new(),
            dropped: 0,
            max_lines: limits.log_lines,
            max_line_bytes: limits.log_line_bytes,
        }
    }

    pub fn push(&mut self, level: LogLevel, mut message: String) {
        if self.lines.len() >= self.max_lines {
            self.dropped += 1;
            return;
        }
        if message.len() > self.max_line_bytes {
            let mut cut = self.max_line_bytes;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        self.lines.push(LogLine { level, message });
    }
}

/// Which limit stopped a call, set by the limiter so the error can say so precisely.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitHit {
    Memory { requested: usize, limit: usize },
    Tables,
    Instances,
}

/// The linear memory of one call's instance: what it started with (its memories' initial
/// sizes: an interpreter's snapshot, a Rust plugin's stack and data) and the most it grew to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryUse {
    pub initial: usize,
    pub peak: usize,
}

/// The per-call store data.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub log: LogBuffer,
    pub stderr: MemoryOutputPipe,
    pub limit_hit: Option<LimitHit>,
    pub memory: MemoryUse,
    memory_now: usize,
    memory_limit: usize,
    table_elements: usize,
    instances: usize,
}

impl HostState {
    pub fn new(limits: &Limits) -> Self {
        let stdout = MemoryOutputPipe::new(limits.output_bytes);
        let stderr = MemoryOutputPipe::new(limits.output_bytes);
        Self {
            wasi: wasi::deterministic_ctx(stdout, stderr.clone()),
            table: ResourceTable::new(),
            log: LogBuffer::new(limits),
            stderr,
            limit_hit: None,
            memory: MemoryUse::default(),
            memory_now: 0,
            memory_limit: limits.memory_bytes,
            table_elements: limits.table_elements,
            instances: limits.instances,
        }
    }

    /// The call's resources (WASI's, and the state streams of contract 1.1.0).
    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// The tail of what the plugin wrote to stderr (a Rust panic message lands there).
    pub fn stderr_tail(&self, max: usize) -> String {
        let bytes = self.stderr.contents();
        let start = bytes.len().saturating_sub(max);
        String::from_utf8_lossy(&bytes[start..]).trim().to_owned()
    }

    /// What the plugin said before it crashed, at most `max` bytes of it: the tail of its
    /// stderr, or else the start of its last error-level log line. A Python plugin is built
    /// with stubbed WASI and has no stderr; its SDK logs an exception it did not mean at
    /// error level, the exception first and its traceback after, before the call traps.
    pub fn crash_report(&self, max: usize) -> String {
        let stderr = self.stderr_tail(max);
        if !stderr.is_empty() {
            return stderr;
        }
        let Some(line) = self
            .log
            .lines
            .iter()
            .rev()
            .find(|l| l.level == LogLevel::Error)
        else {
            return String::new();
        };
        let mut end = line.message.len().min(max);
        while !line.message.is_char_boundary(end) {
            end -= 1;
        }
        line.message[..end].trim().to_owned()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Errors (traps) rather than failed growth, so the call stops at once and the limiter
/// has recorded which limit it was.
impl ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.limit_hit = Some(LimitHit::Memory {
                requested: desired,
                limit: self.memory_limit,
            });
            wasmtime::bail!(
                "memory limit of {} bytes exceeded (requested {desired})",
                self.memory_limit
            );
        }
        // A memory being created reports growing from nothing to its initial size.
        if current == 0 {
            self.memory.initial += desired;
        }
        self.memory_now += desired.saturating_sub(current);
        self.memory.peak = self.memory.peak.max(self.memory_now);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            self.limit_hit = Some(LimitHit::Tables);
            wasmtime::bail!("table limit of {} elements exceeded", self.table_elements);
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.instances * 4
    }

    fn memories(&self) -> usize {
        self.instances
    }
}
