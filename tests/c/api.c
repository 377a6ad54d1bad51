/* api.c: every C entry point of libmicrobatch, from C.
 *
 * Usage: api [events-per-thread]   (default 20000; keep it small under valgrind)
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

static int32_t count_events_cb(void *ctx, const uint8_t *event, size_t len) {
    (void)event;
    (void)len;
    ++*(uint32_t *)ctx;
    return 0;
}

/* A sink that expects events "tid, seq u32 LE, padding" from a few producer
 * threads and checks each thread's events arrive complete and in order. */
#define PRODUCERS 3
#define PAD_MAX 40

struct ordered_sink {
    pthread_mutex_t lock;
    uint32_t next_seq[PRODUCERS];
    uint64_t frames;
    uint64_t events;
    uint64_t empty_events;
    uint64_t errors; /* checked by main: callbacks run on flush threads */
};

struct frame_walk {
    struct ordered_sink *sink;
};

static size_t pad_len(uint32_t tid, uint32_t seq) {
    return (size_t)((seq * 7u + tid) % PAD_MAX);
}

static size_t make_event(uint8_t *buf, uint32_t tid, uint32_t seq) {
    size_t pad = pad_len(tid, seq);
    buf[0] = (uint8_t)tid;
    put_u32le(buf + 1, seq);
    for (size_t j = 0; j < pad; j++) buf[5 + j] = (uint8_t)(seq + j);
    return 5 + pad;
}

static int32_t ordered_event(void *ctx, const uint8_t *event, size_t len) {
    struct ordered_sink *s = ((struct frame_walk *)ctx)->sink;
    if (len == 0) {
        s->empty_events++;
        return 0;
    }
    if (len < 5 || event[0] >= PRODUCERS) {
        s->errors++;
        return 0;
    }
    uint32_t tid = event[0], seq = get_u32le(event + 1);
    if (seq != s->next_seq[tid] || len != 5 + pad_len(tid, seq)) {
        fprintf(stderr, "producer %u: got seq %u (len %zu), expected %u\n", tid, seq, len, s->next_seq[tid]);
        s->errors++;
    }
    for (size_t j = 0; j + 5 < len; j++) {
        if (event[5 + j] != (uint8_t)(seq + j)) {
            s->errors++;
            break;
        }
    }
    s->next_seq[tid] = seq + 1;
    s->events++;
    return 0;
}

static int32_t ordered_frame(void *ctx, const uint8_t *frame, size_t len, uint32_t event_count) {
    struct ordered_sink *s = ctx;
    struct frame_walk walk = {s};
    uint32_t n = 0;
    pthread_mutex_lock(&s->lock);
    s->frames++;
    mb_result rc = mb_frame_decode(frame, len, ordered_event, &walk, &n);
    if (rc != MB_OK || n != event_count || event_count == 0) {
        fprintf(stderr, "frame: %s, %u events decoded, %u announced\n", mb_result_name(rc), n, event_count);
        s->errors++;
    }
    pthread_mutex_unlock(&s->lock);
    return 0;
}

struct producer {
    mb_collector *c;
    uint32_t tid;
    uint32_t events;
    uint64_t fulls;
    mb_result last;
};

static void *produce_ordered(void *arg) {
    struct producer *p = arg;
    uint8_t buf[5 + PAD_MAX];
    p->last = MB_OK;
    for (uint32_t seq = 0; seq < p->events; seq++) {
        size_t len = make_event(buf, p->tid, seq);
        mb_result rc;
        while ((rc = mb_collector_submit(p->c, buf, len)) == MB_ERR_FULL) {
            p->fulls++;
            sched_yield();
        }
        if (rc != MB_OK) {
            p->last = rc;
            return NULL;
        }
    }
    return NULL;
}

static mb_collector *new_collector(mb_config *cfg) {
    mb_collector *c = NULL;
    CHECK_OK(mb_collector_new(cfg, &c));
    CHECK(c != NULL);
    return c;
}

static void check_quiescent(const mb_status *st) {
    CHECK(st->submitted == st->delivered + st->failed + st->pending);
    CHECK(st->pending == 0);
    CHECK(st->level >= 1 && st->level <= 10);
}

/* ------------------------------------------------------------------ tests */

static void test_result_names(void) {
    static const char *const names[] = {
        "MB_OK",           "MB_ERR_NULL_ARG", "MB_ERR_INVALID_CONFIG", "MB_ERR_FULL", "MB_ERR_TOO_LARGE",
        "MB_ERR_CLOSED",   "MB_ERR_TIMEOUT",  "MB_ERR_DELIVERY",       "MB_ERR_KAFKA", "MB_ERR_CALIBRATION",
        "MB_ERR_MALFORMED", "MB_ERR_PANIC",   "MB_ERR_INTERNAL",       "MB_ERR_UNKNOWN_TICKET",
        "MB_ERR_TRACKING_FULL",
    };
    const mb_result codes[] = {
        MB_OK,          MB_ERR_NULL_ARG, MB_ERR_INVALID_CONFIG, MB_ERR_FULL,      MB_ERR_TOO_LARGE,
        MB_ERR_CLOSED,  MB_ERR_TIMEOUT,  MB_ERR_DELIVERY,       MB_ERR_KAFKA,     MB_ERR_CALIBRATION,
        MB_ERR_MALFORMED, MB_ERR_PANIC,  MB_ERR_INTERNAL,       MB_ERR_UNKNOWN_TICKET,
        MB_ERR_TRACKING_FULL,
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        CHECK((size_t)codes[i] == i);
        CHECK(mb_result_name(codes[i]) != NULL);
        CHECK(strcmp(mb_result_name(codes[i]), names[i]) == 0);
        CHECK(mb_result_name(codes[i]) == mb_result_name(codes[i])); /* static */
    }
    /* Values outside the enum, as C may pass any int. */
    CHECK(strcmp(mb_result_name((mb_result)15), "MB_UNKNOWN") == 0);
    CHECK(strcmp(mb_result_name((mb_result)1000), "MB_UNKNOWN") == 0);
    CHECK(strcmp(mb_result_name((mb_result)-1), "MB_UNKNOWN") == 0);
}

static void *fresh_thread_last_error(void *arg) {
    char buf[16];
    memset(buf, 'x', sizeof buf);
    /* A thread that never failed has an empty last error. */
    size_t n = mb_last_error(buf, sizeof buf);
    *(int *)arg = (n == 0 && buf[0] == '\0');
    /* Fail here: must not change the main thread's message. */
    mb_result rc = mb_config_set(NULL, "partitions", "1");
    *(int *)arg &= rc == MB_ERR_NULL_ARG;
    return NULL;
}

static void test_null_args(void) {
    mb_config *cfg = mb_config_new();
    CHECK(cfg != NULL);
    uint8_t byte = 1;
    mb_status st;
    uint32_t count = 77;

    /* mb_config_set */
    CHECK_RC(mb_config_set(NULL, "partitions", "1"), MB_ERR_NULL_ARG);
    CHECK_LAST_ERROR_HAS("cfg");
    CHECK_RC(mb_config_set(cfg, NULL, "1"), MB_ERR_NULL_ARG);
    CHECK_LAST_ERROR_HAS("key");
    CHECK_RC(mb_config_set(cfg, "partitions", NULL), MB_ERR_NULL_ARG);
    CHECK_LAST_ERROR_HAS("value");

    /* mb_config_set_frame_callback: ctx may be NULL, cb may not. */
    CHECK_RC(mb_config_set_frame_callback(NULL, ordered_frame, NULL), MB_ERR_NULL_ARG);
    CHECK_RC(mb_config_set_frame_callback(cfg, NULL, &byte), MB_ERR_NULL_ARG);
    CHECK_LAST_ERROR_HAS("cb");

    /* mb_config_free / mb_collector_free ignore NULL. */
    mb_config_free(NULL);
    mb_collector_free(NULL);

    /* mb_collector_new: *out is cleared even on error. */
    mb_collector *c = (mb_collector *)&byte;
    CHECK_RC(mb_collector_new(NULL, &c), MB_ERR_NULL_ARG);
    CHECK(c == NULL);
    CHECK_LAST_ERROR_HAS("cfg");
    CHECK_RC(mb_collector_new(cfg, NULL), MB_ERR_NULL_ARG);
    CHECK_LAST_ERROR_HAS("out");

    /* A working collector (null sink) for the handle-taking functions. */
    CHECK_OK(mb_config_set(cfg, "partitions", "1"));
    CHECK_OK(mb_config_set(cfg, "flush.threads", "1"));
    CHECK_OK(mb_config_set(cfg, "sink", "null"));
    c = new_collector(cfg);

    CHECK_RC(mb_collector_submit(NULL, &byte, 1), MB_ERR_NULL_ARG);
    CHECK_RC(mb_collector_submit(c, NULL, 5), MB_ERR_NULL_ARG);
    CHECK_LAST_ERROR_HAS("data");
    CHECK_OK(mb_collector_submit(c, NULL, 0)); /* NULL is fine with length 0 */
    CHECK_OK(mb_collector_submit(c, &byte, 0));
    CHECK_OK(mb_collector_submit(c, &byte, 1));

    uint64_t ticket = 0;
    CHECK_RC(mb_collector_submit_tracked(NULL, &byte, 1, &ticket), MB_ERR_NULL_ARG);
    CHECK_RC(mb_collector_submit_tracked(c, &byte, 1, NULL), MB_ERR_NULL_ARG);
    CHECK_LAST_ERROR_HAS("ticket_out");
    CHECK_RC(mb_collector_submit_tracked(c, NULL, 1, &ticket), MB_ERR_NULL_ARG);
    CHECK_LAST_ERROR_HAS("data");
    CHECK_OK(mb_collector_submit_tracked(c, NULL, 0, &ticket));
    CHECK_RC(mb_collector_wait(NULL, ticket, 100), MB_ERR_NULL_ARG);
    mb_ack ack;
    CHECK_RC(mb_collector_wait_ack(NULL, ticket, 100, &ack), MB_ERR_NULL_ARG);
    CHECK_OK(mb_collector_wait_ack(c, ticket, 30000, NULL)); /* out may be NULL */

    CHECK_RC(mb_collector_flush(NULL, 100), MB_ERR_NULL_ARG);
    CHECK_RC(mb_collector_status(NULL, &st), MB_ERR_NULL_ARG);
    CHECK_RC(mb_collector_status(c, NULL), MB_ERR_NULL_ARG);
    CHECK_LAST_ERROR_HAS("out");

    CHECK_OK(mb_collector_flush(c, 10000));
    CHECK_OK(mb_collector_status(c, &st));
    CHECK(st.submitted == 4 && st.delivered == 4 && st.failed == 0 && st.rejected == 0 && st.sink_errors == 0);
    check_quiescent(&st);

    /* mb_frame_decode: frame NULL with a length, cb NULL; count_out cleared. */
    uint8_t empty_frame[8] = {0x4D, 0x42, 1, 0, 0, 0, 0, 0};
    CHECK_RC(mb_frame_decode(NULL, 5, count_events_cb, &count, &count), MB_ERR_NULL_ARG);
    CHECK(count == 0);
    CHECK_LAST_ERROR_HAS("frame");
    count = 77;
    CHECK_RC(mb_frame_decode(empty_frame, sizeof empty_frame, NULL, NULL, &count), MB_ERR_NULL_ARG);
    CHECK(count == 0);
    CHECK_LAST_ERROR_HAS("cb");
    CHECK_OK(mb_frame_decode(empty_frame, sizeof empty_frame, count_events_cb, &count, NULL));
    /* NULL with length 0 is an empty frame: too short for the header. */
    CHECK_RC(mb_frame_decode(NULL, 0, count_events_cb, &count, NULL), MB_ERR_MALFORMED);

    /* mb_last_error with buf NULL writes nothing whatever len says. */
    CHECK(mb_last_error(NULL, 0) > 0);
    CHECK(mb_last_error(NULL, 100) == mb_last_error(NULL, 0));

    /* Last errors are per thread. */
    CHECK_RC(mb_collector_status(c, NULL), MB_ERR_NULL_ARG);
    char *before = last_error_dup();
    pthread_t t;
    int fresh_ok = 0;
    CHECK(pthread_create(&t, NULL, fresh_thread_last_error, &fresh_ok) == 0);
    pthread_join(t, NULL);
    CHECK(fresh_ok);
    char *after = last_error_dup();
    CHECK(strcmp(before, after) == 0);
    free(before);
    free(after);

    mb_collector_free(c);
    mb_config_free(cfg);
}

static void test_bad_config(void) {
    mb_config *cfg = mb_config_new();
    CHECK(cfg != NULL);
    static const char *const bad[][2] = {
        {"no.such.key", "1"},         {"partitions", "0"},          {"partitions", "1025"},
        {"partitions", "many"},       {"flush.threads", "0"},       {"ring.type", "ring"},
        {"ring.capacity.bytes", "1"}, {"event.max.bytes", "0"},     {"batch.max.events", "0"},
        {"batch.max.bytes", "63"},    {"pressure.window.ms", "0"},  {"latency.max.ms", "0"},
        {"level", "L11_MORE"},        {"level", "0"},               {"submit.block.ms", "-1"},
        {"close.timeout.ms", "soon"}, {"sink", "kafka-please"},     {"sink", "callback"},
        {"kafka.", "x"},              {"kafka.mode", "batch"},      {"kafka.topic", ""},
        {"tracking.slots", "0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mb_result rc = mb_config_set(cfg, bad[i][0], bad[i][1]);
        if (rc != MB_ERR_INVALID_CONFIG) {
            fprintf(stderr, "%s=%s returned %s\n", bad[i][0], bad[i][1], mb_result_name(rc));
            exit(1);
        }
        /* The message names the key. */
        CHECK_LAST_ERROR_HAS(bad[i][0]);
    }

    /* The size-query form and truncation. */
    CHECK_RC(mb_config_set(cfg, "no.such.key", "1"), MB_ERR_INVALID_CONFIG);
    size_t full = mb_last_error(NULL, 0);
    CHECK(full > 20);
    char *message = malloc(full + 1);
    CHECK(message != NULL);
    memset(message, 'x', full + 1);
    CHECK(mb_last_error(message, full + 1) == full);
    CHECK(message[full] == '\0' && strlen(message) == full);
    CHECK(strstr(message, "unknown key `no.such.key`") != NULL);
    CHECK(strstr(message, "partitions") != NULL); /* lists the known keys */
    char small[9];
    memset(small, 'x', sizeof small);
    CHECK(mb_last_error(small, sizeof small) == full);
    CHECK(small[8] == '\0' && strlen(small) == 8 && strncmp(small, message, 8) == 0);
    char one = 'x';
    CHECK(mb_last_error(&one, 1) == full);
    CHECK(one == '\0');
    /* Exactly the full length: one byte short of the NUL, so truncated by one. */
    memset(message, 'x', full + 1);
    CHECK(mb_last_error(message, full) == full);
    CHECK(strlen(message) == full - 1);
    free(message);

    /* Refused values leave the config unchanged: these sets failed, so the
     * defaults (and the good values below) still build a collector. */
    CHECK_OK(mb_config_set(cfg, "partitions", "1"));
    CHECK_RC(mb_config_set(cfg, "partitions", "0"), MB_ERR_INVALID_CONFIG);
    CHECK_OK(mb_config_set(cfg, "kafka.acks", "all"));
    CHECK_OK(mb_config_set(cfg, "level", "auto"));
    CHECK_OK(mb_config_set(cfg, "ring.type", "MPSC"));
    CHECK_OK(mb_config_set(cfg, "sink", "null"));
    mb_collector *c = new_collector(cfg);
    mb_collector_free(c);

    /* Keys that contradict each other are refused by mb_collector_new. */
    CHECK_OK(mb_config_set(cfg, "batch.max.bytes", "1000"));
    c = (mb_collector *)cfg;
    CHECK_RC(mb_collector_new(cfg, &c), MB_ERR_INVALID_CONFIG);
    CHECK(c == NULL);
    CHECK_LAST_ERROR_HAS("event.max.bytes");
    CHECK_OK(mb_config_set(cfg, "batch.max.bytes", "983040"));
    CHECK_OK(mb_config_set(cfg, "latency.max.ms", "50"));
    CHECK_OK(mb_config_set(cfg, "level", "L5_BALANCED"));
    CHECK_RC(mb_collector_new(cfg, &c), MB_ERR_INVALID_CONFIG);
    CHECK_LAST_ERROR_HAS("latency.max.ms");
    mb_config_free(cfg);
}

/* Several threads through a callback sink: every event arrives once, in
 * order per thread, and the counters add up. */
static void test_callback_sink(uint32_t per_thread) {
    static struct ordered_sink sink;
    memset(&sink, 0, sizeof sink);
    pthread_mutex_init(&sink.lock, NULL);

    mb_config *cfg = mb_config_new();
    CHECK(cfg != NULL);
    CHECK_OK(mb_config_set(cfg, "partitions", "2"));
    CHECK_OK(mb_config_set(cfg, "flush.threads", "2"));
    CHECK_OK(mb_config_set(cfg, "level", "L2_FAST"));
    CHECK_OK(mb_config_set(cfg, "ring.capacity.bytes", "65536"));
    CHECK_OK(mb_config_set(cfg, "event.max.bytes", "1024"));
    CHECK_OK(mb_config_set(cfg, "batch.max.events", "500"));
    CHECK_OK(mb_config_set_frame_callback(cfg, ordered_frame, &sink));
    mb_collector *c = new_collector(cfg);
    mb_config_free(cfg); /* not consumed: the collector keeps working */

    pthread_t threads[PRODUCERS];
    struct producer producers[PRODUCERS];
    for (uint32_t t = 0; t < PRODUCERS; t++) {
        producers[t] = (struct producer){c, t, per_thread, 0, MB_OK};
        CHECK(pthread_create(&threads[t], NULL, produce_ordered, &producers[t]) == 0);
    }
    uint64_t fulls = 0;
    for (uint32_t t = 0; t < PRODUCERS; t++) {
        pthread_join(threads[t], NULL);
        CHECK_RC(producers[t].last, MB_OK);
        fulls += producers[t].fulls;
    }
    CHECK_OK(mb_collector_submit(c, NULL, 0)); /* one empty event */

    /* Too large: refused, counted, and the message says why. */
    uint8_t big[1025];
    memset(big, 7, sizeof big);
    CHECK_RC(mb_collector_submit(c, big, sizeof big), MB_ERR_TOO_LARGE);
    CHECK_LAST_ERROR_HAS("event.max.bytes");

    CHECK_OK(mb_collector_flush(c, 30000));
    CHECK_OK(mb_collector_flush(c, 0)); /* nothing pending: done at once */
    mb_status st;
    CHECK_OK(mb_collector_status(c, &st));
    uint64_t total = (uint64_t)per_thread * PRODUCERS + 1;
    pthread_mutex_lock(&sink.lock);
    CHECK(sink.errors == 0);
    CHECK(sink.events + sink.empty_events == total && sink.empty_events == 1);
    for (uint32_t t = 0; t < PRODUCERS; t++) CHECK(sink.next_seq[t] == per_thread);
    CHECK(st.flushed_batches == sink.frames);
    pthread_mutex_unlock(&sink.lock);
    CHECK(st.submitted == total);
    CHECK(st.delivered == total && st.failed == 0);
    CHECK(st.rejected == fulls + 1);
    CHECK(st.level == 2);
    CHECK(st.batch_events >= 1 && st.batch_events <= 500);
    CHECK(st.interval_us > 0);
    CHECK(st.rate_per_sec >= 0.0);
    CHECK(st.sink_errors == 0);
    check_quiescent(&st);

    mb_collector_free(c);
    pthread_mutex_lock(&sink.lock);
    CHECK(sink.events + sink.empty_events == total); /* free delivered nothing twice */
    pthread_mutex_unlock(&sink.lock);
    pthread_mutex_destroy(&sink.lock);
}

/* A callback that refuses every other frame: those events count as failed. */
struct failing_sink {
    pthread_mutex_t lock;
    uint64_t frames, ok_events, failed_events;
};

static int32_t failing_frame(void *ctx, const uint8_t *frame, size_t len, uint32_t event_count) {
    struct failing_sink *s = ctx;
    (void)frame;
    (void)len;
    pthread_mutex_lock(&s->lock);
    int refuse = (s->frames++ % 2) == 0;
    if (refuse)
        s->failed_events += event_count;
    else
        s->ok_events += event_count;
    pthread_mutex_unlock(&s->lock);
    return refuse ? -3 : 0;
}

static void test_failing_callback(uint32_t events) {
    static struct failing_sink sink;
    memset(&sink, 0, sizeof sink);
    pthread_mutex_init(&sink.lock, NULL);
    mb_config *cfg = mb_config_new();
    CHECK(cfg != NULL);
    CHECK_OK(mb_config_set(cfg, "partitions", "1"));
    CHECK_OK(mb_config_set(cfg, "level", "L1_REALTIME"));
    CHECK_OK(mb_config_set(cfg, "batch.max.events", "100"));
    CHECK_OK(mb_config_set_frame_callback(cfg, failing_frame, &sink));
    mb_collector *c = new_collector(cfg);
    mb_config_free(cfg);

    uint8_t ev[32];
    memset(ev, 'f', sizeof ev);
    uint64_t fulls = 0;
    for (uint32_t i = 0; i < events; i++) {
        mb_result rc;
        while ((rc = mb_collector_submit(c, ev, 1 + i % sizeof ev)) == MB_ERR_FULL) {
            fulls++;
            sched_yield();
        }
        CHECK_OK(rc);
        /* Several frames even when the flush threads are fast. */
        if (i % 250 == 249) CHECK_OK(mb_collector_flush(c, 30000));
    }
    CHECK_OK(mb_collector_flush(c, 30000));
    mb_status st;
    CHECK_OK(mb_collector_status(c, &st));
    pthread_mutex_lock(&sink.lock);
    CHECK(sink.frames >= 2 && sink.failed_events > 0);
    CHECK(st.failed == sink.failed_events);
    CHECK(st.delivered == sink.ok_events);
    CHECK(st.flushed_batches == sink.frames);
    pthread_mutex_unlock(&sink.lock);
    CHECK(st.submitted == events);
    CHECK(st.rejected == fulls);
    check_quiescent(&st);
    mb_collector_free(c);
    pthread_mutex_destroy(&sink.lock);
}

/* A callback that blocks until released: the ring fills (MB_ERR_FULL) and a
 * short flush times out (MB_ERR_TIMEOUT). */
struct blocking_sink {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int entered, released;
    uint64_t events;
};

static int32_t blocking_frame(void *ctx, const uint8_t *frame, size_t len, uint32_t event_count) {
    struct blocking_sink *s = ctx;
    (void)frame;
    (void)len;
    pthread_mutex_lock(&s->lock);
    s->entered = 1;
    pthread_cond_broadcast(&s->cond);
    while (!s->released) pthread_cond_wait(&s->cond, &s->lock);
    s->events += event_count;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static void test_full_and_timeout(void) {
    static struct blocking_sink sink = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
    mb_config *cfg = mb_config_new();
    CHECK(cfg != NULL);
    CHECK_OK(mb_config_set(cfg, "partitions", "1"));
    CHECK_OK(mb_config_set(cfg, "flush.threads", "1"));
    CHECK_OK(mb_config_set(cfg, "ring.capacity.bytes", "4096"));
    CHECK_OK(mb_config_set(cfg, "event.max.bytes", "256"));
    CHECK_OK(mb_config_set(cfg, "level", "L1_REALTIME"));
    CHECK_OK(mb_config_set(cfg, "tracking.slots", "2"));
    CHECK_OK(mb_config_set_frame_callback(cfg, blocking_frame, &sink));
    mb_collector *c = new_collector(cfg);
    mb_config_free(cfg);

    uint8_t ev[64];
    memset(ev, 'b', sizeof ev);
    CHECK_OK(mb_collector_submit(c, ev, sizeof ev));
    /* Wait until the flush thread is stuck in the callback. */
    pthread_mutex_lock(&sink.lock);
    while (!sink.entered) pthread_mutex_unlock(&sink.lock), sleep_ms(1), pthread_mutex_lock(&sink.lock);
    pthread_mutex_unlock(&sink.lock);

    /* Two tracking slots: a third tracked submit is refused (with its own
     * code) until an outcome is known; a wait on a stuck event times out and
     * the ticket stays valid. */
    uint64_t tickets[2], extra;
    CHECK_OK(mb_collector_submit_tracked(c, ev, sizeof ev, &tickets[0]));
    CHECK_OK(mb_collector_submit_tracked(c, ev, sizeof ev, &tickets[1]));
    CHECK_RC(mb_collector_submit_tracked(c, ev, sizeof ev, &extra), MB_ERR_TRACKING_FULL);
    CHECK_LAST_ERROR_HAS("tracking.slots");
    CHECK_RC(mb_collector_wait(c, tickets[0], 20), MB_ERR_TIMEOUT);
    CHECK_RC(mb_collector_wait(c, tickets[0], 0), MB_ERR_TIMEOUT);

    uint64_t accepted = 3, fulls = 1;
    for (int i = 0; i < 10000 && fulls < 4; i++) {
        mb_result rc = mb_collector_submit(c, ev, sizeof ev);
        if (rc == MB_OK) {
            accepted++;
        } else {
            CHECK_RC(rc, MB_ERR_FULL);
            CHECK_LAST_ERROR_HAS("full");
            fulls++;
        }
    }
    CHECK(fulls == 4);
    CHECK(accepted > 1 && accepted < 4096 / sizeof ev);

    CHECK_RC(mb_collector_flush(c, 50), MB_ERR_TIMEOUT);
    CHECK_LAST_ERROR_HAS("timed out");
    mb_status st;
    CHECK_OK(mb_collector_status(c, &st));
    CHECK(st.submitted == accepted && st.rejected == fulls && st.delivered == 0 && st.pending == accepted);

    pthread_mutex_lock(&sink.lock);
    sink.released = 1;
    pthread_cond_broadcast(&sink.cond);
    pthread_mutex_unlock(&sink.lock);

    mb_ack ack = {7, 7, 7};
    CHECK_OK(mb_collector_wait_ack(c, tickets[0], 30000, &ack));
    CHECK(ack.partition == -1 && ack.offset == -1); /* a callback sink has neither */
    CHECK_OK(mb_collector_wait(c, tickets[1], 30000));
    /* Asking again gets the same answer: waiting does not consume it. */
    CHECK_OK(mb_collector_wait(c, tickets[1], 0));
    CHECK_OK(mb_collector_flush(c, 30000));
    CHECK_OK(mb_collector_status(c, &st));
    CHECK(st.delivered == accepted);
    check_quiescent(&st);
    mb_collector_free(c);
    CHECK(sink.events == accepted);
}

/* The default sink (null) counts everything delivered. */
static void test_null_sink(uint32_t events) {
    mb_config *cfg = mb_config_new();
    CHECK(cfg != NULL);
    CHECK_OK(mb_config_set(cfg, "partitions", "2"));
    CHECK_OK(mb_config_set(cfg, "sink", "null"));
    mb_collector *c = new_collector(cfg);
    mb_config_free(cfg);
    uint64_t fulls = 0;
    for (uint32_t i = 0; i < events; i++) {
        mb_result rc;
        while ((rc = mb_collector_submit(c, (const uint8_t *)&i, sizeof i)) == MB_ERR_FULL) fulls++, sched_yield();
        CHECK_OK(rc);
    }
    CHECK_OK(mb_collector_flush(c, 30000));
    mb_status st;
    CHECK_OK(mb_collector_status(c, &st));
    CHECK(st.submitted == events && st.delivered == events && st.rejected == fulls);
    check_quiescent(&st);
    mb_collector_free(c);
}

/* A collector creates its calibration database; the status JSON reads it,
 * sized by a first call. */
static void test_calibration_status(void) {
    char path[128];
    snprintf(path, sizeof path, "/tmp/mb-api-calibration-%d.db", (int)getpid());
    mb_config *cfg = mb_config_new();
    CHECK(cfg != NULL);
    CHECK_OK(mb_config_set(cfg, "sink", "null"));
    CHECK_OK(mb_config_set(cfg, "calibration.path", path));
    CHECK_RC(mb_config_set(cfg, "calibration.explore.ratio", "2"), MB_ERR_INVALID_CONFIG);
    CHECK_LAST_ERROR_HAS("calibration.explore.ratio");
    mb_collector *c = new_collector(cfg);
    mb_config_free(cfg);
    mb_status st;
    CHECK_OK(mb_collector_status(c, &st));
    CHECK(st.calibration_persistent == 1 && st.calibration_errors == 0);
    mb_collector_free(c);

    size_t needed = 0;
    CHECK_RC(mb_calibration_status_json(path, NULL, 0, &needed), MB_ERR_TOO_LARGE);
    CHECK(needed > 100);
    char *json = malloc(needed);
    CHECK(json != NULL);
    CHECK_OK(mb_calibration_status_json(path, json, needed, NULL));
    CHECK(strlen(json) + 1 == needed);
    CHECK(strstr(json, "\"name\":\"L5_BALANCED\"") != NULL && strstr(json, "\"learned\":false") != NULL);
    free(json);
    char missing[160];
    snprintf(missing, sizeof missing, "%s.missing", path);
    CHECK_RC(mb_calibration_status_json(missing, NULL, 0, &needed), MB_ERR_CALIBRATION);
    CHECK_LAST_ERROR_HAS("no calibration database");
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char f[160];
        snprintf(f, sizeof f, "%s%s", path, suffixes[i]);
        unlink(f);
    }
}

/* After free: MB_ERR_CLOSED everywhere, and a second free is harmless. */
static void test_closed(void) {
    static struct ordered_sink sink;
    memset(&sink, 0, sizeof sink);
    pthread_mutex_init(&sink.lock, NULL);
    mb_config *cfg = mb_config_new();
    CHECK(cfg != NULL);
    CHECK_OK(mb_config_set(cfg, "partitions", "1"));
    CHECK_OK(mb_config_set(cfg, "level", "L10_MAX")); /* nothing flushes by itself */
    CHECK_OK(mb_config_set_frame_callback(cfg, ordered_frame, &sink));
    mb_collector *c = new_collector(cfg);
    mb_config_free(cfg);

    uint8_t buf[5 + PAD_MAX];
    for (uint32_t seq = 0; seq < 10; seq++) CHECK_OK(mb_collector_submit(c, buf, make_event(buf, 0, seq)));
    mb_collector_free(c); /* flushes the 10 pending events */
    pthread_mutex_lock(&sink.lock);
    CHECK(sink.events == 10 && sink.next_seq[0] == 10 && sink.errors == 0);
    pthread_mutex_unlock(&sink.lock);

    mb_status st;
    CHECK_RC(mb_collector_status(c, &st), MB_ERR_CLOSED);
    CHECK_RC(mb_collector_submit(c, buf, 5), MB_ERR_CLOSED);
    CHECK_RC(mb_collector_submit(c, NULL, 0), MB_ERR_CLOSED);
    CHECK_RC(mb_collector_flush(c, 100), MB_ERR_CLOSED);
    uint64_t ticket;
    CHECK_RC(mb_collector_submit_tracked(c, buf, 5, &ticket), MB_ERR_CLOSED);
    CHECK_RC(mb_collector_wait(c, 1, 100), MB_ERR_CLOSED);
    CHECK_RC(mb_collector_wait_ack(c, 1, 100, NULL), MB_ERR_CLOSED);
    CHECK(mb_last_error(NULL, 0) > 0);
    mb_collector_free(c);
    mb_collector_free(c);
    CHECK_RC(mb_collector_status(c, &st), MB_ERR_CLOSED);
    pthread_mutex_destroy(&sink.lock);
}

/* Tracked submits: each ticket is answered once, with where the event
 * landed; events of a refused frame answer MB_ERR_DELIVERY. */
static int32_t refuse_all(void *ctx, const uint8_t *frame, size_t len, uint32_t event_count) {
    (void)frame;
    (void)len;
    *(uint64_t *)ctx += event_count; /* one flush thread: no race */
    return 1;
}

static void test_tracked(uint32_t events) {
    static struct ordered_sink sink;
    memset(&sink, 0, sizeof sink);
    pthread_mutex_init(&sink.lock, NULL);
    mb_config *cfg = mb_config_new();
    CHECK(cfg != NULL);
    CHECK_OK(mb_config_set(cfg, "partitions", "1"));
    CHECK_OK(mb_config_set(cfg, "level", "L1_REALTIME"));
    CHECK_OK(mb_config_set(cfg, "tracking.slots", "64"));
    CHECK_OK(mb_config_set_frame_callback(cfg, ordered_frame, &sink));
    mb_collector *c = new_collector(cfg);

    uint8_t buf[5 + PAD_MAX];
    uint64_t tickets[32];
    uint32_t seq = 0;
    for (uint32_t round = 0; seq < events; round++) {
        uint32_t k = 0;
        /* Alternate tracked and plain submits. */
        for (; k < 32 && seq < events; k++, seq++) {
            size_t len = make_event(buf, 0, seq);
            mb_result rc;
            while ((rc = mb_collector_submit_tracked(c, buf, len, &tickets[k])) == MB_ERR_FULL) sched_yield();
            CHECK_OK(rc);
            if (++seq < events) {
                len = make_event(buf, 0, seq);
                while ((rc = mb_collector_submit(c, buf, len)) == MB_ERR_FULL) sched_yield();
                CHECK_OK(rc);
            }
        }
        for (uint32_t i = 0; i < k; i++) {
            mb_ack ack = {0, 0, UINT32_MAX};
            /* Waiting in reverse order is fine. */
            CHECK_OK(mb_collector_wait_ack(c, tickets[k - 1 - i], 30000, &ack));
            CHECK(ack.partition == -1 && ack.offset == -1 && ack.index < 1000);
            mb_ack again = {0, 0, UINT32_MAX};
            CHECK_OK(mb_collector_wait_ack(c, tickets[k - 1 - i], 0, &again));
            CHECK(again.index == ack.index);
        }
    }
    CHECK_RC(mb_collector_wait(c, 0xDEADBEEFull, 10), MB_ERR_UNKNOWN_TICKET);
    CHECK_OK(mb_collector_flush(c, 30000));
    mb_status st;
    CHECK_OK(mb_collector_status(c, &st));
    CHECK(st.submitted == events && st.delivered == events);
    check_quiescent(&st);
    pthread_mutex_lock(&sink.lock);
    CHECK(sink.errors == 0 && sink.events == events && sink.next_seq[0] == events);
    pthread_mutex_unlock(&sink.lock);
    mb_collector_free(c);

    /* A callback that refuses every frame: the ticket reports the failure. */
    uint64_t refused = 0;
    CHECK_OK(mb_config_set_frame_callback(cfg, refuse_all, &refused));
    c = new_collector(cfg);
    mb_config_free(cfg);
    uint64_t ticket;
    CHECK_OK(mb_collector_submit_tracked(c, buf, 5, &ticket));
    CHECK_RC(mb_collector_wait(c, ticket, 30000), MB_ERR_DELIVERY);
    CHECK_LAST_ERROR_HAS("returned 1");
    CHECK_RC(mb_collector_wait(c, ticket, 0), MB_ERR_DELIVERY); /* the same answer again */
    CHECK_OK(mb_collector_status(c, &st));
    CHECK(st.failed == 1 && st.delivered == 0);
    check_quiescent(&st);
    mb_collector_free(c);
    CHECK(refused == 1);
    pthread_mutex_destroy(&sink.lock);
}

/* mb_frame_decode: an event callback that stops early. */
static int32_t stop_after_two(void *ctx, const uint8_t *event, size_t len) {
    (void)event;
    (void)len;
    return ++*(int *)ctx > 2 ? 5 : 0;
}

static void test_frame_decode_stop(void) {
    /* Three one-byte events. */
    uint8_t frame[8 + 3 * 5] = {0x4D, 0x42, 1, 0, 3, 0, 0, 0};
    for (int i = 0; i < 3; i++) {
        put_u32le(frame + 8 + 5 * i, 1);
        frame[8 + 5 * i + 4] = (uint8_t)('a' + i);
    }
    uint32_t count = 0;
    CHECK_OK(mb_frame_decode(frame, sizeof frame, count_events_cb, &count, NULL));
    CHECK(count == 3);
    int calls = 0;
    CHECK_RC(mb_frame_decode(frame, sizeof frame, stop_after_two, &calls, &count), MB_ERR_DELIVERY);
    CHECK(calls == 3 && count == 2);
    CHECK_LAST_ERROR_HAS("returned 5");
}

int main(int argc, char **argv) {
    uint32_t n = (uint32_t)arg_count(argc, argv, 20000);
    double t0 = now_s();
    test_result_names();
    test_null_args();
    test_bad_config();
    test_callback_sink(n);
    test_failing_callback(n < 2000 ? 2000 : n);
    test_full_and_timeout();
    test_null_sink(n);
    test_tracked(n < 2000 ? n : 2000);
    test_closed();
    test_frame_decode_stop();
    test_calibration_status();
    printf("api: ok (%u events per producer, %.2fs)\n", n, now_s() - t0);
    return 0;
}
