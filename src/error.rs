//! One result enum with fixed numbers, shared by the Rust API, the C ABI and
//! the JNI bridge, and the error type that carries a human-readable reason.

use std::fmt;

/// Result of every C entry point.
///
/// The numbers are part of the ABI: once released they never change. New
/// codes are appended; a retired code keeps its number reserved.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum mb_result {
    /// Success.
    MB_OK = 0,
    /// A required pointer argument was NULL.
    MB_ERR_NULL_ARG = 1,
    /// A configuration key is unknown, a value is out of range, or the keys
    /// contradict each other. mb_last_error says which and what is allowed.
    MB_ERR_INVALID_CONFIG = 2,
    /// The ring for this thread is full and `submit.block.ms` is 0 (or ran out).
    /// The event was not taken; the caller still owns it and may retry.
    MB_ERR_FULL = 3,
    /// The event is larger than `event.max.bytes`, or a result is larger
    /// than the buffer given for it (the call says how much it needs).
    MB_ERR_TOO_LARGE = 4,
    /// The collector has been freed or is shutting down.
    MB_ERR_CLOSED = 5,
    /// The operation did not complete within its timeout.
    MB_ERR_TIMEOUT = 6,
    /// The sink reported that the events could not be delivered.
    MB_ERR_DELIVERY = 7,
    /// The Kafka client reported an error.
    MB_ERR_KAFKA = 8,
    /// The calibration store failed.
    MB_ERR_CALIBRATION = 9,
    /// A frame is malformed, truncated or oversized.
    MB_ERR_MALFORMED = 10,
    /// A panic was caught at the API boundary; the library state may be
    /// inconsistent for the handle involved.
    MB_ERR_PANIC = 11,
    /// An internal invariant failed (a bug): please report it.
    MB_ERR_INTERNAL = 12,
    /// The ticket was never issued by this collector, or it expired: its
    /// outcome was reported and its slot has since been reused.
    MB_ERR_UNKNOWN_TICKET = 13,
    /// Every tracking slot holds an event awaiting acknowledgement (or, with
    /// `tracking.queue`, an outcome not yet drained). Nothing was taken.
    /// Unlike MB_ERR_FULL, retrying at once rarely helps: drain outcomes,
    /// raise `tracking.slots`, or submit fire-and-forget.
    MB_ERR_TRACKING_FULL = 14,
}

impl mb_result {
    /// The enumerator's name, e.g. "MB_ERR_FULL".
    pub const fn name(self) -> &'static str {
        match self {
            mb_result::MB_OK => "MB_OK",
            mb_result::MB_ERR_NULL_ARG => "MB_ERR_NULL_ARG",
            mb_result::MB_ERR_INVALID_CONFIG => "MB_ERR_INVALID_CONFIG",
            mb_result::MB_ERR_FULL => "MB_ERR_FULL",
            mb_result::MB_ERR_TOO_LARGE => "MB_ERR_TOO_LARGE",
            mb_result::MB_ERR_CLOSED => "MB_ERR_CLOSED",
            mb_result::MB_ERR_TIMEOUT => "MB_ERR_TIMEOUT",
            mb_result::MB_ERR_DELIVERY => "MB_ERR_DELIVERY",
            mb_result::MB_ERR_KAFKA => "MB_ERR_KAFKA",
            mb_result::MB_ERR_CALIBRATION => "MB_ERR_CALIBRATION",
            mb_result::MB_ERR_MALFORMED => "MB_ERR_MALFORMED",
            mb_result::MB_ERR_PANIC => "MB_ERR_PANIC",
            mb_result::MB_ERR_INTERNAL => "MB_ERR_INTERNAL",
            mb_result::MB_ERR_UNKNOWN_TICKET => "MB_ERR_UNKNOWN_TICKET",
            mb_result::MB_ERR_TRACKING_FULL => "MB_ERR_TRACKING_FULL",
        }
    }

    /// All codes in numeric order (used by tests and the bindings).
    pub const ALL: [mb_result; 15] = [
        mb_result::MB_OK,
        mb_result::MB_ERR_NULL_ARG,
        mb_result::MB_ERR_INVALID_CONFIG,
        mb_result::MB_ERR_FULL,
        mb_result::MB_ERR_TOO_LARGE,
        mb_result::MB_ERR_CLOSED,
        mb_result::MB_ERR_TIMEOUT,
        mb_result::MB_ERR_DELIVERY,
        mb_result::MB_ERR_KAFKA,
        mb_result::MB_ERR_CALIBRATION,
        mb_result::MB_ERR_MALFORMED,
        mb_result::MB_ERR_PANIC,
        mb_result::MB_ERR_INTERNAL,
        mb_result::MB_ERR_UNKNOWN_TICKET,
        mb_result::MB_ERR_TRACKING_FULL,
    ];
}

/// The Rust-side error code, the same enum the C ABI returns.
pub type Code = mb_result;

/// An error: a code from the fixed enum plus a message for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    code: Code,
    message: String,
}

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Error { code, message: message.into() }
    }
    pub fn code(&self) -> Code {
        self.code
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Error::new(Code::MB_ERR_INVALID_CONFIG, message)
    }
    pub fn closed() -> Self {
        Error::new(Code::MB_ERR_CLOSED, "the collector is closed")
    }
    pub fn malformed(message: impl Into<String>) -> Self {
        Error::new(Code::MB_ERR_MALFORMED, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_keep_their_abi_numbers() {
        for (i, code) in mb_result::ALL.iter().enumerate() {
            assert_eq!(*code as u32, i as u32, "{} moved", code.name());
        }
        assert_eq!(mb_result::MB_ERR_INTERNAL as u32, 12);
    }

    #[test]
    fn display_names_the_code() {
        let e = Error::invalid_config("bad key");
        assert_eq!(e.to_string(), "MB_ERR_INVALID_CONFIG: bad key");
    }
}
