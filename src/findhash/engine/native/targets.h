/*
 * The prefixes a scan looks for, and the check of each digest against them.
 *
 * Every candidate's state word 0 (the digest's first eight hex digits) goes
 * through a prefilter: with few prefixes a masked compare against each, with
 * many a bitmap indexed by its top bits. The rare word that passes is checked
 * exactly, against whole prefixes of any length.
 */
#ifndef FINDHASH_TARGETS_H
#define FINDHASH_TARGETS_H

#include <stddef.h>
#include <stdint.h>

#include "sha256.h"

#define FH_MAX_DIGITS 64

/* Up to this many distinct prefixes a masked compare per prefix beats a bitmap lookup. */
#define FH_FEW_TARGETS 8

/* One distinct prefix. */
struct fh_target {
    uint8_t bytes[32];   /* the digits as bytes; an odd last digit fills the high nibble */
    uint32_t key;        /* its first eight digits (or fewer), left-aligned */
    uint32_t mask;       /* the bits of state word 0 that key covers */
    int ndigits;
};

/* The targets whose keys cover the same bits, sorted by key for binary search. */
struct fh_key_class {
    uint32_t mask;
    size_t first;
    size_t count;
};

/* Built once and only read by scans, so any number of threads may share it. */
struct fh_targets {
    size_t npositions;
    size_t ntargets;
    uint32_t *target_of;        /* position in the caller's list -> distinct target */
    struct fh_target *targets;  /* grouped by key class, sorted by key within each */
    uint32_t *keys;             /* targets[i].key, packed for the binary search */
    struct fh_key_class classes[8];
    int nclasses;
    uint64_t *bitmap;           /* NULL when there are at most FH_FEW_TARGETS targets */
    int bitmap_shift;           /* word0 >> bitmap_shift is a candidate's bit */
};

/*
 * Builds the table from validated prefixes (1..64 lower-case hex digits each).
 * Returns NULL when out of memory.
 */
struct fh_targets *fh_targets_new(const char *const *prefixes, const size_t *lengths, size_t n);
void fh_targets_free(struct fh_targets *targets);

/* The first hit of one distinct target within a scan. */
struct fh_hit {
    uint64_t index;
    uint8_t digest[32];
    int found;
};

/*
 * One scan's view of the targets. With few targets it keeps its own list of
 * those still unfound, so a prefix stops costing anything once it has a hit.
 */
struct fh_matcher {
    const struct fh_targets *targets;
    struct fh_hit *hits;        /* one per distinct target */
    size_t nfound;
    const uint64_t *bitmap;
    int bitmap_shift;
    int nfew;
    uint32_t few_key[FH_FEW_TARGETS];
    uint32_t few_mask[FH_FEW_TARGETS];
    uint32_t few_target[FH_FEW_TARGETS];
};

/* Returns -1 when out of memory. */
int fh_matcher_init(struct fh_matcher *m, const struct fh_targets *targets);
void fh_matcher_free(struct fh_matcher *m);

/* Checks a candidate that passed the prefilter exactly, and records a first hit. */
void fh_matcher_confirm(struct fh_matcher *m, uint32_t word0, const struct fh_tail *tail,
                        int lane, uint64_t index);

static inline int fh_matcher_all_found(const struct fh_matcher *m)
{
    return m->nfound == m->targets->ntargets;
}

/* True when word0 may begin a target's digest; false means it surely does not. */
static inline int fh_prefilter(const struct fh_matcher *m, uint32_t word0)
{
    if (m->bitmap != NULL) {
        uint32_t bit = word0 >> m->bitmap_shift;

        return (int)((m->bitmap[bit >> 6] >> (bit & 63)) & 1);
    }
    for (int i = 0; i < m->nfew; i++) {
        if (((word0 ^ m->few_key[i]) & m->few_mask[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

#endif
