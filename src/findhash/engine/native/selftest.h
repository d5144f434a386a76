#ifndef FINDHASH_SELFTEST_H
#define FINDHASH_SELFTEST_H

#include "sha256.h"

/* Returns 1 if the kernel computes SHA-256 correctly on every path a scan uses, 0 if
 * not, and -1 when out of memory. */
int fh_self_test(const struct fh_kernel *kernel);

#endif
