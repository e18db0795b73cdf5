/* Direct 2-D convolution for stride 1 with the output as wide as the input
 * ("same" 3x3 convolutions, every 1x1), on AVX-512: no im2col and no packing
 * of the image. With the output plane flattened (row after row), tap (kh, kw)
 * of output pixel p reads input pixel p + (kh·dil_h − pad_h)·W + kw·dil_w −
 * pad_w, so a vector of 16 output pixels reads 16 consecutive input pixels;
 * lanes whose tap falls in the padding (or wraps into the next row) are masked
 * off the load. A tile of 8 output channels × 48 pixels sums in 24 registers
 * over every input channel (eight channels at a time, tap by tap, so a tap's
 * masks stay in mask registers), then gets the fused epilogue and is stored
 * once. Threads take tile ranges within a tile of each other. Undilated
 * 3x3 convolutions with enough channels and pixels go to conv_winograd.h.
 * Weights are packed at load into the order the tile reads them. Depthwise 3x3 convolutions with a
 * column of padding on the left (MobileNet's) go to conv_depthwise.h first; other depthwise ones (one
 * group per channel) use the same tiles, four channels at a time sharing each tap's masks. A 1x1 tile that
 * reads no padding loads without masks. On AVX2 and portable C everything is declined (the implicit
 * GEMM runs). */
#ifndef AMLSERVE_CONV_DIRECT_H
#define AMLSERVE_CONV_DIRECT_H

#include "backend.h"

#include <stdatomic.h>

/* At load: a Conv's constant weights packed for conv_direct into the node's cache, when it qualifies. */
void conv_direct_prepare(const struct backend_node *info, _Atomic(struct op_cache *) *cache);
/* The Conv, or BACKEND_DECLINE when it is not a case for the direct kernel on this CPU. */
int conv_direct(const struct op_call *call);

#endif
