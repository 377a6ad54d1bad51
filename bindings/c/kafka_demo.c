/* kafka_demo.c: the HTTP-gateway path against Kafka.
 *
 * With no kafka.bootstrap.servers the collector starts librdkafka's
 * in-process mock cluster, so this runs with no broker at all. Pass a
 * bootstrap address (e.g. 127.0.0.1:9092) to use a real broker.
 *
 * Each "request" submits its event with mb_collector_submit_tracked and
 * answers only once mb_collector_wait_ack says Kafka holds it, printing
 * where it landed: (partition, offset, index in frame).
 */

#include <microbatch.h>

#include <stdio.h>
#include <string.h>

static int fail(const char *what, mb_result rc) {
    char message[512];
    mb_last_error(message, sizeof message);
    fprintf(stderr, "%s failed: %s: %s\n", what, mb_result_name(rc), message);
    return 1;
}

int main(int argc, char **argv) {
    mb_config *cfg = mb_config_new();
    mb_result rc;
    if ((rc = mb_config_set(cfg, "kafka.topic", "demo-events")) != MB_OK) return fail("kafka.topic", rc);
    if ((rc = mb_config_set(cfg, "level", "L2_FAST")) != MB_OK) return fail("level", rc);
    if (argc > 1 && (rc = mb_config_set(cfg, "kafka.bootstrap.servers", argv[1])) != MB_OK)
        return fail("kafka.bootstrap.servers", rc);

    mb_collector *c = NULL;
    rc = mb_collector_new(cfg, &c);
    mb_config_free(cfg);
    if (rc != MB_OK) return fail("mb_collector_new", rc);

    enum { REQUESTS = 8 };
    uint64_t tickets[REQUESTS];
    for (int i = 0; i < REQUESTS; i++) {
        char body[64];
        int n = snprintf(body, sizeof body, "{\"request\":%d}", i);
        if ((rc = mb_collector_submit_tracked(c, (const uint8_t *)body, (size_t)n, &tickets[i])) != MB_OK)
            return fail("mb_collector_submit_tracked", rc);
    }
    for (int i = 0; i < REQUESTS; i++) {
        mb_ack ack;
        if ((rc = mb_collector_wait_ack(c, tickets[i], 10000, &ack)) != MB_OK) return fail("mb_collector_wait_ack", rc);
        printf("request %d acknowledged: partition %d, offset %lld, index %u\n", i, ack.partition,
               (long long)ack.offset, ack.index);
    }
    mb_status st;
    if ((rc = mb_collector_status(c, &st)) != MB_OK) return fail("mb_collector_status", rc);
    printf("submitted %llu, delivered %llu, failed %llu, pending %llu, frames %llu\n",
           (unsigned long long)st.submitted, (unsigned long long)st.delivered, (unsigned long long)st.failed,
           (unsigned long long)st.pending, (unsigned long long)st.flushed_batches);
    mb_collector_free(c);
    return st.delivered == REQUESTS ? 0 : 1;
}
