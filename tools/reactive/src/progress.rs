//! Progress while a brochure runs: which cell, elapsed and remaining time,
//! live events/s and p99. A bar on a terminal; plain lines every ~2 s when
//! stderr is not one (CI logs).

use crate::measure::Live;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Shared with the ticker thread.
struct State {
    cell: String,
    index: usize,
    cell_started: Instant,
    /// Estimated seconds of the cells not yet started (and of the current one).
    remaining_after: f64,
    cell_seconds: f64,
}

pub struct Progress {
    brochure: String,
    cells: usize,
    started: Instant,
    live: Arc<Live>,
    state: Arc<Mutex<State>>,
    bar: Option<ProgressBar>,
    stop: Arc<AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

/// 12.3k, 4.56M: live figures at a glance.
fn rate(events_per_sec: f64) -> String {
    match events_per_sec {
        r if r >= 1e6 => format!("{:.2}M", r / 1e6),
        r if r >= 1e3 => format!("{:.1}k", r / 1e3),
        r => format!("{r:.0}"),
    }
}

fn micros(us: f64) -> String {
    match us {
        u if u >= 1e6 => format!("{:.2} s", u / 1e6),
        u if u >= 1e3 => format!("{:.1} ms", u / 1e3),
        u => format!("{u:.0} us"),
    }
}

fn secs(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

impl Progress {
    /// `seconds`: each cell's expected length, in run order.
    pub fn start(brochure: &str, seconds: &[f64], live: Arc<Live>) -> Progress {
        let total: f64 = seconds.iter().sum();
        let state = Arc::new(Mutex::new(State {
            cell: String::new(),
            index: 0,
            cell_started: Instant::now(),
            remaining_after: total,
            cell_seconds: 0.0,
        }));
        let terminal = std::io::stderr().is_terminal();
        let bar = terminal.then(|| {
            let bar = ProgressBar::new(seconds.len() as u64);
            bar.set_style(
                ProgressStyle::with_template("{prefix:.bold} [{bar:24.cyan/blue}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_prefix(brochure.to_string());
            bar
        });
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let ticker = {
            let (state, live, stop, bar, cells, name) =
                (state.clone(), live.clone(), stop.clone(), bar.clone(), seconds.len(), brochure.to_string());
            std::thread::spawn(move || {
                let period = if bar.is_some() { Duration::from_millis(200) } else { Duration::from_secs(2) };
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(period);
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let s = state.lock().unwrap();
                    let in_cell = s.cell_started.elapsed().as_secs_f64();
                    let remaining = s.remaining_after - in_cell.min(s.cell_seconds);
                    let (events, p99) = live.get();
                    let line = format!(
                        "cell {}/{cells} {} | {} elapsed, ~{} left | {} events/s, p99 {}",
                        s.index + 1,
                        s.cell,
                        secs(started.elapsed().as_secs_f64()),
                        secs(remaining),
                        rate(events),
                        micros(p99)
                    );
                    match &bar {
                        Some(bar) => bar.set_message(line),
                        None => eprintln!("[{name}] {line}"),
                    }
                }
            })
        };
        Progress { brochure: brochure.to_string(), cells: seconds.len(), started, live, state, bar, stop, ticker: Some(ticker) }
    }

    pub fn cell_started(&self, index: usize, name: &str, seconds: f64, remaining_including: f64) {
        self.live.reset();
        let mut s = self.state.lock().unwrap();
        *s = State { cell: name.to_string(), index, cell_started: Instant::now(), remaining_after: remaining_including, cell_seconds: seconds };
        if self.bar.is_none() {
            eprintln!("[{}] cell {}/{} {name} (~{})", self.brochure, index + 1, self.cells, secs(seconds));
        }
    }

    /// A finished cell's one-line summary, printed above the bar.
    pub fn cell_done(&self, summary: &str) {
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.println(summary);
            }
            None => eprintln!("[{}] {summary}", self.brochure),
        }
    }

    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        eprintln!("[{}] {} cells in {}", self.brochure, self.cells, secs(self.started.elapsed().as_secs_f64()));
    }
}
