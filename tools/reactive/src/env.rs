//! The environment block of results.json: where the figures come from.

use crate::results::Environment;
use std::path::Path;
use std::process::Command;

/// The first line a command prints (stdout, else stderr), if it runs.
fn first_line(program: &str, args: &[&str], dir: &Path) -> Option<String> {
    let out = Command::new(program).args(args).current_dir(dir).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = if out.stdout.is_empty() { out.stderr } else { out.stdout };
    String::from_utf8_lossy(&text).lines().next().map(|l| l.trim().to_string()).filter(|l| !l.is_empty())
}

/// `git rev-parse HEAD`, with `-dirty` when tracked files have changes.
pub fn commit(root: &Path) -> Option<String> {
    let head = first_line("git", &["rev-parse", "HEAD"], root)?;
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .current_dir(root)
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    Some(if dirty { format!("{head}-dirty") } else { head })
}

/// `java -version`'s first line (it prints on stderr).
pub fn jdk() -> Option<String> {
    let out = Command::new("java").arg("-version").output().ok()?;
    String::from_utf8_lossy(&out.stderr).lines().next().map(str::to_string)
}

pub fn environment(root: &Path, broker: &str, jvm_used: bool) -> Environment {
    let os = first_line("uname", &["-srm"], root).unwrap_or_else(|| std::env::consts::OS.to_string());
    Environment {
        commit: commit(root),
        cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        os,
        rustc: first_line("rustc", &["--version"], root),
        jdk: if jvm_used { jdk() } else { None },
        broker: broker.to_string(),
    }
}
