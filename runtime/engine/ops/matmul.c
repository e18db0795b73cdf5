/* MatMul with numpy semantics: 1-D operands are promoted and the added axis
 * removed again; leading (batch) dimensions broadcast. Gemm: 2-D with
 * optional transposes, alpha/beta scaling and a broadcast C. */
#include "ops.h"

#include <math.h>
#include <string.h>

/* C[m,n] = A[m,k] · B[k,n], row-major; i-k-j order keeps B and C rows hot. */
void ops_gemm_f32(float *c, const float *a, const float *b, int64_t m, int64_t k, int64_t n)
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
        return ops_fail(call, "inputs of type %s and %s are not supported (float32 only)", tensor_type_name(a->type),
                        tensor_type_name(b->type));
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
        return ops_fail(call, "shapes %s and %s do not align (%lld != %lld)", sa, sb, (long long)k, (long long)kb);
    }
    int batch_a = a->rank > 2 ? a->rank - 2 : 0, batch_b = b->rank > 2 ? b->rank - 2 : 0;
    int batch_rank = batch_a > batch_b ? batch_a : batch_b;
    int64_t batch_dims[TENSOR_MAX_RANK];
    int64_t batch = 1;
    for (int i = 0; i < batch_rank; i++) {
        int ai = i - (batch_rank - batch_a), bi = i - (batch_rank - batch_b);
        int64_t da = ai >= 0 ? a->dims[ai] : 1, db = bi >= 0 ? b->dims[bi] : 1;
        if (da != db && da != 1 && db != 1)
            return ops_fail(call, "batch dimensions %lld and %lld cannot be broadcast", (long long)da, (long long)db);
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
        ops_gemm_f32(c + t * m * n, ad + off_a * m * k, bd + off_b * k * n, m, k, n);
    }
    return 0;
}

/* A row-major [rows, cols] matrix transposed into the arena. */
static const float *transposed(const struct op_call *call, const float *m, int64_t rows, int64_t cols)
{
    float *t = arena_alloc(call->arena, (size_t)(rows * cols) * sizeof *t + 1);
    if (!t)
        return NULL;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            t[j * rows + i] = m[i * cols + j];
    return t;
}

int op_gemm(const struct op_call *call)
{
    const struct tensor *a = call->inputs[0], *b = call->inputs[1], *c = ops_input(call, 2);
    if (a->type != TENSOR_FLOAT || b->type != TENSOR_FLOAT || (c && c->type != TENSOR_FLOAT))
        return ops_unsupported(call, "inputs of type %s are not supported (float32 only)", tensor_type_name(a->type));
    if (a->rank != 2 || b->rank != 2)
        return ops_fail(call, "A and B must be 2-D");
    int trans_a = ops_attr_int(call, "transA", 0) != 0, trans_b = ops_attr_int(call, "transB", 0) != 0;
    float alpha = ops_attr_float(call, "alpha", 1.0f), beta = ops_attr_float(call, "beta", 1.0f);
    int64_t m = a->dims[trans_a], k = a->dims[!trans_a], kb = b->dims[trans_b], n = b->dims[!trans_b];
    if (k != kb)
        return ops_fail(call, "inner dimensions differ (%lld and %lld)", (long long)k, (long long)kb);
    int64_t dims[2] = {m, n};
    int rc = ops_alloc_output(call, 0, TENSOR_FLOAT, 2, dims);
    if (rc)
        return rc;
    const float *ad = trans_a ? transposed(call, a->data, k, m) : a->data;
    const float *bd = trans_b ? transposed(call, b->data, n, k) : b->data;
    if (!ad || !bd)
        return ops_fail(call, "out of request memory");
    float *y = call->outputs[0].data;
    ops_gemm_f32(y, ad, bd, m, k, n);
    if (alpha != 1)
        for (int64_t i = 0; i < m * n; i++)
            y[i] *= alpha;
    if (c && beta != 0) {
        /* C broadcasts one way, to [m, n]. */
        int64_t cr = c->rank >= 2 ? c->dims[c->rank - 2] : 1, cc = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
        if (c->rank > 2 || (cr != 1 && cr != m) || (cc != 1 && cc != n))
            return ops_fail(call, "C cannot be broadcast to [%lld,%lld]", (long long)m, (long long)n);
        const float *cd = c->data;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                y[i * n + j] += beta * cd[(cr == 1 ? 0 : i) * cc + (cc == 1 ? 0 : j)];
    }
    return 0;
}

/* Det of [..., n, n] by LU decomposition with partial pivoting, in double. */
int op_det(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (x->type != TENSOR_FLOAT && x->type != TENSOR_DOUBLE)
        return ops_unsupported(call, "input of type %s is not supported", tensor_type_name(x->type));
    if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2])
        return ops_fail(call, "input must be square matrices");
    int64_t n = x->dims[x->rank - 1], count = 1;
    for (int i = 0; i < x->rank - 2; i++)
        count *= x->dims[i];
    int rc = ops_alloc_output(call, 0, x->type, x->rank - 2, x->dims);
    if (rc)
        return rc;
    double *m = arena_alloc(call->arena, (size_t)(n * n) * sizeof *m + 1);
    if (!m)
        return ops_fail(call, "out of request memory");
    for (int64_t t = 0; t < count; t++) {
        for (int64_t i = 0; i < n * n; i++)
            m[i] = ops_load(x->type, x->data, t * n * n + i);
        double det = 1;
        for (int64_t col = 0; col < n && det != 0; col++) {
            int64_t piv = col;
            for (int64_t r = col + 1; r < n; r++)
                if (fabs(m[r * n + col]) > fabs(m[piv * n + col]))
                    piv = r;
            if (m[piv * n + col] == 0) {
                det = 0;
                break;
            }
            if (piv != col) {
                for (int64_t k = 0; k < n; k++) {
                    double tmp = m[col * n + k];
                    m[col * n + k] = m[piv * n + k];
                    m[piv * n + k] = tmp;
                }
                det = -det;
            }
            det *= m[col * n + col];
            for (int64_t r = col + 1; r < n; r++) {
                double f = m[r * n + col] / m[col * n + col];
                for (int64_t k = col; k < n; k++)
                    m[r * n + k] -= f * m[col * n + k];
            }
        }
        ops_store(x->type, call->outputs[0].data, t, det);
    }
    return 0;
}
