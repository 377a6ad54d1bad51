//! The pre-allocated byte storage behind a ring.
//!
//! In normal builds it is one zeroed, 8-byte aligned allocation accessed
//! through raw pointers. Under `--cfg loom` every byte is a loom `UnsafeCell`
//! (and commit words are loom atomics kept beside the bytes) so the model
//! checker sees each access and reports any that races.

#[cfg(not(loom))]
mod imp {
    use std::cell::UnsafeCell;
    use std::sync::atomic::{AtomicU32, AtomicU64};

    pub struct Buffer {
        // u64 words give the 8-byte alignment record headers rely on.
        words: Box<[UnsafeCell<u64>]>,
    }

    // SAFETY: a Buffer is plain owned memory (no thread affinity, nothing
    // freed elsewhere). Its bytes are reached only through the `unsafe` fns
    // below, whose contracts leave to the ring protocols (head/tail/commit
    // words) which thread may touch which bytes, and through the atomic
    // header views; moving or sharing the Buffer itself accesses nothing.
    unsafe impl Send for Buffer {}
    // SAFETY: as for Send: shared access goes through the unsafe fns, whose
    // callers own or were published the ranges they touch, or the atomics.
    unsafe impl Sync for Buffer {}

    impl Buffer {
        /// `len` must be a multiple of 8.
        pub fn zeroed(len: usize) -> Buffer {
            debug_assert_eq!(len % 8, 0);
            Buffer { words: (0..len / 8).map(|_| UnsafeCell::new(0)).collect() }
        }

        #[inline(always)]
        fn ptr(&self) -> *mut u8 {
            UnsafeCell::raw_get(self.words.as_ptr()) as *mut u8
        }

        /// Copies `src` to `off`.
        ///
        /// # Safety
        /// `[off, off+src.len())` lies within the buffer and the caller owns
        /// it under the ring protocol: no other thread reads or writes it
        /// until the caller publishes it.
        #[inline(always)]
        pub unsafe fn write(&self, off: usize, src: &[u8]) {
            // SAFETY: the range is in bounds (contract), so `add` stays in
            // the allocation and the destination is valid for `src.len()`
            // bytes. It is ours alone (contract), so no reference to it
            // exists and `src`, a live borrow, cannot overlap it.
            unsafe { super::copy(src.as_ptr(), self.ptr().add(off), src.len()) }
        }

        /// The 8-byte word at `off` as two u32 (low half first).
        ///
        /// # Safety
        /// `off` is 8-aligned and `off + 8` within the buffer, and the word
        /// was published to this thread (no write to it can race the read).
        #[inline(always)]
        pub unsafe fn read_u32_pair(&self, off: usize) -> (u32, u32) {
            // SAFETY: in bounds and 8-aligned (contract; the allocation is
            // of u64 words, so the base is 8-aligned too), initialised (the
            // buffer starts zeroed), and published to us, so the plain read
            // races no write.
            let word = u64::from_le(unsafe { (self.ptr().add(off) as *const u64).read() });
            (word as u32, (word >> 32) as u32)
        }

        /// Lends `[off, off+len)` to `f` as a slice.
        ///
        /// # Safety
        /// `[off, off+len)` lies within the buffer, was published to this
        /// thread, and is not written while `f` runs.
        #[inline(always)]
        pub unsafe fn read<R>(&self, off: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
            // SAFETY: in bounds and initialised (zeroed at creation), and no
            // thread writes the range while the slice lives (contract): the
            // slice, which cannot outlive `f`, never sees its bytes change.
            f(unsafe { std::slice::from_raw_parts(self.ptr().add(off), len) })
        }

        /// Zeroes `[off, off+len)`.
        ///
        /// # Safety
        /// `[off, off+len)` lies within the buffer and the caller owns it.
        #[inline(always)]
        pub unsafe fn zero(&self, off: usize, len: usize) {
            // SAFETY: in bounds and ours alone (contract): no other access
            // to these bytes can race the writes.
            unsafe { std::ptr::write_bytes(self.ptr().add(off), 0, len) }
        }

        /// The commit word of the record starting at `off` (8-aligned). It
        /// overlays the record's first 4 bytes.
        #[inline(always)]
        pub fn commit_word(&self, off: usize) -> &AtomicU32 {
            // SAFETY: every caller passes a ring offset (`pos & mask`, or a
            // record start), a multiple of 8 below the capacity, so the 4
            // bytes are in bounds and aligned; the memory lives as long as
            // `&self`. The MPSC protocol accesses this word only atomically
            // while it can be a commit word, and plain accesses to the same
            // bytes (record bodies, zeroing) are ordered against the atomic
            // ones by the head/commit Release/Acquire pairs, so they never
            // race.
            unsafe { &*(self.ptr().add(off) as *const AtomicU32) }
        }

        /// The SPSC ring's record header at `off` (8-aligned) as one atomic
        /// word: commit word in the low half, stamp in the high half. It
        /// overlays the record's first 8 bytes.
        #[inline(always)]
        pub fn header_word(&self, off: usize) -> &AtomicU64 {
            // SAFETY: every caller passes a ring offset (`pos & mask`), a
            // multiple of 8 below the capacity, so the 8 bytes are in bounds
            // and 8-aligned (the allocation is of u64 words); the memory
            // lives as long as `&self`. The SPSC protocol accesses this word
            // only atomically while it can be a seg word or terminator, and
            // the plain writes of frame bytes that reuse it later are
            // ordered after those accesses by the head Release/Acquire pair.
            unsafe { &*(self.ptr().add(off) as *const AtomicU64) }
        }
    }
}

/// Largest copy done inline, without calling memcpy. A caller that knows its
/// event is no longer can keep its fast path free of calls.
pub const INLINE_COPY_MAX: usize = 128;

/// Copies `len` bytes. Events are mostly small, and for up to
/// [`INLINE_COPY_MAX`] bytes a few unaligned 16-byte moves inline (the last
/// one overlapping) beat a call into the C library's memcpy, which must
/// first dispatch on the size. Longer copies call memcpy, whose vector loops
/// beat both a 16-byte loop and `rep movsb` on this hardware.
///
/// # Safety
/// As for `ptr::copy_nonoverlapping`: `src` valid for reads and `dst` for
/// writes of `len` bytes, the two ranges not overlapping. No alignment is
/// needed.
#[cfg(not(loom))]
#[inline(always)]
unsafe fn copy(src: *const u8, dst: *mut u8, len: usize) {
    use std::ptr::{read_unaligned as rd, write_unaligned as wr};
    // Moves `n` words of type `t` starting `at` bytes in, each through one
    // register right away (src and dst do not overlap), so nothing is held
    // across moves and nothing spills to the stack.
    macro_rules! moves {
        ($t:ty, $n:expr, $at:expr) => {{
            let at = $at;
            for k in 0..$n {
                let off = at + k * std::mem::size_of::<$t>();
                // SAFETY: the callers (the arms below) keep `off + size_of
                // $t` within `len`, so both words lie in the ranges the
                // contract makes valid; the unaligned accesses need no
                // alignment, and the ranges do not overlap (contract).
                unsafe { wr(dst.add(off) as *mut $t, rd(src.add(off) as *const $t)) };
            }
        }};
    }
    // Each arm moves the first and the last `n` words, which overlap as
    // needed to cover any length in the arm's range: no loop, no length
    // left over.
    macro_rules! ends {
        ($t:ty, $n:expr) => {{
            moves!($t, $n, 0);
            moves!($t, $n, len - $n * std::mem::size_of::<$t>());
        }};
    }
    match len {
        0 => {}
        1..=3 => {
            for i in 0..len {
                // SAFETY: `i < len`: within both ranges (contract).
                unsafe { *dst.add(i) = *src.add(i) };
            }
        }
        4..=7 => ends!(u32, 1),
        8..=15 => ends!(u64, 1),
        16..=32 => ends!(u128, 1),
        33..=64 => ends!(u128, 2),
        65..=INLINE_COPY_MAX => ends!(u128, 4),
        // SAFETY: exactly this function's own contract.
        _ => unsafe { std::ptr::copy_nonoverlapping(src, dst, len) },
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    #[test]
    fn small_copies_cover_every_length() {
        let src: Vec<u8> = (0..300u32).map(|i| (i * 7 + 1) as u8).collect();
        for len in 0..=300 {
            for shift in 0..3 {
                let mut dst = vec![0xEEu8; len + 8];
                // SAFETY: both vectors are live and distinct, `src[shift..]`
                // holds at least `len.min(src.len() - shift)` bytes and
                // `dst[4..]` holds `len + 4`.
                unsafe { super::copy(src[shift..].as_ptr(), dst[4..].as_mut_ptr(), len.min(src.len() - shift)) };
                let n = len.min(src.len() - shift);
                assert_eq!(&dst[4..4 + n], &src[shift..shift + n], "len {len}");
                assert!(dst[..4].iter().chain(&dst[4 + n..]).all(|&b| b == 0xEE), "len {len} wrote outside");
            }
        }
    }
}

#[cfg(loom)]
mod imp {
    use loom::cell::UnsafeCell;
    use loom::sync::atomic::{AtomicU32, AtomicU64};

    pub struct Buffer {
        bytes: Box<[UnsafeCell<u8>]>,
        commits: Box<[AtomicU32]>,
        headers: Box<[AtomicU64]>,
    }

    impl Buffer {
        pub fn zeroed(len: usize) -> Buffer {
            Buffer {
                bytes: (0..len).map(|_| UnsafeCell::new(0)).collect(),
                commits: (0..len / 8).map(|_| AtomicU32::new(0)).collect(),
                headers: (0..len / 8).map(|_| AtomicU64::new(0)).collect(),
            }
        }
        /// # Safety
        /// As for the normal build's `write`.
        pub unsafe fn write(&self, off: usize, src: &[u8]) {
            for (i, b) in src.iter().enumerate() {
                // SAFETY: a valid pointer to one of our cells; loom checks
                // that the ring protocol makes this write race-free.
                self.bytes[off + i].with_mut(|p| unsafe { *p = *b });
            }
        }
        /// # Safety
        /// As for the normal build's `read_u32_pair`.
        pub unsafe fn read_u32_pair(&self, off: usize) -> (u32, u32) {
            let mut word = [0u8; 8];
            for (i, b) in word.iter_mut().enumerate() {
                // SAFETY: as in `write`, loom checking the read.
                *b = self.bytes[off + i].with(|p| unsafe { *p });
            }
            (
                u32::from_le_bytes(word[..4].try_into().unwrap()),
                u32::from_le_bytes(word[4..].try_into().unwrap()),
            )
        }
        /// # Safety
        /// As for the normal build's `read`.
        pub unsafe fn read<R>(&self, off: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
            // SAFETY: as in `write`, loom checking the reads.
            let copy: Vec<u8> = (off..off + len).map(|i| self.bytes[i].with(|p| unsafe { *p })).collect();
            f(&copy)
        }
        /// # Safety
        /// As for the normal build's `zero`.
        pub unsafe fn zero(&self, off: usize, len: usize) {
            for i in off..off + len {
                // SAFETY: as in `write`.
                self.bytes[i].with_mut(|p| unsafe { *p = 0 });
            }
        }
        pub fn commit_word(&self, off: usize) -> &AtomicU32 {
            &self.commits[off / 8]
        }
        pub fn header_word(&self, off: usize) -> &AtomicU64 {
            &self.headers[off / 8]
        }
    }
}

pub use imp::Buffer;
