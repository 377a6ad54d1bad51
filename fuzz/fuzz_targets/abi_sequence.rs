//! Arbitrary sequences of C ABI calls on one collector: create (from a small
//! menu of configurations), submit and submit_tracked with odd sizes (empty,
//! over the limit, a NULL pointer), flush, status, wait, poll, free (then
//! every call again on the freed handle, and free again), frame decode of
//! input bytes, and mb_last_error into odd buffers. Checks that every call
//! answers one of the codes README's table allows for it, never crashes or
//! hangs, that a freed handle answers MB_ERR_CLOSED for good, and that the
//! books balance: status.submitted equals the submits answered MB_OK, and
//! submitted == delivered + failed + pending.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microbatch::ffi::*;
use microbatch::handle::Handle;
use microbatch::tracking::{Ack, AckEvent};
use microbatch::{Code, Status};
use std::ffi::{c_void, CString};
use std::sync::atomic::{AtomicU8, Ordering};

/// Fails every frame whose first event byte is below this (0: none fail).
static FAIL_BELOW: AtomicU8 = AtomicU8::new(0);

unsafe extern "C" fn sink(_ctx: *mut c_void, frame: *const u8, len: usize, _n: u32) -> i32 {
    let f = std::slice::from_raw_parts(frame, len);
    let first = f.get(12).copied().unwrap_or(255);
    i32::from(first < FAIL_BELOW.load(Ordering::Relaxed))
}

unsafe extern "C" fn count(ctx: *mut c_void, _e: *const u8, _len: usize) -> i32 {
    *(ctx as *mut u32) += 1;
    0
}

const CONFIGS: &[&[(&str, &str)]] = &[
    &[("partitions", "1"), ("level", "L1_REALTIME")],
    &[("partitions", "2"), ("ring.type", "mpsc"), ("tracking.queue", "true")],
    &[("partitions", "1"), ("ring.capacity.bytes", "4096"), ("event.max.bytes", "1000"), ("level", "L10_MAX")],
    &[("partitions", "2"), ("tracking.slots", "4"), ("tracking.queue", "true"), ("submit.lease", "false")],
    &[("partitions", "1"), ("batch.max.events", "3"), ("submit.block.ms", "1")],
];

struct Bytes<'a>(&'a [u8]);
impl Bytes<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u16(&mut self) -> u16 {
        u16::from(self.u8().unwrap_or(0)) | (u16::from(self.u8().unwrap_or(0)) << 8)
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

fn create(choice: u8) -> (*mut Handle, bool) {
    let cfg = mb_config_new();
    let pairs = CONFIGS[choice as usize % CONFIGS.len()];
    // Calibration runs, but learns into memory: a fuzzer writes no files.
    for (k, v) in pairs.iter().chain(&[("calibration.path", ":memory:")]) {
        let (k, v) = (CString::new(*k).unwrap(), CString::new(*v).unwrap());
        assert_eq!(mb_config_set(cfg, k.as_ptr(), v.as_ptr()), Code::MB_OK);
    }
    assert_eq!(mb_config_set_frame_callback(cfg, Some(sink), std::ptr::null_mut()), Code::MB_OK);
    let mut h = std::ptr::null_mut();
    assert_eq!(mb_collector_new(cfg, &mut h), Code::MB_OK);
    mb_config_free(cfg);
    (h, pairs.iter().any(|p| *p == ("tracking.queue", "true")))
}

/// Drains a freed handle's completion queue until it reports its end. A
/// queue nobody drains is kept (README: it outlives the free), about 2 MB
/// for the default 65536 slots, which would exhaust a fuzzer's memory.
fn drain_freed(h: *mut Handle) {
    let mut out = [AckEvent { ticket: 0, result: Code::MB_OK, partition: 0, offset: 0, index: 0, reserved: 0 }; 64];
    let mut n = 0;
    let mut rounds = 0;
    while mb_collector_poll_acks(h, out.as_mut_ptr(), out.len(), &mut n, 100) == Code::MB_OK {
        rounds += 1;
        assert!(rounds < 10_000, "the completion queue never ended after free");
    }
}

fn balanced(h: *mut Handle, accepted: u64) {
    let mut st = Status::default();
    assert_eq!(mb_collector_status(h, &mut st), Code::MB_OK);
    assert_eq!(st.submitted, accepted, "status counts exactly the submits answered MB_OK");
    assert_eq!(st.submitted, st.delivered + st.failed + st.pending);
}

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data);
    FAIL_BELOW.store(input.u8().unwrap_or(0) % 64, Ordering::Relaxed);
    let (mut h, mut queue) = create(input.u8().unwrap_or(0));
    let mut freed = false;
    let mut accepted = 0u64;
    let mut tickets: Vec<u64> = Vec::new();
    let payload = vec![0x5au8; 70_000];
    let mut ops = 0;
    while let Some(op) = input.u8() {
        ops += 1;
        if ops > 200 {
            break;
        }
        let closed_or = |rc: Code, allowed: &[Code]| {
            if freed {
                assert_eq!(rc, Code::MB_ERR_CLOSED, "a freed handle answered {rc:?}");
            } else {
                assert!(allowed.contains(&rc), "answered {rc:?}, allowed {allowed:?}");
            }
        };
        match op % 12 {
            0 | 1 => {
                let len = input.u16() as usize;
                let first = input.u8().unwrap_or(0);
                let mut ev = payload[..len].to_vec();
                if let Some(b) = ev.first_mut() {
                    *b = first;
                }
                let rc = mb_collector_submit(h, ev.as_ptr(), ev.len());
                closed_or(rc, &[Code::MB_OK, Code::MB_ERR_FULL, Code::MB_ERR_TOO_LARGE]);
                accepted += u64::from(rc == Code::MB_OK);
            }
            2 => {
                let len = input.u16() as usize % 2000;
                let mut t = 0u64;
                let rc = mb_collector_submit_tracked(h, payload.as_ptr(), len, &mut t);
                closed_or(rc, &[Code::MB_OK, Code::MB_ERR_FULL, Code::MB_ERR_TOO_LARGE, Code::MB_ERR_TRACKING_FULL]);
                if rc == Code::MB_OK {
                    assert_ne!(t, 0, "a ticket is never 0");
                    accepted += 1;
                    tickets.push(t);
                }
            }
            3 => {
                let rc = mb_collector_flush(h, u32::from(input.u8().unwrap_or(0) % 50));
                closed_or(rc, &[Code::MB_OK, Code::MB_ERR_TIMEOUT]);
            }
            4 => {
                let mut st = Status::default();
                let rc = mb_collector_status(h, &mut st);
                if !freed {
                    assert_eq!(rc, Code::MB_OK);
                    assert_eq!(st.submitted, accepted);
                    assert_eq!(st.submitted, st.delivered + st.failed + st.pending);
                }
            }
            5 => {
                let pick = input.u8().unwrap_or(0) as usize;
                let ticket = if tickets.is_empty() || pick == 255 { u64::from(input.u16()) << 20 } else { tickets[pick % tickets.len()] };
                let mut ack = Ack::default();
                let rc = mb_collector_wait_ack(h, ticket, u32::from(pick as u8 % 3), &mut ack);
                closed_or(rc, &[Code::MB_OK, Code::MB_ERR_DELIVERY, Code::MB_ERR_TIMEOUT, Code::MB_ERR_UNKNOWN_TICKET]);
            }
            6 => {
                let mut out = [AckEvent { ticket: 0, result: Code::MB_OK, partition: 0, offset: 0, index: 0, reserved: 0 }; 8];
                let mut n = usize::MAX;
                let max = input.u8().unwrap_or(0) as usize % 9;
                let rc = mb_collector_poll_acks(h, out.as_mut_ptr(), max, &mut n, 0);
                match (queue, freed) {
                    (false, _) => assert!(matches!(rc, Code::MB_ERR_INVALID_CONFIG | Code::MB_ERR_CLOSED), "{rc:?}"),
                    (true, false) => assert_eq!(rc, Code::MB_OK),
                    (true, true) => assert!(matches!(rc, Code::MB_OK | Code::MB_ERR_CLOSED), "{rc:?}"),
                }
                if rc == Code::MB_OK {
                    assert!(n <= max);
                }
            }
            7 => {
                // Free, possibly twice; later calls must all answer CLOSED.
                mb_collector_free(h);
                freed = true;
            }
            8 => {
                // A new collector; the old handle is freed (or already was).
                if !freed {
                    mb_collector_free(h);
                }
                if queue {
                    drain_freed(h);
                }
                let old = h;
                let (nh, q) = create(input.u8().unwrap_or(0));
                let mut st = Status::default();
                assert_eq!(mb_collector_status(old, &mut st), Code::MB_ERR_CLOSED);
                h = nh;
                queue = q;
                freed = false;
                accepted = 0;
                tickets.clear();
            }
            9 => {
                let len = input.u8().unwrap_or(0) as usize;
                let frame = input.take(len).to_vec();
                let mut n = 0u32;
                let mut count_out = u32::MAX;
                let rc = mb_frame_decode(frame.as_ptr(), frame.len(), Some(count), &mut n as *mut u32 as *mut c_void, &mut count_out);
                match rc {
                    Code::MB_OK => assert_eq!(n, count_out),
                    Code::MB_ERR_MALFORMED => assert_eq!(n, 0),
                    other => panic!("mb_frame_decode: {other:?}"),
                }
            }
            10 => {
                let len = input.u8().unwrap_or(0) as usize % 8;
                let mut buf = [0x7fu8 as std::ffi::c_char; 8];
                let full = mb_last_error(if len == 0 { std::ptr::null_mut() } else { buf.as_mut_ptr() }, len);
                if len > 0 {
                    let written = buf[..len].iter().position(|&c| c == 0).expect("NUL-terminated");
                    assert_eq!(written, full.min(len - 1));
                }
            }
            _ => {
                // NULL data with a length: refused, never read.
                let rc = mb_collector_submit(h, std::ptr::null(), 1 + input.u8().unwrap_or(0) as usize);
                assert!(matches!(rc, Code::MB_ERR_NULL_ARG | Code::MB_ERR_CLOSED), "{rc:?}");
            }
        }
    }
    if !freed {
        balanced(h, accepted);
        mb_collector_free(h);
    }
    // Drain what the queue holds after the free; it then ends.
    if queue {
        drain_freed(h);
    }
    let mut st = Status::default();
    assert_eq!(mb_collector_status(h, &mut st), Code::MB_ERR_CLOSED);
});
