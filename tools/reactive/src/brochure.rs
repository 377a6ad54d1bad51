//! Brochures: named benchmark presets, one TOML file each in `brochures/`.
//!
//! A brochure keeps three things apart: the workload (what load is offered),
//! the variants (what runs it), and the broker (where it goes, chosen on the
//! command line). Adding a brochure is adding a file; see README, "Brochures".

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Brochure {
    /// One line shown by `reactive bench brochure list`.
    pub description: String,
    pub workload: Workload,
    #[serde(rename = "variant")]
    pub variants: Vec<Variant>,
    #[serde(default)]
    pub kafka: KafkaSettings,
    #[serde(default)]
    pub thresholds: Thresholds,
    /// Filled from the file name, not read from the file.
    #[serde(skip)]
    pub name: String,
}

/// The load: same for every variant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    #[serde(default = "default_event_bytes")]
    pub event_bytes: u32,
    #[serde(default)]
    pub payload: Payload,
    /// Submitting threads.
    #[serde(default = "default_producers")]
    pub producers: u32,
    /// Unmeasured seconds before each cell.
    #[serde(default = "default_warmup")]
    pub warmup_s: f64,
    /// Measured seconds per cell (per step with `steps`).
    #[serde(default = "default_duration")]
    pub duration_s: f64,
    /// One cell per level: the level is forced (fixed and bulk variants) or
    /// reached by offering a rate inside its band (adaptive). Empty: `auto`.
    #[serde(default)]
    pub levels: Vec<String>,
    /// Offered events/s when the cell has no level band to take it from;
    /// absent = as fast as the submitting threads go (unscheduled).
    #[serde(default)]
    pub rate: Option<f64>,
    /// A schedule of rates run as one cell per variant (stepped and bursty
    /// load); with steps, `levels` must be empty.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Sample rate and p99 every this many ms (the over-time charts).
    #[serde(default)]
    pub timeline_ms: Option<u64>,
    /// The most events/s a level cell offers: a level whose band starts
    /// above it runs unscheduled (as fast as the producers go), with a note.
    #[serde(default = "default_rate_cap")]
    pub rate_cap: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Offered events/s during the step.
    pub rate: f64,
    pub duration_s: f64,
}

/// What each event's bytes are: they decide what compression can do.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Payload {
    /// JSON-like text, as a gateway sends (compressible).
    #[default]
    Json,
    /// Random bytes (incompressible).
    Random,
}

/// One contender.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    /// `rust`, `java` or `rust-jni`.
    #[serde(rename = "impl")]
    pub implementation: Impl,
    pub mode: Mode,
    /// Collector keys (the C library's keys, as on both implementations),
    /// applied after the mode's own.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Impl {
    /// The Rust collector in the runner's own process.
    Rust,
    /// The pure-Java collector, in a JVM.
    Java,
    /// The Rust collector through JNI, driven by the same Java harness.
    #[serde(rename = "rust-jni")]
    RustJni,
}

impl Impl {
    /// The name in brochures and in results.json.
    pub fn name(self) -> &'static str {
        match self {
            Impl::Rust => "rust",
            Impl::Java => "java",
            Impl::RustJni => "rust-jni",
        }
    }

    /// Whether the cell runs in a JVM.
    pub fn needs_jvm(self) -> bool {
        matches!(self, Impl::Java | Impl::RustJni)
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The collector choosing its level and learning (N, T).
    Adaptive,
    /// The throughput reference: the collector at L10_MAX with the largest
    /// frames, learning off.
    Bulk,
    /// The collector with a fixed (N, bytes, T) given in `config`
    /// (`batch.max.events`, `batch.max.bytes`, `batch.linger.ms`), learning off.
    Fixed,
    /// No collector: one Kafka record per event through the client's own
    /// producer (librdkafka or kafka-clients), batching by its `linger.ms`.
    Producer,
}

/// Producer settings for every variant (`kafka.` keys without the prefix).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    #[serde(default)]
    pub producer: BTreeMap<String, String>,
    /// Partitions of the brochure's topic.
    #[serde(default)]
    pub partitions: Option<u32>,
}

/// What makes `bench brochure run` fail.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Fail when a cell's p99 exceeds its level's budget.
    #[serde(default = "yes")]
    pub budget: bool,
    /// Fail when achieved events/s falls by more than this many percent
    /// against the baseline run (the noise threshold, stated in the report).
    #[serde(default = "default_regression")]
    pub regression_pct: f64,
    /// Fail when p99 rises by more than this many percent against the baseline.
    #[serde(default = "default_latency_regression")]
    pub latency_regression_pct: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { budget: true, regression_pct: default_regression(), latency_regression_pct: default_latency_regression() }
    }
}

fn default_event_bytes() -> u32 {
    100
}
fn default_producers() -> u32 {
    2
}
fn default_warmup() -> f64 {
    2.0
}
fn default_duration() -> f64 {
    10.0
}
fn default_rate_cap() -> f64 {
    1_000_000.0
}
fn yes() -> bool {
    true
}
// The host swings 2-3x between runs: a smaller threshold would cry wolf.
fn default_regression() -> f64 {
    50.0
}
fn default_latency_regression() -> f64 {
    100.0
}

/// The folder holding the brochure files.
pub fn dir(root: &Path) -> PathBuf {
    root.join("brochures")
}

/// Every brochure, sorted by name; a file that does not parse is an error
/// naming the file.
pub fn list(root: &Path) -> Result<Vec<Brochure>, String> {
    let dir = dir(root);
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".toml")).map(str::to_string))
        .collect();
    names.sort();
    names.iter().map(|n| load(root, n)).collect()
}

/// The brochure `name`; an unknown name lists the known ones.
pub fn load(root: &Path, name: &str) -> Result<Brochure, String> {
    let path = dir(root).join(format!("{name}.toml"));
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let known: Vec<String> = std::fs::read_dir(dir(root))
                .map(|d| {
                    d.filter_map(|e| e.ok())
                        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".toml")).map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let mut known = known;
            known.sort();
            return Err(format!("no brochure named `{name}`; known: {}", known.join(", ")));
        }
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut b: Brochure = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    b.name = name.to_string();
    b.check().map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(b)
}

impl Brochure {
    /// The checks serde cannot express.
    pub fn check(&self) -> Result<(), String> {
        if self.variants.is_empty() {
            return Err("no [[variant]]".into());
        }
        for l in &self.workload.levels {
            if microbatch::pressure::PressureLevel::parse(l).is_none() {
                return Err(format!("unknown level `{l}` (L1_REALTIME..L10_MAX)"));
            }
        }
        if !self.workload.steps.is_empty() && !self.workload.levels.is_empty() {
            return Err("a workload has `levels` or `steps`, not both".into());
        }
        if self.workload.producers == 0 || self.workload.event_bytes == 0 {
            return Err("`producers` and `event_bytes` must be at least 1".into());
        }
        if self.workload.duration_s <= 0.0 || self.workload.warmup_s < 0.0 {
            return Err("`duration_s` must be positive and `warmup_s` not negative".into());
        }
        if self.workload.steps.iter().any(|s| s.rate < 0.0 || s.duration_s <= 0.0) {
            return Err("every step needs a rate >= 0 and a positive duration_s".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for v in &self.variants {
            if !seen.insert((&v.name, v.implementation as u8)) {
                return Err(format!("variant `{}` appears twice for one implementation", v.name));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository root (brochures/ lives there).
    pub(crate) fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn parse(text: &str) -> Result<Brochure, String> {
        let b: Brochure = toml::from_str(text).map_err(|e| e.to_string())?;
        b.check()?;
        Ok(b)
    }

    const MINIMAL: &str = "description = \"d\"\n[workload]\n[[variant]]\nname = \"a\"\nimpl = \"rust\"\nmode = \"adaptive\"\n";

    #[test]
    fn every_shipped_brochure_loads() {
        let all = list(&repo()).unwrap();
        let names: Vec<&str> = all.iter().map(|b| b.name.as_str()).collect();
        for wanted in ["calibration-buckets", "java-vs-rust", "kafka-fast", "kafka-tuned", "mixed-load"] {
            assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
        }
        let jvr = all.iter().find(|b| b.name == "java-vs-rust").unwrap();
        let impls: std::collections::BTreeSet<&str> = jvr.variants.iter().map(|v| v.implementation.name()).collect();
        assert_eq!(impls.into_iter().collect::<Vec<_>>(), ["java", "rust", "rust-jni"]);
        let mixed = all.iter().find(|b| b.name == "mixed-load").unwrap();
        assert!(!mixed.workload.steps.is_empty() && mixed.workload.timeline_ms.is_some());
    }

    #[test]
    fn defaults_fill_what_a_minimal_brochure_leaves_out() {
        let b = parse(MINIMAL).unwrap();
        assert_eq!((b.workload.event_bytes, b.workload.producers, b.workload.payload), (100, 2, Payload::Json));
        assert!(b.thresholds.budget && b.workload.levels.is_empty() && b.workload.rate.is_none());
    }

    #[test]
    fn unknown_keys_levels_and_impls_are_clear_errors() {
        let e = parse(&MINIMAL.replace("[workload]", "[workload]\nevent_size = 5")).unwrap_err();
        assert!(e.contains("unknown field `event_size`"), "{e}");
        let e = parse(&MINIMAL.replace("[workload]", "[workload]\nlevels = [\"L11_WARP\"]")).unwrap_err();
        assert!(e.contains("unknown level `L11_WARP`"), "{e}");
        let e = parse(&MINIMAL.replace("impl = \"rust\"", "impl = \"go\"")).unwrap_err();
        assert!(e.contains("unknown variant `go`") && e.contains("rust-jni"), "{e}");
        let e = parse(&MINIMAL.replace("[workload]", "[workload]\nlevels = [\"L3_LOW\"]\nsteps = [{ rate = 1, duration_s = 1 }]")).unwrap_err();
        assert!(e.contains("not both"), "{e}");
    }

    #[test]
    fn an_unknown_brochure_lists_the_known_ones() {
        let e = load(&repo(), "no-such-brochure").unwrap_err();
        assert!(e.contains("no brochure named `no-such-brochure`") && e.contains("kafka-fast"), "{e}");
    }
}
