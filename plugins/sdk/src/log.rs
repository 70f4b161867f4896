//! Logging through the host. Natively (in a plugin's unit tests) lines go to stderr.

#[derive(Clone, Copy, Debug)]
pub(crate) enum Level {
    Debug,
    Info,
    Warn,
}

fn emit(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::guest::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

/// Logs a debug line to the host.
pub fn debug(message: &str) {
    emit(Level::Debug, message)
}

/// Logs an informational line to the host.
pub fn info(message: &str) {
    emit(Level::Info, message)
}

/// Logs a warning to the host.
pub fn warn(message: &str) {
    emit(Level::Warn, message)
}
