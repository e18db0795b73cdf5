/* Depthwise 3x3 convolution (MobileNet's) with a column of padding on the
 * left, stride 1 or 2, on AVX-512, row by row. Stride 1: a vector of 16 input
 * pixels is loaded once and its neighbours one column left and right are made
 * by shifting it against the vectors beside it (valignd), never by loading
 * across cache lines again; four output rows share the six input rows they
 * read, so each input vector feeds up to three rows' sums. Stride 2: 32 input
 * pixels split into even and odd columns (vpermt2ps), the odd ones shifted
 * for the left neighbours; two output rows share five input rows. A
 * channel's plane is done whole (it stays in L2), threads take channels (and
 * bands of rows when there are few channels). */
#ifndef AMLSERVE_CONV_DEPTHWISE_H
#define AMLSERVE_CONV_DEPTHWISE_H

#include "backend.h"
#include "epilogue.h"

#include <stdint.h>

/* The Conv, or BACKEND_DECLINE when it is not such a convolution (or the CPU lacks AVX-512). */
int conv_depthwise(const struct op_call *call);

struct depthwise3 {
    const float *x;      /* [batch, c, h_in, w] */
    const float *kernel; /* [c, 1, 3, 3] */
    float *y;            /* [batch, c, h_out, w_out] */
    int64_t batch, c, h_in, w, h_out, w_out;
    int stride;                 /* 1 or 2, the same along both axes */
    int64_t pad_top;            /* output row r reads input rows stride·r − pad_top … stride·r − pad_top + 2;
                      * output column i reads input columns stride·i − 1 … stride·i + 1 */
    const struct epilogue *epi; /* bias per channel, residual, activation; NULL: none */
};

/* The convolution d describes (AVX-512 only). */
void conv_depthwise3(const struct depthwise3 *d);

#endif
