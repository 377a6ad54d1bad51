//! `reactive`: the project's command (the top-level `./reactive` script builds
//! and runs it). Brochures (named benchmark presets) with reports and charts,
//! the calibration status, the local Kafka broker, the demo and the tests.

mod brochure;
mod report;
mod results;

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
        Command::Calibration { what: CalibrationCommand::Status { db, json } } => calibration_status(&db, json),
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

fn calibration_status(db: &str, json: bool) -> Result<ExitCode, String> {
    let status = microbatch::calibration::status::read(db).map_err(|e| e.message().to_string())?;
    if json {
        println!("{}", status.to_json());
    } else {
        print!("{}", status.to_table());
    }
    Ok(ExitCode::SUCCESS)
}
