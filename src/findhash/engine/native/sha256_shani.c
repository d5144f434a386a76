/*
 * SHA-256 with the x86 SHA extensions (compiled with -msha -msse4.1 -mssse3).
 *
 * Each sha256rnds2 depends on the one before, so a single message leaves the
 * SHA unit idle between rounds. Hashing two independent candidates with their
 * rounds interleaved fills those gaps; the scan loop always has candidates to
 * spare.
 *
 * The state lives in two vectors, ABEF and CDGH (A in the highest lane), which
 * is the layout sha256rnds2 takes.
 */
#include "sha256.h"

#if defined(FINDHASH_HAVE_SHANI) && (defined(__x86_64__) || defined(__i386__))

#include <immintrin.h>

struct shani_state {
    __m128i abef;
    __m128i cdgh;
};

FH_INLINE struct shani_state state_from_words(const uint32_t s[8])
{
    __m128i abcd = _mm_loadu_si128((const __m128i *)s);
    __m128i efgh = _mm_loadu_si128((const __m128i *)(s + 4));
    __m128i badc = _mm_shuffle_epi32(abcd, 0xb1);
    __m128i hgfe = _mm_shuffle_epi32(efgh, 0x1b);
    struct shani_state st;

    st.abef = _mm_alignr_epi8(badc, hgfe, 8);
    st.cdgh = _mm_blend_epi16(hgfe, badc, 0xf0);
    return st;
}

FH_INLINE void state_to_words(struct shani_state st, uint32_t s[8])
{
    __m128i feba = _mm_shuffle_epi32(st.abef, 0x1b);
    __m128i dchg = _mm_shuffle_epi32(st.cdgh, 0xb1);

    _mm_storeu_si128((__m128i *)s, _mm_blend_epi16(feba, dchg, 0xf0));
    _mm_storeu_si128((__m128i *)(s + 4), _mm_alignr_epi8(dchg, feba, 8));
}

FH_INLINE uint32_t state_word0(struct shani_state st)
{
    return (uint32_t)_mm_extract_epi32(st.abef, 3);
}

FH_INLINE void add_state(struct shani_state *st, struct shani_state before)
{
    st->abef = _mm_add_epi32(st->abef, before.abef);
    st->cdgh = _mm_add_epi32(st->cdgh, before.cdgh);
}

/* Rounds 4*group .. 4*group+3 with message words msg. */
FH_INLINE void quad_round(struct shani_state *st, __m128i msg, int group)
{
    __m128i k = _mm_load_si128((const __m128i *)(fh_sha256_k + 4 * group));
    __m128i kw = _mm_add_epi32(msg, k);

    st->cdgh = _mm_sha256rnds2_epu32(st->cdgh, st->abef, kw);
    st->abef = _mm_sha256rnds2_epu32(st->abef, st->cdgh, _mm_shuffle_epi32(kw, 0x0e));
}

/* The next four schedule words from the previous sixteen, oldest first. */
FH_INLINE __m128i next_words(__m128i w0, __m128i w1, __m128i w2, __m128i w3)
{
    __m128i partial = _mm_add_epi32(_mm_sha256msg1_epu32(w0, w1), _mm_alignr_epi8(w3, w2, 4));

    return _mm_sha256msg2_epu32(partial, w3);
}

/*
 * Compresses one block for each of two candidates. The two chains are written
 * side by side so that the compiler keeps them interleaved.
 */
FH_INLINE void compress_pair(struct shani_state *x, struct shani_state *y,
                             const uint32_t *wx, const uint32_t *wy)
{
    struct shani_state x_before = *x, y_before = *y;
    __m128i mx[4], my[4];

#pragma GCC unroll 4
    for (int g = 0; g < 4; g++) {
        mx[g] = _mm_loadu_si128((const __m128i *)(wx + 4 * g));
        my[g] = _mm_loadu_si128((const __m128i *)(wy + 4 * g));
        quad_round(x, mx[g], g);
        quad_round(y, my[g], g);
    }
#pragma GCC unroll 12
    for (int g = 4; g < 16; g++) {
        mx[g & 3] = next_words(mx[g & 3], mx[(g + 1) & 3], mx[(g + 2) & 3], mx[(g + 3) & 3]);
        my[g & 3] = next_words(my[g & 3], my[(g + 1) & 3], my[(g + 2) & 3], my[(g + 3) & 3]);
        quad_round(x, mx[g & 3], g);
        quad_round(y, my[g & 3], g);
    }
    add_state(x, x_before);
    add_state(y, y_before);
}

FH_INLINE void compress_one(struct shani_state *x, __m128i m[4])
{
    struct shani_state before = *x;

#pragma GCC unroll 4
    for (int g = 0; g < 4; g++) {
        quad_round(x, m[g], g);
    }
#pragma GCC unroll 12
    for (int g = 4; g < 16; g++) {
        m[g & 3] = next_words(m[g & 3], m[(g + 1) & 3], m[(g + 2) & 3], m[(g + 3) & 3]);
        quad_round(x, m[g & 3], g);
    }
    add_state(x, before);
}

static void compress_shani(uint32_t state[8], const uint8_t *blocks, size_t nblocks)
{
    const __m128i swap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
    struct shani_state st = state_from_words(state);

    for (size_t i = 0; i < nblocks; i++, blocks += 64) {
        __m128i m[4];

        for (int g = 0; g < 4; g++) {
            __m128i raw = _mm_loadu_si128((const __m128i *)(blocks + 16 * g));

            m[g] = _mm_shuffle_epi8(raw, swap);
        }
        compress_one(&st, m);
    }
    state_to_words(st, state);
}

static void hash_lanes_shani(const struct fh_tail *tail, uint32_t word0[FH_LANES])
{
    const struct shani_state mid = state_from_words(tail->midstate);

    for (int lane = 0; lane < FH_LANES; lane += 2) {
        struct shani_state x = mid, y = mid;

        for (int block = 0; block < tail->nblocks; block++) {
            int offset = block * FH_BLOCK_WORDS;

            compress_pair(&x, &y, tail->lanes[lane] + offset, tail->lanes[lane + 1] + offset);
        }
        word0[lane] = state_word0(x);
        word0[lane + 1] = state_word0(y);
    }
}

const struct fh_kernel fh_kernel_shani = {
    .name = "sha-ni",
    .compress = compress_shani,
    .hash_lanes = hash_lanes_shani,
};

#endif
