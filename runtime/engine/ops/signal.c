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

int op_hann_window(const struct op_call *call) { return window(call, W_HANN); }
int op_hamming_window(const struct op_call *call) { return window(call, W_HAMMING); }
int op_blackman_window(const struct op_call *call) { return window(call, W_BLACKMAN); }

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
