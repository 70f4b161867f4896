//! Crash-test hooks placed along the write path, in every backend.

/// Crash-test hooks: with `CUTOVER_FAILPOINT=<name>:<n>`, the process kills itself
/// (`SIGKILL`, no cleanup) the `n`th time it passes failpoint `<name>`; with
/// `CUTOVER_PAUSE=<name>:<ms>[,<name>:<ms>…]` it sleeps there each time (so that tests
/// can have several workers overlap); with `CUTOVER_GATE=<name>:<path>[,…]` it creates
/// `<path>.reached` there and waits until `<path>` exists (so that a test can act at that
/// very moment: change a document, restart the server, let a run end). Only the crash
/// consistency tests set them.
pub fn failpoint(name: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static HITS: AtomicUsize = AtomicUsize::new(0);
    if let Ok(specs) = std::env::var("CUTOVER_GATE") {
        for (point, path) in specs.split(',').filter_map(|spec| spec.split_once(':')) {
            if point == name {
                let gate = std::path::Path::new(path);
                let _ = std::fs::write(gate.with_extension("reached"), b"");
                while !gate.exists() {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
        }
    }
    if let Ok(specs) = std::env::var("CUTOVER_PAUSE") {
        for (point, ms) in specs.split(',').filter_map(|spec| spec.split_once(':')) {
            if point == name {
                std::thread::sleep(std::time::Duration::from_millis(ms.parse().unwrap_or(0)));
            }
        }
    }
    let Ok(spec) = std::env::var("CUTOVER_FAILPOINT") else {
        return;
    };
    let Some((point, n)) = spec.split_once(':') else {
        return;
    };
    if point != name {
        return;
    }
    let n: usize = n.parse().unwrap_or(1);
    if HITS.fetch_add(1, Ordering::SeqCst) + 1 == n {
        let _ = std::process::Command::new("kill")
            .args(["-9", &std::process::id().to_string()])
            .status();
        std::process::abort();
    }
}
