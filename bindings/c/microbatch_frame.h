/* microbatch_frame.h: a standalone, header-only C99 decoder for microbatch
 * batch frames (format v1), for consumers that do not link libmicrobatch.
 *
 * Frame format v1 (all integers little-endian):
 *
 *   offset  size  field
 *   0       2     magic, the bytes 0x4D 0x42 ("MB")
 *   2       1     version, 1
 *   3       1     flags, 0 (reserved: any other value is refused)
 *   4       4     event count, u32
 *   8       ...   count events, each: u32 length, then that many bytes
 *
 * A frame ends exactly after its last event (trailing bytes are refused), a
 * count larger than (len - 8) / 4 is refused before anything is read, and a
 * frame larger than INT32_MAX bytes is refused (a Kafka record cannot be
 * larger). Every length is checked against the bytes that remain before it
 * is used, so no input makes the decoder read outside [frame, frame + len).
 *
 * Two styles:
 *
 *   1. mbf_decode(): validates the WHOLE frame first, then calls `cb` once per
 *      event in order. A malformed frame never reaches `cb`. Same semantics as
 *      mb_frame_decode() in libmicrobatch.
 *
 *   2. mbf_reader: an allocation-free iterator. mbf_reader_init() checks the
 *      header; mbf_reader_next() yields one event at a time and reports a
 *      truncated event or trailing bytes when it reaches them, so events
 *      yielded before an error came from a frame that turned out malformed.
 *      Call mbf_validate() first if that matters.
 *
 *      mbf_reader r;
 *      const uint8_t *ev; size_t ev_len; int rc;
 *      if ((rc = mbf_reader_init(&r, frame, len)) != MBF_OK) { ... }
 *      while ((rc = mbf_reader_next(&r, &ev, &ev_len)) == 1) { use(ev, ev_len); }
 *      if (rc < 0) fprintf(stderr, "bad frame: %s\n", mbf_strerror(rc));
 *
 * All functions return MBF_OK (0) or a negative MBF_ERR_* code; mbf_strerror()
 * names it. Everything is `static inline`: include the header wherever it is
 * needed, no library to link. Compiles as C99 and as C++.
 */

#ifndef MICROBATCH_FRAME_H
#define MICROBATCH_FRAME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MBF_MAGIC_0 0x4D
#define MBF_MAGIC_1 0x42
#define MBF_VERSION 1
#define MBF_HEADER_BYTES 8
#define MBF_EVENT_PREFIX_BYTES 4
/* Largest frame accepted: INT32_MAX bytes. */
#define MBF_MAX_FRAME_BYTES ((size_t)0x7FFFFFFF)

/* Result codes. */
#define MBF_OK 0
#define MBF_ERR_NULL_ARG (-1)    /* frame NULL with len > 0, or a NULL callback/out pointer */
#define MBF_ERR_TRUNCATED (-2)   /* shorter than the header, or an event runs past the end */
#define MBF_ERR_BAD_MAGIC (-3)   /* bytes 0-1 are not "MB" */
#define MBF_ERR_BAD_VERSION (-4) /* byte 2 is not 1 */
#define MBF_ERR_BAD_FLAGS (-5)   /* byte 3 is not 0 */
#define MBF_ERR_BAD_COUNT (-6)   /* the count cannot fit in the frame's bytes */
#define MBF_ERR_TRAILING (-7)    /* bytes follow the last event */
#define MBF_ERR_TOO_LARGE (-8)   /* the frame is larger than MBF_MAX_FRAME_BYTES */
#define MBF_ERR_STOPPED (-9)     /* the event callback returned non-zero */

/* Receives one event: `event` points to `len` bytes valid during the call.
 * Return 0 to continue; any other value stops decoding (MBF_ERR_STOPPED). */
typedef int (*mbf_event_cb)(void *ctx, const uint8_t *event, size_t len);

/* A static description of a result code; "unknown error" for other values. */
static inline const char *mbf_strerror(int rc) {
    switch (rc) {
    case MBF_OK: return "ok";
    case MBF_ERR_NULL_ARG: return "NULL argument";
    case MBF_ERR_TRUNCATED: return "frame truncated";
    case MBF_ERR_BAD_MAGIC: return "bad magic (expected \"MB\")";
    case MBF_ERR_BAD_VERSION: return "unsupported frame version";
    case MBF_ERR_BAD_FLAGS: return "reserved flags byte is not 0";
    case MBF_ERR_BAD_COUNT: return "event count exceeds what the frame can hold";
    case MBF_ERR_TRAILING: return "bytes trail the last event";
    case MBF_ERR_TOO_LARGE: return "frame larger than INT32_MAX bytes";
    case MBF_ERR_STOPPED: return "event callback stopped decoding";
    default: return "unknown error";
    }
}

static inline uint32_t mbf_read_u32le(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* An iterator over a frame's events. Treat the fields as private. */
typedef struct mbf_reader {
    const uint8_t *next;  /* first byte not yet consumed */
    size_t left;          /* bytes from `next` to the end of the frame */
    uint32_t count;       /* events the header announces */
    uint32_t remaining;   /* events not yet yielded */
    int error;            /* sticky: once non-zero, every next() returns it */
} mbf_reader;

/* Checks the header of `frame` (`len` bytes) only. `count_out` (may be NULL)
 * receives the announced event count (0 on error). */
static inline int mbf_check_header(const uint8_t *frame, size_t len, uint32_t *count_out) {
    uint32_t count;
    if (count_out) *count_out = 0;
    if (frame == NULL && len > 0) return MBF_ERR_NULL_ARG;
    if (len > MBF_MAX_FRAME_BYTES) return MBF_ERR_TOO_LARGE;
    if (len < MBF_HEADER_BYTES) return MBF_ERR_TRUNCATED;
    if (frame[0] != MBF_MAGIC_0 || frame[1] != MBF_MAGIC_1) return MBF_ERR_BAD_MAGIC;
    if (frame[2] != MBF_VERSION) return MBF_ERR_BAD_VERSION;
    if (frame[3] != 0) return MBF_ERR_BAD_FLAGS;
    count = mbf_read_u32le(frame + 4);
    /* len >= 8 here, so the subtraction cannot wrap. */
    if ((size_t)count > (len - MBF_HEADER_BYTES) / MBF_EVENT_PREFIX_BYTES) return MBF_ERR_BAD_COUNT;
    if (count_out) *count_out = count;
    return MBF_OK;
}

/* Checks the header and prepares `r` to iterate. On error `r` is left in a
 * state where mbf_reader_next() returns that error. */
static inline int mbf_reader_init(mbf_reader *r, const uint8_t *frame, size_t len) {
    uint32_t count = 0;
    int rc;
    if (r == NULL) return MBF_ERR_NULL_ARG;
    r->next = frame;
    r->left = 0;
    r->count = 0;
    r->remaining = 0;
    rc = mbf_check_header(frame, len, &count);
    r->error = rc;
    if (rc != MBF_OK) return rc;
    r->next = frame + MBF_HEADER_BYTES;
    r->left = len - MBF_HEADER_BYTES;
    r->count = count;
    r->remaining = count;
    return MBF_OK;
}

/* The event count the header announced (0 if init failed). */
static inline uint32_t mbf_reader_count(const mbf_reader *r) {
    return r ? r->count : 0;
}

/* Yields the next event: returns 1 and sets *event / *len, 0 at the end of a
 * well-formed frame, or a negative error (truncated event, trailing bytes).
 * After 0 or an error, every further call returns the same. */
static inline int mbf_reader_next(mbf_reader *r, const uint8_t **event, size_t *len) {
    uint32_t n;
    if (r == NULL || event == NULL || len == NULL) return MBF_ERR_NULL_ARG;
    *event = NULL;
    *len = 0;
    if (r->error != MBF_OK) return r->error;
    if (r->remaining == 0) {
        if (r->left != 0) {
            r->error = MBF_ERR_TRAILING;
            return r->error;
        }
        return 0;
    }
    if (r->left < MBF_EVENT_PREFIX_BYTES) {
        r->error = MBF_ERR_TRUNCATED;
        return r->error;
    }
    n = mbf_read_u32le(r->next);
    /* Compare in 64 bits: no wrap whatever the width of size_t. */
    if ((uint64_t)n > (uint64_t)(r->left - MBF_EVENT_PREFIX_BYTES)) {
        r->error = MBF_ERR_TRUNCATED;
        return r->error;
    }
    *event = r->next + MBF_EVENT_PREFIX_BYTES;
    *len = (size_t)n;
    r->next += MBF_EVENT_PREFIX_BYTES + (size_t)n;
    r->left -= MBF_EVENT_PREFIX_BYTES + (size_t)n;
    r->remaining--;
    return 1;
}

/* Validates a whole frame without delivering anything. `count_out` (may be
 * NULL) receives the event count on success, 0 on error. */
static inline int mbf_validate(const uint8_t *frame, size_t len, uint32_t *count_out) {
    mbf_reader r;
    const uint8_t *ev;
    size_t ev_len;
    int rc;
    if (count_out) *count_out = 0;
    rc = mbf_reader_init(&r, frame, len);
    if (rc != MBF_OK) return rc;
    while ((rc = mbf_reader_next(&r, &ev, &ev_len)) == 1) {
    }
    if (rc < 0) return rc;
    if (count_out) *count_out = r.count;
    return MBF_OK;
}

/* Validates the whole frame, then calls `cb` for each event in order. A
 * malformed frame returns its error without calling `cb` at all. If `cb`
 * returns non-zero, decoding stops and MBF_ERR_STOPPED is returned.
 * `count_out` (may be NULL) receives the number of events `cb` accepted
 * (returned 0 for), 0 on any other error. */
static inline int mbf_decode(const uint8_t *frame, size_t len, mbf_event_cb cb, void *ctx, uint32_t *count_out) {
    mbf_reader r;
    const uint8_t *ev;
    size_t ev_len;
    uint32_t delivered = 0;
    int rc;
    if (count_out) *count_out = 0;
    if (frame == NULL && len > 0) return MBF_ERR_NULL_ARG;
    if (cb == NULL) return MBF_ERR_NULL_ARG;
    rc = mbf_validate(frame, len, NULL);
    if (rc != MBF_OK) return rc;
    mbf_reader_init(&r, frame, len);
    while (mbf_reader_next(&r, &ev, &ev_len) == 1) {
        if (cb(ctx, ev, ev_len) != 0) {
            if (count_out) *count_out = delivered;
            return MBF_ERR_STOPPED;
        }
        delivered++;
    }
    if (count_out) *count_out = delivered;
    return MBF_OK;
}

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MICROBATCH_FRAME_H */
