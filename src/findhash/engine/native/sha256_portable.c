/*
 * SHA-256 in plain C: runs on every machine, and confirms the other kernels' hits.
 */
#include <string.h>

#include "sha256.h"

const uint32_t fh_sha256_iv[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* Aligned so that the SHA-NI kernel can load four constants at a time. */
FH_ALIGN(16) const uint32_t fh_sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t small_sigma0(uint32_t x)
{
    return fh_rotr(x, 7) ^ fh_rotr(x, 18) ^ (x >> 3);
}

static inline uint32_t small_sigma1(uint32_t x)
{
    return fh_rotr(x, 17) ^ fh_rotr(x, 19) ^ (x >> 10);
}

/*
 * One round, with the eight working variables passed in their rotated roles
 * so that eight calls in a row need no shuffling of values: only d and h
 * change.
 */
static inline void round_step(uint32_t a, uint32_t b, uint32_t c, uint32_t *d,
                              uint32_t e, uint32_t f, uint32_t g, uint32_t *h, uint32_t kw)
{
    uint32_t s1 = fh_rotr(e, 6) ^ fh_rotr(e, 11) ^ fh_rotr(e, 25);
    uint32_t ch = g ^ (e & (f ^ g));
    uint32_t t1 = *h + s1 + ch + kw;
    uint32_t s0 = fh_rotr(a, 2) ^ fh_rotr(a, 13) ^ fh_rotr(a, 22);
    uint32_t maj = (a & b) | (c & (a | b));

    *d += t1;
    *h = t1 + s0 + maj;
}

void fh_compress_words(uint32_t state[8], const uint32_t words[FH_BLOCK_WORDS])
{
    uint32_t w[64];
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];

    memcpy(w, words, sizeof(uint32_t) * FH_BLOCK_WORDS);
    for (int t = 16; t < 64; t++) {
        w[t] = small_sigma1(w[t - 2]) + w[t - 7] + small_sigma0(w[t - 15]) + w[t - 16];
    }
    for (int t = 0; t < 64; t += 8) {
        round_step(a, b, c, &d, e, f, g, &h, fh_sha256_k[t] + w[t]);
        round_step(h, a, b, &c, d, e, f, &g, fh_sha256_k[t + 1] + w[t + 1]);
        round_step(g, h, a, &b, c, d, e, &f, fh_sha256_k[t + 2] + w[t + 2]);
        round_step(f, g, h, &a, b, c, d, &e, fh_sha256_k[t + 3] + w[t + 3]);
        round_step(e, f, g, &h, a, b, c, &d, fh_sha256_k[t + 4] + w[t + 4]);
        round_step(d, e, f, &g, h, a, b, &c, fh_sha256_k[t + 5] + w[t + 5]);
        round_step(c, d, e, &f, g, h, a, &b, fh_sha256_k[t + 6] + w[t + 6]);
        round_step(b, c, d, &e, f, g, h, &a, fh_sha256_k[t + 7] + w[t + 7]);
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
}

static void compress_portable(uint32_t state[8], const uint8_t *blocks, size_t nblocks)
{
    uint32_t words[FH_BLOCK_WORDS];

    for (size_t i = 0; i < nblocks; i++, blocks += 64) {
        for (int t = 0; t < FH_BLOCK_WORDS; t++) {
            words[t] = fh_load_be32(blocks + 4 * t);
        }
        fh_compress_words(state, words);
    }
}

static void hash_lanes_portable(const struct fh_tail *tail, uint32_t word0[FH_LANES])
{
    for (int lane = 0; lane < FH_LANES; lane++) {
        uint32_t state[8];

        memcpy(state, tail->midstate, sizeof state);
        for (int block = 0; block < tail->nblocks; block++) {
            fh_compress_words(state, tail->lanes[lane] + block * FH_BLOCK_WORDS);
        }
        word0[lane] = state[0];
    }
}

const struct fh_kernel fh_kernel_portable = {
    .name = "portable",
    .compress = compress_portable,
    .hash_lanes = hash_lanes_portable,
};
