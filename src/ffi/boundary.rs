//! What every C entry point shares: the panic boundary, NULL checks, and the
//! per-thread last-error message.

use crate::error::{mb_result, Error};
use std::cell::RefCell;

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Stores `message` as this thread's last error.
pub(crate) fn set_last_error(message: &str) {
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        e.clear();
        e.push_str(message);
    });
}

pub(crate) fn with_last_error<R>(f: impl FnOnce(&str) -> R) -> R {
    LAST_ERROR.with(|e| f(&e.borrow()))
}

/// Converts a Rust result into the C result code, recording the message of
/// an error as this thread's last error.
#[inline(always)]
pub(crate) fn to_code(result: Result<(), Error>) -> mb_result {
    match result {
        Ok(()) => mb_result::MB_OK,
        Err(e) => error_code(e),
    }
}

#[cold]
#[inline(never)]
fn error_code(e: Error) -> mb_result {
    set_last_error(e.message());
    e.code()
}

/// Runs an entry point's body, turning a panic into MB_ERR_PANIC (with the
/// panic message as last error) instead of unwinding into C.
///
/// Inlined, so on the success path it costs the body alone: catch_unwind
/// adds only a landing pad, and the error and panic paths are out of line.
#[inline(always)]
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Error>) -> mb_result {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(result) => to_code(result),
        Err(payload) => panic_code(payload),
    }
}

#[cold]
#[inline(never)]
fn panic_code(payload: Box<dyn std::any::Any + Send>) -> mb_result {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    set_last_error(&format!("panic inside microbatch: {what}"));
    mb_result::MB_ERR_PANIC
}

/// Like [`guard`] for entry points that return no code: a panic is recorded
/// as the last error and swallowed.
pub(crate) fn guard_void(body: impl FnOnce()) {
    let _ = guard(|| {
        body();
        Ok(())
    });
}

/// The one NULL check: names the argument in the error.
pub(crate) fn non_null<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Error> {
    // SAFETY: the C caller promises a non-null pointer is valid.
    unsafe { ptr.as_ref() }.ok_or_else(|| Error::new(mb_result::MB_ERR_NULL_ARG, format!("`{name}` is NULL")))
}

pub(crate) fn non_null_mut<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T, Error> {
    // SAFETY: as above.
    unsafe { ptr.as_mut() }.ok_or_else(|| Error::new(mb_result::MB_ERR_NULL_ARG, format!("`{name}` is NULL")))
}

/// A byte slice from a C (pointer, length) pair; NULL is allowed for length 0.
#[inline(always)]
pub(crate) fn bytes<'a>(ptr: *const u8, len: usize, name: &str) -> Result<&'a [u8], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(null_bytes(name, len));
    }
    // SAFETY: the caller promises `len` readable bytes at `ptr`.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

#[cold]
#[inline(never)]
fn null_bytes(name: &str, len: usize) -> Error {
    Error::new(mb_result::MB_ERR_NULL_ARG, format!("`{name}` is NULL with length {len}"))
}

/// A UTF-8 string from a NUL-terminated C string.
pub(crate) fn c_str<'a>(ptr: *const std::ffi::c_char, name: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(Error::new(mb_result::MB_ERR_NULL_ARG, format!("`{name}` is NULL")));
    }
    // SAFETY: the caller promises a NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(ptr) }
        .to_str()
        .map_err(|_| Error::invalid_config(format!("`{name}` is not valid UTF-8")))
}
