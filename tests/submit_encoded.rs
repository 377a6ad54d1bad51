//! Block submits of pre-encoded events (`Collector::submit_encoded`,
//! `mb_collector_submit_encoded`): the frames hold exactly the submitted
//! events in order whatever the boundaries, bad blocks take nothing, and a
//! full ring stops a block at the first event it refuses.

use microbatch::ffi::{
    mb_collector_free, mb_collector_new, mb_collector_submit_encoded, mb_config_free, mb_config_new, mb_config_set,
};
use microbatch::frame;
use microbatch::sink::{Completion, Sink};
use microbatch::{Code, Collector, Config};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Records every frame's events; while `holding`, keeps the completions
/// instead of completing them, so the ring cannot drain.
#[derive(Default)]
struct Recorder {
    frames: Mutex<Vec<Vec<Vec<u8>>>>,
    holding: AtomicBool,
    held: Mutex<Vec<Completion>>,
}

impl Recorder {
    fn holding() -> Recorder {
        Recorder { holding: AtomicBool::new(true), ..Recorder::default() }
    }

    fn release(&self) {
        self.holding.store(false, Ordering::SeqCst);
        for c in self.held.lock().unwrap().drain(..) {
            c.delivered();
        }
    }

    fn events(&self) -> Vec<Vec<u8>> {
        self.frames.lock().unwrap().iter().flatten().cloned().collect()
    }
}

impl Sink for Recorder {
    fn send(&self, bytes: &[u8], events: u32, completion: Completion) {
        let decoded: Vec<Vec<u8>> = frame::decode(bytes).unwrap().into_iter().map(|e| e.to_vec()).collect();
        assert_eq!(decoded.len(), events as usize);
        self.frames.lock().unwrap().push(decoded);
        if self.holding.load(Ordering::SeqCst) {
            self.held.lock().unwrap().push(completion);
        } else {
            completion.delivered();
        }
    }
    fn name(&self) -> &'static str {
        "recorder"
    }
}

fn config(pairs: &[(&str, &str)], sink: Arc<dyn Sink>) -> Config {
    let mut c = Config::default();
    c.set("calibration.enabled", "false").unwrap();
    for (k, v) in pairs {
        c.set(k, v).unwrap();
    }
    c.set_sink(sink);
    c
}

fn encode(events: &[Vec<u8>]) -> Vec<u8> {
    events.iter().flat_map(|e| (e.len() as u32).to_le_bytes().into_iter().chain(e.iter().copied())).collect()
}

/// Events of 0 to 60 bytes, each distinct.
fn event(i: usize) -> Vec<u8> {
    let mut e = (i as u32).to_le_bytes().to_vec();
    e.extend((0..(i * 7) % 57).map(|k| (k + i) as u8));
    if i % 11 == 0 {
        e.clear(); // empty events travel too
    }
    e
}

fn roundtrip(ring: &str) {
    let rec = Arc::new(Recorder::default());
    // Small ring, frames cut at 7 events or 512 bytes: runs end at N, at the
    // byte cap, at the buffer end and at the free space, again and again.
    let c = Collector::new(&config(
        &[
            ("ring.type", ring),
            ("ring.capacity.bytes", "4096"),
            ("batch.max.bytes", "512"),
            ("event.max.bytes", "100"),
            ("batch.max.events", "7"),
            ("level", "L9_EXTREME"),
            ("partitions", "1"),
            ("flush.threads", "1"),
            ("submit.block.ms", "5000"),
        ],
        rec.clone(),
    ))
    .unwrap();
    let mut sent = Vec::new();
    let mut i = 0;
    for round in 0..600 {
        let events: Vec<Vec<u8>> = (0..round % 23).map(|k| event(i + k)).collect();
        i += events.len();
        let (accepted, result) = c.submit_encoded(&encode(&events), events.len());
        result.unwrap();
        assert_eq!(accepted, events.len());
        sent.extend(events);
        if round % 50 == 0 {
            // A single submit between blocks keeps its place in the order.
            c.submit(b"single").unwrap();
            sent.push(b"single".to_vec());
        }
    }
    c.flush(Duration::from_secs(10)).unwrap();
    let s = c.status();
    assert_eq!((s.submitted, s.delivered, s.rejected, s.pending), (sent.len() as u64, sent.len() as u64, 0, 0));
    assert_eq!(rec.events(), sent, "{ring}: the frames hold exactly the submitted events, in order");
    for f in rec.frames.lock().unwrap().iter() {
        assert!(f.len() <= 7, "{ring}: a frame of {} events", f.len());
        assert!(frame::encode(f.iter().map(|e| &e[..])).len() <= 512 || f.len() == 1, "{ring}: a frame over 512 bytes");
    }
}

#[test]
fn spsc_frames_hold_exactly_the_submitted_blocks() {
    roundtrip("spsc");
}

#[test]
fn mpsc_frames_hold_exactly_the_submitted_blocks() {
    roundtrip("mpsc");
}

#[test]
fn bad_blocks_are_refused_whole() {
    let rec = Arc::new(Recorder::default());
    let c = Collector::new(&config(&[("event.max.bytes", "16"), ("partitions", "1")], rec.clone())).unwrap();
    let good = encode(&[vec![1; 3], vec![2; 16], vec![]]);
    let malformed: Vec<(&str, Vec<u8>, usize)> = vec![
        ("count too high", good.clone(), 4),
        ("count too low", good.clone(), 2),
        ("truncated event", good[..good.len() - 5].to_vec(), 3),
        ("truncated length", good[..good.len() - 2].to_vec(), 3),
        ("trailing bytes", [&good[..], &[9][..]].concat(), 3),
        ("length past the end", vec![0xff, 0xff, 0xff, 0xff, 1], 1),
        ("events but count 0", good.clone(), 0),
    ];
    for (what, block, count) in malformed {
        let (accepted, result) = c.submit_encoded(&block, count);
        let e = result.unwrap_err();
        assert_eq!((accepted, e.code()), (0, Code::MB_ERR_MALFORMED), "{what}: {}", e.message());
    }
    let too_large = encode(&[vec![1; 3], vec![2; 17], vec![3]]);
    let (accepted, result) = c.submit_encoded(&too_large, 3);
    let e = result.unwrap_err();
    assert_eq!((accepted, e.code()), (0, Code::MB_ERR_TOO_LARGE));
    assert!(e.message().contains("event of 17 bytes exceeds event.max.bytes = 16"), "{}", e.message());
    let s = c.status();
    assert_eq!((s.submitted, s.rejected), (0, 1), "nothing taken; the too-large event counted rejected");
    assert_eq!(c.submit_encoded(&[], 0).0, 0);
    assert_eq!(c.submit_encoded(&good, 3).0, 3);
    c.flush(Duration::from_secs(5)).unwrap();
    assert_eq!(rec.events(), vec![vec![1; 3], vec![2; 16], vec![]]);
}

#[test]
fn a_full_ring_stops_the_block_at_the_first_refused_event() {
    for ring in ["spsc", "mpsc"] {
        let rec = Arc::new(Recorder::holding());
        let c = Collector::new(&config(
            &[
                ("ring.type", ring),
                ("ring.capacity.bytes", "4096"),
                ("batch.max.bytes", "1024"),
                ("event.max.bytes", "100"),
                ("level", "L9_EXTREME"),
                ("partitions", "1"),
                ("flush.threads", "1"),
            ],
            rec.clone(),
        ))
        .unwrap();
        let events: Vec<Vec<u8>> = (0..1000).map(|i| [(i as u32).to_le_bytes().to_vec(), vec![7; 96]].concat()).collect();
        let (accepted, result) = c.submit_encoded(&encode(&events), events.len());
        assert_eq!(result.unwrap_err().code(), Code::MB_ERR_FULL, "{ring}");
        assert!(accepted > 0 && accepted < 1000, "{ring}: {accepted}");
        let s = c.status();
        assert_eq!((s.submitted, s.rejected), (accepted as u64, 1), "{ring}");
        // The rest can be submitted again once the sink lets the ring drain.
        rec.release();
        let rest = &events[accepted..];
        let mut done = 0;
        for _ in 0..1000 {
            let (n, result) = c.submit_encoded(&encode(&rest[done..]), rest.len() - done);
            done += n;
            match result {
                Ok(()) => break,
                Err(e) => {
                    assert_eq!(e.code(), Code::MB_ERR_FULL, "{ring}");
                    c.flush(Duration::from_secs(5)).unwrap();
                }
            }
        }
        assert_eq!(done, rest.len(), "{ring}");
        c.flush(Duration::from_secs(5)).unwrap();
        assert_eq!(rec.events(), events, "{ring}: in order, none lost, none twice");
        let s = c.status();
        assert_eq!(s.submitted, 1000);
        assert_eq!(s.submitted, s.delivered + s.failed + s.pending);
    }
}

#[test]
fn a_closed_collector_refuses_blocks() {
    let rec = Arc::new(Recorder::default());
    let c = Collector::new(&config(&[("partitions", "1")], rec)).unwrap();
    c.close().unwrap();
    let (accepted, result) = c.submit_encoded(&encode(&[vec![1]]), 1);
    assert_eq!((accepted, result.unwrap_err().code()), (0, Code::MB_ERR_CLOSED));
}

#[test]
fn the_c_abi_reports_how_many_were_taken() {
    {
        let cfg = mb_config_new();
        for (k, v) in [(c"sink", c"null"), (c"event.max.bytes", c"16"), (c"calibration.enabled", c"false")] {
            assert_eq!(mb_config_set(cfg, k.as_ptr(), v.as_ptr()), Code::MB_OK);
        }
        let mut h = std::ptr::null_mut();
        assert_eq!(mb_collector_new(cfg, &mut h), Code::MB_OK);
        mb_config_free(cfg);
        let block = encode(&[vec![1; 3], vec![2; 5]]);
        let mut accepted = 99;
        assert_eq!(mb_collector_submit_encoded(h, block.as_ptr(), block.len(), 2, &mut accepted), Code::MB_OK);
        assert_eq!(accepted, 2);
        accepted = 99;
        assert_eq!(mb_collector_submit_encoded(h, block.as_ptr(), block.len(), 3, &mut accepted), Code::MB_ERR_MALFORMED);
        assert_eq!(accepted, 0);
        assert_eq!(mb_collector_submit_encoded(h, std::ptr::null(), 0, 0, &mut accepted), Code::MB_OK);
        assert_eq!(mb_collector_submit_encoded(h, std::ptr::null(), 8, 2, &mut accepted), Code::MB_ERR_NULL_ARG);
        assert_eq!(
            mb_collector_submit_encoded(h, block.as_ptr(), block.len(), 2, std::ptr::null_mut()),
            Code::MB_ERR_NULL_ARG
        );
        let big = encode(&[vec![0; 17]]);
        assert_eq!(mb_collector_submit_encoded(h, big.as_ptr(), big.len(), 1, &mut accepted), Code::MB_ERR_TOO_LARGE);
        mb_collector_free(h);
        assert_eq!(mb_collector_submit_encoded(h, block.as_ptr(), block.len(), 2, &mut accepted), Code::MB_ERR_CLOSED);
        assert_eq!(accepted, 0);
    }
}
