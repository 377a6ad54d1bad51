/* frame.c: mb_frame_decode (libmicrobatch) and mbf_decode / mbf_reader
 * (bindings/c/microbatch_frame.h, standalone) must agree on every frame:
 * hand-built valid frames, every truncation, bad headers, impossible counts,
 * trailing bytes, random mutations, and the frames the collector produces.
 *
 * Usage: frame [iterations]   (random cases and collector events; default 20000)
 */
#include "check.h"
#include "microbatch_frame.h"

#include <pthread.h>

/* ------------------------------------------------- collecting decoded events */

#define MAX_EVENTS 512

struct decoded {
    uint32_t n;
    size_t len[MAX_EVENTS];
    const uint8_t *ptr[MAX_EVENTS];
    int overflow;
    int stop_after; /* the callback call that returns non-zero (1 = the first); 0: none */
};

static void decoded_reset(struct decoded *d, int stop_after) {
    d->n = 0;
    d->overflow = 0;
    d->stop_after = stop_after;
}

static int32_t record_mb(void *ctx, const uint8_t *event, size_t len) {
    struct decoded *d = ctx;
    if (d->stop_after && (int)d->n + 1 >= d->stop_after) return 42;
    if (d->n >= MAX_EVENTS) {
        d->overflow = 1;
        return 0;
    }
    d->len[d->n] = len;
    d->ptr[d->n] = event;
    d->n++;
    return 0;
}

static int record_mbf(void *ctx, const uint8_t *event, size_t len) {
    return (int)record_mb(ctx, event, len);
}

/* What each decoder said about one frame. */
struct verdict {
    mb_result mb_rc;
    int mbf_rc;
    uint32_t mb_count, mbf_count;
    struct decoded mb, mbf;
};

static int mbf_matches_mb(int mbf_rc, mb_result mb_rc) {
    switch (mbf_rc) {
    case MBF_OK: return mb_rc == MB_OK;
    case MBF_ERR_NULL_ARG: return mb_rc == MB_ERR_NULL_ARG;
    case MBF_ERR_STOPPED: return mb_rc == MB_ERR_DELIVERY;
    default: return mbf_rc < 0 && mb_rc == MB_ERR_MALFORMED && strcmp(mbf_strerror(mbf_rc), "unknown error") != 0;
    }
}

static void dump(const char *what, const uint8_t *frame, size_t len) {
    fprintf(stderr, "%s: %zu bytes:", what, len);
    for (size_t i = 0; i < len && i < 64; i++) fprintf(stderr, " %02x", frame[i]);
    fprintf(stderr, "%s\n", len > 64 ? " ..." : "");
}

/* Decodes `frame` with both decoders (and the reader) and checks they agree.
 * Returns 1 if the frame was accepted. */
static int agree(const uint8_t *frame, size_t len, int stop_after, const char *what) {
    static struct verdict v;
    decoded_reset(&v.mb, stop_after);
    decoded_reset(&v.mbf, stop_after);
    v.mb_count = v.mbf_count = 12345;
    v.mb_rc = mb_frame_decode(frame, len, record_mb, &v.mb, &v.mb_count);
    v.mbf_rc = mbf_decode(frame, len, record_mbf, &v.mbf, &v.mbf_count);
    int ok = mbf_matches_mb(v.mbf_rc, v.mb_rc) && v.mb_count == v.mbf_count && v.mb.n == v.mbf.n &&
             !v.mb.overflow && !v.mbf.overflow;
    for (uint32_t i = 0; ok && i < v.mb.n; i++) {
        ok = v.mb.len[i] == v.mbf.len[i] && (v.mb.len[i] == 0 || memcmp(v.mb.ptr[i], v.mbf.ptr[i], v.mb.len[i]) == 0);
        /* The standalone decoder points into the frame itself. */
        ok = ok && v.mbf.ptr[i] >= frame + MBF_HEADER_BYTES && v.mbf.ptr[i] + v.mbf.len[i] <= frame + len;
    }
    /* A refused frame reaches neither callback and reports no events. */
    if (ok && v.mb_rc != MB_OK && v.mb_rc != MB_ERR_DELIVERY) ok = v.mb.n == 0 && v.mb_count == 0;
    if (ok && v.mb_rc == MB_ERR_DELIVERY) ok = (int)v.mb_count == stop_after - 1;
    if (!ok) {
        dump(what, frame, len);
        fprintf(stderr, "  mb_frame_decode: %s count %u (%u events); mbf_decode: %d (%s) count %u (%u events)\n",
                mb_result_name(v.mb_rc), v.mb_count, v.mb.n, v.mbf_rc, mbf_strerror(v.mbf_rc), v.mbf_count,
                v.mbf.n);
        exit(1);
    }

    /* The reader yields the same events and fails the same way. */
    if (stop_after == 0 && frame != NULL) {
        mbf_reader r;
        int rc = mbf_reader_init(&r, frame, len);
        uint32_t i = 0;
        const uint8_t *ev;
        size_t ev_len;
        if (rc == MBF_OK) {
            while ((rc = mbf_reader_next(&r, &ev, &ev_len)) == 1) {
                if (v.mbf_rc == MBF_OK) {
                    CHECK(i < v.mbf.n && ev == v.mbf.ptr[i] && ev_len == v.mbf.len[i]);
                }
                i++;
            }
            CHECK(mbf_reader_next(&r, &ev, &ev_len) == rc); /* sticky end / error */
            CHECK(ev == NULL && ev_len == 0);
        }
        if (v.mbf_rc == MBF_OK) {
            CHECK(rc == 0 && i == v.mbf.n && mbf_reader_count(&r) == v.mbf.n);
        } else {
            CHECK(rc == v.mbf_rc);
        }
        uint32_t count = 7;
        CHECK(mbf_validate(frame, len, &count) == v.mbf_rc);
        CHECK(count == (v.mbf_rc == MBF_OK ? v.mbf.n : 0));
    }
    return v.mb_rc == MB_OK;
}

/* ------------------------------------------------------------- encoding */

struct buf {
    uint8_t *p;
    size_t len, cap;
};

static void buf_put(struct buf *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        CHECK(b->p != NULL);
    }
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void buf_u32(struct buf *b, uint32_t v) {
    uint8_t le[4];
    put_u32le(le, v);
    buf_put(b, le, 4);
}

/* Encodes `n` events whose lengths are `lens`, with deterministic content. */
static void encode(struct buf *b, const size_t *lens, uint32_t n) {
    static const uint8_t header[4] = {0x4D, 0x42, 1, 0};
    b->len = 0;
    buf_put(b, header, 4);
    buf_u32(b, n);
    for (uint32_t i = 0; i < n; i++) {
        buf_u32(b, (uint32_t)lens[i]);
        for (size_t j = 0; j < lens[i]; j++) {
            uint8_t byte = (uint8_t)(i * 31 + j);
            buf_put(b, &byte, 1);
        }
    }
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* ---------------------------------------------------------------- tests */

static void test_hand_built(struct buf *b) {
    static const size_t shapes[][6] = {
        {0},                 /* no events */
        {1, 0},              /* one empty event */
        {1, 1},              /* one one-byte event */
        {3, 5, 0, 7},        /* mixed, with an empty one in the middle */
        {5, 0, 0, 0, 0, 0},  /* only empty events */
        {2, 300, 70000},     /* larger than a 16-bit length */
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        uint32_t n = (uint32_t)shapes[s][0];
        encode(b, &shapes[s][1], n);
        CHECK(agree(b->p, b->len, 0, "valid"));

        /* Every truncation is refused by both. */
        for (size_t cut = 0; cut < b->len; cut++) CHECK(!agree(b->p, cut, 0, "truncated"));

        /* One trailing byte. */
        size_t len = b->len;
        uint8_t zero = 0;
        buf_put(b, &zero, 1);
        CHECK(!agree(b->p, len + 1, 0, "trailing byte"));
        b->len = len;

        /* Header fields. */
        static const struct {
            size_t at;
            uint8_t value;
        } bad[] = {{0, 0x00}, {0, 0x42}, {1, 0x4D}, {1, 0x00}, {2, 0}, {2, 2}, {2, 0xFF}, {3, 1}, {3, 0x80}};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            uint8_t saved = b->p[bad[i].at];
            b->p[bad[i].at] = bad[i].value;
            CHECK(!agree(b->p, b->len, 0, "bad header byte"));
            b->p[bad[i].at] = saved;
        }

        /* Counts: one more or one less than the events, the largest possible,
         * and just above what the bytes could hold. */
        uint32_t counts[] = {n + 1, UINT32_MAX, (uint32_t)((b->len - 8) / 4 + 1), 0x80000000u};
        for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
            put_u32le(b->p + 4, counts[i]);
            CHECK(!agree(b->p, b->len, 0, "bad count"));
        }
        if (n > 0) {
            put_u32le(b->p + 4, n - 1); /* the last event becomes trailing bytes */
            CHECK(!agree(b->p, b->len, 0, "count one short"));
        }
        put_u32le(b->p + 4, n);

        /* An event length running past the end, and one that would wrap a
         * 32-bit pointer sum. */
        if (n > 0) {
            uint32_t first = get_u32le(b->p + 8);
            uint32_t lens[] = {first + 1, UINT32_MAX, UINT32_MAX - 3, (uint32_t)b->len};
            for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
                put_u32le(b->p + 8, lens[i]);
                CHECK(!agree(b->p, b->len, 0, "bad event length"));
            }
            put_u32le(b->p + 8, first);
        }
        CHECK(agree(b->p, b->len, 0, "restored"));

        /* Callbacks that stop early. */
        for (int stop = 1; stop <= (int)n; stop++) CHECK(!agree(b->p, b->len, stop, "stopped"));
    }
}

static void test_byte_exact(void) {
    /* The layout from src/frame.rs: events "ab" and "". */
    static const uint8_t frame[] = {0x4D, 0x42, 1, 0, 2, 0, 0, 0, 2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0};
    CHECK(agree(frame, sizeof frame, 0, "byte exact"));
    mbf_reader r;
    const uint8_t *ev;
    size_t len;
    CHECK(mbf_reader_init(&r, frame, sizeof frame) == MBF_OK && mbf_reader_count(&r) == 2);
    CHECK(mbf_reader_next(&r, &ev, &len) == 1 && len == 2 && memcmp(ev, "ab", 2) == 0);
    CHECK(mbf_reader_next(&r, &ev, &len) == 1 && len == 0);
    CHECK(mbf_reader_next(&r, &ev, &len) == 0);
}

static void test_null_and_limits(void) {
    uint8_t header[8] = {0x4D, 0x42, 1, 0, 0, 0, 0, 0};
    struct decoded d;
    uint32_t count = 9;
    /* NULL frame: with a length, a NULL argument; without, too short. */
    CHECK(agree(NULL, 0, 0, "NULL, 0") == 0);
    CHECK(mbf_decode(NULL, 0, record_mbf, &d, &count) == MBF_ERR_TRUNCATED && count == 0);
    CHECK(!agree(NULL, 5, 0, "NULL, 5"));
    CHECK(mbf_decode(NULL, 5, record_mbf, &d, NULL) == MBF_ERR_NULL_ARG);
    /* NULL callback: both refuse, frame valid or not. */
    CHECK_RC(mb_frame_decode(header, sizeof header, NULL, NULL, &count), MB_ERR_NULL_ARG);
    CHECK(mbf_decode(header, sizeof header, NULL, NULL, &count) == MBF_ERR_NULL_ARG && count == 0);
    CHECK(mbf_reader_init(NULL, header, sizeof header) == MBF_ERR_NULL_ARG);
    /* Larger than INT32_MAX bytes: refused by its length alone, before any
     * byte is read (only the standalone decoder: the buffer is 8 bytes). */
    CHECK(mbf_decode(header, (size_t)0x80000000u, record_mbf, &d, &count) == MBF_ERR_TOO_LARGE);
    CHECK(mbf_validate(header, (size_t)-1, &count) == MBF_ERR_TOO_LARGE);
    /* Every code has a description. */
    for (int rc = MBF_ERR_STOPPED; rc <= MBF_OK; rc++) CHECK(strcmp(mbf_strerror(rc), "unknown error") != 0);
    CHECK(strcmp(mbf_strerror(1), "unknown error") == 0);
}

static void test_random(struct buf *b, unsigned long iterations) {
    size_t lens[24];
    unsigned long accepted_mutants = 0;
    for (unsigned long it = 0; it < iterations; it++) {
        uint32_t n = rnd() % 24;
        for (uint32_t i = 0; i < n; i++) lens[i] = rnd() % 4 == 0 ? 0 : rnd() % 40;
        encode(b, lens, n);
        CHECK(agree(b->p, b->len, 0, "random valid"));
        /* Mutate one to three bytes: both decoders must still agree. */
        int k = 1 + (int)(rnd() % 3);
        for (int j = 0; j < k; j++) b->p[rnd() % b->len] = (uint8_t)rnd();
        accepted_mutants += (unsigned long)agree(b->p, b->len, 0, "mutated");
        /* Random bytes, mostly small values, behind a valid header. */
        uint8_t raw[48] = {0x4D, 0x42, 1, 0};
        size_t len = 8 + rnd() % 40;
        put_u32le(raw + 4, rnd() % 6);
        for (size_t j = 8; j < len; j++) raw[j] = (uint8_t)(rnd() % 4 ? rnd() % 8 : rnd());
        accepted_mutants += (unsigned long)agree(raw, len, 0, "random bytes");
    }
    printf("frame: %lu random cases, %lu mutants accepted by both\n", iterations, accepted_mutants);
}

/* Frames from the collector, decoded in the callback by both decoders. */
struct collector_sink {
    pthread_mutex_t lock;
    uint64_t frames, events, errors;
};

static int32_t on_frame(void *ctx, const uint8_t *frame, size_t len, uint32_t event_count) {
    struct collector_sink *s = ctx;
    /* Callbacks may run on two flush threads at once: `agree` uses statics. */
    pthread_mutex_lock(&s->lock);
    s->frames++;
    uint32_t n = 0;
    if (!agree(frame, len, 0, "collector frame") || mbf_validate(frame, len, &n) != MBF_OK || n != event_count)
        s->errors++;
    s->events += n;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static void test_collector_frames(unsigned long events) {
    static struct collector_sink sink = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    mb_config *cfg = mb_config_new();
    CHECK(cfg != NULL);
    CHECK_OK(mb_config_set(cfg, "partitions", "2"));
    CHECK_OK(mb_config_set(cfg, "level", "L1_REALTIME"));
    /* Frames of at most MAX_EVENTS events, as `agree` records that many. */
    CHECK_OK(mb_config_set(cfg, "batch.max.events", "500"));
    CHECK_OK(mb_config_set_frame_callback(cfg, on_frame, &sink));
    mb_collector *c = NULL;
    CHECK_OK(mb_collector_new(cfg, &c));
    mb_config_free(cfg);
    uint8_t ev[300];
    for (size_t i = 0; i < sizeof ev; i++) ev[i] = (uint8_t)i;
    unsigned long accepted = 0;
    for (unsigned long i = 0; i < events; i++) {
        mb_result rc = mb_collector_submit(c, ev, (i * 13) % sizeof ev);
        if (rc == MB_ERR_FULL) {
            CHECK_OK(mb_collector_flush(c, 30000));
            continue;
        }
        CHECK_OK(rc);
        accepted++;
        if (i % 1000 == 999) CHECK_OK(mb_collector_flush(c, 30000));
    }
    CHECK_OK(mb_collector_flush(c, 30000));
    mb_collector_free(c);
    pthread_mutex_lock(&sink.lock);
    CHECK(sink.errors == 0 && sink.events == accepted && sink.frames > 0);
    printf("frame: %llu collector frames, %llu events, decoded identically\n", (unsigned long long)sink.frames,
           (unsigned long long)sink.events);
    pthread_mutex_unlock(&sink.lock);
}

int main(int argc, char **argv) {
    unsigned long n = arg_count(argc, argv, 20000);
    double t0 = now_s();
    struct buf b = {NULL, 0, 0};
    test_byte_exact();
    test_null_and_limits();
    test_hand_built(&b);
    test_random(&b, n);
    test_collector_frames(n);
    free(b.p);
    printf("frame: ok (%.2fs)\n", now_s() - t0);
    return 0;
}
