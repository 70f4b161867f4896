//! Text that reaches the operator's terminal, made inert.
//!
//! Much of what cutover prints was written by someone else: a plugin's notes, action
//! reasons, log lines, refusals and manifest (message, guide, stream names), and values
//! from the documents themselves. A terminal obeys control characters in what it is
//! given: an escape sequence can clear the screen, move the cursor over a line already
//! printed, retitle the window or hide text, and a bare carriage return or newline can
//! forge a line of cutover's own (a fake "Plan: 0 failed"). So every such text is escaped
//! before it is printed: each control character (C0, DEL, C1) and each Unicode bidi
//! control becomes a visible `\u{..}` (or `\n`, `\r`, `\t`), which a terminal shows as
//! those characters and never acts on.
//!
//! [`line`] is for text shown on one line (everything but a guide), [`block`] keeps
//! newlines and tabs for multi-line text. [`Inert`] wraps a writer so that whatever goes
//! through it (the plan, errors, logs) is escaped as a block: the second line of
//! defence behind the per-field escaping. `--json` output is not escaped: JSON encodes
//! every control character itself, so the data stays exact.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` is one a terminal may act on (always escaped, except as [`block`] allows).
fn is_control(c: char) -> bool {
    c.is_control() // C0, DEL and C1
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(|c| is_control(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !is_control(c) || keep(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// `text` for one line of output: every control character escaped, newlines included.
pub fn line(text: &str) -> Cow<'_, str> {
    escape(text, |_| false)
}

/// `text` for several lines of output: newlines and tabs kept, every other control
/// character (escape sequences, carriage returns, bidi overrides) escaped.
pub fn block(text: &str) -> Cow<'_, str> {
    escape(text, |c| c == '\n' || c == '\t')
}

/// A writer that passes text on as [`block`] escapes it. Input that is not UTF-8 is
/// passed on with each invalid byte shown as `\x..`.
pub struct Inert<W> {
    inner: W,
    /// The start of a UTF-8 sequence split across two writes.
    pending: Vec<u8>,
}

impl<W: std::io::Write> Inert<W> {
    pub fn new(inner: W) -> Self {
        Self { inner, pending: Vec::new() }
    }
}

impl<W: std::io::Write> std::io::Write for Inert<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(bytes);
        let mut rest: &[u8] = &std::mem::take(&mut self.pending);
        loop {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    self.inner.write_all(block(text).as_bytes())?;
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    // `valid` is UTF-8 by the error's own account.
                    self.inner.write_all(block(std::str::from_utf8(valid).unwrap_or_default()).as_bytes())?;
                    match e.error_len() {
                        Some(bad) => {
                            for b in &after[..bad] {
                                write!(self.inner, "\\x{b:02x}")?;
                            }
                            rest = &after[bad..];
                        }
                        None => {
                            // An incomplete sequence at the end: wait for the rest of it.
                            self.pending = after.to_vec();
                            break;
                        }
                    }
                }
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn control_characters_become_visible_text() {
        assert_eq!(line("\x1b[2J\x1b[HPlan: 0 failed"), "\\u{1b}[2J\\u{1b}[HPlan: 0 failed");
        assert_eq!(line("a\nb\rc\td\u{7}\u{7f}\u{9b}"), "a\\nb\\rc\\td\\u{7}\\u{7f}\\u{9b}");
        assert_eq!(line("abc\u{202e}cba"), "abc\\u{202e}cba");
        assert_eq!(block("one\ntwo\tthree\r\x1b]0;title\x07"), "one\ntwo\tthree\\r\\u{1b}]0;title\\u{7}");
        assert!(matches!(line("plain text, é ünïcode"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_writer_escapes_across_split_writes_and_bad_bytes() {
        let mut out = Inert::new(Vec::new());
        let text = "é\x1b[31m".as_bytes();
        out.write_all(&text[..1]).unwrap(); // half of é
        out.write_all(&text[1..]).unwrap();
        out.write_all(&[b'x', 0xff, b'\n']).unwrap();
        assert_eq!(String::from_utf8(out.inner).unwrap(), "é\\u{1b}[31mx\\xff\n");
    }
}
