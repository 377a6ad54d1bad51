/* A gateway-shaped use of acknowledged submits through the C ABI: many
 * request threads submit tracked events (some callers wait for their own
 * ticket, most hang up at once), one completion thread drains every outcome
 * with mb_collector_poll_acks, and the sink fails some frames. Checks that
 * every ticket's outcome is reported exactly once, agrees with what a waiter
 * was told and with the sink, that no slot leaks, and that draining ends with
 * MB_ERR_CLOSED after the free.
 *
 *   gateway [requests per thread] [threads]
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#define SLOTS 1024
#define MAX_THREADS 16

/* The sink: fails every 5th frame, counts events either way. */
struct sink {
    pthread_mutex_t lock;
    uint64_t frames, delivered, failed;
};

static int32_t on_frame(void *ctx, const uint8_t *frame, size_t len, uint32_t events) {
    (void)frame, (void)len;
    struct sink *s = ctx;
    pthread_mutex_lock(&s->lock);
    int fail = s->frames++ % 5 == 4;
    if (fail)
        s->failed += events;
    else
        s->delivered += events;
    pthread_mutex_unlock(&s->lock);
    return fail;
}

static mb_collector *collector;
static uint32_t per_thread;

struct request_thread {
    pthread_t thread;
    uint32_t id;
    uint64_t *tickets; /* issued, in order */
    uint32_t issued;
    /* Callers who waited: their ticket and what wait told them. */
    uint64_t *waited_tickets;
    mb_result *waited_results;
    uint32_t waited;
    uint32_t tracking_full; /* submits refused for lack of a slot (retried) */
};

static void *request_loop(void *arg) {
    struct request_thread *t = arg;
    uint8_t body[100];
    for (uint32_t i = 0; i < per_thread; i++) {
        memset(body, 'a' + (int)(i % 26), sizeof body);
        memcpy(body, &t->id, sizeof t->id);
        memcpy(body + 4, &i, sizeof i);
        uint64_t ticket = 0;
        mb_result rc;
        while ((rc = mb_collector_submit_tracked(collector, body, sizeof body, &ticket)) != MB_OK) {
            /* Every slot is busy: the completion thread frees them as it drains. */
            if (rc == MB_ERR_TRACKING_FULL)
                t->tracking_full++;
            else
                CHECK_RC(rc, MB_ERR_FULL);
            sched_yield();
        }
        CHECK(ticket != 0);
        t->tickets[t->issued++] = ticket;
        if (i % 8 == 0) {
            /* This caller waits for its answer; the rest hang up. */
            mb_ack ack;
            mb_result r = mb_collector_wait_ack(collector, ticket, 30000, &ack);
            /* Expired is possible only if this thread was kept off the CPU
             * while SLOTS later tickets were issued, settled and drained. */
            CHECK(r == MB_OK || r == MB_ERR_DELIVERY || r == MB_ERR_UNKNOWN_TICKET);
            t->waited_tickets[t->waited] = ticket;
            t->waited_results[t->waited++] = r;
        }
    }
    return NULL;
}

/* The completion thread's record of every outcome it drained. */
static mb_ack_event *acks;
static size_t acks_len, acks_cap;
static pthread_mutex_t acks_lock = PTHREAD_MUTEX_INITIALIZER;
static mb_result drain_end;

static void *completion_loop(void *arg) {
    (void)arg;
    mb_ack_event batch[256];
    for (;;) {
        size_t n = 99;
        mb_result rc = mb_collector_poll_acks(collector, batch, 256, &n, 50);
        if (rc != MB_OK) {
            CHECK(n == 0);
            drain_end = rc;
            return NULL;
        }
        pthread_mutex_lock(&acks_lock);
        CHECK(acks_len + n <= acks_cap);
        memcpy(acks + acks_len, batch, n * sizeof batch[0]);
        acks_len += n;
        pthread_mutex_unlock(&acks_lock);
    }
}

static int by_ticket(const void *a, const void *b) {
    uint64_t x = ((const mb_ack_event *)a)->ticket, y = ((const mb_ack_event *)b)->ticket;
    return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static const mb_ack_event *find_ack(uint64_t ticket) {
    mb_ack_event key = {.ticket = ticket};
    return bsearch(&key, acks, acks_len, sizeof acks[0], by_ticket);
}

int main(int argc, char **argv) {
    per_thread = argc > 1 ? (uint32_t)atoi(argv[1]) : 5000;
    uint32_t threads = argc > 2 ? (uint32_t)atoi(argv[2]) : 8;
    CHECK(threads >= 1 && threads <= MAX_THREADS && per_thread >= 1);
    uint64_t total = (uint64_t)per_thread * threads;

    static struct sink sink;
    pthread_mutex_init(&sink.lock, NULL);
    mb_config *cfg = mb_config_new();
    CHECK(cfg != NULL);
    CHECK_OK(mb_config_set(cfg, "partitions", "2"));
    CHECK_OK(mb_config_set(cfg, "level", "L2_FAST"));
    CHECK_OK(mb_config_set(cfg, "tracking.slots", "1024"));
    CHECK_OK(mb_config_set(cfg, "tracking.queue", "true"));
    CHECK_OK(mb_config_set_frame_callback(cfg, on_frame, &sink));
    CHECK_OK(mb_collector_new(cfg, &collector));
    mb_config_free(cfg);

    acks_cap = total;
    acks = calloc(acks_cap, sizeof acks[0]);
    CHECK(acks != NULL);
    pthread_t completer;
    CHECK(pthread_create(&completer, NULL, completion_loop, NULL) == 0);

    struct request_thread req[MAX_THREADS];
    memset(req, 0, sizeof req);
    for (uint32_t i = 0; i < threads; i++) {
        req[i].id = i;
        req[i].tickets = calloc(per_thread, sizeof(uint64_t));
        req[i].waited_tickets = calloc(per_thread, sizeof(uint64_t));
        req[i].waited_results = calloc(per_thread, sizeof(mb_result));
        CHECK(req[i].tickets && req[i].waited_tickets && req[i].waited_results);
        CHECK(pthread_create(&req[i].thread, NULL, request_loop, &req[i]) == 0);
    }
    for (uint32_t i = 0; i < threads; i++) CHECK(pthread_join(req[i].thread, NULL) == 0);
    CHECK_OK(mb_collector_flush(collector, 30000));

    /* Every outcome reaches the completion thread, then every slot is free. */
    for (int waited_ms = 0;; waited_ms++) {
        pthread_mutex_lock(&acks_lock);
        size_t seen = acks_len;
        pthread_mutex_unlock(&acks_lock);
        if (seen == total) break;
        CHECK(waited_ms < 30000);
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    mb_status st;
    CHECK_OK(mb_collector_status(collector, &st));
    CHECK(st.tracking_in_use == 0);
    CHECK(st.tracking_high_water > 0 && st.tracking_high_water <= SLOTS);
    CHECK(st.submitted == total && st.delivered + st.failed == total && st.pending == 0);

    mb_collector_free(collector);
    CHECK(pthread_join(completer, NULL) == 0);
    CHECK_RC(drain_end, MB_ERR_CLOSED);

    /* Exactly once: the drained tickets are exactly the issued ones. */
    uint64_t *issued = calloc(total, sizeof(uint64_t));
    CHECK(issued != NULL);
    size_t k = 0, waited = 0, expired = 0, full = 0;
    for (uint32_t i = 0; i < threads; i++) {
        memcpy(issued + k, req[i].tickets, req[i].issued * sizeof(uint64_t));
        k += req[i].issued;
        full += req[i].tracking_full;
    }
    CHECK(k == total && acks_len == total);
    qsort(issued, total, sizeof issued[0], cmp_u64);
    qsort(acks, acks_len, sizeof acks[0], by_ticket);
    uint64_t ok = 0, failed = 0;
    for (size_t i = 0; i < total; i++) {
        CHECK(issued[i] == acks[i].ticket);
        CHECK(i == 0 || issued[i] != issued[i - 1]); /* no ticket issued twice */
        if (acks[i].result == MB_OK) {
            ok++;
            CHECK(acks[i].partition == -1 && acks[i].offset == -1 && acks[i].index < 1000000);
        } else {
            CHECK(acks[i].result == MB_ERR_DELIVERY);
            failed++;
        }
    }
    /* The queue agrees with the sink and with what each waiter was told. */
    CHECK(ok == sink.delivered && failed == sink.failed && failed > 0);
    for (uint32_t i = 0; i < threads; i++) {
        for (uint32_t j = 0; j < req[i].waited; j++) {
            const mb_ack_event *a = find_ack(req[i].waited_tickets[j]);
            CHECK(a != NULL);
            if (req[i].waited_results[j] == MB_ERR_UNKNOWN_TICKET) {
                expired++;
                continue;
            }
            CHECK(a->result == req[i].waited_results[j]);
            waited++;
        }
        free(req[i].tickets);
        free(req[i].waited_tickets);
        free(req[i].waited_results);
    }
    printf("gateway: %llu tracked events from %u threads through %d slots: %llu delivered, %llu failed, "
           "%zu waited for (%zu found expired), %zu submits met a full tracking table\n",
           (unsigned long long)total, threads, SLOTS, (unsigned long long)ok, (unsigned long long)failed, waited,
           expired, full);
    free(issued);
    free(acks);
    pthread_mutex_destroy(&sink.lock);
    return 0;
}
