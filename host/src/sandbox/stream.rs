//! The host side of the state streams of contract 1.1.0: the state a plugin reads in
//! chunks, and the buffer its migrated state is written to, bounded by the output limit.

/// The connection's state, read front to back (shared with the call's input, not copied).
pub struct StateReader {
    text: std::sync::Arc<str>,
    at: usize,
}

impl StateReader {
    pub fn new(text: std::sync::Arc<str>) -> Self {
        Self { text, at: 0 }
    }

    pub fn size(&self) -> u64 {
        self.text.len() as u64
    }

    /// The next at most `max` bytes (empty at the end).
    pub fn read(&mut self, max: usize) -> Vec<u8> {
        let bytes = self.text.as_bytes();
        let end = bytes.len().min(self.at.saturating_add(max));
        let chunk = bytes[self.at..end].to_vec();
        self.at = end;
        chunk
    }
}

/// The migrated state as the plugin writes it.
pub struct StateWriter {
    bytes: Vec<u8>,
    limit: usize,
    /// Set once a write went over the limit: the size it would have reached.
    pub overflow: Option<usize>,
}

impl StateWriter {
    /// A writer of at most `limit` bytes, with room for `expected` (a migrated state is
    /// mostly about as large as the one it replaces, so that many bytes are not copied
    /// again and again as the buffer grows).
    pub fn new(limit: usize, expected: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(expected.min(limit)),
            limit,
            overflow: None,
        }
    }

    pub fn write(&mut self, chunk: &[u8]) -> Result<(), String> {
        let size = self.bytes.len() + chunk.len();
        if size > self.limit {
            self.overflow = Some(size);
            return Err(format!(
                "the migrated state is over the host's {}-byte output limit",
                self.limit
            ));
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_in_chunks_and_bounds_writes() {
        let mut r = StateReader::new("[1,2,3]".into());
        assert_eq!(r.size(), 7);
        assert_eq!(r.read(4), b"[1,2");
        assert_eq!(r.read(100), b",3]");
        assert!(r.read(1).is_empty());
        let mut w = StateWriter::new(5, 64);
        assert!(w.write(b"[1,2").is_ok());
        assert!(w.write(b",3]").is_err());
        assert_eq!(w.overflow, Some(7));
        assert_eq!(w.into_bytes(), b"[1,2");
    }
}
