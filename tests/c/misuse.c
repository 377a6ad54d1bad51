/* misuse.c: the C ABI used wrongly, the ways a careless or crashing caller
 * would: every call on a freed (and double-freed) collector, flush, wait and
 * poll after close, threads blocked in wait, flush and poll while another
 * thread frees, absurd sizes, nonsense configuration values, a pointer that
 * is not a collector, and tiny error buffers. Every call must return an
 * error code (never crash, never hang) and leave the books balanced; run
 * under valgrind by tests/c_programs.rs (no memcheck errors).
 *
 * Not covered, because the ABI cannot promise it: mb_config_free twice on
 * the same pointer (a config is plain memory, like a FILE*), and a collector
 * pointer into freed or unmapped memory that was never a collector.
 *
 * Usage: misuse [rounds]   (default 20; keep it small under valgrind)
 */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* A sink that takes a while, so events are still pending when free starts. */
static atomic_ullong delivered;
static int32_t slow_frame(void *ctx, const uint8_t *frame, size_t len, uint32_t event_count) {
    (void)ctx;
    (void)frame;
    (void)len;
    sleep_ms(2);
    atomic_fetch_add(&delivered, event_count);
    return 0;
}

static mb_collector *make(const char *const *pairs, int tracked_queue) {
    mb_config *cfg = mb_config_new();
    CHECK(cfg != NULL);
    CHECK_OK(mb_config_set_frame_callback(cfg, slow_frame, NULL));
    CHECK_OK(mb_config_set(cfg, "partitions", "2"));
    CHECK_OK(mb_config_set(cfg, "ring.capacity.bytes", "65536"));
    CHECK_OK(mb_config_set(cfg, "event.max.bytes", "4096"));
    CHECK_OK(mb_config_set(cfg, "calibration.enabled", "false"));
    if (tracked_queue) CHECK_OK(mb_config_set(cfg, "tracking.queue", "true"));
    for (; pairs && pairs[0]; pairs += 2) CHECK_OK(mb_config_set(cfg, pairs[0], pairs[1]));
    mb_collector *c = NULL;
    CHECK_OK(mb_collector_new(cfg, &c));
    mb_config_free(cfg);
    return c;
}

/* ------------------------------------------------ nonsense configuration */

static void bad_config(void) {
    mb_config *cfg = mb_config_new();
    static const char *const bad[][2] = {
        {"partitions", "0"},
        {"partitions", "-1"},
        {"partitions", "99999999999999999999999999"},
        {"partitions", ""},
        {"partitions", "1e3"},
        {"ring.capacity.bytes", "18446744073709551616"},
        {"event.max.bytes", "0"},
        {"level", "L11"},
        {"level", "0"},
        {"submit.block.ms", "-5"},
        {"tracking.slots", "0"},
        {"tracking.queue", "yes please"},
        {"ring.type", "spmc"},
        {"no.such.key", "1"},
        {"", ""},
        {"kafka.mode", "frames"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_RC(mb_config_set(cfg, bad[i][0], bad[i][1]), MB_ERR_INVALID_CONFIG);
        char msg[256];
        CHECK(mb_last_error(msg, sizeof msg) > 0);
    }
    /* Not UTF-8, and a key longer than any buffer a caller might use. */
    CHECK_RC(mb_config_set(cfg, "partitions", "\xff\xfe"), MB_ERR_INVALID_CONFIG);
    CHECK_RC(mb_config_set(cfg, "\xc3\x28", "1"), MB_ERR_INVALID_CONFIG);
    size_t big = 1 << 20;
    char *longkey = malloc(big + 1);
    CHECK(longkey != NULL);
    memset(longkey, 'k', big);
    longkey[big] = '\0';
    CHECK_RC(mb_config_set(cfg, longkey, "1"), MB_ERR_INVALID_CONFIG);
    CHECK_RC(mb_config_set(cfg, "partitions", longkey), MB_ERR_INVALID_CONFIG);
    free(longkey);
    /* Keys valid alone but not together are refused at create time. */
    CHECK_OK(mb_config_set(cfg, "sink", "null"));
    CHECK_OK(mb_config_set(cfg, "ring.capacity.bytes", "4096"));
    CHECK_OK(mb_config_set(cfg, "event.max.bytes", "65536"));
    mb_collector *c = (mb_collector *)(uintptr_t)1; /* must be overwritten or left alone, never freed */
    CHECK_RC(mb_collector_new(cfg, &c), MB_ERR_INVALID_CONFIG);
    mb_config_free(cfg);
}

/* ------------------------------------------------------ absurd sizes */

static void absurd_sizes(void) {
    static const char *const pairs[] = {"sink", "callback", NULL};
    mb_collector *c = make(pairs, 0);
    static uint8_t buf[4097];
    memset(buf, 7, sizeof buf);
    uint64_t ticket = 0;
    /* Lengths no buffer could have: refused by length before any read. */
    CHECK_RC(mb_collector_submit(c, buf, SIZE_MAX), MB_ERR_TOO_LARGE);
    CHECK_RC(mb_collector_submit(c, buf, (size_t)1 << 62), MB_ERR_TOO_LARGE);
    CHECK_RC(mb_collector_submit_tracked(c, buf, SIZE_MAX, &ticket), MB_ERR_TOO_LARGE);
    CHECK_RC(mb_collector_submit(c, buf, 4097), MB_ERR_TOO_LARGE);
    CHECK_OK(mb_collector_submit(c, buf, 4096));
    CHECK_OK(mb_collector_submit(c, buf, 0));
    /* Odd sizes around the inline-copy limit and the frame header. */
    for (size_t len = 1; len < 300; len += 7) CHECK_OK(mb_collector_submit(c, buf, len));
    /* Absurd counts and timeouts. */
    mb_ack_event out[4];
    size_t n = 99;
    CHECK_RC(mb_collector_poll_acks(c, out, SIZE_MAX, &n, 0), MB_ERR_INVALID_CONFIG); /* queue off */
    CHECK_OK(mb_collector_flush(c, UINT32_MAX));
    CHECK_RC(mb_collector_wait(c, UINT64_MAX, 0), MB_ERR_UNKNOWN_TICKET);
    CHECK_RC(mb_collector_wait(c, 0, 0), MB_ERR_UNKNOWN_TICKET);
    mb_status st;
    CHECK_OK(mb_collector_status(c, &st));
    CHECK(st.submitted == 2 + 43 && st.rejected == 4);
    CHECK(st.submitted == st.delivered + st.failed + st.pending);
    /* A frame whose count and lengths point far past its end. */
    uint8_t frame[16] = {0x4D, 0x42, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4};
    uint32_t count = 5;
    CHECK_RC(mb_frame_decode(frame, sizeof frame, NULL, NULL, &count), MB_ERR_NULL_ARG);
    mb_collector_free(c);
}

/* ------------------------------------------- a pointer that is no handle */

static void not_a_handle(void) {
    /* Zeroed memory of a handle's size: the magic check refuses it. */
    uint64_t fake[16];
    memset(fake, 0, sizeof fake);
    mb_collector *c = (mb_collector *)fake;
    uint8_t b = 1;
    CHECK(mb_collector_submit(c, &b, 1) != MB_OK);
    mb_status st;
    CHECK(mb_collector_status(c, &st) != MB_OK);
    CHECK(mb_collector_flush(c, 10) != MB_OK);
    mb_collector_free(c); /* ignored */
}

/* ------------------------------------------------- tiny error buffers */

static void error_buffers(void) {
    mb_config *cfg = mb_config_new();
    CHECK_RC(mb_config_set(cfg, "partitions", "0"), MB_ERR_INVALID_CONFIG);
    size_t full = mb_last_error(NULL, 0);
    CHECK(full > 10);
    char one[1] = {'x'};
    CHECK(mb_last_error(one, 1) == full && one[0] == '\0');
    char five[5];
    memset(five, 'x', sizeof five);
    CHECK(mb_last_error(five, sizeof five) == full && five[4] == '\0' && strlen(five) == 4);
    CHECK(mb_last_error(NULL, 100) == full);
    CHECK(strcmp(mb_result_name((mb_result)12345), "MB_UNKNOWN") == 0);
    mb_config_free(cfg);
}

/* ----------------------------------------- every call after (double) free */

static void after_free(void) {
    static const char *const pairs[] = {"level", "L10_MAX", NULL};
    mb_collector *c = make(pairs, 1);
    uint8_t ev[100] = {1};
    uint64_t tickets[50];
    for (int i = 0; i < 50; i++) CHECK_OK(mb_collector_submit_tracked(c, ev, sizeof ev, &tickets[i]));
    mb_collector_free(c);
    mb_collector_free(c); /* double free: ignored */
    mb_collector_free(c);
    uint64_t t;
    mb_status st;
    mb_ack ack;
    CHECK_RC(mb_collector_submit(c, ev, sizeof ev), MB_ERR_CLOSED);
    CHECK_RC(mb_collector_submit(c, ev, 0), MB_ERR_CLOSED);
    CHECK_RC(mb_collector_submit_tracked(c, ev, sizeof ev, &t), MB_ERR_CLOSED);
    CHECK_RC(mb_collector_flush(c, 100), MB_ERR_CLOSED);
    CHECK_RC(mb_collector_flush(c, 0), MB_ERR_CLOSED);
    CHECK_RC(mb_collector_wait(c, tickets[0], 100), MB_ERR_CLOSED);
    CHECK_RC(mb_collector_wait_ack(c, tickets[0], 0, &ack), MB_ERR_CLOSED);
    mb_result rs = mb_collector_status(c, &st);
    CHECK(rs == MB_ERR_CLOSED || rs == MB_OK);
    /* The completion queue outlives the free: all 50 outcomes, then CLOSED. */
    mb_ack_event out[16];
    size_t n, got = 0;
    mb_result rc;
    while ((rc = mb_collector_poll_acks(c, out, 16, &n, 100)) == MB_OK) {
        for (size_t i = 0; i < n; i++) CHECK(out[i].result == MB_OK);
        got += n;
    }
    CHECK_RC(rc, MB_ERR_CLOSED);
    CHECK(got == 50);
    CHECK_RC(mb_collector_poll_acks(c, out, 16, &n, 0), MB_ERR_CLOSED);
    mb_collector_free(c);
}

/* --------------------- threads blocked in wait/flush/poll while freeing */

struct blocked {
    mb_collector *c;
    uint64_t ticket;
    int what; /* 0 wait, 1 flush, 2 poll */
    mb_result rc;
    size_t polled;
};

static void *block_in(void *arg) {
    struct blocked *b = arg;
    mb_ack ack;
    mb_ack_event out[64];
    size_t n;
    switch (b->what) {
    case 0:
        b->rc = mb_collector_wait_ack(b->c, b->ticket, 20000, &ack);
        break;
    case 1:
        b->rc = mb_collector_flush(b->c, 20000);
        break;
    default:
        while ((b->rc = mb_collector_poll_acks(b->c, out, 64, &n, 20000)) == MB_OK) b->polled += n;
        break;
    }
    return NULL;
}

static void free_under_blocked_callers(int rounds) {
    for (int r = 0; r < rounds; r++) {
        static const char *const pairs[] = {"level", "L10_MAX", NULL};
        mb_collector *c = make(pairs, 1);
        uint8_t ev[64];
        memset(ev, r, sizeof ev);
        uint64_t first = 0, t;
        unsigned long accepted = 0;
        for (int i = 0; i < 200; i++) {
            CHECK_OK(mb_collector_submit_tracked(c, ev, sizeof ev, &t));
            if (i == 0) first = t;
            accepted++;
        }
        struct blocked b[3] = {{c, first, 0, MB_OK, 0}, {c, first, 1, MB_OK, 0}, {c, first, 2, MB_OK, 0}};
        pthread_t th[3];
        for (int i = 0; i < 3; i++) CHECK(pthread_create(&th[i], NULL, block_in, &b[i]) == 0);
        sleep_ms(r % 3);
        double t0 = now_s();
        mb_collector_free(c);
        for (int i = 0; i < 3; i++) CHECK(pthread_join(th[i], NULL) == 0);
        /* Nobody hangs: the 20 s timeouts were not what woke them. */
        CHECK(now_s() - t0 < 10.0);
        /* A wait that was in progress gets the true outcome (free delivers
         * everything) or, if it only started after the free, CLOSED. */
        CHECK(b[0].rc == MB_OK || b[0].rc == MB_ERR_CLOSED);
        CHECK(b[1].rc == MB_OK || b[1].rc == MB_ERR_CLOSED);
        /* The poller drains every outcome and then learns of the close. */
        CHECK(b[2].rc == MB_ERR_CLOSED);
        CHECK(b[2].polled == accepted);
        /* flush after close */
        CHECK_RC(mb_collector_flush(c, 10), MB_ERR_CLOSED);
        mb_collector_free(c);
    }
}

int main(int argc, char **argv) {
    int rounds = (int)arg_count(argc, argv, 20);
    bad_config();
    absurd_sizes();
    not_a_handle();
    error_buffers();
    after_free();
    free_under_blocked_callers(rounds);
    printf("misuse: %d rounds of free under blocked callers, every misuse answered with an error\n", rounds);
    return 0;
}
