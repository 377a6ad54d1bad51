//! Builds the C and C++ programs that use the C ABI (tests/c/*.c,
//! bindings/c/example.c, bindings/cpp/test.cpp) with the system compilers
//! against include/microbatch.h and the cdylib, runs each one, and runs it
//! again under valgrind (memcheck: no errors, no definite leaks). It also
//! installs the library with scripts/install.sh into a temporary prefix and
//! builds the example against it through pkg-config (skipped, with a
//! message, when pkg-config is not installed).
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
        // Cargo writes the cdylib to deps/ and copies it up to
        // target/<profile>/ on `cargo build`; a `cargo test` refreshes only
        // deps/, so take the newer of the two.
        let modified = |d: &PathBuf| std::fs::metadata(d.join(&name)).and_then(|m| m.modified()).ok();
        [dir.clone(), dir.join("deps")]
            .into_iter()
            .filter(|d| modified(d).is_some())
            .max_by_key(modified)
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
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIPPED: MICROBATCH_SKIP_VALGRIND is set: the valgrind runs of the C programs");
            return false;
        }
        match Command::new("valgrind").arg("--version").output() {
            Ok(out) if out.status.success() => true,
            _ => {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "SKIPPED: valgrind is not installed: the valgrind runs of the C programs");
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
    // cargo test puts target/<profile>/ on LD_LIBRARY_PATH, which would win
    // over the binary's rpath: point it at the library this test chose.
    cmd.env("LD_LIBRARY_PATH", lib_dir());
    cmd.args(args).current_dir(ROOT);
    let (code, stdout, stderr) = run_with_timeout(cmd, name, RUN_TIMEOUT);
    assert_eq!(code, Some(0), "{name} {args:?} failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let ran = t1.elapsed();

    let mut vg = Duration::ZERO;
    if valgrind_available() {
        let t2 = Instant::now();
        let mut cmd = Command::new("valgrind");
        cmd.env("LD_LIBRARY_PATH", lib_dir());
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

/// The installed shape (scripts/install.sh): headers under
/// include/microbatch/, the library and microbatch.pc under the libdir, a
/// DESTDIR staging that leaves the prefix written in the .pc file alone, and
/// an uninstall that removes what the install put there.
#[test]
fn install_layout_with_destdir_and_uninstall() {
    let stage = out_dir().join("install_stage");
    let _ = std::fs::remove_dir_all(&stage);
    let library = lib_dir().join("libmicrobatch.so");
    let install = |extra: &[&str]| {
        let mut cmd = Command::new("bash");
        cmd.current_dir(ROOT)
            .arg("scripts/install.sh")
            .args(["--prefix", "/opt/microbatch", "--libdir", "lib64"])
            .arg("--destdir")
            .arg(&stage)
            .arg("--library")
            .arg(&library)
            .args(extra)
            .env_remove("DESTDIR");
        let out = cmd.output().expect("run scripts/install.sh");
        assert!(
            out.status.success(),
            "{cmd:?} failed\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    install(&[]);

    let prefix = stage.join("opt/microbatch");
    for (installed, source) in [
        ("include/microbatch/microbatch.h", "include/microbatch.h"),
        ("include/microbatch/microbatch_frame.h", "bindings/c/microbatch_frame.h"),
        ("include/microbatch/microbatch.hpp", "bindings/cpp/microbatch.hpp"),
    ] {
        let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let same = read(&prefix.join(installed)) == read(&Path::new(ROOT).join(source));
        assert!(same, "{installed} differs from {source}");
    }
    assert!(
        std::fs::read(prefix.join("lib64/libmicrobatch.so")).unwrap() == std::fs::read(&library).unwrap(),
        "the installed library is not the one given"
    );
    let pc = std::fs::read_to_string(prefix.join("lib64/pkgconfig/microbatch.pc")).expect("microbatch.pc installed");
    for line in [
        "prefix=/opt/microbatch",
        "libdir=${exec_prefix}/lib64",
        "includedir=${prefix}/include",
        &format!("Version: {}", env!("CARGO_PKG_VERSION")),
        "Libs: -L${libdir} -lmicrobatch",
        "Cflags: -I${includedir}/microbatch",
    ] {
        assert!(pc.lines().any(|l| l == line), "microbatch.pc lacks `{line}`:\n{pc}");
    }
    assert!(!pc.contains('@'), "an unsubstituted placeholder in microbatch.pc:\n{pc}");
    assert!(!pc.contains(stage.to_str().unwrap()), "the staging directory leaked into microbatch.pc:\n{pc}");

    install(&["--uninstall"]);
    for gone in [
        "include/microbatch",
        "lib64/libmicrobatch.so",
        "lib64/pkgconfig/microbatch.pc",
    ] {
        assert!(!prefix.join(gone).exists(), "{gone} is still there after --uninstall");
    }
}

/// What a C or C++ user does: install into a prefix, then build
/// bindings/c/example.c with `cc example.c $(pkg-config --cflags --libs
/// microbatch)` and nothing else pointing into this tree, and run it with
/// the prefix's lib on LD_LIBRARY_PATH. The C++ wrapper and the frame header
/// must compile from the installed headers too.
#[test]
fn example_builds_with_pkg_config_against_the_installed_library() {
    if Command::new("pkg-config").arg("--version").output().map(|o| !o.status.success()).unwrap_or(true) {
        eprintln!("pkg-config is not installed: SKIPPED building the example against the installed library");
        return;
    }
    let dir = out_dir().join("pkgconfig");
    let _ = std::fs::remove_dir_all(&dir);
    let prefix = dir.join("prefix");
    let out = Command::new("bash")
        .current_dir(ROOT)
        .arg("scripts/install.sh")
        .arg("--prefix")
        .arg(&prefix)
        .arg("--library")
        .arg(lib_dir().join("libmicrobatch.so"))
        .env_remove("DESTDIR")
        .output()
        .expect("run scripts/install.sh");
    assert!(
        out.status.success(),
        "scripts/install.sh failed\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let pc_path = prefix.join("lib/pkgconfig");
    // Through a shell, as people type it: the $(...) is split into words there.
    let shell = |script: &str| {
        let mut cmd = Command::new("sh");
        cmd.current_dir(ROOT)
            .arg("-c")
            .arg(script)
            .env("PKG_CONFIG_PATH", &pc_path)
            .env("CC", std::env::var("CC").unwrap_or_else(|_| "cc".into()))
            .env("CXX", std::env::var("CXX").unwrap_or_else(|_| "c++".into()))
            .env("BIN", dir.join("example"));
        let out = cmd.output().unwrap_or_else(|e| panic!("sh -c {script}: {e}"));
        assert!(
            out.status.success(),
            "{script}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(shell("pkg-config --modversion microbatch"), env!("CARGO_PKG_VERSION"));
    let flags = shell("pkg-config --cflags --libs microbatch");
    // pkg-config and pkgconf may order the words differently.
    let words = |s: &str| {
        let mut w: Vec<String> = s.split_whitespace().map(String::from).collect();
        w.sort();
        w
    };
    assert_eq!(
        words(&flags),
        words(&format!("-I{0}/include/microbatch -L{0}/lib -lmicrobatch", prefix.display())),
        "pkg-config --cflags --libs microbatch"
    );
    shell(r#""$CC" -std=c11 -Wall -Wextra -Werror -pthread bindings/c/example.c $(pkg-config --cflags --libs microbatch) -o "$BIN""#);
    shell(
        r#"printf '#include <microbatch.hpp>\n#include <microbatch_frame.h>\nint main(void) { return 0; }\n' |
           "$CXX" -std=c++17 -Wall -Wextra -Werror -fsyntax-only -x c++ - $(pkg-config --cflags microbatch)"#,
    );

    let mut run = Command::new(dir.join("example"));
    run.arg("10000").current_dir(&dir).env("LD_LIBRARY_PATH", prefix.join("lib"));
    let (code, stdout, stderr) = run_with_timeout(run, "example_pkgconfig", RUN_TIMEOUT);
    assert_eq!(code, Some(0), "the example built with pkg-config failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("example: ok"), "no `example: ok` in its output:\n{stdout}");
    eprintln!("example built with {flags}:\n{}", stdout.trim_end());
}

#[cfg(feature = "kafka")]
mod reliability;

/// A producer process (tests/c/death_child.c, through the C ABI) killed with
/// SIGKILL mid-run: every event whose tracked submit it had seen answered
/// MB_OK is in the topic afterwards. Events it had only submitted (accepted
/// into memory, not yet acknowledged) may be lost: that is what
/// fire-and-forget risks when the process dies, and the report counts them.
/// The broker is librdkafka's mock cluster, living in this (surviving)
/// process; the child reaches it over loopback TCP like a real broker.
#[cfg(feature = "kafka")]
#[test]
fn process_death_keeps_every_acknowledged_event() {
    use std::collections::{BTreeMap, BTreeSet};
    use std::io::{BufRead, BufReader};

    let bin = compile("tests/c/death_child.c", "death_child", Lang::C);
    let topic = reliability::unique_topic("death");
    let mock = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    mock.create_topic(&topic, 3, 1).unwrap();
    let bootstrap = mock.bootstrap_servers();
    let run = reliability::run_tag();
    let err_path = out_dir().join("death_child.stderr");
    let mut child = Command::new(&bin)
        .args([bootstrap.as_str(), topic.as_str(), &run.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .expect("start death_child");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        loop {
            let mut line = Vec::new();
            match r.read_until(b'\n', &mut line) {
                // A last line without its newline was cut by the kill: not a claim.
                Ok(0) | Err(_) => break,
                Ok(_) if line.last() != Some(&b'\n') => break,
                Ok(_) => {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let (mut subs, mut acks, mut fails) = (BTreeMap::<u32, BTreeSet<u32>>::new(), BTreeMap::<u32, Vec<u32>>::new(), 0u64);
    let mut take = |line: &[u8], subs: &mut BTreeMap<u32, BTreeSet<u32>>, acks: &mut BTreeMap<u32, Vec<u32>>| {
        let line = String::from_utf8_lossy(line);
        let mut w = line.split_whitespace();
        let (kind, p, s) = (w.next(), w.next().and_then(|x| x.parse().ok()), w.next().and_then(|x| x.parse().ok()));
        match (kind, p, s) {
            (Some("SUB"), Some(p), Some(s)) => {
                subs.entry(p).or_default().insert(s);
            }
            (Some("ACK"), Some(p), Some(s)) => acks.entry(p).or_default().push(s),
            (Some("FAIL"), Some(_), Some(_)) => fails += 1,
            _ => {}
        }
    };
    // Let it run until a few thousand events are acknowledged, then kill it.
    let start = Instant::now();
    let mut acked = 0usize;
    while acked < 6000 {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                acked += usize::from(line.starts_with(b"ACK"));
                take(&line, &mut subs, &mut acks);
            }
            Err(_) => panic!(
                "death_child produced no acknowledgement for 30 s (exit: {:?})\n{}",
                child.try_wait(),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            ),
        }
        assert!(start.elapsed() < Duration::from_secs(60), "too slow: {acked} acks in 60 s");
    }
    assert!(child.try_wait().unwrap().is_none(), "the child must still be running when it is killed");
    child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
    let status = child.wait().unwrap();
    reader.join().unwrap();
    for line in rx.try_iter() {
        take(&line, &mut subs, &mut acks);
    }
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");

    let found = reliability::read_topic(&bootstrap, &topic, true, run, Duration::from_secs(30));
    let f = reliability::tally(&found);
    let acked: BTreeMap<u32, Vec<u32>> = acks.clone();
    let missing = reliability::missing(&acked, &found);
    let submitted: u64 = subs.values().map(|s| s.len() as u64).sum();
    let acked_n: u64 = acks.values().map(|s| s.len() as u64).sum();
    let unacked_lost = submitted.saturating_sub(f.unique);
    reliability::report(
        "process_sigkill",
        "producer process (C ABI, 3 threads, acks=all, idempotence) killed with SIGKILL after 6000 acknowledgements",
        submitted,
        acked_n,
        fails,
        Some(&f),
        &format!("acknowledged but missing={}; submitted but not in topic (lost with the process)={unacked_lost}", missing.len()),
    );
    assert!(missing.is_empty(), "acknowledged events missing after the kill: {:?}", &missing[..missing.len().min(10)]);
    assert_eq!(fails, 0, "the broker was up: nothing may fail");
    assert_eq!((f.duplicates, f.reordered), (0, 0));
    // Every event in the topic was submitted (the child's SUB line may have
    // been cut by the kill only for the very last events of each thread).
    for (p, seqs) in &found {
        let max_sub = subs.get(p).and_then(|s| s.iter().next_back().copied()).unwrap_or(0);
        assert!(seqs.iter().all(|&s| s <= max_sub + 4096), "producer {p}: an event that was never submitted");
    }
}
