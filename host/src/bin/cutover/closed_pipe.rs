//! Ending quietly when the reader of the output goes away (`cutover history | head`).
//!
//! Rust ignores `SIGPIPE`, so a write to a closed pipe fails with `EPIPE`, and `print!`
//! turns that failure into a panic with a backtrace. Unix tools end quietly instead, as the
//! signal would have ended them, and so does cutover. Restoring the signal's default action
//! would do the same but could also end a write command in the middle of its work if it
//! logs to a closed pipe; handling the failed print ends the process only at a print, and
//! every command prints its result after its work is done and recorded.

use std::panic::PanicHookInfo;

/// The exit status of a process ended by `SIGPIPE` (128 + 13), as a shell reports it.
const CLOSED_PIPE_STATUS: i32 = 141;

/// From now on, a print to a closed stdout or stderr ends the process quietly with the status
/// a shell shows for `SIGPIPE`; every other panic is reported as before.
pub fn end_quietly_on_closed_pipe() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if is_closed_pipe(info) {
            std::process::exit(CLOSED_PIPE_STATUS);
        }
        report(info)
    }));
}

/// Whether a panic is the standard library's report of a print to a closed pipe
/// ("failed printing to stdout: Broken pipe (os error 32)").
fn is_closed_pipe(info: &PanicHookInfo<'_>) -> bool {
    let payload = info.payload();
    let Some(message) = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
    else {
        return false;
    };
    // The error as the standard library words it, whatever the platform calls `EPIPE`.
    let broken_pipe = std::io::Error::from_raw_os_error(EPIPE).to_string();
    message.starts_with("failed printing to std") && message.ends_with(&broken_pipe)
}

/// `EPIPE`, the error a write to a pipe without readers fails with.
#[cfg(target_os = "linux")]
const EPIPE: i32 = libc::EPIPE;
#[cfg(not(target_os = "linux"))]
const EPIPE: i32 = 32;
