/* MatMul with numpy semantics: 1-D operands are promoted and the added axis
 * removed again; leading (batch) dimensions broadcast. */
#include "ops.h"

#include <string.h>

/* C[m,n] = A[m,k] · B[k,n], row-major; i-k-j order keeps B and C rows hot. */
static void gemm_f32(float *c, const float *a, const float *b, int64_t m, int64_t k, int64_t n)
{
    memset(c, 0, (size_t)(m * n) * sizeof *c);
    for (int64_t i = 0; i < m; i++) {
        float *crow = c + i * n;
        for (int64_t p = 0; p < k; p++) {
            float av = a[i * k + p];
            const float *brow = b + p * n;
            for (int64_t j = 0; j < n; j++)
                crow[j] += av * brow[j];
        }
    }
}

int op_matmul(const struct op_call *call)
{
    const struct tensor *a = call->inputs[0], *b = call->inputs[1];
    if (a->type != TENSOR_FLOAT || b->type != TENSOR_FLOAT)
        return ops_fail(call, "inputs of type %s and %s are not supported (float32 only)",
                        tensor_type_name(a->type), tensor_type_name(b->type));
    if (a->rank < 1 || b->rank < 1)
        return ops_fail(call, "inputs must have rank 1 or more");
    /* View both as [batch..., rows, cols]. */
    int64_t m = a->rank == 1 ? 1 : a->dims[a->rank - 2];
    int64_t k = a->dims[a->rank - 1];
    int64_t kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
    int64_t n = b->rank == 1 ? 1 : b->dims[b->rank - 1];
    if (k != kb) {
        char sa[96], sb[96];
        tensor_format_shape(sa, sizeof sa, a->dims, a->rank);
        tensor_format_shape(sb, sizeof sb, b->dims, b->rank);
        return ops_fail(call, "shapes %s and %s do not align (%lld != %lld)", sa, sb,
                        (long long)k, (long long)kb);
    }
    int batch_a = a->rank > 2 ? a->rank - 2 : 0, batch_b = b->rank > 2 ? b->rank - 2 : 0;
    int batch_rank = batch_a > batch_b ? batch_a : batch_b;
    int64_t batch_dims[TENSOR_MAX_RANK];
    int64_t batch = 1;
    for (int i = 0; i < batch_rank; i++) {
        int ai = i - (batch_rank - batch_a), bi = i - (batch_rank - batch_b);
        int64_t da = ai >= 0 ? a->dims[ai] : 1, db = bi >= 0 ? b->dims[bi] : 1;
        if (da != db && da != 1 && db != 1)
            return ops_fail(call, "batch dimensions %lld and %lld cannot be broadcast",
                            (long long)da, (long long)db);
        batch_dims[i] = da == 1 ? db : da;
        batch *= batch_dims[i];
    }
    int64_t out_dims[TENSOR_MAX_RANK];
    int out_rank = 0;
    for (int i = 0; i < batch_rank; i++)
        out_dims[out_rank++] = batch_dims[i];
    if (a->rank > 1)
        out_dims[out_rank++] = m;
    if (b->rank > 1)
        out_dims[out_rank++] = n;
    if (out_rank > TENSOR_MAX_RANK)
        return ops_fail(call, "output rank too large");
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, out_rank, out_dims);
    if (rc)
        return rc;
    float *c = call->outputs[0].data;
    const float *ad = a->data, *bd = b->data;
    /* Batch index → offsets into A and B, honouring broadcast (size-1) dims. */
    for (int64_t t = 0; t < batch; t++) {
        int64_t rem = t, off_a = 0, off_b = 0, stride_a = 1, stride_b = 1;
        for (int i = batch_rank - 1; i >= 0; i--) {
            int64_t idx = rem % batch_dims[i];
            rem /= batch_dims[i];
            int ai = i - (batch_rank - batch_a), bi = i - (batch_rank - batch_b);
            if (ai >= 0) {
                if (a->dims[ai] != 1)
                    off_a += idx * stride_a;
                stride_a *= a->dims[ai];
            }
            if (bi >= 0) {
                if (b->dims[bi] != 1)
                    off_b += idx * stride_b;
                stride_b *= b->dims[bi];
            }
        }
        gemm_f32(c + t * m * n, ad + off_a * m * k, bd + off_b * k * n, m, k, n);
    }
    return 0;
}
