//! A validating pull scanner over JSON text that gives positions rather than values.
//!
//! The migration copies nearly all of a state byte for byte, so what it needs of a value is
//! where it starts and ends; decoding is left to the few strings it compares or rewrites.
//! The scanner accepts exactly what serde_json accepts: strict RFC 8259 grammar, escapes
//! checked for form (a `\u` needs four hex digits) but not decoded, and no limit on nesting,
//! since serde_json skips a value without one. Nesting is therefore tracked on a stack of its
//! own rather than by recursion, which a hostile state could otherwise use to exhaust the
//! guest's call stack.
//!
//! The code a large state spends its time in (strings, numbers, [`Scanner::plain_entry`])
//! looks at eight bytes at a time and is inlined by force: compiled to WebAssembly and run
//! in the sandbox, a call, a `memcmp` or a loop over single bytes costs several times what
//! it does natively.

use crate::{Error, Result};
use std::borrow::Cow;
use std::fmt::Display;
use std::ops::Range;

/// An `InvalidInput` error naming what was wrong at byte `pos` of the state.
pub fn invalid_at(pos: usize, what: impl Display) -> Error {
    Error::InvalidInput(format!(
        "state is not a JSON array of state messages: {what} at byte {pos}"
    ))
}

/// What serde_json found wrong with a piece of the text, without its position, which is
/// within the piece rather than the state.
pub fn reason(e: &serde_json::Error) -> String {
    let message = e.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

/// A byte range of the text.
pub type Span = Range<usize>;

/// A string as written in the text: its span, quotes included, and whether it holds an
/// escape (if not, its contents are its value).
#[derive(Clone, Debug)]
pub struct Str {
    pub span: Span,
    pub escaped: bool,
}

/// A position in JSON text, moved forward by reading or skipping what is there.
pub struct Scanner<'a> {
    text: &'a str,
    pos: usize,
    /// The closing bracket of each container open in the value being skipped.
    open: Vec<u8>,
}

impl<'a> Scanner<'a> {
    /// A scanner at byte `pos` of `text`.
    pub fn at(text: &'a str, pos: usize) -> Self {
        Self {
            text,
            pos,
            open: Vec::new(),
        }
    }

    /// Where the next token starts (skipping whitespace).
    pub fn token_start(&mut self) -> usize {
        self.skip_whitespace();
        self.pos
    }

    /// Moves to byte `pos`, the end of a value read earlier.
    pub fn seek(&mut self, pos: usize) {
        self.pos = pos;
    }

    /// An `InvalidInput` error naming what was wrong here.
    #[cold]
    #[inline(never)]
    pub fn error(&self, what: impl Display) -> Error {
        invalid_at(self.pos, what)
    }

    /// The next byte after whitespace, not consumed.
    #[inline]
    pub fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.text.as_bytes().get(self.pos).copied()
    }

    /// The text of `span`, which must have been read by this scanner (it lies on char boundaries).
    pub fn slice(&self, span: Span) -> &'a str {
        &self.text[span]
    }

    /// Where the scanner is: just after what it read last.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Consumes `byte` if it comes next (after whitespace): whether it did.
    #[inline]
    pub fn eat(&mut self, byte: u8) -> bool {
        let next = self.peek() == Some(byte);
        self.pos += usize::from(next);
        next
    }

    /// Consumes `byte`, which must come next (after whitespace); `what` names it for the error.
    #[inline]
    pub fn expect(&mut self, byte: u8, what: &str) -> Result<()> {
        if !self.eat(byte) {
            return Err(self.error(format_args!("expected {what}")));
        }
        Ok(())
    }

    /// Whitespace and nothing else up to the end of the text.
    pub fn end(&mut self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("trailing characters")),
        }
    }

    /// Called after a container's open bracket or after one of its members: whether another
    /// member follows (consuming the comma before it) or the container closes with `close`
    /// (consuming it). `first` says no member has been read yet.
    #[inline]
    pub fn more(&mut self, close: u8, first: bool) -> Result<bool> {
        match self.peek() {
            Some(b) if b == close => {
                self.pos += 1;
                Ok(false)
            }
            Some(b',') if !first => {
                self.pos += 1;
                Ok(true)
            }
            _ if first => Ok(true),
            _ => Err(self.error(format_args!("expected `,` or `{}`", close as char))),
        }
    }

    /// An object's key and the colon after it.
    #[inline]
    pub fn key(&mut self) -> Result<Str> {
        let key = self.string()?;
        self.expect(b':', "`:` after an object key")?;
        Ok(key)
    }

    /// A string, which must come next.
    #[inline]
    pub fn string(&mut self) -> Result<Str> {
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a string"));
        }
        let start = self.pos;
        match self.plain_string() {
            Some(s) => Ok(s),
            None => self.string_from_escape(start),
        }
    }

    /// Reads an object member `"<key>":{<field>:<value>}` written as large legacy states
    /// write nearly all of theirs: with no whitespace, no escape in `<key>`, `<field>` exactly
    /// as given (quotes and colon included) and `<value>` a number or a string without
    /// escapes. Returns the key and the span of the object; for any other member it reads
    /// nothing and returns `None`, and the general path reads it. This only saves time: the
    /// general path would read such a member the same.
    #[inline]
    pub fn plain_entry(&mut self, field: &[u8]) -> Option<(Str, Span)> {
        let start = self.pos;
        let entry = self.read_plain_entry(field);
        if entry.is_none() {
            self.pos = start;
        }
        entry
    }

    /// The member at the current position again, which [`plain_entry`](Self::plain_entry)
    /// read before and found to have a key of `key_len` bytes and an object of
    /// `object_len`: it is not scanned again.
    #[inline]
    pub fn plain_entry_again(&mut self, key_len: usize, object_len: usize) -> (Str, Span) {
        let key = Str {
            span: self.pos..self.pos + key_len,
            escaped: false,
        };
        let object = key.span.end + 1..key.span.end + 1 + object_len;
        self.pos = object.end;
        (key, object)
    }

    #[inline(always)]
    fn read_plain_entry(&mut self, field: &[u8]) -> Option<(Str, Span)> {
        let key = self.plain_string()?;
        self.plain_byte(b':')?;
        let object = self.pos;
        self.plain_byte(b'{')?;
        self.plain_bytes(field)?;
        match self.byte()? {
            b'"' => self.plain_string().map(|_| ())?,
            b'-' | b'0'..=b'9' => self.number().ok()?,
            _ => return None,
        }
        self.plain_byte(b'}')?;
        Some((key, object..self.pos))
    }

    /// Consumes `byte` if it comes next, with no whitespace before it.
    #[inline(always)]
    fn plain_byte(&mut self, byte: u8) -> Option<()> {
        (self.byte() == Some(byte)).then(|| self.pos += 1)
    }

    /// Consumes `bytes` if they come next, with no whitespace before them.
    #[inline(always)]
    fn plain_bytes(&mut self, bytes: &[u8]) -> Option<()> {
        let next = self.text.as_bytes().get(self.pos..self.pos + bytes.len())?;
        same(next, bytes).then(|| self.pos += bytes.len())
    }

    /// A string without escapes at the current position, if that is what comes.
    #[inline(always)]
    fn plain_string(&mut self) -> Option<Str> {
        let start = self.pos;
        let contents = self
            .text
            .as_bytes()
            .get(start + 1..)
            .filter(|_| self.byte() == Some(b'"'))?;
        let end = start + 1 + string_end(contents)?;
        if self.text.as_bytes()[end] != b'"' {
            return None;
        }
        self.pos = end + 1;
        Some(Str {
            span: start..self.pos,
            escaped: false,
        })
    }

    /// Consumes `null` if it comes next: whether it did.
    pub fn null(&mut self) -> Result<bool> {
        if self.peek() != Some(b'n') {
            return Ok(false);
        }
        self.literal("null")?;
        Ok(true)
    }

    /// Skips the value that comes next, checking it: its span.
    #[inline]
    pub fn skip_value(&mut self) -> Result<Span> {
        let start = self.token_start();
        let base = self.open.len();
        if self.scalar_or_open()? {
            self.close_down_to(base, true)?;
        }
        Ok(start..self.pos)
    }

    /// Skips the rest of the container with closing bracket `close` whose open bracket and at
    /// least one member have been read.
    pub fn skip_rest(&mut self, close: u8) -> Result<()> {
        let base = self.open.len();
        self.open.push(close);
        self.close_down_to(base, false)
    }

    /// The value of string `s` of this text, checked as serde_json checks a string it
    /// decodes: escaped surrogates must pair.
    #[inline]
    pub fn decode(&self, s: &Str) -> Result<Cow<'a, str>> {
        if !s.escaped {
            return Ok(Cow::Borrowed(&self.text[s.span.start + 1..s.span.end - 1]));
        }
        self.decode_escaped(s).map(Cow::Owned)
    }

    #[inline(never)]
    fn decode_escaped(&self, s: &Str) -> Result<String> {
        serde_json::from_str(&self.text[s.span.clone()])
            .map_err(|e| invalid_at(s.span.start, reason(&e)))
    }

    /// The string opened at `start`, which has an escape or is not well-formed.
    #[inline(never)]
    fn string_from_escape(&mut self, start: usize) -> Result<Str> {
        self.pos = start + 1;
        loop {
            let rest = &self.text.as_bytes()[self.pos..];
            self.pos += string_end(rest).unwrap_or(rest.len());
            match self.byte() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Str {
                        span: start..self.pos,
                        escaped: true,
                    });
                }
                Some(b'\\') => self.escape()?,
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    #[inline]
    fn skip_whitespace(&mut self) {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// Reads a scalar, or the open bracket of a container (pushing its closing bracket):
    /// whether a container opened.
    #[inline]
    fn scalar_or_open(&mut self) -> Result<bool> {
        match self.text.as_bytes().get(self.pos) {
            Some(b'{') => self.push(b'}'),
            Some(b'[') => self.push(b']'),
            Some(b'"') => self.string().map(|_| false),
            Some(b'-' | b'0'..=b'9') => self.number().map(|()| false),
            Some(b't') => self.literal("true").map(|()| false),
            Some(b'f') => self.literal("false").map(|()| false),
            Some(b'n') => self.literal("null").map(|()| false),
            _ => Err(self.error("expected a value")),
        }
    }

    fn push(&mut self, close: u8) -> Result<bool> {
        self.pos += 1;
        self.open.push(close);
        Ok(true)
    }

    /// Reads members until the stack of open containers is `base` deep again. `first` says
    /// the innermost open container has no member read yet.
    fn close_down_to(&mut self, base: usize, mut first: bool) -> Result<()> {
        while self.open.len() > base {
            let close = self.open[self.open.len() - 1];
            if !self.more(close, first)? {
                self.open.pop();
                first = false;
                continue;
            }
            if close == b'}' {
                self.key()?;
            }
            self.skip_whitespace();
            // A scalar is a member of the open container; a container opened is empty so far.
            first = self.scalar_or_open()?;
        }
        Ok(())
    }

    /// The escape whose backslash is at the current position.
    fn escape(&mut self) -> Result<()> {
        let bytes = self.text.as_bytes();
        match bytes.get(self.pos + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 2,
            Some(b'u')
                if bytes
                    .get(self.pos + 2..self.pos + 6)
                    .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
            {
                self.pos += 6
            }
            _ => return Err(self.error("invalid escape in a string")),
        }
        Ok(())
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    #[inline(always)]
    fn number(&mut self) -> Result<()> {
        if self.byte() == Some(b'-') {
            self.pos += 1;
        }
        match self.byte() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("invalid number")),
        }
        if self.byte() == Some(b'.') {
            self.pos += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.byte() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.byte() {
                self.pos += 1;
            }
            self.some_digits()?;
        }
        Ok(())
    }

    /// At least one digit.
    fn some_digits(&mut self) -> Result<()> {
        if !self.byte().is_some_and(|b| b.is_ascii_digit()) {
            return Err(self.error("invalid number"));
        }
        self.digits();
        Ok(())
    }

    #[inline(always)]
    fn digits(&mut self) {
        let rest = &self.text.as_bytes()[self.pos..];
        self.pos += digits_end(rest).unwrap_or(rest.len());
    }

    fn literal(&mut self, word: &str) -> Result<()> {
        if !self.text.as_bytes()[self.pos..].starts_with(word.as_bytes()) {
            return Err(self.error("expected a value"));
        }
        self.pos += word.len();
        Ok(())
    }

    #[inline(always)]
    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }
}

/// Whether `a` and `b`, of one length, are equal, compared eight bytes at a time (the last
/// two words may overlap): in WebAssembly a `memcmp` is a loop over single bytes.
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n < 8 {
        return a == b;
    }
    let word =
        |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("eight bytes"));
    (0..n - 8).step_by(8).all(|at| word(a, at) == word(b, at)) && word(a, n - 8) == word(b, n - 8)
}

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);

/// The high bit of each byte of `word` below `n` (`n` ≤ 0x80); a borrow may also set it in
/// bytes above one found, never below.
#[inline(always)]
fn below(word: u64, n: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(n)) & !word & HIGH
}

/// The first `"`, `\\` or control character in `bytes`: where a string's plain run ends.
#[inline(always)]
fn string_end(bytes: &[u8]) -> Option<usize> {
    let flags = |word: u64| {
        below(word ^ (ONES * u64::from(b'"')), 1)
            | below(word ^ (ONES * u64::from(b'\\')), 1)
            | below(word, 0x20)
    };
    first_stop(bytes, flags, |b| b == b'"' || b == b'\\' || b < 0x20)
}

/// The first byte of `bytes` that is not a digit.
#[inline(always)]
fn digits_end(bytes: &[u8]) -> Option<usize> {
    // Above `9`: adding 0x46 sets the high bit of 0x3a..=0x7f; 0x80 and up have it already.
    let flags = |word: u64| below(word, b'0') | ((word.wrapping_add(ONES * 0x46) | word) & HIGH);
    first_stop(bytes, flags, |b| !b.is_ascii_digit())
}

/// The first byte of `bytes` that `stop` holds for. Strings and numbers are most of a
/// state's bytes, so this looks at eight at a time: `flags` sets the high bit of each byte
/// of a little-endian word that `stop` holds for, and may set it in bytes above such a
/// byte (a carry or borrow), but never below, so the lowest flag is exact.
#[inline(always)]
fn first_stop(
    bytes: &[u8],
    flags: impl Fn(u64) -> u64,
    stop: impl Fn(u8) -> bool,
) -> Option<usize> {
    let mut at = 0;
    for chunk in bytes.chunks_exact(8) {
        let found = flags(u64::from_le_bytes(
            chunk.try_into().expect("a chunk of eight"),
        ));
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    bytes[at..].iter().position(|&b| stop(b)).map(|i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_compares_every_byte() {
        for len in 0..24 {
            let a: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37)).collect();
            assert!(same(&a, &a.clone()));
            for at in 0..len {
                let mut b = a.clone();
                b[at] ^= 0x40;
                assert!(!same(&a, &b), "{len} {at}");
            }
        }
    }

    /// `string_end` and `digits_end` against a byte at a time, for each byte value at each
    /// place of the first two words and the tail, among bytes of both kinds.
    #[test]
    fn word_at_a_time_finds_the_first_stop() {
        let naive = |bytes: &[u8], stop: fn(u8) -> bool| bytes.iter().position(|&b| stop(b));
        let string_stop: fn(u8) -> bool = |b| b == b'"' || b == b'\\' || b < 0x20;
        let digit_stop: fn(u8) -> bool = |b| !b.is_ascii_digit();
        for filler in [
            b'a', b'!', b'#', b'[', b']', 0x7f, 0x80, 0xff, 0x20, 0x21, b'0', b'9', b'/', b':',
        ] {
            for len in 0..20 {
                for at in 0..len {
                    for byte in 0..=255u8 {
                        let mut bytes = vec![filler; len];
                        bytes[at] = byte;
                        for next in [filler, b'"', b'5', 0xff, 0x00] {
                            if at + 1 < len {
                                bytes[at + 1] = next;
                            }
                            assert_eq!(string_end(&bytes), naive(&bytes, string_stop), "{bytes:?}");
                            assert_eq!(digits_end(&bytes), naive(&bytes, digit_stop), "{bytes:?}");
                        }
                    }
                }
            }
        }
    }
}
