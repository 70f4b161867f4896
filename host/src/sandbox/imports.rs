//! The contract's import allow-list, checked before a plugin is ever instantiated.
//!
//! A plugin may import the host interface of the contract and the WASI interfaces the Rust
//! standard library links by default (all of which the sandbox virtualizes to nothing).
//! Anything else (files, sockets, HTTP, an interface the host has never heard of) means
//! the plugin expects a capability cutover will never grant, so it is refused at load,
//! naming the import, rather than failing halfway through a fleet.

use anyhow::{Result, bail};
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

/// Interfaces (before the `@version`) a plugin may import; an entry ending in `/` or `-`
/// admits every interface it prefixes.
const ALLOWED: &[&str] = &[
    "cutover:migration/",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/",
];

/// Whether the component may import `name`.
pub fn allowed(name: &str) -> bool {
    let interface = name.split('@').next().unwrap_or(name);
    ALLOWED.iter().any(|allowed| {
        if allowed.ends_with('/') || allowed.ends_with('-') {
            interface.starts_with(allowed)
        } else {
            interface == *allowed
        }
    })
}

/// Refuses a component that imports anything outside the allow-list.
pub fn check(engine: &Engine, component: &Component) -> Result<()> {
    let denied: Vec<String> = component
        .component_type()
        .imports(engine)
        // A type import (such as the stream resources a 1.1.0 world `use`s) grants nothing:
        // only instances and functions reach the host.
        .filter(|(_, item)| !matches!(item.ty, ComponentItem::Type(_) | ComponentItem::Resource(_)))
        .map(|(name, _)| name.to_owned())
        .filter(|name| !allowed(name))
        .collect();
    if !denied.is_empty() {
        bail!(
            "it imports {}, which the cutover contract does not grant (plugins get no files, network or other host access); rebuild it without that dependency",
            denied.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn allow_list() {
        assert!(allowed("cutover:migration/host@1.0.0"));
        assert!(allowed("wasi:io/streams@0.2.4"));
        assert!(allowed("wasi:cli/terminal-stdout@0.2.4"));
        assert!(!allowed("wasi:filesystem/preopens@0.2.4"));
        assert!(!allowed("wasi:sockets/tcp@0.2.4"));
        assert!(!allowed("wasi:http/outgoing-handler@0.2.4"));
        assert!(allowed("wasi:cli/environment@0.2.4"));
        assert!(!allowed("wasi:cli/environmentx@0.2.4"));
        assert!(!allowed("acme:anything/else"));
    }
}
