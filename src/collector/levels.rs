//! The per-level flush configs (N, T, flush-when-idle), readable at run time
//! and changeable per level by calibration.
//!
//! Each level's config is one packed word, so a reader (a flush thread,
//! status) never sees N of one config with T of another. The config in
//! force is a copy of the current level's word, taken by the window owner
//! (flush thread 0) when the level or that level's entry changes.

use crate::calibration::BatchConfig;
use crate::pressure::PressureLevel;
use std::sync::atomic::{AtomicU64, Ordering};

/// Largest T a packed word holds: 2^31 - 1 us, about 35 minutes (the
/// largest budget is 30 s).
const MAX_INTERVAL_US: u64 = (1 << 31) - 1;
const IDLE_BIT: u64 = 1 << 63;

/// N in bits 0..32, T (us) in bits 32..63, flush-when-idle in bit 63.
pub(crate) fn pack(c: BatchConfig) -> u64 {
    let n = c.batch_events.clamp(1, u32::MAX as u64);
    let t = c.interval_us.min(MAX_INTERVAL_US);
    n | t << 32 | if c.idle_flush { IDLE_BIT } else { 0 }
}

pub(crate) fn unpack(word: u64) -> BatchConfig {
    BatchConfig {
        batch_events: word & 0xFFFF_FFFF,
        interval_us: (word >> 32) & MAX_INTERVAL_US,
        idle_flush: word & IDLE_BIT != 0,
    }
}

/// One packed config per level.
pub(crate) struct LevelTable {
    entries: [AtomicU64; 10],
    /// `batch.max.events`: no entry's N exceeds it.
    batch_max_events: u64,
}

impl LevelTable {
    /// Every level at its bootstrap config.
    pub(crate) fn new(batch_max_events: u64) -> LevelTable {
        let table = LevelTable { entries: Default::default(), batch_max_events };
        for level in PressureLevel::ALL {
            table.set(level, BatchConfig::bootstrap(level, batch_max_events));
        }
        table
    }

    pub(crate) fn get(&self, level: PressureLevel) -> BatchConfig {
        unpack(self.word(level))
    }

    pub(crate) fn word(&self, level: PressureLevel) -> u64 {
        self.entries[level.number() as usize - 1].load(Ordering::Relaxed)
    }

    /// Replaces `level`'s config (N capped by `batch.max.events`).
    pub(crate) fn set(&self, level: PressureLevel, mut config: BatchConfig) {
        config.batch_events = config.batch_events.clamp(1, self.batch_max_events.max(1));
        self.entries[level.number() as usize - 1].store(pack(config), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_and_clamps() {
        for c in [
            BatchConfig { batch_events: 1, interval_us: 0, idle_flush: false },
            BatchConfig { batch_events: 30_000_000, interval_us: 15_000_000, idle_flush: true },
            BatchConfig { batch_events: u32::MAX as u64, interval_us: MAX_INTERVAL_US, idle_flush: true },
        ] {
            assert_eq!(unpack(pack(c)), c);
        }
        let big = BatchConfig { batch_events: u64::MAX, interval_us: u64::MAX, idle_flush: false };
        assert_eq!(unpack(pack(big)), BatchConfig { batch_events: u32::MAX as u64, interval_us: MAX_INTERVAL_US, idle_flush: false });
    }

    #[test]
    fn the_table_starts_at_bootstrap_and_caps_n() {
        let t = LevelTable::new(5_000);
        assert_eq!(t.get(PressureLevel::L1Realtime), BatchConfig::bootstrap(PressureLevel::L1Realtime, 5_000));
        assert_eq!(t.get(PressureLevel::L10Max).batch_events, 5_000);
        let c = BatchConfig { batch_events: 9_999, interval_us: 7, idle_flush: true };
        t.set(PressureLevel::L3Low, c);
        assert_eq!(t.get(PressureLevel::L3Low), BatchConfig { batch_events: 5_000, ..c });
    }
}
