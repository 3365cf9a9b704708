//! WAL record payloads are read back from disk at recovery and by `omnigate wal dump`, and a
//! torn or corrupted file can hold any bytes: `Record::decode` answers a record or a
//! `DecodeError`, never a panic. The format is canonical (strict tags, no trailing bytes), so a
//! payload that decodes re-encodes to exactly the same bytes — or, for a record of an earlier
//! format (read, never written), to the current tag's bytes, which decode to the same record —
//! and its JSON dump renders.
//!
//! The same input, when it is UTF-8, is also read as decimal text by `Fixed::parse` (the one
//! reader of every number omnigate is sent): a value it accepts prints as text that reads back
//! to the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use omnigate::engine::record::Record;
use omnigate::money::Fixed;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = Record::decode(data) {
        let encoded = record.encode();
        assert_eq!(
            Record::decode(&encoded).as_ref(),
            Ok(&record),
            "{} record does not read back from its own encoding",
            record.kind()
        );
        if encoded[0] == data[0] {
            assert_eq!(
                encoded,
                data,
                "{} record does not re-encode to the bytes it was decoded from: {record:?}",
                record.kind()
            );
        }
        let _ = record.to_json().to_string();
    }

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(value) = Fixed::parse(text) {
        let shown = value.to_string();
        assert_eq!(
            Fixed::parse(&shown),
            Ok(value),
            "{text:?} parsed as {shown}, which does not read back"
        );
        assert_eq!(
            Fixed::from_decimal(value.to_decimal()),
            Ok(value),
            "{shown} does not survive a trip through rust_decimal"
        );
        let _ = value.money().to_string();
    }
});
