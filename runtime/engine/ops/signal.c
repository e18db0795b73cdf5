/* Window functions (HannWindow, HammingWindow, BlackmanWindow). */
#include "ops.h"

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
