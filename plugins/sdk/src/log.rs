//! Logging through the host. Natively (in a plugin's unit tests) lines go to stderr.

use cutover_contract::LogLevel;

fn emit(level: LogLevel, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::guest::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

/// Logs a debug line to the host.
pub fn debug(message: &str) {
    emit(LogLevel::Debug, message)
}

/// Logs an informational line to the host.
pub fn info(message: &str) {
    emit(LogLevel::Info, message)
}

/// Logs a warning to the host.
pub fn warn(message: &str) {
    emit(LogLevel::Warn, message)
}
