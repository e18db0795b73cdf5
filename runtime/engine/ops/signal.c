/* Signal processing: window functions (HannWindow, HammingWindow, BlackmanWindow) and DFT. */
#include "ops.h"

#include "common/err.h"

#include <math.h>

enum window { W_HANN, W_HAMMING, W_BLACKMAN };

static int window(const struct op_call *call, enum window kind)
{
    const struct tensor *size_t_ = call->inputs[0];
    if ((size_t_->type != TENSOR_INT64 && size_t_->type != TENSOR_INT32) || tensor_element_count(size_t_) != 1)
        return ops_fail(call, "size must be an integer scalar");
    double nv = ops_load(size_t_->type, size_t_->data, 0);
    if (nv < 0 || nv > (double)(1 << 28))
        return ops_fail(call, "size %.0f is out of range", nv);
    int64_t n = (int64_t)nv;
    int64_t dtype = ops_attr_int(call, "output_datatype", TENSOR_FLOAT);
    enum tensor_type type = dtype > 0 && dtype < 64 ? (enum tensor_type)dtype : TENSOR_UNDEFINED;
    if (!ops_is_numeric(type))
        return ops_unsupported(call, "output_datatype %lld is not supported", (long long)dtype);
    int rc = ops_alloc_output(call, 0, type, 1, &n);
    if (rc)
        return rc;
    double denom = ops_attr_int(call, "periodic", 1) ? (double)n : (double)(n - 1);
    for (int64_t i = 0; i < n; i++) {
        double a = denom > 0 ? 2 * M_PI * (double)i / denom : 0, v;
        switch (kind) {
        case W_HANN: v = 0.5 - 0.5 * cos(a); break;
        case W_HAMMING: v = 25.0 / 46.0 - (1 - 25.0 / 46.0) * cos(a); break;
        default: v = 0.42 - 0.5 * cos(a) + 0.08 * cos(2 * a); break;
        }
        ops_store(type, call->outputs[0].data, i, v);
    }
    return 0;
}

int op_hann_window(const struct op_call *call)
{
    return window(call, W_HANN);
}
int op_hamming_window(const struct op_call *call)
{
    return window(call, W_HAMMING);
}
int op_blackman_window(const struct op_call *call)
{
    return window(call, W_BLACKMAN);
}

/* DFT (opset 17) by direct summation over one axis; input [..., 1] (real) or
 * [..., 2] (complex), output complex [..., 2]. */
int op_dft(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *len_t = ops_input(call, 1);
    if (x->type != TENSOR_FLOAT && x->type != TENSOR_DOUBLE)
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    if (x->rank < 2 || (x->dims[x->rank - 1] != 1 && x->dims[x->rank - 1] != 2))
        return ops_fail(call, "the last dimension must be 1 (real) or 2 (complex)");
    int axis, rc = ops_axis(call, ops_attr_int(call, "axis", 1), x->rank - 1, &axis);
    if (rc)
        return rc;
    int inverse = ops_attr_int(call, "inverse", 0) != 0, onesided = ops_attr_int(call, "onesided", 0) != 0;
    int64_t n_in = x->dims[axis], n = n_in;
    if (len_t) {
        if ((len_t->type != TENSOR_INT64 && len_t->type != TENSOR_INT32) || tensor_element_count(len_t) != 1)
            return ops_fail(call, "dft_length must be an integer scalar");
        n = (int64_t)ops_load(len_t->type, len_t->data, 0);
    }
    if (n < 1 || n > (1 << 24))
        return ops_fail(call, "dft_length %lld is out of range", (long long)n);
    if (onesided && inverse)
        return ops_unsupported(call, "onesided inverse transforms are not supported");
    int64_t n_out = onesided ? n / 2 + 1 : n, comp = x->dims[x->rank - 1];
    int64_t dims[TENSOR_MAX_RANK], outer = 1, inner = 1;
    for (int i = 0; i < x->rank; i++) {
        dims[i] = i == axis ? n_out : i == x->rank - 1 ? 2 : x->dims[i];
        if (i < axis)
            outer *= x->dims[i];
        else if (i > axis && i < x->rank - 1)
            inner *= x->dims[i];
    }
    rc = ops_alloc_output(call, 0, x->type, x->rank, dims);
    if (rc)
        return rc;
    int64_t m = n_in < n ? n_in : n; /* shorter signals are zero padded, longer ones cut */
    /* The direct sum is quadratic: bound the work a request can ask for. */
    if ((double)outer * (double)inner * (double)n_out * (double)m > (double)((int64_t)1 << 32))
        return err_set(ERR_LIMIT, "node '%s' (DFT): the transform is too large for the direct method",
                       call->node->name ? call->node->name : "");
    double sign = inverse ? 1 : -1;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++)
            for (int64_t k = 0; k < n_out; k++) {
                double re = 0, im = 0;
                for (int64_t t = 0; t < m; t++) {
                    int64_t at = ((o * n_in + t) * inner + j) * comp;
                    double xr = ops_load(x->type, x->data, at), xi = comp == 2 ? ops_load(x->type, x->data, at + 1) : 0;
                    double a = sign * 2 * M_PI * (double)((k * t) % n) / (double)n, c = cos(a), s = sin(a);
                    re += xr * c - xi * s;
                    im += xr * s + xi * c;
                }
                if (inverse) {
                    re /= (double)n;
                    im /= (double)n;
                }
                int64_t at = ((o * n_out + k) * inner + j) * 2;
                ops_store(x->type, call->outputs[0].data, at, re);
                ops_store(x->type, call->outputs[0].data, at + 1, im);
            }
    return 0;
}

/* STFT (opset 17): signal [batch, length, 1 or 2], frames of frame_length
 * taken every frame_step samples, each multiplied by the window (ones when
 * absent) and transformed; output [batch, frames, bins, 2], bins =
 * frame_length / 2 + 1 when onesided (the default). */
int op_stft(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0], *step_t = call->inputs[1], *win = ops_input(call, 2),
                        *len_t = ops_input(call, 3);
    if (x->type != TENSOR_FLOAT && x->type != TENSOR_DOUBLE && x->type != TENSOR_FLOAT16 && x->type != TENSOR_BFLOAT16)
        return ops_unsupported(call, "signal of type %s is not supported", tensor_type_name(x->type));
    if (x->rank != 3 || (x->dims[2] != 1 && x->dims[2] != 2))
        return ops_fail(call, "signal must be [batch, length, 1 or 2]");
    if ((step_t->type != TENSOR_INT64 && step_t->type != TENSOR_INT32) || tensor_element_count(step_t) != 1)
        return ops_fail(call, "frame_step must be an integer scalar");
    int64_t step = (int64_t)ops_load(step_t->type, step_t->data, 0), frame = -1;
    if (len_t) {
        if ((len_t->type != TENSOR_INT64 && len_t->type != TENSOR_INT32) || tensor_element_count(len_t) != 1)
            return ops_fail(call, "frame_length must be an integer scalar");
        frame = (int64_t)ops_load(len_t->type, len_t->data, 0);
    }
    if (win) {
        if (win->rank != 1 || !ops_is_numeric(win->type) || (frame >= 0 && win->dims[0] != frame))
            return ops_fail(call, "window must be 1-D and as long as frame_length");
        frame = win->dims[0];
    }
    int64_t length = x->dims[1], comp = x->dims[2];
    if (frame < 1 || frame > length || step < 1)
        return ops_fail(call, "frame_length %lld and frame_step %lld do not fit a signal of %lld", (long long)frame,
                        (long long)step, (long long)length);
    int onesided = ops_attr_int(call, "onesided", 1) != 0;
    if (onesided && comp == 2)
        return ops_fail(call, "onesided needs a real signal");
    int64_t frames = (length - frame) / step + 1, bins = onesided ? frame / 2 + 1 : frame;
    int64_t dims[4] = {x->dims[0], frames, bins, 2};
    int rc = ops_alloc_output(call, 0, x->type, 4, dims);
    if (rc)
        return rc;
    if ((double)x->dims[0] * (double)frames * (double)bins * (double)frame > (double)((int64_t)1 << 32))
        return err_set(ERR_LIMIT, "node '%s' (STFT): the transform is too large for the direct method",
                       call->node->name ? call->node->name : "");
    for (int64_t b = 0; b < x->dims[0]; b++)
        for (int64_t f = 0; f < frames; f++)
            for (int64_t k = 0; k < bins; k++) {
                double re = 0, im = 0;
                for (int64_t t = 0; t < frame; t++) {
                    int64_t at = (b * length + f * step + t) * comp;
                    double w = win ? ops_load(win->type, win->data, t) : 1;
                    double xr = w * ops_load(x->type, x->data, at),
                           xi = comp == 2 ? w * ops_load(x->type, x->data, at + 1) : 0;
                    double a = -2 * M_PI * (double)((k * t) % frame) / (double)frame, c = cos(a), s = sin(a);
                    re += xr * c - xi * s;
                    im += xr * s + xi * c;
                }
                int64_t at = ((b * frames + f) * bins + k) * 2;
                ops_store(x->type, call->outputs[0].data, at, re);
                ops_store(x->type, call->outputs[0].data, at + 1, im);
            }
    return 0;
}

static int scalar_number(const struct op_call *call, int i, const char *what, double *out)
{
    const struct tensor *t = call->inputs[i];
    if (!ops_is_numeric(t->type) || tensor_element_count(t) != 1)
        return ops_fail(call, "%s must be a numeric scalar", what);
    *out = ops_load(t->type, t->data, 0);
    return 0;
}

/* MelWeightMatrix (opset 17): [dft_length / 2 + 1, num_mel_bins] triangular
 * filters. num_mel_bins + 2 edges are spaced evenly on the mel scale
 * mel(f) = 2595 log10(1 + f / 700) (the spacing divides the range by
 * num_mel_bins + 2, as the reference does) and mapped to spectrogram bins as
 * floor((dft_length + 1) f / sample_rate); each filter rises from its left edge
 * to 1 at its centre and falls to its right edge. */
int op_mel_weight_matrix(const struct op_call *call)
{
    double mel_bins_d, dft_d, rate, lo_hz, hi_hz;
    int rc = scalar_number(call, 0, "num_mel_bins", &mel_bins_d);
    if (!rc)
        rc = scalar_number(call, 1, "dft_length", &dft_d);
    if (!rc)
        rc = scalar_number(call, 2, "sample_rate", &rate);
    if (!rc)
        rc = scalar_number(call, 3, "lower_edge_hertz", &lo_hz);
    if (!rc)
        rc = scalar_number(call, 4, "upper_edge_hertz", &hi_hz);
    if (rc)
        return rc;
    if (mel_bins_d < 1 || mel_bins_d > (1 << 16) || dft_d < 1 || dft_d > (1 << 24) || rate <= 0 || lo_hz < 0 ||
        hi_hz <= lo_hz)
        return ops_fail(call, "num_mel_bins, dft_length, sample_rate or the edges are out of range");
    int64_t mel_bins = (int64_t)mel_bins_d, dft = (int64_t)dft_d, spec_bins = dft / 2 + 1;
    int64_t dtype = ops_attr_int(call, "output_datatype", TENSOR_FLOAT);
    enum tensor_type type = dtype > 0 && dtype < 64 ? (enum tensor_type)dtype : TENSOR_UNDEFINED;
    if (!ops_is_numeric(type))
        return ops_unsupported(call, "output_datatype %lld is not supported", (long long)dtype);
    int64_t dims[2] = {spec_bins, mel_bins};
    rc = ops_alloc_output(call, 0, type, 2, dims);
    if (rc)
        return rc;
    int64_t *edge = arena_alloc(call->arena, (size_t)(mel_bins + 2) * sizeof *edge);
    if (!edge)
        return err_set(ERR_LIMIT, "request memory limit reached");
    double lo_mel = 2595 * log10(1 + lo_hz / 700), hi_mel = 2595 * log10(1 + hi_hz / 700);
    double mel_step = (hi_mel - lo_mel) / (double)(mel_bins + 2);
    for (int64_t i = 0; i < mel_bins + 2; i++) {
        double hz = 700 * (pow(10, ((double)i * mel_step + lo_mel) / 2595) - 1);
        edge[i] = (int64_t)floor((double)(dft + 1) * hz / rate);
        /* The last edge only bounds the last filter from outside. */
        if (edge[i] < 0 || edge[i] > spec_bins || (i <= mel_bins && edge[i] == spec_bins))
            return ops_fail(call, "upper_edge_hertz lies beyond the spectrogram's bins");
    }
    for (int64_t i = 0; i < spec_bins * mel_bins; i++)
        ops_store(type, call->outputs[0].data, i, 0);
    for (int64_t m = 0; m < mel_bins; m++) {
        int64_t left = edge[m], centre = edge[m + 1], right = edge[m + 2];
        if (centre == left)
            ops_store(type, call->outputs[0].data, centre * mel_bins + m, 1);
        for (int64_t j = left; centre > left && j <= centre; j++)
            ops_store(type, call->outputs[0].data, j * mel_bins + m, (double)(j - left) / (double)(centre - left));
        for (int64_t j = centre; right > centre && j < right; j++)
            ops_store(type, call->outputs[0].data, j * mel_bins + m, (double)(right - j) / (double)(right - centre));
    }
    return 0;
}
