/*
 * Scanning a range of candidate indices: candidate i is message + nonce(i),
 * nonce(i) being the i-th string over the alphabet, shortest first.
 */
#ifndef FINDHASH_SCAN_H
#define FINDHASH_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "sha256.h"
#include "targets.h"

/* Index 2**64 - 2 over a two-letter alphabet has 64 characters. */
#define FH_MAX_NONCE 64
#define FH_MAX_RADIX 95

struct fh_scan_request {
    const struct fh_kernel *kernel;
    const uint8_t *message;
    size_t message_len;
    const uint8_t *alphabet;
    int radix;
    uint64_t start;
    uint64_t count;                /* start + count must not exceed UINT64_MAX */
    int stop_when_all_found;
};

/*
 * Hashes the candidates start .. start+count-1 and records each target's first
 * hit in the matcher. Returns how many candidates were hashed, which is less
 * than count only when stop_when_all_found ended the scan early.
 */
uint64_t fh_scan(const struct fh_scan_request *request, struct fh_matcher *matcher);

/*
 * Writes nonce(index) to out (FH_MAX_NONCE bytes at least); returns its length.
 * It divides once per character, for the start of a scan and for tests.
 */
int fh_nonce(uint64_t index, const uint8_t *alphabet, int radix, uint8_t *out);

#endif
