/* Shared helpers for the C test programs run by tests/c_programs.rs. */
#ifndef MICROBATCH_TEST_CHECK_H
#define MICROBATCH_TEST_CHECK_H

/* Include this first: nanosleep and clock_gettime are POSIX. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <microbatch.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Fails the program with the location, the expression and the last error. */
#define CHECK(cond)                                                                                    \
    do {                                                                                               \
        if (!(cond)) {                                                                                 \
            char check_msg_[512];                                                                      \
            mb_last_error(check_msg_, sizeof check_msg_);                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: \"%s\")\n", __FILE__, __LINE__,      \
                    #cond, check_msg_);                                                                \
            exit(1);                                                                                   \
        }                                                                                              \
    } while (0)

/* Checks that `call` returns `expected`, naming both codes on failure. */
#define CHECK_RC(call, expected)                                                                       \
    do {                                                                                               \
        mb_result check_rc_ = (call);                                                                  \
        if (check_rc_ != (expected)) {                                                                 \
            char check_msg_[512];                                                                      \
            mb_last_error(check_msg_, sizeof check_msg_);                                              \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: \"%s\")\n", __FILE__,     \
                    __LINE__, #call, mb_result_name(check_rc_), mb_result_name(expected), check_msg_); \
            exit(1);                                                                                   \
        }                                                                                              \
    } while (0)

#define CHECK_OK(call) CHECK_RC(call, MB_OK)

/* This thread's last error as a heap string; free it. */
static inline char *last_error_dup(void) {
    size_t n = mb_last_error(NULL, 0);
    char *buf = malloc(n + 1);
    CHECK(buf != NULL);
    CHECK(mb_last_error(buf, n + 1) == n);
    CHECK(strlen(buf) == n);
    return buf;
}

/* Checks that the last error mentions `needle`. */
#define CHECK_LAST_ERROR_HAS(needle)                                                                   \
    do {                                                                                               \
        char *check_err_ = last_error_dup();                                                           \
        if (strstr(check_err_, (needle)) == NULL) {                                                    \
            fprintf(stderr, "%s:%d: last error \"%s\" does not mention \"%s\"\n", __FILE__, __LINE__,  \
                    check_err_, (needle));                                                             \
            exit(1);                                                                                   \
        }                                                                                              \
        free(check_err_);                                                                              \
    } while (0)

static inline void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void put_u32le(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t get_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* The event count: argv[1], else the default. */
static inline unsigned long arg_count(int argc, char **argv, unsigned long dflt) {
    return argc > 1 ? strtoul(argv[1], NULL, 10) : dflt;
}

#endif
