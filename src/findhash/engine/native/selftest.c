/*
 * The known-answer test a kernel passes before it is trusted.
 *
 * First the kernel's block compression hashes messages whose digests are
 * written below. Then scans run through the kernel's batch path, over ranges
 * that cross a nonce length and so use one, two and three tail blocks, every
 * lane, and both prefilters; each candidate's digest, computed by the
 * compression just checked, must come back as a hit at the right index.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scan.h"
#include "selftest.h"

/* Test messages are the first `length` bytes of this text repeated. */
static const char PATTERN[] = "abcdefghijklmnopqrstuvwxyz0123456789";
#define PATTERN_LEN (sizeof PATTERN - 1)
#define MAX_MESSAGE 256
#define RANGE 24

struct known_answer {
    size_t length;
    const char *digest;
};

static const struct known_answer KNOWN_ANSWERS[] = {
    {0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {55, "82a01e3dd9cf63b32f2137747c00d92aeacfcea35dc58b37cf6b01fbcd7b5092"},
    {56, "24d78d38b3e044ec7100a06261c63a1e94f48928104858fe5576aea695db1e6f"},
    {63, "b499f29a5bed5082ce023ec3a5e7f7df025e37906d05391cdeea9b6a2d1f1a8e"},
    {64, "9811e1ddf569b14d62a237a466700c99034c0836d098a02b2bd146265489c068"},
    {119, "b1a702951b2223de0788c49ac9fdfd63cbc653a61e993245b709e8034d7c6366"},
    {120, "fb14a9865f771eb9c48c2d045bb57765d12f51d15e29cdb8e7c3d585048933fc"},
    {200, "5ba0977698f2ca18e82ff78940a9a666d84f3dd612ca022b811e276e3e465789"},
};

/*
 * Ranges to scan: a message length, an alphabet, and the first index. With
 * "xyz" the range 7..30 crosses from two- to three-character nonces; with
 * "01" the range crosses from 62 to 63 characters, whose tail needs three
 * blocks after a 63-byte message.
 */
struct scan_case {
    size_t message_len;
    const char *alphabet;
    uint64_t start;
};

static const struct scan_case SCAN_CASES[] = {
    {0, "xyz", 7},   {1, "xyz", 7},   {31, "xyz", 7},  {52, "xyz", 7},  {53, "xyz", 7},
    {54, "xyz", 7},  {55, "xyz", 7},  {56, "xyz", 7},  {60, "xyz", 7},  {63, "xyz", 7},
    {64, "xyz", 7},  {65, "xyz", 7},  {100, "xyz", 7}, {119, "xyz", 7}, {120, "xyz", 7},
    {127, "xyz", 7}, {128, "xyz", 7}, {200, "xyz", 7},
    {63, "01", (UINT64_C(1) << 63) - 2 - RANGE / 2},
};

static void fill_message(uint8_t *message, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        message[i] = (uint8_t)PATTERN[i % PATTERN_LEN];
    }
}

/* SHA-256 of a whole message through the kernel's compression. */
static void kernel_digest(const struct fh_kernel *k, const uint8_t *message, size_t length,
                          uint8_t digest[32])
{
    uint32_t state[8];
    uint8_t last[128] = {0};
    size_t whole = length / 64, rest = length % 64;
    size_t nlast = rest + 9 <= 64 ? 1 : 2;
    uint64_t bits = (uint64_t)length * 8;

    memcpy(state, fh_sha256_iv, sizeof state);
    k->compress(state, message, whole);
    memcpy(last, message + 64 * whole, rest);
    last[rest] = 0x80;
    fh_store_be32(last + 64 * nlast - 8, (uint32_t)(bits >> 32));
    fh_store_be32(last + 64 * nlast - 4, (uint32_t)bits);
    k->compress(state, last, nlast);
    for (int i = 0; i < 8; i++) {
        fh_store_be32(digest + 4 * i, state[i]);
    }
}

static void to_hex(const uint8_t digest[32], char hex[65])
{
    for (int i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    }
}

static int passes_known_answers(const struct fh_kernel *k)
{
    uint8_t message[MAX_MESSAGE], digest[32];
    char hex[65];

    for (size_t i = 0; i < sizeof KNOWN_ANSWERS / sizeof KNOWN_ANSWERS[0]; i++) {
        fill_message(message, KNOWN_ANSWERS[i].length);
        kernel_digest(k, message, KNOWN_ANSWERS[i].length, digest);
        to_hex(digest, hex);
        if (strcmp(hex, KNOWN_ANSWERS[i].digest) != 0) {
            return 0;
        }
    }
    return 1;
}

/* The expected digests of a range: candidate start + i at digests[i]. */
struct range_answers {
    char hex[RANGE][65];
    uint8_t digest[RANGE][32];
};

static void compute_range(const struct fh_kernel *k, const struct scan_case *c,
                          struct range_answers *answers)
{
    uint8_t candidate[MAX_MESSAGE + FH_MAX_NONCE];
    int radix = (int)strlen(c->alphabet);

    fill_message(candidate, c->message_len);
    for (int i = 0; i < RANGE; i++) {
        int n = fh_nonce(c->start + (uint64_t)i, (const uint8_t *)c->alphabet, radix,
                         candidate + c->message_len);

        kernel_digest(k, candidate, c->message_len + (size_t)n, answers->digest[i]);
        to_hex(answers->digest[i], answers->hex[i]);
    }
}

/*
 * Scans the range for the full digests of candidates first .. first+ntargets-1;
 * returns 1 if each is found exactly where it belongs, 0 if not, -1 when out of
 * memory.
 */
static int scan_finds(const struct fh_kernel *k, const struct scan_case *c,
                      const struct range_answers *answers, int first, int ntargets)
{
    uint8_t message[MAX_MESSAGE];
    const char *prefixes[RANGE];
    size_t lengths[RANGE];
    struct fh_matcher matcher;

    for (int i = 0; i < ntargets; i++) {
        prefixes[i] = answers->hex[first + i];
        lengths[i] = 64;
    }
    struct fh_targets *targets = fh_targets_new(prefixes, lengths, (size_t)ntargets);

    if (targets == NULL || fh_matcher_init(&matcher, targets) != 0) {
        fh_targets_free(targets);
        return -1;
    }
    fill_message(message, c->message_len);

    struct fh_scan_request request = {
        k, message, c->message_len, (const uint8_t *)c->alphabet, (int)strlen(c->alphabet),
        c->start, RANGE, 0,
    };
    int ok = fh_scan(&request, &matcher) == RANGE;

    for (int i = 0; i < ntargets && ok; i++) {
        const struct fh_hit *hit = &matcher.hits[targets->target_of[i]];

        ok = hit->found && hit->index == c->start + (uint64_t)(first + i) &&
             memcmp(hit->digest, answers->digest[first + i], 32) == 0;
    }
    fh_matcher_free(&matcher);
    fh_targets_free(targets);
    return ok;
}

static int passes_scans(const struct fh_kernel *k)
{
    struct range_answers answers;

    for (size_t i = 0; i < sizeof SCAN_CASES / sizeof SCAN_CASES[0]; i++) {
        const struct scan_case *c = &SCAN_CASES[i];
        int bitmap, few;

        compute_range(k, c, &answers);
        bitmap = scan_finds(k, c, &answers, 0, RANGE);
        if (bitmap != 1) {
            return bitmap;
        }
        few = scan_finds(k, c, &answers, RANGE - FH_FEW_TARGETS, FH_FEW_TARGETS);
        if (few != 1) {
            return few;
        }
    }
    return 1;
}

int fh_self_test(const struct fh_kernel *kernel)
{
    if (!passes_known_answers(kernel)) {
        return 0;
    }
    return passes_scans(kernel);
}
