//! What a run needs before its first cell: a broker that answers, and for
//! Java cells a JDK, Maven, the compiled harness with its classpath file and
//! (for `rust-jni`) the native library. Each missing piece is a clear error
//! that says which cells need it and how to skip them.

use crate::cell_java::Jvm;
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

/// A TCP connection to `address` within 3 s, or an error saying how to get a broker.
pub fn broker_answers(address: &str) -> Result<(), String> {
    let first = address.split(',').next().unwrap_or(address).trim();
    let addrs: Vec<_> = first
        .to_socket_addrs()
        .map_err(|e| format!("--broker {address}: not a host:port ({e}); use mock or HOST:PORT"))?
        .collect();
    for a in &addrs {
        if TcpStream::connect_timeout(a, Duration::from_secs(3)).is_ok() {
            return Ok(());
        }
    }
    Err(format!(
        "no Kafka broker answers at {first}: start one with `./reactive kafka start` (it prints its address), or use --broker mock"
    ))
}

fn on_path(program: &str) -> bool {
    Command::new(program).arg("-version").output().is_ok()
}

/// The newest modification time under `dir` (files only).
fn newest(dir: &Path) -> Option<SystemTime> {
    let mut best = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let t = if path.is_dir() { newest(&path) } else { entry.metadata().ok()?.modified().ok() };
        best = best.max(t);
    }
    best
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).ok()?.modified().ok()
}

/// Builds the Java harness when its sources are newer than the classpath
/// file, and the native library for `rust-jni` cells; returns how to start the JVM.
pub fn jvm(root: &Path, cells: &[String], with_native: bool) -> Result<Jvm, String> {
    let skip = "skip them with --impl rust (or --only PATTERN)";
    let missing: Vec<&str> = [("java", on_path("java")), ("mvn", Command::new("mvn").arg("-v").output().is_ok())]
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(p, _)| p)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the cells {} run in a JVM, and {} not on PATH: install a JDK (17 or later) and Maven (`apt-get install -y default-jdk maven`), or {skip}",
            cells.join(", "),
            if missing.len() == 1 { format!("{} is", missing[0]) } else { format!("{} are", missing.join(" and ")) }
        ));
    }
    let java = root.join("java");
    let classpath_file = java.join("target").join("classpath.txt");
    let sources = newest(&java.join("src").join("main")).max(modified(&java.join("pom.xml")));
    let built = modified(&classpath_file);
    if built.is_none() || sources > built {
        eprintln!("reactive: building the Java harness (mvn compile)");
        // Maven's output goes to stderr: stdout is the command's answer (the demo's table).
        let to_stderr = std::io::stderr().as_fd().try_clone_to_owned().map_err(|e| format!("stderr: {e}"))?;
        let status = Command::new("mvn")
            .args(["-q", "-B", "-ntp", "-Dstyle.color=never", "-f"])
            .arg(java.join("pom.xml"))
            .arg("compile")
            .stdout(to_stderr)
            .status()
            .map_err(|e| format!("cannot run mvn: {e}"))?;
        if !status.success() {
            return Err(format!("building the Java harness failed (mvn compile, {status}); the cells {} need it, or {skip}", cells.join(", ")));
        }
        // Touch: compile may leave an up-to-date classpath file untouched.
        let text = std::fs::read_to_string(&classpath_file).map_err(|e| format!("{}: {e}", classpath_file.display()))?;
        std::fs::write(&classpath_file, text).map_err(|e| format!("{}: {e}", classpath_file.display()))?;
    }
    let deps = std::fs::read_to_string(&classpath_file)
        .map_err(|e| format!("{}: {e} (the Java build writes it; is java/pom.xml current?)", classpath_file.display()))?;
    let classes = java.join("target").join("classes");
    if !classes.join("com/reactive/platform/kafka/benchmark/BrochureCell.class").exists() {
        return Err(format!("{} has no BrochureCell: the Java harness is missing from this checkout; {skip}", classes.display()));
    }
    let native_library = root.join("target").join("release").join("libmicrobatch.so");
    if with_native {
        let to_stderr = std::io::stderr().as_fd().try_clone_to_owned().map_err(|e| format!("stderr: {e}"))?;
        let status = Command::new("cargo")
            .args(["build", "--release", "--quiet", "-p", "microbatch", "--lib"])
            .stdout(to_stderr)
            .current_dir(root)
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() || !native_library.exists() {
            return Err(format!("building {} failed; the rust-jni cells need it, or skip them with --impl rust,java", native_library.display()));
        }
    }
    Ok(Jvm { classpath: format!("{}:{}", classes.display(), deps.trim()), native_library })
}
