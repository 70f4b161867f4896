//! The data a breaking version's plugin carries: one compiled engine, many versions.
//!
//! The generic engine is compiled once. Each breaking version's plugin is a copy of that
//! component into which the build (`cutover plugin build` on the host side) writes the
//! version's [`Compiled`] JSON as a new data segment of the engine's linear memory, above
//! everything the linker laid out and below where the allocator grows, and records its
//! address and length in [`SLOT`]. So a version's plugin builds in well under a second,
//! stays its own component (its own digest, signature and manifest), and imports nothing
//! the engine does not.

use super::Compiled;
use crate::discovered::Discovered;
use crate::{Error, Result};

/// What marks the slot in the engine's data, for the build to find.
pub const MAGIC: [u8; 16] = *b"cutover:breaking";

/// Where the joined data is: `MAGIC`, then its address and length in linear memory
/// (little-endian `u32`s), zero in the engine as compiled.
#[repr(C)]
pub struct Slot {
    /// MAGIC while the slot is unfilled.
    pub magic: [u8; 16],
    /// Where the joined data starts in linear memory.
    pub address: u32,
    /// How many bytes it has.
    pub length: u32,
}

/// The engine's slot. `#[used]` keeps it even though only volatile reads touch it.
#[used]
pub static SLOT: Slot = Slot {
    magic: MAGIC,
    address: 0,
    length: 0,
};

/// The joined data, read once per instance.
pub fn load() -> Result<&'static (Compiled, Discovered)> {
    static LOADED: std::sync::OnceLock<std::result::Result<(Compiled, Discovered), Error>> =
        std::sync::OnceLock::new();
    LOADED
        .get_or_init(|| {
            let bytes = joined().ok_or_else(|| {
                Error::UnsupportedShape(
                    "this is the generic breaking-version engine with no version joined to it; build a version's plugin with `cutover plugin build <plugins/generated/…>`".into(),
                )
            })?;
            let compiled = Compiled::from_json(bytes)?;
            let version: &'static str = Box::leak(compiled.table.produces.clone().into_boxed_str());
            let catalog: &'static str = Box::leak(compiled.catalog.clone().into_boxed_str());
            Ok((compiled, Discovered::new(version, catalog)))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The bytes the build joined, if any. The reads are volatile: the compiler sees a
/// constant zero and would otherwise fold them away.
#[cfg(target_arch = "wasm32")]
fn joined() -> Option<&'static [u8]> {
    // SAFETY: SLOT is a valid static; the build writes an address and length that name a
    // data segment it added to this module's memory, which nothing else uses.
    unsafe {
        let address = std::ptr::read_volatile(&SLOT.address) as usize;
        let length = std::ptr::read_volatile(&SLOT.length) as usize;
        (length != 0).then(|| std::slice::from_raw_parts(address as *const u8, length))
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn joined() -> Option<&'static [u8]> {
    None
}
