//! A plugin that misbehaves on purpose, for the sandbox tests.
//!
//! It migrates `test/source-hostile` 1.x → 2.0.0, and what it does is chosen per connection
//! by the config field `hostile`: behave (`none`), trap, loop forever, exhaust memory,
//! recurse without end, panic, return invalid JSON or a giant output, spam the log, or probe
//! the clock, randomness, environment and arguments and report what it saw. (Files are
//! probed by `tests/guests/forbidden`: using them at all gets a plugin refused at load.)

use cutover_plugin::{Connection, Error, Manifest, Migration, Outcome, Result, Value, info, json};
use std::hint::black_box;

pub struct Hostile;

impl Migration for Hostile {
    fn manifest() -> Manifest {
        Manifest {
            connector: "test/source-hostile".into(),
            applies_to: ">=1.0.0, <2.0.0".into(),
            produces: "2.0.0".into(),
            message: "A breaking change that exists to test the sandbox.".into(),
            upgrade_deadline: Some("2030-01-01".into()),
            documentation_url: "https://example.invalid/hostile".into(),
            guide: "Nothing to read.".into(),
            ..Default::default()
        }
    }

    fn migrate(connection: Connection) -> Result<Outcome> {
        let mode = connection.config.get("hostile").and_then(Value::as_str).unwrap_or("none").to_owned();
        let mut out = connection.into_outcome();
        match mode.as_str() {
            "none" => out.config["migrated"] = json!(true),
            "trap" => {
                out.config["half"] = json!("done");
                std::process::abort()
            }
            "loop" => loop {
                black_box(&mut out);
            },
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(black_box(vec![7u8; 1 << 20]));
                }
            }
            "recursion" => out.config["depth"] = json!(recurse(0)),
            "panic" => panic!("hostile plugin panicked on purpose"),
            "refuse" => return Err(Error::NeedsOperator("hostile plugin wants a human".into())),
            "giant-output" => out.config["blob"] = json!("x".repeat(96 << 20)),
            "log-spam" => {
                let filler = "y".repeat(10_000);
                for i in 0..20_000 {
                    info(&format!("line {i} {filler}"));
                }
                out.config["logged"] = json!(true);
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
                out.config["probe"] = json!({
                    "wall_clock_secs": now,
                    "monotonic_elapsed_nanos": mono.elapsed().as_nanos() as u64,
                    "hash": h.finish(),
                    "env": std::env::vars().count(),
                    "args": std::env::args().count(),
                });
            }
            other => return Err(Error::InvalidInput(format!("unknown hostile mode {other:?}"))),
        }
        Ok(out)
    }
}

fn recurse(depth: u64) -> u64 {
    let pad = black_box([depth; 64]);
    if black_box(depth) == u64::MAX { pad[0] } else { recurse(depth + 1) + pad[1] }
}

cutover_plugin::export!(Hostile);
