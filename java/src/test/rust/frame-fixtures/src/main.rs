//! Writes frames made by the Rust side for the Java decoder's interoperability test.
//!
//! Every event's bytes follow one formula, which the Java test recomputes:
//! event `i` of a fixture has length `len(i)` and byte `j` = `(i * 31 + j * 7 + 3) & 0xFF`.
//!
//! * `encoder-empty.bin`: `frame::encode` of no events.
//! * `encoder-layout.bin`: `frame::encode` of "ab" and "" (the byte-exact layout test's frame).
//! * `encoder-mixed.bin`: `FrameEncoder` with 40 events of lengths 0, 1, 2, 3, 7, 8, 100,
//!   255, 256, 1000, 4096, 65536, then 0..27 bytes.
//! * `collector-NNN.bin`: every frame a real `Collector` (one partition, SPSC ring, callback
//!   sink, `level=L7_HIGH`, `batch.max.bytes=16384`, `event.max.bytes=1024`) sent for 2000 events of 100 bytes, in
//!   order; their events concatenated are events 0..2000.

use microbatch::frame::{self, FrameEncoder};
use microbatch::sink::{Completion, Sink};
use microbatch::{Collector, Config};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn event(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| ((i * 31 + j * 7 + 3) & 0xFF) as u8).collect()
}

const MIXED_LENS: [usize; 12] = [0, 1, 2, 3, 7, 8, 100, 255, 256, 1000, 4096, 65536];

fn mixed_len(i: usize) -> usize {
    if i < MIXED_LENS.len() {
        MIXED_LENS[i]
    } else {
        i - MIXED_LENS.len()
    }
}

struct Recording(Mutex<Vec<Vec<u8>>>);

impl Sink for Recording {
    fn send(&self, frame: &[u8], _events: u32, completion: Completion) {
        self.0.lock().unwrap().push(frame.to_vec());
        completion.delivered();
    }

    fn name(&self) -> &'static str {
        "recording"
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap_or_else(|e| panic!("writing {name}: {e}"));
    // Every fixture must decode with the crate's own decoder first.
    frame::decode(bytes).unwrap_or_else(|e| panic!("{name} does not decode: {e}"));
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: frame-fixtures <output folder>"));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bin") {
            std::fs::remove_file(path).unwrap();
        }
    }

    write(&dir, "encoder-empty.bin", &frame::encode(std::iter::empty()));
    write(&dir, "encoder-layout.bin", &frame::encode([&b"ab"[..], &b""[..]]));

    let mut enc = FrameEncoder::with_capacity(1 << 17);
    let mixed: Vec<Vec<u8>> = (0..40).map(|i| event(i, mixed_len(i))).collect();
    for e in &mixed {
        enc.push(e);
    }
    write(&dir, "encoder-mixed.bin", enc.finish());

    let recording = Arc::new(Recording(Mutex::new(Vec::new())));
    let mut config = Config::new();
    for (k, v) in [("partitions", "1"), ("flush.threads", "1"), ("level", "L7_HIGH"), ("batch.max.bytes", "16384"), ("event.max.bytes", "1024")] {
        config.set(k, v).unwrap();
    }
    config.set_sink(recording.clone());
    let collector = Collector::new(&config).expect("collector");
    for i in 0..2000 {
        collector.submit(&event(i, 100)).expect("submit");
    }
    collector.flush(Duration::from_secs(10)).expect("flush");
    collector.close().expect("close");
    let frames = recording.0.lock().unwrap();
    assert!(frames.len() > 1, "expected several frames, got {}", frames.len());
    let mut total = 0;
    for (n, f) in frames.iter().enumerate() {
        total += frame::decode(f).unwrap().len();
        write(&dir, &format!("collector-{n:03}.bin"), f);
    }
    assert_eq!(total, 2000);
    println!("wrote {} collector frames and 3 encoder frames to {}", frames.len(), dir.display());
}
