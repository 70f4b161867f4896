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
//! [`fn@line`] is for text shown on one line (everything but a guide), [`block`] keeps
//! newlines and tabs for multi-line text. [`Inert`] wraps a writer so that whatever goes
//! through it (the plan, errors, logs) is escaped as a block: the second line of
//! defence behind the per-field escaping. `--json` output stays exact JSON: serde_json
//! already writes C0 characters as `\u00XX`, and [`write_json`] writes DEL, C1 and bidi
//! controls the same way, so the data is unchanged and nothing raw reaches a terminal.

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
        Self {
            inner,
            pending: Vec::new(),
        }
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
                    self.inner.write_all(
                        block(std::str::from_utf8(valid).unwrap_or_default()).as_bytes(),
                    )?;
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

/// serde_json's pretty printer, writing every character [`is_control`] matches as a
/// `\uXXXX` escape (serde_json itself escapes C0 only).
struct InertJson(serde_json::ser::PrettyFormatter<'static>);

macro_rules! delegate {
    ($($name:ident($($arg:ident: $ty:ty),*)),* $(,)?) => {$(
        fn $name<W: ?Sized + std::io::Write>(&mut self, w: &mut W $(, $arg: $ty)*) -> std::io::Result<()> {
            serde_json::ser::Formatter::$name(&mut self.0, w $(, $arg)*)
        }
    )*};
}

impl serde_json::ser::Formatter for InertJson {
    delegate!(
        begin_array(),
        end_array(),
        begin_array_value(first: bool),
        end_array_value(),
        begin_object(),
        end_object(),
        begin_object_key(first: bool),
        begin_object_value(),
        end_object_value(),
    );

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_control(c) {
                w.write_all(&fragment.as_bytes()[start..i])?;
                write!(w, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

/// Writes `value` as pretty JSON with no raw control character in it.
pub fn write_json<W: std::io::Write, T: serde::Serialize + ?Sized>(
    out: W,
    value: &T,
) -> serde_json::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(
        out,
        InertJson(serde_json::ser::PrettyFormatter::new()),
    );
    value.serialize(&mut serializer)
}

/// `value` as pretty JSON with no raw control character in it.
pub fn json_string<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    write_json(&mut out, value)?;
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn control_characters_become_visible_text() {
        assert_eq!(
            line("\x1b[2J\x1b[HPlan: 0 failed"),
            "\\u{1b}[2J\\u{1b}[HPlan: 0 failed"
        );
        assert_eq!(
            line("a\nb\rc\td\u{7}\u{7f}\u{9b}"),
            "a\\nb\\rc\\td\\u{7}\\u{7f}\\u{9b}"
        );
        assert_eq!(line("abc\u{202e}cba"), "abc\\u{202e}cba");
        assert_eq!(
            block("one\ntwo\tthree\r\x1b]0;title\x07"),
            "one\ntwo\tthree\\r\\u{1b}]0;title\\u{7}"
        );
        assert!(matches!(line("plain text, é ünïcode"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_keeps_its_data_and_loses_raw_controls() {
        let value = serde_json::json!({"note\u{9b}": "a\u{1b}[2J\u{7f}\u{202e}b\n", "n": [1, 2]});
        let text = json_string(&value).unwrap();
        assert!(
            !text.chars().any(|c| is_control(c) && c != '\n'),
            "{text:?}"
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            value
        );
        assert!(
            text.contains("\\u009b") && text.contains("\\u007f") && text.contains("\\u202e"),
            "{text}"
        );
        assert_eq!(text, json_string(&value).unwrap());
        assert_eq!(
            serde_json::to_string_pretty(&serde_json::json!({"a": [1]})).unwrap(),
            json_string(&serde_json::json!({"a": [1]})).unwrap()
        );
    }

    #[test]
    fn the_writer_escapes_across_split_writes_and_bad_bytes() {
        let mut out = Inert::new(Vec::new());
        let text = "é\x1b[31m".as_bytes();
        out.write_all(&text[..1]).unwrap(); // half of é
        out.write_all(&text[1..]).unwrap();
        out.write_all(&[b'x', 0xff, b'\n']).unwrap();
        assert_eq!(
            String::from_utf8(out.inner).unwrap(),
            "é\\u{1b}[31mx\\xff\n"
        );
    }
}
