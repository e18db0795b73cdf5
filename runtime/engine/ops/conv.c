/* Conv (1-D to 3-D, groups, pads, strides, dilations, auto_pad) as im2col
 * followed by a float32 GEMM per image and group. */
#include "ops.h"

#include <string.h>

int op_conv(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *wt = call->inputs[1], *bias = ops_input(call, 2);
    if (x->type != TENSOR_FLOAT || wt->type != TENSOR_FLOAT || (bias && bias->type != TENSOR_FLOAT))
        return ops_unsupported(call, "inputs of type %s are not supported (float32 only)", tensor_type_name(x->type));
    if (wt->rank != x->rank)
        return ops_fail(call, "weights of rank %d for an input of rank %d", wt->rank, x->rank);
    struct ops_window w;
    int rc = ops_window_init(call, &w, x, x->rank > 2 ? wt->dims + 2 : NULL);
    if (rc)
        return rc;
    size_t nks;
    const int64_t *ks = ops_attr_ints(call, "kernel_shape", &nks);
    for (size_t i = 0; ks && i < nks && (int)i < w.n_spatial; i++)
        if (ks[i] != wt->dims[2 + i])
            return ops_fail(call, "kernel_shape does not match the weights");
    int64_t group = ops_attr_int(call, "group", 1);
    int64_t batch = x->dims[0], c_in = x->dims[1], m_out = wt->dims[0];
    if (group < 1 || c_in % group || m_out % group || wt->dims[1] != c_in / group)
        return ops_fail(call, "channels (%lld in, %lld out) do not split into %lld groups of weights with %lld",
                        (long long)c_in, (long long)m_out, (long long)group, (long long)wt->dims[1]);
    if (bias && (bias->rank != 1 || bias->dims[0] != m_out))
        return ops_fail(call, "bias must have %lld elements", (long long)m_out);
    int64_t dims[TENSOR_MAX_RANK];
    dims[0] = batch;
    dims[1] = m_out;
    for (int i = 0; i < w.n_spatial; i++)
        dims[2 + i] = w.out[OPS_MAX_SPATIAL - w.n_spatial + i];
    rc = ops_alloc_output(call, 0, TENSOR_FLOAT, x->rank, dims);
    if (rc)
        return rc;
    int64_t cg = c_in / group, mg = m_out / group;
    int64_t ksize = w.kernel[0] * w.kernel[1] * w.kernel[2];
    int64_t in_size = w.in[0] * w.in[1] * w.in[2], out_size = w.out[0] * w.out[1] * w.out[2];
    int64_t rows = cg * ksize;
    if (out_size == 0 || batch == 0 || m_out == 0)
        return 0;
    if (rows > ((int64_t)1 << 40) / out_size)
        return ops_fail(call, "the convolution is too large");
    float *col = arena_alloc(call->arena, (size_t)(rows * out_size) * sizeof *col);
    if (!col)
        return ops_fail(call, "the im2col buffer does not fit in the request memory limit");
    const float *xd = x->data, *wd = wt->data;
    float *y = call->outputs[0].data;
    for (int64_t n = 0; n < batch; n++)
        for (int64_t g = 0; g < group; g++) {
            /* col[(c, kd, kh, kw), (od, oh, ow)] = padded x, or 0 outside it */
            float *cp = col;
            for (int64_t c = 0; c < cg; c++) {
                const float *xc = xd + ((n * c_in) + g * cg + c) * in_size;
                for (int64_t kd = 0; kd < w.kernel[0]; kd++)
                    for (int64_t kh = 0; kh < w.kernel[1]; kh++)
                        for (int64_t kw = 0; kw < w.kernel[2]; kw++)
                            for (int64_t od = 0; od < w.out[0]; od++) {
                                int64_t id = od * w.stride[0] - w.pad_begin[0] + kd * w.dilation[0];
                                for (int64_t oh = 0; oh < w.out[1]; oh++) {
                                    int64_t ih = oh * w.stride[1] - w.pad_begin[1] + kh * w.dilation[1];
                                    int row_ok = id >= 0 && id < w.in[0] && ih >= 0 && ih < w.in[1];
                                    const float *xr = row_ok ? xc + (id * w.in[1] + ih) * w.in[2] : xc;
                                    for (int64_t ow = 0; ow < w.out[2]; ow++) {
                                        int64_t iw = ow * w.stride[2] - w.pad_begin[2] + kw * w.dilation[2];
                                        *cp++ = row_ok && iw >= 0 && iw < w.in[2] ? xr[iw] : 0.0f;
                                    }
                                }
                            }
            }
            float *yg = y + (n * m_out + g * mg) * out_size;
            ops_gemm_f32(yg, wd + g * mg * rows, col, mg, rows, out_size);
            if (bias)
                for (int64_t m = 0; m < mg; m++) {
                    float b = ((const float *)bias->data)[g * mg + m];
                    for (int64_t i = 0; i < out_size; i++)
                        yg[m * out_size + i] += b;
                }
        }
    return 0;
}
