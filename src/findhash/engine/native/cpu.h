#ifndef FINDHASH_CPU_H
#define FINDHASH_CPU_H

/* Instruction sets the kernels may use here: supported by the CPU and enabled by the OS. */
struct fh_cpu {
    int shani;
    int avx2;
};

struct fh_cpu fh_cpu_detect(void);

#endif
