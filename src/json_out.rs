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

    fn key(&mut self, key: &str) {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        push_json_string(&mut self.out, key);
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
    out.reserve(text.len() + 2);
    out.push('"');
    let mut run = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[run..at]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", byte);
        } else {
            out.push_str(escape);
        }
        run = at + 1;
    }
    out.push_str(&text[run..]);
    out.push('"');
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

    proptest! {
        #[test]
        fn runs_copied_whole_escape_as_character_by_character(text in any::<String>()) {
            prop_assert_eq!(escaped(&text), escaped_by_chars(&text));
            let back: String = serde_json::from_str(&escaped(&text)).unwrap();
            prop_assert_eq!(back, text);
        }
    }
}
