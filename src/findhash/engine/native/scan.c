/*
 * The scan loop: candidates are written into the tail blocks in place, hashed
 * a batch at a time by the chosen kernel, and checked against the targets.
 *
 * The nonce advances like an odometer over its digits, so moving to the next
 * candidate changes one character (and, once in `radix` steps, a few more)
 * without any division. The indices of one nonce length form a segment: its
 * tail layout (where the nonce and the padding sit, the message length) is
 * fixed, and a new segment starts when the nonce gains a character.
 */
#include <string.h>

#include "scan.h"

/* The indices whose nonces have `length` characters: first .. end-1. */
struct length_range {
    int length;
    uint64_t first;
    uint64_t end;   /* UINT64_MAX when it lies beyond every 64-bit index */
};

struct odometer {
    int radix;
    int length;
    uint8_t digit[FH_MAX_NONCE];
    uint8_t word[FH_MAX_NONCE];    /* the tail word holding each character */
    uint8_t shift[FH_MAX_NONCE];   /* the character's bit offset within that word */
    uint32_t flip[FH_MAX_RADIX];   /* XOR turning digit d-1 into d; flip[0]: last into first */
};

struct scan_state {
    struct fh_tail tail;
    uint32_t current[FH_TAIL_WORDS];   /* the next candidate's tail words */
    struct odometer odometer;
};

static struct length_range length_range_of(uint64_t index, int radix)
{
    struct length_range r = {1, 0, 0};
    uint64_t span = (uint64_t)radix;

    /* span is the number of nonces of r.length characters, saturated at UINT64_MAX. */
    while (index - r.first >= span) {
        r.first += span;
        span = span > UINT64_MAX / (uint64_t)radix ? UINT64_MAX : span * (uint64_t)radix;
        r.length++;
    }
    r.end = span > UINT64_MAX - r.first ? UINT64_MAX : r.first + span;
    return r;
}

/* The digits of nonce(index), most significant first; returns their count. */
static int nonce_digits(uint64_t index, int radix, uint8_t digits[FH_MAX_NONCE])
{
    struct length_range r = length_range_of(index, radix);
    uint64_t offset = index - r.first;

    for (int q = r.length - 1; q >= 0; q--) {
        digits[q] = (uint8_t)(offset % (uint64_t)radix);
        offset /= (uint64_t)radix;
    }
    return r.length;
}

int fh_nonce(uint64_t index, const uint8_t *alphabet, int radix, uint8_t *out)
{
    uint8_t digits[FH_MAX_NONCE];
    int length = nonce_digits(index, radix, digits);

    for (int q = 0; q < length; q++) {
        out[q] = alphabet[digits[q]];
    }
    return length;
}

static void store_be64(uint8_t *p, uint64_t v)
{
    fh_store_be32(p, (uint32_t)(v >> 32));
    fh_store_be32(p + 4, (uint32_t)v);
}

/*
 * Writes the tail of candidate `index` (the message bytes after the midstate,
 * the nonce, the padding and the bit length) and readies the odometer.
 */
static void start_segment(struct scan_state *s, const struct fh_scan_request *req, uint64_t index)
{
    struct odometer *odo = &s->odometer;
    struct fh_tail *tail = &s->tail;
    uint8_t bytes[FH_TAIL_BLOCKS * 64] = {0};
    size_t rest = req->message_len % 64;

    memcpy(bytes, req->message + req->message_len - rest, rest);
    odo->length = nonce_digits(index, req->radix, odo->digit);
    for (int q = 0; q < odo->length; q++) {
        size_t at = rest + (size_t)q;

        bytes[at] = req->alphabet[odo->digit[q]];
        odo->word[q] = (uint8_t)(at / 4);
        odo->shift[q] = (uint8_t)(24 - 8 * (at % 4));
    }
    bytes[rest + (size_t)odo->length] = 0x80;

    size_t used = rest + (size_t)odo->length + 1 + 8;

    tail->nblocks = (int)((used + 63) / 64);
    store_be64(bytes + 64 * tail->nblocks - 8, ((uint64_t)req->message_len + odo->length) * 8);
    tail->var_first = (int)(rest / 4);
    tail->var_count = (int)((rest + (size_t)odo->length - 1) / 4 - rest / 4 + 1);

    int nwords = FH_BLOCK_WORDS * tail->nblocks;

    for (int t = 0; t < nwords; t++) {
        s->current[t] = fh_load_be32(bytes + 4 * t);
    }
    for (int lane = 0; lane < FH_LANES; lane++) {
        memcpy(tail->lanes[lane], s->current, sizeof(uint32_t) * (size_t)nwords);
    }
}

static void init_odometer(struct odometer *odo, const uint8_t *alphabet, int radix)
{
    odo->radix = radix;
    odo->flip[0] = (uint32_t)(alphabet[radix - 1] ^ alphabet[0]);
    for (int d = 1; d < radix; d++) {
        odo->flip[d] = (uint32_t)(alphabet[d - 1] ^ alphabet[d]);
    }
}

/*
 * Moves to the next nonce of the same length. Past the last one it wraps to
 * the first; the segment ends there, so that state is never hashed.
 */
static inline void odometer_step(struct odometer *odo, uint32_t *words)
{
    for (int q = odo->length - 1; q >= 0; q--) {
        int d = odo->digit[q] + 1;

        if (d < odo->radix) {
            odo->digit[q] = (uint8_t)d;
            words[odo->word[q]] ^= odo->flip[d] << odo->shift[q];
            return;
        }
        odo->digit[q] = 0;
        words[odo->word[q]] ^= odo->flip[0] << odo->shift[q];
    }
}

/* Gives each of the first n lanes the next candidate; only the nonce words change. */
static inline void fill_lanes(struct scan_state *s, int n)
{
    const int first = s->tail.var_first, count = s->tail.var_count;

    for (int lane = 0; lane < n; lane++) {
        uint32_t *words = s->tail.lanes[lane];

        for (int t = first; t < first + count; t++) {
            words[t] = s->current[t];
        }
        odometer_step(&s->odometer, s->current);
    }
}

static inline void check_lanes(struct fh_matcher *m, const struct fh_tail *tail,
                               const uint32_t word0[FH_LANES], int n, uint64_t index)
{
    for (int lane = 0; lane < n; lane++) {
        if (fh_prefilter(m, word0[lane])) {
            fh_matcher_confirm(m, word0[lane], tail, lane, index + (uint64_t)lane);
        }
    }
}

/* Scans index .. end-1, all of one nonce length; returns the next index to scan. */
static uint64_t scan_segment(struct scan_state *s, const struct fh_scan_request *req,
                             struct fh_matcher *m, uint64_t index, uint64_t end)
{
    FH_ALIGN(32) uint32_t word0[FH_LANES];

    start_segment(s, req, index);
    while (index < end) {
        int n = end - index < FH_LANES ? (int)(end - index) : FH_LANES;

        fill_lanes(s, n);
        req->kernel->hash_lanes(&s->tail, word0);
        check_lanes(m, &s->tail, word0, n, index);
        index += (uint64_t)n;
        if (req->stop_when_all_found && fh_matcher_all_found(m)) {
            break;
        }
    }
    return index;
}

uint64_t fh_scan(const struct fh_scan_request *req, struct fh_matcher *m)
{
    struct scan_state s;
    uint64_t index = req->start;
    const uint64_t end = req->start + req->count;

    memcpy(s.tail.midstate, fh_sha256_iv, sizeof s.tail.midstate);
    req->kernel->compress(s.tail.midstate, req->message, req->message_len / 64);
    init_odometer(&s.odometer, req->alphabet, req->radix);

    while (index < end) {
        if (req->stop_when_all_found && fh_matcher_all_found(m)) {
            break;
        }
        struct length_range r = length_range_of(index, req->radix);

        index = scan_segment(&s, req, m, index, r.end < end ? r.end : end);
    }
    return index - req->start;
}
