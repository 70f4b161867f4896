//! Joins a breaking version's data to the generic engine: one compile, many components.
//!
//! The engine (`plugins/generated/engine`) is compiled once. A breaking version's plugin
//! is a copy of its component in which the engine's core module carries one more active
//! data segment, the version's compiled data, placed at the end of the module's initial
//! linear memory (whose minimum grows to hold it), and whose address and length are
//! written into the engine's slot ([`cutover_plugin::breaking::carried`]). The allocator
//! only ever uses memory below the linker's initial end and memory it grows beyond the
//! current size, so the segment is never handed out. Nothing else changes: no import or
//! export is added, so the sandbox refuses what it refused before, and every version's
//! component is a distinct file with its own digest.

use anyhow::{Context, Result, bail};
use cutover_plugin::breaking::carried::MAGIC;
use wasm_encoder::{ConstExpr, DataCountSection, DataSection, MemorySection, MemoryType};
use wasmparser::{Parser, Payload};

const PAGE: u64 = 65536;
/// Section ids of the binary format.
const MEMORY: u8 = 5;
const DATA: u8 = 11;
const DATA_COUNT: u8 = 12;
const COMPONENT_MODULE: u8 = 1;

/// The engine component `engine` with `data` joined to it.
pub fn join(engine: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    if !Parser::is_component(engine) {
        bail!("the engine is not a WebAssembly component");
    }
    let mut out = engine[..8].to_vec();
    let mut prev_end = 8;
    let mut depth = 0usize;
    let mut joined = false;
    for payload in Parser::new(0).parse_all(engine) {
        let payload = payload.context("reading the engine component")?;
        let nested = matches!(
            payload,
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. }
        );
        if depth == 0
            && let Some((id, range)) = payload.as_section()
        {
            let content = &engine[range.clone()];
            let header = &engine[prev_end..range.start];
            if id == COMPONENT_MODULE && contains(content, &MAGIC) {
                if joined {
                    bail!("the engine has two core modules with a data slot");
                }
                let module = join_module(content, data)?;
                out.push(COMPONENT_MODULE);
                leb(&mut out, module.len() as u64);
                out.extend_from_slice(&module);
                joined = true;
            } else {
                out.extend_from_slice(header);
                out.extend_from_slice(content);
            }
            prev_end = range.end;
        }
        match payload {
            _ if nested => depth += 1,
            Payload::End(_) if depth > 0 => depth -= 1,
            _ => {}
        }
    }
    out.extend_from_slice(&engine[prev_end..]);
    if !joined {
        bail!(
            "the engine component has no core module with the data slot; is it built from plugins/generated/engine?"
        );
    }
    Ok(out)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The engine's core module with `data` as a new segment and the slot pointing to it.
fn join_module(module: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    let at = find(module, &MAGIC).context("no data slot")?;
    if find(&module[at + 1..], &MAGIC).is_some() {
        bail!("the engine's core module has two data slots");
    }
    let slot = at + MAGIC.len();
    if module[slot..slot + 8] != [0; 8] {
        bail!(
            "the engine already carries data; join to the engine as built, not to a version's plugin"
        );
    }
    let mut memory: Option<wasmparser::MemoryType> = None;
    for payload in Parser::new(0).parse_all(module) {
        if let Payload::MemorySection(reader) = payload? {
            for m in reader {
                if memory.replace(m?).is_some() {
                    bail!("the engine defines more than one memory");
                }
            }
        }
    }
    let memory = memory.context("the engine defines no memory (is it importing one?)")?;
    if memory.memory64 || memory.page_size_log2.is_some() {
        bail!("the engine's memory is not a 32-bit memory of 64 KiB pages");
    }
    let address = memory.initial * PAGE;
    let pages = (data.len() as u64).div_ceil(PAGE).max(1);
    let minimum = memory.initial + pages;
    if memory.maximum.is_some_and(|max| max < minimum)
        || address + data.len() as u64 > u32::MAX as u64
    {
        bail!(
            "the engine's memory cannot hold {} bytes of data",
            data.len()
        );
    }
    let mut patched = module.to_vec();
    patched[slot..slot + 4].copy_from_slice(&(address as u32).to_le_bytes());
    patched[slot + 4..slot + 8].copy_from_slice(&(data.len() as u32).to_le_bytes());

    let mut out = patched[..8].to_vec();
    let mut prev_end = 8;
    let mut had_data = false;
    let append = |out: &mut Vec<u8>, id: u8, section: &dyn wasm_encoder::Encode| {
        let mut bytes = Vec::new();
        section.encode(&mut bytes);
        out.push(id);
        out.extend_from_slice(&bytes);
    };
    for payload in Parser::new(0).parse_all(&patched) {
        let payload = payload?;
        let Some((id, range)) = payload.as_section() else {
            continue;
        };
        let header = &patched[prev_end..range.start];
        match payload {
            Payload::MemorySection(_) => {
                let mut section = MemorySection::new();
                section.memory(MemoryType {
                    minimum,
                    maximum: memory.maximum,
                    memory64: false,
                    shared: memory.shared,
                    page_size_log2: None,
                });
                append(&mut out, MEMORY, &section);
            }
            Payload::DataCountSection { count, .. } => {
                append(&mut out, DATA_COUNT, &DataCountSection { count: count + 1 });
            }
            Payload::DataSection(reader) => {
                let mut section = DataSection::new();
                for segment in reader {
                    let segment = segment?;
                    section.raw(&patched[segment.range.clone()]);
                }
                section.active(
                    0,
                    &ConstExpr::i32_const(address as i32),
                    data.iter().copied(),
                );
                append(&mut out, DATA, &section);
                had_data = true;
            }
            _ => {
                debug_assert!(id != DATA && id != MEMORY);
                out.extend_from_slice(header);
                out.extend_from_slice(&patched[range.clone()]);
            }
        }
        prev_end = range.end;
    }
    if !had_data {
        bail!("the engine's core module has no data section");
    }
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&out)
        .context("the joined core module does not validate")?;
    Ok(out)
}

fn leb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}
