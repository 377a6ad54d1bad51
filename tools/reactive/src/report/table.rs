//! The terminal's side-by-side table (the demo's first screen) and the
//! number formats every part of the report shares.

use super::{row_key, row_keys, series};
use crate::results::{Results, Run};

/// The widest line the table prints.
const WIDTH: usize = 120;
/// The row label's column (`L6_THROUGHPUT` fits).
const LABEL: usize = 13;
/// One impl x variant column: events/s (6), p99 (5), the over-budget mark.
const CELL: usize = 13;
/// One Rust/Java ratio column.
const RATIO: usize = 9;
/// Names longer than this are cut.
const NAME: usize = 24;

/// `2.50` -> `2.5`, `1.00` -> `1`: a figure with its trailing zeros cut.
fn trim(number: String) -> String {
    if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        number
    }
}

/// Events per second, short: `950`, `12.3k`, `1.25M`.
pub fn rate(events_per_sec: f64) -> String {
    let (n, unit) = rate_parts(events_per_sec);
    trim(n) + unit
}

fn rate_parts(v: f64) -> (String, &'static str) {
    if v >= 1e6 {
        (format!("{:.2}", v / 1e6), "M")
    } else if v >= 1e5 {
        (format!("{:.0}", v / 1e3), "k")
    } else if v >= 1e4 {
        (format!("{:.1}", v / 1e3), "k")
    } else if v >= 1e3 {
        (format!("{:.2}", v / 1e3), "k")
    } else {
        (format!("{v:.0}"), "")
    }
}

/// A duration given in microseconds, in the unit that reads best.
pub fn micros(us: f64) -> String {
    let (n, unit) = if us >= 1e7 {
        (format!("{:.0}", us / 1e6), "s")
    } else if us >= 1e6 {
        (format!("{:.1}", us / 1e6), "s")
    } else if us >= 1e4 {
        (format!("{:.0}", us / 1e3), "ms")
    } else if us >= 1e3 {
        (format!("{:.1}", us / 1e3), "ms")
    } else {
        (format!("{us:.0}"), "µs")
    };
    trim(n) + unit
}

/// A column: one impl x variant, or the Rust/Java ratio of one variant.
enum Column {
    Cell { implementation: String, variant: String },
    Ratio { variant: String },
}

impl Column {
    /// Wide enough for its names (up to `NAME`), at least its figures.
    fn width(&self) -> usize {
        let (least, names) = match self {
            Column::Cell { implementation, variant } => (CELL, implementation.chars().count().max(variant.chars().count())),
            Column::Ratio { variant } => (RATIO, variant.chars().count()),
        };
        least.max(names.min(NAME))
    }
    /// The three header lines: who, which variant, what the figures are.
    fn title(&self) -> [String; 3] {
        match self {
            Column::Cell { implementation, variant } => [implementation.clone(), variant.clone(), "ev/s   p99 ".into()],
            Column::Ratio { variant } => ["rust/java".into(), variant.clone(), "ev/s".into()],
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
/// events/s ratio of each variant both `rust` and `java` ran (`rust-jni`, the
/// Rust collector behind the Java API, has its own columns but no ratio). Columns that do not fit in 120
/// characters continue in a further block below.
pub fn side_by_side_table(results: &Results) -> String {
    let runs = &results.runs;
    let mut columns: Vec<Column> = series(runs)
        .into_iter()
        .map(|(implementation, variant)| Column::Cell { implementation, variant })
        .collect();
    let mut both: Vec<String> = Vec::new();
    for (implementation, variant) in series(runs) {
        if implementation == "rust" && !both.contains(&variant) && series(runs).iter().any(|(i, v)| i == "java" && *v == variant) {
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
        let mut header = [format!("{:<LABEL$}", ""), format!("{:<LABEL$}", ""), format!("{:<LABEL$}", "level")];
        for c in block {
            let w = c.width();
            for (line, text) in header.iter_mut().zip(c.title()) {
                line.push_str(&format!(" {:>w$}", fit(&text, w)));
            }
        }
        for line in header {
            out.push_str(line.trim_end());
            out.push('\n');
        }
        for key in &keys {
            let mut line = format!("{:<LABEL$}", fit(key, LABEL));
            for c in block {
                let text = match c {
                    Column::Cell { implementation, variant } => match find(runs, key, implementation, variant) {
                        Some(r) => {
                            let mark = if r.budget_pass { " " } else { "!" };
                            format!("{:>6} {:>5}{mark}", rate(r.achieved_events_per_sec), micros(r.latency.p99_us))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_short_in_the_unit_that_fits() {
        assert_eq!(rate(950.0), "950");
        assert_eq!(rate(2_000.0), "2k");
        assert_eq!(rate(66_666.7), "66.7k");
        assert_eq!(rate(250_000.0), "250k");
        assert_eq!(rate(1_250_000.0), "1.25M");
        assert_eq!(micros(850.0), "850µs");
        assert_eq!(micros(1_500.0), "1.5ms");
        assert_eq!(micros(40_000.0), "40ms");
        assert_eq!(micros(1_000_000.0), "1s");
        assert_eq!(micros(45_000_000.0), "45s");
    }
}
