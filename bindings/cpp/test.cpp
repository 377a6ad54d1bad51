// test.cpp: tests for bindings/cpp/microbatch.hpp, built and run (also under
// valgrind) by tests/c_programs.rs.
//
//   c++ -std=c++17 -Iinclude -Ibindings/c -Ibindings/cpp bindings/cpp/test.cpp
//       -Ltarget/debug -lmicrobatch -lpthread -Wl,-rpath,$PWD/target/debug   (one line)
//
// Usage: test [events]   (default 20000; keep it small under valgrind)

#include "microbatch.hpp"
#include "microbatch_frame.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);    \
            std::exit(1);                                                                    \
        }                                                                                    \
    } while (0)

// Runs `body`, which must throw microbatch::Error with `code`; returns its message.
template <class F>
static std::string expect_error(mb_result code, F&& body, int line) {
    try {
        body();
    } catch (const microbatch::Error& e) {
        if (e.code() != code) {
            std::fprintf(stderr, "line %d: Error %s, expected %s: %s\n", line, mb_result_name(e.code()),
                         mb_result_name(code), e.what());
            std::exit(1);
        }
        CHECK(std::string(e.what()).find(mb_result_name(code)) == 0);
        return e.what();
    }
    std::fprintf(stderr, "line %d: no exception, expected %s\n", line, mb_result_name(code));
    std::exit(1);
}
#define EXPECT_ERROR(code, ...) expect_error(code, [&] { __VA_ARGS__; }, __LINE__)

static_assert(!std::is_copy_constructible_v<microbatch::Collector>);
static_assert(!std::is_copy_assignable_v<microbatch::Collector>);
static_assert(std::is_nothrow_move_constructible_v<microbatch::Collector>);
static_assert(std::is_nothrow_move_assignable_v<microbatch::Collector>);
static_assert(!std::is_copy_constructible_v<microbatch::Config>);
static_assert(std::is_nothrow_move_constructible_v<microbatch::Config>);

// What the frame callbacks below record.
struct Seen {
    std::mutex lock;
    std::vector<std::string> events;
    uint64_t frames = 0;
    uint64_t bad = 0;
};

static std::string event_text(unsigned i) { return "event-" + std::to_string(i) + std::string(i % 23, '.'); }

static void test_config_errors() {
    microbatch::Config cfg;
    cfg.set("partitions", "2").set("flush.threads", 1).set("level", "L2_FAST");
    std::string msg = EXPECT_ERROR(MB_ERR_INVALID_CONFIG, cfg.set("no.such.key", "1"));
    CHECK(msg.find("no.such.key") != std::string::npos);
    msg = EXPECT_ERROR(MB_ERR_INVALID_CONFIG, cfg.set("partitions", 0));
    CHECK(msg.find("partitions") != std::string::npos && msg.find("from 1 to 1024") != std::string::npos);
    EXPECT_ERROR(MB_ERR_NULL_ARG, cfg.set_frame_callback(microbatch::FrameCallback()));
    CHECK(microbatch::last_error().find("partitions") != std::string::npos);  // the C message is still there
    CHECK(std::string(microbatch::result_name(MB_ERR_FULL)) == "MB_ERR_FULL");

    // Contradicting keys are refused when the collector is made.
    cfg.set("batch.max.bytes", 1000);
    msg = EXPECT_ERROR(MB_ERR_INVALID_CONFIG, microbatch::Collector c(cfg));
    CHECK(msg.find("event.max.bytes") != std::string::npos);

    microbatch::Config moved = std::move(cfg);
    EXPECT_ERROR(MB_ERR_NULL_ARG, cfg.set("partitions", 1));
    moved.set("batch.max.bytes", 983040).set("sink", "null");
    microbatch::Collector ok(moved);
    ok.submit("x");
    ok.flush(std::chrono::seconds(30));
    CHECK(ok.status().delivered == 1);
}

// Frames decoded in the callback with decode_frame and with the standalone
// header; the callback outlives the Config that held it.
static void test_callback_sink(unsigned n) {
    auto seen = std::make_shared<Seen>();
    std::weak_ptr<Seen> watch = seen;
    std::unique_ptr<microbatch::Collector> collector;
    {
        microbatch::Config cfg;
        cfg.set("partitions", 2).set("level", "L1_REALTIME").set("batch.max.events", 300);
        cfg.set_frame_callback([seen](const uint8_t* frame, size_t len, uint32_t events) {
            std::vector<std::string> decoded = microbatch::decode_frame(frame, len);
            uint32_t standalone = 0;
            bool agree = mbf_validate(frame, len, &standalone) == MBF_OK && standalone == events &&
                         decoded.size() == events;
            std::lock_guard<std::mutex> g(seen->lock);
            seen->frames++;
            if (!agree) seen->bad++;
            for (auto& e : decoded) seen->events.push_back(std::move(e));
            return true;
        });
        collector = std::make_unique<microbatch::Collector>(cfg);
    }  // cfg is gone; the collector keeps the callback alive
    seen.reset();
    CHECK(!watch.expired());

    // Two threads, each event submitted in order; a thread stays on one ring.
    std::vector<std::thread> threads;
    std::atomic<unsigned> fulls{0};
    for (unsigned t = 0; t < 2; t++) {
        threads.emplace_back([&, t] {
            for (unsigned i = t; i < n; i += 2) {
                std::string e = event_text(i);
                mb_result r;
                while ((r = collector->try_submit(e)) == MB_ERR_FULL) {
                    fulls++;
                    std::this_thread::yield();
                }
                CHECK(r == MB_OK);
            }
        });
    }
    for (auto& th : threads) th.join();
    std::vector<uint8_t> bytes = {1, 2, 3};
    collector->submit(bytes);
    collector->submit(bytes.data(), 0);
    collector->flush(std::chrono::seconds(30));

    mb_status st = collector->status();
    CHECK(st.submitted == n + 2 && st.delivered == n + 2 && st.failed == 0 && st.pending == 0);
    CHECK(st.rejected == fulls.load());
    {
        auto s = watch.lock();
        std::lock_guard<std::mutex> g(s->lock);
        CHECK(s->bad == 0 && s->frames == st.flushed_batches);
        CHECK(s->events.size() == n + 2);
        // In order per thread: the even events and the odd events each appear in order.
        unsigned next[2] = {0, 1};
        for (const auto& e : s->events) {
            if (e.rfind("event-", 0) != 0) continue;
            unsigned i = static_cast<unsigned>(std::stoul(e.substr(6)));
            CHECK(i == next[i % 2] && e == event_text(i));
            next[i % 2] += 2;
        }
        CHECK(next[0] >= n && next[1] >= n);
    }

    // Move construction and assignment keep one owner.
    microbatch::Collector moved(std::move(*collector));
    CHECK(!collector->is_open() && moved.is_open());
    CHECK(collector->try_submit("late") == MB_ERR_CLOSED);
    EXPECT_ERROR(MB_ERR_CLOSED, collector->submit("late"));
    EXPECT_ERROR(MB_ERR_CLOSED, collector->flush(std::chrono::milliseconds(1)));
    EXPECT_ERROR(MB_ERR_CLOSED, collector->status());
    collector.reset();  // destroying a moved-from collector frees nothing
    CHECK(!watch.expired());
    moved.submit("after move");

    microbatch::Config null_sink;
    null_sink.set("sink", "null").set("partitions", 1);
    microbatch::Collector other(null_sink);
    other = std::move(moved);  // frees `other`'s own collector, takes `moved`'s
    CHECK(!moved.is_open() && other.is_open());
    other.close();  // flushes "after move" through the callback, then releases it
    CHECK(watch.expired());
    EXPECT_ERROR(MB_ERR_CLOSED, other.submit("closed"));
    other.close();  // idempotent
}

// A callback returning false or throwing: the frame's events are failed.
static void test_failing_callback(unsigned n) {
    std::atomic<uint64_t> frames{0}, failed{0};
    microbatch::Config cfg;
    cfg.set("partitions", 1).set("level", "L1_REALTIME").set("batch.max.events", 50);
    cfg.set_frame_callback([&](const uint8_t*, size_t, uint32_t events) {
        uint64_t k = frames++;
        if (k % 3 == 0) return true;
        failed += events;
        if (k % 3 == 1) return false;
        throw std::runtime_error("sink exploded");
    });
    microbatch::Collector c(cfg);
    for (unsigned i = 0; i < n; i++) {
        while (c.try_submit("payload") == MB_ERR_FULL) std::this_thread::yield();
        if (i % 100 == 99) c.flush(std::chrono::seconds(30));
    }
    c.flush(std::chrono::seconds(30));
    mb_status st = c.status();
    CHECK(frames.load() >= 3);
    CHECK(st.failed == failed.load() && st.failed > 0);
    CHECK(st.delivered + st.failed == n && st.pending == 0);
}

// Tracked submits through the wrapper.
static void test_tracked() {
    std::atomic<bool> refuse{false};
    microbatch::Config cfg;
    cfg.set("partitions", 1).set("level", "L1_REALTIME").set("tracking.slots", 4);
    cfg.set_frame_callback([&](const uint8_t*, size_t, uint32_t) { return !refuse.load(); });
    microbatch::Collector c(cfg);
    uint64_t t1 = c.submit_tracked("one");
    uint64_t t2 = 0;
    CHECK(c.try_submit_tracked("two", 3, t2) == MB_OK);
    mb_ack ack = c.wait(t2);
    CHECK(ack.partition == -1 && ack.offset == -1);
    CHECK(c.try_wait(t1, std::chrono::seconds(30)) == MB_OK);
    // Asking again gets the same answer.
    CHECK(c.try_wait(t1, std::chrono::milliseconds(0)) == MB_OK);
    refuse = true;
    uint64_t t3 = c.submit_tracked("three");
    EXPECT_ERROR(MB_ERR_DELIVERY, c.wait(t3));
    c.close();
    EXPECT_ERROR(MB_ERR_CLOSED, c.submit_tracked("late"));
    CHECK(c.try_wait(t3, std::chrono::milliseconds(1)) == MB_ERR_CLOSED);
}

// The gateway shape through the wrapper: request threads submit tracked
// events and hang up, one thread drains outcomes with poll_acks, the sink
// fails every 2nd frame (each partition sends at least one, so some fail);
// then the same with an ack callback, and close()
// racing submits on other threads. Every outcome is reported exactly once.
static void test_gateway(unsigned n) {
    const unsigned threads = 4;
    const unsigned per_thread = n / threads < 50 ? 50 : n / threads;
    std::atomic<uint64_t> frames{0}, failed_events{0};
    auto sink = [&](const uint8_t*, size_t, uint32_t events) {
        if (frames.fetch_add(1) % 2 == 1) {
            failed_events += events;
            return false;
        }
        return true;
    };

    for (bool use_callback : {false, true}) {
        frames = 0;
        failed_events = 0;
        std::mutex lock;
        std::vector<mb_ack_event> outcomes;
        microbatch::Config cfg;
        cfg.set("partitions", 2).set("level", "L2_FAST").set("tracking.slots", 256);
        cfg.set_frame_callback(sink);
        if (use_callback) {
            cfg.set_ack_callback([&](const mb_ack_event* events, size_t count) {
                std::lock_guard<std::mutex> g(lock);
                outcomes.insert(outcomes.end(), events, events + count);
            });
        } else {
            cfg.set("tracking.queue", "true");
        }
        microbatch::Collector c(cfg);
        std::thread drainer;
        if (!use_callback) {
            drainer = std::thread([&] {
                std::vector<mb_ack_event> batch;
                batch.reserve(64);
                for (;;) {
                    size_t got = 0;
                    try {
                        got = c.poll_acks(batch, std::chrono::milliseconds(20));
                    } catch (const microbatch::Error& e) {
                        CHECK(e.code() == MB_ERR_CLOSED);
                        return;
                    }
                    std::lock_guard<std::mutex> g(lock);
                    outcomes.insert(outcomes.end(), batch.begin(), batch.begin() + got);
                }
            });
        }
        std::vector<std::vector<uint64_t>> issued(threads);
        std::vector<std::thread> requests;
        for (unsigned t = 0; t < threads; t++) {
            requests.emplace_back([&, t] {
                std::string body(100, static_cast<char>('a' + t));
                for (unsigned i = 0; i < per_thread; i++) {
                    uint64_t ticket = 0;
                    mb_result r;
                    while ((r = c.try_submit_tracked(body.data(), body.size(), ticket)) == MB_ERR_FULL ||
                           r == MB_ERR_TRACKING_FULL)
                        std::this_thread::yield();
                    CHECK(r == MB_OK && ticket != 0);
                    issued[t].push_back(ticket);
                }
            });
        }
        for (auto& r : requests) r.join();
        c.flush(std::chrono::seconds(30));
        // close() while other threads keep submitting: they see MB_ERR_CLOSED,
        // never a crash, and nothing they got in is lost.
        std::atomic<uint64_t> late_accepted{0};
        std::atomic<bool> stop{false};
        std::vector<std::thread> late;
        for (unsigned t = 0; t < 2; t++) {
            late.emplace_back([&] {
                while (!stop) {
                    uint64_t ticket = 0;
                    mb_result r = c.try_submit_tracked("late", 4, ticket);
                    if (r == MB_OK) {
                        late_accepted++;
                    } else if (r == MB_ERR_CLOSED) {
                        return;
                    } else {
                        std::this_thread::yield();
                    }
                }
            });
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        std::thread closer([&] { c.close(); });
        c.close();  // racing the other close: both return, one frees
        closer.join();
        stop = true;
        for (auto& l : late) l.join();
        if (drainer.joinable()) drainer.join();
        CHECK(!c.is_open());

        std::lock_guard<std::mutex> g(lock);
        std::vector<uint64_t> reported;
        uint64_t failed = 0;
        for (const auto& o : outcomes) {
            reported.push_back(o.ticket);
            CHECK(o.result == MB_OK || o.result == MB_ERR_DELIVERY);
            failed += o.result == MB_ERR_DELIVERY;
        }
        std::sort(reported.begin(), reported.end());
        CHECK(std::adjacent_find(reported.begin(), reported.end()) == reported.end());  // each once
        for (const auto& mine : issued)
            for (uint64_t t : mine) CHECK(std::binary_search(reported.begin(), reported.end(), t));
        CHECK(reported.size() == threads * per_thread + late_accepted);
        CHECK(failed == failed_events.load() && failed > 0);
    }
}

static void test_errors_on_submit() {
    microbatch::Config cfg;
    cfg.set("partitions", 1).set("event.max.bytes", 16).set("sink", "null");
    microbatch::Collector c(cfg);
    std::string big(17, 'x');
    CHECK(c.try_submit(big) == MB_ERR_TOO_LARGE);
    std::string msg = EXPECT_ERROR(MB_ERR_TOO_LARGE, c.submit(big));
    CHECK(msg.find("event.max.bytes") != std::string::npos);
    EXPECT_ERROR(MB_ERR_NULL_ARG, c.submit(nullptr, 3));
    c.submit(std::string_view(big).substr(0, 16));
    c.flush(std::chrono::milliseconds(30000));
    CHECK(c.status().rejected == 2); // the NULL argument is refused before the collector
    c.flush(std::chrono::milliseconds(-5));              // clamped to 0: nothing pending, fine
    c.flush(std::chrono::hours(24 * 365 * 1000));        // clamped to UINT32_MAX ms
}

static void test_decode_frame() {
    // "ab", "", "cde"
    const uint8_t frame[] = {0x4D, 0x42, 1, 0, 3, 0, 0, 0, 2, 0, 0, 0, 'a', 'b',
                             0,    0,    0, 0, 3, 0, 0, 0, 'c', 'd', 'e'};
    auto all = microbatch::decode_frame(frame, sizeof frame);
    CHECK(all.size() == 3 && all[0] == "ab" && all[1].empty() && all[2] == "cde");

    std::vector<std::string_view> views;
    CHECK(microbatch::decode_frame(frame, sizeof frame, [&](std::string_view e) { views.push_back(e); }) == 3);
    CHECK(views.size() == 3 && views[2] == "cde");

    // A bool-returning callback stops at false.
    unsigned calls = 0;
    CHECK(microbatch::decode_frame(frame, sizeof frame, [&](std::string_view) { return ++calls < 2; }) == 1);
    CHECK(calls == 2);

    // An exception from the callback stops decoding and comes back out.
    calls = 0;
    try {
        microbatch::decode_frame(frame, sizeof frame, [&](std::string_view e) {
            calls++;
            if (e.empty()) throw std::logic_error("empty event");
        });
        CHECK(false);
    } catch (const std::logic_error& e) {
        CHECK(std::string(e.what()) == "empty event" && calls == 2);
    }

    // Malformed frames throw before any event is seen.
    for (size_t cut = 0; cut < sizeof frame; cut++) {
        calls = 0;
        std::string msg = EXPECT_ERROR(MB_ERR_MALFORMED, microbatch::decode_frame(frame, cut, [&](std::string_view) {
                                           calls++;
                                       }));
        CHECK(calls == 0 && !msg.empty());
        CHECK(mbf_validate(frame, cut, nullptr) < 0);
    }
    std::vector<uint8_t> trailing(frame, frame + sizeof frame);
    trailing.push_back(0);
    std::string msg = EXPECT_ERROR(MB_ERR_MALFORMED, microbatch::decode_frame(trailing.data(), trailing.size()));
    CHECK(msg.find("trail") != std::string::npos);
    CHECK(mbf_validate(trailing.data(), trailing.size(), nullptr) == MBF_ERR_TRAILING);
}

int main(int argc, char** argv) {
    unsigned n = argc > 1 ? static_cast<unsigned>(std::strtoul(argv[1], nullptr, 10)) : 20000;
    test_config_errors();
    test_callback_sink(n);
    test_failing_callback(n < 1000 ? 1000 : n);
    test_tracked();
    test_gateway(n);
    test_errors_on_submit();
    test_decode_frame();
    std::printf("cpp: ok (%u events)\n", n);
    return 0;
}
