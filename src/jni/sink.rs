//! A sink that hands each frame to a Java `BatchSink`
//! (`void accept(ByteBuffer frame, int eventCount) throws Exception`), for
//! `MicrobatchCollector.create(BatchSink, BatchCalibration)` on the Rust
//! implementation.

use super::jni_error;
use crate::error::{Code, Error, Result};
use crate::sink::{Completion, Sink};
use jni::objects::{GlobalRef, JObject, JValue};
use jni::{JNIEnv, JavaVM};
use std::sync::Mutex;

pub struct JavaSink {
    vm: JavaVM,
    sink: GlobalRef,
    /// Frames `accept` failed, and the last reason: the sink's errors in
    /// status, as the Java collector counts a BatchSink's (one per frame).
    failures: Mutex<(u64, Option<String>)>,
}

impl JavaSink {
    pub fn new(env: &mut JNIEnv<'_>, sink: &JObject<'_>) -> Result<JavaSink> {
        Ok(JavaSink {
            vm: env.get_java_vm().map_err(jni_error)?,
            sink: env.new_global_ref(sink).map_err(jni_error)?,
            failures: Mutex::new((0, None)),
        })
    }

    /// Calls `accept` with a read-only direct buffer over the frame, valid
    /// only during the call (the Java side copies what it keeps).
    fn accept(&self, frame: &[u8], events: u32) -> std::result::Result<(), String> {
        // A flush thread attaches once and stays attached (as a daemon, so
        // it never keeps the JVM alive) until it ends.
        let mut env = self.vm.attach_current_thread_as_daemon().map_err(|e| format!("cannot attach to the JVM: {e}"))?;
        // The outer Result is the local frame's own (push/pop); the inner one
        // the upcall's outcome.
        let outcome = env.with_local_frame(8, |env| -> jni::errors::Result<std::result::Result<(), String>> {
            // SAFETY: the buffer covers `frame`, which outlives the call; the
            // Java side is told not to keep it past `accept`.
            let buffer = match unsafe { env.new_direct_byte_buffer(frame.as_ptr() as *mut u8, frame.len()) } {
                Ok(buffer) => buffer,
                Err(e) => return Ok(Err(describe(env, e))),
            };
            let read_only = match env.call_method(&buffer, "asReadOnlyBuffer", "()Ljava/nio/ByteBuffer;", &[]).and_then(|v| v.l()) {
                Ok(b) => b,
                Err(e) => return Ok(Err(describe(env, e))),
            };
            let called = env.call_method(
                &self.sink,
                "accept",
                "(Ljava/nio/ByteBuffer;I)V",
                &[JValue::Object(&read_only), JValue::Int(events as i32)],
            );
            Ok(called.map(|_| ()).map_err(|e| describe(env, e)))
        });
        outcome.map_err(|e| format!("JNI local frame: {e}"))?
    }
}

/// The message of a failed upcall; a Java exception is described and cleared
/// (it belongs to this frame, not to whatever the thread does next).
fn describe(env: &mut JNIEnv<'_>, e: jni::errors::Error) -> String {
    if !matches!(e, jni::errors::Error::JavaException) {
        return e.to_string();
    }
    let Ok(thrown) = env.exception_occurred() else { return "a Java exception".into() };
    let _ = env.exception_clear();
    let text = env
        .call_method(&thrown, "toString", "()Ljava/lang/String;", &[])
        .and_then(|v| v.l())
        .ok()
        .and_then(|s| env.get_string(&s.into()).ok().map(String::from));
    let _ = env.exception_clear();
    text.unwrap_or_else(|| "a Java exception".into())
}

impl Sink for JavaSink {
    fn send(&self, frame: &[u8], events: u32, completion: Completion) {
        match self.accept(frame, events) {
            Ok(()) => completion.delivered(),
            Err(why) => {
                let why = format!("BatchSink.accept failed: {why}");
                {
                    let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
                    failures.0 += 1;
                    failures.1 = Some(why.clone());
                }
                completion.failed(Error::new(Code::MB_ERR_DELIVERY, why))
            }
        }
    }

    fn errors(&self) -> (u64, Option<String>) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn name(&self) -> &'static str {
        "java"
    }
}
