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

    // SAFETY: access is coordinated by the ring protocols (head/tail/commit
    // words); the buffer itself only hands out raw accesses.
    unsafe impl Send for Buffer {}
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

        /// SAFETY: the caller owns `[off, off+src.len())` under the ring protocol.
        #[inline(always)]
        pub unsafe fn write(&self, off: usize, src: &[u8]) {
            super::copy(src.as_ptr(), self.ptr().add(off), src.len());
        }

        /// SAFETY: the word at `off` was published to this thread.
        #[inline(always)]
        pub unsafe fn read_u32_pair(&self, off: usize) -> (u32, u32) {
            let word = u64::from_le((self.ptr().add(off) as *const u64).read());
            (word as u32, (word >> 32) as u32)
        }

        /// SAFETY: `[off, off+len)` was published to this thread and is not
        /// written while `f` runs.
        #[inline(always)]
        pub unsafe fn read<R>(&self, off: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
            f(std::slice::from_raw_parts(self.ptr().add(off), len))
        }

        /// SAFETY: the caller owns `[off, off+len)`.
        #[inline(always)]
        pub unsafe fn zero(&self, off: usize, len: usize) {
            std::ptr::write_bytes(self.ptr().add(off), 0, len);
        }

        /// The commit word of the record starting at `off` (8-aligned). It
        /// overlays the record's first 4 bytes.
        #[inline(always)]
        pub fn commit_word(&self, off: usize) -> &AtomicU32 {
            // SAFETY: in bounds, 4-aligned; the MPSC protocol accesses this
            // word only atomically while it can be a header.
            unsafe { &*(self.ptr().add(off) as *const AtomicU32) }
        }

        /// The SPSC ring's record header at `off` (8-aligned) as one atomic
        /// word: commit word in the low half, stamp in the high half. It
        /// overlays the record's first 8 bytes.
        #[inline(always)]
        pub fn header_word(&self, off: usize) -> &AtomicU64 {
            // SAFETY: in bounds, 8-aligned (the allocation is of u64 words);
            // the SPSC protocol accesses this word only atomically while it
            // can be a header.
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
/// As for `ptr::copy_nonoverlapping`.
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
                wr(dst.add(off) as *mut $t, rd(src.add(off) as *const $t));
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
                *dst.add(i) = *src.add(i);
            }
        }
        4..=7 => ends!(u32, 1),
        8..=15 => ends!(u64, 1),
        16..=32 => ends!(u128, 1),
        33..=64 => ends!(u128, 2),
        65..=INLINE_COPY_MAX => ends!(u128, 4),
        _ => std::ptr::copy_nonoverlapping(src, dst, len),
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
        pub unsafe fn write(&self, off: usize, src: &[u8]) {
            for (i, b) in src.iter().enumerate() {
                self.bytes[off + i].with_mut(|p| *p = *b);
            }
        }
        pub unsafe fn read_u32_pair(&self, off: usize) -> (u32, u32) {
            let mut word = [0u8; 8];
            for (i, b) in word.iter_mut().enumerate() {
                *b = self.bytes[off + i].with(|p| *p);
            }
            (
                u32::from_le_bytes(word[..4].try_into().unwrap()),
                u32::from_le_bytes(word[4..].try_into().unwrap()),
            )
        }
        pub unsafe fn read<R>(&self, off: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
            let copy: Vec<u8> = (off..off + len).map(|i| self.bytes[i].with(|p| *p)).collect();
            f(&copy)
        }
        pub unsafe fn zero(&self, off: usize, len: usize) {
            for i in off..off + len {
                self.bytes[i].with_mut(|p| *p = 0);
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
