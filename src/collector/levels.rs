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
    /// `batch.linger.ms` in us: every entry's T, whatever is set (bootstrap,
    /// learned, tried), so calibration tunes N and flush-when-idle only.
    fixed_interval_us: Option<u64>,
}

impl LevelTable {
    /// Every level at its bootstrap config, with T fixed at `fixed_interval`
    /// when given.
    pub(crate) fn new(batch_max_events: u64, fixed_interval: Option<std::time::Duration>) -> LevelTable {
        let fixed_interval_us = fixed_interval.map(|t| t.as_micros().min(MAX_INTERVAL_US as u128) as u64);
        let table = LevelTable { entries: Default::default(), batch_max_events, fixed_interval_us };
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

    /// Replaces `level`'s config (N capped by `batch.max.events`, T replaced
    /// by `batch.linger.ms` when set). Never on the submit path.
    pub(crate) fn set(&self, level: PressureLevel, mut config: BatchConfig) {
        config.batch_events = config.batch_events.clamp(1, self.batch_max_events.max(1));
        if let Some(t) = self.fixed_interval_us {
            config.interval_us = t;
        }
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
        let t = LevelTable::new(5_000, None);
        assert_eq!(t.get(PressureLevel::L1Realtime), BatchConfig::bootstrap(PressureLevel::L1Realtime, 5_000));
        assert_eq!(t.get(PressureLevel::L10Max).batch_events, 5_000);
        let c = BatchConfig { batch_events: 9_999, interval_us: 7, idle_flush: true };
        t.set(PressureLevel::L3Low, c);
        assert_eq!(t.get(PressureLevel::L3Low), BatchConfig { batch_events: 5_000, ..c });
    }

    #[test]
    fn a_fixed_linger_is_every_levels_t_whatever_is_set() {
        let t = LevelTable::new(5_000, Some(std::time::Duration::from_millis(100)));
        for level in PressureLevel::ALL {
            assert_eq!(t.get(level).interval_us, 100_000, "{level}");
        }
        t.set(PressureLevel::L7High, BatchConfig { batch_events: 7, interval_us: 3, idle_flush: true });
        assert_eq!(t.get(PressureLevel::L7High), BatchConfig { batch_events: 7, interval_us: 100_000, idle_flush: true });
    }
}
