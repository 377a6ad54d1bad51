//! When each event is meant to be sent: the offered load as a function from
//! an event's index to its intended send time.
//!
//! Latency is measured from the intended time, not from the moment the
//! submitting thread got round to it, so a stalled collector cannot hide its
//! stall by slowing the load down (coordinated omission). Producer thread k
//! of P sends events k, k + P, k + 2P, ...: each thread's own events are
//! P / rate apart and the threads interleave.

/// One stretch of constant rate.
#[derive(Debug, Clone, PartialEq)]
struct Segment {
    /// Seconds after the cell's start.
    start_s: f64,
    rate: f64,
    /// Index of the segment's first event.
    first: u64,
    /// Events in the segment.
    count: u64,
}

/// A piecewise-constant rate: the warm-up, then the measured steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    segments: Vec<Segment>,
    end_s: f64,
}

impl Schedule {
    /// `(rate, seconds)` stretches one after the other from t = 0. A rate of
    /// 0 offers nothing for its seconds.
    pub fn new(stretches: &[(f64, f64)]) -> Schedule {
        let mut segments = Vec::with_capacity(stretches.len());
        let (mut start_s, mut first) = (0.0, 0u64);
        for &(rate, seconds) in stretches {
            let rate = rate.max(0.0);
            let count = (rate * seconds).round() as u64;
            segments.push(Segment { start_s, rate, first, count });
            start_s += seconds;
            first += count;
        }
        Schedule { segments, end_s: start_s }
    }

    /// Intended send time of event `index`, seconds after the cell's start;
    /// None past the end of the schedule.
    pub fn intended_s(&self, index: u64) -> Option<f64> {
        // Few segments: a linear scan is cheaper than a search.
        let s = self.segments.iter().find(|s| index >= s.first && index < s.first + s.count)?;
        Some(s.start_s + (index - s.first) as f64 / s.rate)
    }

    /// The offered rate at `t_s`, None outside the schedule.
    pub fn rate_at(&self, t_s: f64) -> Option<f64> {
        self.segments.iter().rev().find(|s| t_s >= s.start_s).filter(|_| t_s < self.end_s).map(|s| s.rate)
    }

    /// Events the whole schedule offers.
    #[cfg(test)]
    pub fn total_events(&self) -> u64 {
        self.segments.last().map_or(0, |s| s.first + s.count)
    }

    /// Seconds from the first stretch's start to the last one's end.
    pub fn end_s(&self) -> f64 {
        self.end_s
    }
}

/// The rate that keeps a collector choosing `level`: the geometric middle of
/// the level's band (the band is wide and the levels are spaced by factors,
/// so the middle on a log scale is the furthest from both edges). L1's band
/// starts at 0: its middle is taken from 1 event/s; L10's has no end: twice
/// its start.
pub fn band_rate(level: microbatch::PressureLevel) -> f64 {
    let low = level.min_rate().max(1.0);
    let high = microbatch::PressureLevel::from_number(level.number() + 1).map_or(low * 4.0, |next| next.min_rate());
    (low * high).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use microbatch::PressureLevel;

    #[test]
    fn events_are_spread_evenly_and_stop_at_the_end() {
        let s = Schedule::new(&[(1000.0, 1.0)]);
        assert_eq!(s.total_events(), 1000);
        assert_eq!(s.intended_s(0), Some(0.0));
        assert_eq!(s.intended_s(500), Some(0.5));
        assert_eq!(s.intended_s(999), Some(0.999));
        assert_eq!(s.intended_s(1000), None);
    }

    #[test]
    fn producer_k_of_p_gets_every_pth_event_p_over_rate_apart() {
        let s = Schedule::new(&[(100.0, 10.0)]);
        let (p, k) = (4u64, 1u64);
        let times: Vec<f64> = (0..3).map(|j| s.intended_s(k + j * p).unwrap()).collect();
        assert_eq!(times, vec![0.01, 0.05, 0.09]);
    }

    #[test]
    fn steps_follow_each_other_with_their_own_rates() {
        let s = Schedule::new(&[(10.0, 1.0), (100.0, 2.0), (0.0, 1.0), (50.0, 1.0)]);
        assert_eq!(s.total_events(), 10 + 200 + 50);
        assert_eq!(s.intended_s(9), Some(0.9));
        assert_eq!(s.intended_s(10), Some(1.0));
        assert!((s.intended_s(11).unwrap() - 1.01).abs() < 1e-12);
        assert_eq!(s.intended_s(210), Some(4.0), "the pause offers nothing");
        assert_eq!((s.rate_at(0.5), s.rate_at(2.9), s.rate_at(3.5), s.rate_at(4.5)), (Some(10.0), Some(100.0), Some(0.0), Some(50.0)));
        assert_eq!((s.rate_at(5.0), s.end_s()), (None, 5.0));
    }

    #[test]
    fn band_rates_sit_inside_their_band() {
        for level in PressureLevel::ALL {
            let r = band_rate(level);
            assert_eq!(PressureLevel::from_rate(r), level, "{level}: {r}");
        }
        assert!((band_rate(PressureLevel::L4Moderate) - 1000.0).abs() < 1e-9);
    }
}
