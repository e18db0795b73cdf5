/* Resize (opset 10+) and Upsample: nearest, linear and cubic interpolation in
 * any number of dimensions, each output coordinate mapped back through the
 * coordinate_transformation_mode. Interpolation is separable, so each output
 * coordinate of each axis gets up to four (index, weight) taps, computed once. */
#include "ops.h"

#include <math.h>
#include <string.h>

#define MAX_TAPS 4

enum coord_mode { C_HALF_PIXEL, C_PYTORCH_HALF_PIXEL, C_ALIGN_CORNERS, C_ASYMMETRIC, C_TF_CROP, C_TF_HALF_PIXEL_NN };
enum interp { I_NEAREST, I_LINEAR, I_CUBIC };
enum nearest { N_ROUND_PREFER_FLOOR, N_ROUND_PREFER_CEIL, N_FLOOR, N_CEIL };

struct axis_taps {
    int n;            /* taps per output coordinate */
    int64_t *index;   /* [out_len * MAX_TAPS] */
    float *weight;    /* [out_len * MAX_TAPS] */
    uint8_t *outside; /* [out_len]: tf_crop_and_resize extrapolates there */
};

static int attr_is(const struct op_call *call, const char *name, const char *value)
{
    const Onnx__AttributeProto *a = ops_attr(call, name);
    return a && a->has_s && a->s.len == strlen(value) && memcmp(a->s.data, value, a->s.len) == 0;
}

static void cubic_weights(float *w, double t, double a)
{
    /* Keys' cubic convolution kernel at distances 1+t, t, 1-t, 2-t. */
    double x[4] = {1 + t, t, 1 - t, 2 - t};
    for (int i = 0; i < 4; i++) {
        double d = fabs(x[i]);
        w[i] = (float)(d <= 1  ? ((a + 2) * d - (a + 3)) * d * d + 1
                       : d < 2 ? ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
                               : 0);
    }
}

static int64_t clamp_index(int64_t i, int64_t len)
{
    return i < 0 ? 0 : i >= len ? len - 1 : i;
}

/* resized_len is in_len·scale unrounded when scales are given: the
 * coordinate transforms use it, not the integer output length. */
static int build_taps(const struct op_call *call, struct axis_taps *t, int64_t in_len, int64_t out_len,
                      double resized_len, double scale, enum coord_mode cm, enum interp mode, enum nearest nm,
                      double roi_start, double roi_end, double cubic_a, int exclude_outside)
{
    t->n = mode == I_NEAREST ? 1 : mode == I_LINEAR ? 2 : 4;
    t->index = arena_alloc(call->arena, (size_t)(out_len * MAX_TAPS) * sizeof *t->index + 1);
    t->weight = arena_alloc(call->arena, (size_t)(out_len * MAX_TAPS) * sizeof *t->weight + 1);
    t->outside = arena_alloc(call->arena, (size_t)out_len + 1);
    if (!t->index || !t->weight || !t->outside)
        return ops_fail(call, "out of request memory");
    for (int64_t o = 0; o < out_len; o++) {
        double x;
        switch (cm) {
        case C_HALF_PIXEL: x = (o + 0.5) / scale - 0.5; break;
        case C_PYTORCH_HALF_PIXEL: x = resized_len > 1 ? (o + 0.5) / scale - 0.5 : 0; break;
        case C_ALIGN_CORNERS: x = resized_len > 1 ? (double)o * (double)(in_len - 1) / (resized_len - 1) : 0; break;
        case C_TF_HALF_PIXEL_NN: x = (o + 0.5) / scale; break;
        case C_TF_CROP:
            x = resized_len > 1 ? roi_start * (double)(in_len - 1) +
                                      (double)o * (roi_end - roi_start) * (double)(in_len - 1) / (resized_len - 1)
                                : 0.5 * (roi_start + roi_end) * (double)(in_len - 1);
            break;
        default: x = o / scale; break;
        }
        t->outside[o] = cm == C_TF_CROP && (x < 0 || x > (double)(in_len - 1));
        int64_t *idx = t->index + o * MAX_TAPS;
        float *w = t->weight + o * MAX_TAPS;
        if (!isfinite(x))
            x = 0;
        if (mode == I_NEAREST) {
            double r;
            switch (nm) {
            case N_FLOOR: r = floor(x); break;
            case N_CEIL: r = ceil(x); break;
            case N_ROUND_PREFER_CEIL: r = floor(x + 0.5); break;
            default: r = x == floor(x) + 0.5 ? floor(x) : floor(x + 0.5); break;
            }
            idx[0] = clamp_index(r < -1e18 ? -1 : r > 1e18 ? in_len : (int64_t)r, in_len);
            w[0] = 1;
            continue;
        }
        double fx = floor(x);
        int64_t x0 = fx < -1e18 ? -1 : fx > 1e18 ? in_len : (int64_t)fx;
        double frac = x - fx;
        if (mode == I_LINEAR) {
            idx[0] = clamp_index(x0, in_len);
            idx[1] = clamp_index(x0 + 1, in_len);
            w[0] = (float)(1 - frac);
            w[1] = (float)frac;
            continue;
        }
        cubic_weights(w, frac, cubic_a);
        double sum = 0;
        for (int k = 0; k < 4; k++) {
            int64_t i = x0 - 1 + k;
            if (exclude_outside && (i < 0 || i >= in_len))
                w[k] = 0;
            sum += w[k];
            idx[k] = clamp_index(i, in_len);
        }
        if (exclude_outside && sum != 0)
            for (int k = 0; k < 4; k++)
                w[k] = (float)(w[k] / sum);
    }
    return 0;
}

static int resize_common(const struct op_call *call, const struct tensor *x, const struct tensor *roi,
                         const double *scales, const int64_t *sizes, enum coord_mode cm, enum interp mode,
                         enum nearest nm)
{
    if (x->type != TENSOR_FLOAT)
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    int rank = x->rank;
    int64_t dims[TENSOR_MAX_RANK];
    double sc[TENSOR_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        if (sizes) {
            dims[i] = sizes[i];
            sc[i] = x->dims[i] ? (double)sizes[i] / (double)x->dims[i] : 1;
        } else {
            sc[i] = scales[i];
            double d = floor((double)x->dims[i] * scales[i]);
            if (!(scales[i] > 0) || d > (double)(1 << 30))
                return ops_fail(call, "scale %g is out of range", scales[i]);
            dims[i] = (int64_t)d;
        }
        if (dims[i] < 0 || dims[i] > (1 << 30))
            return ops_fail(call, "output size out of range");
        if (dims[i] && !x->dims[i])
            return ops_fail(call, "cannot resize an empty dimension");
    }
    double roi_v[2 * TENSOR_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        roi_v[i] = 0;
        roi_v[i + rank] = 1;
    }
    if (cm == C_TF_CROP) {
        if (!roi || tensor_element_count(roi) != 2 * rank || (roi->type != TENSOR_FLOAT && roi->type != TENSOR_DOUBLE))
            return ops_fail(call, "tf_crop_and_resize needs roi with %d values", 2 * rank);
        for (int i = 0; i < 2 * rank; i++)
            roi_v[i] = ops_load(roi->type, roi->data, i);
    }
    int rc = ops_alloc_output(call, 0, x->type, rank, dims);
    if (rc)
        return rc;
    double cubic_a = ops_attr_float(call, "cubic_coeff_a", -0.75f);
    int exclude = ops_attr_int(call, "exclude_outside", 0) != 0;
    float extrapolation = ops_attr_float(call, "extrapolation_value", 0.0f);
    struct axis_taps taps[TENSOR_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        double resized = sizes ? (double)sizes[i] : (double)x->dims[i] * sc[i];
        rc = build_taps(call, &taps[i], x->dims[i], dims[i], resized, sc[i], cm, mode, nm, roi_v[i], roi_v[i + rank],
                        cubic_a, exclude);
        if (rc)
            return rc;
    }
    int64_t in_strides[TENSOR_MAX_RANK], s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        in_strides[i] = s;
        s *= x->dims[i];
    }
    int64_t total = tensor_element_count(&call->outputs[0]), pos[TENSOR_MAX_RANK] = {0};
    const float *in = x->data;
    float *y = call->outputs[0].data;
    for (int64_t o = 0; o < total; o++) {
        int outside = 0;
        for (int d = 0; d < rank; d++)
            outside |= taps[d].outside[pos[d]];
        double acc = 0;
        if (!outside) {
            /* Walk every combination of taps across axes, skipping zero weights. */
            int k[TENSOR_MAX_RANK] = {0};
            for (;;) {
                double w = 1;
                int64_t off = 0;
                for (int d = 0; d < rank && w != 0; d++) {
                    w *= taps[d].weight[pos[d] * MAX_TAPS + k[d]];
                    off += taps[d].index[pos[d] * MAX_TAPS + k[d]] * in_strides[d];
                }
                if (w != 0)
                    acc += w * in[off];
                int d = rank - 1;
                for (; d >= 0; d--) {
                    if (++k[d] < taps[d].n)
                        break;
                    k[d] = 0;
                }
                if (d < 0)
                    break;
            }
        }
        y[o] = outside ? extrapolation : (float)acc;
        for (int d = rank - 1; d >= 0; d--) {
            if (++pos[d] < dims[d])
                break;
            pos[d] = 0;
        }
    }
    return 0;
}

static int read_mode(const struct op_call *call, enum interp *mode)
{
    *mode = I_NEAREST;
    if (!ops_attr(call, "mode") || attr_is(call, "mode", "nearest"))
        return 0;
    if (attr_is(call, "mode", "linear") || attr_is(call, "mode", "bilinear"))
        *mode = I_LINEAR;
    else if (attr_is(call, "mode", "cubic"))
        *mode = I_CUBIC;
    else
        return ops_fail(call, "unknown mode");
    return 0;
}

int op_resize(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    enum interp mode;
    int rc = read_mode(call, &mode);
    if (rc)
        return rc;
    if (ops_attr(call, "axes") || ops_attr(call, "keep_aspect_ratio_policy"))
        return ops_unsupported(call, "axes and keep_aspect_ratio_policy are not supported");
    enum coord_mode cm = C_HALF_PIXEL;
    static const struct {
        const char *name;
        enum coord_mode mode;
    } coords[] = {
        {"half_pixel", C_HALF_PIXEL},       {"pytorch_half_pixel", C_PYTORCH_HALF_PIXEL},
        {"align_corners", C_ALIGN_CORNERS}, {"asymmetric", C_ASYMMETRIC},
        {"tf_crop_and_resize", C_TF_CROP},  {"tf_half_pixel_for_nn", C_TF_HALF_PIXEL_NN},
    };
    const Onnx__AttributeProto *ca = ops_attr(call, "coordinate_transformation_mode");
    if (call->opset == 10)
        cm = C_ASYMMETRIC;
    if (ca) {
        size_t i = 0;
        for (; i < sizeof coords / sizeof coords[0]; i++)
            if (attr_is(call, "coordinate_transformation_mode", coords[i].name))
                break;
        if (i == sizeof coords / sizeof coords[0])
            return ops_unsupported(call, "coordinate_transformation_mode is not supported");
        cm = coords[i].mode;
    }
    enum nearest nm = call->opset == 10 ? N_FLOOR : N_ROUND_PREFER_FLOOR;
    if (attr_is(call, "nearest_mode", "round_prefer_ceil"))
        nm = N_ROUND_PREFER_CEIL;
    else if (attr_is(call, "nearest_mode", "floor"))
        nm = N_FLOOR;
    else if (attr_is(call, "nearest_mode", "ceil"))
        nm = N_CEIL;
    /* Opset 10: (X, scales). Later: (X, roi, scales, sizes), with scales or sizes. */
    const struct tensor *roi = call->opset == 10 ? NULL : ops_input(call, 1);
    const struct tensor *scales_t = call->opset == 10 ? ops_input(call, 1) : ops_input(call, 2);
    const struct tensor *sizes_t = call->opset == 10 ? NULL : ops_input(call, 3);
    if (scales_t && tensor_element_count(scales_t) == 0)
        scales_t = NULL;
    double scales[TENSOR_MAX_RANK];
    int64_t sizes[TENSOR_MAX_RANK];
    if (sizes_t) {
        int n;
        rc = ops_read_ints(call, sizes_t, sizes, TENSOR_MAX_RANK, &n);
        if (rc)
            return rc;
        if (n != x->rank)
            return ops_fail(call, "sizes has %d values for rank %d", n, x->rank);
        return resize_common(call, x, roi, NULL, sizes, cm, mode, nm);
    }
    if (!scales_t || tensor_element_count(scales_t) != x->rank || scales_t->type != TENSOR_FLOAT)
        return ops_fail(call, "needs float scales with one value per dimension, or sizes");
    for (int i = 0; i < x->rank; i++)
        scales[i] = ((const float *)scales_t->data)[i];
    return resize_common(call, x, roi, scales, NULL, cm, mode, nm);
}

int op_upsample(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *scales_t = ops_input(call, 1);
    enum interp mode;
    int rc = read_mode(call, &mode);
    if (rc)
        return rc;
    if (mode == I_CUBIC)
        return ops_fail(call, "cubic is not an Upsample mode");
    double scales[TENSOR_MAX_RANK];
    if (scales_t) {
        if (tensor_element_count(scales_t) != x->rank || scales_t->type != TENSOR_FLOAT)
            return ops_fail(call, "scales must hold one float per dimension");
        for (int i = 0; i < x->rank; i++)
            scales[i] = ((const float *)scales_t->data)[i];
    } else {
        const Onnx__AttributeProto *a = ops_attr(call, "scales");
        if (!a || a->n_floats != (size_t)x->rank)
            return ops_fail(call, "scales must hold one float per dimension");
        for (int i = 0; i < x->rank; i++)
            scales[i] = a->floats[i];
    }
    return resize_common(call, x, NULL, scales, NULL, C_ASYMMETRIC, mode, N_FLOOR);
}

/* GridSample (4-D): samples X at the normalized (x, y) positions of grid. */
static double reflect_coord(double v, double twice_lo, double twice_hi)
{
    if (twice_lo == twice_hi)
        return 0;
    double lo = twice_lo / 2, span = (twice_hi - twice_lo) / 2;
    v = fabs(v - lo);
    double extra = fmod(v, span), flips = floor(v / span);
    return fmod(flips, 2) == 0 ? extra + lo : span - extra + lo;
}

enum grid_pad { G_ZEROS, G_BORDER, G_REFLECTION };

/* Applies border or reflection padding to a source coordinate. */
static double pad_coord(double v, int64_t size, enum grid_pad pad, int align)
{
    if (pad == G_BORDER)
        return v < 0 ? 0 : v > (double)(size - 1) ? (double)(size - 1) : v;
    if (pad == G_REFLECTION) {
        v = align ? reflect_coord(v, 0, 2.0 * (double)(size - 1)) : reflect_coord(v, -1, 2.0 * (double)size - 1);
        return v < 0 ? 0 : v > (double)(size - 1) ? (double)(size - 1) : v;
    }
    return v;
}

static double pixel(const float *plane, int64_t h, int64_t w, double y, double x, enum grid_pad pad, int align)
{
    /* bicubic taps are padded one by one; other modes pass in-range or out-of-range integers */
    if (pad != G_ZEROS) {
        x = pad_coord(x, w, pad, align);
        y = pad_coord(y, h, pad, align);
    }
    if (!(x >= 0 && x < (double)w && y >= 0 && y < (double)h))
        return 0;
    return plane[(int64_t)y * w + (int64_t)x];
}

int op_grid_sample(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *grid = call->inputs[1];
    if (x->type != TENSOR_FLOAT || grid->type != TENSOR_FLOAT)
        return ops_unsupported(call, "only float32 is supported");
    if (x->rank != 4 || grid->rank != 4 || grid->dims[0] != x->dims[0] || grid->dims[3] != 2)
        return ops_unsupported(call, "only 4-D X with an [N, H, W, 2] grid is supported");
    int align = ops_attr_int(call, "align_corners", 0) != 0;
    enum interp mode = I_LINEAR;
    if (attr_is(call, "mode", "nearest"))
        mode = I_NEAREST;
    else if (attr_is(call, "mode", "bicubic") || attr_is(call, "mode", "cubic"))
        mode = I_CUBIC;
    else if (ops_attr(call, "mode") && !attr_is(call, "mode", "bilinear") && !attr_is(call, "mode", "linear"))
        return ops_fail(call, "unknown mode");
    enum grid_pad pad = G_ZEROS;
    if (attr_is(call, "padding_mode", "border"))
        pad = G_BORDER;
    else if (attr_is(call, "padding_mode", "reflection"))
        pad = G_REFLECTION;
    else if (ops_attr(call, "padding_mode") && !attr_is(call, "padding_mode", "zeros"))
        return ops_fail(call, "unknown padding_mode");
    int64_t n = x->dims[0], c = x->dims[1], h = x->dims[2], w = x->dims[3], oh = grid->dims[1], ow = grid->dims[2];
    int64_t dims[4] = {n, c, oh, ow};
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, 4, dims);
    if (rc)
        return rc;
    const float *g = grid->data, *in = x->data;
    float *y = call->outputs[0].data;
    for (int64_t b = 0; b < n; b++)
        for (int64_t i = 0; i < oh * ow; i++) {
            double gx = g[(b * oh * ow + i) * 2], gy = g[(b * oh * ow + i) * 2 + 1];
            double sx = align ? (gx + 1) / 2 * (double)(w - 1) : ((gx + 1) * (double)w - 1) / 2;
            double sy = align ? (gy + 1) / 2 * (double)(h - 1) : ((gy + 1) * (double)h - 1) / 2;
            if (!isfinite(sx) || !isfinite(sy) || fabs(sx) > 1e9 || fabs(sy) > 1e9)
                sx = sy = -2;
            if (mode != I_CUBIC) {
                sx = pad_coord(sx, w, pad, align);
                sy = pad_coord(sy, h, pad, align);
            }
            for (int64_t ch = 0; ch < c; ch++) {
                const float *plane = in + (b * c + ch) * h * w;
                double v = 0;
                if (mode == I_NEAREST)
                    v = pixel(plane, h, w, nearbyint(sy), nearbyint(sx), G_ZEROS, align);
                else if (mode == I_LINEAR) {
                    double x0 = floor(sx), y0 = floor(sy), fx = sx - x0, fy = sy - y0;
                    v = pixel(plane, h, w, y0, x0, G_ZEROS, align) * (1 - fx) * (1 - fy) +
                        pixel(plane, h, w, y0, x0 + 1, G_ZEROS, align) * fx * (1 - fy) +
                        pixel(plane, h, w, y0 + 1, x0, G_ZEROS, align) * (1 - fx) * fy +
                        pixel(plane, h, w, y0 + 1, x0 + 1, G_ZEROS, align) * fx * fy;
                } else {
                    double x0 = floor(sx), y0 = floor(sy);
                    float wx[4], wy[4];
                    cubic_weights(wx, sx - x0, -0.75);
                    cubic_weights(wy, sy - y0, -0.75);
                    for (int ky = 0; ky < 4; ky++)
                        for (int kx = 0; kx < 4; kx++)
                            v += wy[ky] * wx[kx] * pixel(plane, h, w, y0 - 1 + ky, x0 - 1 + kx, pad, align);
                }
                y[((b * c + ch) * oh * ow) + i] = (float)v;
            }
        }
    return 0;
}

/* Bilinear sample for RoiAlign: points up to one pixel outside the image clamp
 * to the edge, farther ones contribute nothing. Returns the four weighted taps. */
static int roi_taps(double y, double x, int64_t h, int64_t w, int64_t *pos, double *wt)
{
    if (y < -1.0 || y > (double)h || x < -1.0 || x > (double)w)
        return 0;
    y = y < 0 ? 0 : y;
    x = x < 0 ? 0 : x;
    int64_t y0 = (int64_t)y, x0 = (int64_t)x, y1, x1;
    if (y0 >= h - 1) {
        y0 = y1 = h - 1;
        y = (double)y0;
    } else
        y1 = y0 + 1;
    if (x0 >= w - 1) {
        x0 = x1 = w - 1;
        x = (double)x0;
    } else
        x1 = x0 + 1;
    double ly = y - (double)y0, lx = x - (double)x0, hy = 1 - ly, hx = 1 - lx;
    pos[0] = y0 * w + x0, pos[1] = y0 * w + x1, pos[2] = y1 * w + x0, pos[3] = y1 * w + x1;
    wt[0] = hy * hx, wt[1] = hy * lx, wt[2] = ly * hx, wt[3] = ly * lx;
    return 1;
}

int op_roi_align(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *rois = call->inputs[1], *bidx = call->inputs[2];
    if (x->type != TENSOR_FLOAT || rois->type != TENSOR_FLOAT || x->rank != 4)
        return ops_unsupported(call, "only 4-D float32 input is supported");
    if (rois->rank != 2 || rois->dims[1] != 4 || (bidx->type != TENSOR_INT64 && bidx->type != TENSOR_INT32) ||
        tensor_element_count(bidx) != rois->dims[0])
        return ops_fail(call, "rois must be [n, 4] with one batch index each");
    int half_pixel = !attr_is(call, "coordinate_transformation_mode", "output_half_pixel");
    if (call->opset && call->opset < 16 && !ops_attr(call, "coordinate_transformation_mode"))
        half_pixel = 0;
    int is_max = attr_is(call, "mode", "max");
    int64_t oh = ops_attr_int(call, "output_height", 1), ow = ops_attr_int(call, "output_width", 1);
    int64_t ratio = ops_attr_int(call, "sampling_ratio", 0);
    float scale = ops_attr_float(call, "spatial_scale", 1.0f);
    if (oh < 1 || ow < 1 || oh > (1 << 16) || ow > (1 << 16) || ratio < 0 || ratio > (1 << 10))
        return ops_fail(call, "output size or sampling_ratio out of range");
    int64_t n_rois = rois->dims[0], c = x->dims[1], h = x->dims[2], w = x->dims[3];
    int64_t dims[4] = {n_rois, c, oh, ow};
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, 4, dims);
    if (rc)
        return rc;
    const float *r = rois->data, *in = x->data;
    float *y = call->outputs[0].data;
    if (h == 0 || w == 0) { /* nothing to sample from */
        memset(y, 0, (size_t)tensor_element_count(&call->outputs[0]) * sizeof *y);
        return 0;
    }
    double offset = half_pixel ? 0.5 : 0;
    for (int64_t n = 0; n < n_rois; n++) {
        int64_t b = (int64_t)ops_load(bidx->type, bidx->data, n);
        if (b < 0 || b >= x->dims[0])
            return ops_fail(call, "batch index %lld is out of range", (long long)b);
        double x0 = r[n * 4] * scale - offset, y0 = r[n * 4 + 1] * scale - offset;
        double rw = r[n * 4 + 2] * scale - offset - x0, rh = r[n * 4 + 3] * scale - offset - y0;
        if (!half_pixel) {
            rw = rw > 1 ? rw : 1;
            rh = rh > 1 ? rh : 1;
        }
        double bin_h = rh / (double)oh, bin_w = rw / (double)ow;
        double gh_d = ratio ? (double)ratio : ceil(rh / (double)oh),
               gw_d = ratio ? (double)ratio : ceil(rw / (double)ow);
        if (!(gh_d >= 0 && gh_d <= 1024 && gw_d >= 0 && gw_d <= 1024))
            return ops_fail(call, "roi %lld is too large to sample", (long long)n);
        int64_t gh = (int64_t)gh_d, gw = (int64_t)gw_d, count = gh * gw > 0 ? gh * gw : 1;
        for (int64_t ch = 0; ch < c; ch++) {
            const float *plane = in + (b * c + ch) * h * w;
            for (int64_t ph = 0; ph < oh; ph++)
                for (int64_t pw = 0; pw < ow; pw++) {
                    double acc = 0;
                    int first = 1;
                    for (int64_t iy = 0; iy < gh; iy++)
                        for (int64_t ix = 0; ix < gw; ix++) {
                            double sy = y0 + (double)ph * bin_h + ((double)iy + 0.5) * bin_h / (double)gh;
                            double sx = x0 + (double)pw * bin_w + ((double)ix + 0.5) * bin_w / (double)gw;
                            int64_t pos[4];
                            double wt[4];
                            if (!roi_taps(sy, sx, h, w, pos, wt)) {
                                if (is_max && first)
                                    acc = 0, first = 0;
                                continue;
                            }
                            if (is_max) {
                                for (int k = 0; k < 4; k++) {
                                    double v = wt[k] * plane[pos[k]];
                                    acc = first || v > acc ? v : acc;
                                    first = 0;
                                }
                            } else
                                for (int k = 0; k < 4; k++)
                                    acc += wt[k] * plane[pos[k]];
                        }
                    y[((n * c + ch) * oh + ph) * ow + pw] = (float)(is_max ? acc : acc / (double)count);
                }
        }
    }
    return 0;
}
