//! How deeply a JSON body nests (SPEC §3.0 "Bounded nesting").
//!
//! The whole body counts, pass-through fields included: omnigate forwards them untouched, and an
//! upstream parser that recurses on a 30,000-deep field is one a gateway must not feed. The order
//! scan (`scan`) bounds the nesting itself as it reads; this measure is the independent one the
//! fuzz target holds the parser to. One pass with no allocation, jumping over strings (so `"[[["`
//! does not count) with a vectorised search for their closing quote; every other question about
//! the JSON is left to the parser.

/// The deepest nesting of arrays and objects in `body`, or `None` once it passes `max_depth`
/// (the scan stops there). `{}` is depth 1; a bare scalar is depth 0.
pub fn nesting_within(body: &[u8], max_depth: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut at = 0;
    while let Some(&byte) = body.get(at) {
        match byte {
            b'"' => {
                // Jump to the closing quote; an escape skips the character it escapes. An
                // unterminated string ends the scan (the parser refuses the body).
                at += 1;
                loop {
                    let Some(found) = body
                        .get(at..)
                        .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
                    else {
                        return Some(deepest);
                    };
                    at += found;
                    if body[at] == b'\\' {
                        at += 2;
                    } else {
                        break;
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return None;
                }
                deepest = deepest.max(depth);
            }
            // An unbalanced close is the parser's to refuse; saturate so it cannot hide depth.
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        at += 1;
    }
    Some(deepest)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The same scan, one byte at a time: the reference the fast one must agree with.
    fn byte_by_byte(body: &[u8], max_depth: usize) -> Option<usize> {
        let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
        for &byte in body {
            if in_string {
                if escaped {
                    escaped = false;
                } else if byte == b'\\' {
                    escaped = true;
                } else if byte == b'"' {
                    in_string = false;
                }
                continue;
            }
            match byte {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > max_depth {
                        return None;
                    }
                    deepest = deepest.max(depth);
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        Some(deepest)
    }

    proptest! {
        #[test]
        fn agrees_with_the_byte_by_byte_scan(
            body in proptest::collection::vec(prop::sample::select(b"[]{}\"\\a:,".to_vec()), 0..200),
            max_depth in 0usize..8,
        ) {
            prop_assert_eq!(nesting_within(&body, max_depth), byte_by_byte(&body, max_depth));
        }
    }

    #[test]
    fn counts_arrays_and_objects_outside_strings() {
        assert_eq!(nesting_within(b"1", 32), Some(0));
        assert_eq!(nesting_within(b"{}", 32), Some(1));
        assert_eq!(nesting_within(br#"{"a":[{"b":[]}],"c":{}}"#, 32), Some(4));
        assert_eq!(nesting_within(br#"{"a":"[[[[{{{{"}"#, 2), Some(1));
        assert_eq!(nesting_within(br#"{"a":"\"[[[[\\"}"#, 1), Some(1));
        assert_eq!(nesting_within(br#"{"a":"\\",  "b":[[]]}"#, 3), Some(3));
    }

    #[test]
    fn stops_past_the_limit() {
        let at_limit = format!("{}{}", "[".repeat(32), "]".repeat(32));
        assert_eq!(nesting_within(at_limit.as_bytes(), 32), Some(32));
        let past = format!("{}{}", "[".repeat(33), "]".repeat(33));
        assert_eq!(nesting_within(past.as_bytes(), 32), None);
        let deep = "[".repeat(30_000);
        assert_eq!(nesting_within(deep.as_bytes(), 32), None);
        // Closing first does not buy depth.
        let sneaky = format!("]]]]{}", "[".repeat(33));
        assert_eq!(nesting_within(sneaky.as_bytes(), 32), None);
    }

    #[test]
    fn escapes_and_unterminated_strings_end_cleanly() {
        // An escaped quote does not end a string; an escaped backslash does not escape the quote.
        assert_eq!(nesting_within(br#"["\"]","[["]"#, 1), Some(1));
        assert_eq!(nesting_within(br#"["\\",[[]]]"#, 2), None);
        // Unterminated, or ending in a lone backslash: the scan ends, the parser refuses.
        assert_eq!(nesting_within(br#"{"a":"\"#, 32), Some(1));
        assert_eq!(nesting_within(br#"{"a":""#, 32), Some(1));
        assert_eq!(nesting_within(b"\"\\", 32), Some(0));
    }
}
