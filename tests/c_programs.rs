//! Builds the C and C++ programs that use the C ABI (tests/c/*.c,
//! bindings/c/example.c, bindings/cpp/test.cpp) with the system compilers
//! against include/microbatch.h and the cdylib, runs each one, and runs it
//! again under valgrind (memcheck: no errors, no definite leaks).
//!
//! The cdylib is the one cargo built for this test run: the library target is
//! built with all its crate types (cdylib included) before integration
//! tests, into target/<profile>/, the parent of this binary's deps/ dir.
//!
//! Compilers: $CC (default `cc`) and $CXX (default `c++`). Set
//! MICROBATCH_SKIP_VALGRIND=1 to skip the valgrind runs; without valgrind
//! installed they are skipped with a message.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Time limits: a hung program (say, a free that never returns) fails the
/// test instead of hanging it.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
const VALGRIND_TIMEOUT: Duration = Duration::from_secs(600);

/// target/<profile>/, which holds libmicrobatch.so.
fn lib_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("current_exe");
        // target/<profile>/deps/c_programs-<hash>
        let dir = exe
            .parent()
            .and_then(Path::parent)
            .unwrap_or_else(|| panic!("unexpected test binary location {}", exe.display()))
            .to_path_buf();
        let name = format!("{}microbatch{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
        // Cargo writes the cdylib to deps/ and links it up to target/<profile>/.
        [dir.clone(), dir.join("deps")]
            .into_iter()
            .find(|d| d.join(&name).is_file())
            .unwrap_or_else(|| {
                panic!("{name} is in neither {0} nor {0}/deps: cargo builds the cdylib with the library", dir.display())
            })
    })
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c_programs");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[derive(Clone, Copy)]
enum Lang {
    C,
    Cpp,
}

/// Compiles `source` (relative to the crate root) into `name`; returns the binary.
fn compile(source: &str, name: &str, lang: Lang) -> PathBuf {
    let lib = lib_dir();
    let bin = out_dir().join(name);
    let (compiler, std) = match lang {
        Lang::C => (std::env::var("CC").unwrap_or_else(|_| "cc".into()), "-std=c11"),
        Lang::Cpp => (std::env::var("CXX").unwrap_or_else(|_| "c++".into()), "-std=c++17"),
    };
    let mut cmd = Command::new(&compiler);
    cmd.current_dir(ROOT)
        .args([std, "-g", "-O1", "-Wall", "-Wextra", "-Werror", "-pthread"])
        .args(["-Iinclude", "-Ibindings/c", "-Ibindings/cpp", "-Itests/c"])
        .arg(source)
        .arg("-o")
        .arg(&bin)
        .arg(format!("-L{}", lib.display()))
        .arg("-lmicrobatch")
        .arg(format!("-Wl,-rpath,{}", lib.display()));
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    assert!(
        out.status.success(),
        "compiling {source} failed: {cmd:?}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// Runs `cmd` with a time limit; returns (exit code, stdout, stderr).
fn run_with_timeout(mut cmd: Command, what: &str, limit: Duration) -> (Option<i32>, String, String) {
    let base = out_dir().join(what.replace([' ', '/'], "_"));
    let (out_path, err_path) = (base.with_extension("stdout"), base.with_extension("stderr"));
    cmd.stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    match status {
        None => panic!("{what}: still running after {limit:?} (hung?); killed\nstdout:\n{stdout}\nstderr:\n{stderr}"),
        Some(s) => (s.code(), stdout, stderr),
    }
}

fn valgrind_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        if std::env::var_os("MICROBATCH_SKIP_VALGRIND").is_some() {
            eprintln!("MICROBATCH_SKIP_VALGRIND is set: skipping the valgrind runs");
            return false;
        }
        match Command::new("valgrind").arg("--version").output() {
            Ok(out) if out.status.success() => true,
            _ => {
                eprintln!("valgrind is not installed: SKIPPING the valgrind runs of the C programs");
                false
            }
        }
    })
}

/// Builds `source`, runs it with `args`, then under valgrind with `vg_args`.
fn check_program(source: &str, name: &str, lang: Lang, args: &[&str], vg_args: &[&str]) {
    let t0 = Instant::now();
    let bin = compile(source, name, lang);
    let compiled = t0.elapsed();

    let t1 = Instant::now();
    let mut cmd = Command::new(&bin);
    cmd.args(args).current_dir(ROOT);
    let (code, stdout, stderr) = run_with_timeout(cmd, name, RUN_TIMEOUT);
    assert_eq!(code, Some(0), "{name} {args:?} failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let ran = t1.elapsed();

    let mut vg = Duration::ZERO;
    if valgrind_available() {
        let t2 = Instant::now();
        let mut cmd = Command::new("valgrind");
        cmd.args([
            "--error-exitcode=99",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            // Spinning threads (gates, backoff) make progress under valgrind's
            // serialised scheduler only with fair scheduling.
            "--fair-sched=try",
            "--quiet",
        ])
        .arg(&bin)
        .args(vg_args)
        .current_dir(ROOT);
        let (code, vstdout, vstderr) = run_with_timeout(cmd, &format!("{name}.valgrind"), VALGRIND_TIMEOUT);
        assert_eq!(
            code,
            Some(0),
            "{name} {vg_args:?} under valgrind: exit {code:?} (99: memcheck errors or definite leaks)\n\
             stdout:\n{vstdout}\nstderr:\n{vstderr}"
        );
        vg = t2.elapsed();
    }
    eprintln!(
        "{name}: compiled in {:.1}s, ran in {:.2}s, valgrind {:.1}s\n{}",
        compiled.as_secs_f64(),
        ran.as_secs_f64(),
        vg.as_secs_f64(),
        stdout.trim_end()
    );
}

#[test]
fn api() {
    check_program("tests/c/api.c", "api", Lang::C, &["20000"], &["300"]);
}

/// Thousands of tracked events in flight through 1024 slots, one completion
/// thread draining, callers who hang up, a sink that fails some frames.
#[test]
fn gateway() {
    check_program("tests/c/gateway.c", "gateway", Lang::C, &["5000", "8"], &["150", "4"]);
}

#[test]
fn race() {
    // SPSC rings only: see race_mpsc.
    check_program("tests/c/race.c", "race", Lang::C, &["16", "spsc"], &["4", "spsc"]);
}

/// The same race with MPSC rings (producers share partitions through CAS
/// claims rather than a gate lock).
#[test]
fn race_mpsc() {
    check_program("tests/c/race.c", "race_mpsc", Lang::C, &["40", "mpsc"], &["4", "mpsc"]);
}

/// The C ABI used wrongly: calls after (double) free, free under callers
/// blocked in wait, flush and poll, absurd sizes, nonsense configuration, a
/// pointer that is no collector, tiny error buffers (tests/c/misuse.c).
#[test]
fn misuse() {
    check_program("tests/c/misuse.c", "misuse", Lang::C, &["20"], &["3"]);
}

#[test]
fn frame() {
    check_program("tests/c/frame.c", "frame", Lang::C, &["20000"], &["500"]);
}

#[test]
fn example() {
    check_program("bindings/c/example.c", "example", Lang::C, &["10000"], &["2000"]);
}

#[test]
fn cpp_wrapper() {
    check_program("bindings/cpp/test.cpp", "cpp_test", Lang::Cpp, &["20000"], &["300"]);
}

/// The standalone frame header is strict C99 and C++ on its own.
#[test]
fn frame_header_is_portable() {
    let header = Path::new(ROOT).join("bindings/c/microbatch_frame.h");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    for (compiler, args) in [
        (cc.as_str(), &["-x", "c", "-std=c99", "-pedantic-errors", "-Wconversion", "-Wsign-conversion"][..]),
        (cxx.as_str(), &["-x", "c++", "-std=c++11", "-pedantic-errors"][..]),
    ] {
        let out = Command::new(compiler)
            .args(["-fsyntax-only", "-Wall", "-Wextra", "-Werror"])
            .args(args)
            .arg(&header)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
        assert!(out.status.success(), "{compiler} {args:?}:\n{}", String::from_utf8_lossy(&out.stderr));
    }
}
