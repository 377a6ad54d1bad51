//! Arbitrary bytes through the Rust frame decoder and the C ABI decoder:
//! both must agree (same events in the same order, or both refuse), and a
//! frame that decodes must re-encode to exactly the input bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microbatch::ffi::mb_frame_decode;
use microbatch::frame;
use microbatch::Code;
use std::ffi::c_void;

unsafe extern "C" fn collect(ctx: *mut c_void, event: *const u8, len: usize) -> i32 {
    let out = &mut *(ctx as *mut Vec<Vec<u8>>);
    let bytes = if len == 0 { &[][..] } else { std::slice::from_raw_parts(event, len) };
    out.push(bytes.to_vec());
    0
}

fuzz_target!(|data: &[u8]| {
    let rust = frame::decode(data);

    let mut via_c: Vec<Vec<u8>> = Vec::new();
    let mut count = u32::MAX;
    let code = mb_frame_decode(
        data.as_ptr(),
        data.len(),
        Some(collect),
        &mut via_c as *mut Vec<Vec<u8>> as *mut c_void,
        &mut count,
    );

    match rust {
        Ok(events) => {
            assert_eq!(code, Code::MB_OK, "Rust decoded {} events, the C ABI refused", events.len());
            assert_eq!(count as usize, events.len());
            assert_eq!(via_c.len(), events.len());
            for (a, b) in events.iter().zip(&via_c) {
                assert_eq!(*a, &b[..]);
            }
            let again = frame::encode(events.iter().copied());
            assert_eq!(again, data, "re-encoding a decoded frame must give the input back");
        }
        Err(e) => {
            assert_eq!(e.code(), Code::MB_ERR_MALFORMED);
            assert_eq!(code, Code::MB_ERR_MALFORMED, "Rust refused ({e}), the C ABI said {code:?}");
            assert!(via_c.is_empty(), "no event may reach the callback from a malformed frame");
            assert_eq!(count, 0);
        }
    }
});
