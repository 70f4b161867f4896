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
//!
//! What it hands back is hostile too: it moves and copies the connection's secrets into
//! other fields, the state, notes, actions, its log (in clear and in base64) and its
//! refusals (`secret-moved`, `secret-refusal`); writes terminal control sequences into
//! every text it returns, its manifest included (`control-chars`, `control-refusal`);
//! floods the host with actions, notes or their text (`action-flood`, `many-actions`,
//! `note-flood`, `action-text`); and
//! returns a catalog that lists a stream twice or a state for a stream nobody knows
//! (`duplicate-streams`, `orphan-state`).
#![cfg(target_arch = "wasm32")]

mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit/since_v1.0.0",
        world: "plugin",
    });
}

use bindings::cutover::migration::host::{Level, log};
use bindings::cutover::migration::types::{
    Action, Connection, FieldAction, Manifest, MigrationError, Outcome, StreamAction,
    StreamDescriptor,
};
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
            // Control sequences in the manifest: clear the screen, retitle the window,
            // rewrite the line, reverse the text.
            message: "A breaking change that exists to test the sandbox.\u{1b}[2J\u{1b}[H\rPlan: 0 failed".into(),
            upgrade_deadline: Some("2030-01-01".into()),
            deadline_action: None,
            documentation_url: "https://example.invalid/hostile".into(),
            scoped_streams: Vec::new(),
            preconditions: Vec::new(),
            guide: "Nothing to read.\n\u{1b}]0;owned\u{7}\u{9b}31m\u{202e}txet desrever".into(),
        }
    }

    fn migrate(c: Connection) -> Result<Outcome, MigrationError> {
        let mut config: Value = serde_json::from_str(&c.config)
            .map_err(|e| MigrationError::InvalidInput(e.to_string()))?;
        let mode = config
            .get("hostile")
            .and_then(Value::as_str)
            .unwrap_or("none")
            .to_owned();
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
            "refuse" => {
                return Err(MigrationError::NeedsOperator(
                    "hostile plugin wants a human".into(),
                ));
            }
            "invalid-json" => return Ok(outcome("{\"config\": not json".into())),
            "wrong-shape" => {
                return Ok(Outcome {
                    state: "{\"not\": \"a list\"}".into(),
                    ..outcome(c.config.clone())
                });
            }
            "giant-output" => config["blob"] = json!("x".repeat(96 << 20)),
            "secret-moved" => {
                // The spec-less secrets of the connection: moved, changed and copied into
                // every text the plugin returns.
                let token = config["api_token"].as_str().unwrap_or_default().to_owned();
                let password = config["password"].as_str().unwrap_or_default().to_owned();
                log(Level::Info, &format!("migrating with token {token}"));
                if let Some(map) = config.as_object_mut() {
                    map.remove("api_token");
                }
                config["credentials"] = json!({"api_token": token});
                config["password"] = json!(format!("{password}-rotated"));
                config["innocent"] = json!(token);
                let state = json!([{"type": "LEGACY", "data": {"leaked": password}}]).to_string();
                // Encoded too, as a plugin building a request would.
                let basic = base64(format!("svc:{token}").as_bytes());
                log(Level::Info, &format!("Authorization: Basic {basic}"));
                return Ok(Outcome {
                    actions: vec![Action::RetestSource(format!("log in with {password}"))],
                    notes: vec![
                        format!("the old token was {token}"),
                        format!("header Authorization: Basic {basic}"),
                        format!("password in base64: {}", base64(password.as_bytes())),
                    ],
                    state,
                    ..outcome(config.to_string())
                });
            }
            "secret-refusal" => {
                let token = config["api_token"].as_str().unwrap_or_default();
                return Err(MigrationError::InvalidInput(format!(
                    "token {token} is not accepted"
                )));
            }
            "control-chars" => {
                let evil = "\u{1b}[2J\u{1b}[H\rPlan: 0 failed\n\u{1b}]0;owned\u{7}\u{9b}1m\u{202e}";
                log(Level::Warn, &format!("log {evil}"));
                config["migrated"] = json!(true);
                return Ok(Outcome {
                    actions: vec![
                        Action::RefreshSchema(format!("reason {evil}")),
                        Action::ClearStream(StreamAction {
                            stream: StreamDescriptor {
                                name: format!("stream{evil}"),
                                namespace: Some(format!("ns{evil}")),
                            },
                            reason: format!("clear {evil}"),
                        }),
                        Action::ReviewField(FieldAction {
                            pointer: format!("/p{evil}"),
                            reason: format!("review {evil}"),
                        }),
                    ],
                    notes: vec![format!("note {evil}")],
                    ..outcome(config.to_string())
                });
            }
            "control-refusal" => {
                return Err(MigrationError::NeedsOperator(
                    "refused \u{1b}[2J\u{1b}[H\rPlan: 0 failed\u{7}".into(),
                ));
            }
            "action-flood" => {
                // A million actions: a few bytes each in the plugin, far more once the host
                // copies them out.
                let actions = (0..1_000_000)
                    .map(|_| Action::RefreshSchema(String::from("x")))
                    .collect();
                return Ok(Outcome {
                    actions,
                    ..outcome(c.config.clone())
                });
            }
            "many-actions" => {
                let actions = (0..5_000)
                    .map(|i| Action::RefreshSchema(format!("reason {i}")))
                    .collect();
                return Ok(Outcome {
                    actions,
                    ..outcome(c.config.clone())
                });
            }
            "note-flood" => {
                let notes = (0..200_000).map(|_| String::from("n")).collect();
                return Ok(Outcome {
                    notes,
                    ..outcome(c.config.clone())
                });
            }
            "action-text" => {
                let reason = "r".repeat(20 << 10);
                let actions = (0..100)
                    .map(|_| Action::RefreshSchema(reason.clone()))
                    .collect();
                return Ok(Outcome {
                    actions,
                    ..outcome(c.config.clone())
                });
            }
            "duplicate-streams" => {
                let stream = json!({
                    "stream": {"name": "users", "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
                               "supported_sync_modes": ["full_refresh"], "source_defined_primary_key": [["id"]]},
                    "sync_mode": "full_refresh", "destination_sync_mode": "overwrite", "primary_key": [["id"]]
                });
                let catalog = json!({"streams": [stream.clone(), stream]}).to_string();
                return Ok(Outcome {
                    catalog,
                    ..outcome(c.config.clone())
                });
            }
            "orphan-state" => {
                let state = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "nobody_knows"}, "stream_state": {"cursor": 1}}}]);
                return Ok(Outcome {
                    state: state.to_string(),
                    ..outcome(c.config.clone())
                });
            }
            "invalid-utf8" => {
                // Not valid UTF-8: exactly what a hostile plugin would hand the host. The
                // canonical ABI must refuse to lift it.
                let bytes = vec![b'o', b'k', 0xff, 0xfe];
                // SAFETY: deliberately violated; the string is only passed through the ABI.
                let note = unsafe { String::from_utf8_unchecked(bytes) };
                return Ok(Outcome {
                    notes: vec![note],
                    ..outcome(c.config.clone())
                });
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
            other => {
                return Err(MigrationError::InvalidInput(format!(
                    "unknown hostile mode {other:?}"
                )));
            }
        }
        Ok(outcome(config.to_string()))
    }
}

fn recurse(depth: u64) -> u64 {
    let pad = black_box([depth; 64]);
    if black_box(depth) == u64::MAX {
        pad[0]
    } else {
        recurse(depth + 1) + pad[1]
    }
}

bindings::export!(Hostile with_types_in bindings);

/// Standard base64 with padding, as a plugin would put a credential in a header.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}
