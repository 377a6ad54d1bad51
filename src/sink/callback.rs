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
#[derive(Clone, Copy)]
pub struct FrameCallback {
    pub cb: unsafe extern "C" fn(*mut c_void, *const u8, usize, u32) -> i32,
    pub ctx: *mut c_void,
}

// SAFETY: the C API documents that the callback may run on any flush thread
// and that `ctx` must tolerate that; Rust never dereferences `ctx`.
unsafe impl Send for FrameCallback {}
// SAFETY: as for Send: the C API documents that several flush threads may
// call the callback at once with the same `ctx`.
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
        // them and with `ctx` is the contract its registrant accepted (see
        // mb_config_set_frame_callback: thread-safe, the frame valid only
        // during the call).
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
