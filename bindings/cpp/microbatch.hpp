// microbatch.hpp: header-only C++17 RAII wrapper over the microbatch C API
// (include/microbatch.h). Link with -lmicrobatch.
//
//   microbatch::Config cfg;
//   cfg.set("partitions", "2").set("level", "L2_FAST");
//   cfg.set_frame_callback([](const uint8_t* frame, size_t len, uint32_t events) {
//       return send_somewhere(frame, len);   // true: taken; false: failed
//   });
//   microbatch::Collector collector(cfg);    // cfg may go away now
//   collector.submit("hello");               // throws microbatch::Error
//   if (collector.try_submit(buf, n) == MB_ERR_FULL) { /* retry later */ }
//   collector.flush(std::chrono::seconds(5));
//   mb_status st = collector.status();
//
// Errors: every failing call throws microbatch::Error, which carries the
// mb_result code and the library's message for it (mb_last_error), except
// the try_* functions, which return the code and never throw (hot path).
//
// Lifetimes: the frame callback is a std::function owned through a
// shared_ptr; each Collector made from the Config holds a reference to it,
// so it lives until the collector is freed (freeing flushes, and so calls it
// a last time), whatever happens to the Config. It runs on the collector's
// flush threads, possibly several at once: it must be thread-safe. An
// exception escaping it is caught (it must not unwind into the library) and
// the frame's events are counted failed.
//
// Acknowledgements at gateway scale: submit_tracked returns a ticket; its
// outcome arrives through poll_acks (with "tracking.queue" = "true": one
// thread drains outcomes for every in-flight request), through an ack
// callback (set_ack_callback, called on the thread that learns outcomes), or
// through wait(ticket) for a caller that wants to block. Nobody has to ask:
// a ticket's slot is free again once its outcome is reported.
//
// Threads: every member of Collector except the move operations may be
// called from any number of threads at once, close() included: after
// close() (on any thread) the others return or throw MB_ERR_CLOSED, exactly
// as the C API does for a freed handle.

#ifndef MICROBATCH_HPP
#define MICROBATCH_HPP

#include <microbatch.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace microbatch {

// A failed call: the result code and the library's message.
class Error : public std::runtime_error {
public:
    Error(mb_result code, const std::string& message)
        : std::runtime_error(std::string(mb_result_name(code)) + ": " + message), code_(code) {}

    mb_result code() const noexcept { return code_; }

private:
    mb_result code_;
};

// The name of a result code, e.g. "MB_ERR_FULL".
inline const char* result_name(mb_result r) noexcept { return mb_result_name(r); }

// This thread's last error message from the library.
inline std::string last_error() {
    std::string message(mb_last_error(nullptr, 0), '\0');
    if (!message.empty()) {
        // The buffer holds size() + 1 bytes (C++11 strings are NUL-terminated).
        size_t full = mb_last_error(&message[0], message.size() + 1);
        message.resize(full < message.size() ? full : message.size());
    }
    return message;
}

namespace detail {

// Throws Error for anything but MB_OK, with this thread's last error.
inline void check(mb_result r) {
    if (r != MB_OK) throw Error(r, last_error());
}

inline uint32_t clamp_ms(std::chrono::milliseconds timeout) noexcept {
    auto ms = timeout.count();
    if (ms < 0) return 0;
    if (static_cast<unsigned long long>(ms) > std::numeric_limits<uint32_t>::max())
        return std::numeric_limits<uint32_t>::max();
    return static_cast<uint32_t>(ms);
}

}  // namespace detail

// Receives each encoded frame (valid only during the call) and its event
// count; returns true when the frame was taken, false to count its events
// failed.
using FrameCallback = std::function<bool(const uint8_t* frame, size_t len, uint32_t events)>;

// Receives the outcomes of tracked events (valid only during the call), a
// frame's worth at a time, on the thread that learns them; several threads
// may call it at once. Exceptions escaping it are swallowed.
using AckCallback = std::function<void(const mb_ack_event* events, size_t count)>;

class Collector;

// An owning collector configuration. Move-only.
class Config {
public:
    Config() : cfg_(mb_config_new()) {
        if (!cfg_) throw std::bad_alloc();
    }

    Config(Config&&) noexcept = default;
    Config& operator=(Config&&) noexcept = default;
    Config(const Config&) = delete;
    Config& operator=(const Config&) = delete;

    // Sets one key, e.g. set("partitions", "4"). Throws Error
    // (MB_ERR_INVALID_CONFIG) naming the key and what it allows; the config
    // is then unchanged.
    Config& set(const std::string& key, const std::string& value) {
        detail::check(mb_config_set(get(), key.c_str(), value.c_str()));
        return *this;
    }

    // Sets a numeric key, e.g. set("partitions", 4).
    template <class T, class = std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>>
    Config& set(const std::string& key, T value) {
        return set(key, std::to_string(value));
    }

    // Sends frames to `cb` (and makes `callback` the sink). See the lifetime
    // and threading notes at the top of this file.
    Config& set_frame_callback(FrameCallback cb) {
        if (!cb) throw Error(MB_ERR_NULL_ARG, "the frame callback is empty");
        auto owned = std::make_shared<FrameCallback>(std::move(cb));
        detail::check(mb_config_set_frame_callback(get(), &Config::trampoline, owned.get()));
        callback_ = std::move(owned);
        return *this;
    }

    // Hands the outcome of every tracked event to `cb` (see AckCallback).
    Config& set_ack_callback(AckCallback cb) {
        if (!cb) throw Error(MB_ERR_NULL_ARG, "the ack callback is empty");
        auto owned = std::make_shared<AckCallback>(std::move(cb));
        detail::check(mb_config_set_ack_callback(get(), &Config::ack_trampoline, owned.get()));
        ack_callback_ = std::move(owned);
        return *this;
    }

    // The C handle, still owned by this object.
    mb_config* get() const {
        if (!cfg_) throw Error(MB_ERR_NULL_ARG, "microbatch::Config was moved from");
        return cfg_.get();
    }

private:
    friend class Collector;

    static int32_t trampoline(void* ctx, const uint8_t* frame, size_t len, uint32_t events) noexcept {
        try {
            return (*static_cast<FrameCallback*>(ctx))(frame, len, events) ? 0 : 1;
        } catch (...) {
            return 2;  // must not unwind into the library: the frame's events fail
        }
    }

    static void ack_trampoline(void* ctx, const mb_ack_event* events, size_t count) noexcept {
        try {
            (*static_cast<AckCallback*>(ctx))(events, count);
        } catch (...) {
            // must not unwind into the library; the outcomes stay reported
        }
    }

    struct Free {
        void operator()(mb_config* c) const noexcept { mb_config_free(c); }
    };
    std::unique_ptr<mb_config, Free> cfg_;
    std::shared_ptr<FrameCallback> callback_;
    std::shared_ptr<AckCallback> ack_callback_;
};

// An owning collector. Move-only; the destructor frees it, which flushes
// everything pending (waiting at most `close.timeout.ms`).
class Collector {
public:
    explicit Collector(const Config& cfg) : callback_(cfg.callback_), ack_callback_(cfg.ack_callback_) {
        detail::check(mb_collector_new(cfg.get(), &c_));
    }

    // Moving is not thread-safe: no other thread may use either collector
    // while it is moved.
    Collector(Collector&& other) noexcept
        : c_(std::exchange(other.c_, nullptr)),
          closed_(other.closed_.exchange(true)),
          callback_(std::move(other.callback_)),
          ack_callback_(std::move(other.ack_callback_)) {}

    Collector& operator=(Collector&& other) noexcept {
        if (this != &other) {
            close();
            c_ = std::exchange(other.c_, nullptr);
            closed_.store(other.closed_.exchange(true));
            callback_ = std::move(other.callback_);
            ack_callback_ = std::move(other.ack_callback_);
        }
        return *this;
    }

    Collector(const Collector&) = delete;
    Collector& operator=(const Collector&) = delete;

    ~Collector() { close(); }

    // Submits one event (copied before returning). Returns the code and never
    // throws: MB_ERR_FULL means nothing was taken and the caller may retry.
    // MB_ERR_CLOSED after close() or on a moved-from collector.
    mb_result try_submit(const void* data, size_t len) noexcept {
        if (!c_) return MB_ERR_CLOSED;
        return mb_collector_submit(c_, static_cast<const uint8_t*>(data), len);
    }
    mb_result try_submit(std::string_view event) noexcept { return try_submit(event.data(), event.size()); }

    // Submits one event; throws Error on any refusal (including MB_ERR_FULL).
    void submit(const void* data, size_t len) {
        if (!c_) throw closed();
        detail::check(mb_collector_submit(c_, static_cast<const uint8_t*>(data), len));
    }
    void submit(std::string_view event) { submit(event.data(), event.size()); }
    template <class T, class A>
    void submit(const std::vector<T, A>& bytes) {
        static_assert(sizeof(T) == 1, "submit(vector) takes bytes");
        submit(bytes.data(), bytes.size());
    }

    // Submits one event whose acknowledgement the caller wants (see
    // mb_collector_submit_tracked) and returns its ticket (never 0); throws
    // Error: MB_ERR_FULL (no ring space), MB_ERR_TRACKING_FULL (no tracking
    // slot), and the rest as submit.
    uint64_t submit_tracked(const void* data, size_t len) {
        if (!c_) throw closed();
        uint64_t ticket = 0;
        detail::check(mb_collector_submit_tracked(c_, static_cast<const uint8_t*>(data), len, &ticket));
        return ticket;
    }
    uint64_t submit_tracked(std::string_view event) { return submit_tracked(event.data(), event.size()); }

    // The non-throwing form: the code, and the ticket in `ticket` on MB_OK.
    mb_result try_submit_tracked(const void* data, size_t len, uint64_t& ticket) noexcept {
        if (!c_) return MB_ERR_CLOSED;
        return mb_collector_submit_tracked(c_, static_cast<const uint8_t*>(data), len, &ticket);
    }

    // Waits for a ticket's acknowledgement and returns where the event
    // landed. Throws Error: MB_ERR_DELIVERY (failed), MB_ERR_TIMEOUT (the
    // ticket stays valid), MB_ERR_UNKNOWN_TICKET (never issued, or expired:
    // reported and its slot reused since). Asking again gets the same answer.
    mb_ack wait(uint64_t ticket, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
        mb_ack ack{};
        detail::check(try_wait(ticket, timeout, &ack));
        return ack;
    }

    // The non-throwing form; `ack` may be null.
    mb_result try_wait(uint64_t ticket, std::chrono::milliseconds timeout, mb_ack* ack = nullptr) noexcept {
        if (!c_) return MB_ERR_CLOSED;
        return mb_collector_wait_ack(c_, ticket, detail::clamp_ms(timeout), ack);
    }

    // Drains up to `max` outcomes into `out` (needs "tracking.queue" =
    // "true"), waiting up to `timeout` for the first; returns how many (0
    // if none came in time). Throws Error: MB_ERR_CLOSED once the collector
    // is closed and every outcome has been drained (keep draining through
    // close() on another thread to collect them all).
    size_t poll_acks(mb_ack_event* out, size_t max, std::chrono::milliseconds timeout) {
        size_t count = 0;
        detail::check(try_poll_acks(out, max, count, timeout));
        return count;
    }

    // Drains into `out` (cleared first, up to its capacity or 1024 events).
    size_t poll_acks(std::vector<mb_ack_event>& out, std::chrono::milliseconds timeout) {
        out.resize(out.capacity() ? out.capacity() : 1024);
        size_t count = 0;
        mb_result r = try_poll_acks(out.data(), out.size(), count, timeout);
        out.resize(count);
        detail::check(r);
        return count;
    }

    // The non-throwing form.
    mb_result try_poll_acks(mb_ack_event* out, size_t max, size_t& count,
                            std::chrono::milliseconds timeout) noexcept {
        count = 0;
        if (!c_) return MB_ERR_CLOSED;
        return mb_collector_poll_acks(c_, out, max, &count, detail::clamp_ms(timeout));
    }

    // Waits until everything submitted so far has been taken by the sink.
    // Throws Error (MB_ERR_TIMEOUT, MB_ERR_CLOSED, ...).
    void flush(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
        if (!c_) throw closed();
        detail::check(mb_collector_flush(c_, detail::clamp_ms(timeout)));
    }

    // A snapshot of the counters. Throws Error (MB_ERR_CLOSED once closed).
    mb_status status() const {
        mb_status st{};
        if (!c_) throw closed();
        detail::check(mb_collector_status(c_, &st));
        return st;
    }

    // Frees the collector now (flushing what is pending); later calls, on
    // any thread, report MB_ERR_CLOSED. Idempotent, and safe to call while
    // other threads submit, wait or poll: the handle itself is never
    // written, and the C library answers a freed handle with MB_ERR_CLOSED
    // (a wait or poll_acks already in progress still gets its outcomes).
    // The callbacks are released afterwards (only the closing thread touches
    // them, and the freed collector never calls them again).
    void close() noexcept {
        if (c_ && !closed_.exchange(true)) {
            mb_collector_free(c_);
            callback_.reset();
            ack_callback_.reset();
        }
    }

    bool is_open() const noexcept { return c_ && !closed_.load(); }

    // The C handle (after close(), a freed handle that answers
    // MB_ERR_CLOSED; NULL on a moved-from collector).
    mb_collector* get() const noexcept { return c_; }

private:
    static Error closed() { return Error(MB_ERR_CLOSED, "the collector is closed (or was moved from)"); }

    mb_collector* c_ = nullptr;
    std::atomic<bool> closed_{false};
    // Released by close(), after mb_collector_free: the library calls them
    // until then.
    std::shared_ptr<FrameCallback> callback_;
    std::shared_ptr<AckCallback> ack_callback_;
};

namespace detail {

template <class F>
struct DecodeState {
    F* on_event;
    std::exception_ptr error;
};

template <class F>
int32_t decode_trampoline(void* ctx, const uint8_t* event, size_t len) noexcept {
    auto* state = static_cast<DecodeState<F>*>(ctx);
    try {
        std::string_view view(reinterpret_cast<const char*>(event), len);
        if constexpr (std::is_same_v<decltype((*state->on_event)(view)), void>) {
            (*state->on_event)(view);
            return 0;
        } else {
            return (*state->on_event)(view) ? 0 : 1;
        }
    } catch (...) {
        state->error = std::current_exception();
        return 1;
    }
}

}  // namespace detail

// Decodes a frame with mb_frame_decode, calling `on_event(std::string_view)`
// for each event in order (the view is valid only during the call). The
// frame is validated first: a malformed one throws Error(MB_ERR_MALFORMED)
// before `on_event` is called. `on_event` may return void, or bool where
// false stops decoding (decode_frame then returns the events accepted so
// far). An exception thrown by `on_event` stops decoding and is rethrown.
// Returns the number of events `on_event` accepted.
template <class F>
uint32_t decode_frame(const void* frame, size_t len, F&& on_event) {
    using Fn = std::remove_reference_t<F>;
    detail::DecodeState<Fn> state{&on_event, nullptr};
    uint32_t count = 0;
    mb_result r = mb_frame_decode(static_cast<const uint8_t*>(frame), len, &detail::decode_trampoline<Fn>, &state,
                                  &count);
    if (state.error) std::rethrow_exception(state.error);
    if (r == MB_ERR_DELIVERY) return count;  // on_event returned false
    detail::check(r);
    return count;
}

// Decodes a whole frame into owned strings; throws Error(MB_ERR_MALFORMED).
inline std::vector<std::string> decode_frame(const void* frame, size_t len) {
    std::vector<std::string> events;
    decode_frame(frame, len, [&](std::string_view e) { events.emplace_back(e); });
    return events;
}

}  // namespace microbatch

#endif  // MICROBATCH_HPP
