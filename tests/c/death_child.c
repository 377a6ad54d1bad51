/* death_child.c: a producer process that is killed with SIGKILL mid-run
 * (tests/c_programs.rs, process_death_keeps_every_acknowledged_event).
 *
 * Each of PRODUCERS threads submits numbered tracked events to Kafka as fast
 * as the collector accepts them and, as their outcomes arrive (in order, per
 * thread), prints one line per event to stdout:
 *   SUB <producer> <seq>    the submit returned MB_OK (accepted, in memory)
 *   ACK <producer> <seq>    its ticket answered MB_OK (Kafka holds it)
 *   FAIL <producer> <seq>   its ticket answered MB_ERR_DELIVERY
 * Lines are written whole (stdio's stream lock) and flushed at once, so a
 * line the parent reads was true before the kill. The parent kills this
 * process without warning and then checks the topic against the lines.
 *
 * Events: producer u32 LE, seq u32 LE, run tag u64 LE, then 32 filler bytes
 * (seq ^ 0x5a), the layout of tests/reliability/mod.rs.
 *
 * Usage: death_child BOOTSTRAP TOPIC RUN_TAG
 */
#include "check.h"

#include <inttypes.h>
#include <pthread.h>

#define PRODUCERS 3
#define EVENT_LEN 48
#define WINDOW 4096

static mb_collector *c;
static uint64_t run_tag;

static void *produce(void *arg) {
    uint32_t p = (uint32_t)(uintptr_t)arg;
    static __thread uint64_t tickets[WINDOW];
    uint32_t next = 0, oldest = 0; /* seqs [oldest, next) await an outcome */
    for (;;) {
        if (next - oldest < WINDOW) {
            uint8_t ev[EVENT_LEN];
            memset(ev, (int)((next & 0xff) ^ 0x5a), sizeof ev);
            put_u32le(ev, p);
            put_u32le(ev + 4, next);
            for (int i = 0; i < 8; i++) ev[8 + i] = (uint8_t)(run_tag >> (8 * i));
            uint64_t t;
            mb_result rc = mb_collector_submit_tracked(c, ev, sizeof ev, &t);
            if (rc == MB_OK) {
                tickets[next % WINDOW] = t;
                printf("SUB %u %u\n", p, next);
                next++;
            } else if (rc != MB_ERR_FULL && rc != MB_ERR_TRACKING_FULL) {
                CHECK_OK(rc);
            }
        }
        /* Report every settled outcome at the front, in order. */
        while (oldest != next) {
            mb_ack ack;
            mb_result rc = mb_collector_wait_ack(c, tickets[oldest % WINDOW], next - oldest < WINDOW ? 0 : 50, &ack);
            if (rc == MB_ERR_TIMEOUT) break;
            if (rc == MB_OK)
                printf("ACK %u %u\n", p, oldest);
            else if (rc == MB_ERR_DELIVERY)
                printf("FAIL %u %u\n", p, oldest);
            else
                CHECK_OK(rc);
            oldest++;
        }
        if ((next & 63) == 0) sleep_ms(1); /* pace: the kill should land mid-run */
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: death_child BOOTSTRAP TOPIC RUN_TAG\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    run_tag = strtoull(argv[3], NULL, 10);
    mb_config *cfg = mb_config_new();
    CHECK_OK(mb_config_set(cfg, "kafka.bootstrap.servers", argv[1]));
    CHECK_OK(mb_config_set(cfg, "kafka.topic", argv[2]));
    CHECK_OK(mb_config_set(cfg, "kafka.acks", "all"));
    CHECK_OK(mb_config_set(cfg, "kafka.enable.idempotence", "true"));
    CHECK_OK(mb_config_set(cfg, "level", "L3_LOW"));
    CHECK_OK(mb_config_set(cfg, "partitions", "3"));
    CHECK_OK(mb_config_set(cfg, "calibration.enabled", "false"));
    CHECK_OK(mb_collector_new(cfg, &c));
    mb_config_free(cfg);
    pthread_t th[PRODUCERS];
    for (uintptr_t p = 0; p < PRODUCERS; p++) CHECK(pthread_create(&th[p], NULL, produce, (void *)p) == 0);
    printf("READY\n");
    for (uintptr_t p = 0; p < PRODUCERS; p++) pthread_join(th[p], NULL); /* never: killed */
    return 0;
}
