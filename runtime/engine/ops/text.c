/* Text: Cast to and from strings, StringNormalizer, and TfIdfVectorizer over
 * integer token ids (string tokens are not supported yet).
 *
 * pool_int64s lists the n-grams to count, grouped by length: ngram_counts[i]
 * is where the (i+1)-grams start in the pool. ngram_indexes maps the k-th
 * n-gram of the pool to its output column. An n-gram may skip up to
 * max_skip_count tokens between its items (the same skip throughout);
 * 1-grams are counted once. */
#include "ops.h"

#include "common/err.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies len bytes into the arena; NULL (with an error set) when it is full. */
static char *arena_text(const struct op_call *call, const char *data, size_t len)
{
    char *t = arena_alloc(call->arena, len + 1);
    if (!t) {
        err_set(ERR_LIMIT, "node '%s' (%s): output does not fit in the request memory limit",
                call->node->name ? call->node->name : "", call->node->op_type);
        return NULL;
    }
    if (len)
        memcpy(t, data, len);
    t[len] = 0;
    return t;
}

static int is_float_type(enum tensor_type t)
{
    return t == TENSOR_FLOAT || t == TENSOR_DOUBLE || t == TENSOR_FLOAT16 || t == TENSOR_BFLOAT16;
}

/* Floats print as the shortest %g text that reads back to the same value in
 * their own type (numpy's way), integral values with ".0"; integers in full;
 * bools as True/False. */
static int format_number(char *out, size_t size, enum tensor_type type, const void *data, int64_t i)
{
    if (type == TENSOR_BOOL)
        return snprintf(out, size, "%s", ((const uint8_t *)data)[i] ? "True" : "False");
    if (type == TENSOR_INT64)
        return snprintf(out, size, "%lld", (long long)((const int64_t *)data)[i]);
    if (type == TENSOR_UINT64)
        return snprintf(out, size, "%llu", (unsigned long long)((const uint64_t *)data)[i]);
    double v = ops_load(type, data, i);
    if (!is_float_type(type))
        return snprintf(out, size, "%.0f", v);
    if (isnan(v))
        return snprintf(out, size, "nan");
    if (isinf(v))
        return snprintf(out, size, "%sinf", v < 0 ? "-" : "");
    int n = 0;
    for (int p = 1; p <= 17; p++) {
        n = snprintf(out, size, "%.*g", p, v);
        uint64_t back = 0; /* room for any float type's element */
        ops_store(type, &back, 0, strtod(out, NULL));
        if (ops_load(type, &back, 0) == v)
            break;
    }
    if (!strpbrk(out, ".en"))
        n = snprintf(out + n, size - (size_t)n, ".0") + n;
    return n;
}

int ops_cast_string(const struct op_call *call, enum tensor_type to)
{
    const struct tensor *x = call->inputs[0];
    int64_t n = tensor_element_count(x);
    if (to == TENSOR_STRING) {
        if (!ops_is_numeric(x->type) && x->type != TENSOR_BOOL)
            return ops_unsupported(call, "cast from %s to string is not supported", tensor_type_name(x->type));
        int rc = ops_alloc_output(call, 0, TENSOR_STRING, x->rank, x->dims);
        if (rc)
            return rc;
        struct tensor_string *y = call->outputs[0].data;
        for (int64_t i = 0; i < n; i++) {
            char text[64];
            int len = format_number(text, sizeof text, x->type, x->data, i);
            const char *copy = arena_text(call, text, (size_t)len);
            if (!copy)
                return ERR_LIMIT;
            y[i] = (struct tensor_string){.data = copy, .len = (size_t)len};
        }
        return 0;
    }
    if (!ops_is_numeric(to) && to != TENSOR_BOOL)
        return ops_unsupported(call, "cast from string to %s is not supported", tensor_type_name(to));
    int rc = ops_alloc_output(call, 0, to, x->rank, x->dims);
    if (rc)
        return rc;
    const struct tensor_string *s = x->data;
    for (int64_t i = 0; i < n; i++) {
        char text[128], *end;
        if (s[i].len >= sizeof text)
            return ops_fail(call, "string %lld is too long to be a number", (long long)i);
        if (s[i].len)
            memcpy(text, s[i].data, s[i].len);
        text[s[i].len] = 0;
        errno = 0;
        if (to == TENSOR_INT64 || to == TENSOR_UINT64) {
            long long iv = to == TENSOR_INT64 ? strtoll(text, &end, 10) : (long long)strtoull(text, &end, 10);
            if (end == text || *end || errno)
                return ops_fail(call, "string %lld ('%s') is not a %s", (long long)i, text, tensor_type_name(to));
            if (to == TENSOR_INT64)
                ((int64_t *)call->outputs[0].data)[i] = iv;
            else
                ((uint64_t *)call->outputs[0].data)[i] = (uint64_t)iv;
            continue;
        }
        double v = strtod(text, &end);
        if (end == text || *end)
            return ops_fail(call, "string %lld ('%s') is not a number", (long long)i, text);
        ops_store(to, call->outputs[0].data, i, v);
    }
    return 0;
}

static int ascii_equal(const struct tensor_string *a, const struct tensor_string *b, int case_sensitive)
{
    if (a->len != b->len)
        return 0;
    for (size_t i = 0; i < a->len; i++) {
        unsigned char x = (unsigned char)a->data[i], y = (unsigned char)b->data[i];
        if (x != y && (case_sensitive || tolower(x) != tolower(y)))
            return 0;
    }
    return 1;
}

/* StringNormalizer: drops stopwords (compared with or without case), then
 * changes case (LOWER, UPPER or NONE). Input [C] or [1, C]; when every string
 * is dropped the output holds one empty string. Case changes are ASCII only:
 * the locale attribute is not honoured for other letters. */
int op_string_normalizer(const struct op_call *call)
{
    const struct tensor *x = call->inputs[0];
    if (x->type != TENSOR_STRING)
        return ops_fail(call, "input must be strings, got %s", tensor_type_name(x->type));
    if (!(x->rank == 1 || (x->rank == 2 && x->dims[0] == 1)))
        return ops_fail(call, "input must be [C] or [1, C]");
    const Onnx__AttributeProto *act = ops_attr(call, "case_change_action"), *stop = ops_attr(call, "stopwords");
    int change = 0; /* -1 lower, 1 upper */
    if (act && act->has_s) {
        if (act->s.len == 5 && memcmp(act->s.data, "LOWER", 5) == 0)
            change = -1;
        else if (act->s.len == 5 && memcmp(act->s.data, "UPPER", 5) == 0)
            change = 1;
        else if (!(act->s.len == 4 && memcmp(act->s.data, "NONE", 4) == 0))
            return ops_fail(call, "case_change_action must be LOWER, UPPER or NONE");
    }
    int case_sensitive = ops_attr_int(call, "is_case_sensitive", 0) != 0;
    int64_t n = tensor_element_count(x), kept = 0;
    const struct tensor_string *in = x->data;
    struct tensor_string *tmp = arena_alloc(call->arena, (size_t)(n + 1) * sizeof *tmp);
    if (!tmp)
        return err_set(ERR_LIMIT, "request memory limit reached");
    for (int64_t i = 0; i < n; i++) {
        int drop = 0;
        for (size_t w = 0; stop && w < stop->n_strings && !drop; w++) {
            struct tensor_string word = {.data = (const char *)stop->strings[w].data, .len = stop->strings[w].len};
            drop = ascii_equal(&in[i], &word, case_sensitive);
        }
        if (drop)
            continue;
        tmp[kept] = in[i];
        if (change) {
            char *t = arena_text(call, in[i].data, in[i].len);
            if (!t)
                return ERR_LIMIT;
            for (size_t c = 0; c < in[i].len; c++)
                t[c] = (char)(change > 0 ? toupper((unsigned char)t[c]) : tolower((unsigned char)t[c]));
            tmp[kept].data = t;
        }
        kept++;
    }
    int64_t count = kept ? kept : 1, dims[2] = {1, count};
    int rc = x->rank == 2 ? ops_alloc_output(call, 0, TENSOR_STRING, 2, dims)
                          : ops_alloc_output(call, 0, TENSOR_STRING, 1, &count);
    if (rc)
        return rc;
    if (kept)
        memcpy(call->outputs[0].data, tmp, (size_t)kept * sizeof *tmp);
    return 0;
}

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
        return ops_fail(call,
                        "min_gram_length, max_gram_length, max_skip_count, ngram_counts or ngram_indexes is invalid");
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
