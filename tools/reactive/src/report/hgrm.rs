//! `.hgrm` percentile files: the text HdrHistogram's Java
//! `outputPercentileDistribution(out, 5, 1.0)` prints, so a Rust cell's file
//! and a Java cell's file are read, compared and plotted the same way (and
//! HdrHistogram's own online plotter opens both).

use crate::results::Latency;
use hdrhistogram::Histogram;
use std::fmt::Write as _;
use std::path::Path;

/// Percentile ticks per half distance to 100%, as HdrHistogram's examples use.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// Writes `hist` (values in microseconds) as a percentile distribution file.
pub fn write_hgrm(hist: &Histogram<u64>, path: &Path) -> std::io::Result<()> {
    std::fs::write(path, format_hgrm(hist))
}

/// The file's text; see `write_hgrm`.
pub fn format_hgrm(hist: &Histogram<u64>) -> String {
    // Java prints values with as many decimals as the histogram has
    // significant digits (the scaling ratio 1.0 makes them all zeros).
    let digits = hist.sigfig() as usize;
    let mut out = String::new();
    let _ = write!(out, "{:>12} {:>14} {:>10} {:>14}\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
    let mut total: u64 = 0;
    if !hist.is_empty() {
        for v in hist.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                let _ = writeln!(out, "{value:>12.digits$} {q:2.12} {total:>10} {:>14.2}", 1.0 / (1.0 - q));
            } else {
                let _ = writeln!(out, "{value:>12.digits$} {q:2.12} {total:>10}");
            }
        }
    }
    let (mean, stdev, max) = if hist.is_empty() { (0.0, 0.0, 0.0) } else { (hist.mean(), hist.stdev(), hist.max() as f64) };
    let _ = writeln!(out, "#[Mean    = {mean:>12.digits$}, StdDeviation   = {stdev:>12.digits$}]");
    let _ = writeln!(out, "#[Max     = {max:>12.digits$}, Total count    = {:>12}]", hist.len());
    let _ = writeln!(out, "#[Buckets = {:>12}, SubBuckets     = {:>12}]", hist.buckets(), sub_buckets(hist.sigfig()));
    out
}

/// HdrHistogram's sub-bucket count for a precision: the power of two that
/// holds 2 x 10^sigfig values at unit resolution.
fn sub_buckets(sigfig: u8) -> u64 {
    let single_unit = 2 * 10u64.pow(sigfig as u32);
    single_unit.next_power_of_two()
}

/// Reads a percentile distribution file (ours or Java's) as
/// (value in microseconds, percentile in 0..=1) points, in file order.
pub fn read_hgrm(path: &Path) -> Result<Vec<(f64, f64)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_hgrm(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// See `read_hgrm`: header and footer lines are skipped, every other
/// non-blank line must start with a value and a percentile.
pub fn parse_hgrm(text: &str) -> Result<Vec<(f64, f64)>, String> {
    let mut points = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("Value") {
            continue;
        }
        let mut fields = line.split_whitespace();
        let parse = |f: Option<&str>, what: &str| -> Result<f64, String> {
            let f = f.ok_or_else(|| format!("line {}: no {what}", n + 1))?;
            f.parse::<f64>().map_err(|_| format!("line {}: `{f}` is not a {what}", n + 1))
        };
        let value = parse(fields.next(), "value")?;
        let percentile = parse(fields.next(), "percentile")?;
        if !(0.0..=1.0).contains(&percentile) {
            return Err(format!("line {}: percentile {percentile} outside 0..1", n + 1));
        }
        points.push((value, percentile));
    }
    if points.is_empty() {
        return Err("no percentile rows".into());
    }
    Ok(points)
}

/// The percentiles a report shows, in microseconds (the histogram records
/// microseconds). An empty histogram reads as all zeros.
pub fn latency_of(hist: &Histogram<u64>) -> Latency {
    if hist.is_empty() {
        return Latency::default();
    }
    let at = |q: f64| hist.value_at_quantile(q) as f64;
    Latency {
        p50_us: at(0.50),
        p90_us: at(0.90),
        p99_us: at(0.99),
        p999_us: at(0.999),
        p9999_us: at(0.9999),
        max_us: hist.max() as f64,
        count: hist.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        // A long tail: most waits near 1 ms, a few near 50 ms.
        for i in 0..10_000u64 {
            h.record(800 + (i % 400)).unwrap();
        }
        for i in 0..100u64 {
            h.record(40_000 + i * 100).unwrap();
        }
        h
    }

    /// The value the file gives for percentile q: the first row at or above q.
    fn value_at(points: &[(f64, f64)], q: f64) -> f64 {
        points.iter().find(|(_, p)| *p >= q).map(|(v, _)| *v).unwrap()
    }

    #[test]
    fn round_trip_matches_the_histogram_within_its_precision() {
        let h = sample();
        let path = std::env::temp_dir().join(format!("reactive-hgrm-{}.hgrm", std::process::id()));
        write_hgrm(&h, &path).unwrap();
        let points = read_hgrm(&path).unwrap();
        std::fs::remove_file(&path).ok();
        assert!(points.windows(2).all(|w| w[0].1 <= w[1].1 && w[0].0 <= w[1].0), "rows ascend");
        assert_eq!(points.last().unwrap().1, 1.0);
        assert_eq!(points.last().unwrap().0, h.max() as f64);
        for q in [0.5, 0.9, 0.99] {
            let expected = h.value_at_quantile(q) as f64;
            let got = value_at(&points, q);
            // The file's rows fall on percentile ticks, not exactly at q: the
            // row at or above q is within one tick, i.e. within the value range
            // between q and the next tick; HDR's 3 digits bound each value.
            let precision = h.equivalent_range(expected as u64) as f64;
            assert!(got >= expected - precision, "p{q}: file {got} < histogram {expected}");
            let next_tick = h.value_at_quantile(q + (1.0 - q) / 10.0) as f64;
            assert!(got <= next_tick + precision, "p{q}: file {got} beyond {next_tick}");
        }
        let text = format_hgrm(&h);
        assert!(text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"), "{text}");
        assert!(text.contains("#[Max     = "), "{text}");
        assert!(text.contains("Total count    =        10100]"), "{text}");
    }

    #[test]
    fn reads_java_hdrhistogram_output() {
        // As Java HdrHistogram 2.1 prints outputPercentileDistribution(System.out, 5, 1.0).
        let java = "       Value     Percentile TotalCount 1/(1-Percentile)\n\
\n\
     112.000 0.000000000000          1           1.00\n\
     143.000 0.100000000000       1013           1.11\n\
     171.000 0.500000000000       5011           2.00\n\
     455.000 0.900000000000       9003          10.00\n\
    1503.000 0.990625000000       9907         106.67\n\
    7011.000 0.999023437500       9991        1024.00\n\
   15007.000 1.000000000000      10000\n\
#[Mean    =      233.118, StdDeviation   =      412.550]\n\
#[Max     =    15007.000, Total count    =        10000]\n\
#[Buckets =           15, SubBuckets     =           2048]\n";
        let points = parse_hgrm(java).unwrap();
        assert_eq!(points.len(), 7);
        assert_eq!(points[0], (112.0, 0.0));
        assert_eq!(points[2], (171.0, 0.5));
        assert_eq!(points[4], (1503.0, 0.990625));
        assert_eq!(points[6], (15007.0, 1.0));
    }

    #[test]
    fn rejects_a_file_without_rows() {
        assert!(parse_hgrm("       Value     Percentile TotalCount 1/(1-Percentile)\n\n#[Mean = 0]\n").is_err());
        assert!(parse_hgrm("abc 0.5 1 2\n").unwrap_err().contains("not a value"));
    }

    #[test]
    fn latency_reads_percentiles_in_microseconds() {
        let h = sample();
        let l = latency_of(&h);
        assert_eq!(l.count, 10_100);
        assert!((800.0..=1200.0).contains(&l.p50_us), "{l:?}");
        assert!(l.p999_us >= 40_000.0, "{l:?}");
        assert_eq!(l.max_us, h.max() as f64);
        assert_eq!(latency_of(&Histogram::<u64>::new(3).unwrap()).count, 0);
    }
}
