//! A sink that hands each frame to a C function pointer.

use super::{Completion, Sink};
use crate::error::{Code, Error};
use std::ffi::c_void;

/// Receives each encoded frame. Returns 0 when the frame was taken; any other
/// value marks the frame's events failed. Called from the collector's flush
/// threads, possibly from several at once.
#[allow(non_camel_case_types)]
pub type mb_frame_cb =
    Option<unsafe extern "C" fn(ctx: *mut c_void, frame: *const u8, len: usize, event_count: u32) -> i32>;

/// A C callback and its context pointer.
///
/// The sink calls `cb` from safe code, so a `FrameCallback` is made only
/// through the `unsafe` [`FrameCallback::new`]; a struct literal outside
/// this module does not compile:
///
/// ```compile_fail,E0451
/// use microbatch::sink::FrameCallback;
/// unsafe extern "C" fn cb(_: *mut std::ffi::c_void, _: *const u8, _: usize, _: u32) -> i32 { 0 }
/// let callback = FrameCallback { cb, ctx: std::ptr::null_mut() };
/// ```
#[derive(Clone, Copy)]
pub struct FrameCallback {
    cb: unsafe extern "C" fn(*mut c_void, *const u8, usize, u32) -> i32,
    ctx: *mut c_void,
}

impl FrameCallback {
    /// The callback `cb`, to be called with `ctx`.
    ///
    /// # Safety
    /// `cb` must be sound to call with `ctx` and any frame (a pointer and
    /// length valid only during the call, and its event count), from any
    /// flush thread, several at once, for as long as a collector using it
    /// runs: the contract mb_config_set_frame_callback states to C callers.
    pub unsafe fn new(cb: unsafe extern "C" fn(*mut c_void, *const u8, usize, u32) -> i32, ctx: *mut c_void) -> Self {
        FrameCallback { cb, ctx }
    }
}

// SAFETY: whoever made it promised (FrameCallback::new) that the callback
// may run on any flush thread with `ctx`; Rust never dereferences `ctx`.
unsafe impl Send for FrameCallback {}
// SAFETY: as for Send: the same promise covers several flush threads
// calling it at once with the same `ctx`.
unsafe impl Sync for FrameCallback {}

pub struct CallbackSink {
    callback: FrameCallback,
}

impl CallbackSink {
    pub fn new(callback: FrameCallback) -> Self {
        CallbackSink { callback }
    }
}

impl Sink for CallbackSink {
    fn send(&self, frame: &[u8], events: u32, completion: Completion) {
        // SAFETY: `frame` is a live slice for the whole call, so the pointer
        // and length describe readable bytes; what the callback does with
        // them and with `ctx` is what its maker promised (FrameCallback::new:
        // thread-safe, the frame valid only during the call).
        let rc = unsafe { (self.callback.cb)(self.callback.ctx, frame.as_ptr(), frame.len(), events) };
        if rc == 0 {
            completion.delivered();
        } else {
            completion.failed(Error::new(Code::MB_ERR_DELIVERY, format!("frame callback returned {rc}")));
        }
    }

    fn name(&self) -> &'static str {
        "callback"
    }
}
