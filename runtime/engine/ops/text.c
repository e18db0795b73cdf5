/* TfIdfVectorizer over integer token ids (string tokens are not supported:
 * the engine holds no string tensors).
 *
 * pool_int64s lists the n-grams to count, grouped by length: ngram_counts[i]
 * is where the (i+1)-grams start in the pool. ngram_indexes maps the k-th
 * n-gram of the pool to its output column. An n-gram may skip up to
 * max_skip_count tokens between its items (the same skip throughout);
 * 1-grams are counted once. */
#include "ops.h"

#include "common/err.h"

#include <string.h>

struct tfidf_pool {
    const int64_t *pool, *counts, *indexes;
    size_t n_pool, n_counts, n_indexes;
};

/* Column of the n-gram of length n whose items are x[at], x[at + stride], ...;
 * -1 when the pool does not list it. A linear search: pools are small. */
static int64_t tfidf_lookup(const struct tfidf_pool *p, const struct tensor *x, int64_t at, int64_t stride, int64_t n)
{
    if ((size_t)n > p->n_counts)
        return -1;
    size_t start = (size_t)p->counts[n - 1], end = (size_t)n < p->n_counts ? (size_t)p->counts[n] : p->n_pool;
    size_t first_gram = 0; /* the number of n-grams of shorter lengths before this group */
    for (int64_t len = 1; len < n; len++) {
        size_t s = (size_t)p->counts[len - 1], e = (size_t)len < p->n_counts ? (size_t)p->counts[len] : p->n_pool;
        first_gram += (e - s) / (size_t)len;
    }
    for (size_t g = start, k = first_gram; g + (size_t)n <= end; g += (size_t)n, k++) {
        int64_t i = 0;
        for (; i < n; i++)
            if ((int64_t)ops_load(x->type, x->data, at + i * stride) != p->pool[g + (size_t)i])
                break;
        if (i == n)
            return k < p->n_indexes ? p->indexes[k] : -1;
    }
    return -1;
}

int op_tfidf_vectorizer(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (x->type != TENSOR_INT32 && x->type != TENSOR_INT64)
        return ops_unsupported(call, "input of type %s is not supported (integer token ids only)",
                               tensor_type_name(x->type));
    if (x->rank != 1 && x->rank != 2)
        return ops_fail(call, "input must be [C] or [N, C]");
    struct tfidf_pool p;
    p.pool = ops_attr_ints(call, "pool_int64s", &p.n_pool);
    p.counts = ops_attr_ints(call, "ngram_counts", &p.n_counts);
    p.indexes = ops_attr_ints(call, "ngram_indexes", &p.n_indexes);
    if (!p.pool && ops_attr(call, "pool_strings"))
        return ops_unsupported(call, "pool_strings is not supported (integer token ids only)");
    int64_t min_n = ops_attr_int(call, "min_gram_length", 0), max_n = ops_attr_int(call, "max_gram_length", 0);
    int64_t max_skip = ops_attr_int(call, "max_skip_count", 0);
    if (min_n < 1 || max_n < min_n || max_skip < 0 || !p.n_counts || !p.n_indexes)
        return ops_fail(call, "min_gram_length, max_gram_length, max_skip_count, ngram_counts or ngram_indexes is invalid");
    int64_t columns = 0;
    for (size_t i = 0; i < p.n_counts; i++)
        if (p.counts[i] < 0 || (size_t)p.counts[i] > p.n_pool || (i && p.counts[i] < p.counts[i - 1]))
            return ops_fail(call, "ngram_counts must rise within pool_int64s");
    for (size_t i = 0; i < p.n_indexes; i++) {
        if (p.indexes[i] < 0 || p.indexes[i] > (1 << 24))
            return ops_fail(call, "ngram_indexes holds %lld", (long long)p.indexes[i]);
        if (p.indexes[i] + 1 > columns)
            columns = p.indexes[i] + 1;
    }
    const Onnx__AttributeProto *mode_a = ops_attr(call, "mode");
    enum { TF, IDF, TFIDF } mode;
    if (mode_a && mode_a->has_s && mode_a->s.len == 2 && memcmp(mode_a->s.data, "TF", 2) == 0)
        mode = TF;
    else if (mode_a && mode_a->has_s && mode_a->s.len == 3 && memcmp(mode_a->s.data, "IDF", 3) == 0)
        mode = IDF;
    else if (mode_a && mode_a->has_s && mode_a->s.len == 5 && memcmp(mode_a->s.data, "TFIDF", 5) == 0)
        mode = TFIDF;
    else
        return ops_fail(call, "mode must be TF, IDF or TFIDF");
    const Onnx__AttributeProto *weights = ops_attr(call, "weights");
    if (weights && weights->n_floats && weights->n_floats != p.n_indexes)
        return ops_fail(call, "weights must have one entry per n-gram");
    int64_t rows = x->rank == 2 ? x->dims[0] : 1, len = x->dims[x->rank - 1];
    int64_t dims[2] = {rows, columns};
    int rc = x->rank == 2 ? ops_alloc_output(call, 0, TENSOR_FLOAT, 2, dims)
                          : ops_alloc_output(call, 0, TENSOR_FLOAT, 1, &columns);
    if (rc)
        return rc;
    float *out = call->outputs[0].data;
    memset(out, 0, (size_t)(rows * columns) * sizeof *out);
    for (int64_t r = 0; r < rows; r++) {
        float *row = out + r * columns;
        for (int64_t n = min_n; n <= max_n; n++)
            for (int64_t skip = 0; skip <= (n == 1 ? 0 : max_skip); skip++) {
                int64_t stride = skip + 1;
                for (int64_t at = 0; at + (n - 1) * stride < len; at++) {
                    int64_t col = tfidf_lookup(&p, x, r * len + at, stride, n);
                    if (col >= 0)
                        row[col] += 1;
                }
            }
        /* Weights are per n-gram; ngram_indexes says which column each one scales. */
        for (size_t k = 0; mode != TF && k < p.n_indexes; k++) {
            float w = weights && weights->n_floats ? weights->floats[k] : 1;
            float *v = &row[p.indexes[k]];
            *v = mode == IDF ? (*v > 0 ? w : 0) : *v * w;
        }
    }
    return 0;
}
