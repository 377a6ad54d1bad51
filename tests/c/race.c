/* race.c: threads submit in a tight loop while the main thread frees the
 * collector under them.
 *
 * Every submit must return MB_OK, MB_ERR_FULL or MB_ERR_CLOSED; flush and
 * status racing with the free return MB_OK, MB_ERR_TIMEOUT or MB_ERR_CLOSED;
 * nothing crashes; and free flushes everything it accepted: the MB_OK count
 * equals the events the callback saw (delivered + failed).
 *
 * Usage: race [rounds [spsc|mpsc|both]]
 *   rounds: default 12; keep it small under valgrind
 *   ring types to cycle through: default both
 */
#include "check.h"
#include "microbatch_frame.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define SUBMITTERS 4

/* The callback sink: counts with atomics, refuses every 5th frame. */
static atomic_ullong cb_frames, cb_delivered, cb_failed, cb_bad;
/* Set by the first MB_OK of a round. */
static atomic_int first_ok;

static int32_t on_frame(void *ctx, const uint8_t *frame, size_t len, uint32_t event_count) {
    (void)ctx;
    uint32_t n = 0;
    if (mbf_validate(frame, len, &n) != MBF_OK || n != event_count) atomic_fetch_add(&cb_bad, 1);
    if (atomic_fetch_add(&cb_frames, 1) % 5 == 4) {
        atomic_fetch_add(&cb_failed, event_count);
        return 1;
    }
    atomic_fetch_add(&cb_delivered, event_count);
    return 0;
}

struct submitter {
    mb_collector *c;
    atomic_int *go;
    uint32_t id;
    uint64_t ok, full, closed, other;
    mb_result other_rc;
};

static void *submit_loop(void *arg) {
    struct submitter *s = arg;
    uint8_t ev[48];
    while (!atomic_load(s->go)) sched_yield();
    for (uint64_t i = 0;; i++) {
        size_t len = (size_t)(i % sizeof ev);
        memset(ev, (int)(s->id + i), len);
        mb_result rc = mb_collector_submit(s->c, ev, len);
        if (rc == MB_OK) {
            if (s->ok++ == 0) atomic_store(&first_ok, 1);
        } else if (rc == MB_ERR_FULL) {
            s->full++;
            sched_yield();
        } else if (rc == MB_ERR_CLOSED) {
            /* Closed stays closed. */
            if (++s->closed >= 3) return NULL;
        } else {
            s->other++;
            s->other_rc = rc;
            return NULL;
        }
    }
}

struct poker {
    mb_collector *c;
    atomic_int *go;
    uint64_t calls, bad;
};

/* Flushes and reads the status while the free happens. */
static void *poke_loop(void *arg) {
    struct poker *p = arg;
    while (!atomic_load(p->go)) sched_yield();
    for (;;) {
        mb_status st;
        mb_result rc = mb_collector_status(p->c, &st);
        p->calls++;
        if (rc == MB_ERR_CLOSED) return NULL;
        if (rc != MB_OK) p->bad++;
        rc = mb_collector_flush(p->c, 20);
        if (rc == MB_ERR_CLOSED) return NULL;
        if (rc != MB_OK && rc != MB_ERR_TIMEOUT) {
            fprintf(stderr, "flush during free: %s\n", mb_result_name(rc));
            p->bad++;
        }
    }
}

static void round_trip(int round, const char *ring) {
    atomic_store(&cb_frames, 0);
    atomic_store(&cb_delivered, 0);
    atomic_store(&cb_failed, 0);
    atomic_store(&cb_bad, 0);
    atomic_store(&first_ok, 0);

    /* Vary the ring type, the partition count and how long before free. */
    char partitions[8];
    snprintf(partitions, sizeof partitions, "%d", 1 + round % 3);
    mb_config *cfg = mb_config_new();
    CHECK(cfg != NULL);
    CHECK_OK(mb_config_set(cfg, "ring.type", ring));
    CHECK_OK(mb_config_set(cfg, "partitions", partitions));
    CHECK_OK(mb_config_set(cfg, "ring.capacity.bytes", round % 4 == 3 ? "4096" : "262144"));
    CHECK_OK(mb_config_set(cfg, "event.max.bytes", "64"));
    CHECK_OK(mb_config_set(cfg, "level", round % 3 ? "L3_LOW" : "L1_REALTIME"));
    CHECK_OK(mb_config_set(cfg, "close.timeout.ms", "30000"));
    CHECK_OK(mb_config_set_frame_callback(cfg, on_frame, NULL));
    mb_collector *c = NULL;
    CHECK_OK(mb_collector_new(cfg, &c));
    mb_config_free(cfg);

    atomic_int go = 0;
    pthread_t threads[SUBMITTERS + 1];
    struct submitter subs[SUBMITTERS];
    struct poker poker = {c, &go, 0, 0};
    for (uint32_t t = 0; t < SUBMITTERS; t++) {
        subs[t] = (struct submitter){c, &go, t, 0, 0, 0, 0, MB_OK};
        CHECK(pthread_create(&threads[t], NULL, submit_loop, &subs[t]) == 0);
    }
    CHECK(pthread_create(&threads[SUBMITTERS], NULL, poke_loop, &poker) == 0);

    atomic_store(&go, 1);
    /* 0: free as soon as the first submit went through. */
    long wait_ms = (round % 4) * 15;
    if (wait_ms)
        sleep_ms(wait_ms);
    else
        while (!atomic_load(&first_ok)) sched_yield();
    mb_collector_free(c);
    /* Everything accepted has reached the callback by now. */
    unsigned long long seen_at_free = atomic_load(&cb_delivered) + atomic_load(&cb_failed);

    uint64_t ok = 0, full = 0;
    for (uint32_t t = 0; t < SUBMITTERS; t++) {
        pthread_join(threads[t], NULL);
        if (subs[t].other) {
            fprintf(stderr, "round %d: submit returned %s\n", round, mb_result_name(subs[t].other_rc));
            exit(1);
        }
        CHECK(subs[t].closed >= 1);
        ok += subs[t].ok;
        full += subs[t].full;
    }
    pthread_join(threads[SUBMITTERS], NULL);
    CHECK(poker.bad == 0);

    unsigned long long delivered = atomic_load(&cb_delivered), failed = atomic_load(&cb_failed);
    if (ok != delivered + failed || seen_at_free != ok || atomic_load(&cb_bad) != 0) {
        fprintf(stderr, "round %d: %llu submits returned MB_OK, the callback saw %llu delivered + %llu failed "
                        "(%llu when free returned), %llu bad frames\n",
                round, (unsigned long long)ok, delivered, failed, seen_at_free,
                (unsigned long long)atomic_load(&cb_bad));
        exit(1);
    }
    mb_status st;
    CHECK_RC(mb_collector_status(c, &st), MB_ERR_CLOSED);
    CHECK_RC(mb_collector_submit(c, NULL, 0), MB_ERR_CLOSED);
    mb_collector_free(c); /* second free: harmless */
    printf("round %2d: %s p=%s wait=%3ldms: %8llu ok, %7llu full, %5llu frames (%llu events failed)\n", round,
           ring, partitions, wait_ms, (unsigned long long)ok, (unsigned long long)full,
           (unsigned long long)atomic_load(&cb_frames), failed);
}

int main(int argc, char **argv) {
    int rounds = (int)arg_count(argc, argv, 12);
    const char *rings = argc > 2 ? argv[2] : "both";
    CHECK(strcmp(rings, "spsc") == 0 || strcmp(rings, "mpsc") == 0 || strcmp(rings, "both") == 0);
    double t0 = now_s();
    for (int r = 0; r < rounds; r++) {
        const char *ring = strcmp(rings, "both") != 0 ? rings : r % 2 ? "mpsc" : "spsc";
        round_trip(r, ring);
    }
    printf("race: ok (%d rounds, %.2fs)\n", rounds, now_s() - t0);
    return 0;
}
