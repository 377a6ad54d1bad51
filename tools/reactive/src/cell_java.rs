//! Java cells (`java`, `rust-jni`): the JVM harness
//! `com.reactive.platform.kafka.benchmark.BrochureCell SPEC.properties` runs
//! the cell and writes its result JSON and `.hgrm`; this side writes the
//! spec, relays the harness's progress lines and reads the result.

use crate::cell::Cell;
use crate::measure::Live;
use crate::results::{Latency, Run, TimelinePoint};
use serde::Deserialize;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

pub const MAIN_CLASS: &str = "com.reactive.platform.kafka.benchmark.BrochureCell";

/// What the JVM needs: the classpath and, for `rust-jni`, the native library.
pub struct Jvm {
    pub classpath: String,
    pub native_library: PathBuf,
}

/// The harness's result file.
#[derive(Debug, Deserialize)]
struct CellResult {
    achieved_events_per_sec: f64,
    mb_per_sec: f64,
    wire_bytes_per_sec: Option<f64>,
    cpu_ms_per_million: Option<f64>,
    submitted: u64,
    delivered: u64,
    failed: u64,
    rejected: u64,
    latency: Latency,
    schedule_delay_p50_us: Option<f64>,
    note: Option<String>,
    jdk: Option<String>,
    #[serde(default)]
    timeline: Vec<TimelinePoint>,
}

/// What a Java cell measured; its `.hgrm` is already written.
pub struct JavaMeasured {
    pub run: Run,
    pub timeline: Vec<TimelinePoint>,
    pub jdk: Option<String>,
}

/// A `.properties` value, escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\n', "\\n")
}

/// The spec file's text for `cell` against `broker` (`mock` or host:port).
pub fn spec(cell: &Cell, broker: &str, topic: &str, hgrm: &Path, result: &Path) -> String {
    let w = &cell.load;
    let mut lines = vec![
        format!("impl={}", cell.implementation().name()),
        format!("mode={}", cell.mode_name()),
        format!("level={}", cell.level_name()),
        format!("event_bytes={}", w.event_bytes),
        format!("payload={}", match w.payload {
            crate::brochure::Payload::Json => "json",
            crate::brochure::Payload::Random => "random",
        }),
        format!("producers={}", w.producers),
        format!("warmup_s={}", w.measure_from_s),
        format!("duration_s={}", w.end_s - w.measure_from_s),
        format!("rate={}", cell.offered.map(|r| format!("{r:.3}")).unwrap_or_default()),
        format!("steps={}", cell.steps.iter().map(|(r, d)| format!("{r}:{d}")).collect::<Vec<_>>().join(",")),
        format!("timeline_ms={}", cell.timeline_ms.map(|t| t.to_string()).unwrap_or_default()),
        format!("broker={}", escape(broker)),
        format!("topic={}", escape(topic)),
        format!("hgrm={}", escape(&hgrm.display().to_string())),
        format!("result={}", escape(&result.display().to_string())),
    ];
    for (k, v) in &cell.resolved.keys {
        lines.push(format!("config.{k}={}", escape(v)));
    }
    lines.join("\n") + "\n"
}

/// `progress t_s=1.0 events_per_sec=123.4 p99_us=567`
fn parse_progress(line: &str) -> Option<(f64, f64)> {
    let rest = line.strip_prefix("progress ")?;
    let field = |name: &str| {
        rest.split_whitespace().find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse::<f64>().ok())
    };
    Some((field("events_per_sec")?, field("p99_us")?))
}

pub fn run(cell: &Cell, jvm: &Jvm, broker: &str, topic: &str, work: &Path, live: &Arc<Live>) -> Result<JavaMeasured, String> {
    let stem = format!("{}-{}", cell.implementation().name(), cell.name.replace('/', "-"));
    let spec_path = work.join(format!("{stem}.properties"));
    let result_path = work.join(format!("{stem}.result.json"));
    let _ = std::fs::remove_file(&result_path);
    std::fs::write(&spec_path, spec(cell, broker, topic, &cell.hgrm_path, &result_path))
        .map_err(|e| format!("cannot write {}: {e}", spec_path.display()))?;
    let mut child = Command::new("java")
        .arg(format!("-Dmicrobatch.native.path={}", jvm.native_library.display()))
        .arg("-cp")
        .arg(&jvm.classpath)
        .arg(MAIN_CLASS)
        .arg(&spec_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: cannot start java: {e}", cell.name))?;
    let stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let mut other_output = Vec::new();
    for line in BufReader::new(child.stdout.take().expect("piped")).lines().map_while(Result::ok) {
        match parse_progress(&line) {
            Some((rate, p99)) => live.set(rate, p99),
            None => other_output.push(line),
        }
    }
    let status = child.wait().map_err(|e| format!("{}: java: {e}", cell.name))?;
    let stderr = errors.join().unwrap_or_default();
    if !status.success() {
        let why = match status.code() {
            Some(2) => "the harness refused the spec",
            Some(1) => "the run failed",
            _ => "the JVM ended abnormally",
        };
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(format!(
            "{}: {why} ({status}; spec {}):\n{}{}",
            cell.name,
            spec_path.display(),
            tail.join("\n"),
            if other_output.is_empty() { String::new() } else { format!("\n{}", other_output.join("\n")) }
        ));
    }
    let text = std::fs::read_to_string(&result_path)
        .map_err(|e| format!("{}: the harness wrote no result {}: {e}", cell.name, result_path.display()))?;
    let r: CellResult = serde_json::from_str(&text).map_err(|e| format!("{}: {}: {e}", cell.name, result_path.display()))?;
    let mut notes = cell.notes.clone();
    notes.extend(r.note.clone().filter(|n| !n.is_empty()));
    let run = Run {
        name: cell.name.clone(),
        implementation: cell.implementation().name().to_string(),
        variant: cell.variant.name.clone(),
        mode: cell.mode_name().to_string(),
        level: cell.level_name(),
        budget_us: cell.resolved.budget_us,
        event_bytes: cell.load.event_bytes,
        producers: cell.load.producers,
        offered_events_per_sec: cell.offered,
        achieved_events_per_sec: r.achieved_events_per_sec,
        mb_per_sec: r.mb_per_sec,
        wire_bytes_per_sec: r.wire_bytes_per_sec,
        cpu_ms_per_million: r.cpu_ms_per_million,
        submitted: r.submitted,
        delivered: r.delivered,
        failed: r.failed,
        rejected: r.rejected,
        latency: r.latency,
        schedule_delay_p50_us: r.schedule_delay_p50_us,
        budget_pass: true,
        ratio_to_bulk: None,
        hgrm: Some(cell.hgrm_name.clone()),
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    };
    Ok(JavaMeasured { run, timeline: r.timeline, jdk: r.jdk })
}

#[cfg(test)]
mod tests {
    #[test]
    fn progress_lines_parse_and_others_do_not() {
        assert_eq!(super::parse_progress("progress t_s=2.0 events_per_sec=1500.5 p99_us=320"), Some((1500.5, 320.0)));
        assert_eq!(super::parse_progress("warming up"), None);
    }
}
