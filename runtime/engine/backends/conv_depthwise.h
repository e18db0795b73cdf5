/* Depthwise 3x3 convolution (MobileNet's), stride 1, output as wide as the
 * input, on AVX-512, row by row: a vector of 16 input pixels is loaded once
 * and its neighbours one column left and right are made by shifting it
 * against the vectors beside it (valignd), never by loading across cache
 * lines again; four output rows share the six input rows they read, so each
 * input vector feeds up to three rows' sums. A channel's plane is done whole
 * (it stays in L2), threads take channels (and bands of rows when there are
 * few channels). */
#ifndef AMLSERVE_CONV_DEPTHWISE_H
#define AMLSERVE_CONV_DEPTHWISE_H

#include "epilogue.h"

#include <stdint.h>

struct depthwise3 {
    const float *x;      /* [batch, c, h_in, w] */
    const float *kernel; /* [c, 1, 3, 3] */
    float *y;            /* [batch, c, h_out, w] */
    int64_t batch, c, h_in, w, h_out;
    int64_t pad_top;            /* output row r reads input rows r − pad_top … r − pad_top + 2 */
    const struct epilogue *epi; /* bias per channel, residual, activation; NULL: none */
};

/* Only on a CPU with AVX-512 (conv_direct.c checks before it calls). */
void conv_depthwise3(const struct depthwise3 *d);

#endif
