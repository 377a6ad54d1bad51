//! Proves the submit path performs no heap allocation.
//!
//! A counting global allocator counts allocations (alloc, alloc_zeroed,
//! realloc) made by the current thread while that thread has counting
//! switched on, so flush threads, the test harness and other tests running
//! in parallel do not interfere. Each measured section runs after a warm-up
//! submit on the same thread (the first submit assigns thread-locals).

use microbatch::ffi::{mb_collector_free, mb_collector_new, mb_collector_submit, mb_config_free, mb_config_new, mb_config_set};
use microbatch::ring::{MpscRing, SpscRing};
use microbatch::{Code, Collector, Config};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

struct Counting;

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

fn note_alloc() {
    // try_with: the allocator also runs while thread-locals are torn down.
    let _ = ENABLED.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc();
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_alloc();
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` with counting on for this thread; returns (allocations, result).
fn count_allocs<R>(f: impl FnOnce() -> R) -> (u64, R) {
    COUNT.with(|c| c.set(0));
    ENABLED.with(|on| on.set(true));
    let r = f();
    ENABLED.with(|on| on.set(false));
    (COUNT.with(|c| c.get()), r)
}

const N: usize = 100_000;
const EVENT: [u8; 16] = *b"0123456789abcdef";

/// Allocations of successful submits and of refused (FULL) submits, counted
/// separately: the test asserts the former is zero and reports the latter.
#[derive(Debug, Default)]
struct Tally {
    ok_allocs: u64,
    full_calls: u64,
    full_allocs: u64,
}

/// Submits N events through `submit`, one measured call at a time, retrying
/// on FULL. The loop itself does not allocate.
fn measure_submits(mut submit: impl FnMut(&[u8]) -> Code) -> Tally {
    let mut t = Tally::default();
    let mut event = EVENT;
    for i in 0..N {
        event[..8].copy_from_slice(&(i as u64).to_le_bytes());
        loop {
            let (allocs, code) = count_allocs(|| submit(black_box(&event[..])));
            match code {
                Code::MB_OK => {
                    t.ok_allocs += allocs;
                    break;
                }
                Code::MB_ERR_FULL => {
                    t.full_calls += 1;
                    t.full_allocs += allocs;
                    std::thread::yield_now();
                }
                other => panic!("submit {i} failed: {}", other.name()),
            }
        }
    }
    t
}

#[test]
fn the_counter_counts() {
    let (n, v) = count_allocs(|| black_box(Vec::<u8>::with_capacity(10)));
    assert_eq!(n, 1, "a Vec allocation must be counted");
    drop(v);
    let (n, _) = count_allocs(|| {
        let mut v = black_box(Vec::<u8>::with_capacity(1));
        v.extend_from_slice(&[0; 100]); // realloc
        v
    });
    assert_eq!(n, 2, "a realloc must be counted");
    let (n, ()) = count_allocs(|| ());
    assert_eq!(n, 0);
    // Another thread's allocations, made while this thread counts, are not
    // counted here.
    use std::sync::atomic::{AtomicU8, Ordering};
    static STEP: AtomicU8 = AtomicU8::new(0);
    let other = std::thread::spawn(|| {
        while STEP.load(Ordering::Acquire) != 1 {
            std::hint::spin_loop();
        }
        for i in 0..1000 {
            black_box(vec![0u8; 64 + i]);
        }
        STEP.store(2, Ordering::Release);
    });
    let (n, ()) = count_allocs(|| {
        STEP.store(1, Ordering::Release);
        while STEP.load(Ordering::Acquire) != 2 {
            std::hint::spin_loop();
        }
    });
    other.join().unwrap();
    assert_eq!(n, 0, "another thread's allocations leaked into this thread's count");
}

fn collector(ring: &str) -> Collector {
    let mut c = Config::default();
    // Learned configs stay out of these tests (and out of the home folder).
    c.set("calibration.path", ":memory:").unwrap();
    // 4 MiB rings hold all N events even if nothing drains: no FULL expected.
    for (k, v) in [("ring.type", ring), ("partitions", "1"), ("flush.threads", "1"), ("ring.capacity.bytes", "4194304")] {
        c.set(k, v).unwrap();
    }
    Collector::new(&c).unwrap()
}

fn rust_submit_allocates_nothing(ring: &str) {
    let c = collector(ring);
    c.submit(b"warm-up").unwrap();
    // The counter does see allocations made inside the library on this
    // thread: a refused, too-large event builds an error message.
    let big = vec![0u8; 1 << 20];
    let (n, r) = count_allocs(|| c.submit(&big));
    assert_eq!(r.unwrap_err().code(), Code::MB_ERR_TOO_LARGE);
    assert!(n >= 1, "the error path's allocation must be visible ({n})");

    let t = measure_submits(|e| match c.submit(e) {
        Ok(()) => Code::MB_OK,
        Err(e) => e.code(),
    });
    assert_eq!(t.ok_allocs, 0, "Collector::submit ({ring}) allocated: {t:?}");
    if t.full_calls > 0 {
        eprintln!("note: {ring}: {} FULL refusals made {} allocations", t.full_calls, t.full_allocs);
    }
    c.flush(std::time::Duration::from_secs(10)).unwrap();
    assert_eq!(c.status().delivered, N as u64 + 1);
}

/// Block submits (`Collector::submit_encoded`) of 64 events: no allocation
/// in the runs, at frame boundaries or on the per-event path behind them.
fn rust_block_submit_allocates_nothing(ring: &str) {
    let c = collector(ring);
    c.submit(b"warm-up").unwrap();
    const PER_BLOCK: usize = 64;
    let mut block = Vec::with_capacity(PER_BLOCK * (4 + EVENT.len()));
    let (mut ok_allocs, mut full_calls) = (0, 0);
    for b in 0..N / PER_BLOCK {
        block.clear();
        for k in 0..PER_BLOCK {
            block.extend_from_slice(&(EVENT.len() as u32).to_le_bytes());
            block.extend_from_slice(&((b * PER_BLOCK + k) as u64).to_le_bytes());
            block.extend_from_slice(&EVENT[8..]);
        }
        let mut rest = &block[..];
        let mut left = PER_BLOCK;
        while left > 0 {
            let (allocs, (n, r)) = count_allocs(|| c.submit_encoded(black_box(rest), left));
            match r {
                Ok(()) => ok_allocs += allocs,
                Err(e) if e.code() == Code::MB_ERR_FULL => {
                    full_calls += 1;
                    std::thread::yield_now();
                }
                Err(e) => panic!("block {b} failed: {}", e.message()),
            }
            rest = &rest[n * (4 + EVENT.len())..];
            left -= n;
        }
    }
    assert_eq!(ok_allocs, 0, "Collector::submit_encoded ({ring}) allocated");
    if full_calls > 0 {
        eprintln!("note: {ring}: {full_calls} block submits met a full ring");
    }
    c.flush(std::time::Duration::from_secs(10)).unwrap();
    assert_eq!(c.status().delivered, (N / PER_BLOCK * PER_BLOCK) as u64 + 1);
}

#[test]
fn collector_block_submit_spsc_allocates_nothing() {
    rust_block_submit_allocates_nothing("spsc");
}

#[test]
fn collector_block_submit_mpsc_allocates_nothing() {
    rust_block_submit_allocates_nothing("mpsc");
}

#[test]
fn collector_submit_spsc_allocates_nothing() {
    rust_submit_allocates_nothing("spsc");
}

#[test]
fn collector_submit_mpsc_allocates_nothing() {
    rust_submit_allocates_nothing("mpsc");
}

fn ffi_submit_allocates_nothing(ring: &std::ffi::CStr) {
    let cfg = mb_config_new();
    assert!(!cfg.is_null());
    for (k, v) in [(c"ring.type", ring), (c"partitions", c"1"), (c"flush.threads", c"1"), (c"ring.capacity.bytes", c"4194304")] {
        assert_eq!(mb_config_set(cfg, k.as_ptr(), v.as_ptr()), Code::MB_OK);
    }
    let mut h = std::ptr::null_mut();
    assert_eq!(mb_collector_new(cfg, &mut h), Code::MB_OK);
    mb_config_free(cfg);
    let warm = b"warm-up";
    assert_eq!(mb_collector_submit(h, warm.as_ptr(), warm.len()), Code::MB_OK);
    let t = measure_submits(|e| mb_collector_submit(h, e.as_ptr(), e.len()));
    assert_eq!(t.ok_allocs, 0, "mb_collector_submit ({ring:?}) allocated: {t:?}");
    if t.full_calls > 0 {
        eprintln!("note: {ring:?}: {} FULL refusals made {} allocations", t.full_calls, t.full_allocs);
    }
    mb_collector_free(h);
    assert_eq!(mb_collector_submit(h, warm.as_ptr(), warm.len()), Code::MB_ERR_CLOSED);
}

#[test]
fn ffi_submit_spsc_allocates_nothing() {
    ffi_submit_allocates_nothing(c"spsc");
}

#[test]
fn ffi_submit_mpsc_allocates_nothing() {
    ffi_submit_allocates_nothing(c"mpsc");
}

#[test]
fn ring_pushes_allocate_nothing() {
    // N records of 24 bytes fit in 4 MiB, so no push is refused. SPSC frames
    // of 100 events: the pushes include opening and sealing frames.
    let spsc = SpscRing::new(4 << 20, 1 << 20);
    let mpsc = MpscRing::with_capacity(4 << 20);
    let mut event = EVENT;
    let (n, ()) = count_allocs(|| {
        for i in 0..N {
            event[..8].copy_from_slice(&(i as u64).to_le_bytes());
            // SAFETY: this thread is the only producer side.
            unsafe { spsc.push_tagged(black_box(&event), None, 100, || i as u32).unwrap() };
            mpsc.push(black_box(&event), i as u32).unwrap();
        }
        // SAFETY: as above.
        unsafe { spsc.seal() };
    });
    assert_eq!(n, 0, "ring pushes allocated");
    // Everything arrived (checked outside the measured section).
    let seq = |e: &[u8]| u64::from_le_bytes(e[..8].try_into().unwrap());
    let mut next = 0;
    unsafe {
        spsc.drain_frames(usize::MAX, |f| {
            for e in microbatch::frame::events(f.frame).unwrap() {
                assert_eq!(seq(e.unwrap()), next);
                next += 1;
            }
        })
    };
    assert_eq!(next, N as u64);
    for i in 0..N as u64 {
        assert_eq!(unsafe { mpsc.drain(1, |_, e| seq(e) == i) }, 1);
    }
    // Draining with a non-allocating closure allocates nothing either.
    for i in 0..1000u32 {
        unsafe { spsc.push_tagged(&EVENT, None, 100, || i).unwrap() };
        mpsc.push(&EVENT, i).unwrap();
    }
    let (n, taken) = count_allocs(|| unsafe {
        let mut events = 0;
        spsc.drain_frames(usize::MAX, |f| events += black_box(f.events) as usize);
        events + mpsc.drain(usize::MAX, |_, e| black_box(e).len() == 16)
    });
    assert_eq!((n, taken), (0, 2000));
}
