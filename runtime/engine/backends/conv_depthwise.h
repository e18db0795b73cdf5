/* Depthwise 3x3 and 5x5 convolutions (MobileNet's, EfficientNet's) with K/2
 * columns of padding on the left, stride 1 or 2, on AVX-512, row by row.
 * Stride 1: a vector of 16 input pixels is loaded once and its neighbours up
 * to two columns left and right are made by shifting it against the vectors
 * beside it (valignd), never by loading across cache lines again; output rows
 * share the input rows they read (3x3: four output rows, six input rows), so
 * each input vector feeds up to K rows' sums. Stride 2: 32 input pixels split
 * into even and odd columns (vpermt2ps), shifted by one lane for the
 * neighbours further out. A channel's plane is done whole (it stays in L2),
 * threads take channels (and bands of rows when there are few channels). */
#ifndef AMLSERVE_CONV_DEPTHWISE_H
#define AMLSERVE_CONV_DEPTHWISE_H

#include "backend.h"
#include "epilogue.h"

#include <stdint.h>

/* The Conv, or BACKEND_DECLINE when it is not such a convolution (or the CPU lacks AVX-512). */
int conv_depthwise(const struct op_call *call);

struct depthwise_conv {
    const float *x;      /* [batch, c, h_in, w] */
    const float *kernel; /* [c, 1, k, k] */
    float *y;            /* [batch, c, h_out, w_out] */
    int64_t batch, c, h_in, w, h_out, w_out;
    int k;      /* 3 or 5 */
    int stride; /* 1 or 2, the same along both axes */
    /* output row r reads input rows stride·r − pad_top … stride·r − pad_top + k − 1; output column i
     * reads input columns stride·i − k/2 … stride·i + k/2 */
    int64_t pad_top;
    const struct epilogue *epi; /* bias per channel, residual, activation; NULL: none */
};

/* The convolution d describes (AVX-512 only). */
void conv_depthwise_run(const struct depthwise_conv *d);

#endif
