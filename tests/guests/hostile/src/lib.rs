//! A plugin that misbehaves on purpose, for the sandbox tests.
//!
//! It is written against the raw WIT bindings, not the SDK, since a hostile plugin would
//! not use the SDK's guard rails: it can return any text at all. It migrates
//! `test/source-hostile` 1.x → 2.0.0, and what it does is chosen per connection by the
//! config field `hostile`: behave (`none`), trap after partial work, loop forever, exhaust
//! memory, recurse without end, panic, refuse, return invalid JSON, invalid UTF-8, the wrong
//! shapes or a giant output, spam the log, probe the clock, randomness, environment and
//! arguments and report what it saw, or report what an earlier call left in its memory. (Files are probed by `tests/guests/forbidden`: using
//! them at all gets a plugin refused at load.)
#![cfg(target_arch = "wasm32")]

mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit/since_v1.0.0",
        world: "plugin",
    });
}

use bindings::cutover::migration::host::{Level, log};
use bindings::cutover::migration::types::{Connection, Manifest, MigrationError, Outcome};
use serde_json::{Value, json};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

struct Hostile;

impl bindings::Guest for Hostile {
    fn manifest() -> Manifest {
        Manifest {
            connector: "test/source-hostile".into(),
            applies_to: ">=1.0.0, <2.0.0".into(),
            produces: "2.0.0".into(),
            message: "A breaking change that exists to test the sandbox.".into(),
            upgrade_deadline: Some("2030-01-01".into()),
            deadline_action: None,
            documentation_url: "https://example.invalid/hostile".into(),
            scoped_streams: Vec::new(),
            preconditions: Vec::new(),
            guide: "Nothing to read.".into(),
        }
    }

    fn migrate(c: Connection) -> Result<Outcome, MigrationError> {
        let mut config: Value = serde_json::from_str(&c.config).map_err(|e| MigrationError::InvalidInput(e.to_string()))?;
        let mode = config.get("hostile").and_then(Value::as_str).unwrap_or("none").to_owned();
        let outcome = |config: String| Outcome {
            config,
            catalog: c.catalog.clone(),
            state: c.state.clone(),
            actions: Vec::new(),
            notes: Vec::new(),
        };
        match mode.as_str() {
            "none" => config["migrated"] = json!(true),
            "trap" => {
                config["half"] = json!("done");
                black_box(&config);
                std::process::abort()
            }
            "loop" => loop {
                black_box(&mut config);
            },
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(black_box(vec![7u8; 1 << 20]));
                }
            }
            "recursion" => config["depth"] = json!(recurse(0)),
            "panic" => panic!("hostile plugin panicked on purpose"),
            "refuse" => return Err(MigrationError::NeedsOperator("hostile plugin wants a human".into())),
            "invalid-json" => return Ok(outcome("{\"config\": not json".into())),
            "wrong-shape" => return Ok(Outcome { state: "{\"not\": \"a list\"}".into(), ..outcome(c.config.clone()) }),
            "giant-output" => config["blob"] = json!("x".repeat(96 << 20)),
            "invalid-utf8" => {
                // Not valid UTF-8: exactly what a hostile plugin would hand the host. The
                // canonical ABI must refuse to lift it.
                let bytes = vec![b'o', b'k', 0xff, 0xfe];
                // SAFETY: deliberately violated; the string is only passed through the ABI.
                let note = unsafe { String::from_utf8_unchecked(bytes) };
                return Ok(Outcome { notes: vec![note], ..outcome(c.config.clone()) });
            }
            "log-spam" => {
                let filler = "y".repeat(10_000);
                for i in 0..20_000 {
                    log(Level::Info, &format!("line {i} {filler}"));
                }
                config["logged"] = json!(true);
            }
            "probe" => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(u64::MAX);
                let mono = std::time::Instant::now();
                use std::hash::{BuildHasher, Hasher};
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_u8(1);
                config["probe"] = json!({
                    "wall_clock_secs": now,
                    "monotonic_elapsed_nanos": mono.elapsed().as_nanos() as u64,
                    "hash": h.finish(),
                    "env": std::env::vars().count(),
                    "args": std::env::args().count(),
                });
            }
            "remember" => {
                // A counter in the data segment and a buffer in .bss: after any earlier call
                // in the same process, a reused instance slot must hold neither's writes.
                static CALLS: AtomicU64 = AtomicU64::new(0);
                static mut SCRATCH: [u8; 1 << 16] = [0; 1 << 16];
                let calls = CALLS.fetch_add(1, Ordering::Relaxed);
                // SAFETY: a guest runs one call at a time, on one thread.
                let scratch = unsafe { &mut *std::ptr::addr_of_mut!(SCRATCH) };
                let dirty = black_box(&*scratch).iter().filter(|b| **b != 0).count();
                scratch.fill(0xab);
                black_box(&*scratch);
                config["remembered"] = json!({"calls": calls, "dirty_bytes": dirty});
            }
            other => return Err(MigrationError::InvalidInput(format!("unknown hostile mode {other:?}"))),
        }
        Ok(outcome(config.to_string()))
    }
}

fn recurse(depth: u64) -> u64 {
    let pad = black_box([depth; 64]);
    if black_box(depth) == u64::MAX { pad[0] } else { recurse(depth + 1) + pad[1] }
}

bindings::export!(Hostile with_types_in bindings);
