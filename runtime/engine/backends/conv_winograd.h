/* Winograd F(2x2, 3x3) convolution on AVX-512, for conv_direct's 3x3,
 * stride-1, undilated, ungrouped cases with enough channels: each 2x2 block of
 * output pixels comes from a 4x4 block of input through 16 products instead of
 * 36, so the multiply-adds drop 2.25-fold. Input blocks are transformed (B^T d B)
 * for a band of up to 48 block positions and every input channel, kept in L2;
 * then, per 8 output channels, 16 small GEMMs (one per point of the 4x4
 * transform, weights transformed at load: G g G^T) leave their sums in L1, and
 * the output transform (A^T m A) adds bias and residual, applies the
 * activation and stores. */
#ifndef AMLSERVE_CONV_WINOGRAD_H
#define AMLSERVE_CONV_WINOGRAD_H

#include "epilogue.h"

#include <stddef.h>
#include <stdint.h>

struct winograd_conv {
    const float *x;             /* [batch, c, h_in, w_in] */
    const float *u;             /* weights transformed by conv_winograd_weights */
    float *y;                   /* [batch, m, h_out, w_out] */
    const struct epilogue *epi; /* bias per output channel, residual, Relu/LeakyRelu/Clip; NULL: none */
    int64_t batch, c, m, h_in, w_in, h_out, w_out, pad_top, pad_left;
    float *scratch; /* set by conv_winograd_reserve */
    int64_t tasks;
};

/* Whether c input and m output channels suit the transform (whatever the plane). */
int conv_winograd_channels_fit(int64_t c, int64_t m);
/* Whether the transform pays for a 3x3 convolution of c input and m output channels to an
 * h_out x w_out plane whose epilogue (NULL: none) is applied in registers. */
int conv_winograd_fits(int64_t c, int64_t m, int64_t h_out, int64_t w_out, const struct epilogue *epi);
/* Floats the transformed weights of m x c 3x3 kernels take. */
size_t conv_winograd_weights_floats(int64_t m, int64_t c);
/* w [m, c, 3, 3] transformed (G g G^T) into dst, in the order the GEMMs read them. */
void conv_winograd_weights(float *dst, const float *w, int64_t m, int64_t c);
/* Room for the transformed input of every task (the calling thread's scratch), before the output
 * is allocated: 0, or -1 when out of memory. */
int conv_winograd_reserve(struct winograd_conv *conv);
/* The convolution, on the thread pool. */
void conv_winograd_run(const struct winograd_conv *conv);

#endif
