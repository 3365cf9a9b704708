//! A small, explicit binary codec for WAL records and snapshots.
//!
//! Little-endian fixed-width integers, `u32`-length-prefixed byte strings, one tag byte per enum
//! variant. No schema evolution magic: the WAL's segment header carries a format version, and a
//! change of any encoding bumps it. Decoding never panics: every read is bounds-checked and a
//! short or malformed input is a [`DecodeError`] naming what was being read.

use crate::money::Fixed;

/// Longest string or byte field accepted when decoding (a corrupt length must not allocate GBs).
pub const FIELD_BYTES_MAX: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode {what} at byte {offset}: {problem}")]
pub struct DecodeError {
    pub what: &'static str,
    pub offset: usize,
    pub problem: &'static str,
}

/// An enum stored as one byte. Each implementing enum has one explicit `(code, value)` table —
/// written with [`wire_codes!`](crate::wire_codes) beside the enum — that every codec (WAL records, snapshots)
/// uses; the codes are on-disk format and never change meaning. Encoding is a `match`, so every
/// value has a code; decoding an unknown code is an error, never a default.
pub trait WireCode: Copy + Sized + 'static {
    /// Every value with its code.
    const CODES: &'static [(u8, Self)];

    fn code(self) -> u8;

    fn from_code(code: u8) -> Option<Self> {
        Self::CODES
            .iter()
            .find(|(known, _)| *known == code)
            .map(|(_, value)| *value)
    }
}

/// Implements [`WireCode`] for an enum from its table:
/// `wire_codes!(Status { Status::New = 0, Status::Done = 1 });`
#[macro_export]
macro_rules! wire_codes {
    ($type:ty { $($value:path = $code:literal),+ $(,)? }) => {
        impl $crate::codec::WireCode for $type {
            const CODES: &'static [(u8, Self)] = &[$(($code, $value)),+];

            fn code(self) -> u8 {
                match self {
                    $($value => $code),+
                }
            }
        }
    };
}

/// Appends encoded values to a buffer.
#[derive(Default)]
pub struct Encoder {
    bytes: Vec<u8>,
}

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(capacity),
        }
    }

    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }

    pub fn u8(&mut self, value: u8) -> &mut Self {
        self.bytes.push(value);
        self
    }

    /// An enum by its [`WireCode`].
    pub fn code<T: WireCode>(&mut self, value: T) -> &mut Self {
        self.u8(value.code())
    }

    pub fn bool(&mut self, value: bool) -> &mut Self {
        self.u8(u8::from(value))
    }

    pub fn u32(&mut self, value: u32) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub fn i64(&mut self, value: i64) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub fn fixed(&mut self, value: Fixed) -> &mut Self {
        self.i64(value.units())
    }

    pub fn option_fixed(&mut self, value: Option<Fixed>) -> &mut Self {
        match value {
            None => self.u8(0),
            Some(value) => self.u8(1).fixed(value),
        }
    }

    pub fn bytes(&mut self, value: &[u8]) -> &mut Self {
        // Lengths above u32 never occur: every producer is bounded far below it.
        self.u32(u32::try_from(value.len()).unwrap_or(u32::MAX));
        self.bytes.extend_from_slice(value);
        self
    }

    pub fn str(&mut self, value: &str) -> &mut Self {
        self.bytes(value.as_bytes())
    }

    pub fn option_str(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            None => self.u8(0),
            Some(value) => self.u8(1).str(value),
        }
    }

    pub fn option_u64(&mut self, value: Option<u64>) -> &mut Self {
        match value {
            None => self.u8(0),
            Some(value) => self.u8(1).u64(value),
        }
    }
}

/// Reads values back, in the order they were written.
pub struct Decoder<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, offset: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.offset == self.bytes.len()
    }

    /// Bytes read so far.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// An error about what was just read (a value the codec could read but the format does not
    /// allow), at the current offset.
    pub fn error(&self, what: &'static str, problem: &'static str) -> DecodeError {
        DecodeError {
            what,
            offset: self.offset,
            problem,
        }
    }

    /// An enum by its [`WireCode`]; an unknown code is an error.
    pub fn code<T: WireCode>(&mut self, what: &'static str) -> Result<T, DecodeError> {
        let code = self.u8(what)?;
        T::from_code(code).ok_or_else(|| self.error(what, "unknown code"))
    }

    /// Fails unless every byte was read: trailing bytes mean the record is not what we think.
    pub fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.error(what, "trailing bytes"))
        }
    }

    fn take(&mut self, count: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self
            .offset
            .checked_add(count)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| self.error(what, "input ends early"))?;
        let slice = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut array = [0u8; N];
        array.copy_from_slice(self.take(N, what)?);
        Ok(array)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    pub fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.error(what, "not a boolean")),
        }
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    pub fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }

    pub fn fixed(&mut self, what: &'static str) -> Result<Fixed, DecodeError> {
        self.i64(what).map(Fixed::from_units)
    }

    pub fn option_fixed(&mut self, what: &'static str) -> Result<Option<Fixed>, DecodeError> {
        match self.u8(what)? {
            0 => Ok(None),
            1 => self.fixed(what).map(Some),
            _ => Err(self.error(what, "not an option tag")),
        }
    }

    pub fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let length = self.u32(what)? as usize;
        if length > FIELD_BYTES_MAX {
            return Err(self.error(what, "length over the field limit"));
        }
        self.take(length, what)
    }

    pub fn str(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let offset = self.offset;
        let bytes = self.bytes(what)?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError {
            what,
            offset,
            problem: "not UTF-8",
        })
    }

    pub fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        self.str(what).map(str::to_owned)
    }

    pub fn option_u64(&mut self, what: &'static str) -> Result<Option<u64>, DecodeError> {
        match self.u8(what)? {
            0 => Ok(None),
            1 => self.u64(what).map(Some),
            _ => Err(self.error(what, "not an option tag")),
        }
    }

    pub fn option_string(&mut self, what: &'static str) -> Result<Option<String>, DecodeError> {
        match self.u8(what)? {
            0 => Ok(None),
            1 => self.string(what).map(Some),
            _ => Err(self.error(what, "not an option tag")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut encoder = Encoder::new();
        encoder
            .u8(7)
            .bool(true)
            .u32(70_000)
            .u64(u64::MAX)
            .i64(-5)
            .fixed(Fixed::from_units(512_580_012))
            .option_fixed(None)
            .option_fixed(Some(Fixed::ONE))
            .str("AAPL")
            .option_str(Some("é"))
            .option_str(None);
        let bytes = encoder.finish();
        let mut decoder = Decoder::new(&bytes);
        assert_eq!(decoder.u8("a").unwrap(), 7);
        assert!(decoder.bool("b").unwrap());
        assert_eq!(decoder.u32("c").unwrap(), 70_000);
        assert_eq!(decoder.u64("d").unwrap(), u64::MAX);
        assert_eq!(decoder.i64("e").unwrap(), -5);
        assert_eq!(decoder.fixed("f").unwrap().to_string(), "5.12580012");
        assert_eq!(decoder.option_fixed("g").unwrap(), None);
        assert_eq!(decoder.option_fixed("h").unwrap(), Some(Fixed::ONE));
        assert_eq!(decoder.str("i").unwrap(), "AAPL");
        assert_eq!(decoder.option_string("j").unwrap().as_deref(), Some("é"));
        assert_eq!(decoder.option_string("k").unwrap(), None);
        decoder.finish("all").unwrap();
    }

    #[test]
    fn short_or_corrupt_input_is_an_error_not_a_panic() {
        let mut encoder = Encoder::new();
        encoder.str("symbol");
        let bytes = encoder.finish();
        for cut in 0..bytes.len() {
            assert!(Decoder::new(&bytes[..cut]).str("s").is_err());
        }
        let huge = [0xff, 0xff, 0xff, 0xff];
        assert_eq!(
            Decoder::new(&huge).bytes("b").unwrap_err().problem,
            "length over the field limit"
        );
        assert!(Decoder::new(&[2]).bool("b").is_err());
        assert!(Decoder::new(&[1, 2]).finish("x").is_err());
    }
}
