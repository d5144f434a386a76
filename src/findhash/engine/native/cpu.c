/*
 * Which instruction sets this CPU and operating system let the kernels use.
 */
#include "cpu.h"

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))

#include <cpuid.h>
#include <stdint.h>

enum {
    LEAF1_ECX_SSSE3 = 1u << 9,
    LEAF1_ECX_SSE41 = 1u << 19,
    LEAF1_ECX_OSXSAVE = 1u << 27,
    LEAF1_ECX_AVX = 1u << 28,
    LEAF7_EBX_AVX2 = 1u << 5,
    LEAF7_EBX_SHA = 1u << 29,
    XCR0_SSE_AND_AVX_STATE = 0x6,
};

/* Read with the raw instruction, since not every compiler that targets x86 has _xgetbv. */
static uint64_t read_xcr0(void)
{
    uint32_t eax, edx;

    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

struct fh_cpu fh_cpu_detect(void)
{
    struct fh_cpu cpu = {0, 0};
    unsigned int eax, ebx, ecx, edx, ecx1;

    if (!__get_cpuid(1, &eax, &ebx, &ecx1, &edx)) {
        return cpu;
    }
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) {
        return cpu;
    }
    cpu.shani = (ebx & LEAF7_EBX_SHA) && (ecx1 & LEAF1_ECX_SSE41) && (ecx1 & LEAF1_ECX_SSSE3);

    /* AVX2 also needs the operating system to save the YMM registers on a context switch. */
    if ((ebx & LEAF7_EBX_AVX2) && (ecx1 & LEAF1_ECX_AVX) && (ecx1 & LEAF1_ECX_OSXSAVE)) {
        cpu.avx2 = (read_xcr0() & XCR0_SSE_AND_AVX_STATE) == XCR0_SSE_AND_AVX_STATE;
    }
    return cpu;
}

#else

struct fh_cpu fh_cpu_detect(void)
{
    struct fh_cpu cpu = {0, 0};

    return cpu;
}

#endif
