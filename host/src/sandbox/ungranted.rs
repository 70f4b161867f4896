//! Naming what a plugin reached for when it touched a host capability the sandbox does not
//! grant.
//!
//! A Rust plugin that imports files, clocks or sockets is refused when it is loaded
//! ([`super::imports`]). A Python plugin cannot be refused that way: its interpreter calls
//! WASI throughout, so componentize-py's `--stub-wasi` build replaces every WASI function
//! with one that traps (`unreachable`), and the component imports nothing. Such a trap
//! alone says only "unreachable executed". The backtrace says more: the stub is an unnamed
//! function, and the frame that called it is wasi-libc's binding of the WASI function,
//! named after it (`wall_clock_now` for `wasi:clocks/wall-clock.now`,
//! `filesystem_preopens_get_directories`, `random_get_random_bytes`). That name tells the
//! operator and the author what the plugin tried, as the import refusal does for Rust.

use wasmtime::{Trap, WasmBacktrace};

/// A host capability a plugin reached for, found in a trap's backtrace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ungranted {
    /// What the plugin tried to reach, in the operator's words ("the clock").
    pub capability: &'static str,
    /// The WASI binding it called (`wall_clock_now`).
    pub call: String,
}

/// wasi-libc's WASI bindings by name prefix, and the capability each belongs to. Not
/// listed: `terminal_*`, `stdin_*` and `exit_*`, which the interpreter calls itself when it
/// reports an exception (is stderr a terminal?): such a trap is a crash whose cause is in
/// what the plugin wrote, and is reported as one.
const CAPABILITIES: &[(&str, &str)] = &[
    ("wall_clock_", "the clock"),
    ("monotonic_clock_", "the clock"),
    ("filesystem_", "files"),
    ("preopens_", "files"),
    ("random_", "entropy"),
    ("insecure_seed_", "entropy"),
    ("insecure_", "entropy"),
    ("environment_", "the environment"),
    ("tcp_", "the network"),
    ("udp_", "the network"),
    ("network_", "the network"),
    ("instance_network_", "the network"),
    ("ip_name_lookup_", "the network"),
];

/// The capability a trap shows a plugin reaching for, if it is a stubbed WASI call: an
/// `unreachable` trap in an unnamed function (the stub), called from a WASI binding.
pub fn find(error: &wasmtime::Error) -> Option<Ungranted> {
    if !matches!(
        error.downcast_ref::<Trap>(),
        Some(Trap::UnreachableCodeReached)
    ) {
        return None;
    }
    let frames = error.downcast_ref::<WasmBacktrace>()?.frames();
    // The stub and any unnamed trampolines between it and its caller.
    let caller = frames.iter().find_map(|frame| frame.func_name())?;
    if frames.first()?.func_name().is_some() {
        return None;
    }
    classify(caller)
}

/// The capability a WASI binding's name belongs to. The name comes from the plugin's own
/// binary, so only a plain binding name is believed and repeated.
fn classify(call: &str) -> Option<Ungranted> {
    let plain = call.len() <= 80
        && call
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !plain {
        return None;
    }
    let (_, capability) = CAPABILITIES
        .iter()
        .find(|(prefix, _)| call.starts_with(prefix))?;
    Some(Ungranted {
        capability,
        call: call.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasi_bindings_name_their_capability() {
        let cases = [
            ("wall_clock_now", Some("the clock")),
            ("monotonic_clock_now", Some("the clock")),
            ("filesystem_preopens_get_directories", Some("files")),
            ("random_get_random_bytes", Some("entropy")),
            ("environment_get_environment", Some("the environment")),
            ("tcp_create_socket_create_tcp_socket", Some("the network")),
            ("terminal_stderr_get_terminal_stderr", None),
            ("PyTime_Time", None),
            ("__clock_gettime", None),
            ("wall_clock_now\u{1b}[2J", None),
        ];
        for (call, capability) in cases {
            assert_eq!(classify(call).map(|u| u.capability), capability, "{call}");
        }
    }
}
