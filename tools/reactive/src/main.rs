//! `reactive`: the project's command (the top-level `./reactive` script builds
//! and runs it). Brochures (named benchmark presets) with reports and charts,
//! the calibration status, the local Kafka broker, the demo and the tests.

mod brochure;
mod cell;
mod cell_java;
mod cell_producer;
mod cell_rust;
mod env;
mod load;
mod measure;
mod mode;
mod prereq;
mod progress;
// write_report (without failed cells) is for callers other than `run`.
#[allow(dead_code)]
mod report;
mod results;
mod run;
mod schedule;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "reactive", about = "microbatch: benchmarks, reports, calibration, the local broker, the demo")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
    /// What the calibration database has learned.
    Calibration {
        #[command(subcommand)]
        what: CalibrationCommand,
    },
    /// The project's real local Kafka broker (scripts/kafka-broker.sh).
    Kafka {
        #[command(subcommand)]
        what: KafkaCommand,
    },
    /// Java and Rust side by side, adaptive and BULK, a few levels: the
    /// java-vs-rust brochure, quick, against the embedded default broker.
    Demo {
        /// A real broker instead of the embedded default (HOST:PORT).
        #[arg(long, default_value = "mock")]
        broker: String,
    },
    /// The project's tests (scripts/test.sh).
    Test,
}

#[derive(Subcommand)]
enum KafkaCommand {
    /// Starts the broker (downloads nothing it cannot build) and prints its address.
    Start,
    /// Stops it.
    Stop,
    /// Whether it runs, and its address.
    Status,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Named benchmark presets in brochures/.
    Brochure {
        #[command(subcommand)]
        what: BrochureCommand,
    },
}

#[derive(Subcommand)]
enum BrochureCommand {
    /// The brochures and what each measures.
    List,
    /// Runs a brochure and writes reports/brochures/NAME/ (results.json,
    /// report.md, charts, .hgrm files); exits 1 when a budget, a regression
    /// threshold or a cell fails.
    Run {
        /// The brochure (a file brochures/NAME.toml).
        name: String,
        /// `mock` (the embedded default) or a bootstrap address HOST:PORT.
        #[arg(long, default_value = "mock")]
        broker: String,
        /// Short warm-up and durations (1 s / 2 s; steps 1 s each): indicative figures, for CI.
        #[arg(long)]
        quick: bool,
        /// The results.json to compare with (default: the previous run's in the output folder).
        #[arg(long)]
        baseline: Option<PathBuf>,
        /// Output folder (default reports/brochures/NAME).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Only cells whose `<impl>/<variant>/<level>` contains one of these comma-separated strings.
        #[arg(long)]
        only: Option<String>,
        /// Only these implementations, comma-separated: rust, java, rust-jni.
        #[arg(long = "impl", value_delimiter = ',')]
        impls: Option<Vec<String>>,
        /// Report budget misses without failing on them (noisy shared machines); regressions still fail.
        #[arg(long)]
        budgets_advisory: bool,
    },
}

#[derive(Subcommand)]
enum CalibrationCommand {
    /// Per level: the best (N, T) learned, its score, trials and regressions.
    Status {
        /// The calibration database.
        #[arg(long, default_value = microbatch::calibration::DEFAULT_PATH)]
        db: String,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// The repository root: the folder holding `brochures/` (REACTIVE_ROOT, set
/// by the `./reactive` script, or the current directory).
fn root() -> PathBuf {
    std::env::var_os("REACTIVE_ROOT").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Bench { what: BenchCommand::Brochure { what: BrochureCommand::List } } => list(),
        Command::Bench { what: BenchCommand::Brochure { what: BrochureCommand::Run { name, broker, quick, baseline, out, only, impls, budgets_advisory } } } => {
            brochure_run(&name, run::Options { broker, quick, baseline, out, only, impls, budgets_advisory })
        }
        Command::Calibration { what: CalibrationCommand::Status { db, json } } => calibration_status(&db, json),
        Command::Kafka { what } => script(
            "scripts/kafka-broker.sh",
            &[match what {
                KafkaCommand::Start => "start",
                KafkaCommand::Stop => "stop",
                KafkaCommand::Status => "status",
            }],
        ),
        Command::Demo { broker } => demo(broker),
        Command::Test => script("scripts/test.sh", &[]),
    };
    match outcome {
        Ok(code) => code,
        Err(message) => {
            eprintln!("reactive: {message}");
            ExitCode::FAILURE
        }
    }
}

fn list() -> Result<ExitCode, String> {
    for b in brochure::list(&root())? {
        println!("{:<22} {}", b.name, b.description);
    }
    Ok(ExitCode::SUCCESS)
}

fn check_impls(impls: &Option<Vec<String>>) -> Result<(), String> {
    for i in impls.iter().flatten() {
        if !["rust", "java", "rust-jni"].contains(&i.as_str()) {
            return Err(format!("--impl {i}: unknown implementation; known: rust, java, rust-jni"));
        }
    }
    Ok(())
}

fn brochure_run(name: &str, opts: run::Options) -> Result<ExitCode, String> {
    check_impls(&opts.impls)?;
    let outcome = run::run(&root(), name, &opts)?;
    println!("report: {}", outcome.verdict.report.display());
    for chart in &outcome.verdict.charts {
        println!("chart:  {}", chart.display());
    }
    if opts.budgets_advisory {
        let missed = outcome.results.runs.iter().filter(|r| !r.budget_pass).count();
        if missed > 0 {
            println!("{missed} cells over their budget (advisory: --budgets-advisory)");
        }
    }
    if outcome.verdict.failures.is_empty() {
        println!("PASS: {} cells, no budget or regression failure", outcome.results.runs.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "FAIL: {} failed checks ({} regressions against the baseline)",
            outcome.verdict.failures.len(),
            outcome.verdict.regressions.len()
        );
        for f in &outcome.verdict.failures {
            println!("  - {f}");
        }
        Ok(ExitCode::FAILURE)
    }
}

/// The side-by-side table first, then where the report and charts are.
fn demo(broker: String) -> Result<ExitCode, String> {
    let root = root();
    let opts = run::Options {
        broker,
        quick: true,
        baseline: None,
        out: Some(root.join("reports").join("demo").join("java-vs-rust")),
        only: None,
        impls: None,
        budgets_advisory: false,
    };
    let outcome = run::run(&root, "java-vs-rust", &opts)?;
    println!();
    print!("{}", report::side_by_side_table(&outcome.results));
    println!();
    println!("report: {}", outcome.verdict.report.display());
    for chart in &outcome.verdict.charts {
        println!("chart:  {}", chart.display());
    }
    if !outcome.verdict.failures.is_empty() {
        println!("{} checks did not pass (quick figures on a shared machine; see the report):", outcome.verdict.failures.len());
        for f in &outcome.verdict.failures {
            println!("  - {f}");
        }
    }
    let cell_failed = outcome.verdict.failures.iter().any(|f| f.starts_with("cell failed"));
    Ok(if cell_failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Runs one of the repository's scripts with `args`, passing its exit code on.
fn script(path: &str, args: &[&str]) -> Result<ExitCode, String> {
    let script = root().join(path);
    let status = std::process::Command::new("bash")
        .arg(&script)
        .args(args)
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    Ok(ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8))
}

fn calibration_status(db: &str, json: bool) -> Result<ExitCode, String> {
    let status = microbatch::calibration::status::read(db).map_err(|e| e.message().to_string())?;
    if json {
        println!("{}", status.to_json());
    } else {
        print!("{}", status.to_table());
    }
    Ok(ExitCode::SUCCESS)
}
