//! One pass over a request body: it is exactly one JSON object (RFC 8259, as strict as
//! serde_json), it nests no deeper than allowed, and the raw text of each top-level field the
//! rules read is picked out, with no allocation.
//!
//! Before, the body took three passes (a nesting scan, serde_json into borrowed raw values, and
//! UTF-8); the scan is one, and the verdicts are serde_json's: the tests run serde_json beside
//! it on valid, broken and random bodies and require the same acceptance and the same fields.
//!
//! # What it promises
//! - `Ok` only for text that serde_json reads as one object followed by nothing but whitespace,
//!   whose nesting (the object itself counting 1) stays within the limit.
//! - A field is recognised by its *decoded* key, as any JSON reader upstream recognises it: an
//!   escaped `"\u0073ide"` is `side`. A recognised field given twice is refused (two readers
//!   could take different values from one body); other fields pass through unread, repeated
//!   or not, as serde_json lets them.
//! - A field's text is its value exactly as written: a string with its quotes and escapes, a
//!   number as its digits, a nested value whole.

/// Why a body is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ScanError {
    /// Not JSON: `expected` was wanted at byte `at`.
    Syntax { at: usize, expected: &'static str },
    /// Nests deeper than the limit.
    TooDeep,
    /// A recognised field appears twice; its name.
    Duplicate(&'static str),
}

/// The containers a nested value may open below the top-level object, at most: serde_json's
/// own recursion limit, and the width of the stack of container kinds.
const NESTED_MAX: usize = 127;

/// Reads `text` as one JSON object of at most `max_depth` levels (`{}` is 1) and returns the raw
/// text of the top-level fields `index_of` recognises, in its numbering (`names` gives each
/// one's key for the duplicate message).
///
/// `fields` starts empty (all `None`); it is filled in place because a returned array of
/// sixteen slices would be copied on the way out.
pub(super) fn scan_object<'a, const N: usize>(
    text: &'a str,
    index_of: impl Fn(&[u8]) -> Option<usize>,
    names: &[&'static str; N],
    max_depth: usize,
    fields: &mut [Option<&'a str>; N],
) -> Result<(), ScanError> {
    let bytes = text.as_bytes();
    let mut at = skip_whitespace(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return Err(syntax(at, "'{'"));
    }
    if max_depth == 0 {
        return Err(ScanError::TooDeep);
    }
    let room = (max_depth - 1).min(NESTED_MAX);
    at = skip_whitespace(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        at += 1;
    } else {
        loop {
            if bytes.get(at) != Some(&b'"') {
                return Err(syntax(at, "a string key"));
            }
            let key_start = at;
            let escaped;
            (at, escaped) = skip_string(bytes, at)?;
            let index = recognise(&text[key_start..at], escaped, key_start, &index_of)?
                .filter(|&index| index < N);
            if let Some(index) = index {
                if fields[index].is_some() {
                    return Err(ScanError::Duplicate(names[index]));
                }
            }
            at = colon(bytes, at)?;
            let value_start = at;
            // Most values are strings: straight to the string's end.
            at = match bytes.get(at) {
                Some(b'"') => skip_string(bytes, at)?.0,
                _ => skip_value(bytes, at, room)?,
            };
            if let Some(index) = index {
                fields[index] = Some(&text[value_start..at]);
            }
            at = skip_whitespace(bytes, at);
            match bytes.get(at) {
                Some(b',') => at = skip_whitespace(bytes, at + 1),
                Some(b'}') => {
                    at += 1;
                    break;
                }
                _ => return Err(syntax(at, "',' or '}'")),
            }
        }
    }
    at = skip_whitespace(bytes, at);
    if at != bytes.len() {
        return Err(syntax(at, "nothing after the object"));
    }
    Ok(())
}

/// The field a key (with its quotes) names. A key with escapes is decoded first, as serde_json
/// decodes it (a lone surrogate is refused there too).
fn recognise(
    key: &str,
    escaped: bool,
    at: usize,
    index_of: &impl Fn(&[u8]) -> Option<usize>,
) -> Result<Option<usize>, ScanError> {
    if !escaped {
        return Ok(index_of(&key.as_bytes()[1..key.len() - 1]));
    }
    let decoded: String =
        serde_json::from_str(key).map_err(|_| syntax(at, "a key that decodes to text"))?;
    Ok(index_of(decoded.as_bytes()))
}

/// Past `:` and the whitespace around it, after a key ending at `at`.
#[inline]
fn colon(bytes: &[u8], at: usize) -> Result<usize, ScanError> {
    let at = skip_whitespace(bytes, at);
    if bytes.get(at) != Some(&b':') {
        return Err(syntax(at, "':'"));
    }
    Ok(skip_whitespace(bytes, at + 1))
}

/// The end of the value starting at `at`, which may open `room` containers. Iterative, so a
/// deep value costs no stack.
fn skip_value(bytes: &[u8], mut at: usize, room: usize) -> Result<usize, ScanError> {
    // The open containers, innermost in the lowest bit: 1 for an object, 0 for an array.
    let mut open: u128 = 0;
    let mut depth = 0usize;
    loop {
        // A value starts at `at`.
        match bytes.get(at) {
            Some(b'"') => at = skip_string(bytes, at)?.0,
            Some(b'-' | b'0'..=b'9') => at = skip_number(bytes, at)?,
            Some(b't') => at = literal(bytes, at, "true")?,
            Some(b'f') => at = literal(bytes, at, "false")?,
            Some(b'n') => at = literal(bytes, at, "null")?,
            Some(&opener @ (b'{' | b'[')) => {
                if depth == room {
                    return Err(ScanError::TooDeep);
                }
                depth += 1;
                let object = opener == b'{';
                open = open << 1 | u128::from(object);
                at = skip_whitespace(bytes, at + 1);
                let closer = if object { b'}' } else { b']' };
                if bytes.get(at) == Some(&closer) {
                    at += 1;
                    depth -= 1;
                    open >>= 1;
                } else {
                    if object {
                        at = key(bytes, at)?;
                    }
                    continue;
                }
            }
            _ => return Err(syntax(at, "a value")),
        }
        // A value ended at `at`: go on in its container, closing those it completes.
        loop {
            if depth == 0 {
                return Ok(at);
            }
            at = skip_whitespace(bytes, at);
            let object = open & 1 == 1;
            match (bytes.get(at), object) {
                (Some(b','), _) => {
                    at = skip_whitespace(bytes, at + 1);
                    if object {
                        at = key(bytes, at)?;
                    }
                    break;
                }
                (Some(b'}'), true) | (Some(b']'), false) => {
                    at += 1;
                    depth -= 1;
                    open >>= 1;
                }
                (_, true) => return Err(syntax(at, "',' or '}'")),
                (_, false) => return Err(syntax(at, "',' or ']'")),
            }
        }
    }
}

/// A nested object's key and its colon, up to its value. serde_json does not decode these.
fn key(bytes: &[u8], at: usize) -> Result<usize, ScanError> {
    if bytes.get(at) != Some(&b'"') {
        return Err(syntax(at, "a string key"));
    }
    colon(bytes, skip_string(bytes, at)?.0)
}

/// The bytes that end a run of plain string text: the closing quote, an escape, and the control
/// characters JSON forbids in strings.
static STRING_STOPS: [bool; 256] = {
    let mut stops = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        stops[byte] = true;
        byte += 1;
    }
    stops[b'"' as usize] = true;
    stops[b'\\' as usize] = true;
    stops
};

/// The first byte at or after `at` that ends a run of plain string text ([`STRING_STOPS`]), or
/// `bytes.len()`: eight bytes at a time while eight remain, then one by one.
#[inline]
fn plain_run_end(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Per byte: its high bit set when the byte is zero (`b − 1` borrows and `!b` keeps the high
    // bit). Bytes above the lowest zero byte may be flagged wrongly by its borrow; the lowest
    // flag is always right, and only the lowest is used.
    let zero_bytes = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let stops = zero_bytes(word ^ (ONES * u64::from(b'"')))
            | zero_bytes(word ^ (ONES * u64::from(b'\\')))
            // Below 0x20: `b − 0x20` borrows into the high bit, and `!b` keeps it for b < 0x80.
            | (word.wrapping_sub(ONES * 0x20) & !word & HIGHS);
        if stops != 0 {
            return at + (stops.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while bytes
        .get(at)
        .is_some_and(|&byte| !STRING_STOPS[usize::from(byte)])
    {
        at += 1;
    }
    at
}

/// Past the string whose opening quote is at `at`, and whether it has escapes: escapes
/// well-formed (`\uXXXX` with four hex digits; what it encodes is the reader's business), no
/// control character.
#[inline(always)]
fn skip_string(bytes: &[u8], at: usize) -> Result<(usize, bool), ScanError> {
    let mut at = at + 1;
    let mut escaped = false;
    loop {
        at = plain_run_end(bytes, at);
        match bytes.get(at) {
            Some(b'"') => return Ok((at + 1, escaped)),
            Some(b'\\') => match bytes.get(at + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                    escaped = true;
                    at += 2;
                }
                Some(b'u') => {
                    let hex = bytes.get(at + 2..at + 6);
                    if !hex.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
                        return Err(syntax(at, "four hex digits after \\u"));
                    }
                    escaped = true;
                    at += 6;
                }
                _ => {
                    return Err(syntax(
                        at,
                        "an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u)",
                    ))
                }
            },
            Some(_) => return Err(syntax(at, "no control character in a string")),
            None => return Err(syntax(at, "'\"' closing the string")),
        }
    }
}

/// Past the number starting at `at`: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
/// A digit after a leading zero is left for the caller, which refuses it as what follows.
fn skip_number(bytes: &[u8], mut at: usize) -> Result<usize, ScanError> {
    if bytes.get(at) == Some(&b'-') {
        at += 1;
    }
    match bytes.get(at) {
        Some(b'0') => at += 1,
        Some(b'1'..=b'9') => at = skip_digits(bytes, at + 1),
        _ => return Err(syntax(at, "a digit")),
    }
    if bytes.get(at) == Some(&b'.') {
        at = some_digits(bytes, at + 1)?;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        at = some_digits(bytes, at)?;
    }
    Ok(at)
}

/// Past one or more digits.
fn some_digits(bytes: &[u8], at: usize) -> Result<usize, ScanError> {
    let end = skip_digits(bytes, at);
    if end == at {
        return Err(syntax(at, "a digit"));
    }
    Ok(end)
}

fn skip_digits(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(u8::is_ascii_digit) {
        at += 1;
    }
    at
}

/// Past `word` (`true`, `false`, `null`) at `at`.
fn literal(bytes: &[u8], at: usize, word: &'static str) -> Result<usize, ScanError> {
    if bytes.get(at..at + word.len()) != Some(word.as_bytes()) {
        return Err(syntax(at, word));
    }
    Ok(at + word.len())
}

/// Past JSON's whitespace (space, tab, line feed, carriage return).
#[inline]
fn skip_whitespace(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

fn syntax(at: usize, expected: &'static str) -> ScanError {
    ScanError::Syntax { at, expected }
}

#[cfg(test)]
mod tests;
