//! `microbatch calibration status [--db PATH] [--json]`: what a calibration
//! database has learned, per pressure level, as a table or as JSON (the same
//! JSON `mb_calibration_status_json` returns).

use std::process::ExitCode;

const USAGE: &str = "usage: microbatch calibration status [--db PATH] [--json]
  --db PATH   the calibration database (default ~/.reactive/calibration.db)
  --json      print JSON instead of a table";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut db, mut json) = (microbatch::calibration::DEFAULT_PATH.to_string(), false);
    match args.get(..2) {
        Some([a, b]) if a == "calibration" && b == "status" => {}
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    let mut rest = args[2..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--db" => match rest.next() {
                Some(p) => db = p.clone(),
                None => {
                    eprintln!("--db needs a path\n{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("unknown argument `{other}`\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    match microbatch::calibration::status::read(&db) {
        Ok(status) => {
            if json {
                println!("{}", status.to_json());
            } else {
                print!("{}", status.to_table());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("microbatch: {}", e.message());
            ExitCode::FAILURE
        }
    }
}
