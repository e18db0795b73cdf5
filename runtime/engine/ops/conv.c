/* Conv (1-D to 3-D, groups, pads, strides, dilations, auto_pad) as im2col
 * followed by a float32 GEMM per image and group. */
#include "ops.h"

#include <math.h>
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

/* ConvTranspose: per image and group, col = Wᵀ · X (one column per input
 * position), then col2im adds each column's kernel window into the output. */
int op_conv_transpose(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *wt = call->inputs[1], *bias = ops_input(call, 2);
    if (x->type != TENSOR_FLOAT || wt->type != TENSOR_FLOAT || (bias && bias->type != TENSOR_FLOAT))
        return ops_unsupported(call, "inputs of type %s are not supported (float32 only)", tensor_type_name(x->type));
    int ns = x->rank - 2;
    if (ns < 1 || ns > OPS_MAX_SPATIAL || wt->rank != x->rank)
        return ops_unsupported(call, "inputs of rank %d are not supported", x->rank);
    int64_t group = ops_attr_int(call, "group", 1), c_in = x->dims[1];
    if (group < 1 || c_in % group || wt->dims[0] != c_in)
        return ops_fail(call, "weights do not match %lld input channels in %lld groups", (long long)c_in,
                        (long long)group);
    int64_t cg = c_in / group, mg = wt->dims[1], m_out = mg * group;
    if (bias && (bias->rank != 1 || bias->dims[0] != m_out))
        return ops_fail(call, "bias must have %lld elements", (long long)m_out);
    size_t nst, nd, np, nop, nos;
    const int64_t *st = ops_attr_ints(call, "strides", &nst), *dl = ops_attr_ints(call, "dilations", &nd),
                  *pd = ops_attr_ints(call, "pads", &np), *opad = ops_attr_ints(call, "output_padding", &nop),
                  *oshape = ops_attr_ints(call, "output_shape", &nos);
    if ((st && nst != (size_t)ns) || (dl && nd != (size_t)ns) || (pd && np != 2 * (size_t)ns) ||
        (opad && nop != (size_t)ns) || (oshape && nos != (size_t)ns && nos != (size_t)ns + 2))
        return ops_fail(call, "strides, dilations, pads, output_padding or output_shape do not match the rank");
    if (oshape && nos == (size_t)ns + 2)
        oshape += 2;
    const Onnx__AttributeProto *ap = ops_attr(call, "auto_pad");
    int same = ap && ap->has_s && ap->s.len == 10 && memcmp(ap->s.data, "SAME_", 5) == 0;
    int same_upper = same && memcmp(ap->s.data, "SAME_UPPER", 10) == 0;
    int64_t in[3], k[3], s[3], d[3], pb[3], out[3];
    int lead = OPS_MAX_SPATIAL - ns;
    for (int i = 0; i < OPS_MAX_SPATIAL; i++) {
        int j = i - lead;
        in[i] = j >= 0 ? x->dims[2 + j] : 1;
        k[i] = j >= 0 ? wt->dims[2 + j] : 1;
        s[i] = j >= 0 && st ? st[j] : 1;
        d[i] = j >= 0 && dl ? dl[j] : 1;
        int64_t op = j >= 0 && opad ? opad[j] : 0, p0 = j >= 0 && pd ? pd[j] : 0, p1 = j >= 0 && pd ? pd[j + ns] : 0;
        if (s[i] < 1 || d[i] < 1 || s[i] > (1 << 16) || d[i] > (1 << 16) || op < 0 || op > (1 << 16) || p0 < 0 ||
            p1 < 0 || p0 > (1 << 20) || p1 > (1 << 20) || in[i] > (1 << 24) || k[i] > (1 << 16))
            return ops_fail(call, "stride, dilation, pad or output_padding out of range");
        int64_t full = s[i] * (in[i] - 1) + op + (k[i] - 1) * d[i] + 1;
        if (oshape || same) {
            out[i] = j < 0 ? 1 : oshape ? oshape[j] : in[i] * s[i];
            int64_t total = full - out[i];
            if (total < 0)
                total = 0;
            /* An odd total puts the extra pad last for SAME_UPPER, first otherwise. */
            pb[i] = same_upper ? total / 2 : total - total / 2;
        } else {
            pb[i] = p0;
            out[i] = full - p0 - p1;
        }
        if (out[i] < 0 || out[i] > (1 << 24))
            return ops_fail(call, "output size out of range");
    }
    int64_t dims[TENSOR_MAX_RANK] = {x->dims[0], m_out};
    for (int i = 0; i < ns; i++)
        dims[2 + i] = out[lead + i];
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, x->rank, dims);
    if (rc)
        return rc;
    int64_t ksize = k[0] * k[1] * k[2], in_size = in[0] * in[1] * in[2], out_size = out[0] * out[1] * out[2];
    int64_t rows = mg * ksize;
    float *y = call->outputs[0].data;
    int64_t total = x->dims[0] * m_out * out_size;
    for (int64_t i = 0; i < total; i++)
        y[i] = bias ? ((const float *)bias->data)[i / out_size % m_out] : 0.0f;
    if (rows == 0 || in_size == 0 || cg == 0 || total == 0)
        return 0;
    if (rows > ((int64_t)1 << 40) / in_size)
        return ops_fail(call, "the convolution is too large");
    float *col = arena_alloc(call->arena, (size_t)(rows * in_size) * sizeof *col);
    float *wtr = arena_alloc(call->arena, (size_t)(rows * cg) * sizeof *wtr);
    if (!col || !wtr)
        return ops_fail(call, "the col2im buffer does not fit in the request memory limit");
    const float *xd = x->data, *wd = wt->data;
    for (int64_t n = 0; n < x->dims[0]; n++)
        for (int64_t g = 0; g < group; g++) {
            const float *wg = wd + g * cg * rows;
            for (int64_t c = 0; c < cg; c++)
                for (int64_t r = 0; r < rows; r++)
                    wtr[r * cg + c] = wg[c * rows + r];
            ops_gemm_f32(col, wtr, xd + (n * c_in + g * cg) * in_size, rows, cg, in_size);
            for (int64_t m = 0; m < mg; m++) {
                float *ym = y + (n * m_out + g * mg + m) * out_size;
                const float *cm = col + m * ksize * in_size;
                for (int64_t kd = 0; kd < k[0]; kd++)
                    for (int64_t kh = 0; kh < k[1]; kh++)
                        for (int64_t kw = 0; kw < k[2]; kw++, cm += in_size)
                            for (int64_t id = 0; id < in[0]; id++) {
                                int64_t od = id * s[0] - pb[0] + kd * d[0];
                                if (od < 0 || od >= out[0])
                                    continue;
                                for (int64_t ih = 0; ih < in[1]; ih++) {
                                    int64_t oh = ih * s[1] - pb[1] + kh * d[1];
                                    if (oh < 0 || oh >= out[1])
                                        continue;
                                    for (int64_t iw = 0; iw < in[2]; iw++) {
                                        int64_t ow = iw * s[2] - pb[2] + kw * d[2];
                                        if (ow >= 0 && ow < out[2])
                                            ym[(od * out[1] + oh) * out[2] + ow] += cm[(id * in[1] + ih) * in[2] + iw];
                                    }
                                }
                            }
            }
        }
    return 0;
}

/* Direct integer convolution shared by ConvInteger and QLinearConv:
 * acc[n, m, o] = Σ (x - x_zp) · (w - w_zp[m]) in int64. */
static int conv_integer_acc(const struct op_call *call, int64_t **out, int64_t *dims, const struct tensor *x,
                            const struct tensor *wt, const struct tensor *xzp, const struct tensor *wzp)
{
    int q8x = x->type == TENSOR_UINT8 || x->type == TENSOR_INT8,
        q8w = wt->type == TENSOR_UINT8 || wt->type == TENSOR_INT8;
    if (!q8x || !q8w || (xzp && (xzp->type != x->type || tensor_element_count(xzp) != 1)) ||
        (wzp && wzp->type != wt->type))
        return ops_unsupported(call, "only uint8/int8 operands with a scalar input zero point are supported");
    if (wt->rank != x->rank)
        return ops_fail(call, "weights of rank %d for an input of rank %d", wt->rank, x->rank);
    struct ops_window w;
    int rc = ops_window_init(call, &w, x, x->rank > 2 ? wt->dims + 2 : NULL);
    if (rc)
        return rc;
    int64_t group = ops_attr_int(call, "group", 1), batch = x->dims[0], c_in = x->dims[1], m_out = wt->dims[0];
    if (group < 1 || c_in % group || m_out % group || wt->dims[1] != c_in / group)
        return ops_fail(call, "channels do not split into %lld groups", (long long)group);
    if (wzp && tensor_element_count(wzp) != 1 && tensor_element_count(wzp) != m_out)
        return ops_fail(call, "weight zero point must be a scalar or one per output channel");
    dims[0] = batch;
    dims[1] = m_out;
    for (int i = 0; i < w.n_spatial; i++)
        dims[2 + i] = w.out[OPS_MAX_SPATIAL - w.n_spatial + i];
    int64_t out_size = w.out[0] * w.out[1] * w.out[2], in_size = w.in[0] * w.in[1] * w.in[2];
    int64_t cg = c_in / group, mg = m_out / group;
    int64_t *acc = arena_alloc(call->arena, (size_t)(batch * m_out * out_size) * sizeof *acc + 1);
    if (!acc)
        return ops_fail(call, "out of request memory");
    double xz = xzp ? ops_load(xzp->type, xzp->data, 0) : 0;
    int64_t o = 0;
    for (int64_t n = 0; n < batch; n++)
        for (int64_t m = 0; m < m_out; m++) {
            int64_t g = m / mg;
            double wz = wzp ? ops_load(wzp->type, wzp->data, tensor_element_count(wzp) == 1 ? 0 : m) : 0;
            for (int64_t od = 0; od < w.out[0]; od++)
                for (int64_t oh = 0; oh < w.out[1]; oh++)
                    for (int64_t ow = 0; ow < w.out[2]; ow++, o++) {
                        int64_t s = 0;
                        for (int64_t c = 0; c < cg; c++)
                            for (int64_t kd = 0; kd < w.kernel[0]; kd++)
                                for (int64_t kh = 0; kh < w.kernel[1]; kh++)
                                    for (int64_t kw = 0; kw < w.kernel[2]; kw++) {
                                        int64_t id = od * w.stride[0] - w.pad_begin[0] + kd * w.dilation[0];
                                        int64_t ih = oh * w.stride[1] - w.pad_begin[1] + kh * w.dilation[1];
                                        int64_t iw = ow * w.stride[2] - w.pad_begin[2] + kw * w.dilation[2];
                                        /* padding holds the zero point, so it contributes nothing */
                                        if (id < 0 || id >= w.in[0] || ih < 0 || ih >= w.in[1] || iw < 0 ||
                                            iw >= w.in[2])
                                            continue;
                                        double xv = ops_load(x->type, x->data,
                                                             (n * c_in + g * cg + c) * in_size +
                                                                 (id * w.in[1] + ih) * w.in[2] + iw);
                                        double wv =
                                            ops_load(wt->type, wt->data,
                                                     ((m * cg + c) * w.kernel[0] + kd) * w.kernel[1] * w.kernel[2] +
                                                         kh * w.kernel[2] + kw);
                                        s += (int64_t)(xv - xz) * (int64_t)(wv - wz);
                                    }
                        acc[o] = s;
                    }
        }
    *out = acc;
    return 0;
}

int op_conv_integer(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    int64_t *acc, dims[TENSOR_MAX_RANK];
    int rc = conv_integer_acc(call, &acc, dims, x, call->inputs[1], ops_input(call, 2), ops_input(call, 3));
    if (!rc)
        rc = ops_alloc_output(call, 0, TENSOR_INT32, x->rank, dims);
    if (rc)
        return rc;
    int64_t n = tensor_element_count(&call->outputs[0]);
    for (int64_t i = 0; i < n; i++)
        ((int32_t *)call->outputs[0].data)[i] = (int32_t)acc[i];
    return 0;
}

/* QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B?) */
int op_qlinear_conv(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *xs = call->inputs[1], *wt = call->inputs[3], *ws = call->inputs[4];
    const struct tensor *ys = call->inputs[6], *yzp = call->inputs[7], *bias = ops_input(call, 8);
    if (xs->type != TENSOR_FLOAT || ws->type != TENSOR_FLOAT || ys->type != TENSOR_FLOAT ||
        tensor_element_count(xs) != 1 || tensor_element_count(ys) != 1 || tensor_element_count(yzp) != 1 ||
        (yzp->type != TENSOR_UINT8 && yzp->type != TENSOR_INT8) || (bias && bias->type != TENSOR_INT32))
        return ops_unsupported(call, "only float scales and uint8/int8 zero points are supported");
    int64_t *acc, dims[TENSOR_MAX_RANK];
    int rc = conv_integer_acc(call, &acc, dims, x, wt, call->inputs[2], call->inputs[5]);
    if (rc)
        return rc;
    int64_t m_out = dims[1];
    if ((tensor_element_count(ws) != 1 && tensor_element_count(ws) != m_out) ||
        (bias && tensor_element_count(bias) != m_out))
        return ops_fail(call, "w_scale and B must be scalars or one per output channel");
    rc = ops_alloc_output(call, 0, yzp->type, x->rank, dims);
    if (rc)
        return rc;
    int64_t n = tensor_element_count(&call->outputs[0]), plane = 1;
    for (int i = 2; i < x->rank; i++)
        plane *= dims[i];
    double lo = yzp->type == TENSOR_INT8 ? -128 : 0, hi = yzp->type == TENSOR_INT8 ? 127 : 255;
    double z = ops_load(yzp->type, yzp->data, 0);
    for (int64_t i = 0; i < n; i++) {
        int64_t m = plane ? i / plane % m_out : 0;
        double wsc = ((const float *)ws->data)[tensor_element_count(ws) == 1 ? 0 : m];
        double v = (double)(acc[i] + (bias ? ((const int32_t *)bias->data)[m] : 0));
        double q = nearbyint(v * ((const float *)xs->data)[0] * wsc / ((const float *)ys->data)[0]) + z;
        ops_store(yzp->type, call->outputs[0].data, i, q < lo ? lo : q > hi ? hi : q);
    }
    return 0;
}
