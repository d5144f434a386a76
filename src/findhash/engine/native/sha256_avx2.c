/*
 * SHA-256 on eight candidates at once with AVX2 (compiled with -mavx2).
 *
 * Lane i of every vector belongs to candidate i of the batch. The candidates of
 * a batch differ only in their nonce words, so every other message word is
 * broadcast from lane 0 rather than gathered from all eight.
 */
#include "sha256.h"

#if defined(FINDHASH_HAVE_AVX2) && (defined(__x86_64__) || defined(__i386__))

#include <immintrin.h>

FH_INLINE __m256i add(__m256i x, __m256i y)
{
    return _mm256_add_epi32(x, y);
}

FH_INLINE __m256i rotr(__m256i x, int n)
{
    return _mm256_or_si256(_mm256_srli_epi32(x, n), _mm256_slli_epi32(x, 32 - n));
}

FH_INLINE __m256i small_sigma0(__m256i x)
{
    __m256i r = _mm256_xor_si256(rotr(x, 7), rotr(x, 18));

    return _mm256_xor_si256(r, _mm256_srli_epi32(x, 3));
}

FH_INLINE __m256i small_sigma1(__m256i x)
{
    __m256i r = _mm256_xor_si256(rotr(x, 17), rotr(x, 19));

    return _mm256_xor_si256(r, _mm256_srli_epi32(x, 10));
}

/* One round with the working variables in rotated roles; only d and h change. */
FH_INLINE void round_step(__m256i a, __m256i b, __m256i c, __m256i *d,
                          __m256i e, __m256i f, __m256i g, __m256i *h, __m256i w, int t)
{
    __m256i s1 = _mm256_xor_si256(_mm256_xor_si256(rotr(e, 6), rotr(e, 11)), rotr(e, 25));
    __m256i ch = _mm256_xor_si256(g, _mm256_and_si256(e, _mm256_xor_si256(f, g)));
    __m256i kw = add(w, _mm256_set1_epi32((int)fh_sha256_k[t]));
    __m256i t1 = add(add(*h, s1), add(ch, kw));
    __m256i s0 = _mm256_xor_si256(_mm256_xor_si256(rotr(a, 2), rotr(a, 13)), rotr(a, 22));
    __m256i maj = _mm256_or_si256(_mm256_and_si256(a, b),
                                  _mm256_and_si256(c, _mm256_or_si256(a, b)));

    *d = add(*d, t1);
    *h = add(t1, add(s0, maj));
}

/* Replaces w[t & 15] (which held word t - 16) by schedule word t. */
FH_INLINE __m256i schedule(__m256i w[16], int t)
{
    __m256i sum = add(small_sigma1(w[(t - 2) & 15]), w[(t - 7) & 15]);

    w[t & 15] = add(add(sum, small_sigma0(w[(t - 15) & 15])), w[t & 15]);
    return w[t & 15];
}

/* Message words of one tail block: broadcast where all lanes agree, gathered elsewhere. */
static void load_block(const struct fh_tail *tail, int block, __m256i w[16])
{
    const int n = FH_TAIL_WORDS;
    const __m256i lane_offsets = _mm256_setr_epi32(0, n, 2 * n, 3 * n, 4 * n, 5 * n, 6 * n, 7 * n);
    int first = block * FH_BLOCK_WORDS;

    for (int t = 0; t < FH_BLOCK_WORDS; t++) {
        int word = first + t;
        const uint32_t *column = &tail->lanes[0][word];

        if (word >= tail->var_first && word < tail->var_first + tail->var_count) {
            w[t] = _mm256_i32gather_epi32((const int *)column, lane_offsets, 4);
        } else {
            w[t] = _mm256_set1_epi32((int)*column);
        }
    }
}

static void compress_lanes(__m256i s[8], __m256i w[16])
{
    __m256i a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];

#pragma GCC unroll 2
    for (int t = 0; t < 16; t += 8) {
        round_step(a, b, c, &d, e, f, g, &h, w[t], t);
        round_step(h, a, b, &c, d, e, f, &g, w[t + 1], t + 1);
        round_step(g, h, a, &b, c, d, e, &f, w[t + 2], t + 2);
        round_step(f, g, h, &a, b, c, d, &e, w[t + 3], t + 3);
        round_step(e, f, g, &h, a, b, c, &d, w[t + 4], t + 4);
        round_step(d, e, f, &g, h, a, b, &c, w[t + 5], t + 5);
        round_step(c, d, e, &f, g, h, a, &b, w[t + 6], t + 6);
        round_step(b, c, d, &e, f, g, h, &a, w[t + 7], t + 7);
    }
#pragma GCC unroll 6
    for (int t = 16; t < 64; t += 8) {
        round_step(a, b, c, &d, e, f, g, &h, schedule(w, t), t);
        round_step(h, a, b, &c, d, e, f, &g, schedule(w, t + 1), t + 1);
        round_step(g, h, a, &b, c, d, e, &f, schedule(w, t + 2), t + 2);
        round_step(f, g, h, &a, b, c, d, &e, schedule(w, t + 3), t + 3);
        round_step(e, f, g, &h, a, b, c, &d, schedule(w, t + 4), t + 4);
        round_step(d, e, f, &g, h, a, b, &c, schedule(w, t + 5), t + 5);
        round_step(c, d, e, &f, g, h, a, &b, schedule(w, t + 6), t + 6);
        round_step(b, c, d, &e, f, g, h, &a, schedule(w, t + 7), t + 7);
    }
    s[0] = add(s[0], a);
    s[1] = add(s[1], b);
    s[2] = add(s[2], c);
    s[3] = add(s[3], d);
    s[4] = add(s[4], e);
    s[5] = add(s[5], f);
    s[6] = add(s[6], g);
    s[7] = add(s[7], h);
}

static void hash_lanes_avx2(const struct fh_tail *tail, uint32_t word0[FH_LANES])
{
    __m256i s[8];

    for (int i = 0; i < 8; i++) {
        s[i] = _mm256_set1_epi32((int)tail->midstate[i]);
    }
    for (int block = 0; block < tail->nblocks; block++) {
        __m256i w[16];

        load_block(tail, block, w);
        compress_lanes(s, w);
    }
    _mm256_storeu_si256((__m256i *)word0, s[0]);
}

/*
 * The blocks of one message depend on each other, so lanes cannot speed up a
 * midstate; the portable compression serves it.
 */
static void compress_avx2(uint32_t state[8], const uint8_t *blocks, size_t nblocks)
{
    fh_kernel_portable.compress(state, blocks, nblocks);
}

const struct fh_kernel fh_kernel_avx2 = {
    .name = "avx2",
    .compress = compress_avx2,
    .hash_lanes = hash_lanes_avx2,
};

#endif
