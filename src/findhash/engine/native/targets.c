/*
 * Building the target table, and the exact check behind the prefilter.
 */
#include <stdlib.h>
#include <string.h>

#include "targets.h"

/* The bitmap has at least 64 bits per target, so few random words pass it. */
#define BITMAP_BITS_PER_TARGET_LOG2 6
#define BITMAP_MIN_LOG2 16
#define BITMAP_MAX_LOG2 24

struct parsed {
    struct fh_target target;
    size_t position;
};

static int hex_value(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

static void parse_prefix(const char *digits, size_t n, struct fh_target *t)
{
    memset(t, 0, sizeof *t);
    t->ndigits = (int)n;
    for (size_t i = 0; i < n; i++) {
        int shift = (i % 2 == 0) ? 4 : 0;

        t->bytes[i / 2] |= (uint8_t)(hex_value(digits[i]) << shift);
    }

    int key_digits = t->ndigits < 8 ? t->ndigits : 8;

    t->mask = 0xffffffffu << (32 - 4 * key_digits);
    t->key = fh_load_be32(t->bytes) & t->mask;
}

static int key_class(const struct fh_target *t)
{
    return t->ndigits < 8 ? t->ndigits : 8;
}

/* Orders by key class, then key; equal prefixes end up next to each other. */
static int compare_parsed(const void *pa, const void *pb)
{
    const struct fh_target *a = &((const struct parsed *)pa)->target;
    const struct fh_target *b = &((const struct parsed *)pb)->target;

    if (key_class(a) != key_class(b)) {
        return key_class(a) < key_class(b) ? -1 : 1;
    }
    if (a->key != b->key) {
        return a->key < b->key ? -1 : 1;
    }
    if (a->ndigits != b->ndigits) {
        return a->ndigits < b->ndigits ? -1 : 1;
    }
    return memcmp(a->bytes, b->bytes, sizeof a->bytes);
}

static int same_prefix(const struct fh_target *a, const struct fh_target *b)
{
    return a->ndigits == b->ndigits && memcmp(a->bytes, b->bytes, sizeof a->bytes) == 0;
}

/* Keeps one target per distinct prefix and maps every position to it. */
static void collapse_duplicates(struct fh_targets *t, const struct parsed *sorted, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || !same_prefix(&sorted[i].target, &t->targets[t->ntargets - 1])) {
            t->targets[t->ntargets] = sorted[i].target;
            t->keys[t->ntargets] = sorted[i].target.key;
            t->ntargets++;
        }
        t->target_of[sorted[i].position] = (uint32_t)(t->ntargets - 1);
    }
}

static void group_classes(struct fh_targets *t)
{
    for (size_t i = 0; i < t->ntargets; i++) {
        struct fh_key_class *last = t->nclasses ? &t->classes[t->nclasses - 1] : NULL;

        if (last == NULL || last->mask != t->targets[i].mask) {
            last = &t->classes[t->nclasses++];
            last->mask = t->targets[i].mask;
            last->first = i;
            last->count = 0;
        }
        last->count++;
    }
}

static int bitmap_log2(size_t ntargets)
{
    int bits = BITMAP_BITS_PER_TARGET_LOG2;

    while (((size_t)1 << (bits - BITMAP_BITS_PER_TARGET_LOG2)) < ntargets) {
        bits++;
    }
    if (bits < BITMAP_MIN_LOG2) {
        return BITMAP_MIN_LOG2;
    }
    return bits > BITMAP_MAX_LOG2 ? BITMAP_MAX_LOG2 : bits;
}

/* A prefix shorter than the bitmap index sets every bit that starts with it. */
static void set_target_bits(uint64_t *bitmap, int log2, const struct fh_target *target)
{
    int known_bits = 4 * (target->ndigits < 8 ? target->ndigits : 8);
    uint32_t first = target->key >> (32 - log2);
    uint32_t span = known_bits >= log2 ? 1u : 1u << (log2 - known_bits);

    for (uint32_t bit = first; bit < first + span; bit++) {
        bitmap[bit >> 6] |= (uint64_t)1 << (bit & 63);
    }
}

static int build_bitmap(struct fh_targets *t)
{
    int log2 = bitmap_log2(t->ntargets);

    t->bitmap = calloc((size_t)1 << (log2 - 6), sizeof(uint64_t));
    if (t->bitmap == NULL) {
        return -1;
    }
    t->bitmap_shift = 32 - log2;
    for (size_t i = 0; i < t->ntargets; i++) {
        set_target_bits(t->bitmap, log2, &t->targets[i]);
    }
    return 0;
}

struct fh_targets *fh_targets_new(const char *const *prefixes, const size_t *lengths, size_t n)
{
    struct fh_targets *t = calloc(1, sizeof *t);
    struct parsed *sorted = calloc(n ? n : 1, sizeof *sorted);

    if (t == NULL || sorted == NULL) {
        goto fail;
    }
    t->npositions = n;
    t->target_of = calloc(n ? n : 1, sizeof *t->target_of);
    t->targets = calloc(n ? n : 1, sizeof *t->targets);
    t->keys = calloc(n ? n : 1, sizeof *t->keys);
    if (t->target_of == NULL || t->targets == NULL || t->keys == NULL) {
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        parse_prefix(prefixes[i], lengths[i], &sorted[i].target);
        sorted[i].position = i;
    }
    qsort(sorted, n, sizeof *sorted, compare_parsed);
    collapse_duplicates(t, sorted, n);
    group_classes(t);
    if (t->ntargets > FH_FEW_TARGETS && build_bitmap(t) != 0) {
        goto fail;
    }
    free(sorted);
    return t;

fail:
    free(sorted);
    fh_targets_free(t);
    return NULL;
}

void fh_targets_free(struct fh_targets *t)
{
    if (t == NULL) {
        return;
    }
    free(t->target_of);
    free(t->targets);
    free(t->keys);
    free(t->bitmap);
    free(t);
}

int fh_matcher_init(struct fh_matcher *m, const struct fh_targets *targets)
{
    memset(m, 0, sizeof *m);
    m->targets = targets;
    m->hits = calloc(targets->ntargets ? targets->ntargets : 1, sizeof *m->hits);
    if (m->hits == NULL) {
        return -1;
    }
    m->bitmap = targets->bitmap;
    m->bitmap_shift = targets->bitmap_shift;
    if (m->bitmap == NULL) {
        for (size_t i = 0; i < targets->ntargets; i++) {
            m->few_key[m->nfew] = targets->targets[i].key;
            m->few_mask[m->nfew] = targets->targets[i].mask;
            m->few_target[m->nfew] = (uint32_t)i;
            m->nfew++;
        }
    }
    return 0;
}

void fh_matcher_free(struct fh_matcher *m)
{
    free(m->hits);
    m->hits = NULL;
}

/* The full digest of one lane's candidate, for the rare word that passes the prefilter. */
static void lane_digest(const struct fh_tail *tail, int lane, uint8_t digest[32])
{
    uint32_t state[8];

    memcpy(state, tail->midstate, sizeof state);
    for (int block = 0; block < tail->nblocks; block++) {
        fh_compress_words(state, tail->lanes[lane] + block * FH_BLOCK_WORDS);
    }
    for (int i = 0; i < 8; i++) {
        fh_store_be32(digest + 4 * i, state[i]);
    }
}

/* The candidate being confirmed; its digest is computed at most once, and only if needed. */
struct candidate {
    uint32_t word0;
    const struct fh_tail *tail;
    int lane;
    uint64_t index;
    int have_digest;
    uint8_t digest[32];
};

static const uint8_t *candidate_digest(struct candidate *c)
{
    if (!c->have_digest) {
        lane_digest(c->tail, c->lane, c->digest);
        c->have_digest = 1;
    }
    return c->digest;
}

static int digest_starts_with(const uint8_t *digest, const struct fh_target *t)
{
    size_t whole = (size_t)t->ndigits / 2;

    if (memcmp(digest, t->bytes, whole) != 0) {
        return 0;
    }
    return t->ndigits % 2 == 0 || (digest[whole] & 0xf0) == t->bytes[whole];
}

/*
 * Records the candidate against target i if it is that target's first hit.
 * Returns whether this call recorded it. A key match settles targets of up to
 * eight digits; longer ones need the whole digest.
 */
static int try_target(struct fh_matcher *m, size_t i, struct candidate *c)
{
    const struct fh_target *t = &m->targets->targets[i];
    struct fh_hit *hit = &m->hits[i];

    if (hit->found || ((c->word0 ^ t->key) & t->mask) != 0) {
        return 0;
    }
    if (t->ndigits > 8 && !digest_starts_with(candidate_digest(c), t)) {
        return 0;
    }
    memcpy(hit->digest, candidate_digest(c), sizeof hit->digest);
    hit->index = c->index;
    hit->found = 1;
    m->nfound++;
    return 1;
}

static void confirm_few(struct fh_matcher *m, struct candidate *c)
{
    for (int i = 0; i < m->nfew; i++) {
        if (try_target(m, m->few_target[i], c)) {
            /* A found target leaves the scan's list; the last one takes its place. */
            m->nfew--;
            m->few_key[i] = m->few_key[m->nfew];
            m->few_mask[i] = m->few_mask[m->nfew];
            m->few_target[i] = m->few_target[m->nfew];
            i--;
        }
    }
}

static size_t lower_bound(const uint32_t *keys, size_t first, size_t count, uint32_t key)
{
    while (count > 0) {
        size_t half = count / 2;

        if (keys[first + half] < key) {
            first += half + 1;
            count -= half + 1;
        } else {
            count = half;
        }
    }
    return first;
}

static void confirm_many(struct fh_matcher *m, struct candidate *c)
{
    const struct fh_targets *t = m->targets;

    for (int k = 0; k < t->nclasses; k++) {
        const struct fh_key_class *cls = &t->classes[k];
        uint32_t key = c->word0 & cls->mask;
        size_t end = cls->first + cls->count;

        for (size_t i = lower_bound(t->keys, cls->first, cls->count, key);
             i < end && t->keys[i] == key; i++) {
            try_target(m, i, c);
        }
    }
}

void fh_matcher_confirm(struct fh_matcher *m, uint32_t word0, const struct fh_tail *tail,
                        int lane, uint64_t index)
{
    struct candidate c = {word0, tail, lane, index, 0, {0}};

    if (m->bitmap != NULL) {
        confirm_many(m, &c);
    } else {
        confirm_few(m, &c);
    }
}
