/* example.c: the microbatch C API end to end.
 *
 * Creates a collector that hands each frame to a callback, submits events
 * from two threads, flushes, prints the collector's status and frees it.
 *
 * Build and run from the crate root (after `cargo build --release`):
 *
 *   cc -O2 -Iinclude bindings/c/example.c -Ltarget/release -lmicrobatch \
 *      -lpthread -Wl,-rpath,$PWD/target/release -o example && ./example
 *
 * or `make -C bindings/c run`. Against an installed library
 * (scripts/install.sh --prefix DIR; PKG_CONFIG_PATH=DIR/lib/pkgconfig):
 *
 *   cc -O2 -pthread bindings/c/example.c $(pkg-config --cflags --libs microbatch) -o example
 *
 * or `make -C bindings/c run-pkgconfig`. An optional argument sets the number
 * of events (default 10000).
 */

#include <microbatch.h>

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 2

/* Prints a failed call's result code and this thread's last error message. */
static void report(const char *what, mb_result rc) {
    char message[512];
    mb_last_error(message, sizeof message);
    fprintf(stderr, "%s failed: %s: %s\n", what, mb_result_name(rc), message);
}

/* What the frame callback counts. It runs on the collector's flush threads,
 * possibly several at once, hence the mutex. */
struct sink_state {
    pthread_mutex_t lock;
    unsigned long frames;
    unsigned long events;
    unsigned long bytes;
};

static int32_t count_event(void *ctx, const uint8_t *event, size_t len) {
    (void)event;
    *(size_t *)ctx += len;
    return 0;
}

static int32_t on_frame(void *ctx, const uint8_t *frame, size_t len, uint32_t event_count) {
    struct sink_state *sink = ctx;
    size_t bytes = 0;
    uint32_t decoded = 0;
    mb_result rc = mb_frame_decode(frame, len, count_event, &bytes, &decoded);
    if (rc != MB_OK) {
        report("mb_frame_decode", rc);
        return 1; /* non-zero: the collector counts this frame's events failed */
    }
    if (decoded != event_count) {
        fprintf(stderr, "frame holds %u events, the collector said %u\n", decoded, event_count);
        return 1;
    }
    pthread_mutex_lock(&sink->lock);
    sink->frames++;
    sink->events += decoded;
    sink->bytes += bytes;
    pthread_mutex_unlock(&sink->lock);
    return 0;
}

struct producer {
    mb_collector *collector;
    int id;
    unsigned long events;
    unsigned long submitted;
    unsigned long retries;
};

static void *produce(void *arg) {
    struct producer *p = arg;
    char event[64];
    for (unsigned long i = 0; i < p->events; i++) {
        int len = snprintf(event, sizeof event, "{\"producer\":%d,\"seq\":%lu}", p->id, i);
        mb_result rc;
        /* MB_ERR_FULL means the ring had no room and nothing was taken: retry. */
        while ((rc = mb_collector_submit(p->collector, (const uint8_t *)event, (size_t)len)) == MB_ERR_FULL) {
            p->retries++;
            sched_yield();
        }
        if (rc != MB_OK) {
            report("mb_collector_submit", rc);
            break;
        }
        p->submitted++;
    }
    return NULL;
}

int main(int argc, char **argv) {
    unsigned long total = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    struct sink_state sink = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0};
    mb_collector *collector = NULL;
    mb_result rc;
    int ok = 1;

    /* 1. Configure. Keys are checked as they are set. */
    mb_config *cfg = mb_config_new();
    if (cfg == NULL) {
        fprintf(stderr, "mb_config_new: out of memory\n");
        return 1;
    }
    static const char *const settings[][2] = {
        {"partitions", "2"},
        {"level", "L2_FAST"},
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        if ((rc = mb_config_set(cfg, settings[i][0], settings[i][1])) != MB_OK) {
            report("mb_config_set", rc);
            mb_config_free(cfg);
            return 1;
        }
    }
    if ((rc = mb_config_set_frame_callback(cfg, on_frame, &sink)) != MB_OK) {
        report("mb_config_set_frame_callback", rc);
        mb_config_free(cfg);
        return 1;
    }

    /* 2. Create the collector. The config is not consumed: free it now. */
    rc = mb_collector_new(cfg, &collector);
    mb_config_free(cfg);
    if (rc != MB_OK) {
        report("mb_collector_new", rc);
        return 1;
    }

    /* 3. Submit from two threads. */
    pthread_t threads[THREADS];
    struct producer producers[THREADS];
    for (int t = 0; t < THREADS; t++) {
        producers[t] = (struct producer){collector, t, total / THREADS + (t < (int)(total % THREADS)), 0, 0};
        if (pthread_create(&threads[t], NULL, produce, &producers[t]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    unsigned long submitted = 0, retries = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(threads[t], NULL);
        submitted += producers[t].submitted;
        retries += producers[t].retries;
    }

    /* 4. Flush: wait until the callback has taken everything. */
    if ((rc = mb_collector_flush(collector, 10000)) != MB_OK) {
        report("mb_collector_flush", rc);
        ok = 0;
    }

    /* 5. Status. */
    mb_status st;
    if ((rc = mb_collector_status(collector, &st)) != MB_OK) {
        report("mb_collector_status", rc);
        ok = 0;
    } else {
        printf("status: submitted=%llu rejected=%llu delivered=%llu failed=%llu pending=%llu\n",
               (unsigned long long)st.submitted, (unsigned long long)st.rejected,
               (unsigned long long)st.delivered, (unsigned long long)st.failed,
               (unsigned long long)st.pending);
        printf("        batches=%llu level=%u N=%llu T=%lluus rate=%.0f/s\n",
               (unsigned long long)st.flushed_batches, st.level, (unsigned long long)st.batch_events,
               (unsigned long long)st.interval_us, st.rate_per_sec);
        if (st.submitted != st.delivered + st.failed + st.pending || st.pending != 0) ok = 0;
    }

    /* 6. Free: flushes anything left and stops the flush threads. */
    mb_collector_free(collector);

    pthread_mutex_lock(&sink.lock);
    printf("callback: %lu frames, %lu events, %lu bytes; submitted %lu (%lu retries after MB_ERR_FULL)\n",
           sink.frames, sink.events, sink.bytes, submitted, retries);
    if (sink.events != submitted || submitted != total) ok = 0;
    pthread_mutex_unlock(&sink.lock);

    if (!ok) {
        fprintf(stderr, "example: FAILED\n");
        return 1;
    }
    printf("example: ok\n");
    return 0;
}
