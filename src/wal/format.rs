//! The bytes on disk: segment and snapshot file names, their headers, and the record frame.
//!
//! Pure functions over byte slices: no I/O, no panics on any input. The layouts are drawn in
//! the module doc of [`crate::wal`]; the constants here are the single source of their sizes.
//! Lengths and checksums are checked on both sides: [`encode_record`] refuses what
//! [`read_record`] would refuse, and a debug build decodes every frame it has just encoded.

/// Magic at the start of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"OGWALSEG";
/// Magic at the start of every snapshot file.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"OGWALSNP";
/// Version of this storage format (headers and record frame). A reader refuses any other.
pub const FORMAT_VERSION: u32 = 1;

/// Bytes in a segment header: magic 8, version 4, reserved 4, first lsn 8, crc 4, reserved 4.
pub const SEGMENT_HEADER_BYTES: usize = 32;
/// Bytes before a record's payload: len 4, crc 4, lsn 8.
pub const RECORD_HEADER_BYTES: usize = 16;
/// Largest payload of one record. Checked when appending and when reading: a length field
/// above it is damage, never an allocation.
pub const RECORD_BYTES_MAX: usize = 1024 * 1024;
/// Bytes in a snapshot header: magic 8, version 4, reserved 4, next lsn 8, payload length 8,
/// payload crc 4, header crc 4.
pub const SNAPSHOT_HEADER_BYTES: usize = 40;
/// Largest snapshot payload, checked when writing and when reading.
pub const SNAPSHOT_BYTES_MAX: usize = 1024 * 1024 * 1024;
/// The first lsn of a fresh log. Zero is never a valid lsn, so a zeroed frame can't pass.
pub const FIRST_LSN: u64 = 1;

const SEGMENT_PREFIX: &str = "wal-";
const SEGMENT_SUFFIX: &str = ".seg";
const SNAPSHOT_PREFIX: &str = "snapshot-";
const SNAPSHOT_SUFFIX: &str = ".snap";
/// Suffix of a snapshot being written; one left behind by a crash is removed at open.
pub const TEMP_SUFFIX: &str = ".tmp";
const LSN_DIGITS: usize = 20;

/// `wal-<first lsn, 20 digits>.seg`: zero-padded so names sort in lsn order.
pub fn segment_file_name(first_lsn: u64) -> String {
    format!("{SEGMENT_PREFIX}{first_lsn:020}{SEGMENT_SUFFIX}")
}

/// `snapshot-<next lsn, 20 digits>.snap`.
pub fn snapshot_file_name(next_lsn: u64) -> String {
    format!("{SNAPSHOT_PREFIX}{next_lsn:020}{SNAPSHOT_SUFFIX}")
}

/// The first lsn in a segment file name, if the name is exactly one of ours.
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    parse_lsn_name(name, SEGMENT_PREFIX, SEGMENT_SUFFIX)
}

/// The next lsn in a snapshot file name, if the name is exactly one of ours.
pub fn parse_snapshot_file_name(name: &str) -> Option<u64> {
    parse_lsn_name(name, SNAPSHOT_PREFIX, SNAPSHOT_SUFFIX)
}

fn parse_lsn_name(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    if digits.len() != LSN_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The checksum of a record: crc32c over the lsn's 8 little-endian bytes, then the payload.
/// Covering the lsn means a frame copied to the wrong place (or left from another life of the
/// file) does not pass.
pub fn record_crc(lsn: u64, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&lsn.to_le_bytes()), payload)
}

/// Bytes one record takes on disk.
pub fn record_frame_bytes(payload_bytes: usize) -> usize {
    RECORD_HEADER_BYTES + payload_bytes
}

/// Whether a payload of this size may be written (and would be read back).
pub fn record_size_ok(payload_bytes: usize) -> bool {
    (1..=RECORD_BYTES_MAX).contains(&payload_bytes)
}

/// Appends the frame of one record to `out`. The caller has checked [`record_size_ok`]; an
/// empty payload is refused because a zero length marks the preallocated end of a segment.
pub fn encode_record(out: &mut Vec<u8>, lsn: u64, payload: &[u8]) {
    debug_assert!(
        record_size_ok(payload.len()),
        "record size checked at the boundary"
    );
    debug_assert!(lsn >= FIRST_LSN);
    let start = out.len();
    // The length fits: RECORD_BYTES_MAX < u32::MAX, checked above.
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&record_crc(lsn, payload).to_le_bytes());
    out.extend_from_slice(&lsn.to_le_bytes());
    out.extend_from_slice(payload);
    // The other side of the disk write: what we are about to write must read back as itself.
    debug_assert!(matches!(
        read_record(&out[start..], 0, lsn),
        RecordRead::Record { lsn: l, payload: p, .. } if l == lsn && p == payload
    ));
}

/// What [`read_record`] found at an offset.
#[derive(Debug, PartialEq, Eq)]
pub enum RecordRead<'a> {
    /// A whole record with a good checksum and the expected lsn; the next one starts at `next`.
    Record {
        lsn: u64,
        payload: &'a [u8],
        next: usize,
    },
    /// The end of the data: end of file, or zeros (the preallocated part) up to it.
    End,
    /// Not a record. `checksum_valid` is true when the frame itself is intact (its checksum
    /// holds) but impossible (wrong lsn): that is never the product of a torn write.
    Bad {
        reason: String,
        checksum_valid: bool,
    },
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

fn u64_at(buf: &[u8], at: usize) -> Option<u64> {
    let bytes = buf.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

fn all_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

/// Reads the record at `offset` of a segment's bytes (the whole file, header included), which
/// must carry `expected_lsn`.
pub fn read_record(buf: &[u8], offset: usize, expected_lsn: u64) -> RecordRead<'_> {
    let rest = match buf.get(offset..) {
        Some(rest) => rest,
        None => {
            return RecordRead::Bad {
                reason: format!("offset {offset} is past the end of the file"),
                checksum_valid: false,
            }
        }
    };
    if rest.is_empty() {
        return RecordRead::End;
    }
    let Some(len) = u32_at(rest, 0) else {
        return if all_zero(rest) {
            RecordRead::End
        } else {
            RecordRead::Bad {
                reason: format!(
                    "incomplete length field ({} bytes before end of file)",
                    rest.len()
                ),
                checksum_valid: false,
            }
        };
    };
    if len == 0 {
        return if all_zero(rest) {
            RecordRead::End
        } else {
            RecordRead::Bad {
                reason: "zero length followed by non-zero bytes".to_string(),
                checksum_valid: false,
            }
        };
    }
    let len = len as usize;
    if len > RECORD_BYTES_MAX {
        return RecordRead::Bad {
            reason: format!("length {len} is over the record limit {RECORD_BYTES_MAX}"),
            checksum_valid: false,
        };
    }
    let frame = record_frame_bytes(len);
    if rest.len() < frame {
        return RecordRead::Bad {
            reason: format!(
                "record of {frame} bytes runs past the end of the file ({} bytes left)",
                rest.len()
            ),
            checksum_valid: false,
        };
    }
    // In bounds: rest.len() >= frame >= RECORD_HEADER_BYTES.
    let stored_crc = u32_at(rest, 4).unwrap_or(0);
    let lsn = u64_at(rest, 8).unwrap_or(0);
    let payload = &rest[RECORD_HEADER_BYTES..frame];
    let computed_crc = record_crc(lsn, payload);
    if stored_crc != computed_crc {
        return RecordRead::Bad {
            reason: format!(
                "checksum mismatch (stored {stored_crc:#010x}, computed {computed_crc:#010x})"
            ),
            checksum_valid: false,
        };
    }
    if lsn != expected_lsn {
        return RecordRead::Bad {
            reason: format!("record carries lsn {lsn} where lsn {expected_lsn} is next"),
            checksum_valid: true,
        };
    }
    RecordRead::Record {
        lsn,
        payload,
        next: offset + frame,
    }
}

/// The offset of the first intact frame (length in range, checksum good, lsn in
/// `lsn_min..=lsn_max`) that starts after `from`, if any. This is how recovery tells a torn
/// tail (nothing valid follows the damage) from damage in the middle of the log.
///
/// Every byte offset is tried, since a damaged length says nothing about where the next frame
/// starts. Runs of zeros (the preallocated end) are skipped cheaply, and the lsn range is
/// checked before the checksum so random bytes rarely cost a checksum.
pub fn find_intact_record_after(
    buf: &[u8],
    from: usize,
    lsn_min: u64,
    lsn_max: u64,
) -> Option<usize> {
    let mut at = from.checked_add(1)?;
    while at.checked_add(RECORD_HEADER_BYTES)? <= buf.len() {
        let len = u32_at(buf, at)? as usize;
        if len == 0 {
            // Jump to the next non-zero byte: a frame's length field must contain it.
            let next_nonzero = buf[at..].iter().position(|&b| b != 0)?;
            at = (at + next_nonzero).saturating_sub(3).max(at + 1);
            continue;
        }
        if len <= RECORD_BYTES_MAX && at + record_frame_bytes(len) <= buf.len() {
            let lsn = u64_at(buf, at + 8)?;
            if (lsn_min..=lsn_max).contains(&lsn) {
                let stored_crc = u32_at(buf, at + 4)?;
                let payload = &buf[at + RECORD_HEADER_BYTES..at + record_frame_bytes(len)];
                if record_crc(lsn, payload) == stored_crc {
                    return Some(at);
                }
            }
        }
        at += 1;
    }
    None
}

/// The header of a new segment whose first record will carry `first_lsn`.
pub fn encode_segment_header(first_lsn: u64) -> [u8; SEGMENT_HEADER_BYTES] {
    let mut header = [0u8; SEGMENT_HEADER_BYTES];
    header[0..8].copy_from_slice(&SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&first_lsn.to_le_bytes());
    let crc = crc32c::crc32c(&header[0..24]);
    header[24..28].copy_from_slice(&crc.to_le_bytes());
    debug_assert_eq!(decode_segment_header(&header), Ok(first_lsn));
    header
}

/// The first lsn a segment header declares, or why the header is not one.
pub fn decode_segment_header(buf: &[u8]) -> Result<u64, String> {
    let Some(header) = buf.get(..SEGMENT_HEADER_BYTES) else {
        return Err(format!(
            "file of {} bytes is shorter than the {SEGMENT_HEADER_BYTES}-byte header",
            buf.len()
        ));
    };
    if header[0..8] != SEGMENT_MAGIC {
        return Err("bad magic: not a segment file".to_string());
    }
    let stored_crc = u32_at(header, 24).unwrap_or(0);
    let computed_crc = crc32c::crc32c(&header[0..24]);
    if stored_crc != computed_crc {
        return Err(format!(
            "header checksum mismatch (stored {stored_crc:#010x}, computed {computed_crc:#010x})"
        ));
    }
    let version = u32_at(header, 8).unwrap_or(0);
    if version != FORMAT_VERSION {
        return Err(format!(
            "format version {version}; this build reads version {FORMAT_VERSION}"
        ));
    }
    let first_lsn = u64_at(header, 16).unwrap_or(0);
    if first_lsn < FIRST_LSN {
        return Err(format!("first lsn {first_lsn} is below {FIRST_LSN}"));
    }
    Ok(first_lsn)
}

/// The header of a snapshot of `payload` covering every lsn below `next_lsn`.
pub fn encode_snapshot_header(next_lsn: u64, payload: &[u8]) -> [u8; SNAPSHOT_HEADER_BYTES] {
    debug_assert!(
        payload.len() <= SNAPSHOT_BYTES_MAX,
        "checked at the boundary"
    );
    let mut header = [0u8; SNAPSHOT_HEADER_BYTES];
    header[0..8].copy_from_slice(&SNAPSHOT_MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&next_lsn.to_le_bytes());
    header[24..32].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    header[32..36].copy_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    let crc = crc32c::crc32c(&header[0..36]);
    header[36..40].copy_from_slice(&crc.to_le_bytes());
    header
}

/// A snapshot file's bytes checked: its next lsn and payload, or the byte offset and reason of
/// the first problem.
pub fn decode_snapshot(buf: &[u8]) -> Result<(u64, &[u8]), (u64, String)> {
    let Some(header) = buf.get(..SNAPSHOT_HEADER_BYTES) else {
        return Err((
            0,
            format!(
                "file of {} bytes is shorter than the {SNAPSHOT_HEADER_BYTES}-byte header",
                buf.len()
            ),
        ));
    };
    if header[0..8] != SNAPSHOT_MAGIC {
        return Err((0, "bad magic: not a snapshot file".to_string()));
    }
    let stored_crc = u32_at(header, 36).unwrap_or(0);
    let computed_crc = crc32c::crc32c(&header[0..36]);
    if stored_crc != computed_crc {
        return Err((
            36,
            format!(
                "header checksum mismatch (stored {stored_crc:#010x}, computed {computed_crc:#010x})"
            ),
        ));
    }
    let version = u32_at(header, 8).unwrap_or(0);
    if version != FORMAT_VERSION {
        return Err((
            8,
            format!("format version {version}; this build reads version {FORMAT_VERSION}"),
        ));
    }
    let next_lsn = u64_at(header, 16).unwrap_or(0);
    let payload_bytes = u64_at(header, 24).unwrap_or(0);
    if payload_bytes > SNAPSHOT_BYTES_MAX as u64 {
        return Err((
            24,
            format!(
                "payload length {payload_bytes} is over the snapshot limit {SNAPSHOT_BYTES_MAX}"
            ),
        ));
    }
    let payload = &buf[SNAPSHOT_HEADER_BYTES..];
    if payload.len() as u64 != payload_bytes {
        return Err((
            SNAPSHOT_HEADER_BYTES as u64,
            format!(
                "payload is {} bytes where the header says {payload_bytes}",
                payload.len()
            ),
        ));
    }
    let stored_payload_crc = u32_at(header, 32).unwrap_or(0);
    let computed_payload_crc = crc32c::crc32c(payload);
    if stored_payload_crc != computed_payload_crc {
        return Err((
            SNAPSHOT_HEADER_BYTES as u64,
            format!(
                "payload checksum mismatch (stored {stored_payload_crc:#010x}, computed {computed_payload_crc:#010x})"
            ),
        ));
    }
    Ok((next_lsn, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment_with(records: &[(u64, &[u8])]) -> Vec<u8> {
        let mut buf = encode_segment_header(records.first().map_or(1, |r| r.0)).to_vec();
        for (lsn, payload) in records {
            encode_record(&mut buf, *lsn, payload);
        }
        buf
    }

    #[test]
    fn names_round_trip_and_sort_in_lsn_order() {
        assert_eq!(segment_file_name(42), "wal-00000000000000000042.seg");
        assert_eq!(
            parse_segment_file_name("wal-00000000000000000042.seg"),
            Some(42)
        );
        assert_eq!(
            parse_snapshot_file_name(&snapshot_file_name(u64::MAX)),
            Some(u64::MAX)
        );
        assert!(segment_file_name(9) < segment_file_name(10));
        for bad in [
            "wal-42.seg",
            "wal-0000000000000000004x.seg",
            "wal-00000000000000000042.seg.tmp",
            "snapshot-00000000000000000042.seg",
            "wal-99999999999999999999.seg", // over u64::MAX
        ] {
            assert_eq!(parse_segment_file_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn records_read_back_and_end_at_zeros_or_eof() {
        let mut buf = segment_with(&[(1, b"alpha"), (2, b"beta")]);
        let first = read_record(&buf, SEGMENT_HEADER_BYTES, 1);
        let RecordRead::Record {
            lsn: 1,
            payload,
            next,
        } = first
        else {
            panic!("{first:?}")
        };
        assert_eq!(payload, b"alpha");
        assert!(matches!(
            read_record(&buf, next, 2),
            RecordRead::Record { lsn: 2, .. }
        ));
        let end = buf.len();
        assert_eq!(read_record(&buf, end, 3), RecordRead::End);
        buf.resize(end + 4096, 0);
        assert_eq!(read_record(&buf, end, 3), RecordRead::End);
        // Fewer than four zero bytes left is still the end.
        assert_eq!(read_record(&buf[..end + 3], end, 3), RecordRead::End);
    }

    #[test]
    fn damage_is_reported_never_panics() {
        let buf = segment_with(&[(1, b"alpha")]);
        let at = SEGMENT_HEADER_BYTES;
        // Every truncation of the record is a Bad (or, for zero bytes, the end).
        for cut in at + 1..buf.len() {
            let read = read_record(&buf[..cut], at, 1);
            assert!(
                matches!(
                    read,
                    RecordRead::Bad {
                        checksum_valid: false,
                        ..
                    }
                ),
                "{cut}: {read:?}"
            );
        }
        // Every single flipped bit in the frame is caught.
        for byte in at..buf.len() {
            for bit in 0..8 {
                let mut damaged = buf.clone();
                damaged[byte] ^= 1 << bit;
                let read = read_record(&damaged, at, 1);
                assert!(
                    matches!(read, RecordRead::Bad { .. }),
                    "{byte}/{bit}: {read:?}"
                );
            }
        }
        // A whole frame with the wrong lsn is intact but impossible.
        assert!(matches!(
            read_record(&buf, at, 7),
            RecordRead::Bad {
                checksum_valid: true,
                ..
            }
        ));
        // A length over the limit is refused before anything is read.
        let mut huge = buf.clone();
        huge[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let RecordRead::Bad { reason, .. } = read_record(&huge, at, 1) else {
            panic!()
        };
        assert!(reason.contains("over the record limit"), "{reason}");
        // An offset past the end is a Bad, not a panic.
        assert!(matches!(
            read_record(&buf, buf.len() + 10, 1),
            RecordRead::Bad { .. }
        ));
    }

    #[test]
    fn finds_the_next_intact_record_past_damage() {
        let mut buf = segment_with(&[(1, b"one"), (2, b"two"), (3, b"three")]);
        let second = SEGMENT_HEADER_BYTES + record_frame_bytes(3);
        buf[SEGMENT_HEADER_BYTES + 17] ^= 0x10; // damage record 1's payload
        assert_eq!(
            find_intact_record_after(&buf, SEGMENT_HEADER_BYTES, 1, 10),
            Some(second)
        );
        // Out of the lsn window: not counted.
        assert_eq!(
            find_intact_record_after(&buf, SEGMENT_HEADER_BYTES, 5, 10),
            None
        );
        // Only zeros after: nothing.
        let mut tail = segment_with(&[(1, b"one")]);
        tail.resize(1 << 16, 0);
        assert_eq!(
            find_intact_record_after(&tail, SEGMENT_HEADER_BYTES, 1, 100),
            None
        );
        assert_eq!(find_intact_record_after(&tail, usize::MAX, 1, 100), None);
    }

    proptest::proptest! {
        /// A corrupt file is data, not a bug: no bytes make the readers panic.
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            offset in 0usize..600,
            lsn in proptest::prelude::any::<u64>(),
        ) {
            let _ = read_record(&bytes, offset, lsn);
            let _ = find_intact_record_after(&bytes, offset, lsn, lsn.saturating_add(64));
            let _ = decode_segment_header(&bytes);
            let _ = decode_snapshot(&bytes);
        }

        /// Whatever is written reads back as itself.
        #[test]
        fn any_record_round_trips(
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..300),
            lsn in 1u64..u64::MAX,
        ) {
            let mut buf = Vec::new();
            encode_record(&mut buf, lsn, &payload);
            let read = read_record(&buf, 0, lsn);
            proptest::prop_assert_eq!(
                read,
                RecordRead::Record { lsn, payload: &payload[..], next: buf.len() }
            );
        }
    }

    #[test]
    fn headers_round_trip_and_refuse_damage() {
        let header = encode_segment_header(77);
        assert_eq!(decode_segment_header(&header), Ok(77));
        assert!(decode_segment_header(&header[..31]).is_err());
        assert!(decode_segment_header(&[0u8; 32]).is_err());
        for byte in 0..28 {
            let mut damaged = header;
            damaged[byte] ^= 1;
            assert!(decode_segment_header(&damaged).is_err(), "{byte}");
        }

        let mut snapshot = encode_snapshot_header(9, b"state").to_vec();
        snapshot.extend_from_slice(b"state");
        assert_eq!(decode_snapshot(&snapshot), Ok((9, &b"state"[..])));
        for byte in 0..snapshot.len() {
            let mut damaged = snapshot.clone();
            damaged[byte] ^= 0x40;
            assert!(decode_snapshot(&damaged).is_err(), "{byte}");
        }
        assert!(decode_snapshot(&snapshot[..snapshot.len() - 1]).is_err());
        assert!(decode_snapshot(&[]).is_err());
    }
}
