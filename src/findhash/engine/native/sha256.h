/*
 * SHA-256 kernels: what every implementation offers and the helpers they share.
 *
 * A candidate is hashed as a midstate (the message blocks before the nonce,
 * hashed once per scan) followed by one to three tail blocks. The scan loop
 * fills the tail blocks of FH_LANES candidates at a time; a kernel hashes them
 * and returns the first state word of each digest, which is all the prefilter
 * needs.
 */
#ifndef FINDHASH_SHA256_H
#define FINDHASH_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* Candidates hashed per kernel call: one per AVX2 lane, four pairs for SHA-NI. */
#define FH_LANES 8

/* 63 message bytes, a nonce of up to 64 characters and the padding fit in three blocks. */
#define FH_TAIL_BLOCKS 3
#define FH_BLOCK_WORDS 16
#define FH_TAIL_WORDS (FH_TAIL_BLOCKS * FH_BLOCK_WORDS)

#if defined(__GNUC__) || defined(__clang__)
#define FH_ALIGN(n) __attribute__((aligned(n)))
#define FH_INLINE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define FH_ALIGN(n) __declspec(align(n))
#define FH_INLINE static __forceinline
#else
#define FH_ALIGN(n)
#define FH_INLINE static inline
#endif

extern const uint32_t fh_sha256_iv[8];
extern const uint32_t fh_sha256_k[64];

/*
 * The tail blocks of one batch. Words hold big-endian message words as
 * integers, so kernels need no byte swapping. Outside [var_first,
 * var_first + var_count) every lane holds the same words, which lets the
 * AVX2 kernel broadcast them instead of gathering.
 */
struct fh_tail {
    FH_ALIGN(32) uint32_t lanes[FH_LANES][FH_TAIL_WORDS];
    uint32_t midstate[8];
    int nblocks;
    int var_first;
    int var_count;
};

/* Hashes whole 64-byte blocks of a message into state (no padding). */
typedef void fh_compress_fn(uint32_t state[8], const uint8_t *blocks, size_t nblocks);

/* Hashes the tail of every lane from the midstate; stores state word 0 of each digest. */
typedef void fh_hash_lanes_fn(const struct fh_tail *tail, uint32_t word0[FH_LANES]);

struct fh_kernel {
    const char *name;
    fh_compress_fn *compress;
    fh_hash_lanes_fn *hash_lanes;
};

extern const struct fh_kernel fh_kernel_portable;
#ifdef FINDHASH_HAVE_SHANI
extern const struct fh_kernel fh_kernel_shani;
#endif
#ifdef FINDHASH_HAVE_AVX2
extern const struct fh_kernel fh_kernel_avx2;
#endif

/* The portable compression of one block given as words; used to confirm prefilter hits. */
void fh_compress_words(uint32_t state[8], const uint32_t words[FH_BLOCK_WORDS]);

static inline uint32_t fh_load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void fh_store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t fh_rotr(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

#endif
