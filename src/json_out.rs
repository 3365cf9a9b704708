//! JSON written field by field, for answers and records whose numbers must go out exactly as
//! [`Fixed`] prints them (serde_json's `Value` would route them through `f64`).

use std::fmt::Write as _;

use crate::money::Fixed;

/// A JSON object written field by field, so that numbers go out exactly as `Fixed` prints them.
#[derive(Debug)]
pub struct JsonObject {
    out: String,
    empty: bool,
}

impl Default for JsonObject {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonObject {
    pub fn new() -> Self {
        Self {
            out: String::from("{"),
            empty: true,
        }
    }

    /// An empty object written into `out`'s buffer (its text is dropped, its capacity kept): a
    /// writer of many objects reuses one buffer instead of growing a new one each time.
    pub fn reusing(mut out: String) -> Self {
        out.clear();
        out.push('{');
        Self { out, empty: true }
    }

    /// Where the next field goes (a mark for [`JsonObject::written_since`]).
    pub fn mark(&self) -> usize {
        self.out.len()
    }

    /// What was written after the mark `at`: after the first field, a run of `,"key":value`.
    pub fn written_since(&self, at: usize) -> &str {
        &self.out[at..]
    }

    /// Appends fields another object wrote after its first field (a [`JsonObject::written_since`]
    /// taken then): a run of `,"key":value`, possibly empty.
    pub fn fields(&mut self, run: &str) -> &mut Self {
        if run.is_empty() {
            return self;
        }
        debug_assert!(run.starts_with(','), "a field run starts with its comma");
        self.out.push_str(if self.empty { &run[1..] } else { run });
        self.empty = false;
        self
    }

    fn key(&mut self, key: &str) {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        if key.bytes().any(needs_escape) {
            push_json_string(&mut self.out, key);
        } else {
            // Keys are mostly the program's own short names: one check, then copied whole,
            // without push_json_string's search for the next escape.
            self.out.reserve(key.len() + 3);
            self.out.push('"');
            self.out.push_str(key);
            self.out.push('"');
        }
        self.out.push(':');
    }

    pub fn string(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        push_json_string(&mut self.out, value);
        self
    }

    pub fn number(&mut self, key: &str, value: Fixed) -> &mut Self {
        self.key(key);
        // Writing into a String cannot fail.
        let _ = write!(self.out, "{value}");
        self
    }

    pub fn integer(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        let _ = write!(self.out, "{value}");
        self
    }

    pub fn boolean(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        self.out.push_str(if value { "true" } else { "false" });
        self
    }

    /// `json` must already be valid JSON text.
    pub fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key);
        self.out.push_str(json);
        self
    }

    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// Appends `text` as a JSON string literal: `"`, `\` and control characters escaped, everything
/// else (non-ASCII included) as it is. Runs between escapes are copied whole; every byte that
/// needs an escape is ASCII, so each cut falls on a character boundary.
pub fn push_json_string(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(text.len() + 2);
    out.push('"');
    let mut run = 0;
    loop {
        let at = next_escape(bytes, run);
        out.push_str(&text[run..at]);
        let Some(&byte) = bytes.get(at) else {
            break;
        };
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                let _ = write!(out, "\\u{:04x}", byte);
            }
        }
        run = at + 1;
    }
    out.push('"');
}

/// Whether `byte` must be escaped in a JSON string.
const fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// The first byte at or after `at` that must be escaped (`bytes.len()` if none), looked for
/// eight bytes at a time: the audit trail writes some thirty strings an order.
fn next_escape(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    /// Non-zero when a byte of `word` is below `n` (n <= 0x80): the subtraction sets a lane's
    /// high bit for such a byte, and `!word` clears it for a byte of 0x80 or more. A borrow
    /// can set a higher lane's bit only after a lane that is below `n` itself, so the answer
    /// for the word is exact (which lane, not: the bytes are looked at one by one then).
    const fn any_below(word: u64, n: u8) -> u64 {
        word.wrapping_sub(ONES * n as u64) & !word & HIGHS
    }
    while let Some(chunk) = bytes.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        let word = u64::from_le_bytes(*chunk);
        let quote = word ^ (ONES * b'"' as u64);
        let backslash = word ^ (ONES * b'\\' as u64);
        if any_below(word, 0x20) | any_below(quote, 1) | any_below(backslash, 1) != 0 {
            break;
        }
        at += 8;
    }
    match bytes.get(at..) {
        Some(rest) => rest
            .iter()
            .position(|&byte| needs_escape(byte))
            .map_or(bytes.len(), |offset| at + offset),
        None => bytes.len(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The escaping rule, character by character.
    fn escaped_by_chars(text: &str) -> String {
        let mut out = String::from("\"");
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        push_json_string(&mut out, text);
        out
    }

    #[test]
    fn escapes_quotes_backslashes_and_controls_and_keeps_the_rest() {
        assert_eq!(escaped(""), "\"\"");
        assert_eq!(escaped("plain"), "\"plain\"");
        assert_eq!(escaped("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(escaped("\n\r\t\u{1}\u{1f}"), "\"\\n\\r\\t\\u0001\\u001f\"");
        assert_eq!(escaped("é€😀\u{7f}"), "\"é€😀\u{7f}\"");
        let round_trip: String = serde_json::from_str(&escaped("x\u{0}y\"😀\\")).unwrap();
        assert_eq!(round_trip, "x\u{0}y\"😀\\");
    }

    /// Every byte value at every place of a word and of the tail, next to its neighbours.
    #[test]
    fn each_byte_is_found_wherever_it_falls() {
        for byte in 0u8..0x80 {
            for len in 1..20 {
                for place in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[place] = byte;
                    let text = std::str::from_utf8(&bytes).unwrap();
                    let expected = if needs_escape(byte) { place } else { len };
                    assert_eq!(
                        next_escape(&bytes, 0),
                        expected,
                        "{byte:#x} at {place} of {len}"
                    );
                    assert_eq!(escaped(text), escaped_by_chars(text));
                }
            }
        }
    }

    proptest! {
        #[test]
        fn runs_near_escapes_escape_as_character_by_character(
            text in "[a\"\\\\\u{0}-\u{1f}\u{7f}é😀]{0,40}"
        ) {
            prop_assert_eq!(escaped(&text), escaped_by_chars(&text));
        }

        #[test]
        fn runs_copied_whole_escape_as_character_by_character(text in any::<String>()) {
            prop_assert_eq!(escaped(&text), escaped_by_chars(&text));
            let back: String = serde_json::from_str(&escaped(&text)).unwrap();
            prop_assert_eq!(back, text);
        }

        /// Keys that need no escape are copied whole, the others escaped: serde reads each
        /// field back as written.
        #[test]
        fn keys_read_back_as_written(
            fields in proptest::collection::btree_map(
                prop_oneof!["[a-zA-Z_-]{0,12}", "[a\"\\\\\u{0}-\u{1f}é]{0,8}", any::<String>()],
                any::<String>(),
                0..6,
            )
        ) {
            let mut object = JsonObject::new();
            for (key, value) in &fields {
                object.string(key, value);
            }
            let back: std::collections::BTreeMap<String, String> =
                serde_json::from_str(&object.finish()).unwrap();
            prop_assert_eq!(back, fields);
        }
    }
}
