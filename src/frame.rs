//! Batch frame format v1: how a batch of events travels as one Kafka record.
//!
//! ```text
//! offset  size  field
//! 0       2     magic, the bytes 0x4D 0x42 ("MB")
//! 2       1     version, 1
//! 3       1     flags, 0 (reserved; a v1 decoder refuses any other value)
//! 4       4     event count, u32 little-endian
//! 8       ...   count events, each: u32 little-endian length, then that many bytes
//! ```
//!
//! A frame ends exactly after its last event: trailing bytes are an error.
//! The decoder never trusts a length: each one is checked against the bytes
//! that remain before it is used.

use crate::error::{Error, Result};

/// Bytes of the frame header.
pub const FRAME_HEADER: usize = 8;
/// Bytes of each event's length prefix.
pub const EVENT_PREFIX: usize = 4;
/// The frame magic, "MB".
pub const MAGIC: [u8; 2] = *b"MB";
/// The frame format version this crate writes and reads.
pub const VERSION: u8 = 1;
/// Largest frame the decoder accepts (a Kafka record cannot be larger).
pub const MAX_FRAME_BYTES: usize = i32::MAX as usize;

/// Bytes one event occupies inside a frame.
#[inline(always)]
pub const fn encoded_len(event_len: usize) -> usize {
    EVENT_PREFIX + event_len
}

/// Builds a frame in a reusable buffer: `clear`, `push` events, then
/// `finish()`. The buffer's capacity is kept across frames, so steady-state
/// encoding does not allocate.
#[derive(Debug, Default)]
pub struct FrameEncoder {
    buf: Vec<u8>,
    count: u32,
}

impl FrameEncoder {
    pub fn with_capacity(bytes: usize) -> Self {
        let mut enc = FrameEncoder { buf: Vec::with_capacity(bytes.max(FRAME_HEADER)), count: 0 };
        enc.clear();
        enc
    }

    /// Starts a new, empty frame.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.buf.extend_from_slice(&[MAGIC[0], MAGIC[1], VERSION, 0, 0, 0, 0, 0]);
        self.count = 0;
    }

    /// Appends one event. Panics if the frame would hold more than u32::MAX
    /// events (the collector flushes long before).
    #[inline(always)]
    pub fn push(&mut self, event: &[u8]) {
        assert!(event.len() <= u32::MAX as usize && self.count < u32::MAX);
        self.buf.extend_from_slice(&(event.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(event);
        self.count += 1;
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes of the frame so far, header included.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Completes the header and returns the encoded frame. The count is
    /// written here, once, rather than on every push.
    pub fn finish(&mut self) -> &[u8] {
        self.buf[4..8].copy_from_slice(&self.count.to_le_bytes());
        &self.buf
    }
}

/// Encodes `events` as one frame.
pub fn encode<'a>(events: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut enc = FrameEncoder::default();
    enc.clear();
    for e in events {
        enc.push(e);
    }
    enc.finish();
    enc.buf
}

/// Reads and checks the header; returns the event count.
pub fn read_header(frame: &[u8]) -> Result<u32> {
    if frame.len() > MAX_FRAME_BYTES {
        return Err(Error::malformed(format!(
            "frame of {} bytes exceeds the maximum of {MAX_FRAME_BYTES}",
            frame.len()
        )));
    }
    if frame.len() < FRAME_HEADER {
        return Err(Error::malformed(format!(
            "frame truncated: {} bytes, the header alone needs {FRAME_HEADER}",
            frame.len()
        )));
    }
    if frame[0..2] != MAGIC {
        return Err(Error::malformed(format!(
            "bad magic {:02x} {:02x}, expected 4d 42 (\"MB\")",
            frame[0], frame[1]
        )));
    }
    if frame[2] != VERSION {
        return Err(Error::malformed(format!("unsupported frame version {}, this decoder reads {VERSION}", frame[2])));
    }
    if frame[3] != 0 {
        return Err(Error::malformed(format!("reserved flags byte is {:#04x}, must be 0", frame[3])));
    }
    let count = u32::from_le_bytes(frame[4..8].try_into().unwrap());
    // Every event needs at least its prefix: reject impossible counts before
    // a caller sizes anything by them.
    let room = (frame.len() - FRAME_HEADER) / EVENT_PREFIX;
    if count as usize > room {
        return Err(Error::malformed(format!(
            "frame claims {count} events but its {} bytes hold at most {room}",
            frame.len()
        )));
    }
    Ok(count)
}

/// Iterates the events of a checked frame. Yields `Err` once (and then ends)
/// if an event is truncated or bytes trail the last event.
pub struct Events<'a> {
    rest: &'a [u8],
    remaining: u32,
    index: u32,
    failed: bool,
}

impl<'a> Iterator for Events<'a> {
    type Item = Result<&'a [u8]>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.remaining == 0 {
            if self.rest.is_empty() {
                return None;
            }
            self.failed = true;
            return Some(Err(Error::malformed(format!(
                "{} bytes trail the last event",
                self.rest.len()
            ))));
        }
        if self.rest.len() < EVENT_PREFIX {
            self.failed = true;
            return Some(Err(Error::malformed(format!("event {} truncated: no room for its length", self.index))));
        }
        let len = u32::from_le_bytes(self.rest[..4].try_into().unwrap()) as usize;
        let body = &self.rest[EVENT_PREFIX..];
        if len > body.len() {
            self.failed = true;
            return Some(Err(Error::malformed(format!(
                "event {} claims {len} bytes but only {} remain",
                self.index,
                body.len()
            ))));
        }
        self.rest = &body[len..];
        self.remaining -= 1;
        self.index += 1;
        Some(Ok(&body[..len]))
    }
}

/// Checks the header and returns an iterator over the events.
pub fn events(frame: &[u8]) -> Result<Events<'_>> {
    let count = read_header(frame)?;
    Ok(Events { rest: &frame[FRAME_HEADER..], remaining: count, index: 0, failed: false })
}

/// Decodes a whole frame into borrowed events. Nothing is returned unless the
/// whole frame is valid.
pub fn decode(frame: &[u8]) -> Result<Vec<&[u8]>> {
    events(frame)?.collect()
}

/// Validates a frame completely, then calls `f` for each event. `f` is not
/// called at all for a malformed frame. Returns the event count.
pub fn for_each_event(frame: &[u8], mut f: impl FnMut(&[u8])) -> Result<u32> {
    let count = read_header(frame)?;
    for e in events(frame)? {
        e?;
    }
    for e in events(frame)? {
        f(e?);
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;
    use proptest::prelude::*;

    #[test]
    fn layout_is_byte_exact() {
        let frame = encode([&b"ab"[..], &b""[..]]);
        assert_eq!(frame, [0x4D, 0x42, 1, 0, 2, 0, 0, 0, 2, 0, 0, 0, b'a', b'b', 0, 0, 0, 0]);
        assert_eq!(decode(&frame).unwrap(), vec![&b"ab"[..], &b""[..]]);
    }

    #[test]
    fn empty_frame_is_valid() {
        let frame = encode(std::iter::empty());
        assert_eq!(frame.len(), FRAME_HEADER);
        assert!(decode(&frame).unwrap().is_empty());
    }

    #[test]
    fn refuses_bad_headers() {
        let good = encode([&b"x"[..]]);
        for (i, v) in [(0usize, 0u8), (1, 0), (2, 2), (3, 1)] {
            let mut bad = good.clone();
            bad[i] = v;
            assert_eq!(decode(&bad).unwrap_err().code(), Code::MB_ERR_MALFORMED, "byte {i}");
        }
        assert!(decode(&good[..7]).is_err());
        let mut huge_count = good.clone();
        huge_count[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge_count).unwrap_err().message().contains("at most"));
    }

    #[test]
    fn refuses_truncation_and_trailing_bytes() {
        let good = encode([&b"hello"[..], &b"world"[..]]);
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(decode(&trailing).unwrap_err().message().contains("trail"));
        let mut calls = 0;
        assert!(for_each_event(&trailing, |_| calls += 1).is_err());
        assert_eq!(calls, 0, "no event is delivered from a malformed frame");
    }

    proptest! {
        #[test]
        fn roundtrips(events in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..40)) {
            let frame = encode(events.iter().map(|e| &e[..]));
            let decoded = decode(&frame).unwrap();
            prop_assert_eq!(decoded.len(), events.len());
            for (a, b) in decoded.iter().zip(&events) {
                prop_assert_eq!(*a, &b[..]);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn mutated_frames_decode_or_fail_cleanly(
            events in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..16), 1..8),
            pos in any::<prop::sample::Index>(),
            val in any::<u8>(),
        ) {
            let mut frame = encode(events.iter().map(|e| &e[..]));
            let i = pos.index(frame.len());
            frame[i] = val;
            if let Ok(decoded) = decode(&frame) {
                // A successful decode must account for every byte.
                let used: usize = FRAME_HEADER + decoded.iter().map(|e| encoded_len(e.len())).sum::<usize>();
                prop_assert_eq!(used, frame.len());
            }
        }
    }
}
