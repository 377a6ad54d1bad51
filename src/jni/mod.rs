//! The JNI bridge: the native methods of
//! `com.reactive.platform.gateway.microbatch.rust.NativeBridge`, a thin
//! layer over the same [`Handle`] the C ABI uses, so no logic lives here.
//!
//! Every entry point runs inside [`run`], which turns an error into a Java
//! exception from one table ([`throw`]: IllegalArgumentException for bad
//! arguments (a malformed packed block included) and configuration,
//! IllegalStateException for a closed
//! collector, `MicrobatchException` with the result code for the rest),
//! catches panics (`MicrobatchException` with `PANIC`), never throws over an
//! exception already pending, and returns a harmless default. Handles cross
//! as `long`s: a handle stays valid after it is freed (a husk that answers
//! "closed", see [`crate::handle`]), so a Java caller racing `close` with
//! other calls gets IllegalStateException, never a crash. Whole batches
//! cross in one call (`submitStaged`, `submitPacked`, `submitBatch`,
//! `submitTrackedBatch`, `pollAcks`). The Java collector's submits write
//! their events into the calling thread's staging block (native memory it
//! sees as a direct buffer, [`Staging`]) and cross with primitives only, so
//! a crossing costs no JNI function call, per event or per block.

mod sink;

use crate::config::Config;
use crate::error::{Code, Error, Result};
use crate::handle::Handle;
use crate::tracking::AckEvent;
use jni::objects::{JByteArray, JByteBuffer, JClass, JLongArray, JObject, JObjectArray, JString, JValue};
use jni::sys::{jboolean, jint, jlong, jsize, JNI_FALSE, JNI_TRUE};
use jni::JNIEnv;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

/// The Java exception class for results that are neither bad arguments nor
/// a closed collector; built by its static `fromCode(int, String)`.
const MICROBATCH_EXCEPTION: &str = "com/reactive/platform/gateway/microbatch/MicrobatchException";

/// Runs one native method: `f`'s error or panic becomes a Java exception
/// and the method returns `default`.
fn run<'local, T>(env: &mut JNIEnv<'local>, default: T, f: impl FnOnce(&mut JNIEnv<'local>) -> Result<T>) -> T {
    match catch_unwind(AssertUnwindSafe(|| f(env))) {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => {
            throw(env, &error);
            default
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            throw(env, &Error::new(Code::MB_ERR_PANIC, format!("panic in the native library: {what}")));
            default
        }
    }
}

/// The one error-to-exception table. Throws nothing if an exception is
/// already pending (a JNI call failed with a Java exception: that one is
/// the truth and stays).
fn throw(env: &mut JNIEnv<'_>, error: &Error) {
    if env.exception_check().unwrap_or(true) {
        return;
    }
    let message = error.message();
    let class = match error.code() {
        Code::MB_ERR_INVALID_CONFIG | Code::MB_ERR_NULL_ARG | Code::MB_ERR_TOO_LARGE | Code::MB_ERR_MALFORMED => {
            Some("java/lang/IllegalArgumentException")
        }
        Code::MB_ERR_CLOSED => Some("java/lang/IllegalStateException"),
        _ => None,
    };
    if let Some(class) = class {
        let _ = env.throw_new(class, message);
        return;
    }
    let thrown = (|| -> jni::errors::Result<()> {
        let text = env.new_string(message)?;
        let exception = env
            .call_static_method(
                MICROBATCH_EXCEPTION,
                "fromCode",
                "(ILjava/lang/String;)Lcom/reactive/platform/gateway/microbatch/MicrobatchException;",
                &[JValue::Int(error.code() as jint), JValue::Object(&text)],
            )?
            .l()?;
        env.throw(jni::objects::JThrowable::from(exception))
    })();
    if thrown.is_err() && !env.exception_check().unwrap_or(true) {
        // The class is missing or broken: still tell the caller something.
        let _ = env.throw_new("java/lang/RuntimeException", format!("{}: {message}", error.code().name()));
    }
}

/// A JNI failure as our error. A pending Java exception (say, an
/// ArrayIndexOutOfBoundsException) is left to propagate: [`throw`] sees it.
fn jni_error(e: jni::errors::Error) -> Error {
    match e {
        jni::errors::Error::NullPtr(what) => Error::new(Code::MB_ERR_NULL_ARG, format!("{what} is null")),
        other => Error::new(Code::MB_ERR_INTERNAL, format!("JNI call failed: {other}")),
    }
}

/// The handle behind a Java `long`.
fn handle<'a>(h: jlong) -> Result<&'a Handle> {
    // SAFETY: the Java side passes only values it got from `create` (the
    // field is private to NativeBridge's owner); a freed handle is a valid
    // husk, and 0 is refused.
    unsafe { Handle::from_ptr(h as usize as *const Handle) }.map_err(|e| match e.code() {
        Code::MB_ERR_NULL_ARG => Error::closed(),
        _ => e,
    })
}

thread_local! {
    /// Where an event's bytes are copied out of its Java array before the
    /// submit (which may wait for room; a JNI critical section may not).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Copies `array` out of the JVM and runs `f` on the bytes.
fn with_bytes<R>(env: &mut JNIEnv<'_>, array: &JByteArray<'_>, what: &str, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
    SCRATCH.with(|scratch| copy_out(env, array, what, &mut scratch.borrow_mut()).map(f))
}

/// Copies the bytes of `array` into `buf` (grown as needed) and returns
/// them. The hot part of every submit: two calls through the JNI function
/// table, without the wrapper's exception checks, which cannot fire here.
fn copy_out<'b>(env: &mut JNIEnv<'_>, array: &JByteArray<'_>, what: &str, buf: &'b mut Vec<u8>) -> Result<&'b [u8]> {
    if array.is_null() {
        return Err(Error::new(Code::MB_ERR_NULL_ARG, format!("{what} is null")));
    }
    let raw = env.get_raw();
    // SAFETY: `raw` is this thread's JNIEnv (we are inside a native call on
    // it) and `array` a live, non-null local reference to a byte[]: both
    // calls are defined for it. The region [0, len) is the whole array, so
    // GetByteArrayRegion cannot raise ArrayIndexOutOfBoundsException.
    unsafe {
        let functions = &**raw;
        let (Some(length_of), Some(copy_region)) = (functions.GetArrayLength, functions.GetByteArrayRegion) else {
            return Err(Error::new(Code::MB_ERR_INTERNAL, "the JVM's JNI function table lacks GetByteArrayRegion"));
        };
        let len = length_of(raw, array.as_raw()).max(0) as usize;
        if buf.len() < len {
            buf.resize(len, 0);
        }
        copy_region(raw, array.as_raw(), 0, len as jsize, buf.as_mut_ptr() as *mut i8);
        Ok(&buf[..len])
    }
}

/// Checks `offset` and `count` against an array of `len`.
fn range(offset: jint, count: jint, len: jsize) -> Result<(jsize, jsize)> {
    if offset < 0 || count < 0 || offset.checked_add(count).map_or(true, |end| end > len) {
        return Err(Error::new(
            Code::MB_ERR_NULL_ARG,
            format!("offset {offset} and count {count} do not fit an array of {len}"),
        ));
    }
    Ok((offset, count))
}

/// `long create(String[] keys, String[] values, BatchSink sink)`: a collector
/// from configuration pairs; `sink` (may be null) receives frames instead of
/// the configured sink. The completion queue is always on: the Java
/// collector drains it to complete futures.
#[no_mangle]
pub extern "system" fn Java_com_reactive_platform_gateway_microbatch_rust_NativeBridge_create<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    keys: JObjectArray<'l>,
    values: JObjectArray<'l>,
    sink: JObject<'l>,
) -> jlong {
    run(&mut env, 0, |env| {
        if keys.is_null() || values.is_null() {
            return Err(Error::new(Code::MB_ERR_NULL_ARG, "config keys and values must not be null"));
        }
        let n = env.get_array_length(&keys).map_err(jni_error)?;
        if env.get_array_length(&values).map_err(jni_error)? != n {
            return Err(Error::new(Code::MB_ERR_NULL_ARG, "config keys and values differ in length"));
        }
        let mut config = Config::default();
        for i in 0..n {
            let key = string_at(env, &keys, i)?;
            let value = string_at(env, &values, i)?;
            config.set(&key, &value)?;
        }
        config.set("tracking.queue", "true")?;
        if !sink.is_null() {
            config.set_sink(std::sync::Arc::new(sink::JavaSink::new(env, &sink)?));
        }
        Ok(Handle::create(&config)? as *const Handle as usize as jlong)
    })
}

fn string_at(env: &mut JNIEnv<'_>, array: &JObjectArray<'_>, i: jsize) -> Result<String> {
    let element = env.get_object_array_element(array, i).map_err(jni_error)?;
    if element.is_null() {
        return Err(Error::new(Code::MB_ERR_NULL_ARG, format!("config entry {i} is null")));
    }
    let text = JString::from(element);
    let value: String = env.get_string(&text).map_err(jni_error)?.into();
    let _ = env.delete_local_ref(text);
    Ok(value)
}

/// A fire-and-forget submit's outcome as Java sees it: accepted (true),
/// refused for lack of room (false, not an exception), or an error.
fn accepted(submitted: Result<()>) -> Result<bool> {
    match submitted {
        Ok(()) => Ok(true),
        Err(e) if e.code() == Code::MB_ERR_FULL => Ok(false),
        Err(e) => Err(e),
    }
}

/// `boolean submit(long handle, byte[] event)`: true when accepted, false
/// when refused for lack of room (after `submit.block.ms`).
#[no_mangle]
pub extern "system" fn Java_com_reactive_platform_gateway_microbatch_rust_NativeBridge_submit<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    event: JByteArray<'l>,
) -> jboolean {
    run(&mut env, JNI_FALSE, |env| {
        let handle = handle(h)?;
        let accepted = with_bytes(env, &event, "event", |bytes| accepted(handle.submit(bytes)))??;
        Ok(if accepted { JNI_TRUE } else { JNI_FALSE })
    })
}

/// `int submitBatch(long handle, byte[][] events, int offset, int count)`:
/// submits `events[offset..offset+count)` in order until one is refused for
/// lack of room; returns how many were accepted. A null element or one too
/// large throws (after the ones before it were accepted; the Java side
/// checks them first).
#[no_mangle]
pub extern "system" fn Java_com_reactive_platform_gateway_microbatch_rust_NativeBridge_submitBatch<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    events: JObjectArray<'l>,
    offset: jint,
    count: jint,
) -> jint {
    run(&mut env, 0, |env| {
        let handle = handle(h)?;
        for_each_event(env, &events, offset, count, |bytes| accepted(handle.submit(bytes)))
    })
}

/// `int submitPacked(long handle, ByteBuffer packed, int bytes, int count)`:
/// submits the `count` events packed in the first `bytes` bytes of the
/// direct buffer `packed`, in the frame format's event encoding (each a u32
/// little-endian length, then the bytes), in order until one is refused for
/// lack of room; returns how many were accepted. One crossing and about one
/// copy per block ([`Handle::submit_encoded`]). A heap buffer, a capacity
/// under `bytes`, negative sizes, or a block that is not `count` events
/// throw IllegalArgumentException with nothing submitted.
#[no_mangle]
pub extern "system" fn Java_com_reactive_platform_gateway_microbatch_rust_NativeBridge_submitPacked<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    packed: JByteBuffer<'l>,
    bytes: jint,
    count: jint,
) -> jint {
    run(&mut env, 0, |env| {
        let handle = handle(h)?;
        let block = direct_bytes(env, &packed, bytes)?;
        submit_block(handle, block, count)
    })
}

/// Bytes of each Java submitting thread's staging block ([`Staging`]).
const STAGING_BYTES: usize = 64 * 1024;

/// A Java submitting thread's staging block: native memory the thread's
/// Java side sees as a direct `ByteBuffer` (`stagingBuffer`) and writes
/// events into, so that `submitStaged` and `submitStagedEvent` cross with
/// primitives only and read the events without a single JNI function call
/// (each of which, GetByteArrayRegion or GetDirectBufferAddress, is a trip
/// into the VM with a fence). Owned by the native thread: freed when it
/// ends, and only ever read by native calls made on that same thread,
/// during which its Java side is not running and so not writing. Hence
/// for platform threads only: a Java virtual thread runs on whichever
/// carrier is free, so the Java side gives virtual threads no block (they
/// cross with arrays).
struct Staging {
    block: *mut u8,
}

impl Staging {
    fn new() -> Staging {
        Staging { block: Box::into_raw(vec![0u8; STAGING_BYTES].into_boxed_slice()) as *mut u8 }
    }

    /// The first `bytes` bytes, checked against the block's size.
    fn first(&self, bytes: jint) -> Result<&[u8]> {
        if bytes < 0 || bytes as usize > STAGING_BYTES {
            return Err(Error::new(
                Code::MB_ERR_NULL_ARG,
                format!("{bytes} staged bytes do not fit the staging block of {STAGING_BYTES}"),
            ));
        }
        // SAFETY: `block` holds STAGING_BYTES initialised bytes for the
        // thread's life and `bytes` is within them; see the type's docs for
        // why nothing writes them while the slice lives (the call's span).
        Ok(unsafe { std::slice::from_raw_parts(self.block, bytes as usize) })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // SAFETY: `block` came from Box::into_raw of a boxed slice of exactly
        // STAGING_BYTES bytes and is freed once, here, at the thread's end.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.block, STAGING_BYTES)) });
    }
}

thread_local! {
    static STAGING: Staging = Staging::new();
}

/// Runs `f` on the first `bytes` bytes of this thread's staging block.
fn with_staged<R>(bytes: jint, f: impl FnOnce(&[u8]) -> Result<R>) -> Result<R> {
    STAGING
        .try_with(|staging| staging.first(bytes).and_then(f))
        .unwrap_or_else(|_| Err(Error::new(Code::MB_ERR_INTERNAL, "the thread's staging block is gone (thread exiting)")))
}

/// `ByteBuffer stagingBuffer()`: a direct buffer over the calling thread's
/// staging block, to keep in a Java ThreadLocal of that same platform
/// thread and never hand to another (the block is freed when the thread
/// ends).
#[no_mangle]
pub extern "system" fn Java_com_reactive_platform_gateway_microbatch_rust_NativeBridge_stagingBuffer<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
) -> jni::sys::jobject {
    run(&mut env, std::ptr::null_mut(), |env| {
        let block = STAGING
            .try_with(|staging| staging.block)
            .map_err(|_| Error::new(Code::MB_ERR_INTERNAL, "the thread's staging block is gone (thread exiting)"))?;
        // SAFETY: the block is STAGING_BYTES bytes, valid until this thread
        // ends; the Java side keeps the buffer in this thread's ThreadLocal,
        // which no other thread reads and which ends with the thread.
        let buffer = unsafe { env.new_direct_byte_buffer(block, STAGING_BYTES) }.map_err(jni_error)?;
        Ok(buffer.into_raw())
    })
}

/// `boolean submitStagedEvent(long handle, int bytes)`: submits the first
/// `bytes` bytes of the calling thread's staging block as one event; true
/// when accepted, false when refused for lack of room. The single submit's
/// path: one crossing with primitives and the ring's own copy.
#[no_mangle]
pub extern "system" fn Java_com_reactive_platform_gateway_microbatch_rust_NativeBridge_submitStagedEvent<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    bytes: jint,
) -> jboolean {
    run(&mut env, JNI_FALSE, |_| {
        let handle = handle(h)?;
        let accepted = with_staged(bytes, |event| accepted(handle.submit(event)))?;
        Ok(if accepted { JNI_TRUE } else { JNI_FALSE })
    })
}

/// `int submitStaged(long handle, int bytes, int count)`: `submitPacked`
/// over the first `bytes` bytes of the calling thread's staging block: the
/// batch submit's path, one crossing with primitives per block.
#[no_mangle]
pub extern "system" fn Java_com_reactive_platform_gateway_microbatch_rust_NativeBridge_submitStaged<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    bytes: jint,
    count: jint,
) -> jint {
    run(&mut env, 0, |_| {
        let handle = handle(h)?;
        with_staged(bytes, |block| submit_block(handle, block, count))
    })
}

/// Submits the `count` encoded events of `block` until one is refused for
/// room; how many were accepted.
fn submit_block(handle: &Handle, block: &[u8], count: jint) -> Result<jint> {
    if count < 0 {
        return Err(Error::new(Code::MB_ERR_NULL_ARG, format!("count {count} is negative")));
    }
    match handle.submit_encoded(block, count as usize) {
        (accepted, Ok(())) => Ok(accepted as jint),
        (accepted, Err(e)) if e.code() == Code::MB_ERR_FULL => Ok(accepted as jint),
        (_, Err(e)) => Err(e),
    }
}

/// The first `bytes` bytes of the direct buffer `buffer`, checked against
/// its capacity. Two calls through the JNI function table, without the
/// wrapper's exception checks, which cannot fire here.
fn direct_bytes<'b>(env: &mut JNIEnv<'_>, buffer: &JByteBuffer<'_>, bytes: jint) -> Result<&'b [u8]> {
    if buffer.is_null() {
        return Err(Error::new(Code::MB_ERR_NULL_ARG, "the packed buffer is null"));
    }
    let raw = env.get_raw();
    // SAFETY: this thread's JNIEnv, inside a native call on it; `buffer` is a
    // live non-null local reference. Both functions answer NULL / -1 for a
    // buffer that is not direct, and raise nothing.
    let (address, capacity) = unsafe {
        let functions = &**raw;
        let (Some(address_of), Some(capacity_of)) = (functions.GetDirectBufferAddress, functions.GetDirectBufferCapacity)
        else {
            return Err(Error::new(Code::MB_ERR_INTERNAL, "the JVM's JNI function table lacks GetDirectBufferAddress"));
        };
        (address_of(raw, buffer.as_raw()) as *const u8, capacity_of(raw, buffer.as_raw()))
    };
    if address.is_null() || capacity < 0 {
        return Err(Error::new(Code::MB_ERR_NULL_ARG, "the packed buffer must be a direct ByteBuffer"));
    }
    if bytes < 0 || bytes as i64 > capacity {
        return Err(Error::new(
            Code::MB_ERR_NULL_ARG,
            format!("{bytes} packed bytes do not fit a buffer of capacity {capacity}"),
        ));
    }
    // SAFETY: a direct buffer holds `capacity` bytes at `address`, and
    // `bytes` is within it; the Java caller does not write the buffer during
    // the call (it is the calling thread's own), and the slice does not
    // outlive the call.
    Ok(unsafe { std::slice::from_raw_parts(address, bytes as usize) })
}

/// Runs `f` on the bytes of `events[offset..offset+count)` in order while
/// it returns true; returns how many it accepted. One local reference at a
/// time, one scratch buffer for the batch.
fn for_each_event<'l>(
    env: &mut JNIEnv<'l>,
    events: &JObjectArray<'l>,
    offset: jint,
    count: jint,
    mut f: impl FnMut(&[u8]) -> Result<bool>,
) -> Result<jint> {
    if events.is_null() {
        return Err(Error::new(Code::MB_ERR_NULL_ARG, "events is null"));
    }
    let len = env.get_array_length(events).map_err(jni_error)?;
    let (offset, count) = range(offset, count, len)?;
    let raw = env.get_raw();
    // SAFETY: this thread's JNIEnv, inside a native call on it.
    let functions = unsafe { &**raw };
    let (Some(element_at), Some(delete_local)) = (functions.GetObjectArrayElement, functions.DeleteLocalRef) else {
        return Err(Error::new(Code::MB_ERR_INTERNAL, "the JVM's JNI function table lacks GetObjectArrayElement"));
    };
    SCRATCH.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        for i in 0..count {
            // SAFETY: `events` is a live non-null Object[] and `offset + i` is
            // inside it (checked by `range`), so no exception can be raised;
            // the local reference is deleted below, so a batch of any size
            // holds one at a time.
            let event = unsafe { JByteArray::from_raw(element_at(raw, events.as_raw(), offset + i)) };
            let taken = copy_out(env, &event, "an event", &mut buf).and_then(&mut f);
            // SAFETY: `event` is the local reference made above (or null,
            // which DeleteLocalRef accepts).
            unsafe { delete_local(raw, event.into_raw()) };
            if !taken? {
                return Ok(i);
            }
        }
        Ok(count)
    })
}

/// `long submitTracked(long handle, byte[] event)`: the event's ticket (> 0),
/// or the negated result code when it was refused for lack of room
/// (`-MB_ERR_FULL`) or of a tracking slot (`-MB_ERR_TRACKING_FULL`).
#[no_mangle]
pub extern "system" fn Java_com_reactive_platform_gateway_microbatch_rust_NativeBridge_submitTracked<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    event: JByteArray<'l>,
) -> jlong {
    run(&mut env, 0, |env| {
        let handle = handle(h)?;
        refused_as_negative(with_bytes(env, &event, "event", |bytes| handle.submit_tracked(bytes))?)
    })
}

/// `long submitTrackedStaged(long handle, int bytes)`: `submitTracked` of
/// the first `bytes` bytes of the calling thread's staging block.
#[no_mangle]
pub extern "system" fn Java_com_reactive_platform_gateway_microbatch_rust_NativeBridge_submitTrackedStaged<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    bytes: jint,
) -> jlong {
    run(&mut env, 0, |_| {
        let handle = handle(h)?;
        with_staged(bytes, |event| refused_as_negative(handle.submit_tracked(event)))
    })
}

fn refused_as_negative(submitted: Result<u64>) -> Result<jlong> {
    match submitted {
        Ok(ticket) => Ok(ticket as jlong),
        Err(e) if matches!(e.code(), Code::MB_ERR_FULL | Code::MB_ERR_TRACKING_FULL) => Ok(-(e.code() as jlong)),
        Err(e) => Err(e),
    }
}

/// `int submitTrackedBatch(long handle, byte[][] events, int offset, int
/// count, long[] tickets)`: like submitBatch, writing each accepted event's
/// ticket to `tickets[0..]`; returns how many were accepted. When one is
/// refused, `tickets[accepted]` holds the negated code (as submitTracked).
#[no_mangle]
pub extern "system" fn Java_com_reactive_platform_gateway_microbatch_rust_NativeBridge_submitTrackedBatch<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    events: JObjectArray<'l>,
    offset: jint,
    count: jint,
    tickets: JLongArray<'l>,
) -> jint {
    run(&mut env, 0, |env| {
        let handle = handle(h)?;
        if tickets.is_null() {
            return Err(Error::new(Code::MB_ERR_NULL_ARG, "tickets is null"));
        }
        if env.get_array_length(&tickets).map_err(jni_error)? < count.max(0) {
            return Err(Error::new(Code::MB_ERR_NULL_ARG, format!("tickets holds fewer than {count} entries")));
        }
        let mut issued: Vec<jlong> = Vec::with_capacity(count.max(0) as usize);
        let accepted = for_each_event(env, &events, offset, count, |bytes| {
            let ticket = refused_as_negative(handle.submit_tracked(bytes))?;
            issued.push(ticket);
            Ok(ticket > 0)
        });
        // Written also when a later event failed: those before it hold slots.
        env.set_long_array_region(&tickets, 0, &issued).map_err(jni_error)?;
        accepted
    })
}

/// `int pollAcks(long handle, ByteBuffer out, int timeoutMs)`: drains
/// outcomes into the direct buffer `out` as packed `mb_ack_event` records
/// (32 bytes each, native byte order: ticket i64, result i32, partition i32,
/// offset i64, index i32, reserved i32), as many as fit; waits up to
/// `timeoutMs` for the first. Returns how many, 0 on timeout, -1 once the
/// collector is closed and every outcome has been drained.
#[no_mangle]
pub extern "system" fn Java_com_reactive_platform_gateway_microbatch_rust_NativeBridge_pollAcks<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    out: JByteBuffer<'l>,
    timeout_ms: jint,
) -> jint {
    run(&mut env, 0, |env| {
        let handle = handle(h)?;
        if out.is_null() {
            return Err(Error::new(Code::MB_ERR_NULL_ARG, "the ack buffer is null"));
        }
        let address = env.get_direct_buffer_address(&out).map_err(|_| {
            Error::new(Code::MB_ERR_NULL_ARG, "the ack buffer must be a direct ByteBuffer")
        })?;
        let capacity = env.get_direct_buffer_capacity(&out).map_err(jni_error)?;
        let max = capacity / std::mem::size_of::<AckEvent>();
        if max == 0 || address as usize % std::mem::align_of::<AckEvent>() != 0 {
            return Err(Error::new(Code::MB_ERR_NULL_ARG, "the ack buffer must hold an aligned 32-byte record"));
        }
        // SAFETY: a direct buffer of `capacity` bytes at an address checked
        // for alignment; the Java side does not touch it during the call.
        let records = unsafe { std::slice::from_raw_parts_mut(address as *mut AckEvent, max) };
        match handle.poll_acks(records, Duration::from_millis(timeout_ms.max(0) as u64)) {
            Ok(n) => Ok(n as jint),
            Err(e) if e.code() == Code::MB_ERR_CLOSED => Ok(-1),
            Err(e) => Err(e),
        }
    })
}

/// `void flush(long handle, long timeoutMs)`: everything submitted before
/// the call is delivered or failed; MicrobatchException(TIMEOUT) otherwise.
#[no_mangle]
pub extern "system" fn Java_com_reactive_platform_gateway_microbatch_rust_NativeBridge_flush<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    timeout_ms: jlong,
) {
    run(&mut env, (), |_| handle(h)?.flush(Duration::from_millis(timeout_ms.max(0) as u64)))
}

/// `void status(long handle, long[] out)`: the status fields in the order of
/// [`STATUS_FIELDS`] (doubles as their raw bits).
#[no_mangle]
pub extern "system" fn Java_com_reactive_platform_gateway_microbatch_rust_NativeBridge_status<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    out: JLongArray<'l>,
) {
    run(&mut env, (), |env| {
        let status = handle(h)?.status()?;
        let fields = status_fields(&status);
        if out.is_null() || env.get_array_length(&out).map_err(jni_error)? < fields.len() as jsize {
            return Err(Error::new(Code::MB_ERR_NULL_ARG, format!("status needs a long[{}]", fields.len())));
        }
        env.set_long_array_region(&out, 0, &fields).map_err(jni_error)
    })
}

/// The names of the status fields `status` writes, in order; the Java side
/// reads them by position (`NativeBridge.STATUS_FIELDS` must match).
#[allow(dead_code)] // the contract with NativeBridge.STATUS_FIELDS; checked by a test
pub const STATUS_FIELDS: &[&str] = &[
    "submitted",
    "rejected",
    "delivered",
    "failed",
    "pending",
    "flushed_batches",
    "level",
    "batch_events",
    "interval_us",
    "rate_per_sec_bits",
    "sink_errors",
    "tracking_in_use",
    "tracking_high_water",
    "latency_p50_us",
    "latency_p99_us",
    "latency_p999_us",
    "latency_max_us",
    "regressions",
    "calibration_errors",
    "calibration_windows",
    "idle_flush",
    "calibration_persistent",
];

fn status_fields(s: &crate::collector::Status) -> Vec<jlong> {
    vec![
        s.submitted as jlong,
        s.rejected as jlong,
        s.delivered as jlong,
        s.failed as jlong,
        s.pending as jlong,
        s.flushed_batches as jlong,
        s.level as jlong,
        s.batch_events as jlong,
        s.interval_us as jlong,
        s.rate_per_sec.to_bits() as jlong,
        s.sink_errors as jlong,
        s.tracking_in_use as jlong,
        s.tracking_high_water as jlong,
        s.latency_p50_us as jlong,
        s.latency_p99_us as jlong,
        s.latency_p999_us as jlong,
        s.latency_max_us as jlong,
        s.regressions as jlong,
        s.calibration_errors as jlong,
        s.calibration_windows as jlong,
        s.idle_flush as jlong,
        s.calibration_persistent as jlong,
    ]
}

/// `void close(long handle, long[] finalStatus)`: drains and flushes (as
/// mb_collector_free) and stops the flush threads; then writes the status
/// the collector ended with into `finalStatus` (may be null), since a freed
/// handle has no status to ask for. Idempotent: a second close, also one
/// racing the first, returns at once and leaves `finalStatus` untouched.
/// The completion queue can still be drained.
#[no_mangle]
pub extern "system" fn Java_com_reactive_platform_gateway_microbatch_rust_NativeBridge_close<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
    h: jlong,
    final_status: JLongArray<'l>,
) {
    run(&mut env, (), |env| {
        let handle = handle(h)?;
        if !final_status.is_null()
            && env.get_array_length(&final_status).map_err(jni_error)? < STATUS_FIELDS.len() as jsize
        {
            return Err(Error::new(Code::MB_ERR_NULL_ARG, format!("close needs a long[{}] or null", STATUS_FIELDS.len())));
        }
        let Some(_closing) = Closing::begin(h) else { return Ok(()) };
        let collector = match handle.with(|c| c as *const crate::collector::Collector) {
            Ok(collector) => collector,
            Err(e) if e.code() == Code::MB_ERR_CLOSED => return Ok(()),
            Err(e) => return Err(e),
        };
        // SAFETY: only `free` below drops the collector, and no other close of
        // this handle runs meanwhile (`Closing`); closing first and freeing
        // after is what `free` does itself (Collector::close is idempotent),
        // with the status read in between.
        let closed = unsafe { &*collector }.close();
        // SAFETY: as above: `free` has not run yet.
        let status = unsafe { &*collector }.status();
        let freed = handle.free();
        if !final_status.is_null() {
            env.set_long_array_region(&final_status, 0, &status_fields(&status)).map_err(jni_error)?;
        }
        closed.and(freed)
    })
}

/// The handles being closed: a close that finds its handle here returns,
/// so two racing closes never both hold the collector they free.
static CLOSING: std::sync::Mutex<Vec<jlong>> = std::sync::Mutex::new(Vec::new());

struct Closing(jlong);

impl Closing {
    fn begin(h: jlong) -> Option<Closing> {
        let mut closing = CLOSING.lock().unwrap_or_else(|e| e.into_inner());
        if closing.contains(&h) {
            return None;
        }
        closing.push(h);
        Some(Closing(h))
    }
}

impl Drop for Closing {
    fn drop(&mut self) {
        CLOSING.lock().unwrap_or_else(|e| e.into_inner()).retain(|&h| h != self.0);
    }
}

/// `String[] configKeys()`: the configuration keys the native collector
/// knows (besides `kafka.<property>`), so the Java side forwards exactly
/// those and handles the rest itself.
#[no_mangle]
pub extern "system" fn Java_com_reactive_platform_gateway_microbatch_rust_NativeBridge_configKeys<'l>(
    mut env: JNIEnv<'l>,
    _class: JClass<'l>,
) -> jni::sys::jobjectArray {
    run(&mut env, std::ptr::null_mut(), |env| {
        let keys = crate::config::KEYS;
        let array = env
            .new_object_array(keys.len() as jsize, "java/lang/String", JObject::null())
            .map_err(jni_error)?;
        for (i, key) in keys.iter().enumerate() {
            let name = env.new_string(key.name).map_err(jni_error)?;
            env.set_object_array_element(&array, i as jsize, &name).map_err(jni_error)?;
            let _ = env.delete_local_ref(name);
        }
        Ok(array.into_raw())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_checked_without_overflow() {
        assert!(range(0, 0, 0).is_ok());
        assert!(range(2, 3, 5).is_ok());
        for (offset, count, len) in [(-1, 1, 5), (0, -1, 5), (4, 2, 5), (i32::MAX, 1, 5), (1, i32::MAX, 5)] {
            let e = range(offset, count, len).unwrap_err();
            assert_eq!(e.code(), Code::MB_ERR_NULL_ARG, "{offset} {count} {len}");
        }
    }

    #[test]
    fn status_fields_match_their_names() {
        let s = crate::collector::Status::default();
        assert_eq!(status_fields(&s).len(), STATUS_FIELDS.len());
    }
}
