//! The outer shape of a JSON text before serde reads it. serde's derive reads a struct from an
//! object *or* from an array of its fields in order, so a body that is to be a struct is held to
//! be an object first (and a list to be an array): one body, one reading (SPEC §3.0).

/// The outer shape a reader expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `{ … }`: every struct body.
    Object,
    /// `[ … ]`: a list.
    Array,
}

impl Shape {
    /// Whether `text`'s first byte after JSON's whitespace opens this shape. Says nothing of the
    /// rest: the parser that follows checks it.
    pub fn opens(self, text: &[u8]) -> bool {
        let first = text
            .iter()
            .find(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'));
        first
            == Some(match self {
                Shape::Object => &b'{',
                Shape::Array => &b'[',
            })
    }

    /// How a refusal names it.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Object => "a JSON object ({ … })",
            Shape::Array => "a JSON array ([ … ])",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_byte_after_whitespace_counts() {
        assert!(Shape::Object.opens(b" \r\n\t{\"a\":1}"));
        assert!(!Shape::Object.opens(b"[{\"a\":1}]"));
        assert!(
            !Shape::Object.opens(b"\x0c{}"),
            "form feed is not JSON whitespace"
        );
        assert!(!Shape::Object.opens(b""));
        assert!(Shape::Array.opens(b"  [1]"));
        assert!(!Shape::Array.opens(b"{}"));
    }
}
