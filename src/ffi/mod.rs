//! The C ABI. Each function checks its arguments, runs inside the panic
//! boundary, and calls one method of the Rust API: no logic lives here.
//!
//! The header `include/microbatch.h` is generated from this module by
//! cbindgen (see build.rs); the doc comments below are the C documentation.

// The entry points take raw pointers from C and are `extern "C"` without
// `unsafe`, as in rustls-ffi: C callers cannot see Rust's `unsafe`, and
// every pointer is checked at the boundary (NULL, the handle's magic, the
// panic guard) before use; what cannot be checked (a length longer than its
// buffer) is the C contract each function documents. Rust code reaches the
// same operations through the safe `Collector` API.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

mod boundary;

use crate::collector::Status;
use crate::config::Config;
use crate::error::{mb_result, Error};
use crate::frame;
use crate::handle::Handle;
use crate::sink::callback::{mb_frame_cb, FrameCallback};
use crate::tracking::{Ack, AckCallback, AckEvent};
use boundary::{bytes, c_str, guard, guard_void, non_null, non_null_mut, with_last_error};
use std::ffi::{c_char, c_void};
use std::time::Duration;

pub(crate) use boundary::set_last_error;

/// An `mb_result` as it arrives from C: any int. Taken as a plain integer
/// because a Rust enum holding a value outside its variants is undefined
/// behaviour; the header spells it `mb_result` (see cbindgen.toml).
pub type ResultCode = u32;

/// Receives one decoded event: `event` points to `len` bytes valid only
/// during the call. Return 0 to continue; any other value stops decoding
/// (mb_frame_decode then returns MB_ERR_DELIVERY).
#[allow(non_camel_case_types)]
pub type mb_event_cb = Option<unsafe extern "C" fn(ctx: *mut c_void, event: *const u8, len: usize) -> i32>;

/// Creates a configuration holding the defaults. Free it with mb_config_free.
/// Returns NULL only if memory is exhausted.
#[no_mangle]
pub extern "C" fn mb_config_new() -> *mut Config {
    let mut out = std::ptr::null_mut();
    guard_void(|| out = Box::into_raw(Box::new(Config::default())));
    out
}

/// Sets one configuration key, e.g. ("partitions", "4") or
/// ("kafka.acks", "all"). The key and value are checked now: an unknown key
/// or a bad value returns MB_ERR_INVALID_CONFIG, leaves `cfg` unchanged, and
/// mb_last_error says what is allowed.
#[no_mangle]
pub extern "C" fn mb_config_set(cfg: *mut Config, key: *const c_char, value: *const c_char) -> mb_result {
    guard(|| {
        let cfg = non_null_mut(cfg, "cfg")?;
        let key = c_str(key, "key")?;
        let value = c_str(value, "value")?;
        cfg.set(key, value)
    })
}

/// Sends frames to `cb` (and makes `callback` the sink). The callback runs on
/// the collector's flush threads, possibly several at once, so it and `ctx`
/// must be thread-safe. It receives each encoded frame (see the frame format
/// in README) valid only during the call; returning non-zero marks the
/// frame's events failed.
#[no_mangle]
pub extern "C" fn mb_config_set_frame_callback(cfg: *mut Config, cb: mb_frame_cb, ctx: *mut c_void) -> mb_result {
    guard(|| {
        let cfg = non_null_mut(cfg, "cfg")?;
        let cb = cb.ok_or_else(|| Error::new(mb_result::MB_ERR_NULL_ARG, "`cb` is NULL"))?;
        // SAFETY: this function's C contract is FrameCallback::new's: a
        // thread-safe callback and `ctx`, the frame valid during the call.
        cfg.set_frame_callback(unsafe { FrameCallback::new(cb, ctx) });
        Ok(())
    })
}

/// Receives outcomes of tracked events: `count` entries at `events`, valid
/// only during the call.
#[allow(non_camel_case_types)]
pub type mb_ack_cb = Option<unsafe extern "C" fn(ctx: *mut c_void, events: *const AckEvent, count: usize)>;

/// A C ack callback and its context, callable from any thread (the C API
/// documents that requirement; Rust never dereferences `ctx`).
#[derive(Clone, Copy)]
struct CAckCallback {
    cb: unsafe extern "C" fn(*mut c_void, *const AckEvent, usize),
    ctx: *mut c_void,
}
// SAFETY: the C API (mb_config_set_ack_callback) requires the callback and
// `ctx` to be callable from any thread; Rust never dereferences `ctx`.
unsafe impl Send for CAckCallback {}
// SAFETY: as for Send: the same documentation allows several threads to
// call it at once.
unsafe impl Sync for CAckCallback {}

/// Hands the outcome of every tracked event to `cb` as soon as it is known,
/// a frame's worth per call. The callback runs on the thread that learns
/// the outcome (a flush thread, or the Kafka client's delivery thread),
/// possibly on several at once: it must be quick, thread-safe, and must not
/// call mb_collector_wait, mb_collector_flush or mb_collector_free. A slot
/// is free again when the callback returns (unless `tracking.queue` is also
/// on: then when drained). Each outcome is passed exactly once.
#[no_mangle]
pub extern "C" fn mb_config_set_ack_callback(cfg: *mut Config, cb: mb_ack_cb, ctx: *mut c_void) -> mb_result {
    guard(|| {
        let cfg = non_null_mut(cfg, "cfg")?;
        let cb = cb.ok_or_else(|| Error::new(mb_result::MB_ERR_NULL_ARG, "`cb` is NULL"))?;
        let c = CAckCallback { cb, ctx };
        let callback: AckCallback = std::sync::Arc::new(move |events: &[AckEvent]| {
            let c = &c;
            // SAFETY: the callback contract is the caller's; `events` is a
            // valid slice for the duration of the call.
            unsafe { (c.cb)(c.ctx, events.as_ptr(), events.len()) }
        });
        cfg.set_ack_callback(callback);
        Ok(())
    })
}

/// Frees a configuration. NULL is ignored.
#[no_mangle]
pub extern "C" fn mb_config_free(cfg: *mut Config) {
    guard_void(|| {
        if !cfg.is_null() {
            // SAFETY: `cfg` came from mb_config_new and is freed once.
            drop(unsafe { Box::from_raw(cfg) });
        }
    })
}

/// Creates a collector from `cfg` (which is not consumed and may be freed
/// right after) and starts its flush threads. On success `*out` holds the
/// handle; free it with mb_collector_free. A calibration store that cannot
/// be used (corrupt, unreadable, read-only, locked) does not fail creation:
/// the collector runs on its bootstrap configs, mb_last_error says why, and
/// status counts it in `calibration_errors`.
#[no_mangle]
pub extern "C" fn mb_collector_new(cfg: *const Config, out: *mut *mut Handle) -> mb_result {
    guard(|| {
        let out = non_null_mut(out, "out")?;
        *out = std::ptr::null_mut();
        let cfg = non_null(cfg, "cfg")?;
        *out = Handle::create(cfg)? as *const Handle as *mut Handle;
        Ok(())
    })
}

/// Submits one event, fire-and-forget. The bytes are copied before the call
/// returns. Never allocates and never blocks unless `submit.block.ms` is set.
/// Returns MB_ERR_FULL when this thread's ring has no room (nothing was
/// taken; retry later), MB_ERR_TOO_LARGE above `event.max.bytes`, and
/// MB_ERR_CLOSED once the collector has been freed. `data` may be NULL when
/// `len` is 0.
#[no_mangle]
pub extern "C" fn mb_collector_submit(c: *mut Handle, data: *const u8, len: usize) -> mb_result {
    // SAFETY: the C caller's promises (a handle from mb_collector_new, `len`
    // readable bytes at a non-null `data`). The fast path cannot panic, so it
    // runs before the boundary; whatever it does not take goes through the
    // checked path, which reports errors and catches panics.
    if unsafe { Handle::try_submit_fast(c, data, len) } {
        return mb_result::MB_OK;
    }
    submit_checked(c, data, len)
}

/// mb_collector_submit past its fast path. `extern "C"` like its caller, so
/// the caller reaches it with a jump (same convention, same arguments)
/// rather than a call.
#[inline(never)]
extern "C" fn submit_checked(c: *mut Handle, data: *const u8, len: usize) -> mb_result {
    guard(|| {
        // SAFETY: a non-null handle came from mb_collector_new (freed or not).
        let handle = unsafe { Handle::from_ptr(c) }?;
        handle.submit(bytes(data, len, "data")?)
    })
}

/// Submits `count` events packed in the frame format's own event encoding
/// (each a `uint32_t` little-endian length, then that many bytes; `len`
/// bytes at `data` hold exactly `count` events), fire-and-forget, in order,
/// as `count` calls of mb_collector_submit would, and stores in
/// `*accepted_out` how many were taken from the first. Events that fit the
/// open frame are copied as one run, so a block costs one call and about
/// one copy of its bytes. Returns MB_OK when all were taken; MB_ERR_FULL
/// when event `*accepted_out` found no room (after `submit.block.ms`; the
/// ones after it were not tried: submit them again); MB_ERR_CLOSED once the
/// collector has been freed (the events before `*accepted_out` were taken).
/// A block that does not parse as `count` events (MB_ERR_MALFORMED) or
/// holds an event above `event.max.bytes` (MB_ERR_TOO_LARGE) is refused
/// whole, with `*accepted_out` = 0. `data` may be NULL when `len` is 0.
#[no_mangle]
pub extern "C" fn mb_collector_submit_encoded(
    c: *mut Handle,
    data: *const u8,
    len: usize,
    count: usize,
    accepted_out: *mut usize,
) -> mb_result {
    guard(|| {
        let accepted_out = non_null_mut(accepted_out, "accepted_out")?;
        *accepted_out = 0;
        // SAFETY: as in mb_collector_submit.
        let handle = unsafe { Handle::from_ptr(c) }?;
        let (accepted, result) = handle.submit_encoded(bytes(data, len, "data")?, count);
        *accepted_out = accepted;
        result
    })
}

/// Submits one event like mb_collector_submit and returns in `*ticket_out` a
/// ticket (never 0) whose outcome arrives through mb_collector_poll_acks
/// (with `tracking.queue=true`), the ack callback, or mb_collector_wait_ack,
/// as the caller prefers. Nobody has to ask: the ticket's slot is free again
/// once its outcome is known and reported. Returns what mb_collector_submit
/// returns, and MB_ERR_TRACKING_FULL when all `tracking.slots` slots are in
/// use (nothing was taken).
#[no_mangle]
pub extern "C" fn mb_collector_submit_tracked(
    c: *mut Handle,
    data: *const u8,
    len: usize,
    ticket_out: *mut u64,
) -> mb_result {
    guard(|| {
        let ticket_out = non_null_mut(ticket_out, "ticket_out")?;
        // SAFETY: as in mb_collector_submit.
        let handle = unsafe { Handle::from_ptr(c) }?;
        *ticket_out = handle.submit_tracked(bytes(data, len, "data")?)?;
        Ok(())
    })
}

/// Waits until the sink has acknowledged the event of `ticket` (for Kafka:
/// the broker holds the record containing it). Returns MB_OK once it has,
/// MB_ERR_DELIVERY if its delivery failed, MB_ERR_TIMEOUT if neither is
/// known within `timeout_ms` (the ticket stays valid: wait again), and
/// MB_ERR_UNKNOWN_TICKET for a ticket never issued or expired (its outcome
/// was reported and its slot reused since; outcomes are kept until then).
/// Asking does not consume the answer: any number of threads may wait for
/// one ticket, and only they wake when it settles. A wait in progress when
/// the collector is freed still gets the true outcome; one that starts
/// after gets MB_ERR_CLOSED.
#[no_mangle]
pub extern "C" fn mb_collector_wait(c: *mut Handle, ticket: u64, timeout_ms: u32) -> mb_result {
    mb_collector_wait_ack(c, ticket, timeout_ms, std::ptr::null_mut())
}

/// Like mb_collector_wait, and on MB_OK fills `*out` (may be NULL) with
/// where the event landed: Kafka partition, record offset and the event's
/// index inside its frame (0 in record mode). (partition, offset, index)
/// identifies the event in Kafka.
#[no_mangle]
pub extern "C" fn mb_collector_wait_ack(c: *mut Handle, ticket: u64, timeout_ms: u32, out: *mut Ack) -> mb_result {
    guard(|| {
        // SAFETY: as in mb_collector_submit.
        let handle = unsafe { Handle::from_ptr(c) }?;
        let ack = handle.wait(ticket, Duration::from_millis(timeout_ms as u64))?;
        // SAFETY: a non-null `out` points to a writable mb_ack.
        if let Some(out) = unsafe { out.as_mut() } {
            *out = ack;
        }
        Ok(())
    })
}

/// Drains up to `max` outcomes of tracked events into `out` (the completion
/// queue, `tracking.queue=true`), waiting up to `timeout_ms` for the first,
/// and stores how many in `*count_out`. Each outcome is drained exactly
/// once, in the order it was learned; the drained events' tracking slots
/// are free again. Returns MB_OK (with `*count_out` = 0 if none came in
/// time), MB_ERR_CLOSED once the collector has been freed and every
/// outcome drained (keep draining through and after mb_collector_free to
/// collect them all), MB_ERR_INVALID_CONFIG when the queue is off.
/// One thread draining serves any number of submitting threads.
#[no_mangle]
pub extern "C" fn mb_collector_poll_acks(
    c: *mut Handle,
    out: *mut AckEvent,
    max: usize,
    count_out: *mut usize,
    timeout_ms: u32,
) -> mb_result {
    guard(|| {
        let count_out = non_null_mut(count_out, "count_out")?;
        *count_out = 0;
        let out: &mut [AckEvent] = if max == 0 {
            &mut []
        } else {
            let out = non_null_mut(out, "out")?;
            // A slice may not span more than isize::MAX bytes; no caller has
            // room for that many anyway.
            let max = max.min(isize::MAX as usize / std::mem::size_of::<AckEvent>());
            // SAFETY: the caller promises `max` writable mb_ack_event at `out`.
            unsafe { std::slice::from_raw_parts_mut(out, max) }
        };
        // SAFETY: as in mb_collector_submit.
        let handle = unsafe { Handle::from_ptr(c) }?;
        *count_out = handle.poll_acks(out, Duration::from_millis(timeout_ms as u64))?;
        Ok(())
    })
}

/// Flushes everything submitted before this call and waits until the sink
/// has reported all of it (delivered or failed); events submitted later,
/// even if reported first, never stand in for earlier ones. Returns
/// MB_ERR_TIMEOUT if that takes longer than `timeout_ms`.
#[no_mangle]
pub extern "C" fn mb_collector_flush(c: *mut Handle, timeout_ms: u32) -> mb_result {
    guard(|| {
        // SAFETY: as in mb_collector_submit.
        let handle = unsafe { Handle::from_ptr(c) }?;
        handle.flush(Duration::from_millis(timeout_ms as u64))
    })
}

/// Fills `*out` with a snapshot of the collector's counters and current
/// pressure level.
#[no_mangle]
pub extern "C" fn mb_collector_status(c: *const Handle, out: *mut Status) -> mb_result {
    guard(|| {
        let out = non_null_mut(out, "out")?;
        // SAFETY: as in mb_collector_submit.
        let handle = unsafe { Handle::from_ptr(c) }?;
        *out = handle.status()?;
        Ok(())
    })
}

/// Frees a collector: refuses new submits, waits for submits in progress,
/// flushes everything pending and stops its threads. Waits at most
/// `close.timeout.ms` for the sink, plus up to 0.5 s for the sink to report
/// what it gives up on: every event not delivered by then is counted failed
/// (tracked events answer MB_ERR_DELIVERY). NULL and an already freed
/// handle are ignored; calls on a freed handle return MB_ERR_CLOSED.
#[no_mangle]
pub extern "C" fn mb_collector_free(c: *mut Handle) {
    guard_void(|| {
        // SAFETY: as in mb_collector_submit.
        if let Ok(handle) = unsafe { Handle::from_ptr(c) } {
            if let Err(e) = handle.free() {
                set_last_error(e.message());
            }
        }
    })
}

/// Decodes a frame (see README for the format), calling `cb` for each event
/// in order. The whole frame is validated first: a malformed, truncated or
/// oversized frame returns MB_ERR_MALFORMED without calling `cb` at all.
/// `count_out` (may be NULL) receives the number of events delivered to `cb`.
#[no_mangle]
pub extern "C" fn mb_frame_decode(
    frame: *const u8,
    len: usize,
    cb: mb_event_cb,
    ctx: *mut c_void,
    count_out: *mut u32,
) -> mb_result {
    guard(|| {
        // SAFETY: a non-null `count_out` points to a writable uint32_t (the
        // C contract: "may be NULL").
        if let Some(out) = unsafe { count_out.as_mut() } {
            *out = 0;
        }
        let frame = bytes(frame, len, "frame")?;
        let cb = cb.ok_or_else(|| Error::new(mb_result::MB_ERR_NULL_ARG, "`cb` is NULL"))?;
        let mut delivered = 0u32;
        let mut stopped_with = 0;
        frame::for_each_event(frame, |event| {
            if stopped_with == 0 {
                // SAFETY: `event` is a live slice of the validated frame for
                // the whole call, as mb_event_cb documents; what the callback
                // does with it and `ctx` is the caller's contract.
                stopped_with = unsafe { cb(ctx, event.as_ptr(), event.len()) };
                if stopped_with == 0 {
                    delivered += 1;
                }
            }
        })?;
        // SAFETY: as above.
        if let Some(out) = unsafe { count_out.as_mut() } {
            *out = delivered;
        }
        if stopped_with != 0 {
            return Err(Error::new(
                mb_result::MB_ERR_DELIVERY,
                format!("event callback returned {stopped_with} after {delivered} events"),
            ));
        }
        Ok(())
    })
}

/// Writes what the calibration database at `path` holds as one JSON object
/// (NUL-terminated) into `buf`: per level the config a collector entering it
/// loads (`learned` false: the bootstrap), its expected score and p99, the
/// windows and configs recorded, regressions, demotions and the last
/// regression (ms since the epoch). `path` NULL means the default
/// `~/.reactive/calibration.db`. `*needed` (`needed` may be NULL) receives
/// the bytes the answer takes with its NUL; if `len` is smaller, nothing is
/// written and MB_ERR_TOO_LARGE is returned, so a caller can size `buf` with
/// a first call of `len` 0. A missing or unreadable database returns
/// MB_ERR_CALIBRATION. The file is only read, never created.
#[no_mangle]
pub extern "C" fn mb_calibration_status_json(
    path: *const c_char,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> mb_result {
    guard(|| {
        // SAFETY: a non-null `needed` points to a writable size_t.
        if let Some(n) = unsafe { needed.as_mut() } {
            *n = 0;
        }
        let path = if path.is_null() { crate::calibration::DEFAULT_PATH } else { c_str(path, "path")? };
        let json = crate::calibration::status::read(path)?.to_json();
        let size = json.len() + 1;
        // SAFETY: as above.
        if let Some(n) = unsafe { needed.as_mut() } {
            *n = size;
        }
        if len < size {
            return Err(Error::new(
                mb_result::MB_ERR_TOO_LARGE,
                format!("the calibration status takes {size} bytes, `len` is {len}"),
            ));
        }
        if buf.is_null() {
            return Err(Error::new(mb_result::MB_ERR_NULL_ARG, "`buf` is NULL"));
        }
        // SAFETY: the caller promises `len` >= `size` writable bytes at `buf`.
        unsafe {
            std::ptr::copy_nonoverlapping(json.as_ptr(), buf as *mut u8, json.len());
            *buf.add(json.len()) = 0;
        }
        Ok(())
    })
}

/// Copies this thread's last error message into `buf` (NUL-terminated,
/// truncated to `len` - 1 bytes) and returns the message's full length, so a
/// caller can size a buffer by calling with `buf` NULL and `len` 0.
#[no_mangle]
pub extern "C" fn mb_last_error(buf: *mut c_char, len: usize) -> usize {
    let mut full = 0;
    guard_void(|| {
        with_last_error(|message| {
            full = message.len();
            if buf.is_null() || len == 0 {
                return;
            }
            let n = message.len().min(len - 1);
            // SAFETY: the caller promises `len` writable bytes at `buf`.
            unsafe {
                std::ptr::copy_nonoverlapping(message.as_ptr(), buf as *mut u8, n);
                *buf.add(n) = 0;
            }
        })
    });
    full
}

/// The name of a result code, e.g. "MB_ERR_FULL"; "MB_UNKNOWN" for a value
/// outside the enum. The string is static.
#[no_mangle]
pub extern "C" fn mb_result_name(r: ResultCode) -> *const c_char {
    const UNKNOWN: &[u8] = b"MB_UNKNOWN\0";
    static NAMES: [&[u8]; 15] = [
        b"MB_OK\0",
        b"MB_ERR_NULL_ARG\0",
        b"MB_ERR_INVALID_CONFIG\0",
        b"MB_ERR_FULL\0",
        b"MB_ERR_TOO_LARGE\0",
        b"MB_ERR_CLOSED\0",
        b"MB_ERR_TIMEOUT\0",
        b"MB_ERR_DELIVERY\0",
        b"MB_ERR_KAFKA\0",
        b"MB_ERR_CALIBRATION\0",
        b"MB_ERR_MALFORMED\0",
        b"MB_ERR_PANIC\0",
        b"MB_ERR_INTERNAL\0",
        b"MB_ERR_UNKNOWN_TICKET\0",
        b"MB_ERR_TRACKING_FULL\0",
    ];
    NAMES.get(r as usize).copied().unwrap_or(UNKNOWN).as_ptr() as *const c_char
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn calibration_status_json_sizes_checks_and_fills() {
        use crate::calibration::{Calibration, Settings};
        let dir = std::env::temp_dir().join(format!("mb-calib-{}-ffi", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("c.db");
        drop(Calibration::open(&Settings { path: path.to_str().unwrap().into(), ..Settings::default() }, 1_000_000));
        let cpath = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        let mut needed = 0usize;
        let r = mb_calibration_status_json(cpath.as_ptr(), std::ptr::null_mut(), 0, &mut needed);
        assert_eq!(r, mb_result::MB_ERR_TOO_LARGE);
        assert!(needed > 100);
        let mut buf = vec![0x7Fu8; needed];
        let r = mb_calibration_status_json(cpath.as_ptr(), buf.as_mut_ptr() as *mut c_char, needed - 1, &mut needed);
        assert_eq!(r, mb_result::MB_ERR_TOO_LARGE);
        assert!(buf.iter().all(|&b| b == 0x7F), "nothing written when too small");
        let r = mb_calibration_status_json(cpath.as_ptr(), buf.as_mut_ptr() as *mut c_char, buf.len(), std::ptr::null_mut());
        assert_eq!(r, mb_result::MB_OK);
        let json = CStr::from_bytes_with_nul(&buf).unwrap().to_str().unwrap();
        assert!(json.starts_with("{\"path\":") && json.contains("\"L10_MAX\""), "{json}");
        let r = mb_calibration_status_json(cpath.as_ptr(), std::ptr::null_mut(), 4096, &mut needed);
        assert_eq!(r, mb_result::MB_ERR_NULL_ARG);
        let missing = std::ffi::CString::new(dir.join("none.db").to_str().unwrap()).unwrap();
        let r = mb_calibration_status_json(missing.as_ptr(), buf.as_mut_ptr() as *mut c_char, buf.len(), &mut needed);
        assert_eq!(r, mb_result::MB_ERR_CALIBRATION);
        assert_eq!(needed, 0);
        let mut msg = [0u8; 256];
        mb_last_error(msg.as_mut_ptr() as *mut c_char, msg.len());
        assert!(CStr::from_bytes_until_nul(&msg).unwrap().to_str().unwrap().contains("no calibration database"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn result_names_match_the_enum() {
        for code in mb_result::ALL {
            // SAFETY: mb_result_name returns a static NUL-terminated string
            // for every input.
            let name = unsafe { CStr::from_ptr(mb_result_name(code as u32)) };
            assert_eq!(name.to_str().unwrap(), code.name());
        }
        for outside in [15, 1000, u32::MAX] {
            // SAFETY: as above: "MB_UNKNOWN" is static too.
            let name = unsafe { CStr::from_ptr(mb_result_name(outside)) };
            assert_eq!(name.to_str().unwrap(), "MB_UNKNOWN");
        }
    }
}
