/* Per-thread scratch buffers the optimized kernels reuse from call to call
 * (GEMM packing, im2col). Fresh multi-megabyte allocations per call would be
 * fresh mappings, and their page faults cost more than the arithmetic.
 * A buffer belongs to the calling thread, stays valid until that thread asks
 * for the same slot again, and is freed when the thread exits. */
#ifndef AMLSERVE_SCRATCH_H
#define AMLSERVE_SCRATCH_H

#include <stddef.h>

/* SCRATCH_UNALIGNED_B: slices of a misaligned weight (sgemm_unaligned.h), alive across the
 * sgemm_run that packs B into SCRATCH_PACK_B. */
enum scratch_slot { SCRATCH_PACK_A, SCRATCH_PACK_B, SCRATCH_IM2COL, SCRATCH_UNALIGNED_B, SCRATCH_SLOTS };

/* 64-byte aligned room for n floats, NULL when out of memory. */
float *scratch_floats(enum scratch_slot slot, size_t n);

#endif
