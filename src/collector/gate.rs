//! The admission gate of one SPSC partition: a one-word lock that submitters
//! take for one event, that a flush thread takes to seal the open frame, and
//! that closing the collector takes for good; and a lease, which lets a
//! thread that has the partition to itself submit without taking the lock.
//!
//! ```text
//!          try_lock (CAS)
//!   FREE ──────────────────► HELD
//!    ▲ ▲                      │  │
//!    │ └────── exit ──────────┘  │ exit after a streak of entries
//!    │                           ▼ by the same thread
//!    └──── revoke, then exit ─ LEASED(token)
//!
//!   close: set CLOSED_BIT on any of them (fetch_or), wait for a holder or a
//!   lease owner inside to leave: the word is then CLOSED_BIT alone, forever.
//! ```
//!
//! **Closing** sets [`CLOSED_BIT`] with one fetch_or, which no entry can
//! race: from then on the CAS from FREE fails, a lease owner no longer finds
//! its token, and a revoker's CAS from the token fails. So a submit that got
//! in before the close finishes before the close returns, none gets in
//! after, the fast path needs no `closed` flag of its own, and submitters
//! cannot starve the closer. A lock holder leaves with a CAS from HELD;
//! finding the bit, it leaves the word at CLOSED_BIT instead. The closer
//! waits for that (or, for a lease, revokes it as below) and returns once
//! the word is CLOSED_BIT alone.
//!
//! A flush thread must still seal a closed partition's last frame. Once the
//! word is CLOSED_BIT alone no submitter can reach the ring again, so the
//! flush thread (the only other party on the producer side) proceeds
//! without the lock. The last holder's exit, or the closer after revoking a
//! lease, stored CLOSED_BIT with Release after its ring writes; the flush
//! thread's Acquire load of CLOSED_BIT synchronizes with it: it sees the
//! open frame as the last submitter left it.
//!
//! **The lease** is biased locking. A thread that took the lock
//! [`LEASE_AFTER`] times in a row is handed the gate on its exit: the word
//! holds the thread's token. It then enters by storing 1 in its own `busy`
//! flag and checking that the word still holds its token, with only a
//! compiler fence between the two: no atomic read-modify-write and no
//! store-buffer drain per event. Anyone else who needs the gate revokes: CAS
//! the token to HELD, then a process-wide memory barrier (`membarrier(2)`,
//! which runs a full fence on every CPU running one of our threads), then
//! wait for the owner's `busy` to read 0. The barrier stands in for the
//! fence the owner skipped (asymmetric Dekker): either the owner's store of
//! `busy` is visible to the revoker after the barrier, or the owner's load
//! of the word comes after the barrier and sees HELD.
//!
//! Each thread has a `busy` flag of its own ([`Lessee`]), which the gate
//! records beside the token when it grants the lease: a thread that read
//! the word just before its lease was revoked and handed on may still store
//! to its flag, and must not clear the flag of the next owner.
//!
//! A revoke costs a system call (about 10 us on a VM), so leases only go to
//! threads that have the partition to themselves: threads that take turns
//! event by event never build a streak. The worst case is threads taking
//! turns in runs of just over [`LEASE_AFTER`] events, one revoke per run:
//! about 3 ns per event, what the lock itself costs. Without `membarrier`
//! (old kernels, seccomp) no lease is ever granted and the gate is the
//! plain lock.

use crate::sync::{AtomicU32, AtomicU64, Ordering};

const FREE: u64 = 0;
const HELD: u64 = 1;
/// Set on the word by close(); the word stays CLOSED_BIT alone once the
/// last holder has left.
pub const CLOSED_BIT: u64 = 1 << 63;
/// Lease tokens are at least this; see [`token`].
const FIRST_TOKEN: u64 = 3;
/// Lock entries in a row by one thread that earn it a lease. (One under
/// loom, so models reach the leased state in a few steps.)
pub const LEASE_AFTER: u32 = if cfg!(loom) { 1 } else { 4096 };

/// The lease token of the thread numbered `thread_no` (numbers are unique
/// for the life of the process and never reused, so tokens are too).
pub const fn token(thread_no: usize) -> u64 {
    thread_no as u64 + FIRST_TOKEN
}

/// A submitting thread as the gate sees it: may hold a lease.
///
/// The gate dereferences `busy` without a check, so a `Lessee` is made only
/// through the `unsafe` [`Lessee::new`]; a struct literal outside this
/// module does not compile:
///
/// ```compile_fail,E0451
/// use microbatch::collector::gate::{token, Lessee};
/// let dangling = Lessee { token: token(0), busy: std::ptr::null() };
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lessee {
    /// See [`token`].
    token: u64,
    /// The thread's own flag, 1 while it is inside a gate through its lease.
    /// Must stay valid as long as any gate may hold `token`: the collector
    /// gives each thread one that is never freed (one cache line).
    busy: *const AtomicU32,
}

impl Lessee {
    /// The lessee with lease token `token` and lease flag `busy`.
    ///
    /// # Safety
    /// `busy` must point to an `AtomicU32` that stays valid as long as any
    /// gate may hold `token` (a gate keeps a lease token after its owner
    /// stopped submitting: in practice, a flag never freed), and `token`
    /// must belong to the calling thread alone.
    #[inline(always)]
    pub const unsafe fn new(token: u64, busy: *const AtomicU32) -> Lessee {
        Lessee { token, busy }
    }
}

/// Who enters, for [`SpscGate::enter`] and [`SpscGate::hold`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// A submitting thread: it may earn a lease, and take its own back.
    Submitter(Lessee),
    /// A flush thread sealing, or anyone else: never earns a lease.
    Other,
}

/// How a gate is held; pass it back to [`SpscGate::exit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Held {
    /// Through the lease of this thread: its `busy` flag is set.
    Leased(Lessee),
    /// The word is HELD by the caller.
    Locked(Who),
}

/// What a blocking entry found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Held(Held),
    /// The gate is closed for good; the caller holds nothing.
    Closed,
}

/// One partition's gate. See the module docs.
#[derive(Debug)]
pub struct SpscGate {
    /// FREE, HELD, or the token of the thread holding the lease, with
    /// CLOSED_BIT once closing.
    state: AtomicU64,
    /// The lease owner's `busy` flag (a `*const AtomicU32`), stored before
    /// the Release that puts its token in the word, read after a revoker's
    /// Acquire CAS takes the token out.
    owner_busy: AtomicU64,
    /// Token of the submitter that last took the lock, and how many times
    /// in a row it did. Written only by lock holders.
    last: AtomicU64,
    streak: AtomicU32,
    /// False if the process cannot revoke leases (no `membarrier`).
    leases: bool,
}

impl SpscGate {
    /// A free gate; `leases` false, or no `membarrier` here, makes it a
    /// plain lock that never grants a lease.
    pub fn new(leases: bool) -> SpscGate {
        SpscGate {
            state: AtomicU64::new(FREE),
            owner_busy: AtomicU64::new(0),
            last: AtomicU64::new(0),
            streak: AtomicU32::new(0),
            leases: leases && barrier::available(),
        }
    }

    /// One attempt without waiting: through the caller's lease if it holds
    /// one, else one CAS. The submit fast path.
    #[inline(always)]
    pub fn try_enter(&self, me: Lessee) -> Option<Held> {
        if self.try_enter_leased(me) {
            Some(Held::Leased(me))
        } else if self.try_lock() {
            Some(Held::Locked(Who::Submitter(me)))
        } else {
            None
        }
    }

    /// Enters through `me`'s lease, if that is who holds the gate. Leave
    /// with [`SpscGate::exit_leased`].
    #[inline(always)]
    pub fn try_enter_leased(&self, me: Lessee) -> bool {
        // Relaxed: a hint; the lease is confirmed below.
        if self.state.load(Ordering::Relaxed) != me.token {
            return false;
        }
        // SAFETY: a `Lessee`'s flag stays valid as long as any gate may hold
        // its token (the field's contract; the collector leaks one flag per
        // thread and never frees it), and this gate held `me.token` just now.
        let busy = unsafe { &*me.busy };
        busy.store(1, Ordering::Relaxed);
        // Orders the store of `busy` before the load of the word against a
        // revoker's barrier::heavy() (module docs). A compiler fence: the
        // hardware fence is the revoker's to pay.
        barrier::light();
        // Relaxed: the word can only hold our token if we stored it, so
        // there is nobody else's write to acquire.
        if self.state.load(Ordering::Relaxed) == me.token {
            return true;
        }
        busy.store(0, Ordering::Relaxed);
        false
    }

    /// One CAS from FREE to HELD. Leave with [`SpscGate::exit_locked`].
    #[inline(always)]
    pub fn try_lock(&self) -> bool {
        // Acquire: the previous holder's ring writes (released by its exit)
        // are visible before we touch the ring.
        self.state.compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed).is_ok()
    }

    /// Waits until the gate is held by the caller (revoking another
    /// thread's lease, or taking back its own) or closed.
    pub fn enter(&self, who: Who) -> Entry {
        let mut wait = Wait::new();
        loop {
            let seen = match self.state.compare_exchange_weak(FREE, HELD, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return Entry::Held(Held::Locked(who)),
                Err(seen) => seen,
            };
            if seen & CLOSED_BIT != 0 {
                return Entry::Closed;
            }
            match seen {
                HELD | FREE => wait.snooze(),
                owner => {
                    if self.revoke(owner, who) {
                        return Entry::Held(Held::Locked(who));
                    }
                }
            }
        }
    }

    /// Takes the gate from the holder of lease `owner`; false if the word
    /// changed meanwhile.
    #[cold]
    fn revoke(&self, owner: u64, who: Who) -> bool {
        // Acquire: the owner's ring writes before it took the lease. Fails
        // if the word changed, also by a close.
        if self.state.compare_exchange(owner, HELD, Ordering::Acquire, Ordering::Relaxed).is_err() {
            return false;
        }
        if matches!(who, Who::Submitter(me) if me.token == owner) {
            // Our own lease, taken back on the slow path: we are not inside
            // (our `busy` is 0), so no barrier is needed.
            return true;
        }
        self.wait_owner_out();
        // The owner must earn the next lease with a new streak: a thread too
        // slow to take the lock LEASE_AFTER times between two revokes (say,
        // between the flush thread's seals at T) would otherwise cost a
        // barrier per revoke for nothing. We hold the gate: ours to write.
        self.streak.store(0, Ordering::Relaxed);
        true
    }

    /// After the word stopped holding a lease token (our Acquire RMW took
    /// it out): waits until its owner, who may have read the token just
    /// before, has left.
    #[cold]
    fn wait_owner_out(&self) {
        // Relaxed: written before the token's Release store, which our
        // Acquire RMW read.
        let busy = self.owner_busy.load(Ordering::Relaxed) as usize as *const AtomicU32;
        // SAFETY: `owner_busy` is the flag of the lessee whose token our
        // Acquire RMW took out of the word (stored before the Release that
        // put the token in), and a lessee's flag outlives every gate that
        // may hold its token (`Lessee`).
        let busy = unsafe { &*busy };
        barrier::heavy();
        let mut wait = Wait::new();
        // Acquire: pairs with the owner's Release store of 0 on exit, so its
        // ring writes are visible to us.
        while busy.load(Ordering::Acquire) != 0 {
            wait.snooze();
        }
    }

    /// Leaves a gate entered with `try_enter` or `enter`. A submitter that
    /// has taken the lock [`LEASE_AFTER`] times in a row leaves the gate
    /// leased to itself instead of free.
    #[inline(always)]
    pub fn exit(&self, held: Held) {
        match held {
            Held::Leased(me) => Self::exit_leased(me),
            Held::Locked(who) => self.exit_locked(who),
        }
    }

    /// Leaves a gate `me` entered through its lease.
    #[inline(always)]
    pub fn exit_leased(me: Lessee) {
        // Release: everything written inside happens-before a revoker's
        // Acquire load of the flag.
        // SAFETY: `me` entered through its lease, so `me.busy` is the flag
        // of a token this gate held, valid as long as that (`Lessee`).
        unsafe { &*me.busy }.store(0, Ordering::Release);
    }

    /// Leaves a gate entered by the lock.
    #[inline(always)]
    pub fn exit_locked(&self, who: Who) {
        let next = match who {
            Who::Submitter(me) if self.leases => {
                // Only lock holders write these; Relaxed is enough.
                let token = me.token;
                let streak = if self.last.load(Ordering::Relaxed) == token {
                    self.streak.load(Ordering::Relaxed) + 1
                } else {
                    self.last.store(token, Ordering::Relaxed);
                    1
                };
                self.streak.store(streak, Ordering::Relaxed);
                if streak >= LEASE_AFTER {
                    // Relaxed: published by the Release CAS below.
                    self.owner_busy.store(me.busy as usize as u64, Ordering::Relaxed);
                    token
                } else {
                    FREE
                }
            }
            _ => FREE,
        };
        // Release, both: everything written inside happens-before the next
        // holder's (or a revoker's, or the closer's, or a flush thread's)
        // Acquire. A CAS, not a store: close() may have set CLOSED_BIT while
        // we were inside, and must not lose it.
        if self.state.compare_exchange(HELD, next, Ordering::Release, Ordering::Relaxed).is_err() {
            self.state.store(CLOSED_BIT, Ordering::Release);
        }
    }

    /// Runs `f` with the producer side of the partition to itself: holding
    /// the gate, or, once the gate is closed, with no submitter left to
    /// exclude. For the partition's one flush thread, which seals frames.
    pub fn hold<R>(&self, f: impl FnOnce() -> R) -> R {
        let mut wait = Wait::new();
        loop {
            // Acquire on failure too: reading CLOSED_BIT alone must make the
            // last holder's writes visible (module docs).
            let seen = match self.state.compare_exchange_weak(FREE, HELD, Ordering::Acquire, Ordering::Acquire) {
                Ok(_) => {
                    let _exit = Inside(self, Held::Locked(Who::Other));
                    return f();
                }
                Err(seen) => seen,
            };
            match seen {
                CLOSED_BIT => return f(),
                // Held, or closing: the holder or the closer settles it soon.
                HELD | FREE => wait.snooze(),
                _ if seen & CLOSED_BIT != 0 => wait.snooze(),
                owner => {
                    if self.revoke(owner, Who::Other) {
                        let _exit = Inside(self, Held::Locked(Who::Other));
                        return f();
                    }
                }
            }
        }
    }

    /// Closes the gate for good: no entry succeeds once this starts, and it
    /// returns once a holder inside has left (revoking a lease). Idempotent.
    pub fn close(&self) {
        // AcqRel: Acquire for what a lock holder released before we set the
        // bit; Release so a waiter that reads the bit sees our earlier writes.
        let prev = self.state.fetch_or(CLOSED_BIT, Ordering::AcqRel);
        let owner = prev & !CLOSED_BIT;
        if prev & CLOSED_BIT == 0 && owner != FREE && owner != HELD {
            // A lease: only we may settle the word now (entries, revokers and
            // the owner all find the bit). Wait for the owner, then drop its token.
            self.wait_owner_out();
            self.state.store(CLOSED_BIT, Ordering::Release);
            return;
        }
        // A lock holder (or a concurrent closer settling a lease) leaves the
        // word at CLOSED_BIT.
        let mut wait = Wait::new();
        while self.state.load(Ordering::Acquire) != CLOSED_BIT {
            wait.snooze();
        }
    }

    /// True once close() has started.
    pub fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED_BIT != 0
    }
}

/// Leaves the gate when dropped, also by unwinding, so a panic inside can
/// never leave close() waiting forever.
pub struct Inside<'a>(pub &'a SpscGate, pub Held);

impl Drop for Inside<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.0.exit(self.1);
    }
}

/// The two halves of the asymmetric fence.
#[cfg(not(loom))]
mod barrier {
    use std::sync::atomic::{compiler_fence, AtomicU8, Ordering};

    const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    /// 0 unknown, 1 available, 2 not available.
    static STATE: AtomicU8 = AtomicU8::new(0);

    /// Whether heavy() works here; registers the process on first call.
    pub fn available() -> bool {
        match STATE.load(Ordering::Relaxed) {
            1 => true,
            2 => false,
            _ => {
                // SAFETY: membarrier takes no pointers; registering twice is harmless.
                let ok = unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) } == 0;
                STATE.store(if ok { 1 } else { 2 }, Ordering::Relaxed);
                ok
            }
        }
    }

    /// The lease owner's half: keeps the compiler from reordering.
    #[inline(always)]
    pub fn light() {
        compiler_fence(Ordering::SeqCst);
    }

    /// The revoker's half: a full fence on every CPU running one of our
    /// threads. Only called once available() returned true.
    pub fn heavy() {
        // SAFETY: membarrier takes no pointers; the command only runs a
        // fence on our threads' CPUs.
        let r = unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) };
        // Registered in available(), and no lease exists otherwise; a failure
        // here would mean the kernel broke its promise: do not go on unsafely.
        assert_eq!(r, 0, "membarrier failed after registration");
    }
}

/// Under loom both halves are SeqCst fences, which is what membarrier
/// provides: a fence in the owner's thread, at some point in its run.
#[cfg(loom)]
mod barrier {
    use loom::sync::atomic::{fence, Ordering};

    pub fn available() -> bool {
        true
    }

    pub fn light() {
        fence(Ordering::SeqCst);
    }

    pub fn heavy() {
        fence(Ordering::SeqCst);
    }
}

/// Spinning, then yielding, while another thread holds the gate (under loom:
/// yielding at once, so the model checker can schedule the holder).
struct Wait {
    #[cfg(not(loom))]
    backoff: crossbeam_utils::Backoff,
}

impl Wait {
    fn new() -> Wait {
        Wait {
            #[cfg(not(loom))]
            backoff: crossbeam_utils::Backoff::new(),
        }
    }

    fn snooze(&mut self) {
        #[cfg(not(loom))]
        {
            self.backoff.snooze();
            if self.backoff.is_completed() {
                std::thread::yield_now();
            }
        }
        #[cfg(loom)]
        loom::thread::yield_now();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    thread_local! {
        /// Each test runs on its own thread: flags of its own.
        static FLAGS: [AtomicU32; 2] = const { [AtomicU32::new(0), AtomicU32::new(0)] };
    }

    fn lessee(i: usize) -> Lessee {
        FLAGS.with(|f| Lessee { token: token(i), busy: &f[i] })
    }
    fn me() -> Lessee {
        lessee(0)
    }
    fn other() -> Lessee {
        lessee(1)
    }

    /// One fast-path entry and exit as `me`: how it got in, if it did.
    fn enter_exit(gate: &SpscGate, me: Lessee) -> Option<Held> {
        let held = gate.try_enter(me)?;
        gate.exit(held);
        Some(held)
    }

    /// Takes the lock `n` times as `me`.
    fn streak(gate: &SpscGate, me: Lessee, n: u32) {
        for _ in 0..n {
            assert!(enter_exit(gate, me).is_some(), "free gate");
        }
    }

    #[test]
    fn held_gate_refuses_until_released() {
        let gate = SpscGate::new(true);
        let held = gate.try_enter(me()).unwrap();
        assert_eq!(held, Held::Locked(Who::Submitter(me())));
        assert_eq!(gate.try_enter(other()), None);
        gate.exit(held);
        assert!(enter_exit(&gate, other()).is_some());
    }

    #[test]
    fn closed_gate_refuses_for_good_and_hold_still_runs() {
        let gate = SpscGate::new(true);
        gate.close();
        gate.close();
        assert!(gate.is_closed());
        assert_eq!(gate.try_enter(me()), None);
        assert_eq!(gate.enter(Who::Submitter(me())), Entry::Closed);
        assert_eq!(gate.hold(|| 7), 7);
        assert!(gate.is_closed(), "hold on a closed gate must not reopen it");
    }

    #[test]
    fn close_waits_for_the_holder() {
        let gate = Arc::new(SpscGate::new(true));
        let held = gate.try_enter(me()).unwrap();
        let closer = {
            let gate = gate.clone();
            std::thread::spawn(move || gate.close())
        };
        std::thread::sleep(Duration::from_millis(20));
        assert!(!closer.is_finished(), "close returned while the gate was held");
        gate.exit(held);
        closer.join().unwrap();
        assert!(gate.is_closed());
    }

    #[test]
    fn a_streak_earns_a_lease_and_others_revoke_it() {
        let gate = SpscGate::new(true);
        if skipped_without_leases(&gate) {
            return;
        }
        // Another thread in the middle of the streak starts it over.
        streak(&gate, me(), LEASE_AFTER - 1);
        streak(&gate, other(), 1);
        streak(&gate, me(), LEASE_AFTER - 1);
        assert_eq!(enter_exit(&gate, me()), Some(Held::Locked(Who::Submitter(me()))));
        // That was the LEASE_AFTER-th in a row: leased. We enter without the
        // lock, others find it taken.
        let held = gate.try_enter(me()).unwrap();
        assert_eq!(held, Held::Leased(me()));
        gate.exit(held);
        assert_eq!(gate.try_enter(other()), None, "the lease excludes the fast path of others");
        // Another submitter revokes; the lease is gone, the streak starts over.
        let Entry::Held(held) = gate.enter(Who::Submitter(other())) else { panic!("open gate") };
        assert_eq!(held, Held::Locked(Who::Submitter(other())));
        gate.exit(held);
        assert_eq!(enter_exit(&gate, me()), Some(Held::Locked(Who::Submitter(me()))));
        streak(&gate, me(), LEASE_AFTER - 1);
        assert_eq!(enter_exit(&gate, me()), Some(Held::Leased(me())));
    }

    #[test]
    fn a_plain_lock_never_leases() {
        let gate = SpscGate::new(false);
        streak(&gate, me(), 2 * LEASE_AFTER);
        assert_eq!(enter_exit(&gate, me()), Some(Held::Locked(Who::Submitter(me()))));
    }

    #[test]
    fn the_owner_takes_its_lease_back_and_flush_and_close_revoke_it() {
        let gate = SpscGate::new(true);
        if skipped_without_leases(&gate) {
            return;
        }
        streak(&gate, me(), LEASE_AFTER);
        // The owner's slow path takes it back without a barrier.
        let Entry::Held(held) = gate.enter(Who::Submitter(me())) else { panic!() };
        gate.exit(held);
        // That exit re-leased it (the streak goes on).
        assert_eq!(enter_exit(&gate, me()), Some(Held::Leased(me())));
        // A flush thread revokes, and frees the gate after; the owner needs
        // a new streak for the next lease.
        assert_eq!(gate.hold(|| 5), 5);
        streak(&gate, me(), LEASE_AFTER - 1);
        assert_eq!(enter_exit(&gate, me()), Some(Held::Locked(Who::Submitter(me()))));
        assert_eq!(enter_exit(&gate, me()), Some(Held::Leased(me())));
        assert_eq!(gate.hold(|| 6), 6);
        assert_eq!(enter_exit(&gate, other()), Some(Held::Locked(Who::Submitter(other()))));
        streak(&gate, me(), LEASE_AFTER);
        gate.close();
        assert!(gate.is_closed());
        assert_eq!(gate.try_enter(me()), None);
    }

    /// True, having said so, where leases are off (no `membarrier(2)`, e.g.
    /// under some sandboxes): a lease test then has nothing to test.
    fn skipped_without_leases(gate: &SpscGate) -> bool {
        if !gate.leases {
            let test = std::thread::current().name().unwrap_or("a lease test").to_string();
            // Straight to stderr: the harness captures eprintln! of passing tests.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: membarrier(2) is not available here, so leases are off");
        }
        !gate.leases
    }

    /// A gate leased to me() with me() inside, or None where leases are off.
    fn inside_my_lease() -> Option<(Arc<SpscGate>, Held)> {
        let gate = Arc::new(SpscGate::new(true));
        if skipped_without_leases(&gate) {
            return None;
        }
        streak(&gate, me(), LEASE_AFTER);
        let held = gate.try_enter(me()).unwrap();
        assert_eq!(held, Held::Leased(me()));
        Some((gate, held))
    }

    #[test]
    fn close_waits_for_a_lease_owner_inside_and_shuts_it_out() {
        let Some((gate, held)) = inside_my_lease() else { return };
        let closer = {
            let gate = gate.clone();
            std::thread::spawn(move || gate.close())
        };
        std::thread::sleep(Duration::from_millis(20));
        assert!(!closer.is_finished(), "closed while the owner was inside");
        assert!(gate.is_closed(), "entries are refused as soon as close starts");
        gate.exit(held);
        closer.join().unwrap();
        assert_eq!(gate.state.load(Ordering::Relaxed), CLOSED_BIT);
        assert_eq!(gate.try_enter(me()), None);
        assert_eq!(gate.enter(Who::Submitter(me())), Entry::Closed);
        assert_eq!(gate.hold(|| 3), 3);
    }

    #[test]
    fn a_revoker_waits_for_the_owner_inside() {
        let Some((gate, held)) = inside_my_lease() else { return };
        let revoker = {
            let gate = gate.clone();
            std::thread::spawn(move || gate.hold(|| ()))
        };
        std::thread::sleep(Duration::from_millis(20));
        assert!(!revoker.is_finished(), "revoked while the owner was inside");
        gate.exit(held);
        revoker.join().unwrap();
        assert_eq!(enter_exit(&gate, me()), Some(Held::Locked(Who::Submitter(me()))));
    }
}
