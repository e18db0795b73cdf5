/* GEMM with a B whose bytes are not aligned for float: a weight borrowed
 * from raw_data where protobuf left it in the mapped model file. Reading it
 * through a float pointer would be undefined behaviour, and copying every
 * such weight at load would cost its size in private memory in every process
 * that serves the model. Instead B is read as bytes (memcpy), a slice at a
 * time, into an aligned per-thread buffer that the ordinary kernels read:
 * each call reads B once, as the streamed (unpacked) path does anyway, and
 * holds one slice per thread. */
#ifndef AMLSERVE_SGEMM_UNALIGNED_H
#define AMLSERVE_SGEMM_UNALIGNED_H

#include "sgemm.h"

/* sgemm_run(job) with op(B)'s bytes at b_bytes (any address, row stride job->ldb floats);
 * job->b, packed_b and conv_b are not read. 0, or -1 when a thread's slice buffer cannot be
 * allocated (C is then partly written). */
int sgemm_run_unaligned_b(const struct sgemm_job *job, const void *b_bytes);
/* sgemm_pack from B's bytes at any address, through an aligned copy of B for the packing's
 * time (the packing budget bounds B's size). 0, or -1 when out of memory. */
int sgemm_pack_unaligned(struct sgemm_packed *p, int trans_b, int64_t k, int64_t n, const void *b_bytes,
                         int64_t ldb);

#endif
