//! The terminal's side-by-side table (the demo's first screen) and the
//! number formats every part of the report shares.

use super::{row_key, row_keys, series};
use crate::results::{Results, Run};

/// The widest line the table prints.
const WIDTH: usize = 120;
/// The row label's column.
const LABEL: usize = 14;
/// One impl x variant column: "events/s p99".
const CELL: usize = 17;
/// One Rust/Java ratio column (the variant above "rust/java").
const RATIO: usize = 12;

/// Events per second, short: `950`, `12.3k`, `1.25M`.
pub fn rate(events_per_sec: f64) -> String {
    let v = events_per_sec;
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e5 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if v >= 1e3 {
        format!("{:.2}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// A duration given in microseconds, in the unit that reads best.
pub fn micros(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.2}s", us / 1e6)
    } else if us >= 1e4 {
        format!("{:.0}ms", us / 1e3)
    } else if us >= 1e3 {
        format!("{:.1}ms", us / 1e3)
    } else {
        format!("{us:.0}µs")
    }
}

/// A column: one impl x variant, or the Rust/Java ratio of one variant.
enum Column {
    Cell { implementation: String, variant: String },
    Ratio { variant: String },
}

impl Column {
    fn width(&self) -> usize {
        match self {
            Column::Cell { .. } => CELL,
            Column::Ratio { .. } => RATIO,
        }
    }
    fn title(&self) -> (String, String) {
        match self {
            Column::Cell { implementation, variant } => (format!("{implementation} {variant}"), "events/s    p99".into()),
            Column::Ratio { variant } => (variant.clone(), "rust/java".into()),
        }
    }
}

fn find<'a>(runs: &'a [Run], key: &str, implementation: &str, variant: &str) -> Option<&'a Run> {
    runs.iter().find(|r| row_key(r) == key && r.implementation == implementation && r.variant == variant)
}

/// Cut to `width` characters (a long variant name must not shift the grid).
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        text.chars().take(width - 1).chain(std::iter::once('…')).collect()
    }
}

/// One row per level (or step), one column per impl x variant with achieved
/// events/s and p99 (`!` past the level's budget), then the Rust/Java
/// events/s ratio of each variant both ran. Columns that do not fit in 120
/// characters continue in a further block below.
pub fn side_by_side_table(results: &Results) -> String {
    let runs = &results.runs;
    let mut columns: Vec<Column> = series(runs)
        .into_iter()
        .map(|(implementation, variant)| Column::Cell { implementation, variant })
        .collect();
    let mut both: Vec<String> = Vec::new();
    for (implementation, variant) in series(runs) {
        let other = if implementation == "rust" { "java" } else { "rust" };
        if !both.contains(&variant) && series(runs).iter().any(|(i, v)| i == other && *v == variant) {
            both.push(variant);
        }
    }
    columns.extend(both.into_iter().map(|variant| Column::Ratio { variant }));

    let mut out = String::new();
    out.push_str(&format!(
        "{}: {} cells, broker {}{}\n",
        results.brochure,
        runs.len(),
        results.environment.broker,
        if results.quick { ", quick (indicative figures)" } else { "" }
    ));
    if runs.is_empty() {
        out.push_str("(no cells ran)\n");
        return out;
    }
    let keys = row_keys(runs);
    let mut start = 0;
    while start < columns.len() {
        let mut end = start;
        let mut used = LABEL;
        while end < columns.len() && (end == start || used + 1 + columns[end].width() <= WIDTH) {
            used += 1 + columns[end].width();
            end += 1;
        }
        let block = &columns[start..end];
        out.push('\n');
        let (mut top, mut bottom) = (format!("{:<LABEL$}", "level"), format!("{:<LABEL$}", ""));
        for c in block {
            let (t, b) = c.title();
            let w = c.width();
            top.push_str(&format!(" {:>w$}", fit(&t, w)));
            bottom.push_str(&format!(" {b:>w$}"));
        }
        out.push_str(top.trim_end());
        out.push('\n');
        out.push_str(bottom.trim_end());
        out.push('\n');
        for key in &keys {
            let mut line = format!("{:<LABEL$}", fit(key, LABEL));
            for c in block {
                let text = match c {
                    Column::Cell { implementation, variant } => match find(runs, key, implementation, variant) {
                        Some(r) => {
                            let mark = if r.budget_pass { " " } else { "!" };
                            format!("{:>8} {:>7}{mark}", rate(r.achieved_events_per_sec), micros(r.latency.p99_us))
                        }
                        None => "-".into(),
                    },
                    Column::Ratio { variant } => {
                        match (find(runs, key, "rust", variant), find(runs, key, "java", variant)) {
                            (Some(r), Some(j)) if j.achieved_events_per_sec > 0.0 => {
                                format!("{:.2}x", r.achieved_events_per_sec / j.achieved_events_per_sec)
                            }
                            _ => "-".into(),
                        }
                    }
                };
                let w = c.width();
                line.push_str(&format!(" {text:>w$}"));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        start = end;
    }
    if runs.iter().any(|r| !r.budget_pass) {
        out.push_str("\n! p99 over the level's budget\n");
    }
    out
}
